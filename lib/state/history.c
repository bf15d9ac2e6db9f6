/* history.c — queries over recorded runs (see history.h and cdx.h).
 *
 * The store is a sequence of records, so every query is one scan that
 * folds records into per-run summaries.  A run that has a "run" record but
 * no "run_end" is running if its owner process is alive, else
 * "interrupted": the owner died (kill -9, power loss) before ending it.
 * The owner is identified by host, pid and the pid's start time, so a
 * reused pid does not keep a dead run "running" forever.
 */
#include "state/history.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/map.h"

struct weights_ctx {
	const struct cdx_pipeline *p;
	struct cdx_map ids;            /* job id -> index */
	double (*samples)[CDX_HISTORY_SAMPLES];
	unsigned *count;               /* samples seen per job (ring position) */
};

static int weights_one(void *ctx, const cJSON *rec)
{
	struct weights_ctx *c = ctx;
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "t"));
	const char *pl, *status, *job;
	size_t idx;
	if (!t || strcmp(t, "attempt") != 0)
		return 0;
	pl = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "pipeline"));
	status = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status"));
	job = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "job"));
	if (!pl || !status || !job || strcmp(pl, c->p->name) != 0 || strcmp(status, "success") != 0)
		return 0;
	if (!cdx_map_get(&c->ids, job, &idx))
		return 0;
	c->samples[idx][c->count[idx]++ % CDX_HISTORY_SAMPLES] =
		cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "wall_ms"));
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void cdx_history_weights(struct cdx_store *s, const struct cdx_pipeline *p, double *w)
{
	struct weights_ctx c;
	struct cdx_error err = {0};
	size_t i;
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.samples = cdx_xcalloc(p->n_jobs + 1, sizeof(*c.samples));
	c.count = cdx_xcalloc(p->n_jobs + 1, sizeof(unsigned));
	for (i = 0; i < p->n_jobs; i++)
		cdx_map_put(&c.ids, p->jobs[i].id, i, NULL);
	/* a store that answers for one pipeline (Redis) is asked for its
	 * recent runs only, not for all of history */
	if ((s->ops->scan_runs ? s->ops->scan_runs(s, p->name, CDX_HISTORY_RUNS, weights_one, &c, &err)
			       : s->ops->scan(s, weights_one, &c, &err)) == 0) {
		for (i = 0; i < p->n_jobs; i++) {
			unsigned n = c.count[i] < CDX_HISTORY_SAMPLES ? c.count[i] : CDX_HISTORY_SAMPLES;
			if (!n)
				continue;
			qsort(c.samples[i], n, sizeof(double), cmp_double);
			w[i] = n % 2 ? c.samples[i][n / 2] : (c.samples[i][n / 2 - 1] + c.samples[i][n / 2]) / 2;
		}
	}
	cdx_map_free(&c.ids);
	free(c.samples);
	free(c.count);
}

bool cdx_history_owner_alive(const char *host, int pid, long long pid_start)
{
	char me[256];
	if (gethostname(me, sizeof(me)) < 0)
		return true;
	me[sizeof(me) - 1] = '\0';
	if (!host || strcmp(host, me) != 0)
		return true;
	if (!cdx_process_alive(pid))
		return false;
	return pid_start < 0 || cdx_process_start_time(pid) == pid_start;
}

/* ---- run summaries ------------------------------------------------------- */

struct runs_ctx {
	const char *pipeline;  /* filter, or NULL */
	const char *only_id;   /* cdx_run_load: this run only */
	cJSON *runs;           /* array of summaries, file order */
	struct cdx_map index;  /* run id -> position in runs, CDX_NONE: filtered out */
	char **filtered;       /* owned ids of runs filtered out (keys of index) */
	size_t n_filtered, cap_filtered;
	cJSON *early;          /* run id -> records that came before its run record */
	cJSON *jobs;           /* cdx_run_load: job records of only_id, by job id */
};

static int runs_one(void *ctx, const cJSON *rec);

static cJSON *summary_of(struct runs_ctx *c, const char *id)
{
	size_t at;
	if (!id || !cdx_map_get(&c->index, id, &at) || at == CDX_NONE)
		return NULL;
	return cJSON_GetArrayItem(c->runs, (int)at);
}

/* a record of run ID arrived before the run's own record (the jobs of a
 * make-driven run record themselves, in whatever order they end): keep
 * it until the run record comes, unless the run is known */
static bool stash_early(struct runs_ctx *c, const char *id, const cJSON *rec)
{
	cJSON *list;
	if (!id || cdx_map_get(&c->index, id, NULL))
		return false;
	if (!c->early)
		c->early = cJSON_CreateObject();
	list = cJSON_GetObjectItemCaseSensitive(c->early, id);
	if (!list)
		list = cJSON_AddArrayToObject(c->early, id);
	cJSON_AddItemToArray(list, cJSON_Duplicate(rec, 1));
	return true;
}

