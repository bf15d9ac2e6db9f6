/* monitor.c — pipeline health (cdx.h's cdx_monitor_health, monitor.h's
 * cdx_monitor_health_in) and the window statistics the alerts share
 * (monitor_int.h).  Alerts are alerts.c's, Prometheus metrics metrics.c's.
 *
 * Health folds the last 2 x WINDOW runs of a pipeline (state/runs.c): the newest
 * WINDOW finished runs are the current window, the ones before it the
 * previous window that trends and the p95 baseline compare against.  It
 * also names the flaky jobs (passed only on a retry, or alternating pass and
 * fail), the slowest jobs by mean successful wall time, the newest failure
 * with the tail of each failed job's log, and the alerts firing for the
 * pipeline (alerts.c reads them from the recorded events).
 */
#include "observe/monitor.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "observe/monitor_int.h"
#include "state/runs.h"

/* ---- shared with alerts.c and metrics.c (monitor_int.h) ------------------- */

void cdx_monitor_wstats(cJSON **fin, size_t n_fin, size_t skip, size_t w, struct cdx_wstats *st)
{
	double *d = cdx_xcalloc(w + 1, sizeof(double)), *all = cdx_xcalloc(w + 1, sizeof(double));
	size_t i, nd = 0, na = 0;
	bool streak = true;
	memset(st, 0, sizeof(*st));
	for (i = skip; i < n_fin && i < skip + w; i++) {
		bool ok = cdx_runs_ok(fin[i]);
		double dur = cdx_jn(fin[i], "duration_ms");
		st->runs++;
		if (ok) {
			st->ok++;
			d[nd++] = dur;
		} else {
			st->failed++;
		}
		all[na++] = dur;
		if (streak && !ok)
			st->consec++;
		else
			streak = false;
	}
	st->rate = st->runs ? (double)st->ok / (double)st->runs : NAN;
	if (!nd) {
		memcpy(d, all, na * sizeof(double));
		nd = na;
	}
	for (i = 0; i < nd; i++) {
		st->mean += d[i] / (double)nd;
		if (d[i] > st->max)
			st->max = d[i];
	}
	st->p50 = cdx_quantile(d, nd, 0.5);
	st->p95 = cdx_quantile(d, nd, 0.95);
	free(d);
	free(all);
}

cJSON **cdx_monitor_finished(cJSON *runs, size_t *n)
{
	int i, m = cJSON_GetArraySize(runs);
	cJSON **v = cdx_xcalloc((size_t)m + 1, sizeof(*v));
	*n = 0;
	for (i = m - 1; i >= 0; i--) {
		cJSON *r = cJSON_GetArrayItem(runs, i);
		if (cdx_runs_finished(r))
			v[(*n)++] = r;
	}
	return v;
}

void cdx_monitor_add_num(cJSON *o, const char *k, double v)
{
	if (isnan(v) || isinf(v))
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, cdx_round(v * 1000) / 1000);
}

/* ---- per-job statistics: flaky and slowest jobs --------------------------- */

struct jstat {
	const char *id;      /* borrowed from the runs */
	size_t runs;         /* runs in which it ran */
	size_t retried_passes; /* passed, but not at the first attempt */
	size_t flips;        /* result changed pass <-> fail between its runs */
	int last;            /* -1 none yet, 0 failed, 1 passed */
	double *walls;       /* wall_ms of its successful attempts */
	size_t n_walls, cap_walls;
};

/* the jobs of a window, in the order first seen, found by id */
struct jstats {
	struct jstat *v;
	size_t n, cap;
	struct cdx_map idx; /* id -> position in v (ids borrowed from the runs) */
};

/* the statistics of job ID, a new entry at its first sight */
static struct jstat *jstat_of(struct jstats *t, const char *id)
{
	size_t at;
	if (!cdx_map_get(&t->idx, id, &at)) {
		struct jstat z;
		memset(&z, 0, sizeof(z));
		z.id = id;
		z.last = -1;
		CDX_PUSH(t->v, t->n, t->cap, z);
		at = t->n - 1;
		cdx_map_put(&t->idx, id, at, NULL);
	}
	return &t->v[at];
}

