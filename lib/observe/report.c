/* report.c — SEED.md's PipelineReport: cdx_report_generate (cdx.h), the
 * report model and its text rendering (the HTML one is report_html.c).
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
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

static cJSON *model(const cJSON *run, const cJSON *history, const char *type)
{
	struct cdx_pipeline *p = pipeline_of(run);
	char **secrets = secrets_of(p);
	const cJSON *jobs = cJSON_GetObjectItem(run, "jobs"), *j, *it;
	struct jobt *t;
	size_t n = (size_t)cJSON_GetArraySize(jobs), i, k;
	double run_start = cdx_jn(run, "start_ms"), cp_len = 0, work = 0, wall, first = 0, last = 0;
	int lanes;
	bool by_dag;
	struct cdx_map jix = {0}; /* pipeline job id -> index */
	cJSON *m = cJSON_CreateObject(), *r, *o, *arr;
	cJSON_AddStringToObject(m, "schema", SCHEMA_ID);
	cJSON_AddStringToObject(m, "type", type);
	cJSON_AddNumberToObject(m, "generated_ms", (double)cdx_wall_ms());
	cJSON_AddStringToObject(m, "pipeline", cdx_js(run, "pipeline"));

	t = cdx_xcalloc(n + 1, sizeof(*t));
	for (i = 0; p && i < p->n_jobs; i++)
		cdx_map_put(&jix, p->jobs[i].id, i, NULL);
	k = 0;
	cJSON_ArrayForEach(j, jobs)
	{
		t[k].job = j;
		t[k].id = cdx_js(j, "id");
		t[k].queue = NAN;
		t[k].pidx = CDX_NONE;
		t[k].ord = k;
		times_of(&t[k]);
		if (p)
			cdx_map_get(&jix, t[k].id, &t[k].pidx);
		k++;
	}
	cdx_map_free(&jix);
	/* jobs that never ran (skipped) have no bar: put them after the rest */
	qsort(t, n, sizeof(*t), cmp_jobt);
	for (i = 0; i < n; i++) {
		if (!cJSON_GetArraySize(cJSON_GetObjectItem(t[i].job, "attempts")))
			continue;
		work += t[i].busy;
		if (first == 0 || t[i].start < first)
			first = t[i].start;
		if (t[i].end > last)
			last = t[i].end;
	}
	lanes = assign_lanes(t, n);
	by_dag = critical_by_dag(p, t, n, &cp_len, run_start);
	if (!by_dag)
		critical_observed(t, n, &cp_len);
	wall = cJSON_IsNumber(cJSON_GetObjectItem(run, "duration_ms")) ? cdx_jn(run, "duration_ms")
	       : last > run_start ? last - run_start : 0;

	/* the run */
	r = cJSON_AddObjectToObject(m, "run");
	cJSON_AddStringToObject(r, "id", cdx_js(run, "id"));
	cJSON_AddStringToObject(r, "status", cdx_js(run, "status"));
	cJSON_AddNumberToObject(r, "start_ms", run_start);
	if (cJSON_IsNumber(cJSON_GetObjectItem(run, "end_ms")))
		cJSON_AddNumberToObject(r, "end_ms", cdx_jn(run, "end_ms"));
	else
		cJSON_AddNullToObject(r, "end_ms");
	add_num(r, "duration_ms", wall);
	cJSON_AddStringToObject(r, "user", cdx_js(run, "user"));
	cJSON_AddStringToObject(r, "host", cdx_js(run, "host"));
	cJSON_AddStringToObject(r, "file", cdx_js(run, "file"));
	if (*cdx_js(run, "version"))
		cJSON_AddStringToObject(r, "version", cdx_js(run, "version"));
	cJSON_AddStringToObject(r, "driver", *cdx_js(run, "driver") ? cdx_js(run, "driver") : "cdx");
	cJSON_AddNumberToObject(r, "jobs", (double)n);
	o = cJSON_AddObjectToObject(r, "jobs_by_status");
	for (i = 0; i < n; i++) {
		const char *st = cdx_js(t[i].job, "status");
		cJSON *c = cJSON_GetObjectItemCaseSensitive(o, st);
		if (c)
			cJSON_SetNumberValue(c, c->valuedouble + 1);
		else
			cJSON_AddNumberToObject(o, st, 1);
	}
	cJSON_AddItemToObject(m, "stages", stages_of(run, p, t, n));

	/* errors: SEED.md's PipelineReport.errors, one line per failed job */
	arr = cJSON_AddArrayToObject(m, "errors");
	for (i = 0; i < n; i++) {
		const char *st = cdx_js(t[i].job, "status");
		const cJSON *as = cJSON_GetObjectItem(t[i].job, "attempts"), *a;
		char line[512];
		if (!failed_word(st))
			continue;
		a = cJSON_GetArrayItem(as, cJSON_GetArraySize(as) - 1);
		if (a && cJSON_GetObjectItem(a, "exit_code"))
			snprintf(line, sizeof(line), "%s %s: exit code %.0f (attempt %.0f of %d)", t[i].id, st,
				 cdx_jn(a, "exit_code"), cdx_jn(a, "attempt"), cJSON_GetArraySize(as));
		else if (a && cJSON_GetObjectItem(a, "signal"))
			snprintf(line, sizeof(line), "%s %s: killed by signal %.0f (attempt %.0f of %d)", t[i].id, st,
				 cdx_jn(a, "signal"), cdx_jn(a, "attempt"), cJSON_GetArraySize(as));
		else
			snprintf(line, sizeof(line), "%s %s", t[i].id, st);
		cJSON_AddItemToArray(arr, cJSON_CreateString(line));
	}
	if (strcmp(cdx_js(run, "status"), "interrupted") == 0)
		cJSON_AddItemToArray(arr, cJSON_CreateString("the run was interrupted: its owner died before ending it"));

	/* variables: recorded ones, and secret names from the file */
	arr = cJSON_AddArrayToObject(m, "variables");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(run, "vars"))
	{
		char *v;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", it->string);
		v = cdx_mask_string((const char *const *)secrets, cJSON_IsString(it) ? it->valuestring : "");
		cJSON_AddStringToObject(o, "value", v);
		free(v);
		cJSON_AddBoolToObject(o, "secret", false);
		cJSON_AddItemToArray(arr, o);
	}
	for (i = 0; p && i < p->vars.n; i++) {
		if (!p->vars.v[i].secret)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", p->vars.v[i].name);
		cJSON_AddStringToObject(o, "value", "***");
		cJSON_AddBoolToObject(o, "secret", true);
		cJSON_AddItemToArray(arr, o);
	}

	/* every job and attempt, in start order */
	arr = cJSON_AddArrayToObject(m, "jobs");
	for (i = 0; i < n; i++) {
		char stage[CDX_NAME_MAX + 1];
		cJSON *as;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", t[i].id);
		cJSON_AddStringToObject(o, "stage", stage_of(t[i].id, stage, sizeof(stage)));
		cJSON_AddStringToObject(o, "status", cdx_js(t[i].job, "status"));
		as = cJSON_AddArrayToObject(o, "attempts");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(t[i].job, "attempts"))
		{
			cJSON *a = cJSON_CreateObject();
			attempt_json(a, it, true, secrets);
			cJSON_AddItemToArray(as, a);
		}
		cJSON_AddItemToArray(arr, o);
	}

	/* performance: timeline, critical path, efficiency */
	o = cJSON_AddObjectToObject(m, "performance");
	add_num(o, "wall_ms", wall);
	add_num(o, "work_ms", work);
	{
		double workers = cdx_jn(run, "workers") > 0 ? cdx_jn(run, "workers") : (double)lanes;
		cJSON_AddNumberToObject(o, "workers", workers);
		cJSON_AddNumberToObject(o, "lanes", lanes);
		if (workers > 0 && wall > 0)
			cJSON_AddNumberToObject(o, "parallel_efficiency",
						cdx_round(work / (workers * wall) * 1000) / 1000);
		else
			cJSON_AddNullToObject(o, "parallel_efficiency");
	}
	{
		cJSON *cp = cJSON_AddObjectToObject(o, "critical_path");
		cJSON *ids = cJSON_AddArrayToObject(cp, "jobs");
		for (i = 0; i < n; i++)
			if (t[i].critical)
				cJSON_AddItemToArray(ids, cJSON_CreateString(t[i].id));
		add_num(cp, "length_ms", cp_len);
		cJSON_AddStringToObject(cp, "source", by_dag ? "pipeline" : "observed");
		if (cJSON_IsNumber(cJSON_GetObjectItem(run, "critical_path_ms")))
			add_num(cp, "recorded_ms", cdx_jn(run, "critical_path_ms"));
	}
	{
		cJSON *tl = cJSON_AddArrayToObject(o, "timeline");
		for (i = 0; i < n; i++) {
			cJSON *e = cJSON_CreateObject();
			bool ran = cJSON_GetArraySize(cJSON_GetObjectItem(t[i].job, "attempts")) > 0;
			cJSON_AddStringToObject(e, "job", t[i].id);
			cJSON_AddStringToObject(e, "status", cdx_js(t[i].job, "status"));
			cJSON_AddNumberToObject(e, "lane", ran ? t[i].lane : -1);
			add_num(e, "start_ms", ran ? t[i].start - run_start : 0);
			add_num(e, "end_ms", ran ? t[i].end - run_start : 0);
			add_num(e, "wall_ms", t[i].busy);
			add_num(e, "queue_ms", t[i].queue);
			add_num(e, "cpu_ms", t[i].cpu);
			add_num(e, "maxrss_kb", t[i].rss);
			cJSON_AddNumberToObject(e, "attempts",
						cJSON_GetArraySize(cJSON_GetObjectItem(t[i].job, "attempts")));
			cJSON_AddBoolToObject(e, "critical", t[i].critical);
			cJSON_AddItemToArray(tl, e);
		}
	}
	{
		cJSON *sl = cJSON_AddArrayToObject(o, "slowest_jobs");
		size_t *ord = cdx_xcalloc(n + 1, sizeof(size_t)), q;
		for (i = 0; i < n; i++)
			ord[i] = i;
		for (i = 0; i < n && i < 5; i++) {
			size_t best = i;
			for (q = i + 1; q < n; q++)
				if (t[ord[q]].busy > t[ord[best]].busy)
					best = q;
			q = ord[i];
			ord[i] = ord[best];
			ord[best] = q;
			if (t[ord[i]].busy <= 0)
				break;
			{
				cJSON *e = cJSON_CreateObject();
				cJSON_AddStringToObject(e, "job", t[ord[i]].id);
				add_num(e, "wall_ms", t[ord[i]].busy);
				cJSON_AddItemToArray(sl, e);
			}
		}
		free(ord);
	}
	/* the trend over recent runs, oldest first */
	arr = cJSON_AddArrayToObject(m, "trend");
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
	free(t);
	free(secrets);
	cdx_pipeline_free(p);
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

