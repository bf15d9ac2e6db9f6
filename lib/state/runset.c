/* runset.c — the recent runs of one pipeline, folded from records (see
 * runset.h).
 *
 * The records come from cdx_store_scan_runs, in the backend's order, which
 * need not put a run record first (the jobs of a make run record
 * themselves): every record finds or creates its run by id, so the fold
 * does not depend on the order.  A run that has no run_end is "running"
 * while its owner process lives, else "interrupted", as in history.c.
 */
#include "state/runset.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/history.h"
#include "base/map.h"

const char *cdx_js(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
	return s ? s : "";
}

double cdx_jn(const cJSON *o, const char *k)
{
	const cJSON *n = cJSON_GetObjectItem(o, k);
	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

struct fold {
	const char *only;     /* keep this run only, or NULL */
	cJSON *runs;          /* array, in order of first sight */
	struct cdx_map index; /* id -> position */
	char **ids;           /* owned keys of index */
	size_t n_ids, cap_ids;
	struct cdx_map jobs;  /* "RUN\nJOB" -> position in jobv */
	char **jkeys;         /* owned keys of jobs */
	cJSON **jobv;         /* the job objects (owned by their runs) */
	size_t n_jobs, cap_jobs, n_jkeys, cap_jkeys;
};

static cJSON *run_of(struct fold *f, const char *id)
{
	size_t at;
	cJSON *r;
	char *own;
	if (cdx_map_get(&f->index, id, &at))
		return cJSON_GetArrayItem(f->runs, (int)at);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddArrayToObject(r, "jobs");
	cJSON_AddItemToArray(f->runs, r);
	own = cdx_xstrdup(id);
	CDX_PUSH(f->ids, f->n_ids, f->cap_ids, own);
	cdx_map_put(&f->index, own, (size_t)cJSON_GetArraySize(f->runs) - 1, NULL);
	return r;
}

/* the job ID of RUN (whose id is RUN_ID), created on first sight; a map,
 * not a search, so that a run of 100,000 jobs folds in linear time */
static cJSON *job_of(struct fold *f, cJSON *run, const char *run_id, const char *id)
{
	cJSON *jobs = cJSON_GetObjectItem(run, "jobs"), *j;
	char *key = cdx_xasprintf("%s\n%s", run_id, id);
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
	cJSON_AddItemToArray(jobs, j);
	return j;
}

static void set(cJSON *o, const char *k, cJSON *v)
{
	if (cJSON_GetObjectItem(o, k))
		cJSON_ReplaceItemInObject(o, k, v);
	else
		cJSON_AddItemToObject(o, k, v);
}

static int fold_one(void *ctx, const cJSON *rec)
{
	struct fold *f = ctx;
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "t"));
	const char *id;
	cJSON *run, *it;
	if (!t)
		return 0;
	if (f->only) {
		id = cJSON_GetStringValue(cJSON_GetObjectItem(rec, strcmp(t, "run") == 0 || strcmp(t, "run_end") == 0
									   ? "id" : "run"));
		if (!id || strcmp(id, f->only) != 0)
			return 0;
	}
	if (strcmp(t, "run") == 0) {
		id = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "id"));
		if (!id)
			return 0;
		run = run_of(f, id);
		if (cJSON_GetObjectItem(run, "pipeline"))
			return 0; /* recorded once; ignore repeats */
		for (it = rec->child; it; it = it->next)
			if (strcmp(it->string, "t") != 0 && strcmp(it->string, "id") != 0)
				set(run, it->string, cJSON_Duplicate(it, 1));
		if (!cJSON_GetObjectItem(run, "status"))
			cJSON_AddStringToObject(run, "status", "running");
		return 0;
	}
	if (strcmp(t, "run_end") == 0) {
		id = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "id"));
		if (!id)
			return 0;
		run = run_of(f, id);
		set(run, "status", cJSON_CreateString(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status"))
							      ?: "unknown"));
		set(run, "ended", cJSON_CreateTrue());
		for (it = rec->child; it; it = it->next)
			if (cJSON_IsNumber(it) || strcmp(it->string, "driver") == 0)
				set(run, it->string, cJSON_Duplicate(it, 1));
		return 0;
	}
	if (strcmp(t, "job") == 0 || strcmp(t, "attempt") == 0) {
		const char *job = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "job"));
		cJSON *j, *a;
		id = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "run"));
		if (!id || !job)
			return 0;
		run = run_of(f, id);
		j = job_of(f, run, id, job);
		if (strcmp(t, "job") == 0) {
			set(j, "status", cJSON_CreateString(cdx_js(rec, "status")));
			set(j, "duration_ms", cJSON_CreateNumber(cdx_jn(rec, "duration_ms")));
			return 0;
		}
		a = cJSON_Duplicate(rec, 1);
		cJSON_DeleteItemFromObject(a, "t");
		cJSON_DeleteItemFromObject(a, "run");
		cJSON_DeleteItemFromObject(a, "pipeline");
		cJSON_DeleteItemFromObject(a, "job");
		cJSON_AddItemToArray(cJSON_GetObjectItem(j, "attempts"), a);
	}
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
	/* jobs that never started (skipped) go last */
	double sx = cJSON_GetArraySize(cJSON_GetObjectItem(x, "attempts")) ? cdx_jn(x, "first_start_ms") : 1e300;
	double sy = cJSON_GetArraySize(cJSON_GetObjectItem(y, "attempts")) ? cdx_jn(y, "first_start_ms") : 1e300;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(cdx_js(x, "id"), cdx_js(y, "id"));
}