/* the run record of ID arrived: replay what came before it */
static void replay_early(struct runs_ctx *c, const char *id)
{
	cJSON *list = c->early ? cJSON_DetachItemFromObjectCaseSensitive(c->early, id) : NULL, *r;
	cJSON_ArrayForEach(r, list)
		runs_one(c, r);
	cJSON_Delete(list);
}

static void count(cJSON *sum, const char *field)
{
	cJSON *n = cJSON_GetObjectItem(sum, field);
	if (n)
		cJSON_SetNumberValue(n, n->valuedouble + 1);
	else
		cJSON_AddNumberToObject(sum, field, 1);
}

static int runs_one(void *ctx, const cJSON *rec)
{
	struct runs_ctx *c = ctx;
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "t"));
	cJSON *sum;
	if (!t)
		return 0;
	if (strcmp(t, "run") == 0) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "id"));
		const char *pl = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "pipeline"));
		if (!id || !pl || summary_of(c, id))
			return 0; /* a run is recorded once; ignore repeats */
		if ((c->pipeline && strcmp(pl, c->pipeline) != 0) || (c->only_id && strcmp(id, c->only_id) != 0)) {
			if (!cdx_map_get(&c->index, id, NULL)) {
				char *own = cdx_xstrdup(id);
				CDX_PUSH(c->filtered, c->n_filtered, c->cap_filtered, own);
				cdx_map_put(&c->index, own, CDX_NONE, NULL);
			}
			if (c->early)
				cJSON_DeleteItemFromObjectCaseSensitive(c->early, id);
			return 0;
		}
		sum = cJSON_Duplicate(rec, 1);
		cJSON_DeleteItemFromObject(sum, "t");
		cJSON_AddStringToObject(sum, "status", "running");
		cJSON_AddItemToArray(c->runs, sum);
		cdx_map_put(&c->index, cJSON_GetStringValue(cJSON_GetObjectItem(sum, "id")),
			    (size_t)cJSON_GetArraySize(c->runs) - 1, NULL);
		replay_early(c, id);
		return 0;
	}
	if (strcmp(t, "run_end") == 0) {
		const char *rid = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "id"));
		sum = summary_of(c, rid);
		if (!sum) {
			stash_early(c, rid, rec);
			return 0;
		}
		cJSON_ReplaceItemInObject(sum, "status",
					  cJSON_CreateString(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status"))
								     ?: "unknown"));
		cJSON_AddNumberToObject(sum, "end_ms", cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "end_ms")));
		cJSON_AddNumberToObject(sum, "duration_ms",
					cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "duration_ms")));
		return 0;
	}
	if (strcmp(t, "job") == 0 || strcmp(t, "attempt") == 0) {
		const char *run = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "run"));
		const char *job = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "job"));
		const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status"));
		sum = summary_of(c, run);
		if (!sum) {
			stash_early(c, run, rec);
			return 0;
		}
		if (!job || !status)
			return 0;
		if (strcmp(t, "job") == 0) {
			char field[48];
			snprintf(field, sizeof(field), "jobs_%s", status);
			count(sum, field);
		}
		if (c->jobs) {
			cJSON *j = cJSON_GetObjectItem(c->jobs, job);
			if (!j) {
				j = cJSON_AddObjectToObject(c->jobs, job);
				cJSON_AddStringToObject(j, "id", job);
				cJSON_AddStringToObject(j, "status", "running");
				cJSON_AddArrayToObject(j, "attempts");
			}
			if (strcmp(t, "job") == 0) {
				cJSON_ReplaceItemInObject(j, "status", cJSON_CreateString(status));
				cJSON_AddNumberToObject(j, "duration_ms",
							cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "duration_ms")));
			} else {
				cJSON *a = cJSON_Duplicate(rec, 1);
				cJSON_DeleteItemFromObject(a, "t");
				cJSON_DeleteItemFromObject(a, "run");
				cJSON_DeleteItemFromObject(a, "pipeline");
				cJSON_DeleteItemFromObject(a, "job");
				cJSON_AddItemToArray(cJSON_GetObjectItem(j, "attempts"), a);
			}
		}
	}
	return 0;
}

static void mark_interrupted(cJSON *runs)
{
	cJSON *r;
	cJSON_ArrayForEach(r, runs)
	{
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(r, "status"));
		if (!st || strcmp(st, "running") != 0)
			continue;
		const cJSON *pid = cJSON_GetObjectItem(r, "pid"), *start = cJSON_GetObjectItem(r, "pid_start");
		if (!cdx_history_owner_alive(cJSON_GetStringValue(cJSON_GetObjectItem(r, "host")),
					     cJSON_IsNumber(pid) ? pid->valueint : 0,
					     cJSON_IsNumber(start) ? (long long)start->valuedouble : -1))
			cJSON_ReplaceItemInObject(r, "status", cJSON_CreateString("interrupted"));
	}
}