/* fold one job record J of a run into its statistics */
static void jstat_note(struct jstats *t, const cJSON *j)
{
	const char *st = cdx_js(j, "status");
	cJSON *as = cJSON_GetObjectItem(j, "attempts"), *a;
	struct jstat *s = jstat_of(t, cdx_js(j, "id"));
	int res;
	if (strcmp(st, "success") == 0)
		res = 1;
	else if (strcmp(st, "failed") == 0 || strcmp(st, "timeout") == 0)
		res = 0;
	else
		return; /* skipped, cancelled, running: no evidence */
	s->runs++;
	if (res == 1 && cJSON_GetArraySize(as) > 1)
		s->retried_passes++;
	if (s->last >= 0 && s->last != res)
		s->flips++;
	s->last = res;
	cJSON_ArrayForEach(a, as)
		if (strcmp(cdx_js(a, "status"), "success") == 0)
			CDX_PUSH(s->walls, s->n_walls, s->cap_walls, cdx_jn(a, "wall_ms"));
}

/* the jobs passed only on a retry, or that flipped twice or more */
static void flaky_jobs(const struct jstats *t, cJSON *flaky)
{
	size_t i;
	for (i = 0; i < t->n; i++) {
		const struct jstat *s = &t->v[i];
		cJSON *o;
		if (!s->retried_passes && s->flips < 2)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "job", s->id);
		cJSON_AddNumberToObject(o, "runs", (double)s->runs);
		cJSON_AddNumberToObject(o, "passed_on_retry", (double)s->retried_passes);
		cJSON_AddNumberToObject(o, "flips", (double)s->flips);
		cJSON_AddStringToObject(o, "reason", s->retried_passes && s->flips >= 2 ? "retry and alternating"
						     : s->retried_passes ? "passed only on retry" : "alternating");
		cJSON_AddItemToArray(flaky, o);
	}
}

/* the TOP slowest jobs by mean successful wall time (sorts their walls) */
static void slowest_jobs(struct jstats *t, cJSON *slowest, size_t top)
{
	size_t i, k, *order = cdx_xcalloc(t->n + 1, sizeof(size_t));
	double *mean = cdx_xcalloc(t->n + 1, sizeof(double));
	for (i = 0; i < t->n; i++) {
		order[i] = i;
		for (k = 0; k < t->v[i].n_walls; k++)
			mean[i] += t->v[i].walls[k] / (double)t->v[i].n_walls;
	}
	/* selection of the top few: t->n may be large, TOP is small */
	for (k = 0; k < top && k < t->n; k++) {
		size_t best = k, tmp;
		struct jstat *s;
		cJSON *o;
		for (i = k + 1; i < t->n; i++)
			if (mean[order[i]] > mean[order[best]])
				best = i;
		tmp = order[k];
		order[k] = order[best];
		order[best] = tmp;
		s = &t->v[order[k]];
		if (!s->n_walls)
			break;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "job", s->id);
		cJSON_AddNumberToObject(o, "runs", (double)s->n_walls);
		cdx_monitor_add_num(o, "mean_ms", mean[order[k]]);
		/* the quantile sorts the walls: the last is then the max */
		cdx_monitor_add_num(o, "p95_ms", cdx_quantile(s->walls, s->n_walls, 0.95));
		cdx_monitor_add_num(o, "max_ms", s->walls[s->n_walls - 1]);
		cJSON_AddItemToArray(slowest, o);
	}
	free(mean);
	free(order);
}

