/* pool.c — the owner's side of the worker pool (pool.h): the pool runner
 * behind the scheduler's runner ops, and the queries of `cdx workers` and
 * `cdx metrics`. */
#include "exec/pool.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/text.h"
#include "exec/pool_int.h"
#include "exec/sched.h"
#include "pipeline/dag.h"
#include "state/store.h"

#ifdef CDX_WITH_REDIS
#include "redis/redis_call.h"
#include "redis/store_redis.h"
#endif

extern char **environ;

long cdx_pool_lease_ms(void)
{
	const char *e = getenv("CDX_POOL_LEASE_MS");
	long v = e ? atol(e) : 0;
	return v >= 100 ? v : CDX_POOL_LEASE_MS_DEFAULT;
}

const double cdx_pool_buckets[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};
const size_t cdx_pool_n_buckets = CDX_ARRAY_LEN(cdx_pool_buckets);

const char *cdx_pool_bucket(double ms)
{
	static const char *const labels[] = {"1",   "2",   "5",   "10",   "25",  "50",
					     "100", "250", "500", "1000", "5000"};
	size_t i;
	for (i = 0; i < CDX_ARRAY_LEN(labels); i++)
		if (ms <= cdx_pool_buckets[i])
			return labels[i];
	return "+Inf";
}

char *cdx_pool_qkey(const char *prefix, const char *tags)
{
	return cdx_xasprintf("%spool:q:%s", prefix, tags);
}

cJSON *cdx_pool_result_json(const struct cdx_proc_result *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "end", r->end);
	cJSON_AddNumberToObject(o, "exit_code", r->exit_code);
	cJSON_AddNumberToObject(o, "term_signal", r->term_signal);
	cJSON_AddNumberToObject(o, "start_ms", (double)r->start_ms);
	cJSON_AddNumberToObject(o, "wall_us", (double)r->wall_us);
	cJSON_AddNumberToObject(o, "user_us", (double)r->user_us);
	cJSON_AddNumberToObject(o, "sys_us", (double)r->sys_us);
	cJSON_AddNumberToObject(o, "maxrss_kb", (double)r->maxrss_kb);
	cJSON_AddNumberToObject(o, "log_errno", r->log_errno);
	if (r->error[0])
		cJSON_AddStringToObject(o, "error", r->error);
	return o;
}

void cdx_pool_result_from(const cJSON *j, struct cdx_proc_result *r)
{
	int end = (int)cdx_jnd(j, "end", CDX_PROC_SPAWNFAIL);
	r->end = end >= CDX_PROC_EXITED && end <= CDX_PROC_LOST ? (enum cdx_proc_end)end : CDX_PROC_SPAWNFAIL;
	r->exit_code = (int)cdx_jn(j, "exit_code");
	r->term_signal = (int)cdx_jn(j, "term_signal");
	r->start_ms = (int64_t)cdx_jn(j, "start_ms");
	r->wall_us = (int64_t)cdx_jn(j, "wall_us");
	r->user_us = (int64_t)cdx_jn(j, "user_us");
	r->sys_us = (int64_t)cdx_jn(j, "sys_us");
	r->maxrss_kb = (long)cdx_jn(j, "maxrss_kb");
	r->log_errno = (int)cdx_jn(j, "log_errno");
	snprintf(r->error, sizeof(r->error), "%s", cdx_js(j, "error"));
}

/* read a small file into BUF (NUL-terminated, trailing newline cut) */
static int read_small(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t len;
	if (!f)
		return -1;
	len = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[len] = '\0';
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return 0;
}

