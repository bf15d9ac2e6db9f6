/* report.c — SEED.md's PipelineReport: cdx_report_generate (cdx.h), the
 * report model (report.h); its text rendering is report_text.c, the HTML
 * one report_html.c.
 *
 * The model is built from the store: the run (the latest of the pipeline,
 * or the one named) with every job and attempt, and the last TREND_RUNS
 * runs for the trend.  What only the pipeline file knows — the job graph
 * for the critical path and queue waits, which variables are secret — is
 * taken from the file the run recorded, when it still loads and its hash
 * is the one recorded; otherwise the critical path is the chain of jobs
 * observed back to back (each starting when the one before it ended), the
 * queue wait is unknown, and only recorded variables are shown (run
 * records never hold secret values).
 *
 * Times in the model are milliseconds; timeline times are relative to the
 * run's start.  Workers (lanes of the timeline) are derived from start and
 * end times: each job takes the lowest lane free when it starts, which
 * uses as many lanes as jobs ever ran at once.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/dag.h"
#include "base/map.h"
#include "base/mask.h"
#include "pipeline/pipeline.h"
#include "observe/report.h"
#include "state/runs.h"
#include "state/store.h"

#define TREND_RUNS 20
#define LOG_TAIL_LINES 20
#define LOG_TAIL_BYTES 4096
#define SCHEMA_ID "cdx-report/1" /* docs/report.schema.json */

static const char *const types[] = {"summary", "detailed", "performance"};
static const char *const formats[] = {"json", "html", "text"};

static bool one_of(const char *s, const char *const *v, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return true;
	return false;
}

/* ---- what the pipeline file adds ----------------------------------------- */

/* the pipeline file of RUN, when it loads and is the file that ran */
static struct cdx_pipeline *pipeline_of(const cJSON *run)
{
	const char *file = cdx_js(run, "file"), *hash = cdx_js(run, "file_hash");
	struct cdx_pipeline *p;
	char h[16];
	if (!*file || access(file, R_OK) != 0)
		return NULL;
	p = cdx_pipeline_load(file, NULL);
	if (!p)
		return NULL;
	snprintf(h, sizeof(h), "%08x", (unsigned)p->file_hash);
	if ((*hash && strcmp(h, hash) != 0) || strcmp(p->name, cdx_js(run, "pipeline")) != 0) {
		cdx_pipeline_free(p);
		return NULL;
	}
	return p;
}

/* secret values the file states (from_env ones are not known here) */
static char **secrets_of(const struct cdx_pipeline *p)
{
	char **v;
	size_t i, n = 0;
	if (!p)
		return NULL;
	v = cdx_xcalloc(p->vars.n + 1, sizeof(char *));
	for (i = 0; i < p->vars.n; i++)
		if (p->vars.v[i].secret && p->vars.v[i].value && *p->vars.v[i].value)
			v[n++] = p->vars.v[i].value;
	return v; /* job-level secrets: the runner masked them in the logs */
}

/* ---- the model ------------------------------------------------------------ */

struct jobt {
	const cJSON *job;   /* the job in the run (borrowed) */
	const char *id;
	double start, end;  /* absolute ms: first attempt start, last attempt end */
	double busy;        /* sum of attempt wall times */
	double cpu;         /* user + sys of every attempt */
	double rss;         /* max over attempts, KiB */
	int lane;
	bool critical;
	double queue;       /* ms, NAN when unknown */
	size_t pidx;        /* index in the pipeline, CDX_NONE when unknown */
	size_t ord;         /* position in the run (start order, then id) */
	bool ran;           /* it has attempts */
};

static void times_of(struct jobt *t)
{
	const cJSON *a;
	bool first = true;
	t->busy = t->cpu = t->rss = 0;
	t->start = t->end = 0;
	cJSON_ArrayForEach(a, cJSON_GetObjectItem(t->job, "attempts"))
	{
		double s = cdx_jn(a, "start_ms"), e = s + cdx_jn(a, "wall_ms");
		if (first || s < t->start)
			t->start = s;
		if (first || e > t->end)
			t->end = e;
		first = false;
		t->ran = true;
		t->busy += cdx_jn(a, "wall_ms");
		t->cpu += cdx_jn(a, "user_ms") + cdx_jn(a, "sys_ms");
		if (cdx_jn(a, "maxrss_kb") > t->rss)
			t->rss = cdx_jn(a, "maxrss_kb");
	}
}

