/* runs.c — runs folded from the store's records (see runs.h).
 *
 * One fold serves every reader.  The records come in the store's order,
 * which need not put a run record first (the jobs of a make run record
 * themselves, in whatever order they end), so every record finds or
 * creates its run by id (struct run_acc) and nothing depends on the
 * order.  The fold keeps, per run, its run record, its last run_end, the
 * summary's extra fields in arrival order (jobs_STATUS counts, end_ms,
 * duration_ms) and, when asked, its jobs; the views then shape that into
 * summaries (cdx_runs_list), a run with its jobs in recorded order
 * (cdx_run_load) or full runs (cdx_runs_recent, cdx_runs_get).
 *
 * A run that has a run record but no run_end is "running" while its owner
 * process lives, else "interrupted": the owner died (kill -9, power loss)
 * before ending it.  The owner is identified by host, pid and the pid's
 * start time, so a reused pid does not keep a dead run "running" for ever.
 */
#include "state/runs.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/map.h"
#include "state/store.h"

/* one run being folded */
struct run_acc {
	char *id;     /* owned; also its key in the fold's index */
	cJSON *rec;   /* the run record without "t"; NULL until it comes */
	cJSON *end;   /* the last run_end record, or NULL */
	cJSON *extra; /* summary fields after status: jobs_STATUS counts,
			 end_ms, duration_ms, in the order their records came */
	cJSON *jobs;  /* job objects in order of first sight (keep_jobs) */
	size_t seq;   /* rank of its run record among the runs kept */
	bool skip;    /* filtered out: its records are ignored */
};

struct fold {
	const char *pipeline; /* keep runs of this pipeline only, or NULL */
	const char *only;     /* keep this run only, or NULL */
	bool keep_jobs;       /* fold job and attempt records into jobs */
	struct run_acc *runs; /* in order of first sight */
	size_t n_runs, cap_runs;
	struct cdx_map index; /* run id -> position in runs */
	size_t n_seq;         /* run records kept so far */
	struct cdx_map jobs;  /* "RUN\nJOB" -> position in jobv */
	char **jkeys;         /* owned keys of jobs */
	cJSON **jobv;         /* the job objects (owned by their runs) */
	size_t n_jobs, cap_jobs, n_jkeys, cap_jkeys;
};

static struct run_acc *acc_of(struct fold *f, const char *id)
{
	struct run_acc a = {0};
	size_t at;
	if (cdx_map_get(&f->index, id, &at))
		return &f->runs[at];
	a.id = cdx_xstrdup(id);
	a.extra = cJSON_CreateObject();
	if (f->keep_jobs)
		a.jobs = cJSON_CreateArray();
	CDX_PUSH(f->runs, f->n_runs, f->cap_runs, a);
	cdx_map_put(&f->index, a.id, f->n_runs - 1, NULL);
	return &f->runs[f->n_runs - 1];
}

static void acc_clear(struct run_acc *a)
{
	cJSON_Delete(a->rec);
	cJSON_Delete(a->end);
	cJSON_Delete(a->extra);
	cJSON_Delete(a->jobs);
	a->rec = a->end = a->extra = a->jobs = NULL;
}

static void fold_free(struct fold *f)
{
	size_t i;
	for (i = 0; i < f->n_runs; i++) {
		acc_clear(&f->runs[i]);
		free(f->runs[i].id);
	}
	free(f->runs);
	cdx_map_free(&f->index);
	cdx_map_free(&f->jobs);
	for (i = 0; i < f->n_jkeys; i++)
		free(f->jkeys[i]);
	free(f->jkeys);
	free(f->jobv);
}

/* the job ID of run A, created on first sight; a map, not a search, so
 * that a run of 100,000 jobs folds in linear time */
static cJSON *job_of(struct fold *f, struct run_acc *a, const char *id)
{
	char *key = cdx_xasprintf("%s\n%s", a->id, id);
	cJSON *j;
	size_t at;
	if (cdx_map_get(&f->jobs, key, &at)) {
		free(key);
		return f->jobv[at];
	}
	j = cJSON_CreateObject();
	CDX_PUSH(f->jkeys, f->n_jkeys, f->cap_jkeys, key);
	CDX_PUSH(f->jobv, f->n_jobs, f->cap_jobs, j);
	cdx_map_put(&f->jobs, key, f->n_jobs - 1, NULL);
	cJSON_AddStringToObject(j, "id", id);
	cJSON_AddStringToObject(j, "status", "running");
	cJSON_AddArrayToObject(j, "attempts");
	cJSON_AddItemToArray(a->jobs, j);
	return j;
}