/* the flaky and the TOP slowest jobs of the newest W runs of FIN */
static void job_stats(cJSON **fin, size_t n_fin, size_t w, cJSON *flaky, cJSON *slowest, size_t top)
{
	struct jstats t;
	size_t i;
	long r;
	memset(&t, 0, sizeof(t));
	/* oldest first, so that flips follow time */
	for (r = (long)(n_fin < w ? n_fin : w) - 1; r >= 0; r--) {
		cJSON *j;
		cJSON_ArrayForEach(j, cJSON_GetObjectItem(fin[r], "jobs"))
			jstat_note(&t, j);
	}
	flaky_jobs(&t, flaky);
	slowest_jobs(&t, slowest, top);
	for (i = 0; i < t.n; i++)
		free(t.v[i].walls);
	free(t.v);
	cdx_map_free(&t.idx);
}

/* the newest failed run among FIN, with each failed job's last attempt
 * and the tail of its log; NULL when none failed */
static cJSON *last_failure(cJSON **fin, size_t n_fin)
{
	size_t i;
	for (i = 0; i < n_fin; i++) {
		cJSON *o, *jobs, *j;
		if (cdx_runs_ok(fin[i]))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "run", cdx_js(fin[i], "id"));
		cJSON_AddStringToObject(o, "status", cdx_js(fin[i], "status"));
		cJSON_AddNumberToObject(o, "start_ms", cdx_jn(fin[i], "start_ms"));
		jobs = cJSON_AddArrayToObject(o, "jobs");
		cJSON_ArrayForEach(j, cJSON_GetObjectItem(fin[i], "jobs"))
		{
			const char *st = cdx_js(j, "status");
			cJSON *as = cJSON_GetObjectItem(j, "attempts"), *a, *f;
			char *tail;
			if (strcmp(st, "failed") != 0 && strcmp(st, "timeout") != 0)
				continue;
			a = cJSON_GetArrayItem(as, cJSON_GetArraySize(as) - 1);
			f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "job", cdx_js(j, "id"));
			cJSON_AddStringToObject(f, "status", st);
			if (a) {
				cJSON_AddNumberToObject(f, "attempt", cdx_jn(a, "attempt"));
				if (cJSON_GetObjectItem(a, "exit_code"))
					cJSON_AddNumberToObject(f, "exit_code", cdx_jn(a, "exit_code"));
				if (cJSON_GetObjectItem(a, "signal"))
					cJSON_AddNumberToObject(f, "signal", cdx_jn(a, "signal"));
				if (cJSON_GetObjectItem(a, "log"))
					cJSON_AddStringToObject(f, "log", cdx_js(a, "log"));
				tail = cdx_log_tail(cdx_js(a, "log"), 4096, 20);
				if (tail)
					cJSON_AddStringToObject(f, "log_tail", tail);
				free(tail);
			}
			cJSON_AddItemToArray(jobs, f);
		}
		return o;
	}
	return NULL;
}

static const char *health_word(const struct cdx_wstats *cur, const struct cdx_wstats *prev,
			       const struct cdx_monitor_config *c, cJSON *reasons)
{
	char why[160];
	const char *word = "healthy";
	if (cur->runs < c->min_runs) {
		snprintf(why, sizeof(why), "%zu finished run%s, fewer than %zu", cur->runs, cur->runs == 1 ? "" : "s",
			 c->min_runs);
		cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
		return "unknown";
	}
	if (cur->consec >= c->consecutive_failures) {
		snprintf(why, sizeof(why), "the last %u runs failed (failing at %u)", cur->consec,
			 c->consecutive_failures);
		cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
		word = "failing";
	}
	if (cur->rate < c->failing) {
		snprintf(why, sizeof(why), "success rate %.0f%% is below %.0f%% (failing)", cur->rate * 100,
			 c->failing * 100);
		cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
		word = "failing";
	}
	if (strcmp(word, "failing") == 0)
		return word;
	if (cur->rate < c->healthy) {
		snprintf(why, sizeof(why), "success rate %.0f%% is below %.0f%%", cur->rate * 100, c->healthy * 100);
		cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
		word = "degraded";
	}
	if (cur->consec > 0) {
		cJSON_AddItemToArray(reasons, cJSON_CreateString("the latest run failed"));
		word = "degraded";
	}
	if (prev->runs >= c->min_runs && prev->p95 > 0 && cur->p95 > c->slowdown * prev->p95) {
		snprintf(why, sizeof(why), "p95 duration %.1fs is over %.2g x the previous window's %.1fs",
			 cur->p95 / 1000, c->slowdown, prev->p95 / 1000);
		cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
		word = "degraded";
	}
	return word;
}