static int cmp_jobt(const void *a, const void *b)
{
	const struct jobt *x = a, *y = b;
	if (x->ran != y->ran)
		return x->ran ? -1 : 1; /* jobs that never ran go last */
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* lanes: the lowest lane free at each job's start */
static int assign_lanes(struct jobt *t, size_t n)
{
	double *free_at = cdx_xcalloc(n + 1, sizeof(double));
	int lanes = 0;
	size_t i;
	int l;
	for (i = 0; i < n; i++) {
		if (!t[i].ran) {
			t[i].lane = -1;
			continue;
		}
		for (l = 0; l < lanes; l++)
			if (free_at[l] <= t[i].start + 0.5)
				break;
		if (l == lanes)
			lanes++;
		t[i].lane = l;
		free_at[l] = t[i].end;
	}
	free(free_at);
	return lanes;
}

/* the critical path by the job graph with measured weights; false when
 * the pipeline is not known */
static bool critical_by_dag(const struct cdx_pipeline *p, struct jobt *t, size_t n, double *len, double run_start)
{
	double *w, *end;
	size_t *path, *at, np, i, k;
	if (!p)
		return false;
	w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	at = cdx_xcalloc(p->n_jobs + 1, sizeof(size_t)); /* pipeline job -> index in T */
	for (i = 0; i < p->n_jobs; i++)
		at[i] = CDX_NONE;
	for (i = 0; i < n; i++) {
		if (t[i].pidx == CDX_NONE)
			continue;
		w[t[i].pidx] = t[i].busy;
		at[t[i].pidx] = i;
	}
	path = cdx_xcalloc(p->n_jobs + 1, sizeof(size_t));
	np = cdx_dag_critical_path(p->dag, w, path, len);
	for (k = 0; k < np; k++)
		if (at[path[k]] != CDX_NONE && w[path[k]] > 0)
			t[at[path[k]]].critical = true;
	/* queue wait: from when its last need ended (or the run started) */
	end = cdx_xcalloc(p->dag->n_nodes + 1, sizeof(double));
	for (i = 0; i < n; i++)
		if (t[i].pidx != CDX_NONE)
			end[t[i].pidx] = t[i].end;
	for (k = 0; k < p->dag->n_nodes; k++) {
		uint32_t v = p->dag->topo[k], e;
		double ready = run_start;
		for (e = p->dag->pred_off[v]; e < p->dag->pred_off[v + 1]; e++)
			if (end[p->dag->pred[e]] > ready)
				ready = end[p->dag->pred[e]];
		if (v >= p->n_jobs) {
			end[v] = ready; /* a stage is done when its last job is */
			continue;
		}
		if (at[v] != CDX_NONE && t[at[v]].ran)
			t[at[v]].queue = t[at[v]].start > ready ? t[at[v]].start - ready : 0;
	}
	free(end);
	free(w);
	free(at);
	free(path);
	return true;
}

/* the observed critical path: from the job that ended last, back through
 * the job that ended latest before each one started */
static void critical_observed(struct jobt *t, size_t n, double *len)
{
	size_t i, cur = 0;
	*len = 0;
	if (!n)
		return;
	for (i = 1; i < n; i++)
		if (t[i].ran && t[i].end > t[cur].end)
			cur = i;
	if (!t[cur].ran)
		return;
	for (;;) {
		size_t best = n;
		t[cur].critical = true;
		*len += t[cur].busy;
		for (i = 0; i < n; i++) {
			if (!t[i].ran || t[i].critical || t[i].end > t[cur].start + 50)
				continue;
			if (best == n || t[i].end > t[best].end)
				best = i;
		}
		/* a gap of over a second is not waiting for that job */
		if (best == n || t[cur].start - t[best].end > 1000)
			break;
		cur = best;
	}
}

static const char *stage_of(const char *job, char *buf, size_t n)
{
	const char *slash = strchr(job, '/');
	size_t k = slash ? (size_t)(slash - job) : strlen(job);
	if (k >= n)
		k = n - 1;
	memcpy(buf, job, k);
	buf[k] = '\0';
	return buf;
}

static void add_num(cJSON *o, const char *k, double v)
{
	if (isnan(v) || isinf(v))
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, cdx_round(v * 10) / 10);
}

static bool failed_word(const char *st)
{
	return strcmp(st, "failed") == 0 || strcmp(st, "timeout") == 0;
}