static bool is_hex40(const char *s)
{
	size_t i;
	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int cdx_git_head(const char *dir, char out[41])
{
	char path[4096], head[512], ref[512], line[600];
	FILE *f;
	snprintf(path, sizeof(path), "%s/.git/HEAD", dir ? dir : ".");
	if (read_small(path, head, sizeof(head)) < 0)
		return -1;
	if (strncmp(head, "ref: ", 5) != 0) {
		if (strlen(head) < 40 || !is_hex40(head))
			return -1;
		memcpy(out, head, 40);
		out[40] = '\0';
		return 0;
	}
	snprintf(path, sizeof(path), "%s/.git/%s", dir ? dir : ".", head + 5);
	if (read_small(path, ref, sizeof(ref)) == 0 && strlen(ref) >= 40 && is_hex40(ref)) {
		memcpy(out, ref, 40);
		out[40] = '\0';
		return 0;
	}
	snprintf(path, sizeof(path), "%s/.git/packed-refs", dir ? dir : ".");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');
		if (!sp || sp - line != 40)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(sp + 1, head + 5) == 0 && is_hex40(line)) {
			memcpy(out, line, 40);
			out[40] = '\0';
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

#ifdef CDX_WITH_REDIS

int cdx_pool_open(const char *state, const char *who, struct cdx_store **out, struct cdx_error *err)
{
	*out = NULL;
	if (!state || strncmp(state, "redis://", 8) != 0)
		return cdx_error_set(err, CDX_EUSAGE,
				     "%s needs a redis:// state (the pool lives in Redis), not '%s'", who,
				     state ? state : "file:.cdx");
	return cdx_store_redis_open(state, out, err);
}

/* ---- the pool runner ----------------------------------------------------- */

enum { PJ_FREE, PJ_QUEUED, PJ_STARTED };

struct pjob {
	int state;
	int attempt;
	char qkey[300];
	char entry[64];
	unsigned long long fence;
	char worker[64];
	char logkey[400];
	char logid[64];
	bool done_seen; /* its result arrived (in res) */
	bool after;     /* it runs the job's after_script (sched.h) */
	char *output;   /* the attempt's $CDX_OUTPUT here (owned), or NULL */
	struct cdx_proc_result res;
};

struct cdx_pool {
	struct cdx_store *s;
	const struct cdx_pipeline *p;
	const char *prefix;
	char run[64];
	char evkey[300];
	char evid[64];
	cdx_output_fn out;
	void *out_ctx;
	struct pjob *jobs;             /* per job (token) */
	size_t running;                /* queued or started */
	struct cdx_proc_result *ready; /* results to hand out */
	size_t n_ready, cap_ready;
	int64_t next_check_ns; /* lease check */
	bool cancelling;
	char *file; /* the pipeline file, relative to the workspace */
	char hash[16], commit[41];
	bool *warned;   /* per job: said it waits for tags */
	size_t *map;    /* stream i > 0 of a pull: the log of job map[i] */
	cJSON *groups;  /* the queues whose group this runner made sure of */
	cJSON *workers; /* the last look at the workers */
	int64_t workers_ns;
	bool stdout_pending;
};

static void push_ready(struct cdx_pool *pl, const struct cdx_proc_result *r)
{
	cdx_grow(&pl->ready, &pl->cap_ready, pl->n_ready + 1, sizeof(*pl->ready));
	pl->ready[pl->n_ready++] = *r;
}

struct cdx_pool *cdx_pool_new(const char *state, const struct cdx_pipeline *p, const char *run_id,
			      cdx_output_fn out, void *out_ctx, struct cdx_error *err)
{
	struct cdx_pool *pl;
	struct cdx_store *s;
	char cwd[4096];
	if (cdx_pool_open(state, "a run on workers", &s, err) < 0)
		return NULL;
	pl = cdx_xcalloc(1, sizeof(*pl));
	pl->s = s;
	pl->p = p;
	pl->prefix = cdx_redis_prefix(s);
	snprintf(pl->run, sizeof(pl->run), "%s", run_id);
	snprintf(pl->evkey, sizeof(pl->evkey), "%spool:run:%s", pl->prefix, run_id);
	snprintf(pl->evid, sizeof(pl->evid), "0-0");
	pl->out = out;
	pl->out_ctx = out_ctx;
	pl->jobs = cdx_xcalloc(p->n_jobs + 1, sizeof(*pl->jobs));
	pl->warned = cdx_xcalloc(p->n_jobs + 1, sizeof(bool));
	pl->map = cdx_xcalloc(p->n_jobs + 2, sizeof(size_t));
	{
		/* the file's bytes (a make job's pipeline is its spec, loaded
		 * from memory: its own hash is not the file's) */
		char *data = NULL;
		size_t len;
		struct cdx_error e = {0};
		uint32_t h = p->file_hash;
		if (cdx_read_file(p->path, (size_t)64 << 20, &data, &len, &e) == 0)
			h = cdx_crc32(0, data, len);
		free(data);
		snprintf(pl->hash, sizeof(pl->hash), "%08x", (unsigned)h);
	}
	if (p->path[0] == '/' && getcwd(cwd, sizeof(cwd)) && strncmp(p->path, cwd, strlen(cwd)) == 0 &&
	    p->path[strlen(cwd)] == '/')
		pl->file = cdx_xstrdup(p->path + strlen(cwd) + 1);
	else
		pl->file = cdx_xstrdup(p->path);
	if (cdx_git_head(".", pl->commit) < 0)
		pl->commit[0] = '\0';
	return pl;
}

void cdx_pool_free(struct cdx_pool *pl)
{
	struct cdx_error err = {0};
	const char *argv[3] = {"EXPIRE", NULL, "86400"};
	if (!pl)
		return;
	/* the run's events are kept a day after it (for reading, benchmarks) */
	argv[1] = pl->evkey;
	cdx_redis_call(pl->s, 3, argv, NULL, &err);
	cdx_store_close(pl->s);
	for (size_t i = 0; pl->jobs && i < pl->p->n_jobs; i++)
		free(pl->jobs[i].output);
	free(pl->jobs);
	free(pl->ready);
	free(pl->file);
	free(pl->warned);
	free(pl->map);
	cJSON_Delete(pl->groups);
	cJSON_Delete(pl->workers);
	free(pl);
}

/* the sorted tags of job J, joined by ',' (caller frees) */
static char *job_tags(const struct cdx_job *job)
{
	struct cdx_buf b = {0};
	size_t i, k, n = job->n_tags;
	const char **t = cdx_xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		t[i] = job->tags[i];
	for (i = 1; i < n; i++) /* insertion sort: a few tags */
		for (k = i; k > 0 && strcmp(t[k - 1], t[k]) > 0; k--) {
			const char *x = t[k];
			t[k] = t[k - 1];
			t[k - 1] = x;
		}
	cdx_buf_adds(&b, "");
	for (i = 0; i < n; i++)
		if (!i || strcmp(t[i], t[i - 1]) != 0)
			cdx_buf_printf(&b, "%s%s", b.len ? "," : "", t[i]);
	free(t);
	return cdx_buf_detach(&b);
}

/* whether a live worker has every tag of JOB; the workers looked at
 * again at most every second */
static bool someone_has(struct cdx_pool *pl, const struct cdx_job *job, struct cdx_buf *names)
{
	int64_t now = cdx_now_ns();
	const cJSON *w;
	bool any = false;
	if (!pl->workers || now - pl->workers_ns > 1000000000LL) {
		struct cdx_error err = {0};
		cJSON_Delete(pl->workers);
		pl->workers = NULL;
		{
			char *k = cdx_xasprintf("%spool:workers", pl->prefix);
			const char *argv[2] = {"HVALS", k};
			cJSON *vals = NULL, *v;
			if (cdx_redis_call(pl->s, 2, argv, &vals, &err) == 0) {
				pl->workers = cJSON_CreateArray();
				cJSON_ArrayForEach(v, vals)
				{
					cJSON *o = v->valuestring ? cJSON_Parse(v->valuestring) : NULL;
					if (o)
						cJSON_AddItemToArray(pl->workers, o);
				}
			}
			cJSON_Delete(vals);
			free(k);
		}
		pl->workers_ns = now;
	}
	cJSON_ArrayForEach(w, pl->workers)
	{
		const cJSON *tags = cJSON_GetObjectItem(w, "tags"), *t;
		size_t i, have = 0;
		if (cdx_wall_ms() - (int64_t)cdx_jn(w, "heartbeat_ms") > POOL_UP_MS)
			continue;
		if (names)
			cdx_buf_printf(names, "%s%s", names->len ? ", " : "", cdx_js(w, "name"));
		for (i = 0; i < job->n_tags; i++)
			cJSON_ArrayForEach(t, tags) if (t->valuestring &&
							strcmp(t->valuestring, job->tags[i]) == 0)
			{
				have++;
				break;
			}
		if (have == job->n_tags)
			any = true;
	}
	return any;
}

/* the entries of SPEC's environment that this process's lacks or has
 * otherwise: what the job adds to a worker's environment */
static cJSON *env_added(const struct cdx_proc_spec *spec)
{
	cJSON *a = cJSON_CreateArray();
	char *const *e;
	for (e = spec->envp; e && *e; e++) {
		char **x;
		bool same = false;
		for (x = environ; *x && !same; x++)
			same = strcmp(*x, *e) == 0;
		if (!same)
			cJSON_AddItemToArray(a, cJSON_CreateString(*e));
	}
	return a;
}

/* the jobs J needs (directly or not) that declare outputs: a worker that
 * lacks their files gets them before J starts */
static cJSON *needed_outputs(const struct cdx_pipeline *p, size_t j)
{
	const struct cdx_dag *d = p->dag;
	bool *seen = cdx_xcalloc(d->n_nodes + 1, sizeof(bool));
	uint32_t *stack = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	size_t sp = 0;
	cJSON *a = cJSON_CreateArray();
	stack[sp++] = (uint32_t)j;
	while (sp) {
		uint32_t v = stack[--sp], e;
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++) {
			uint32_t u = d->pred[e];
			if (seen[u])
				continue;
			seen[u] = true;
			stack[sp++] = u;
			if (u < d->n_jobs && p->jobs[u].n_outputs)
				cJSON_AddItemToArray(a, cJSON_CreateString(p->jobs[u].id));
		}
	}
	free(seen);
	free(stack);
	return a;
}

/* the value of NAME in SPEC's environment, or "" */
static const char *spec_env(const struct cdx_proc_spec *spec, const char *name)
{
	size_t n = strlen(name);
	char *const *e;
	for (e = spec->envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return "";
}

static int pool_start(void *self, const struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct cdx_pool *pl = self;
	size_t j = (size_t)(spec->token & ~CDX_SCHED_AFTER); /* an after_script runs where its job ran */
	const struct cdx_job *job = &pl->p->jobs[j];
	struct pjob *pj = &pl->jobs[j];
	cJSON *o = cJSON_CreateObject(), *sec;
	char *tags = job_tags(job), *qkey = cdx_pool_qkey(pl->prefix, tags), *payload, num[32], ms[32];
	const char *const *sp;
	cJSON *reply = NULL;
	int rc = -1;

	cJSON_AddStringToObject(o, "run", pl->run);
	cJSON_AddStringToObject(o, "pipeline", pl->p->name);
	cJSON_AddStringToObject(o, "job", job->id);
	cJSON_AddNumberToObject(o, "attempt", atoi(spec_env(spec, "CDX_ATTEMPT")));
	cJSON_AddStringToObject(o, "script", spec->script);
	cJSON_AddItemToObject(o, "env", env_added(spec));
	sec = cJSON_AddArrayToObject(o, "secrets");
	for (sp = spec->secrets; sp && *sp; sp++)
		cJSON_AddItemToArray(sec, cJSON_CreateString(*sp));
	cJSON_AddNumberToObject(o, "timeout_ms", (double)spec->timeout_ms);
	cJSON_AddNumberToObject(o, "grace_ms", (double)spec->grace_ms);
	cJSON_AddStringToObject(o, "file", pl->file);
	cJSON_AddStringToObject(o, "file_hash", pl->hash);
	if (pl->commit[0])
		cJSON_AddStringToObject(o, "commit", pl->commit);
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		cJSON_AddNumberToObject(o, "submit_us",
					(double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000));
	}
	cJSON_AddNumberToObject(o, "token", (double)j);
	cJSON_AddStringToObject(o, "tags", tags);
	if (job->n_outputs) {
		cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
		size_t i;
		for (i = 0; i < job->n_outputs; i++)
			cJSON_AddItemToArray(outs, cJSON_CreateString(job->outputs[i]));
	}
	cJSON_AddItemToObject(o, "needs_outputs", needed_outputs(pl->p, j));
	payload = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!cJSON_GetObjectItem(pl->groups, qkey)) {
		/* the group exists from the start of the stream: nothing is missed */
		const char *argv[6] = {"XGROUP", "CREATE", qkey, POOL_GROUP, "0", "MKSTREAM"};
		struct cdx_error e = {0};
		if (cdx_redis_call(pl->s, 6, argv, NULL, &e) < 0 && !strstr(e.msg, "BUSYGROUP")) {
			*err = e;
			goto out;
		}
		if (!pl->groups)
			pl->groups = cJSON_CreateObject();
		cJSON_AddTrueToObject(pl->groups, qkey);
	}
	{
		/* Redis away for a moment (a restart): try again for a few
		 * seconds before the job fails unstarted */
		const char *argv[5] = {"XADD", qkey, "*", "j", payload};
		int tries = 0;
		while (cdx_redis_call(pl->s, 5, argv, &reply, err) < 0) {
			struct timespec ts = {0, 250000000};
			if (++tries >= 20 || err->code != CDX_ESTATE || strstr(err->msg, "redis at") == err->msg)
				goto out;
			nanosleep(&ts, NULL);
		}
	}
	{
		/* an after_script writes on in its attempt's log: read on from where
		 * the script's output stopped */
		char logid[sizeof(pj->logid)];
		bool after = (spec->token & CDX_SCHED_AFTER) != 0;
		memcpy(logid, pj->logid, sizeof(logid));
		free(pj->output);
		memset(pj, 0, sizeof(*pj));
		if (after)
			memcpy(pj->logid, logid, sizeof(logid));
	}
	pj->state = PJ_QUEUED;
	pj->attempt = atoi(spec_env(spec, "CDX_ATTEMPT"));
	pj->after = (spec->token & CDX_SCHED_AFTER) != 0;
	pj->output = spec_env(spec, "CDX_OUTPUT")[0] ? cdx_xstrdup(spec_env(spec, "CDX_OUTPUT")) : NULL;
	snprintf(pj->qkey, sizeof(pj->qkey), "%s", qkey);
	snprintf(pj->entry, sizeof(pj->entry), "%s", reply && reply->valuestring ? reply->valuestring : "");
	snprintf(num, sizeof(num), "%d", pj->attempt);
	snprintf(pj->logkey, sizeof(pj->logkey), "%slog:%s:%s:%s", pl->prefix, pl->run, job->id, num);
	if (!pj->after || !pj->logid[0])
		snprintf(pj->logid, sizeof(pj->logid), "0-0");
	pl->running++;
	if (!pl->warned[j]) {
		struct cdx_buf names = {0};
		if (!someone_has(pl, job, &names)) {
			pl->warned[j] = true;
			if (job->n_tags)
				cdx_text_printf(stderr,
						"cdx: %s waits: no worker has tags %s (workers up: %s)\n",
						job->id, tags, names.len ? names.data : "none");
			else
				cdx_text_printf(stderr,
						"cdx: %s waits: no worker is up (start one: cdx worker)\n",
						job->id);
		}
		cdx_buf_free(&names);
	}
	(void)ms;
	rc = 0;
out:
	cJSON_Delete(reply);
	free(payload);
	free(tags);
	free(qkey);
	return rc;
}