/* ---- text ----------------------------------------------------------------- */

#define COLS 80

static void fmt_ms(double ms, char *buf, size_t n)
{
	if (ms >= 3600000)
		snprintf(buf, n, "%.0fh%02lldm", floor(ms / 3600000), (long long)(ms / 60000) % 60);
	else if (ms >= 60000)
		snprintf(buf, n, "%.0fm%02llds", floor(ms / 60000), (long long)(ms / 1000) % 60);
	else if (ms >= 10000)
		snprintf(buf, n, "%.1fs", ms / 1000);
	else
		snprintf(buf, n, "%.2fs", ms / 1000);
}

/* at most W display columns of S (UTF-8 aware), cut with '~' */
static void fit(struct cdx_buf *b, const char *s, size_t w, bool pad)
{
	size_t cols = 0, len = 0, total = 0;
	const unsigned char *c;
	for (c = (const unsigned char *)s; *c; c++)
		if ((*c & 0xc0) != 0x80)
			total++;
	for (c = (const unsigned char *)s; *c; c++) {
		if ((*c & 0xc0) != 0x80) {
			if (cols + 1 > w || (total > w && cols + 1 == w))
				break;
			cols++;
		}
		len++;
	}
	cdx_buf_add(b, s, len);
	if (total > w) {
		cdx_buf_addc(b, '~');
		cols++;
	}
	while (pad && cols < w) {
		cdx_buf_addc(b, ' ');
		cols++;
	}
}