static cJSON *stages_of(const cJSON *run, const struct cdx_pipeline *p, struct jobt *t, size_t n)
{
	cJSON *stages = cJSON_CreateArray(), *s;
	char name[CDX_NAME_MAX + 1];
	size_t i, k;
	/* stage order: the file's, else as their jobs started */
	if (p) {
		for (k = 0; k < p->n_stages; k++) {
			s = cJSON_CreateObject();
			cJSON_AddStringToObject(s, "name", p->stages[k].name);
			cJSON_AddItemToArray(stages, s);
		}
	}
	for (i = 0; i < n; i++) {
		stage_of(t[i].id, name, sizeof(name));
		cJSON_ArrayForEach(s, stages)
			if (strcmp(cdx_js(s, "name"), name) == 0)
				break;
		if (!s) {
			s = cJSON_CreateObject();
			cJSON_AddStringToObject(s, "name", name);
			cJSON_AddItemToArray(stages, s);
		}
	}
	cJSON_ArrayForEach(s, stages)
	{
		double jobs = 0, ok = 0, bad = 0, skipped = 0, other = 0, start = 0, end = 0;
		bool any = false;
		for (i = 0; i < n; i++) {
			const char *st = cdx_js(t[i].job, "status");
			stage_of(t[i].id, name, sizeof(name));
			if (strcmp(name, cdx_js(s, "name")) != 0)
				continue;
			jobs++;
			if (strcmp(st, "success") == 0)
				ok++;
			else if (failed_word(st))
				bad++;
			else if (strcmp(st, "skipped") == 0)
				skipped++;
			else
				other++;
			if (cJSON_GetArraySize(cJSON_GetObjectItem(t[i].job, "attempts"))) {
				if (!any || t[i].start < start)
					start = t[i].start;
				if (!any || t[i].end > end)
					end = t[i].end;
				any = true;
			}
		}
		cJSON_AddStringToObject(s, "status", !jobs ? "not run" : bad ? "failed" : other ? "incomplete"
							  : ok ? "success" : "skipped");
		cJSON_AddNumberToObject(s, "jobs", jobs);
		cJSON_AddNumberToObject(s, "succeeded", ok);
		cJSON_AddNumberToObject(s, "failed", bad);
		cJSON_AddNumberToObject(s, "skipped", skipped);
		add_num(s, "duration_ms", any ? end - start : 0);
	}
	(void)run;
	return stages;
}

static void attempt_json(cJSON *out, const cJSON *a, bool tail, char *const *secrets)
{
	static const char *const nums[] = {"attempt", "exit_code", "signal", "start_ms", "wall_ms", "user_ms",
					   "sys_ms", "maxrss_kb"};
	size_t i;
	cJSON_AddStringToObject(out, "status", cdx_js(a, "status"));
	for (i = 0; i < CDX_ARRAY_LEN(nums); i++)
		if (cJSON_IsNumber(cJSON_GetObjectItem(a, nums[i])))
			cJSON_AddNumberToObject(out, nums[i], cdx_jn(a, nums[i]));
	if (*cdx_js(a, "error"))
		cJSON_AddStringToObject(out, "error", cdx_js(a, "error"));
	if (*cdx_js(a, "log"))
		cJSON_AddStringToObject(out, "log", cdx_js(a, "log"));
	if (tail) {
		char *t = cdx_log_tail(cdx_js(a, "log"), LOG_TAIL_BYTES, LOG_TAIL_LINES);
		if (t) {
			char *m = cdx_mask_string((const char *const *)secrets, t);
			cJSON_AddStringToObject(out, "log_tail", m);
			free(m);
			free(t);
		} else {
			cJSON_AddNullToObject(out, "log_tail");
		}
	}
}

/* a run seen for its report: its jobs with their times, lanes and
 * critical path, and what the file adds */
struct runview {
	const cJSON *run;
	struct cdx_pipeline *p; /* the file that ran, NULL when unknown (pipeline_of) */
	char **secrets;         /* secret values of P (secrets_of) */
	struct jobt *t;         /* the jobs in start order, those that never ran last */
	size_t n;
	double run_start;       /* absolute ms */
	double wall;            /* the run's duration, ms */
	double work;            /* sum of the jobs' busy time, ms */
	double cp_len;          /* the critical path's length, ms */
	int lanes;              /* workers seen busy at once */
	bool by_dag;            /* critical path from the job graph, else observed */
};