/* the queue entry of PJ is no one's any more: acknowledged and deleted */
static void drop_entry(struct cdx_pool *pl, struct pjob *pj)
{
	struct cdx_error e = {0};
	const char *ack[4] = {"XACK", pj->qkey, POOL_GROUP, pj->entry};
	const char *del[3] = {"XDEL", pj->qkey, pj->entry};
	if (!pj->entry[0])
		return;
	cdx_redis_call(pl->s, 4, ack, NULL, &e);
	cdx_redis_call(pl->s, 3, del, NULL, &e);
}

static size_t job_index(const struct cdx_pool *pl, const char *id)
{
	size_t j;
	for (j = 0; j < pl->p->n_jobs; j++)
		if (strcmp(pl->p->jobs[j].id, id) == 0)
			return j;
	return (size_t)-1;
}

static const char *field(size_t nf, const char *const *names, const char *const *vals, const char *name)
{
	size_t i;
	for (i = 0; i < nf; i++)
		if (strcmp(names[i], name) == 0)
			return vals[i];
	return "";
}

/* job J ended as R (fill who ran it) */
static void ended(struct cdx_pool *pl, size_t j, struct cdx_proc_result *r)
{
	struct pjob *pj = &pl->jobs[j];
	r->token = j | (pj->after ? CDX_SCHED_AFTER : 0);
	snprintf(r->where, sizeof(r->where), "%s", pj->worker);
	if (r->error[0] && r->end != CDX_PROC_LOST)
		cdx_text_printf(stderr, "cdx: %s did not run on worker %s: %s\n", pl->p->jobs[j].id,
				pj->worker, r->error);
	pj->state = PJ_FREE;
	pl->running--;
	push_ready(pl, r);
}