/* one line of free text, cut to the width after INDENT; control
 * characters other than tab become '?' so that nothing moves the cursor */
static void text_line(struct cdx_buf *b, const char *indent, const char *s, size_t n)
{
	struct cdx_buf l = {0};
	size_t i;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\t')
			cdx_buf_adds(&l, "  ");
		else if (c < 0x20 || c == 0x7f)
			cdx_buf_addc(&l, '?');
		else
			cdx_buf_addc(&l, (char)c);
	}
	cdx_buf_adds(b, indent);
	fit(b, l.data ? l.data : "", COLS - strlen(indent), false);
	cdx_buf_addc(b, '\n');
	cdx_buf_free(&l);
}

static void text_block(struct cdx_buf *b, const char *indent, const char *s)
{
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		text_line(b, indent, s, n);
		s += n + (nl ? 1 : 0);
	}
}

static void text_printf(struct cdx_buf *b, const char *indent, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void text_printf(struct cdx_buf *b, const char *indent, const char *fmt, ...)
{
	struct cdx_buf l = {0};
	va_list ap;
	va_start(ap, fmt);
	cdx_buf_vprintf(&l, fmt, ap);
	va_end(ap);
	text_line(b, indent, l.data ? l.data : "", l.len);
	cdx_buf_free(&l);
}

char *cdx_report_text(const cJSON *m)
{
	struct cdx_buf b = {0};
	const cJSON *run = cJSON_GetObjectItem(m, "run"), *it, *a, *perf = cJSON_GetObjectItem(m, "performance");
	const char *type = cdx_js(m, "type");
	char d[32], w[32];
	time_t when = (time_t)(cdx_jn(run, "start_ms") / 1000);
	struct tm tm;
	localtime_r(&when, &tm);
	strftime(w, sizeof(w), "%Y-%m-%d %H:%M:%S", &tm);
	fmt_ms(cdx_jn(run, "duration_ms"), d, sizeof(d));
	text_printf(&b, "", "%s report: pipeline %s", type, cdx_js(m, "pipeline"));
	text_printf(&b, "", "run %s: %s in %s", cdx_js(run, "id"), cdx_js(run, "status"), d);
	text_printf(&b, "", "started %s by %s@%s", w, cdx_js(run, "user"), cdx_js(run, "host"));
	cdx_buf_adds(&b, "\nSTAGE                STATUS        JOBS    OK  FAILED  SKIPPED   DURATION\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "stages"))
	{
		fit(&b, cdx_js(it, "name"), 20, true);
		cdx_buf_addc(&b, ' ');
		fit(&b, cdx_js(it, "status"), 12, true);
		fmt_ms(cdx_jn(it, "duration_ms"), d, sizeof(d));
		cdx_buf_printf(&b, " %5.0f %5.0f %7.0f %8.0f %10s\n", cdx_jn(it, "jobs"), cdx_jn(it, "succeeded"),
			       cdx_jn(it, "failed"), cdx_jn(it, "skipped"), d);
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItem(m, "errors"))) {
		cdx_buf_adds(&b, "\nERRORS\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "errors")) text_printf(&b, "  ", "%s", it->valuestring);
	}
	if (strcmp(type, "detailed") == 0) {
		if (cJSON_GetArraySize(cJSON_GetObjectItem(m, "variables"))) {
			cdx_buf_adds(&b, "\nVARIABLES\n");
			cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "variables"))
				text_printf(&b, "  ", "%s=%s", cdx_js(it, "name"), cdx_js(it, "value"));
		}
		cdx_buf_adds(&b, "\nJOBS\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "jobs"))
		{
			text_printf(&b, "  ", "%s: %s", cdx_js(it, "id"), cdx_js(it, "status"));
			cJSON_ArrayForEach(a, cJSON_GetObjectItem(it, "attempts"))
			{
				char code[48] = "";
				fmt_ms(cdx_jn(a, "wall_ms"), d, sizeof(d));
				if (cJSON_GetObjectItem(a, "exit_code"))
					snprintf(code, sizeof(code), "exit %.0f", cdx_jn(a, "exit_code"));
				else if (cJSON_GetObjectItem(a, "signal"))
					snprintf(code, sizeof(code), "signal %.0f", cdx_jn(a, "signal"));
				text_printf(&b, "    ", "attempt %.0f: %s, %s, %s, cpu %.2fs, max rss %.0f KiB",
					    cdx_jn(a, "attempt"), cdx_js(a, "status"), code, d,
					    (cdx_jn(a, "user_ms") + cdx_jn(a, "sys_ms")) / 1000, cdx_jn(a, "maxrss_kb"));
				if (*cdx_js(a, "error"))
					text_printf(&b, "      ", "error: %s", cdx_js(a, "error"));
				if (*cdx_js(a, "log_tail"))
					text_block(&b, "      | ", cdx_js(a, "log_tail"));
			}
		}
	}
	if (strcmp(type, "performance") == 0 && perf) {
		const cJSON *cp = cJSON_GetObjectItem(perf, "critical_path");
		double wall = cdx_jn(perf, "wall_ms");
		int i = 0;
		fmt_ms(cdx_jn(perf, "work_ms"), d, sizeof(d));
		fmt_ms(wall, w, sizeof(w));
		cdx_buf_adds(&b, "\nPERFORMANCE\n");
		if (cJSON_IsNumber(cJSON_GetObjectItem(perf, "parallel_efficiency")))
			text_printf(&b, "  ", "work %s over %s wall on %.0f workers: parallel efficiency %.0f%%", d, w,
				    cdx_jn(perf, "workers"), cdx_jn(perf, "parallel_efficiency") * 100);
		fmt_ms(cdx_jn(cp, "length_ms"), d, sizeof(d));
		text_printf(&b, "  ", "critical path (%s, from the %s):", d,
			    strcmp(cdx_js(cp, "source"), "pipeline") == 0 ? "job graph" : "observed times");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(cp, "jobs"))
			text_printf(&b, "    ", "%s %s", i++ ? "->" : "  ", it->valuestring);
		cdx_buf_adds(&b, "\n  JOB                        LANE  START   WALL    QUEUE     CPU  MAX RSS\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(perf, "timeline"))
		{
			char s1[32], s2[32], s3[32] = "-", s4[32];
			cdx_buf_adds(&b, cJSON_IsTrue(cJSON_GetObjectItem(it, "critical")) ? "* " : "  ");
			fit(&b, cdx_js(it, "job"), 26, true);
			fmt_ms(cdx_jn(it, "start_ms"), s1, sizeof(s1));
			fmt_ms(cdx_jn(it, "wall_ms"), s2, sizeof(s2));
			if (cJSON_IsNumber(cJSON_GetObjectItem(it, "queue_ms")))
				fmt_ms(cdx_jn(it, "queue_ms"), s3, sizeof(s3));
			fmt_ms(cdx_jn(it, "cpu_ms"), s4, sizeof(s4));
			cdx_buf_printf(&b, " %4.0f %6s %6s %8s %7s %6.0fM\n", cdx_jn(it, "lane") + 1, s1, s2, s3, s4,
				       cdx_jn(it, "maxrss_kb") / 1024);
		}
		/* the timeline in characters: 50 columns for the wall time */
		if (wall > 0) {
			cdx_buf_adds(&b, "\n  TIMELINE (* critical path)\n");
			cJSON_ArrayForEach(it, cJSON_GetObjectItem(perf, "timeline"))
			{
				int from = (int)(cdx_jn(it, "start_ms") / wall * 50), to = (int)(cdx_jn(it, "end_ms") / wall * 50), c;
				if (cdx_jn(it, "lane") < 0)
					continue;
				if (to <= from)
					to = from + 1;
				if (to > 50)
					to = 50;
				cdx_buf_adds(&b, "  ");
				fit(&b, cdx_js(it, "job"), 22, true);
				cdx_buf_adds(&b, " |");
				for (c = 0; c < 50; c++)
					cdx_buf_addc(&b, c >= from && c < to
								 ? (cJSON_IsTrue(cJSON_GetObjectItem(it, "critical")) ? '*' : '=')
								 : ' ');
				cdx_buf_adds(&b, "|\n");
			}
		}
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItem(m, "trend")) > 1) {
		double max = 0;
		cdx_buf_adds(&b, "\nTREND (recent runs, oldest first)\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "trend")) if (cdx_jn(it, "duration_ms") > max) max =
			cdx_jn(it, "duration_ms");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "trend"))
		{
			int bar = max > 0 ? (int)(cdx_jn(it, "duration_ms") / max * 28 + 0.5) : 0, c;
			cdx_buf_adds(&b, "  ");
			fit(&b, cdx_js(it, "run"), 29, true);
			cdx_buf_addc(&b, ' ');
			fit(&b, cdx_js(it, "status"), 11, true);
			fmt_ms(cdx_jn(it, "duration_ms"), d, sizeof(d));
			cdx_buf_printf(&b, " %7s ", d);
			for (c = 0; c < bar; c++)
				cdx_buf_addc(&b, '#');
			cdx_buf_addc(&b, '\n');
		}
	}
	return cdx_buf_detach(&b);
}

/* ---- the API -------------------------------------------------------------- */

char *cdx_report_generate(const char *state, const char *pipeline, const char *run_id, const char *type,
			  const char *format, struct cdx_error *err)
{
	struct cdx_store *s = NULL;
	struct stat st;
	cJSON *history = NULL, *run = NULL, *m = NULL;
	char *out = NULL;
	if (!type)
		type = "summary";
	if (!format)
		format = "json";
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
	if (!strstr(state, "://") && stat(strncmp(state, "file:", 5) == 0 ? state + 5 : state, &st) < 0) {
		cdx_error_set(err, CDX_EUSAGE, "no runs of %s: nothing is recorded in %s", pipeline, state);
		return NULL;
	}
	if (cdx_store_open(state, &s, err) < 0)
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
