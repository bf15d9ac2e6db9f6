/* pool_worker.c — a worker of the pool (pool.h, `cdx worker`): claims
 * jobs with a blocking XREADGROUP on the queues of every subset of its
 * tags, takes each with a fence and a lease, runs it with the process
 * runner in its workspace, sends its log to the attempt's stream, renews
 * the lease while it runs and hands the result in.  Single-threaded: with
 * nothing running it blocks in XREADGROUP (a job starts the moment it is
 * queued); with jobs running it alternates a short XREADGROUP (when a slot
 * is free) and the runner's wait. */
#include "exec/pool.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/mask.h"
#include "base/text.h"
#include "exec/hook.h"
#include "exec/logstream.h"
#include "exec/outputs.h"
#include "exec/pool_int.h"
#include "exec/runner.h"
#include "state/artifacts.h"
#include "state/store.h"

#ifdef CDX_WITH_REDIS
#include "redis/redis_call.h"

extern char **environ;

#define RENEW_EVERY_MS 250
#define HEARTBEAT_MS 2000

struct slot {
	bool used;
	cJSON *job; /* the payload */
	char qkey[300], entry[64];
	char run[64], jid[256];
	int attempt;
	unsigned long long fence;
	char fence_s[32];
	bool lost;     /* the lease was lost: its result will be refused */
	bool handback; /* the worker stops: hand it back, no result */
	struct cdx_logstream log;
	char **envp;
	char **argv;
	char **secrets;
	char *log_path;
	char *output_path; /* its $CDX_OUTPUT here, sent back with the result */
};

struct worker {
	const struct cdx_worker_opts *o;
	struct cdx_store *s;
	const char *prefix;
	char name[128];
	char host[256];
	char dir[4096];
	char **tags;
	size_t n_tags;
	char **qkeys; /* the queues of every subset of the tags */
	char (*ids)[64];
	size_t n_q;
	struct slot *slots;
	unsigned n_slots, busy, cap_slots;
	struct cdx_runner *runner;
	char lease_s[32];
	int64_t next_renew_ns, next_beat_ns;
	cJSON *have; /* "RUN JOB" of the outputs this workspace has */
};

static void on_output(void *ctx, uint64_t token, const char *data, size_t len)
{
	struct worker *w = ctx;
	cdx_logstream_add(&w->slots[token].log, data, len);
}