/* the text of $CDX_OUTPUT the worker sent back, into the owner's file
 * PATH, where the run reads it as it reads a local job's */
static void put_output(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return; /* the run finds no outputs, as when none were written */
	fputs(text, f);
	fclose(f);
}

/* a stream entry: the run's events (stream 0) or a log */
static void on_entry(void *ctx, size_t stream, const char *id, size_t nf, const char *const *names,
		     const char *const *vals, const size_t *lens)
{
	struct cdx_pool *pl = ctx;
	size_t i;
	(void)id;
	if (stream > 0) {
		/* the streams after the first are the logs of the jobs in map */
		for (i = 0; i < nf; i++)
			if (strcmp(names[i], "d") == 0 && pl->out)
				pl->out(pl->out_ctx, pl->map[stream], vals[i], lens[i]);
		return;
	}
	{
		const char *e = field(nf, names, vals, "e"), *jid = field(nf, names, vals, "job");
		size_t j = job_index(pl, jid);
		int attempt = atoi(field(nf, names, vals, "attempt"));
		unsigned long long fence = strtoull(field(nf, names, vals, "fence"), NULL, 10);
		struct pjob *pj;
		if (j == (size_t)-1)
			return;
		pj = &pl->jobs[j];
		if (strcmp(e, "start") == 0) {
			if (pj->state == PJ_QUEUED && pj->attempt == attempt) {
				pj->state = PJ_STARTED;
				pj->fence = fence;
				snprintf(pj->worker, sizeof(pj->worker), "%s",
					 field(nf, names, vals, "worker"));
			}
		} else if (strcmp(e, "done") == 0 || strcmp(e, "lost") == 0) {
			if (pj->state == PJ_STARTED && pj->attempt == attempt && pj->fence == fence) {
				memset(&pj->res, 0, sizeof(pj->res));
				if (strcmp(e, "done") == 0) {
					cJSON *r = cJSON_Parse(field(nf, names, vals, "r"));
					cdx_pool_result_from(r, &pj->res);
					if (pj->output && cdx_jsn(r, "output"))
						put_output(pj->output, cdx_jsn(r, "output"));
					cJSON_Delete(r);
				} else {
					pj->res.end = CDX_PROC_LOST;
					pj->res.start_ms = cdx_wall_ms();
					snprintf(pj->res.error, sizeof(pj->res.error), "%.200s",
						 field(nf, names, vals, "r"));
				}
				pj->done_seen = true;
			}
		} else if (strcmp(e, "refused") == 0) {
			cdx_text_printf(
			    stderr,
			    "cdx: a late result of %s (attempt %d, fence %llu) from worker %s was "
			    "refused: its lease had lapsed and the job was given to another\n",
			    jid, attempt, fence, field(nf, names, vals, "worker"));
		}
	}
}