/* the current window's figures: counts, success rate, durations */
static void health_window(cJSON *h, const cJSON *runs, size_t window, const struct cdx_wstats *cur)
{
	size_t running = 0, cancelled = 0;
	const cJSON *r;
	cJSON *o;
	cJSON_ArrayForEach(r, runs)
	{
		if (strcmp(cdx_js(r, "status"), "running") == 0)
			running++;
		else if (strcmp(cdx_js(r, "status"), "cancelled") == 0)
			cancelled++;
	}
	cJSON_AddNumberToObject(h, "window", (double)window);
	cJSON_AddNumberToObject(h, "runs", (double)cur->runs);
	cJSON_AddNumberToObject(h, "succeeded", (double)cur->ok);
	cJSON_AddNumberToObject(h, "failed", (double)cur->failed);
	cJSON_AddNumberToObject(h, "running", (double)running);
	cJSON_AddNumberToObject(h, "cancelled", (double)cancelled);
	cdx_monitor_add_num(h, "success_rate", cur->rate);
	cJSON_AddNumberToObject(h, "consecutive_failures", cur->consec);
	o = cJSON_AddObjectToObject(h, "duration_ms");
	cdx_monitor_add_num(o, "mean", cur->runs ? cur->mean : NAN);
	cdx_monitor_add_num(o, "p50", cur->runs ? cur->p50 : NAN);
	cdx_monitor_add_num(o, "p95", cur->runs ? cur->p95 : NAN);
	cdx_monitor_add_num(o, "max", cur->runs ? cur->max : NAN);
}

/* "trend": the current window against the previous one */
static void health_trend(cJSON *h, const struct cdx_wstats *cur, const struct cdx_wstats *prev)
{
	cJSON *o = cJSON_AddObjectToObject(h, "trend");
	cJSON_AddNumberToObject(o, "previous_runs", (double)prev->runs);
	if (prev->runs && cur->runs) {
		double dr = cur->rate - prev->rate, dm = prev->mean > 0 ? (cur->mean - prev->mean) / prev->mean : NAN;
		cdx_monitor_add_num(o, "previous_success_rate", prev->rate);
		cdx_monitor_add_num(o, "previous_mean_ms", prev->mean);
		cdx_monitor_add_num(o, "previous_p95_ms", prev->p95);
		cdx_monitor_add_num(o, "success_rate_change", dr);
		cdx_monitor_add_num(o, "mean_change", dm);
		/* better or worse by 5 points of success rate, or 10% of time */
		cJSON_AddStringToObject(o, "direction", dr <= -0.05 || (dr < 0.05 && dm >= 0.10) ? "worse"
							: dr >= 0.05 || dm <= -0.10 ? "better" : "steady");
	} else {
		cJSON_AddStringToObject(o, "direction", "unknown");
	}
}

static void health_thresholds(cJSON *h, const struct cdx_monitor_config *c)
{
	cJSON *o = cJSON_AddObjectToObject(h, "thresholds");
	cJSON_AddNumberToObject(o, "healthy", c->healthy);
	cJSON_AddNumberToObject(o, "failing", c->failing);
	cJSON_AddNumberToObject(o, "consecutive_failures", c->consecutive_failures);
	cJSON_AddNumberToObject(o, "slowdown", c->slowdown);
	cJSON_AddNumberToObject(o, "min_runs", (double)c->min_runs);
}

/* "last_run", the jobs, "last_failure", "alerts_firing" and
 * "alerts_undelivered" (of every subject) (S may be NULL) */