static void strv_free(char **v)
{
	size_t i;
	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* the value of NAME in the environment ENVP, or NULL */
static const char *getenv_in(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static void slot_clear(struct slot *sl)
{
	cJSON_Delete(sl->job);
	strv_free(sl->envp);
	cdx_argv_free(sl->argv);
	strv_free(sl->secrets);
	free(sl->log_path);
	if (sl->output_path)
		unlink(sl->output_path);
	free(sl->output_path);
	cdx_logstream_free(&sl->log);
	memset(sl, 0, sizeof(*sl));
}

/* the worker's entry in the pool's registry (P pool:workers) */
static void beat(struct worker *w)
{
	struct cdx_error err = {0};
	cJSON *o = cJSON_CreateObject(), *t = cJSON_AddArrayToObject(o, "tags");
	char *k = cdx_xasprintf("%spool:workers", w->prefix), *js;
	size_t i;
	cJSON_AddStringToObject(o, "name", w->name);
	cJSON_AddStringToObject(o, "host", w->host);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	for (i = 0; i < w->n_tags; i++)
		cJSON_AddItemToArray(t, cJSON_CreateString(w->tags[i]));
	cJSON_AddNumberToObject(o, "slots", w->n_slots);
	cJSON_AddNumberToObject(o, "busy", w->busy);
	cJSON_AddStringToObject(o, "dir", w->dir);
	cJSON_AddNumberToObject(o, "heartbeat_ms", (double)cdx_wall_ms());
	js = cJSON_PrintUnformatted(o);
	{
		const char *argv[4] = {"HSET", k, w->name, js};
		cdx_redis_call(w->s, 4, argv, NULL, &err);
	}
	free(js);
	free(k);
	cJSON_Delete(o);
	w->next_beat_ns = cdx_now_ns() + HEARTBEAT_MS * 1000000LL;
}

static void unregister(struct worker *w)
{
	struct cdx_error err = {0};
	char *k = cdx_xasprintf("%spool:workers", w->prefix);
	const char *argv[3] = {"HDEL", k, w->name};
	cdx_redis_call(w->s, 3, argv, NULL, &err);
	free(k);
}

/* hand in slot SL's result R (MODE "done"), or hand it back ("lost") */
static void hand_in(struct worker *w, struct slot *sl, const char *mode, const char *what)
{
	struct cdx_error err = {0};
	char att[16];
	long long ok = 0;
	const char *argv[9];
	snprintf(att, sizeof(att), "%d", sl->attempt);
	argv[0] = sl->run;
	argv[1] = sl->jid;
	argv[2] = att;
	argv[3] = sl->fence_s;
	argv[4] = w->name;
	argv[5] = sl->qkey;
	argv[6] = sl->entry;
	argv[7] = mode;
	argv[8] = what;
	{
		/* the prefix goes first (cdx_redis_script adds it) */
		if (cdx_redis_script(w->s, CDX_POOL_DONE, 9, argv, &ok, &err) < 0) {
			fprintf(w->o->out, "cdx worker %s: cannot hand in %s of run %s: %s\n", w->name,
				sl->jid, sl->run, err.msg);
			return;
		}
	}
	if (!ok) {
		cJSON *rec = cJSON_CreateObject();
		fprintf(
		    w->o->out,
		    "cdx worker %s: the result of %s (run %s, attempt %d, fence %llu) was refused: its lease "
		    "lapsed and the job was given to another worker\n",
		    w->name, sl->jid, sl->run, sl->attempt, sl->fence);
		fflush(w->o->out);
		cJSON_AddStringToObject(rec, "t", "event");
		cJSON_AddStringToObject(rec, "kind", "late_result_refused");
		cJSON_AddNumberToObject(rec, "at_ms", (double)cdx_wall_ms());
		cJSON_AddStringToObject(rec, "run", sl->run);
		cJSON_AddStringToObject(rec, "job", sl->jid);
		cJSON_AddNumberToObject(rec, "attempt", sl->attempt);
		cJSON_AddNumberToObject(rec, "fence", (double)sl->fence);
		cJSON_AddStringToObject(rec, "worker", w->name);
		if (w->s->ops->append(w->s, rec, &err) < 0 || w->s->ops->flush(w->s, &err) < 0)
			fprintf(w->o->out, "cdx worker %s: cannot record the refusal: %s\n", w->name,
				err.msg);
		cJSON_Delete(rec);
	}
}

/* the workspace differs from the run's: why, in BUF; else 0 */
static int workspace_differs(struct worker *w, const cJSON *job, char *buf, size_t n)
{
	const char *file = cdx_js(job, "file"), *hash = cdx_js(job, "file_hash"),
		   *commit = cdx_js(job, "commit");
	char *path, *data = NULL, mine[16] = "missing", head[41];
	size_t len;
	struct cdx_error err = {0};
	if (strstr(file, "..") || !*file) {
		snprintf(buf, n, "pipeline file '%s' is not inside a workspace", file);
		return 1;
	}
	path = file[0] == '/' ? cdx_xstrdup(file) : cdx_xasprintf("%s/%s", w->dir, file);
	if (cdx_read_file(path, (size_t)64 << 20, &data, &len, &err) == 0)
		snprintf(mine, sizeof(mine), "%08x", (unsigned)cdx_crc32(0, data, len));
	free(data);
	free(path);
	if (strcmp(mine, hash) != 0) {
		snprintf(
		    buf, n,
		    "workspace of worker %s differs from the run's: pipeline file %s has hash %s here, %s in "
		    "the run",
		    w->name, file, mine, hash);
		return 1;
	}
	if (*commit) {
		if (cdx_git_head(w->dir, head) < 0)
			snprintf(head, sizeof(head), "none");
		if (strcmp(head, commit) != 0) {
			snprintf(buf, n,
				 "workspace of worker %s differs from the run's: git commit %s here, %s in "
				 "the run",
				 w->name, head, commit);
			return 1;
		}
	}
	return 0;
}

static void env_set(char ***envp, size_t *n, size_t *cap, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t i, klen = eq ? (size_t)(eq - kv) : strlen(kv);
	for (i = 0; i < *n; i++)
		if (strncmp((*envp)[i], kv, klen) == 0 && (*envp)[i][klen] == '=') {
			free((*envp)[i]);
			(*envp)[i] = cdx_xstrdup(kv);
			return;
		}
	cdx_grow(envp, cap, *n + 2, sizeof(char *));
	(*envp)[(*n)++] = cdx_xstrdup(kv);
	(*envp)[*n] = NULL;
}

static bool has_outputs(struct worker *w, const char *run, const char *job)
{
	const cJSON *x;
	char key[400];
	snprintf(key, sizeof(key), "%s %s", run, job);
	cJSON_ArrayForEach(x, w->have) if (x->valuestring && strcmp(x->valuestring, key) == 0) return true;
	return false;
}

static void have_outputs(struct worker *w, const char *run, const char *job)
{
	char key[400];
	snprintf(key, sizeof(key), "%s %s", run, job);
	if (!w->have)
		w->have = cJSON_CreateArray();
	if (!has_outputs(w, run, job))
		cJSON_AddItemToArray(w->have, cJSON_CreateString(key));
}

/* the outputs of the jobs JOB needs that this workspace lacks, unpacked
 * into it (cdx_unpack writes nothing outside it); -1 with WHY */
static int fetch_outputs(struct worker *w, const cJSON *job, char *why, size_t n)
{
	const cJSON *x;
	const char *run = cdx_js(job, "run");
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(job, "needs_outputs"))
	{
		char id[300];
		struct cdx_error err = {0};
		if (!x->valuestring || has_outputs(w, run, x->valuestring))
			continue;
		snprintf(id, sizeof(id), "%s%s", x->valuestring, CDX_ARTIFACTS_OUTPUTS_SUFFIX);
		if (cdx_artifacts_get(w->s, run, id, w->dir, &err) < 0) {
			if (err.code == CDX_EFAILED && strstr(err.msg, "no artifacts of"))
				continue; /* it kept nothing (its outputs matched nothing) */
			snprintf(why, n, "cannot unpack the outputs of %.100s on worker %.60s: %.300s",
				 x->valuestring, w->name, err.msg);
			return -1;
		}
		have_outputs(w, run, x->valuestring);
	}
	return 0;
}

/* a job id, STAGE/JOB of names: it becomes a path below the log directory */
static bool job_id_valid(const char *id)
{
	const char *slash = strchr(id, '/');
	char stage[80];
	if (!slash || slash - id >= (long)sizeof(stage) || strchr(slash + 1, '/'))
		return false;
	snprintf(stage, sizeof(stage), "%.*s", (int)(slash - id), id);
	return cdx_name_valid(stage) && cdx_name_valid(slash + 1);
}

/* a job read from queue Q as entry ID with payload JS: take it and start it */
static void take(struct worker *w, size_t q, const char *id, const char *js)
{
	struct slot *sl = NULL;
	struct cdx_error err = {0};
	struct cdx_proc_spec spec;
	cJSON *job = cJSON_Parse(js), *x;
	long long fence = 0;
	unsigned i;
	size_t n = 0, cap = 0;
	char why[600], *dir, pick[32], pickms[32], att[16];
	double pickup;
	for (i = 0; i < w->cap_slots && !sl; i++)
		if (!w->slots[i].used)
			sl = &w->slots[i];
	if (!job || !sl || !cdx_name_valid(cdx_js(job, "run")) || !job_id_valid(cdx_js(job, "job"))) {
		/* not a job (or no slot, which cannot be: COUNT is the free slots) */
		const char *ack[4] = {"XACK", w->qkeys[q], POOL_GROUP, id};
		cdx_redis_call(w->s, 4, ack, NULL, &err);
		cJSON_Delete(job);
		return;
	}
	sl->used = true;
	sl->job = job;
	snprintf(sl->qkey, sizeof(sl->qkey), "%s", w->qkeys[q]);
	snprintf(sl->entry, sizeof(sl->entry), "%s", id);
	snprintf(sl->run, sizeof(sl->run), "%s", cdx_js(job, "run"));
	snprintf(sl->jid, sizeof(sl->jid), "%s", cdx_js(job, "job"));
	sl->attempt = (int)cdx_jn(job, "attempt");
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		pickup =
		    ((double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000) - cdx_jn(job, "submit_us")) / 1000;
	}
	if (pickup < 0)
		pickup = 0;
	snprintf(pick, sizeof(pick), "%s", cdx_pool_bucket(pickup));
	snprintf(pickms, sizeof(pickms), "%.3f", pickup);
	snprintf(att, sizeof(att), "%d", sl->attempt);
	{
		const char *argv[7] = {sl->run, sl->jid, att, w->name, w->lease_s, pick, pickms};
		if (cdx_redis_script(w->s, CDX_POOL_TAKE, 7, argv, &fence, &err) < 0) {
			fprintf(w->o->out, "cdx worker %s: cannot take %s: %s\n", w->name, sl->jid, err.msg);
			slot_clear(sl);
			return;
		}
	}
	if (fence < 0) { /* the run was cancelled: nothing to do */
		const char *ack[4] = {"XACK", sl->qkey, POOL_GROUP, sl->entry};
		const char *del[3] = {"XDEL", sl->qkey, sl->entry};
		cdx_redis_call(w->s, 4, ack, NULL, &err);
		cdx_redis_call(w->s, 3, del, NULL, &err);
		slot_clear(sl);
		return;
	}
	sl->fence = (unsigned long long)fence;
	snprintf(sl->fence_s, sizeof(sl->fence_s), "%lld", fence);
	w->busy++;
	beat(w);
	if (workspace_differs(w, job, why, sizeof(why)) || fetch_outputs(w, job, why, sizeof(why)) < 0) {
		struct cdx_proc_result r;
		cJSON *rj;
		char *rs;
		memset(&r, 0, sizeof(r));
		r.end = CDX_PROC_SPAWNFAIL;
		r.exit_code = 127;
		r.start_ms = cdx_wall_ms();
		snprintf(r.error, sizeof(r.error), "%.250s", why);
		rj = cdx_pool_result_json(&r);
		rs = cJSON_PrintUnformatted(rj);
		fprintf(w->o->out, "cdx worker %s: refused %s of run %s: %s\n", w->name, sl->jid, sl->run,
			why);
		fflush(w->o->out);
		hand_in(w, sl, "done", rs);
		free(rs);
		cJSON_Delete(rj);
		slot_clear(sl);
		w->busy--;
		return;
	}
	/* the environment: this worker's, and what the job adds */
	for (char **e = environ; *e; e++) {
		char *kv = cdx_env_inherit(*e);
		env_set(&sl->envp, &n, &cap, kv);
		free(kv);
	}
	cJSON_ArrayForEach(x,
			   cJSON_GetObjectItem(job, "env")) if (x->valuestring && strchr(x->valuestring, '='))
	    env_set(&sl->envp, &n, &cap, x->valuestring);
	{
		char *kv = cdx_xasprintf("CDX_WORKER=%s", w->name);
		env_set(&sl->envp, &n, &cap, kv);
		free(kv);
	}
	{
		size_t ns = 0, cs = 0;
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(job, "secrets")) if (x->valuestring)
		{
			cdx_grow(&sl->secrets, &cs, ns + 2, sizeof(char *));
			sl->secrets[ns++] = cdx_xstrdup(x->valuestring);
			sl->secrets[ns] = NULL;
		}
	}
	dir = cdx_xasprintf("%s/%s", w->s->log_dir, sl->run);
	sl->log_path = cdx_xasprintf("%s/%s.%d.log", dir, sl->jid, sl->attempt);
	{
		char *slash = strrchr(sl->log_path, '/');
		char *d = cdx_xstrndup(sl->log_path, (size_t)(slash - sl->log_path));
		cdx_mkdirs(d);
		free(d);
	}
	if (getenv_in(sl->envp, "CDX_OUTPUT")) {
		/* the owner's $CDX_OUTPUT is a path on its machine: the job writes
		 * a file here, whose text goes back with the result */
		char *kv;
		sl->output_path = cdx_xasprintf("%s/%s.%d.output", dir, sl->jid, sl->attempt);
		unlink(sl->output_path); /* the job creates it when it writes (>>) */
		kv = cdx_xasprintf("CDX_OUTPUT=%s", sl->output_path);
		env_set(&sl->envp, &n, &cap, kv);
		free(kv);
	}
	free(dir);
	cdx_logstream_begin(&sl->log, w->s, sl->run, sl->jid, sl->attempt);
	sl->argv = cdx_runner_split_simple(cdx_js(job, "script"));
	memset(&spec, 0, sizeof(spec));
	spec.token = (uint64_t)(sl - w->slots);
	spec.script = cdx_js(job, "script");
	spec.argv = sl->argv;
	spec.envp = sl->envp;
	spec.cwd = w->dir;
	spec.log_path = sl->log_path;
	spec.secrets = (const char *const *)sl->secrets;
	spec.timeout_ms = (int64_t)cdx_jn(job, "timeout_ms");
	spec.grace_ms = (int64_t)cdx_jnd(job, "grace_ms", 5000);
	if (cdx_runner_ops()->start(w->runner, &spec, &err) < 0) {
		struct cdx_proc_result r;
		cJSON *rj;
		char *rs;
		memset(&r, 0, sizeof(r));
		r.end = CDX_PROC_SPAWNFAIL;
		r.exit_code = 127;
		r.start_ms = cdx_wall_ms();
		snprintf(r.error, sizeof(r.error), "%.200s", err.msg);
		cdx_logstream_flush(&sl->log, true, true);
		rj = cdx_pool_result_json(&r);
		rs = cJSON_PrintUnformatted(rj);
		hand_in(w, sl, "done", rs);
		free(rs);
		cJSON_Delete(rj);
		slot_clear(sl);
		w->busy--;
		beat(w);
	}
}