/* read what the run's stream and its running attempts' logs hold, waiting
 * up to BLOCK_MS (< 0: not at all) */
static long pull(struct cdx_pool *pl, long block_ms, struct cdx_error *err)
{
	size_t n = 1, j, k;
	const char **keys = cdx_xcalloc(pl->p->n_jobs + 2, sizeof(char *));
	char(*ids)[64] = cdx_xcalloc(pl->p->n_jobs + 2, 64);
	long got;
	keys[0] = pl->evkey;
	memcpy(ids[0], pl->evid, 64);
	for (j = 0; j < pl->p->n_jobs; j++)
		if (pl->jobs[j].state == PJ_STARTED) {
			keys[n] = pl->jobs[j].logkey;
			memcpy(ids[n], pl->jobs[j].logid, 64);
			pl->map[n++] = j;
		}
	got = cdx_redis_xread(pl->s, NULL, NULL, 0, n, keys, ids, block_ms, on_entry, pl, err);
	if (got >= 0) {
		memcpy(pl->evid, ids[0], 64);
		for (k = 1; k < n; k++)
			memcpy(pl->jobs[pl->map[k]].logid, ids[k], 64);
	}
	free(keys);
	free(ids);
	return got;
}

/* hand out the results that arrived, after the rest of their logs */
static void settle_done(struct cdx_pool *pl)
{
	size_t j;
	for (j = 0; j < pl->p->n_jobs; j++) {
		struct pjob *pj = &pl->jobs[j];
		struct cdx_error err = {0};
		if (pj->state != PJ_STARTED || !pj->done_seen)
			continue;
		/* the worker sent its log before its result: read it to the end */
		for (;;) {
			const char *keys[2] = {pl->evkey, pj->logkey};
			char ids[2][64];
			long got;
			/* stream 0: a key with no entries after "$"-like id: none */
			snprintf(ids[0], 64, "%s", "18446744073709551615-18446744073709551615");
			memcpy(ids[1], pj->logid, 64);
			pl->map[1] = j;
			got = cdx_redis_xread(pl->s, NULL, NULL, 0, 2, keys, ids, -1, on_entry, pl, &err);
			if (got <= 0)
				break;
			memcpy(pj->logid, ids[1], 64);
		}
		pj->done_seen = false;
		ended(pl, j, &pj->res);
	}
}