static void health_runs(cJSON *h, struct cdx_store *s, const char *pipeline, cJSON **fin, size_t n_fin,
			size_t window)
{
	cJSON *o;
	if (n_fin) {
		o = cJSON_AddObjectToObject(h, "last_run");
		cJSON_AddStringToObject(o, "id", cdx_js(fin[0], "id"));
		cJSON_AddStringToObject(o, "status", cdx_js(fin[0], "status"));
		cJSON_AddNumberToObject(o, "start_ms", cdx_jn(fin[0], "start_ms"));
		cJSON_AddNumberToObject(o, "duration_ms", cdx_jn(fin[0], "duration_ms"));
	} else {
		cJSON_AddNullToObject(h, "last_run");
	}
	{
		cJSON *flaky = cJSON_AddArrayToObject(h, "flaky_jobs");
		cJSON *slow = cJSON_AddArrayToObject(h, "slowest_jobs");
		job_stats(fin, n_fin, window, flaky, slow, 5);
	}
	o = last_failure(fin, n_fin < window ? n_fin : window);
	if (o)
		cJSON_AddItemToObject(h, "last_failure", o);
	else
		cJSON_AddNullToObject(h, "last_failure");
	if (s) {
		char subject[128];
		snprintf(subject, sizeof(subject), "pipeline:%s", pipeline);
		cJSON_AddItemToObject(h, "alerts_firing", cdx_monitor_firing(s, subject));
		cJSON_AddItemToObject(h, "alerts_undelivered", cdx_monitor_undelivered(s));
	} else {
		cJSON_AddArrayToObject(h, "alerts_firing");
		cJSON_AddArrayToObject(h, "alerts_undelivered");
	}
}

cJSON *cdx_monitor_health_in(struct cdx_store *s, const char *pipeline, const struct cdx_monitor_config *c,
			     size_t window, struct cdx_error *err)
{
	struct cdx_monitor_config *own = NULL;
	cJSON *runs = NULL, *h, *reasons;
	cJSON **fin;
	size_t n_fin;
	struct cdx_wstats cur, prev;
	if (!c)
		c = own = cdx_monitor_config_new(NULL);
	if (!window)
		window = c->window;
	if (window > CDX_MONITOR_WINDOW_MAX)
		window = CDX_MONITOR_WINDOW_MAX;
	h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "pipeline", pipeline);
	if (s) {
		runs = cdx_runs_recent(s, pipeline, 2 * window + 8, err);
		if (!runs) {
			cJSON_Delete(h);
			cdx_monitor_config_free(own);
			return NULL;
		}
	} else {
		runs = cJSON_CreateArray();
	}
	fin = cdx_monitor_finished(runs, &n_fin);
	cdx_monitor_wstats(fin, n_fin, 0, window, &cur);
	cdx_monitor_wstats(fin, n_fin, window, window, &prev);
	reasons = cJSON_CreateArray();
	cJSON_AddStringToObject(h, "status", health_word(&cur, &prev, c, reasons));
	cJSON_AddItemToObject(h, "reasons", reasons);
	health_window(h, runs, window, &cur);
	health_trend(h, &cur, &prev);
	health_thresholds(h, c);
	health_runs(h, s, pipeline, fin, n_fin, window);
	free(fin);
	cJSON_Delete(runs);
	cdx_monitor_config_free(own);
	return h;
}

cJSON *cdx_monitor_health(const char *state, const char *pipeline, const struct cdx_project *pr, size_t window,
			  struct cdx_error *err)
{
	struct cdx_store *s;
	cJSON *h;
	enum cdx_open_result rc;
	if (!pipeline || !cdx_name_valid(pipeline)) {
		cdx_error_set(err, CDX_EUSAGE, "'%s' is not a pipeline name", pipeline ? pipeline : "");
		return NULL;
	}
	rc = cdx_store_open_read(state, &s, err);
	if (rc == CDX_OPEN_ERROR)
		return NULL;
	cdx_log_tail_state(state); /* log tails from Redis when not here */
	h = cdx_monitor_health_in(s, pipeline, pr ? cdx_project_monitoring(pr) : NULL, window, err);
	cdx_store_close(s);
	return h;
}