/* an attempt ended as R */
static void finished(struct worker *w, const struct cdx_proc_result *r)
{
	struct slot *sl = &w->slots[r->token];
	cJSON *rj;
	char *rs;
	cdx_logstream_flush(&sl->log, true, true);
	if (sl->handback) {
		char why[200];
		snprintf(why, sizeof(why), "worker %s stopped and handed the job back", w->name);
		hand_in(w, sl, "lost", why);
	} else {
		struct cdx_proc_result res = *r;
		const cJSON *outs = cJSON_GetObjectItem(sl->job, "outputs");
		if (r->end == CDX_PROC_EXITED && r->exit_code == 0 && cJSON_GetArraySize(outs) > 0 &&
		    !sl->lost) {
			/* its declared outputs go with the run, for the workers of
			 * the jobs that need them */
			char **globs = cdx_xcalloc((size_t)cJSON_GetArraySize(outs) + 1, sizeof(char *)),
			     id[300];
			size_t ng = 0;
			struct cdx_error err = {0};
			const cJSON *x;
			cJSON_ArrayForEach(x, outs) if (x->valuestring) globs[ng++] = x->valuestring;
			snprintf(id, sizeof(id), "%s%s", sl->jid, CDX_ARTIFACTS_OUTPUTS_SUFFIX);
			if (cdx_artifacts_put(w->s, sl->run, id, sl->attempt, w->dir, globs, ng, 0, 0, NULL,
					      &err) < 0) {
				res.exit_code = 1;
				snprintf(res.error, sizeof(res.error),
					 "its outputs could not be kept: %.200s", err.msg);
			} else {
				have_outputs(w, sl->run, sl->jid);
			}
			free(globs);
		}
		rj = cdx_pool_result_json(&res);
		if (sl->output_path) {
			char *buf = NULL;
			size_t len = 0;
			struct cdx_error oerr = {0};
			/* one byte past the limit: the owner says it is too big */
			if (cdx_read_file(sl->output_path, CDX_OUTPUTS_MAX_BYTES + 1, &buf, &len, &oerr) == 0 && len)
				cJSON_AddStringToObject(rj, "output", buf);
			free(buf);
		}
		rs = cJSON_PrintUnformatted(rj);
		hand_in(w, sl, "done", rs);
		free(rs);
		cJSON_Delete(rj);
	}
	slot_clear(sl);
	w->busy--;
	beat(w);
}