/* open STATE for reading: a file store that does not exist yet is empty
 * (1 with *S NULL), and reading never creates one */
static void runs_ctx_free(struct runs_ctx *c)
{
	size_t i;
	cdx_map_free(&c->index);
	for (i = 0; i < c->n_filtered; i++)
		free(c->filtered[i]);
	free(c->filtered);
	cJSON_Delete(c->early);
}

static int open_store(const char *state, struct cdx_store **s, struct cdx_error *err)
{
	struct stat st;
	*s = NULL;
	if (!state)
		state = "file:.cdx";
	if (!strstr(state, "://")) {
		const char *dir = strncmp(state, "file:", 5) == 0 ? state + 5 : state;
		if (stat(dir, &st) < 0 && errno == ENOENT)
			return 1;
	}
	return cdx_store_open(state, s, err);
}

void cdx_history_weights_at(const char *state, const struct cdx_pipeline *p, double *w)
{
	struct cdx_store *s;
	struct cdx_error err = {0};
	if (open_store(state, &s, &err) != 0)
		return;
	cdx_history_weights(s, p, w);
	cdx_store_close(s);
}

int cdx_history_scan_at(const char *state, cdx_store_fn fn, void *ctx, struct cdx_error *err)
{
	struct cdx_store *s;
	int rc = open_store(state, &s, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	rc = s->ops->scan(s, fn, ctx, err);
	cdx_store_close(s);
	return rc < 0 ? -1 : 0;
}

cJSON *cdx_runs_list(const char *state, const char *pipeline, size_t limit, struct cdx_error *err)
{
	struct cdx_store *s;
	struct runs_ctx c;
	cJSON *out;
	int n, i, rc = open_store(state, &s, err);
	if (rc < 0)
		return NULL;
	if (rc > 0)
		return cJSON_CreateArray();
	memset(&c, 0, sizeof(c));
	c.pipeline = pipeline;
	c.runs = cJSON_CreateArray();
	if (s->ops->scan(s, runs_one, &c, err) < 0) {
		runs_ctx_free(&c);
		cJSON_Delete(c.runs);
		cdx_store_close(s);
		return NULL;
	}
	runs_ctx_free(&c);
	cdx_store_close(s);
	mark_interrupted(c.runs);
	/* newest first: records are in time order, so reverse */
	out = cJSON_CreateArray();
	n = cJSON_GetArraySize(c.runs);
	for (i = n - 1; i >= 0 && (!limit || (size_t)cJSON_GetArraySize(out) < limit); i--)
		cJSON_AddItemToArray(out, cJSON_DetachItemFromArray(c.runs, i));
	cJSON_Delete(c.runs);
	return out;
}

cJSON *cdx_run_load(const char *state, const char *run_id, struct cdx_error *err)
{
	struct cdx_store *s;
	struct runs_ctx c;
	cJSON *run, *jobs, *j;
	if (!cdx_name_valid(run_id)) {
		cdx_error_set(err, CDX_EUSAGE, "'%s' is not a run id", run_id);
		return NULL;
	}
	int rc = open_store(state, &s, err);
	if (rc < 0)
		return NULL;
	if (rc > 0) {
		cdx_error_set(err, CDX_EUSAGE, "no run %s: nothing is recorded in %s", run_id,
			      state ? state : "file:.cdx");
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	c.only_id = run_id;
	c.runs = cJSON_CreateArray();
	c.jobs = cJSON_CreateObject();
	if (s->ops->scan(s, runs_one, &c, err) < 0) {
		run = NULL;
		goto out;
	}
	mark_interrupted(c.runs);
	run = cJSON_DetachItemFromArray(c.runs, 0);
	if (!run) {
		cdx_error_set(err, CDX_EUSAGE, "no run %s in %s", run_id, s->url);
		goto out;
	}
	jobs = cJSON_AddArrayToObject(run, "jobs");
	for (j = c.jobs->child; j; j = c.jobs->child)
		cJSON_AddItemToArray(jobs, cJSON_DetachItemViaPointer(c.jobs, j));
out:
	runs_ctx_free(&c);
	cJSON_Delete(c.runs);
	cJSON_Delete(c.jobs);
	cdx_store_close(s);
	return run;
}

cJSON *cdx_pipeline_plan_history(const struct cdx_pipeline *p, unsigned workers, const char *state)
{
	double *w = cdx_pipeline_weights(p);
	cdx_history_weights_at(state, p, w);
	return cdx_pipeline_plan_weighted(p, workers, w);
}
