/* metrics.c — every pipeline and deployment in a store as Prometheus text
 * exposition (cdx.h's cdx_monitor_metrics).
 *
 * One scan of the store's records folds them into counters (a cJSON object
 * per metric family: rendered labels -> value) and two duration histograms
 * (runs, job attempts); the text is printed from those at the end, the
 * families in a fixed order so that the output is stable.  A run counts
 * when its run_end has been seen (a run_end may come before its run
 * record in a scan); a run without one is in progress.  Counters only grow
 * with the store: the store is the time series, nothing is kept between
 * calls.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "observe/monitor_int.h"
#include "state/runs.h"

/* ---- metrics: Prometheus text exposition ---------------------------------- */

static const double buckets_s[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
#define NB CDX_ARRAY_LEN(buckets_s)

struct hist {
	char *labels;         /* rendered label pairs, without braces */
	double counts[NB];    /* per bucket (not cumulative) */
	double inf;           /* above the last bucket */
	double sum;           /* seconds */
	double n;
};

struct metrics {
	cJSON *counters;      /* metric name -> {labels -> value} */
	struct hist *rh, *jh; /* run and job duration histograms */
	size_t n_rh, cap_rh, n_jh, cap_jh;
	cJSON *runs;          /* run id -> pipeline */
	cJSON *ends;          /* run id -> [status, duration_ms] (a run_end may come first) */
	cJSON *deploys;       /* deployment id -> "app\nenv" */
	cJSON *alerts;        /* "alert\nsubject" -> 1 firing, 0 resolved */
};

/* label value escaping of the exposition format: \\, \" and \n */
static void label(struct cdx_buf *b, const char *name, const char *v)
{
	if (b->len)
		cdx_buf_addc(b, ',');
	cdx_buf_printf(b, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\')
			cdx_buf_adds(b, "\\\\");
		else if (*v == '"')
			cdx_buf_adds(b, "\\\"");
		else if (*v == '\n')
			cdx_buf_adds(b, "\\n");
		else
			cdx_buf_addc(b, *v);
	}
	cdx_buf_addc(b, '"');
}

static void bump(struct metrics *m, const char *metric, struct cdx_buf *labels, double by)
{
	cJSON *fam = cJSON_GetObjectItemCaseSensitive(m->counters, metric), *v;
	const char *key = labels->data ? labels->data : "";
	if (!fam)
		fam = cJSON_AddObjectToObject(m->counters, metric);
	v = cJSON_GetObjectItemCaseSensitive(fam, key);
	if (v)
		cJSON_SetNumberValue(v, v->valuedouble + by);
	else
		cJSON_AddNumberToObject(fam, key, by);
	cdx_buf_reset(labels);
}

static void observe(struct hist **h, size_t *n, size_t *cap, const char *labels, double secs)
{
	size_t i, b;
	for (i = 0; i < *n; i++)
		if (strcmp((*h)[i].labels, labels) == 0)
			break;
	if (i == *n) {
		struct hist z;
		memset(&z, 0, sizeof(z));
		z.labels = cdx_xstrdup(labels);
		CDX_PUSH(*h, *n, *cap, z);
	}
	for (b = 0; b < NB; b++)
		if (secs <= buckets_s[b])
			break;
	if (b < NB)
		(*h)[i].counts[b]++;
	else
		(*h)[i].inf++;
	(*h)[i].sum += secs;
	(*h)[i].n++;
}

static int metrics_one(void *ctx, const cJSON *rec)
{
	struct metrics *m = ctx;
	const char *t = cdx_jsn(rec, "t");
	struct cdx_buf l = {0};
	if (!t)
		return 0;
	if (strcmp(t, "run") == 0) {
		const char *id = cdx_js(rec, "id");
		if (*id && !cJSON_GetObjectItemCaseSensitive(m->runs, id))
			cJSON_AddStringToObject(m->runs, id, cdx_js(rec, "pipeline"));
	} else if (strcmp(t, "run_end") == 0) {
		const char *id = cdx_js(rec, "id");
		cJSON *e;
		if (!*id || cJSON_GetObjectItemCaseSensitive(m->ends, id))
			return 0;
		e = cJSON_AddArrayToObject(m->ends, id);
		cJSON_AddItemToArray(e, cJSON_CreateString(cdx_js(rec, "status")));
		cJSON_AddItemToArray(e, cJSON_CreateNumber(cdx_jn(rec, "duration_ms")));
	} else if (strcmp(t, "job") == 0) {
		label(&l, "pipeline", cdx_js(rec, "pipeline"));
		label(&l, "job", cdx_js(rec, "job"));
		label(&l, "status", cdx_js(rec, "status"));
		bump(m, "cdx_jobs_total", &l, 1);
	} else if (strcmp(t, "attempt") == 0) {
		label(&l, "pipeline", cdx_js(rec, "pipeline"));
		label(&l, "status", cdx_js(rec, "status"));
		bump(m, "cdx_attempts_total", &l, 1);
		label(&l, "pipeline", cdx_js(rec, "pipeline"));
		observe(&m->jh, &m->n_jh, &m->cap_jh, l.data, cdx_jn(rec, "wall_ms") / 1000);
	} else if (strcmp(t, "deployment") == 0) {
		const char *id = cdx_js(rec, "id");
		char *ae = cdx_xasprintf("%s\n%s", cdx_js(rec, "app"), cdx_js(rec, "env"));
		if (*id && !cJSON_GetObjectItemCaseSensitive(m->deploys, id))
			cJSON_AddStringToObject(m->deploys, id, ae);
		free(ae);
		label(&l, "app", cdx_js(rec, "app"));
		label(&l, "env", cdx_js(rec, "env"));
		label(&l, "kind", *cdx_js(rec, "kind") ? cdx_js(rec, "kind") : "deploy");
		bump(m, "cdx_deployments_total", &l, 1);
	} else if (strcmp(t, "transition") == 0) {
		const char *ae = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m->deploys, cdx_js(rec, "deployment")));
		char *app, *nl;
		if (!ae)
			return 0;
		app = cdx_xstrdup(ae);
		nl = strchr(app, '\n');
		if (nl)
			*nl = '\0';
		label(&l, "app", app);
		label(&l, "env", nl ? nl + 1 : "");
		label(&l, "state", cdx_js(rec, "state"));
		bump(m, "cdx_deployment_transitions_total", &l, 1);
		free(app);
	} else if (strcmp(t, "event") == 0) {
		const char *kind = cdx_js(rec, "kind");
		label(&l, "kind", kind);
		bump(m, "cdx_events_total", &l, 1);
		if (strcmp(kind, "alert") == 0 || strcmp(kind, "alert_resolved") == 0) {
			char *key = cdx_xasprintf("%s\n%s", cdx_js(rec, "alert"), cdx_js(rec, "subject"));
			cJSON *v = cJSON_GetObjectItemCaseSensitive(m->alerts, key);
			double on = strcmp(kind, "alert") == 0;
			if (v)
				cJSON_SetNumberValue(v, on);
			else
				cJSON_AddNumberToObject(m->alerts, key, on);
			free(key);
		}
	}
	cdx_buf_free(&l);
	return 0;
}