/* the started jobs whose lease is gone and whose result did not come:
 * their worker is lost (kill -9, a lost machine, a stopped process); the
 * queue entry is taken back and the attempt ends as CDX_PROC_LOST */
static void check_leases(struct cdx_pool *pl)
{
	size_t j;
	bool any = false, *gone = cdx_xcalloc(pl->p->n_jobs + 1, sizeof(bool));
	struct cdx_error err = {0};
	for (j = 0; j < pl->p->n_jobs; j++) {
		struct pjob *pj = &pl->jobs[j];
		char *k, want[128];
		cJSON *rep = NULL;
		if (pj->state != PJ_STARTED || pj->done_seen)
			continue;
		k = cdx_xasprintf("%spool:lease:%s:%s", pl->prefix, pl->run, pl->p->jobs[j].id);
		{
			const char *argv[2] = {"GET", k};
			snprintf(want, sizeof(want), "%llu %s", pj->fence, pj->worker);
			if (cdx_redis_call(pl->s, 2, argv, &rep, &err) == 0 &&
			    (!rep || !rep->valuestring || strcmp(rep->valuestring, want) != 0))
				any = gone[j] = true;
		}
		cJSON_Delete(rep);
		free(k);
	}
	/* a result handed in releases the lease in the same step as it is
	 * added to the run's stream: read what came before deciding */
	if (any)
		pull(pl, -1, &err);
	for (j = 0; any && j < pl->p->n_jobs; j++) {
		struct pjob *pj = &pl->jobs[j];
		char *k;
		if (!gone[j] || pj->state != PJ_STARTED || pj->done_seen)
			continue;
		k = cdx_xasprintf("%spool:stats", pl->prefix);
		{
			const char *av[4] = {"HINCRBY", k, "reclaimed", "1"};
			cdx_redis_call(pl->s, 4, av, NULL, &err);
		}
		free(k);
		drop_entry(pl, pj);
		memset(&pj->res, 0, sizeof(pj->res));
		pj->res.end = CDX_PROC_LOST;
		pj->res.start_ms = cdx_wall_ms();
		snprintf(pj->res.error, sizeof(pj->res.error), "worker %s stopped renewing its lease",
			 pj->worker);
		pj->done_seen = true;
	}
	free(gone);
}

static int pool_wait(void *self, int timeout_ms, struct cdx_proc_result *res)
{
	struct cdx_pool *pl = self;
	struct cdx_error err = {0};
	int64_t until = timeout_ms < 0 ? 0 : cdx_now_ns() + (int64_t)timeout_ms * 1000000;
	long lease = cdx_pool_lease_ms();
	for (;;) {
		long block;
		int64_t now;
		if (pl->n_ready) {
			*res = pl->ready[0];
			memmove(pl->ready, pl->ready + 1, (pl->n_ready - 1) * sizeof(*pl->ready));
			pl->n_ready--;
			return 1;
		}
		if (!pl->running)
			return 0;
		now = cdx_now_ns();
		if (now >= pl->next_check_ns) {
			check_leases(pl);
			pl->next_check_ns = now + (int64_t)(lease / 4 > 50 ? lease / 4 : 50) * 1000000;
			settle_done(pl);
			if (pl->n_ready)
				continue;
		}
		block = timeout_ms < 0 ? 1000 : (long)((until - now) / 1000000);
		if (block > (pl->next_check_ns - now) / 1000000)
			block = (long)((pl->next_check_ns - now) / 1000000);
		if (block < 1)
			block = 1;
		if (pull(pl, block, &err) < 0) {
			/* Redis went away: results wait there; try again shortly */
			struct timespec ts = {0, 100000000};
			nanosleep(&ts, NULL);
		}
		settle_done(pl);
		if (pl->n_ready)
			continue;
		if (timeout_ms >= 0 && cdx_now_ns() >= until)
			return 0;
	}
}

static void pool_cancel_all(void *self, bool now)
{
	struct cdx_pool *pl = self;
	struct cdx_error err = {0};
	char *k = cdx_xasprintf("%spool:cancel:%s", pl->prefix, pl->run);
	const char *argv[5] = {"SET", k, now ? "kill" : "term", "PX", "3600000"};
	size_t j;
	cdx_redis_call(pl->s, 5, argv, NULL, &err);
	free(k);
	pl->cancelling = true;
	/* what no worker took yet is taken back at once */
	for (j = 0; j < pl->p->n_jobs; j++) {
		struct pjob *pj = &pl->jobs[j];
		if (pj->state == PJ_QUEUED) {
			struct cdx_proc_result r;
			drop_entry(pl, pj);
			memset(&r, 0, sizeof(r));
			r.end = CDX_PROC_CANCELLED;
			r.term_signal = SIGTERM;
			r.start_ms = cdx_wall_ms();
			ended(pl, j, &r);
		}
	}
}

static size_t pool_running(void *self)
{
	const struct cdx_pool *pl = self;
	return pl->running;
}

static const struct cdx_runner_ops pool_ops = {
    .start = pool_start,
    .wait = pool_wait,
    .cancel_all = pool_cancel_all,
    .running = pool_running,
};