/* V = RUN seen for its report (runview_free) */
static void runview_of(struct runview *v, const cJSON *run)
{
	const cJSON *jobs = cJSON_GetObjectItem(run, "jobs"), *j;
	struct cdx_map jix = {0}; /* pipeline job id -> index */
	struct jobt *t;
	size_t n = (size_t)cJSON_GetArraySize(jobs), i, k = 0;
	double last = 0;
	memset(v, 0, sizeof(*v));
	v->run = run;
	v->p = pipeline_of(run);
	v->secrets = secrets_of(v->p);
	v->n = n;
	v->run_start = cdx_jn(run, "start_ms");
	v->t = t = cdx_xcalloc(n + 1, sizeof(*t));
	for (i = 0; v->p && i < v->p->n_jobs; i++)
		cdx_map_put(&jix, v->p->jobs[i].id, i, NULL);
	cJSON_ArrayForEach(j, jobs)
	{
		t[k].job = j;
		t[k].id = cdx_js(j, "id");
		t[k].queue = NAN;
		t[k].pidx = CDX_NONE;
		t[k].ord = k;
		times_of(&t[k]);
		if (v->p)
			cdx_map_get(&jix, t[k].id, &t[k].pidx);
		k++;
	}
	cdx_map_free(&jix);
	/* jobs that never ran (skipped) have no bar: put them after the rest */
	qsort(t, n, sizeof(*t), cmp_jobt);
	for (i = 0; i < n; i++) {
		if (!cJSON_GetArraySize(cJSON_GetObjectItem(t[i].job, "attempts")))
			continue;
		v->work += t[i].busy;
		if (t[i].end > last)
			last = t[i].end;
	}
	v->lanes = assign_lanes(t, n);
	v->by_dag = critical_by_dag(v->p, t, n, &v->cp_len, v->run_start);
	if (!v->by_dag)
		critical_observed(t, n, &v->cp_len);
	v->wall = cdx_jnd(run, "duration_ms", last > v->run_start ? last - v->run_start : 0);
}

static void runview_free(struct runview *v)
{
	free(v->t);
	free(v->secrets);
	cdx_pipeline_free(v->p);
}

/* "run": what it was, and its jobs by status */
static void add_run(cJSON *m, const struct runview *v)
{
	const cJSON *run = v->run;
	cJSON *r = cJSON_AddObjectToObject(m, "run"), *o;
	size_t i;
	cJSON_AddStringToObject(r, "id", cdx_js(run, "id"));
	cJSON_AddStringToObject(r, "status", cdx_js(run, "status"));
	cJSON_AddNumberToObject(r, "start_ms", v->run_start);
	if (cJSON_IsNumber(cJSON_GetObjectItem(run, "end_ms")))
		cJSON_AddNumberToObject(r, "end_ms", cdx_jn(run, "end_ms"));
	else
		cJSON_AddNullToObject(r, "end_ms");
	add_num(r, "duration_ms", v->wall);
	cJSON_AddStringToObject(r, "user", cdx_js(run, "user"));
	if (*cdx_js(run, "claimed_user"))
		cJSON_AddStringToObject(r, "claimed_user", cdx_js(run, "claimed_user"));
	cJSON_AddStringToObject(r, "host", cdx_js(run, "host"));
	cJSON_AddStringToObject(r, "file", cdx_js(run, "file"));
	if (*cdx_js(run, "version"))
		cJSON_AddStringToObject(r, "version", cdx_js(run, "version"));
	cJSON_AddStringToObject(r, "driver", *cdx_js(run, "driver") ? cdx_js(run, "driver") : "cdx");
	cJSON_AddNumberToObject(r, "jobs", (double)v->n);
	o = cJSON_AddObjectToObject(r, "jobs_by_status");
	for (i = 0; i < v->n; i++) {
		const char *st = cdx_js(v->t[i].job, "status");
		cJSON *c = cJSON_GetObjectItemCaseSensitive(o, st);
		if (c)
			cJSON_SetNumberValue(c, c->valuedouble + 1);
		else
			cJSON_AddNumberToObject(o, st, 1);
	}
}