static void print_hist(struct cdx_buf *out, const char *name, const char *help, struct hist *h, size_t n)
{
	size_t i, b;
	if (!n)
		return;
	cdx_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i < n; i++) {
		double cum = 0;
		for (b = 0; b < NB; b++) {
			cum += h[i].counts[b];
			cdx_buf_printf(out, "%s_bucket{%s,le=\"%g\"} %.0f\n", name, h[i].labels, buckets_s[b], cum);
		}
		cdx_buf_printf(out, "%s_bucket{%s,le=\"+Inf\"} %.0f\n", name, h[i].labels, h[i].n);
		cdx_buf_printf(out, "%s_sum{%s} %.3f\n%s_count{%s} %.0f\n", name, h[i].labels, h[i].sum, name,
			       h[i].labels, h[i].n);
	}
}

static const struct {
	const char *name, *help, *type;
} families[] = {
	{"cdx_runs_total", "Pipeline runs that ended, by pipeline and status.", "counter"},
	{"cdx_jobs_total", "Jobs that ended, by pipeline, job and final status.", "counter"},
	{"cdx_attempts_total", "Job attempts that ended, by pipeline and status.", "counter"},
	{"cdx_deployments_total", "Deployments and rollbacks started, by application, environment and kind.",
	 "counter"},
	{"cdx_deployment_transitions_total", "Deployment state changes, by application, environment and state.",
	 "counter"},
	{"cdx_events_total", "Events recorded, by kind.", "counter"},
};

