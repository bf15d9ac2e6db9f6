/* monitor.c — pipeline health, Prometheus metrics and alerts (monitor.h,
 * cdx.h's cdx_monitor_*).
 *
 * Health folds the last 2 x WINDOW runs of a pipeline (runset.c): the newest
 * WINDOW finished runs are the current window, the ones before it the
 * previous window that trends and the p95 baseline compare against.
 *
 * Alerts.  A rule is evaluated to "active" or not for a subject (the
 * pipeline "pipeline:NAME", or "deploy:APP:ENV" for the deployment rules);
 * the rule's state for that subject is the kind of the last alert /
 * alert_resolved event recorded for it.  Active and not firing: fire (run
 * the notify command with the alert JSON on stdin, then record an "alert"
 * event with the command's exit status).  Firing and no longer active:
 * resolve the same way ("alert_resolved").  So an incident is announced
 * once and resolved once, whoever evaluates, as long as evaluations do not
 * overlap: they run under the store's lock "monitor:alerts" (a backend
 * without locks: an flock on DIR/alerts.lock beside a file store).  The notify command runs before the event is recorded:
 * a crash in between announces the incident again at the next evaluation
 * (at least once, never silently lost).
 *
 * Deployment rules read `deployment`, `transition` and `event` records
 * (lib/deploy.c): a transition to state rolled_back (or rollback_failed),
 * or an event of kind deployment_frozen, makes its APP:ENV an incident; it
 * resolves when a later deployment or rollback of that APP:ENV reaches
 * state succeeded (deploy.c's final success; success, done, completed and
 * live count too) or, for frozen, at an event of kind
 * deployment_unfrozen.
 */
#include "observe/monitor.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/map.h"
#include "state/runs.h"

/* ---- opening the store for reading --------------------------------------- */

/* a file store that does not exist yet is empty (1, *S NULL): reading
 * never creates one */
static int open_read(const char *state, struct cdx_store **s, struct cdx_error *err)
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

/* ---- window statistics ---------------------------------------------------- */

struct wstats {
	size_t runs;        /* finished runs in the window */
	size_t ok, failed;  /* of them */
	double rate;        /* ok / runs, NAN when runs is 0 */
	double mean, p50, p95, max; /* duration of successful runs (all when none), ms */
	unsigned consec;    /* failed runs in a row at the newest end */
};

/* FIN: finished runs, newest first; the window is FIN[SKIP .. SKIP+W) */
static void wstats_of(cJSON **fin, size_t n_fin, size_t skip, size_t w, struct wstats *st)
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

/* finished runs of RUNS (oldest first), newest first in a new array */
static cJSON **finished(cJSON *runs, size_t *n)
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

static void add_num(cJSON *o, const char *k, double v)
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