const struct cdx_runner_ops *cdx_pool_ops(void)
{
	return &pool_ops;
}

/* ---- queries ------------------------------------------------------------- */

static cJSON *workers_of(struct cdx_store *s, struct cdx_error *err)
{
	char *k = cdx_xasprintf("%spool:workers", cdx_redis_prefix(s));
	const char *argv[2] = {"HVALS", k};
	cJSON *vals = NULL, *v, *out;
	int rc = cdx_redis_call(s, 2, argv, &vals, err);
	free(k);
	if (rc < 0)
		return NULL;
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(v, vals)
	{
		cJSON *o = v->valuestring ? cJSON_Parse(v->valuestring) : NULL;
		if (!o)
			continue;
		cJSON_AddBoolToObject(o, "up",
				      cdx_wall_ms() - (int64_t)cdx_jn(o, "heartbeat_ms") <= POOL_UP_MS);
		cJSON_AddItemToArray(out, o);
	}
	cJSON_Delete(vals);
	return out;
}

cJSON *cdx_pool_workers(const char *state, struct cdx_error *err)
{
	struct cdx_store *s;
	cJSON *out;
	if (cdx_pool_open(state, "cdx workers", &s, err) < 0)
		return NULL;
	out = workers_of(s, err);
	cdx_store_close(s);
	return out;
}

cJSON *cdx_pool_metrics(const char *state, struct cdx_error *err)
{
	struct cdx_store *s;
	cJSON *w, *o, *x, *rep = NULL, *pick;
	double up = 0, slots = 0, busy = 0, queue = 0;
	const char *prefix;
	size_t i;
	if (cdx_pool_open(state, "pool metrics", &s, err) < 0)
		return NULL;
	prefix = cdx_redis_prefix(s);
	w = workers_of(s, err);
	if (!w) {
		cdx_store_close(s);
		return NULL;
	}
	cJSON_ArrayForEach(x, w)
	{
		if (!cdx_jb(x, "up", false))
			continue;
		up++;
		slots += cdx_jn(x, "slots");
		busy += cdx_jn(x, "busy");
	}
	cJSON_Delete(w);
	{
		/* the queues: entries not yet taken (the group's lag) */
		char *pat = cdx_xasprintf("%spool:q:*", prefix);
		const char *argv[2] = {"KEYS", pat};
		cJSON *keys = NULL, *k;
		if (cdx_redis_call(s, 2, argv, &keys, err) == 0)
			cJSON_ArrayForEach(k, keys)
			{
				/* entries in the stream that no worker holds yet */
				const char *av[2] = {"XLEN", k->valuestring};
				const char *pv[3] = {"XPENDING", k->valuestring, POOL_GROUP};
				cJSON *n = NULL, *pend = NULL;
				if (k->valuestring && cdx_redis_call(s, 2, av, &n, err) == 0 &&
				    cJSON_IsNumber(n))
					queue += n->valuedouble;
				if (k->valuestring && cdx_redis_call(s, 3, pv, &pend, err) == 0 &&
				    cJSON_IsNumber(cJSON_GetArrayItem(pend, 0)))
					queue -= cJSON_GetArrayItem(pend, 0)->valuedouble;
				cJSON_Delete(n);
				cJSON_Delete(pend);
			}
		cJSON_Delete(keys);
		free(pat);
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "workers_up", up);
	cJSON_AddNumberToObject(o, "slots", slots);
	cJSON_AddNumberToObject(o, "slots_busy", busy);
	cJSON_AddNumberToObject(o, "queue_length", queue);
	{
		char *k = cdx_xasprintf("%spool:stats", prefix);
		const char *argv[4] = {"HMGET", k, "reclaimed", "refused"};
		if (cdx_redis_call(s, 4, argv, &rep, err) == 0) {
			cJSON *a = cJSON_GetArrayItem(rep, 0), *b = cJSON_GetArrayItem(rep, 1);
			cJSON_AddNumberToObject(o, "reclaimed",
						a && a->valuestring ? atof(a->valuestring) : 0);
			cJSON_AddNumberToObject(o, "refused", b && b->valuestring ? atof(b->valuestring) : 0);
		}
		cJSON_Delete(rep);
		free(k);
	}
	pick = cJSON_AddObjectToObject(o, "pickup");
	{
		char *k = cdx_xasprintf("%spool:pickup", prefix);
		const char *labels[] = {"1",   "2",   "5",   "10",   "25",   "50",
					"100", "250", "500", "1000", "5000", "+Inf"};
		const char *argv[2 + 14];
		cJSON *b = cJSON_AddArrayToObject(pick, "buckets");
		double cum = 0;
		argv[0] = "HMGET";
		argv[1] = k;
		for (i = 0; i < 12; i++)
			argv[2 + i] = labels[i];
		argv[14] = "sum_ms";
		argv[15] = "count";
		rep = NULL;
		if (cdx_redis_call(s, 16, argv, &rep, err) == 0) {
			for (i = 0; i < 12; i++) {
				cJSON *v = cJSON_GetArrayItem(rep, (int)i), *pair = cJSON_CreateArray();
				cum += v && v->valuestring ? atof(v->valuestring) : 0;
				cJSON_AddItemToArray(pair, cJSON_CreateString(labels[i]));
				cJSON_AddItemToArray(pair, cJSON_CreateNumber(cum));
				cJSON_AddItemToArray(b, pair);
			}
			{
				cJSON *sm = cJSON_GetArrayItem(rep, 12), *cn = cJSON_GetArrayItem(rep, 13);
				cJSON_AddNumberToObject(pick, "sum_ms",
							sm && sm->valuestring ? atof(sm->valuestring) : 0);
				cJSON_AddNumberToObject(pick, "count",
							cn && cn->valuestring ? atof(cn->valuestring) : 0);
			}
		}
		cJSON_Delete(rep);
		free(k);
	}
	cdx_store_close(s);
	return o;
}