/* "errors": SEED.md's PipelineReport.errors, one line per failed job */
static void add_errors(cJSON *m, const struct runview *v)
{
	cJSON *arr = cJSON_AddArrayToObject(m, "errors");
	size_t i;
	for (i = 0; i < v->n; i++) {
		const char *st = cdx_js(v->t[i].job, "status"), *id = v->t[i].id;
		const cJSON *as = cJSON_GetObjectItem(v->t[i].job, "attempts"), *a;
		char line[512];
		if (!failed_word(st))
			continue;
		a = cJSON_GetArrayItem(as, cJSON_GetArraySize(as) - 1);
		if (a && cJSON_GetObjectItem(a, "exit_code"))
			snprintf(line, sizeof(line), "%s %s: exit code %.0f (attempt %.0f of %d)", id, st,
				 cdx_jn(a, "exit_code"), cdx_jn(a, "attempt"), cJSON_GetArraySize(as));
		else if (a && cJSON_GetObjectItem(a, "signal"))
			snprintf(line, sizeof(line), "%s %s: killed by signal %.0f (attempt %.0f of %d)", id, st,
				 cdx_jn(a, "signal"), cdx_jn(a, "attempt"), cJSON_GetArraySize(as));
		else
			snprintf(line, sizeof(line), "%s %s", id, st);
		cJSON_AddItemToArray(arr, cJSON_CreateString(line));
	}
	if (strcmp(cdx_js(v->run, "status"), "interrupted") == 0)
		cJSON_AddItemToArray(arr, cJSON_CreateString("the run was interrupted: its owner died before ending it"));
}

/* "variables": recorded ones (secret values masked), and secret names
 * from the file */
static void add_variables(cJSON *m, const struct runview *v)
{
	cJSON *arr = cJSON_AddArrayToObject(m, "variables"), *it, *o;
	size_t i;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(v->run, "vars"))
	{
		char *val = cdx_mask_string((const char *const *)v->secrets, cJSON_IsString(it) ? it->valuestring : "");
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", it->string);
		cJSON_AddStringToObject(o, "value", val);
		free(val);
		cJSON_AddBoolToObject(o, "secret", false);
		cJSON_AddItemToArray(arr, o);
	}
	for (i = 0; v->p && i < v->p->vars.n; i++) {
		if (!v->p->vars.v[i].secret)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", v->p->vars.v[i].name);
		cJSON_AddStringToObject(o, "value", "***");
		cJSON_AddBoolToObject(o, "secret", true);
		cJSON_AddItemToArray(arr, o);
	}
}

/* "jobs": every job and attempt, in start order */
static void add_jobs(cJSON *m, const struct runview *v)
{
	cJSON *arr = cJSON_AddArrayToObject(m, "jobs"), *it;
	size_t i;
	for (i = 0; i < v->n; i++) {
		char stage[CDX_NAME_MAX + 1];
		cJSON *o = cJSON_CreateObject(), *as;
		cJSON_AddStringToObject(o, "id", v->t[i].id);
		cJSON_AddStringToObject(o, "stage", stage_of(v->t[i].id, stage, sizeof(stage)));
		cJSON_AddStringToObject(o, "status", cdx_js(v->t[i].job, "status"));
		as = cJSON_AddArrayToObject(o, "attempts");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(v->t[i].job, "attempts"))
		{
			cJSON *a = cJSON_CreateObject();
			attempt_json(a, it, true, v->secrets);
			cJSON_AddItemToArray(as, a);
		}
		cJSON_AddItemToArray(arr, o);
	}
}

/* the performance's "critical_path" */
static void add_critical_path(cJSON *o, const struct runview *v)
{
	cJSON *cp = cJSON_AddObjectToObject(o, "critical_path");
	cJSON *ids = cJSON_AddArrayToObject(cp, "jobs");
	size_t i;
	for (i = 0; i < v->n; i++)
		if (v->t[i].critical)
			cJSON_AddItemToArray(ids, cJSON_CreateString(v->t[i].id));
	add_num(cp, "length_ms", v->cp_len);
	cJSON_AddStringToObject(cp, "source", v->by_dag ? "pipeline" : "observed");
	if (cJSON_IsNumber(cJSON_GetObjectItem(v->run, "critical_path_ms")))
		add_num(cp, "recorded_ms", cdx_jn(v->run, "critical_path_ms"));
}