static void job_stats(cJSON **fin, size_t n_fin, size_t w, cJSON *flaky, cJSON *slowest, size_t top)
{
	struct cdx_map idx = {0};
	struct jstat *js = NULL;
	size_t n_js = 0, cap_js = 0, i, k, *order;
	long r;
	/* oldest first, so that flips follow time */
	for (r = (long)(n_fin < w ? n_fin : w) - 1; r >= 0; r--) {
		cJSON *j;
		cJSON_ArrayForEach(j, cJSON_GetObjectItem(fin[r], "jobs"))
		{
			const char *id = cdx_js(j, "id"), *st = cdx_js(j, "status");
			cJSON *as = cJSON_GetObjectItem(j, "attempts"), *a;
			struct jstat *s;
			int res;
			size_t at;
			if (!cdx_map_get(&idx, id, &at)) {
				struct jstat z;
				memset(&z, 0, sizeof(z));
				z.id = id;
				z.last = -1;
				CDX_PUSH(js, n_js, cap_js, z);
				at = n_js - 1;
				cdx_map_put(&idx, id, at, NULL);
			}
			s = &js[at];
			if (strcmp(st, "success") == 0)
				res = 1;
			else if (strcmp(st, "failed") == 0 || strcmp(st, "timeout") == 0)
				res = 0;
			else
				continue; /* skipped, cancelled, running: no evidence */
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
	}
	for (i = 0; i < n_js; i++) {
		struct jstat *s = &js[i];
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
	/* slowest: by mean successful wall time, top TOP */
	order = cdx_xcalloc(n_js + 1, sizeof(size_t));
	for (i = 0; i < n_js; i++)
		order[i] = i;
	{
		double *mean = cdx_xcalloc(n_js + 1, sizeof(double));
		for (i = 0; i < n_js; i++) {
			for (k = 0; k < js[i].n_walls; k++)
				mean[i] += js[i].walls[k] / (double)js[i].n_walls;
		}
		/* selection of the top few: n_js may be large, TOP is small */
		for (k = 0; k < top && k < n_js; k++) {
			size_t best = k, t;
			for (i = k + 1; i < n_js; i++)
				if (mean[order[i]] > mean[order[best]])
					best = i;
			t = order[k];
			order[k] = order[best];
			order[best] = t;
			if (!js[order[k]].n_walls)
				break;
			{
				cJSON *o = cJSON_CreateObject();
				struct jstat *s = &js[order[k]];
				cJSON_AddStringToObject(o, "job", s->id);
				cJSON_AddNumberToObject(o, "runs", (double)s->n_walls);
				add_num(o, "mean_ms", mean[order[k]]);
				add_num(o, "p95_ms", cdx_quantile(s->walls, s->n_walls, 0.95));
				add_num(o, "max_ms", s->walls[s->n_walls - 1]);
				cJSON_AddItemToArray(slowest, o);
			}
		}
		free(mean);
	}
	free(order);
	for (i = 0; i < n_js; i++)
		free(js[i].walls);
	free(js);
	cdx_map_free(&idx);
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

static const char *health_word(const struct wstats *cur, const struct wstats *prev,
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

/* firing alerts of SUBJECT by their recorded events, from S (best effort) */
static cJSON *firing_alerts(struct cdx_store *s, const char *subject);

cJSON *cdx_monitor_health_in(struct cdx_store *s, const char *pipeline, const struct cdx_monitor_config *c,
			     size_t window, struct cdx_error *err)
{
	struct cdx_monitor_config *own = NULL;
	cJSON *runs = NULL, *h, *o, *reasons;
	cJSON **fin;
	size_t n_fin, running = 0, cancelled = 0;
	struct wstats cur, prev;
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
	fin = finished(runs, &n_fin);
	wstats_of(fin, n_fin, 0, window, &cur);
	wstats_of(fin, n_fin, window, window, &prev);
	cJSON_ArrayForEach(o, runs)
	{
		if (strcmp(cdx_js(o, "status"), "running") == 0)
			running++;
		else if (strcmp(cdx_js(o, "status"), "cancelled") == 0)
			cancelled++;
	}
	reasons = cJSON_CreateArray();
	cJSON_AddStringToObject(h, "status", health_word(&cur, &prev, c, reasons));
	cJSON_AddItemToObject(h, "reasons", reasons);
	cJSON_AddNumberToObject(h, "window", (double)window);
	cJSON_AddNumberToObject(h, "runs", (double)cur.runs);
	cJSON_AddNumberToObject(h, "succeeded", (double)cur.ok);
	cJSON_AddNumberToObject(h, "failed", (double)cur.failed);
	cJSON_AddNumberToObject(h, "running", (double)running);
	cJSON_AddNumberToObject(h, "cancelled", (double)cancelled);
	add_num(h, "success_rate", cur.rate);
	cJSON_AddNumberToObject(h, "consecutive_failures", cur.consec);
	o = cJSON_AddObjectToObject(h, "duration_ms");
	add_num(o, "mean", cur.runs ? cur.mean : NAN);
	add_num(o, "p50", cur.runs ? cur.p50 : NAN);
	add_num(o, "p95", cur.runs ? cur.p95 : NAN);
	add_num(o, "max", cur.runs ? cur.max : NAN);
	o = cJSON_AddObjectToObject(h, "trend");
	cJSON_AddNumberToObject(o, "previous_runs", (double)prev.runs);
	if (prev.runs && cur.runs) {
		double dr = cur.rate - prev.rate, dm = prev.mean > 0 ? (cur.mean - prev.mean) / prev.mean : NAN;
		add_num(o, "previous_success_rate", prev.rate);
		add_num(o, "previous_mean_ms", prev.mean);
		add_num(o, "previous_p95_ms", prev.p95);
		add_num(o, "success_rate_change", dr);
		add_num(o, "mean_change", dm);
		/* better or worse by 5 points of success rate, or 10% of time */
		cJSON_AddStringToObject(o, "direction", dr <= -0.05 || (dr < 0.05 && dm >= 0.10) ? "worse"
							: dr >= 0.05 || dm <= -0.10 ? "better" : "steady");
	} else {
		cJSON_AddStringToObject(o, "direction", "unknown");
	}
	o = cJSON_AddObjectToObject(h, "thresholds");
	cJSON_AddNumberToObject(o, "healthy", c->healthy);
	cJSON_AddNumberToObject(o, "failing", c->failing);
	cJSON_AddNumberToObject(o, "consecutive_failures", c->consecutive_failures);
	cJSON_AddNumberToObject(o, "slowdown", c->slowdown);
	cJSON_AddNumberToObject(o, "min_runs", (double)c->min_runs);
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
		cJSON_AddItemToObject(h, "alerts_firing", firing_alerts(s, subject));
	} else {
		cJSON_AddArrayToObject(h, "alerts_firing");
	}
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
	int rc;
	if (!pipeline || !cdx_name_valid(pipeline)) {
		cdx_error_set(err, CDX_EUSAGE, "'%s' is not a pipeline name", pipeline ? pipeline : "");
		return NULL;
	}
	rc = open_read(state, &s, err);
	if (rc < 0)
		return NULL;
	h = cdx_monitor_health_in(s, pipeline, pr ? cdx_project_monitoring(pr) : NULL, window, err);
	cdx_store_close(s);
	return h;
}

/* ---- events: the recorded state of every alert --------------------------- */

struct deploy_state {
	char *key;        /* "APP:ENV" */
	bool rolled_back; /* an incident: the last final state was rolled_back */
	bool frozen;      /* an incident: frozen and not unfrozen since */
	cJSON *detail;    /* what made the incident (owned) */
};

struct events {
	cJSON *last;      /* "ALERT\nSUBJECT" -> the last alert/alert_resolved event */
	cJSON *deploys;   /* deployment id -> {app, env} */
	struct deploy_state *ds;
	size_t n_ds, cap_ds;
	struct cdx_map ds_index; /* key -> position in ds (keys owned by ds) */
};

static struct deploy_state *deploy_of(struct events *e, const char *app, const char *env)
{
	char *key = cdx_xasprintf("%s:%s", app, env);
	struct deploy_state z;
	size_t at;
	if (cdx_map_get(&e->ds_index, key, &at)) {
		free(key);
		return &e->ds[at];
	}
	memset(&z, 0, sizeof(z));
	z.key = key;
	CDX_PUSH(e->ds, e->n_ds, e->cap_ds, z);
	/* the map borrows keys: rebuild it when the array moved (rare) */
	cdx_map_free(&e->ds_index);
	memset(&e->ds_index, 0, sizeof(e->ds_index));
	for (at = 0; at < e->n_ds; at++)
		cdx_map_put(&e->ds_index, e->ds[at].key, at, NULL);
	return &e->ds[e->n_ds - 1];
}

static bool success_state(const char *st)
{
	static const char *const ok[] = {"succeeded", "success", "done", "completed", "live"};
	size_t i;
	for (i = 0; i < CDX_ARRAY_LEN(ok); i++)
		if (strcmp(st, ok[i]) == 0)
			return true;
	return false;
}

static void set_detail(struct deploy_state *d, const cJSON *rec)
{
	cJSON_Delete(d->detail);
	d->detail = cJSON_Duplicate(rec, 1);
	cJSON_DeleteItemFromObject(d->detail, "t");
}

static int events_one(void *ctx, const cJSON *rec)
{
	struct events *e = ctx;
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "t"));
	if (!t)
		return 0;
	if (strcmp(t, "event") == 0) {
		const char *kind = cdx_js(rec, "kind");
		if (strcmp(kind, "alert") == 0 || strcmp(kind, "alert_resolved") == 0) {
			char *key = cdx_xasprintf("%s\n%s", cdx_js(rec, "alert"), cdx_js(rec, "subject"));
			cJSON *old = cJSON_GetObjectItemCaseSensitive(e->last, key);
			if (old)
				cJSON_ReplaceItemInObjectCaseSensitive(e->last, key, cJSON_Duplicate(rec, 1));
			else
				cJSON_AddItemToObject(e->last, key, cJSON_Duplicate(rec, 1));
			free(key);
		} else if (strcmp(kind, "deployment_frozen") == 0 || strcmp(kind, "deployment_unfrozen") == 0) {
			const char *app = cdx_js(rec, "app"), *env = cdx_js(rec, "env");
			struct deploy_state *d;
			if (!*app || !*env)
				return 0;
			d = deploy_of(e, app, env);
			d->frozen = strcmp(kind, "deployment_frozen") == 0;
			if (d->frozen)
				set_detail(d, rec);
		}
		return 0;
	}
	if (strcmp(t, "deployment") == 0) {
		const char *id = cdx_js(rec, "id");
		cJSON *o;
		if (!*id || cJSON_GetObjectItemCaseSensitive(e->deploys, id))
			return 0;
		o = cJSON_AddObjectToObject(e->deploys, id);
		cJSON_AddStringToObject(o, "app", cdx_js(rec, "app"));
		cJSON_AddStringToObject(o, "env", cdx_js(rec, "env"));
		cJSON_AddStringToObject(o, "version", cdx_js(rec, "version"));
		return 0;
	}
	if (strcmp(t, "transition") == 0) {
		const cJSON *dep = cJSON_GetObjectItemCaseSensitive(e->deploys, cdx_js(rec, "deployment"));
		const char *st = cdx_js(rec, "state");
		/* deploy.c writes app and env into every transition; else the
		 * deployment record says */
		const char *app = *cdx_js(rec, "app") ? cdx_js(rec, "app") : cdx_js(dep, "app");
		const char *env = *cdx_js(rec, "env") ? cdx_js(rec, "env") : cdx_js(dep, "env");
		struct deploy_state *d;
		if (!*app || !*env)
			return 0;
		d = deploy_of(e, app, env);
		if (strcmp(st, "rolled_back") == 0 || strcmp(st, "rollback_failed") == 0) {
			d->rolled_back = true;
			set_detail(d, rec);
			if (!cJSON_GetObjectItem(d->detail, "app"))
				cJSON_AddStringToObject(d->detail, "app", app);
			if (!cJSON_GetObjectItem(d->detail, "env"))
				cJSON_AddStringToObject(d->detail, "env", env);
			if (dep && !cJSON_GetObjectItem(d->detail, "version"))
				cJSON_AddStringToObject(d->detail, "version", cdx_js(dep, "version"));
		} else if (success_state(st)) {
			d->rolled_back = false;
			d->frozen = false;
		}
	}
	return 0;
}

static void events_free(struct events *e)
{
	size_t i;
	cJSON_Delete(e->last);
	cJSON_Delete(e->deploys);
	for (i = 0; i < e->n_ds; i++) {
		free(e->ds[i].key);
		cJSON_Delete(e->ds[i].detail);
	}
	free(e->ds);
	cdx_map_free(&e->ds_index);
}

static int events_load(struct cdx_store *s, struct events *e, struct cdx_error *err)
{
	memset(e, 0, sizeof(*e));
	e->last = cJSON_CreateObject();
	e->deploys = cJSON_CreateObject();
	return s->ops->scan(s, events_one, e, err);
}

static bool is_firing(const struct events *e, const char *alert, const char *subject)
{
	char *key = cdx_xasprintf("%s\n%s", alert, subject);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(e->last, key);
	free(key);
	return ev && strcmp(cdx_js(ev, "kind"), "alert") == 0;
}

static cJSON *firing_alerts(struct cdx_store *s, const char *subject)
{
	struct events e;
	struct cdx_error err = {0};
	cJSON *out = cJSON_CreateArray(), *ev;
	size_t n = strlen(subject);
	if (events_load(s, &e, &err) == 0) {
		cJSON_ArrayForEach(ev, e.last)
		{
			const char *nl = strchr(ev->string, '\n');
			if (nl && strlen(nl + 1) == n && memcmp(nl + 1, subject, n) == 0 &&
			    strcmp(cdx_js(ev, "kind"), "alert") == 0)
				cJSON_AddItemToArray(out, cJSON_CreateString(cdx_js(ev, "alert")));
		}
	}
	events_free(&e);
	return out;
}

/* ---- alerts --------------------------------------------------------------- */

/* the alerts lock: the backend's, else an flock beside a file store */
struct alerts_lock {
	int fd;                   /* flock fallback, -1 when not used */
	unsigned long long token; /* backend lock, 0 when not held */
};

static int alerts_lock(struct cdx_store *s, struct alerts_lock *l, struct cdx_error *err)
{
	l->fd = -1;
	l->token = 0;
	if (s->ops->lock) {
		cJSON *holder = cJSON_CreateObject(), *cur = NULL;
		int rc;
		cJSON_AddStringToObject(holder, "what", "alerts");
		cJSON_AddNumberToObject(holder, "pid", (double)getpid());
		cJSON_AddNumberToObject(holder, "since_ms", (double)cdx_wall_ms());
		rc = s->ops->lock(s, "monitor:alerts", holder, 30000, 10000, &l->token, &cur, err);
		cJSON_Delete(holder);
		cJSON_Delete(cur);
		if (rc == 1)
			return cdx_error_set(err, CDX_EBUSY, "alerts are being evaluated by another process");
		return rc;
	}
	if (strncmp(s->url, "file:", 5) == 0) {
		char *path = cdx_xasprintf("%s/alerts.lock", s->url + 5);
		l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		free(path);
		if (l->fd < 0)
			return cdx_error_set(err, CDX_ESTATE, "cannot open the alerts lock in %s: %s", s->url,
					     strerror(errno));
		while (flock(l->fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				close(l->fd);
				l->fd = -1;
				return cdx_error_set(err, CDX_ESTATE, "cannot lock alerts: %s", strerror(errno));
			}
		}
	}
	return 0;
}

static void alerts_unlock(struct cdx_store *s, struct alerts_lock *l)
{
	if (l->token && s->ops->unlock)
		s->ops->unlock(s, "monitor:alerts", l->token, NULL);
	if (l->fd >= 0)
		close(l->fd); /* releases the flock */
}

/* run CMD with sh -c in DIR, JSON on its stdin, its stdout sent to our
 * stderr, killed after TIMEOUT_MS; its exit status, 128+N for signal N,
 * -1 when it could not run */
static int notify(const char *cmd, const char *dir, const char *json, const char *alert, const char *state,
		  long long timeout_ms)
{
	int p[2], status = 0;
	pid_t pid;
	struct sigaction ign, old;
	int64_t deadline;
	size_t len = strlen(json), off = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		dup2(p[0], 0);
		dup2(2, 1);
		if (dir && chdir(dir) < 0)
			_exit(127);
		setenv("CDX_ALERT", alert, 1);
		setenv("CDX_ALERT_STATE", state, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	while (off < len) {
		ssize_t w = write(p[1], json + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* it does not read its stdin: fine */
		off += (size_t)w;
	}
	close(p[1]);
	sigaction(SIGPIPE, &old, NULL);
	deadline = cdx_now_ns() + timeout_ms * 1000000;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		struct timespec ts = {0, 10000000};
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (cdx_now_ns() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

struct verdict {
	bool known;        /* the condition could be evaluated */
	bool active;       /* it holds */
	double value;      /* the measured value */
	char message[256]; /* what a person reads */
};

/* the alert event of KIND for RULE and SUBJECT: notify, then record */
static int announce(struct cdx_store *s, const struct cdx_monitor_config *c, const struct cdx_alert_rule *rule,
		    const char *subject, const char *kind, const struct verdict *v, const cJSON *detail,
		    cJSON *actions, struct cdx_error *err)
{
	cJSON *ev = cJSON_CreateObject();
	char *json;
	int rc = 0;
	cJSON_AddStringToObject(ev, "t", "event");
	cJSON_AddStringToObject(ev, "kind", kind);
	cJSON_AddStringToObject(ev, "alert", rule->name);
	cJSON_AddStringToObject(ev, "subject", subject);
	cJSON_AddStringToObject(ev, "state", strcmp(kind, "alert") == 0 ? "firing" : "resolved");
	cJSON_AddStringToObject(ev, "when", rule->when);
	if (strncmp(subject, "pipeline:", 9) == 0)
		cJSON_AddStringToObject(ev, "pipeline", subject + 9);
	if (rule->kind != CDX_ALERT_ROLLED_BACK && rule->kind != CDX_ALERT_FROZEN) {
		add_num(ev, "value", v->value);
		cJSON_AddNumberToObject(ev, "threshold", rule->threshold);
	}
	cJSON_AddStringToObject(ev, "message", v->message);
	if (detail)
		cJSON_AddItemToObject(ev, "detail", cJSON_Duplicate(detail, 1));
	cJSON_AddNumberToObject(ev, "at_ms", (double)cdx_wall_ms());
	if (rule->notify) {
		cJSON *copy = cJSON_Duplicate(ev, 1);
		int st;
		cJSON_DeleteItemFromObject(copy, "t");
		json = cJSON_PrintUnformatted(copy);
		cJSON_Delete(copy);
		st = notify(rule->notify, c->dir, json, rule->name, strcmp(kind, "alert") == 0 ? "firing" : "resolved",
			    c->notify_timeout_ms);
		free(json);
		cJSON_AddStringToObject(ev, "notify", rule->notify);
		cJSON_AddNumberToObject(ev, "notify_status", st);
		if (st != 0)
			fprintf(stderr, "cdx: warning: notify command of alert %s exited with status %d\n", rule->name,
				st);
	}
	if (s->ops->append(s, ev, err) < 0 || s->ops->flush(s, err) < 0)
		rc = -1;
	cJSON_DeleteItemFromObject(ev, "t");
	cJSON_AddItemToArray(actions, ev);
	return rc;
}

static void pipeline_verdict(const struct cdx_alert_rule *r, const struct cdx_monitor_config *c, cJSON **fin,
			     size_t n_fin, struct verdict *v)
{
	size_t w = r->window ? r->window : c->window;
	struct wstats cur, prev;
	memset(v, 0, sizeof(*v));
	wstats_of(fin, n_fin, 0, w, &cur);
	switch (r->kind) {
	case CDX_ALERT_CONSECUTIVE_FAILURES:
		v->known = cur.runs > 0;
		v->value = cur.consec;
		v->active = cur.consec >= r->threshold;
		snprintf(v->message, sizeof(v->message), "%u consecutive failed run%s (alert at %g)", cur.consec,
			 cur.consec == 1 ? "" : "s", r->threshold);
		break;
	case CDX_ALERT_SUCCESS_RATE:
		/* a rate over a window that is not full yet is not that rate */
		v->known = cur.runs >= w && cur.runs >= c->min_runs;
		v->value = cur.rate;
		v->active = v->known && cur.rate < r->threshold;
		snprintf(v->message, sizeof(v->message), "success rate %.0f%% over the last %zu runs (alert below %.0f%%)",
			 cur.runs ? cur.rate * 100 : 0.0, cur.runs, r->threshold * 100);
		break;
	case CDX_ALERT_P95:
		wstats_of(fin, n_fin, w, w, &prev);
		v->known = cur.runs >= c->min_runs && prev.runs >= c->min_runs && prev.p95 > 0;
		v->value = v->known ? cur.p95 / prev.p95 : 0;
		v->active = v->known && cur.p95 > r->threshold * prev.p95;
		snprintf(v->message, sizeof(v->message), "p95 duration %.2fs is %.2f x the baseline %.2fs (alert above %g x)",
			 cur.p95 / 1000, v->value, prev.p95 / 1000, r->threshold);
		break;
	default:
		break;
	}
}

static bool rule_applies(const struct cdx_alert_rule *r, const char *pipeline)
{
	if (r->kind == CDX_ALERT_ROLLED_BACK || r->kind == CDX_ALERT_FROZEN)
		return false;
	if (r->pipeline)
		return !pipeline || strcmp(r->pipeline, pipeline) == 0;
	return pipeline != NULL;
}

static int eval_pipeline(struct cdx_store *s, const struct cdx_monitor_config *c, const char *pipeline,
			 const struct events *e, cJSON *actions, struct cdx_error *err)
{
	size_t i, wmax = c->window, n_fin;
	cJSON *runs, **fin;
	char subject[128];
	int rc = 0;
	bool any = false;
	for (i = 0; i < c->n_alerts; i++) {
		const struct cdx_alert_rule *r = &c->alerts[i];
		if ((r->pipeline && strcmp(r->pipeline, pipeline) != 0) || r->kind == CDX_ALERT_ROLLED_BACK ||
		    r->kind == CDX_ALERT_FROZEN)
			continue;
		any = true;
		if (r->window > wmax)
			wmax = r->window;
	}
	if (!any)
		return 0;
	runs = cdx_runs_recent(s, pipeline, 2 * wmax + 8, err);
	if (!runs)
		return -1;
	fin = finished(runs, &n_fin);
	snprintf(subject, sizeof(subject), "pipeline:%s", pipeline);
	for (i = 0; i < c->n_alerts && rc == 0; i++) {
		const struct cdx_alert_rule *r = &c->alerts[i];
		struct verdict v;
		bool firing;
		if ((r->pipeline && strcmp(r->pipeline, pipeline) != 0) || r->kind == CDX_ALERT_ROLLED_BACK ||
		    r->kind == CDX_ALERT_FROZEN)
			continue;
		pipeline_verdict(r, c, fin, n_fin, &v);
		firing = is_firing(e, r->name, subject);
		if (v.active && !firing)
			rc = announce(s, c, r, subject, "alert", &v, NULL, actions, err);
		else if (!v.active && firing && v.known)
			rc = announce(s, c, r, subject, "alert_resolved", &v, NULL, actions, err);
	}
	free(fin);
	cJSON_Delete(runs);
	return rc;
}

static int eval_deploys(struct cdx_store *s, const struct cdx_monitor_config *c, const struct events *e,
			cJSON *actions, struct cdx_error *err)
{
	size_t i, k;
	int rc = 0;
	for (i = 0; i < c->n_alerts && rc == 0; i++) {
		const struct cdx_alert_rule *r = &c->alerts[i];
		if (r->kind != CDX_ALERT_ROLLED_BACK && r->kind != CDX_ALERT_FROZEN)
			continue;
		for (k = 0; k < e->n_ds && rc == 0; k++) {
			const struct deploy_state *d = &e->ds[k];
			char subject[200];
			struct verdict v;
			bool firing;
			memset(&v, 0, sizeof(v));
			snprintf(subject, sizeof(subject), "deploy:%s", d->key);
			v.known = true;
			v.active = r->kind == CDX_ALERT_ROLLED_BACK ? d->rolled_back : d->frozen;
			snprintf(v.message, sizeof(v.message), "deployment of %s %s", d->key,
				 r->kind == CDX_ALERT_ROLLED_BACK ? (v.active ? "rolled back" : "succeeded again")
								  : (v.active ? "is frozen" : "is no longer frozen"));
			firing = is_firing(e, r->name, subject);
			if (v.active && !firing)
				rc = announce(s, c, r, subject, "alert", &v, d->detail, actions, err);
			else if (!v.active && firing)
				rc = announce(s, c, r, subject, "alert_resolved", &v, NULL, actions, err);
		}
	}
	return rc;
}

cJSON *cdx_monitor_alerts_in(struct cdx_store *s, const char *pipeline, const struct cdx_monitor_config *c,
			     struct cdx_error *err)
{
	struct alerts_lock l;
	struct events e;
	cJSON *actions;
	size_t i;
	int rc;
	if (!c->n_alerts)
		return cJSON_CreateArray();
	if (alerts_lock(s, &l, err) < 0)
		return NULL;
	actions = cJSON_CreateArray();
	rc = events_load(s, &e, err);
	if (rc == 0 && pipeline)
		rc = eval_pipeline(s, c, pipeline, &e, actions, err);
	/* rules that name their pipeline are evaluated for it when called
	 * without one (cdx monitor, the deployment side) */
	for (i = 0; rc == 0 && !pipeline && i < c->n_alerts; i++) {
		size_t k;
		bool seen = false;
		if (!c->alerts[i].pipeline || !rule_applies(&c->alerts[i], NULL))
			continue;
		for (k = 0; k < i; k++)
			if (c->alerts[k].pipeline && strcmp(c->alerts[k].pipeline, c->alerts[i].pipeline) == 0)
				seen = true;
		if (!seen)
			rc = eval_pipeline(s, c, c->alerts[i].pipeline, &e, actions, err);
	}
	if (rc == 0)
		rc = eval_deploys(s, c, &e, actions, err);
	events_free(&e);
	alerts_unlock(s, &l);
	if (rc < 0) {
		cJSON_Delete(actions);
		return NULL;
	}
	return actions;
}

cJSON *cdx_monitor_alerts(const char *state, const struct cdx_project *pr, const char *pipeline,
			  struct cdx_error *err)
{
	struct cdx_store *s;
	cJSON *a;
	int rc;
	if (pipeline && !cdx_name_valid(pipeline)) {
		cdx_error_set(err, CDX_EUSAGE, "'%s' is not a pipeline name", pipeline);
		return NULL;
	}
	if (!pr || !cdx_project_monitoring(pr)->n_alerts)
		return cJSON_CreateArray();
	rc = open_read(state, &s, err);
	if (rc < 0)
		return NULL;
	if (rc > 0)
		return cJSON_CreateArray(); /* nothing recorded: nothing to alert on */
	a = cdx_monitor_alerts_in(s, pipeline, cdx_project_monitoring(pr), err);
	cdx_store_close(s);
	return a;
}


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
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "t"));
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

char *cdx_monitor_metrics(const char *state, struct cdx_error *err)
{
	struct cdx_store *s;
	struct metrics m;
	struct cdx_buf out = {0}, l = {0};
	cJSON *it;
	size_t i, running = 0;
	int rc = open_read(state, &s, err);
	if (rc < 0)
		return NULL;
	memset(&m, 0, sizeof(m));
	m.counters = cJSON_CreateObject();
	m.runs = cJSON_CreateObject();
	m.ends = cJSON_CreateObject();
	m.deploys = cJSON_CreateObject();
	m.alerts = cJSON_CreateObject();
	if (s && s->ops->scan(s, metrics_one, &m, err) < 0) {
		cdx_store_close(s);
		s = NULL;
		rc = -1;
		goto out;
	}
	cdx_store_close(s);
	/* runs: by their run record's pipeline, status from their run_end */
	cJSON_ArrayForEach(it, m.runs)
	{
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(m.ends, it->string);
		if (!e) {
			running++;
			continue;
		}
		label(&l, "pipeline", it->valuestring);
		label(&l, "status", cJSON_GetStringValue(cJSON_GetArrayItem(e, 0)));
		bump(&m, "cdx_runs_total", &l, 1);
		label(&l, "pipeline", it->valuestring);
		observe(&m.rh, &m.n_rh, &m.cap_rh, l.data, cJSON_GetArrayItem(e, 1)->valuedouble / 1000);
		cdx_buf_reset(&l);
	}
	for (i = 0; i < CDX_ARRAY_LEN(families); i++) {
		cJSON *fam = cJSON_GetObjectItemCaseSensitive(m.counters, families[i].name);
		cdx_buf_printf(&out, "# HELP %s %s\n# TYPE %s %s\n", families[i].name, families[i].help,
			       families[i].name, families[i].type);
		cJSON_ArrayForEach(it, fam)
			cdx_buf_printf(&out, "%s{%s} %.0f\n", families[i].name, it->string, it->valuedouble);
	}
	cdx_buf_printf(&out, "# HELP cdx_runs_in_progress Runs started and not ended (or whose owner died).\n"
			     "# TYPE cdx_runs_in_progress gauge\ncdx_runs_in_progress %zu\n",
		       running);
	print_hist(&out, "cdx_run_duration_seconds", "Wall time of runs that ended, by pipeline.", m.rh, m.n_rh);
	print_hist(&out, "cdx_attempt_duration_seconds", "Wall time of job attempts, by pipeline.", m.jh, m.n_jh);
	cdx_buf_adds(&out, "# HELP cdx_alert_firing Whether an alert is firing (1) or resolved (0), by alert and subject.\n"
			   "# TYPE cdx_alert_firing gauge\n");
	cJSON_ArrayForEach(it, m.alerts)
	{
		char *a = cdx_xstrdup(it->string), *nl = strchr(a, '\n');
		if (nl)
			*nl = '\0';
		label(&l, "alert", a);
		label(&l, "subject", nl ? nl + 1 : "");
		cdx_buf_printf(&out, "cdx_alert_firing{%s} %.0f\n", l.data, it->valuedouble);
		cdx_buf_reset(&l);
		free(a);
	}
out:
	for (i = 0; i < m.n_rh; i++)
		free(m.rh[i].labels);
	for (i = 0; i < m.n_jh; i++)
		free(m.jh[i].labels);
	free(m.rh);
	free(m.jh);
	cJSON_Delete(m.counters);
	cJSON_Delete(m.runs);
	cJSON_Delete(m.ends);
	cJSON_Delete(m.deploys);
	cJSON_Delete(m.alerts);
	cdx_buf_free(&l);
	if (rc < 0) {
		cdx_buf_free(&out);
		return NULL;
	}
	return cdx_buf_detach(&out);
}