/* runs: by their run record's pipeline, status from their run_end; the
 * number of runs without one */
static size_t fold_runs(struct metrics *m)
{
	struct cdx_buf l = {0};
	size_t running = 0;
	cJSON *it;
	cJSON_ArrayForEach(it, m->runs)
	{
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(m->ends, it->string);
		if (!e) {
			running++;
			continue;
		}
		label(&l, "pipeline", it->valuestring);
		label(&l, "status", cJSON_GetStringValue(cJSON_GetArrayItem(e, 0)));
		bump(m, "cdx_runs_total", &l, 1);
		label(&l, "pipeline", it->valuestring);
		observe(&m->rh, &m->n_rh, &m->cap_rh, l.data, cJSON_GetArrayItem(e, 1)->valuedouble / 1000);
		cdx_buf_reset(&l);
	}
	cdx_buf_free(&l);
	return running;
}

/* the exposition of M into OUT: the counter families in a fixed order,
 * runs in progress, the histograms, the alerts */
static void print_metrics(struct cdx_buf *out, const struct metrics *m, size_t running)
{
	struct cdx_buf l = {0};
	cJSON *it;
	size_t i;
	for (i = 0; i < CDX_ARRAY_LEN(families); i++) {
		cJSON *fam = cJSON_GetObjectItemCaseSensitive(m->counters, families[i].name);
		cdx_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[i].name, families[i].help,
			       families[i].name, families[i].type);
		cJSON_ArrayForEach(it, fam)
			cdx_buf_printf(out, "%s{%s} %.0f\n", families[i].name, it->string, it->valuedouble);
	}
	cdx_buf_printf(out, "# HELP cdx_runs_in_progress Runs started and not ended (or whose owner died).\n"
			    "# TYPE cdx_runs_in_progress gauge\ncdx_runs_in_progress %zu\n",
		       running);
	print_hist(out, "cdx_run_duration_seconds", "Wall time of runs that ended, by pipeline.", m->rh, m->n_rh);
	print_hist(out, "cdx_attempt_duration_seconds", "Wall time of job attempts, by pipeline.", m->jh, m->n_jh);
	cdx_buf_adds(out, "# HELP cdx_alert_firing Whether an alert is firing (1) or resolved (0), by alert and subject.\n"
			  "# TYPE cdx_alert_firing gauge\n");
	cJSON_ArrayForEach(it, m->alerts)
	{
		char *a = cdx_xstrdup(it->string), *nl = strchr(a, '\n');
		if (nl)
			*nl = '\0';
		label(&l, "alert", a);
		label(&l, "subject", nl ? nl + 1 : "");
		cdx_buf_printf(out, "cdx_alert_firing{%s} %.0f\n", l.data, it->valuedouble);
		cdx_buf_reset(&l);
		free(a);
	}
	cdx_buf_free(&l);
}

static void metrics_free(struct metrics *m)
{
	size_t i;
	for (i = 0; i < m->n_rh; i++)
		free(m->rh[i].labels);
	for (i = 0; i < m->n_jh; i++)
		free(m->jh[i].labels);
	free(m->rh);
	free(m->jh);
	cJSON_Delete(m->counters);
	cJSON_Delete(m->runs);
	cJSON_Delete(m->ends);
	cJSON_Delete(m->deploys);
	cJSON_Delete(m->alerts);
}

char *cdx_monitor_metrics(const char *state, struct cdx_error *err)
{
	struct cdx_store *s;
	struct metrics m;
	struct cdx_buf out = {0};
	enum cdx_open_result rc = cdx_store_open_read(state, &s, err);
	if (rc == CDX_OPEN_ERROR)
		return NULL;
	memset(&m, 0, sizeof(m));
	m.counters = cJSON_CreateObject();
	m.runs = cJSON_CreateObject();
	m.ends = cJSON_CreateObject();
	m.deploys = cJSON_CreateObject();
	m.alerts = cJSON_CreateObject();
	if (s && s->ops->scan(s, metrics_one, &m, err) < 0) {
		cdx_store_close(s);
		metrics_free(&m);
		return NULL;
	}
	cdx_store_close(s);
	print_metrics(&out, &m, fold_runs(&m));
	metrics_free(&m);
	return cdx_buf_detach(&out);
}