static void renew_all(struct worker *w)
{
	unsigned i;
	struct cdx_error err = {0};
	for (i = 0; i < w->cap_slots; i++) {
		struct slot *sl = &w->slots[i];
		long long rc = 1;
		if (!sl->used || sl->lost)
			continue;
		{
			const char *argv[5] = {sl->run, sl->jid, sl->fence_s, w->name, w->lease_s};
			if (cdx_redis_script(w->s, CDX_POOL_RENEW, 5, argv, &rc, &err) < 0)
				continue; /* Redis away: the lease may lapse; fencing decides */
		}
		if (rc == 0) {
			sl->lost = true;
			fprintf(w->o->out, "cdx worker %s: lost the lease of %s (run %s); stopping it\n",
				w->name, sl->jid, sl->run);
			fflush(w->o->out);
			cdx_runner_cancel_one(w->runner, i, false);
		} else if (rc >= 2) {
			cdx_runner_cancel_one(w->runner, i, rc == 3);
		}
	}
	w->next_renew_ns = cdx_now_ns() + RENEW_EVERY_MS * 1000000LL;
}

/* a message read from queue STREAM */
static void on_msg(void *ctx, size_t stream, const char *id, size_t nf, const char *const *names,
		   const char *const *vals, const size_t *lens)
{
	struct worker *w = ctx;
	size_t i;
	(void)lens;
	for (i = 0; i < nf; i++)
		if (strcmp(names[i], "j") == 0) {
			take(w, stream, id, vals[i]);
			return;
		}
	take(w, stream, id, "");
}