/* set field K of O to V (owned), in place when O has it */
static void set(cJSON *o, const char *k, cJSON *v)
{
	if (cJSON_GetObjectItem(o, k))
		cJSON_ReplaceItemInObject(o, k, v);
	else
		cJSON_AddItemToObject(o, k, v);
}

static void count(cJSON *o, const char *field)
{
	cJSON *n = cJSON_GetObjectItem(o, field);
	if (n)
		cJSON_SetNumberValue(n, n->valuedouble + 1);
	else
		cJSON_AddNumberToObject(o, field, 1);
}

static void fold_run(struct fold *f, struct run_acc *a, const cJSON *rec)
{
	const char *pl = cdx_jsn(rec, "pipeline");
	if (a->rec || !pl)
		return; /* a run is recorded once; ignore repeats */
	if (f->pipeline && strcmp(pl, f->pipeline) != 0) {
		acc_clear(a);
		a->skip = true;
		return;
	}
	a->rec = cJSON_Duplicate(rec, 1);
	cJSON_DeleteItemFromObject(a->rec, "t");
	a->seq = f->n_seq++;
}

static void fold_end(struct run_acc *a, const cJSON *rec)
{
	cJSON_Delete(a->end);
	a->end = cJSON_Duplicate(rec, 1);
	/* NaN (written as null) when the run_end lacks them */
	cJSON_AddNumberToObject(a->extra, "end_ms", cdx_jnd(rec, "end_ms", NAN));
	cJSON_AddNumberToObject(a->extra, "duration_ms", cdx_jnd(rec, "duration_ms", NAN));
}

/* a job or an attempt record (IS_JOB: a job record) of run A */
static void fold_job(struct fold *f, struct run_acc *a, bool is_job, const cJSON *rec)
{
	const char *job = cdx_jsn(rec, "job"), *status = cdx_jsn(rec, "status");
	cJSON *j, *at;
	if (!job)
		return;
	if (is_job && status) {
		char field[48];
		snprintf(field, sizeof(field), "jobs_%s", status);
		count(a->extra, field);
	}
	if (!f->keep_jobs)
		return;
	j = job_of(f, a, job);
	if (is_job) {
		set(j, "status", cJSON_CreateString(cdx_js(rec, "status")));
		set(j, "duration_ms", cJSON_CreateNumber(cdx_jn(rec, "duration_ms")));
		if (cdx_jsn(rec, "why")) /* why it ran or not (when:, rules:) */
			set(j, "why", cJSON_CreateString(cdx_js(rec, "why")));
		else
			cJSON_DeleteItemFromObject(j, "why");
		if (cJSON_GetObjectItem(rec, "artifacts")) /* what of its artifacts was kept */
			set(j, "artifacts", cJSON_Duplicate(cJSON_GetObjectItem(rec, "artifacts"), 1));
		return;
	}
	at = cJSON_Duplicate(rec, 1);
	cJSON_DeleteItemFromObject(at, "t");
	cJSON_DeleteItemFromObject(at, "run");
	cJSON_DeleteItemFromObject(at, "pipeline");
	cJSON_DeleteItemFromObject(at, "job");
	cJSON_AddItemToArray(cJSON_GetObjectItem(j, "attempts"), at);
}

static int fold_one(void *ctx, const cJSON *rec)
{
	struct fold *f = ctx;
	const char *t = cdx_jsn(rec, "t"), *id;
	bool run, end, job;
	struct run_acc *a;
	if (!t)
		return 0;
	run = strcmp(t, "run") == 0;
	end = strcmp(t, "run_end") == 0;
	job = strcmp(t, "job") == 0;
	if (!run && !end && !job && strcmp(t, "attempt") != 0)
		return 0;
	id = cdx_jsn(rec, run || end ? "id" : "run");
	if (!id || (f->only && strcmp(id, f->only) != 0))
		return 0;
	a = acc_of(f, id);
	if (a->skip)
		return 0;
	if (run)
		fold_run(f, a, rec);
	else if (end)
		fold_end(a, rec);
	else
		fold_job(f, a, job, rec);
	return 0;
}

/* ---- views --------------------------------------------------------------- */

/* the status of run A: its run_end's, else running */
static const char *status_of(const struct run_acc *a)
{
	const char *st = a->end ? cdx_jsn(a->end, "status") : "running";
	return st ? st : "unknown";
}

/* a run that has not ended and whose owner is gone was interrupted */
static void settle(cJSON *run, bool ended)
{
	if (ended || strcmp(cdx_js(run, "status"), "running") != 0)
		return;
	if (!cdx_process_owner_alive(cdx_jsn(run, "host"), (int)cdx_jn(run, "pid"),
				     (long long)cdx_jnd(run, "pid_start", -1)))
		set(run, "status", cJSON_CreateString("interrupted"));
}