#else /* no Redis: there is no pool */

int cdx_pool_open(const char *state, const char *who, struct cdx_store **out, struct cdx_error *err)
{
	(void)state;
	*out = NULL;
	return cdx_error_set(err, CDX_EUSAGE, "%s needs a redis:// state, and cdx was built without Redis",
			     who);
}

struct cdx_pool *cdx_pool_new(const char *state, const struct cdx_pipeline *p, const char *run_id,
			      cdx_output_fn out, void *out_ctx, struct cdx_error *err)
{
	struct cdx_store *s;
	(void)p, (void)run_id, (void)out, (void)out_ctx;
	cdx_pool_open(state, "a run on workers", &s, err);
	return NULL;
}

void cdx_pool_free(struct cdx_pool *pl)
{
	(void)pl;
}

const struct cdx_runner_ops *cdx_pool_ops(void)
{
	return NULL;
}

cJSON *cdx_pool_workers(const char *state, struct cdx_error *err)
{
	struct cdx_store *s;
	cdx_pool_open(state, "cdx workers", &s, err);
	return NULL;
}

cJSON *cdx_pool_metrics(const char *state, struct cdx_error *err)
{
	struct cdx_store *s;
	cdx_pool_open(state, "pool metrics", &s, err);
	return NULL;
}

#endif

char *cdx_pool_prometheus(const char *state, struct cdx_error *err)
{
	cJSON *m, *b;
	struct cdx_buf out = {0};
	const cJSON *x;
	if (!state || strncmp(state, "redis://", 8) != 0)
		return NULL;
	m = cdx_pool_metrics(state, err);
	if (!m)
		return NULL;
	cdx_buf_printf(&out,
		       "# HELP cdx_pool_workers_up Workers of the pool with a recent heartbeat.\n"
		       "# TYPE cdx_pool_workers_up gauge\ncdx_pool_workers_up %.0f\n",
		       cdx_jn(m, "workers_up"));
	cdx_buf_printf(&out,
		       "# HELP cdx_pool_slots Job slots of the workers up.\n"
		       "# TYPE cdx_pool_slots gauge\ncdx_pool_slots %.0f\n",
		       cdx_jn(m, "slots"));
	cdx_buf_printf(&out,
		       "# HELP cdx_pool_slots_busy Job slots running a job.\n"
		       "# TYPE cdx_pool_slots_busy gauge\ncdx_pool_slots_busy %.0f\n",
		       cdx_jn(m, "slots_busy"));
	cdx_buf_printf(&out,
		       "# HELP cdx_pool_queue_length Jobs submitted to the pool and not yet taken.\n"
		       "# TYPE cdx_pool_queue_length gauge\ncdx_pool_queue_length %.0f\n",
		       cdx_jn(m, "queue_length"));
	cdx_buf_printf(&out,
		       "# HELP cdx_pool_jobs_reclaimed_total Jobs taken back from a lost worker.\n"
		       "# TYPE cdx_pool_jobs_reclaimed_total counter\ncdx_pool_jobs_reclaimed_total %.0f\n",
		       cdx_jn(m, "reclaimed"));
	cdx_buf_printf(&out,
		       "# HELP cdx_pool_late_results_refused_total Results refused: their lease had lapsed.\n"
		       "# TYPE cdx_pool_late_results_refused_total counter\n"
		       "cdx_pool_late_results_refused_total %.0f\n",
		       cdx_jn(m, "refused"));
	b = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "pickup"), "buckets");
	cdx_buf_printf(&out, "# HELP cdx_pool_pickup_seconds From a job's submission to a worker taking it.\n"
			     "# TYPE cdx_pool_pickup_seconds histogram\n");
	cJSON_ArrayForEach(x, b)
	{
		const char *le = cJSON_GetArrayItem(x, 0)->valuestring;
		double n = cJSON_GetArrayItem(x, 1)->valuedouble;
		if (strcmp(le, "+Inf") == 0)
			cdx_buf_printf(&out, "cdx_pool_pickup_seconds_bucket{le=\"+Inf\"} %.0f\n", n);
		else
			cdx_buf_printf(&out, "cdx_pool_pickup_seconds_bucket{le=\"%g\"} %.0f\n",
				       atof(le) / 1000, n);
	}
	cdx_buf_printf(&out, "cdx_pool_pickup_seconds_sum %.6f\ncdx_pool_pickup_seconds_count %.0f\n",
		       cdx_jn(cJSON_GetObjectItem(m, "pickup"), "sum_ms") / 1000,
		       cdx_jn(cJSON_GetObjectItem(m, "pickup"), "count"));
	cJSON_Delete(m);
	return cdx_buf_detach(&out);
}