/* the performance's "timeline": times relative to the run's start */
static void add_timeline(cJSON *o, const struct runview *v)
{
	cJSON *tl = cJSON_AddArrayToObject(o, "timeline");
	size_t i;
	for (i = 0; i < v->n; i++) {
		const struct jobt *t = &v->t[i];
		cJSON *e = cJSON_CreateObject();
		int attempts = cJSON_GetArraySize(cJSON_GetObjectItem(t->job, "attempts"));
		bool ran = attempts > 0;
		cJSON_AddStringToObject(e, "job", t->id);
		cJSON_AddStringToObject(e, "status", cdx_js(t->job, "status"));
		cJSON_AddNumberToObject(e, "lane", ran ? t->lane : -1);
		add_num(e, "start_ms", ran ? t->start - v->run_start : 0);
		add_num(e, "end_ms", ran ? t->end - v->run_start : 0);
		add_num(e, "wall_ms", t->busy);
		add_num(e, "queue_ms", t->queue);
		add_num(e, "cpu_ms", t->cpu);
		add_num(e, "maxrss_kb", t->rss);
		cJSON_AddNumberToObject(e, "attempts", attempts);
		cJSON_AddBoolToObject(e, "critical", t->critical);
		cJSON_AddItemToArray(tl, e);
	}
}

/* the performance's "slowest_jobs": the five busiest */
static void add_slowest(cJSON *o, const struct runview *v)
{
	cJSON *sl = cJSON_AddArrayToObject(o, "slowest_jobs");
	const struct jobt *t = v->t;
	size_t n = v->n, *ord = cdx_xcalloc(n + 1, sizeof(size_t)), i, q;
	for (i = 0; i < n; i++)
		ord[i] = i;
	for (i = 0; i < n && i < 5; i++) {
		size_t best = i;
		cJSON *e;
		for (q = i + 1; q < n; q++)
			if (t[ord[q]].busy > t[ord[best]].busy)
				best = q;
		q = ord[i];
		ord[i] = ord[best];
		ord[best] = q;
		if (t[ord[i]].busy <= 0)
			break;
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "job", t[ord[i]].id);
		add_num(e, "wall_ms", t[ord[i]].busy);
		cJSON_AddItemToArray(sl, e);
	}
	free(ord);
}

/* "performance": efficiency, critical path, timeline, slowest jobs */
static void add_performance(cJSON *m, const struct runview *v)
{
	cJSON *o = cJSON_AddObjectToObject(m, "performance");
	double workers = cdx_jn(v->run, "workers") > 0 ? cdx_jn(v->run, "workers") : (double)v->lanes;
	add_num(o, "wall_ms", v->wall);
	add_num(o, "work_ms", v->work);
	cJSON_AddNumberToObject(o, "workers", workers);
	cJSON_AddNumberToObject(o, "lanes", v->lanes);
	if (workers > 0 && v->wall > 0)
		cJSON_AddNumberToObject(o, "parallel_efficiency", cdx_round(v->work / (workers * v->wall) * 1000) / 1000);
	else
		cJSON_AddNullToObject(o, "parallel_efficiency");
	add_critical_path(o, v);
	add_timeline(o, v);
	add_slowest(o, v);
}

/* "trend": the finished runs of HISTORY and RUN itself, oldest first */
static void add_trend(cJSON *m, const cJSON *run, const cJSON *history)
{
	cJSON *arr = cJSON_AddArrayToObject(m, "trend"), *it, *o;
	cJSON_ArrayForEach(it, history)
	{
		if (!cdx_runs_finished(it) && strcmp(cdx_js(it, "id"), cdx_js(run, "id")) != 0)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "run", cdx_js(it, "id"));
		cJSON_AddStringToObject(o, "status", cdx_js(it, "status"));
		cJSON_AddNumberToObject(o, "start_ms", cdx_jn(it, "start_ms"));
		add_num(o, "duration_ms", cdx_jn(it, "duration_ms"));
		cJSON_AddItemToArray(arr, o);
	}
}

/* the report model of RUN with HISTORY (its pipeline's recent runs, oldest
 * first) for TYPE: every section, whatever the type (trim_for_type cuts
 * the JSON).  Caller frees with cJSON_Delete. */
static cJSON *model(const cJSON *run, const cJSON *history, const char *type)
{
	struct runview v;
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "schema", SCHEMA_ID);
	cJSON_AddStringToObject(m, "type", type);
	cJSON_AddNumberToObject(m, "generated_ms", (double)cdx_wall_ms());
	cJSON_AddStringToObject(m, "pipeline", cdx_js(run, "pipeline"));
	runview_of(&v, run);
	add_run(m, &v);
	cJSON_AddItemToObject(m, "stages", stages_of(run, v.p, v.t, v.n));
	add_errors(m, &v);
	add_variables(m, &v);
	add_jobs(m, &v);
	add_performance(m, &v);
	add_trend(m, run, history);
	runview_free(&v);
	return m;
}