/* the summary of A (its run record taken over): the record, status and
 * the extra fields; with its jobs when the fold kept them */
static cJSON *summary(struct run_acc *a)
{
	cJSON *s = a->rec, *it;
	a->rec = NULL;
	cJSON_AddStringToObject(s, "status", status_of(a));
	for (it = a->extra->child; it; it = a->extra->child)
		cJSON_AddItemToObject(s, it->string, cJSON_DetachItemViaPointer(a->extra, it));
	settle(s, a->end != NULL);
	if (a->jobs) {
		cJSON_AddItemToObject(s, "jobs", a->jobs);
		a->jobs = NULL;
	}
	return s;
}

static int cmp_start(const void *a, const void *b)
{
	const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
	/* jobs that never started (skipped) go last */
	double sx =
	    cJSON_GetArraySize(cJSON_GetObjectItem(x, "attempts")) ? cdx_jn(x, "first_start_ms") : 1e300;
	double sy =
	    cJSON_GetArraySize(cJSON_GetObjectItem(y, "attempts")) ? cdx_jn(y, "first_start_ms") : 1e300;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(cdx_js(x, "id"), cdx_js(y, "id"));
}

static int cmp_attempt(const void *a, const void *b)
{
	double x = cdx_jn(*(cJSON *const *)a, "attempt"), y = cdx_jn(*(cJSON *const *)b, "attempt");
	return x < y ? -1 : x > y;
}

/* sort the N items of array ARR with CMP (cJSON arrays are lists) */
static void sort_array(cJSON *arr, int (*cmp)(const void *, const void *))
{
	int n = cJSON_GetArraySize(arr), i;
	cJSON **v = cdx_xcalloc((size_t)n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = cJSON_DetachItemFromArray(arr, 0);
	qsort(v, (size_t)n, sizeof(*v), cmp);
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, v[i]);
	free(v);
}

/* order a run's jobs by their first start, each job's attempts by number */
static void order_jobs(cJSON *jobs)
{
	cJSON *j, *at;
	cJSON_ArrayForEach(j, jobs)
	{
		double first = 0;
		int k = 0;
		sort_array(cJSON_GetObjectItem(j, "attempts"), cmp_attempt);
		cJSON_ArrayForEach(at, cJSON_GetObjectItem(j, "attempts"))
		{
			if (k++ == 0 || cdx_jn(at, "start_ms") < first)
				first = cdx_jn(at, "start_ms");
		}
		set(j, "first_start_ms", cJSON_CreateNumber(first));
	}
	sort_array(jobs, cmp_start);
	cJSON_ArrayForEach(j, jobs)
	{
		cJSON_DeleteItemFromObject(j, "first_start_ms");
	}
}

/* the full run of A (see runs.h); its jobs are taken over */
static cJSON *full(struct run_acc *a)
{
	cJSON *run = cJSON_CreateObject(), *it;
	cJSON_AddStringToObject(run, "id", a->id);
	cJSON_AddItemToObject(run, "jobs", a->jobs);
	a->jobs = NULL;
	for (it = a->rec->child; it; it = it->next)
		if (strcmp(it->string, "id") != 0)
			set(run, it->string, cJSON_Duplicate(it, 1));
	set(run, "status", cJSON_CreateString(status_of(a)));
	for (it = a->end ? a->end->child : NULL; it; it = it->next)
		if (cJSON_IsNumber(it) || strcmp(it->string, "driver") == 0)
			set(run, it->string, cJSON_Duplicate(it, 1));
	order_jobs(cJSON_GetObjectItem(run, "jobs"));
	settle(run, a->end != NULL);
	return run;
}

static int cmp_run(const void *a, const void *b)
{
	double x = cdx_jn(*(cJSON *const *)a, "start_ms"), y = cdx_jn(*(cJSON *const *)b, "start_ms");
	if (x != y)
		return x < y ? -1 : 1;
	return strcmp(cdx_js(*(cJSON *const *)a, "id"), cdx_js(*(cJSON *const *)b, "id"));
}

/* fold the last N runs of PIPELINE in S, or run ONLY of all of S, into
 * full runs ordered by start; NULL with ERR set when S cannot be read */