/* jobs read by a worker that died before it took them (no lease, still
 * pending long after the lease would have lapsed): claimed with
 * XAUTOCLAIM and taken here.  An entry whose job runs (its lease is held)
 * is left alone; one the owner took back is deleted, and not returned. */
static void autoclaim(struct worker *w, unsigned free_slots)
{
	size_t q;
	char idle[32], count[16];
	snprintf(idle, sizeof(idle), "%ld", 2 * cdx_pool_lease_ms());
	snprintf(count, sizeof(count), "%u", free_slots);
	for (q = 0; q < w->n_q && free_slots; q++) {
		const char *argv[8] = {"XAUTOCLAIM", w->qkeys[q], POOL_GROUP, w->name,
				       idle,         "0-0",       "COUNT",    count};
		struct cdx_error err = {0};
		cJSON *rep = NULL, *e;
		if (cdx_redis_call(w->s, 8, argv, &rep, &err) < 0)
			continue;
		cJSON_ArrayForEach(e, cJSON_GetArrayItem(rep, 1))
		{
			const cJSON *id = cJSON_GetArrayItem(e, 0), *kv = cJSON_GetArrayItem(e, 1);
			const char *js = NULL;
			cJSON *job, *lease = NULL;
			int i;
			for (i = 0; i + 1 < cJSON_GetArraySize(kv); i += 2)
				if (cJSON_GetArrayItem(kv, i)->valuestring &&
				    strcmp(cJSON_GetArrayItem(kv, i)->valuestring, "j") == 0)
					js = cJSON_GetArrayItem(kv, i + 1)->valuestring;
			if (!id || !id->valuestring || !js || !free_slots)
				continue;
			job = cJSON_Parse(js);
			if (job) {
				char *k = cdx_xasprintf("%spool:lease:%s:%s", w->prefix, cdx_js(job, "run"),
							cdx_js(job, "job"));
				const char *get[2] = {"GET", k};
				if (cdx_redis_call(w->s, 2, get, &lease, &err) == 0 && cJSON_IsNull(lease)) {
					fprintf(w->o->out,
						"cdx worker %s: claimed %s of run %s, read by a worker "
						"that stopped before it took it\n",
						w->name, cdx_js(job, "job"), cdx_js(job, "run"));
					fflush(w->o->out);
					take(w, q, id->valuestring, js);
					free_slots--;
				}
				cJSON_Delete(lease);
				free(k);
				cJSON_Delete(job);
			}
		}
		cJSON_Delete(rep);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the consumer group of every queue (again after a Redis that lost them) */
static int make_groups(struct worker *w, struct cdx_error *err)
{
	size_t q;
	for (q = 0; q < w->n_q; q++) {
		const char *argv[6] = {"XGROUP", "CREATE", w->qkeys[q], POOL_GROUP, "0", "MKSTREAM"};
		struct cdx_error e = {0};
		if (cdx_redis_call(w->s, 6, argv, NULL, &e) < 0 && !strstr(e.msg, "BUSYGROUP")) {
			*err = e;
			return -1;
		}
	}
	return 0;
}

static int setup(struct worker *w, struct cdx_error *err)
{
	const struct cdx_worker_opts *o = w->o;
	size_t i, mask, cap_tags = 0;
	char cwd[4096];
	if (cdx_pool_open(o->state, "cdx worker", &w->s, err) < 0)
		return -1;
	w->prefix = cdx_redis_prefix(w->s);
	gethostname(w->host, sizeof(w->host) - 1);
	if (o->name)
		snprintf(w->name, sizeof(w->name), "%s", o->name);
	else
		snprintf(w->name, sizeof(w->name), "%.100s:%ld", w->host, (long)getpid());
	for (i = 0; w->name[i]; i++) {
		char c = w->name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ':'))
			return cdx_error_set(err, CDX_EUSAGE,
					     "worker name '%s': use A-Z a-z 0-9 _ - . : only", w->name);
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return cdx_error_set(err, CDX_EUSAGE, "cannot read the current directory: %s",
				     strerror(errno));
	if (o->dir && o->dir[0] == '/')
		snprintf(w->dir, sizeof(w->dir), "%s", o->dir);
	else if (o->dir)
		snprintf(w->dir, sizeof(w->dir), "%.2000s/%.2000s", cwd, o->dir);
	else
		snprintf(w->dir, sizeof(w->dir), "%s", cwd);
	{
		struct stat st;
		if (stat(w->dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return cdx_error_set(err, CDX_EUSAGE, "--dir %s: not a directory", w->dir);
	}
	for (i = 0; o->tags && o->tags[i]; i++) {
		if (!cdx_name_valid(o->tags[i]))
			return cdx_error_set(err, CDX_EUSAGE, "tag '%s': use 1 to 64 of A-Z a-z 0-9 _ . -",
					     o->tags[i]);
		CDX_PUSH(w->tags, w->n_tags, cap_tags, cdx_xstrdup(o->tags[i]));
	}
	if (w->n_tags > POOL_MAX_TAGS)
		return cdx_error_set(err, CDX_EUSAGE, "at most %d tags a worker", POOL_MAX_TAGS);
	if (w->n_tags)
		qsort(w->tags, w->n_tags, sizeof(char *), cmp_str);
	/* one queue per subset of the tags: a job needing tags T is in queue T */
	w->n_q = (size_t)1 << w->n_tags;
	w->qkeys = cdx_xcalloc(w->n_q + 1, sizeof(char *));
	w->ids = cdx_xcalloc(w->n_q + 1, 64);
	for (mask = 0; mask < w->n_q; mask++) {
		struct cdx_buf b = {0};
		cdx_buf_adds(&b, "");
		for (i = 0; i < w->n_tags; i++)
			if (mask & ((size_t)1 << i))
				cdx_buf_printf(&b, "%s%s", b.len ? "," : "", w->tags[i]);
		w->qkeys[mask] = cdx_pool_qkey(w->prefix, b.data);
		snprintf(w->ids[mask], 64, ">");
		cdx_buf_free(&b);
	}
	if (make_groups(w, err) < 0)
		return -1;
	w->n_slots = o->slots ? o->slots : 1;
	/* COUNT of XREADGROUP bounds each queue: with several queues a read
	 * may bring more jobs than free slots, and each is taken (a job read
	 * is this worker's) */
	w->cap_slots = w->n_slots * (unsigned)w->n_q;
	w->slots = cdx_xcalloc(w->cap_slots, sizeof(*w->slots));
	snprintf(w->lease_s, sizeof(w->lease_s), "%ld", cdx_pool_lease_ms());
	return 0;
}

int cdx_pool_worker(const struct cdx_worker_opts *o, volatile sig_atomic_t *stop, struct cdx_error *err)
{
	struct worker w;
	int rc = 0;
	bool cancelled = false;
	size_t i;
	int64_t next_claim = 0;
	bool away = false; /* Redis is unreachable (said once) */
	memset(&w, 0, sizeof(w));
	w.o = o;
	if (setup(&w, err) < 0) {
		rc = -1;
		goto out;
	}
	w.runner = cdx_runner_new(on_output, &w);
	beat(&w);
	fprintf(o->out, "cdx worker %s ready: %u slot%s, tags [", w.name, w.n_slots,
		w.n_slots == 1 ? "" : "s");
	for (i = 0; i < w.n_tags; i++)
		fprintf(o->out, "%s%s", i ? "," : "", w.tags[i]);
	fprintf(o->out, "], dir %s\n", w.dir);
	fflush(o->out);
	for (;;) {
		struct cdx_proc_result r;
		unsigned free_slots = w.n_slots > w.busy ? w.n_slots - w.busy : 0;
		int64_t now;
		if (*stop >= 2 && !cancelled) {
			/* cancel what runs and hand it back to the pool */
			cancelled = true;
			for (i = 0; i < w.cap_slots; i++)
				if (w.slots[i].used)
					w.slots[i].handback = true;
			cdx_runner_ops()->cancel_all(w.runner, *stop >= 3);
		}
		if (*stop && !w.busy)
			break;
		if (free_slots && !*stop) {
			long got = cdx_redis_xread(w.s, POOL_GROUP, w.name, free_slots, w.n_q,
						   (const char *const *)w.qkeys, w.ids, w.busy ? 20 : 1000,
						   on_msg, &w, err);
			if (got == 0 && !w.busy && cdx_now_ns() >= next_claim) {
				autoclaim(&w, free_slots);
				next_claim = cdx_now_ns() + cdx_pool_lease_ms() * 1000000LL;
			}
			if (got < 0 && strstr(err->msg, "NOGROUP")) {
				struct cdx_error e2 = {0};
				if (make_groups(&w, &e2) == 0)
					continue; /* a Redis that lost its data: the groups again */
			}
			if (got < 0) {
				struct timespec ts = {0, 500000000};
				if (!away) /* once an outage */
					fprintf(o->out, "cdx worker %s: %s; trying again\n", w.name, err->msg);
				fflush(o->out);
				away = true;
				nanosleep(&ts, NULL);
			} else if (away) {
				fprintf(o->out, "cdx worker %s: redis is back\n", w.name);
				fflush(o->out);
				away = false;
			}
		}
		while (w.busy && cdx_runner_ops()->wait(w.runner, free_slots && !*stop ? 0 : 100, &r) > 0)
			finished(&w, &r);
		now = cdx_now_ns();
		for (i = 0; i < w.cap_slots; i++)
			if (w.slots[i].used)
				cdx_logstream_flush(&w.slots[i].log, false, false);
		if (w.busy && now >= w.next_renew_ns)
			renew_all(&w);
		if (now >= w.next_beat_ns)
			beat(&w);
	}
	rc = cancelled ? CDX_EINTR : 0;
	fprintf(o->out, "cdx worker %s: %s\n", w.name,
		cancelled ? "cancelled its jobs and stopped" : "drained, stopping");
	fflush(o->out);
out:
	if (w.s && w.prefix && w.name[0])
		unregister(&w);
	cdx_runner_free(w.runner);
	for (i = 0; i < w.cap_slots && w.slots; i++)
		slot_clear(&w.slots[i]);
	free(w.slots);
	for (i = 0; i < w.n_q; i++)
		free(w.qkeys[i]);
	free(w.qkeys);
	free(w.ids);
	for (i = 0; i < w.n_tags; i++)
		free(w.tags[i]);
	free(w.tags);
	cJSON_Delete(w.have);
	cdx_store_close(w.s);
	return rc;
}

#else

int cdx_pool_worker(const struct cdx_worker_opts *o, volatile sig_atomic_t *stop, struct cdx_error *err)
{
	struct cdx_store *s;
	(void)stop;
	return cdx_pool_open(o->state, "cdx worker", &s, err);
}

#endif