static int cmp_attempt(const void *a, const void *b)
{
	double x = cdx_jn(*(cJSON *const *)a, "attempt"), y = cdx_jn(*(cJSON *const *)b, "attempt");
	return x < y ? -1 : x > y;
}

/* order a run's jobs by their first start, each job's attempts by number,
 * and settle the status of a run that has not ended */
static void finish_run(cJSON *run)
{
	cJSON *jobs = cJSON_GetObjectItem(run, "jobs"), *j, **v;
	int n = cJSON_GetArraySize(jobs), i;
	cJSON_ArrayForEach(j, jobs)
	{
		cJSON *as = cJSON_GetObjectItem(j, "attempts"), *a, **av;
		int na = cJSON_GetArraySize(as), k;
		double first = 0;
		av = cdx_xcalloc((size_t)na + 1, sizeof(*av));
		for (k = 0; k < na; k++)
			av[k] = cJSON_DetachItemFromArray(as, 0);
		qsort(av, (size_t)na, sizeof(*av), cmp_attempt);
		for (k = 0; k < na; k++) {
			a = av[k];
			if (k == 0 || cdx_jn(a, "start_ms") < first)
				first = cdx_jn(a, "start_ms");
			cJSON_AddItemToArray(as, a);
		}
		free(av);
		set(j, "first_start_ms", cJSON_CreateNumber(first));
	}
	v = cdx_xcalloc((size_t)n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = cJSON_DetachItemFromArray(jobs, 0);
	qsort(v, (size_t)n, sizeof(*v), cmp_start);
	for (i = 0; i < n; i++) {
		cJSON_DeleteItemFromObject(v[i], "first_start_ms");
		cJSON_AddItemToArray(jobs, v[i]);
	}
	free(v);
	if (strcmp(cdx_js(run, "status"), "running") == 0 && !cJSON_GetObjectItem(run, "ended")) {
		const cJSON *pid = cJSON_GetObjectItem(run, "pid"), *st = cJSON_GetObjectItem(run, "pid_start");
		if (!cdx_history_owner_alive(cdx_js(run, "host"), cJSON_IsNumber(pid) ? pid->valueint : 0,
					     cJSON_IsNumber(st) ? (long long)st->valuedouble : -1))
			set(run, "status", cJSON_CreateString("interrupted"));
	}
	cJSON_DeleteItemFromObject(run, "ended");
}

static int cmp_run(const void *a, const void *b)
{
	double x = cdx_jn(*(cJSON *const *)a, "start_ms"), y = cdx_jn(*(cJSON *const *)b, "start_ms");
	if (x != y)
		return x < y ? -1 : 1;
	return strcmp(cdx_js(*(cJSON *const *)a, "id"), cdx_js(*(cJSON *const *)b, "id"));
}

static cJSON *load(struct cdx_store *s, const char *pipeline, size_t n, const char *only, struct cdx_error *err)
{
	struct fold f;
	cJSON *out = NULL, **v;
	size_t i, k = 0, m;
	int rc;
	memset(&f, 0, sizeof(f));
	f.only = only;
	f.runs = cJSON_CreateArray();
	rc = only ? s->ops->scan(s, fold_one, &f, err) : cdx_store_scan_runs(s, pipeline, n, fold_one, &f, err);
	if (rc < 0)
		goto done;
	m = (size_t)cJSON_GetArraySize(f.runs);
	v = cdx_xcalloc(m + 1, sizeof(*v));
	for (i = 0; i < m; i++) {
		cJSON *r = cJSON_DetachItemFromArray(f.runs, 0);
		if (!cJSON_GetObjectItem(r, "pipeline")) {
			cJSON_Delete(r); /* no run record: not a run we can describe */
			continue;
		}
		finish_run(r);
		v[k++] = r;
	}
	qsort(v, k, sizeof(*v), cmp_run);
	out = cJSON_CreateArray();
	for (i = 0; i < k; i++)
		cJSON_AddItemToArray(out, v[i]);
	free(v);
done:
	cJSON_Delete(f.runs);
	cdx_map_free(&f.index);
	for (i = 0; i < f.n_ids; i++)
		free(f.ids[i]);
	free(f.ids);
	cdx_map_free(&f.jobs);
	for (i = 0; i < f.n_jkeys; i++)
		free(f.jkeys[i]);
	free(f.jkeys);
	free(f.jobv);
	return out;
}

cJSON *cdx_runset_load(struct cdx_store *s, const char *pipeline, size_t n, struct cdx_error *err)
{
	return load(s, pipeline, n, NULL, err);
}

cJSON *cdx_runset_load_one(struct cdx_store *s, const char *run_id, struct cdx_error *err)
{
	cJSON *runs = load(s, NULL, 0, run_id, err), *r;
	if (!runs)
		return NULL;
	r = cJSON_DetachItemFromArray(runs, 0);
	cJSON_Delete(runs);
	if (!r)
		cdx_error_set(err, CDX_EUSAGE, "no run %s in %s", run_id, s->url);
	return r;
}

bool cdx_runset_finished(const cJSON *run)
{
	const char *st = cdx_js(run, "status");
	return strcmp(st, "success") == 0 || strcmp(st, "failed") == 0 || strcmp(st, "timeout") == 0 ||
	       strcmp(st, "interrupted") == 0;
}

bool cdx_runset_ok(const cJSON *run)
{
	return strcmp(cdx_js(run, "status"), "success") == 0;
}

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
	if (fd < 0)
		return NULL;
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