static cJSON *load_full(struct cdx_store *s, const char *pipeline, size_t n, const char *only,
			struct cdx_error *err)
{
	struct fold f = {.only = only, .keep_jobs = true};
	cJSON *out = NULL;
	size_t i;
	int rc = only ? s->ops->scan(s, fold_one, &f, err)
		      : cdx_store_scan_runs(s, pipeline, n, fold_one, &f, err);
	if (rc >= 0) {
		out = cJSON_CreateArray();
		for (i = 0; i < f.n_runs; i++)
			if (f.runs[i].rec) /* no run record: not a run we can describe */
				cJSON_AddItemToArray(out, full(&f.runs[i]));
		sort_array(out, cmp_run);
	}
	fold_free(&f);
	return out;
}

cJSON *cdx_runs_recent(struct cdx_store *s, const char *pipeline, size_t n, struct cdx_error *err)
{
	return load_full(s, pipeline, n, NULL, err);
}

cJSON *cdx_runs_get(struct cdx_store *s, const char *run_id, struct cdx_error *err)
{
	cJSON *runs = load_full(s, NULL, 0, run_id, err), *r;
	if (!runs)
		return NULL;
	r = cJSON_DetachItemFromArray(runs, 0);
	cJSON_Delete(runs);
	if (!r)
		cdx_error_set(err, CDX_EUSAGE, "no run %s in %s", run_id, s->url);
	return r;
}