/* the model cut to what TYPE promises, for JSON */
static void trim_for_type(cJSON *m, const char *type)
{
	if (strcmp(type, "summary") == 0) {
		cJSON_DeleteItemFromObject(m, "variables");
		cJSON_DeleteItemFromObject(m, "jobs");
		cJSON_DeleteItemFromObject(m, "performance");
	} else if (strcmp(type, "detailed") == 0) {
		cJSON_DeleteItemFromObject(m, "performance");
	} else {
		cJSON_DeleteItemFromObject(m, "variables");
		cJSON_DeleteItemFromObject(m, "jobs");
	}
}

/* ---- the API -------------------------------------------------------------- */

char *cdx_report_generate(const char *state, const char *pipeline, const char *run_id, const char *type,
			  const char *format, struct cdx_error *err)
{
	struct cdx_store *s = NULL;
	cJSON *history = NULL, *run = NULL, *m = NULL;
	char *out = NULL;
	int rc;
	if (!type)
		type = "summary";
	if (!format)
		format = "json";
	cdx_log_tail_state(state); /* log tails from Redis when not here */
	if (!one_of(type, types, CDX_ARRAY_LEN(types))) {
		cdx_error_set(err, CDX_EUSAGE, "unknown report type '%s' (use summary, detailed or performance)", type);
		return NULL;
	}
	if (!one_of(format, formats, CDX_ARRAY_LEN(formats))) {
		cdx_error_set(err, CDX_EUSAGE, "unknown report format '%s' (use json, html or text)", format);
		return NULL;
	}
	if (!pipeline || !cdx_name_valid(pipeline)) {
		cdx_error_set(err, CDX_EUSAGE, "'%s' is not a pipeline name", pipeline ? pipeline : "");
		return NULL;
	}
	if (run_id && !cdx_name_valid(run_id)) {
		cdx_error_set(err, CDX_EUSAGE, "'%s' is not a run id", run_id);
		return NULL;
	}
	if (!state)
		state = "file:.cdx";
	rc = cdx_store_open_read(state, &s, err);
	if (rc == CDX_OPEN_NONE) {
		cdx_error_set(err, CDX_EUSAGE, "no runs of %s: nothing is recorded in %s", pipeline, state);
		return NULL;
	}
	if (rc == CDX_OPEN_ERROR)
		return NULL;
	history = cdx_runs_recent(s, pipeline, TREND_RUNS, err);
	if (!history)
		goto out;
	if (run_id) {
		cJSON *it;
		cJSON_ArrayForEach(it, history)
			if (strcmp(cdx_js(it, "id"), run_id) == 0)
				run = cJSON_Duplicate(it, 1);
		if (!run)
			run = cdx_runs_get(s, run_id, err);
		if (!run)
			goto out;
		if (strcmp(cdx_js(run, "pipeline"), pipeline) != 0) {
			cdx_error_set(err, CDX_EUSAGE, "run %s is a run of %s, not of %s", run_id, cdx_js(run, "pipeline"),
				      pipeline);
			goto out;
		}
	} else {
		run = cJSON_DetachItemFromArray(history, cJSON_GetArraySize(history) - 1);
		if (!run) {
			cdx_error_set(err, CDX_EUSAGE, "no runs of %s in %s", pipeline, s->url);
			goto out;
		}
		cJSON_AddItemToArray(history, cJSON_Duplicate(run, 1));
	}
	m = model(run, history, type);
	if (strcmp(format, "json") == 0) {
		trim_for_type(m, type);
		out = cJSON_Print(m);
		if (out) {
			/* a final newline, as every text file has */
			size_t n = strlen(out);
			out = cdx_xrealloc(out, n + 2);
			out[n] = '\n';
			out[n + 1] = '\0';
		}
	} else if (strcmp(format, "html") == 0) {
		out = cdx_report_html(m);
	} else {
		out = cdx_report_text(m);
	}
out:
	cJSON_Delete(m);
	cJSON_Delete(run);
	cJSON_Delete(history);
	cdx_store_close(s);
	return out;
}