static int cmp_seq_desc(const void *a, const void *b)
{
	const struct run_acc *x = *(struct run_acc *const *)a, *y = *(struct run_acc *const *)b;
	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

cJSON *cdx_runs_list(const char *state, const char *pipeline, size_t limit, struct cdx_error *err)
{
	struct cdx_store *s;
	struct fold f = {.pipeline = pipeline};
	struct run_acc **v;
	cJSON *out = NULL;
	size_t i, k = 0;
	enum cdx_open_result rc = cdx_store_open_read(state, &s, err);
	if (rc != CDX_OPEN_OK)
		return rc == CDX_OPEN_ERROR ? NULL : cJSON_CreateArray();
	/* the last LIMIT runs (of one pipeline, or of all): the backend's own
	 * query (Redis: its runs indexes, not the whole history; cdx serve's
	 * runs), else every record */
	if ((limit ? cdx_store_scan_runs(s, pipeline, limit, fold_one, &f, err)
			       : s->ops->scan(s, fold_one, &f, err)) < 0)
		goto out;
	/* newest first: run records are in time order */
	v = cdx_xcalloc(f.n_runs + 1, sizeof(*v));
	for (i = 0; i < f.n_runs; i++)
		if (f.runs[i].rec)
			v[k++] = &f.runs[i];
	qsort(v, k, sizeof(*v), cmp_seq_desc);
	out = cJSON_CreateArray();
	for (i = 0; i < k && (!limit || i < limit); i++)
		cJSON_AddItemToArray(out, summary(v[i]));
	free(v);
out:
	fold_free(&f);
	cdx_store_close(s);
	return out;
}

cJSON *cdx_run_load(const char *state, const char *run_id, struct cdx_error *err)
{
	struct cdx_store *s;
	struct fold f = {.only = run_id, .keep_jobs = true};
	cJSON *run = NULL;
	enum cdx_open_result rc;
	if (!cdx_name_valid(run_id)) {
		cdx_error_set(err, CDX_EUSAGE, "'%s' is not a run id", run_id);
		return NULL;
	}
	rc = cdx_store_open_read(state, &s, err);
	if (rc == CDX_OPEN_ERROR)
		return NULL;
	if (rc == CDX_OPEN_NONE) {
		cdx_error_set(err, CDX_EUSAGE, "no run %s: nothing is recorded in %s", run_id,
			      state ? state : "file:.cdx");
		return NULL;
	}
	if (s->ops->scan(s, fold_one, &f, err) < 0)
		goto out;
	if (f.n_runs && f.runs[0].rec)
		run = summary(&f.runs[0]);
	else
		cdx_error_set(err, CDX_EUSAGE, "no run %s in %s", run_id, s->url);
out:
	fold_free(&f);
	cdx_store_close(s);
	return run;
}

bool cdx_runs_finished(const cJSON *run)
{
	const char *st = cdx_js(run, "status");
	return strcmp(st, "success") == 0 || strcmp(st, "failed") == 0 || strcmp(st, "timeout") == 0 ||
	       strcmp(st, "interrupted") == 0;
}

bool cdx_runs_ok(const cJSON *run)
{
	return strcmp(cdx_js(run, "status"), "success") == 0;
}

/* ---- for readers of runs: quantiles and log tails ------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double cdx_quantile(double *v, size_t n, double q)
{
	double pos;
	size_t lo;
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(double), cmp_double);
	pos = q * (double)(n - 1);
	lo = (size_t)pos;
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + (v[lo + 1] - v[lo]) * (pos - (double)lo);
}

/* the state whose shared logs cdx_log_tail reads when a log file is not
 * here (cdx_log_tail_state) */
static char *tail_state;

void cdx_log_tail_state(const char *state)
{
	free(tail_state);
	tail_state = state ? cdx_xstrdup(state) : NULL;
}

static void tail_add(void *ctx, const char *data, size_t len)
{
	cdx_buf_add(ctx, data, len);
}

/* the shared copy of the log at PATH (LOG_DIR/RUN/STAGE/JOB.N.log) in the
 * store of cdx_log_tail_state: its last MAX_BYTES bytes in *OUT (*FROM:
 * bytes before them); -1 when there is none */
static int shared_tail(const char *path, size_t max_bytes, char **out, ssize_t *got, off_t *from)
{
	const char *base = strrchr(path, '/'), *p;
	char run[128], stage[128], job[128], key[512];
	const char *dot, *stage_start, *run_start;
	int attempt, rc = -1, r;
	struct cdx_store *s = NULL;
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	bool ended, truncated;
	if (!tail_state || !base || base == path)
		return -1;
	/* JOB.N.log */
	dot = base + strlen(base) - 4;
	if (dot <= base || strcmp(dot, ".log") != 0)
		return -1;
	for (p = dot - 1; p > base && *p != '.'; p--)
		;
	if (p <= base + 1)
		return -1;
	attempt = atoi(p + 1);
	snprintf(job, sizeof(job), "%.*s", (int)(p - base - 1), base + 1);
	for (stage_start = base - 1; stage_start > path && *stage_start != '/'; stage_start--)
		;
	if (stage_start <= path)
		return -1;
	snprintf(stage, sizeof(stage), "%.*s", (int)(base - stage_start - 1), stage_start + 1);
	for (run_start = stage_start - 1; run_start > path && *run_start != '/'; run_start--)
		;
	snprintf(run, sizeof(run), "%.*s", (int)(stage_start - run_start - 1), run_start + 1);
	{
		char id[300];
		snprintf(id, sizeof(id), "%s/%s", stage, job);
		cdx_log_key(key, sizeof(key), run, id, attempt);
	}
	if (cdx_store_open_read(tail_state, &s, &err) != CDX_OPEN_OK || !s)
		return -1;
	if (s->ops->log_read) {
		r = s->ops->log_read(s, key, false, tail_add, &b, &ended, &truncated, &err);
		if (r > 0) {
			size_t keep = b.len > max_bytes ? max_bytes : b.len;
			*out = cdx_xmalloc(max_bytes + 1);
			memcpy(*out, b.data + (b.len - keep), keep);
			*got = (ssize_t)keep;
			*from = (off_t)(b.len - keep);
			rc = 0;
		}
	}
	cdx_buf_free(&b);
	cdx_store_close(s);
	return rc;
}

char *cdx_log_tail(const char *path, size_t max_bytes, size_t max_lines)
{
	int fd;
	off_t size, from;
	char *buf, *p;
	ssize_t got;
	size_t n, lines = 0, i;
	if (!path || !*path)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* not on this machine: the store's shared copy (a Redis stream) */
		if (shared_tail(path, max_bytes, &buf, &got, &from) < 0)
			return NULL;
		goto have;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 0) {
		close(fd);
		return NULL;
	}
	from = size > (off_t)max_bytes ? size - (off_t)max_bytes : 0;
	buf = cdx_xmalloc(max_bytes + 1);
	got = pread(fd, buf, (size_t)(size - from), from);
	close(fd);
	if (got < 0) {
		free(buf);
		return NULL;
	}
have:
	n = (size_t)got;
	buf[n] = '\0';
	/* the last MAX_LINES lines: walk back over newlines (a final one
	 * ends the last line, it does not start another) */
	p = buf;
	for (i = n; i > 0; i--) {
		if (buf[i - 1] == '\n' && i != n && ++lines >= max_lines) {
			p = buf + i;
			break;
		}
	}
	/* a cut in the middle of a line or a UTF-8 sequence: start clean */
	if (p == buf && from > 0) {
		char *nl = memchr(buf, '\n', n);
		if (nl && nl + 1 < buf + n)
			p = nl + 1;
	}
	n -= (size_t)(p - buf);
	memmove(buf, p, n + 1);
	for (;;) {
		size_t bad = cdx_utf8_check(buf, n);
		if (!bad)
			break;
		buf[bad - 1] = '?';
	}
	for (i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = '?';
	return buf;
}
