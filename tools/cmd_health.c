/* cmd_health.c — watching pipelines: `cdx health PIPELINE` (status by the
 * thresholds of cdx.yml's monitoring:, alerts evaluated first), `cdx
 * monitor PIPELINE [--follow]` (runs and job events as they happen, from
 * the store's tail) and `cdx metrics [--prometheus]`.
 *
 * `cdx health` evaluates the alerts before it reports, so that an alert
 * on a pipeline whose runs ended elsewhere (another host on the same
 * Redis, a run without the project file) or on a deployment is announced
 * by whoever looks; an incident is still announced once (monitor.c).
 * --no-alerts makes it a pure read. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "exec/pool.h"
#include "observe/monitor.h"
#include "state/runs.h"
#include "state/store.h"
#include "base/util.h"

static void when(double ms, char *buf, size_t n, const char *fmt)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, n, fmt, &tm);
}

static void secs(double ms, char *buf, size_t n)
{
	if (ms >= 600000)
		snprintf(buf, n, "%.0fm", ms / 60000);
	else if (ms >= 100000)
		snprintf(buf, n, "%.0fs", ms / 1000);
	else
		snprintf(buf, n, "%.1fs", ms / 1000);
}

/* the project file, when there is one; *BAD when it exists and is invalid */
static struct cdx_project *project_if_any(struct cli *g, bool *bad)
{
	struct cdx_project *pr = NULL;
	*bad = false;
	if (access(g->config, F_OK) == 0) {
		pr = cli_project(g);
		*bad = pr == NULL;
	} else if (g->config_given) {
		cli_error("no project file %s", g->config);
		*bad = true;
	}
	return pr;
}

/* print at most 76 columns of S after INDENT, cutting long lines */
static void print_clipped(const char *indent, const char *s)
{
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char *line = cdx_xstrndup(s, n > 72 ? 71 : n); /* cut before escaping: %.*s would cut after */
		cdx_text_printf(stdout, "%s%s%s\n", indent, line, n > 72 ? "~" : "");
		free(line);
		s += n + (nl ? 1 : 0);
	}
}

static void print_health(const cJSON *h)
{
	const cJSON *d = cJSON_GetObjectItem(h, "duration_ms"), *t = cJSON_GetObjectItem(h, "trend"), *it;
	const cJSON *lf = cJSON_GetObjectItem(h, "last_failure");
	char a[32], b[32], c[32];
	int i = 0;
	cdx_text_printf(stdout, "%s: %s", cdx_js(h, "pipeline"), cdx_js(h, "status"));
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(h, "reasons"))
		cdx_text_printf(stdout, "%s%s", i++ ? "; " : " - ", it->valuestring);
	cdx_text_printf(stdout, "\n");
	cdx_text_printf(stdout, "  runs      %.0f finished of the last %.0f (%.0f ok, %.0f failed)",
			cdx_jn(h, "runs"), cdx_jn(h, "window"), cdx_jn(h, "succeeded"), cdx_jn(h, "failed"));
	if (cdx_jn(h, "running") > 0)
		cdx_text_printf(stdout, ", %.0f running", cdx_jn(h, "running"));
	cdx_text_printf(stdout, "\n");
	if (!cdx_jn(h, "runs"))
		return;
	cdx_text_printf(stdout, "  success   %.1f%%", cdx_jn(h, "success_rate") * 100);
	if (cJSON_IsNumber(cJSON_GetObjectItem(t, "previous_success_rate")))
		cdx_text_printf(stdout, " (previous %.0f runs: %.1f%%, trend %s)", cdx_jn(t, "previous_runs"),
				cdx_jn(t, "previous_success_rate") * 100, cdx_js(t, "direction"));
	cdx_text_printf(stdout, "\n");
	secs(cdx_jn(d, "mean"), a, sizeof(a));
	secs(cdx_jn(d, "p50"), b, sizeof(b));
	secs(cdx_jn(d, "p95"), c, sizeof(c));
	cdx_text_printf(stdout, "  duration  mean %s  p50 %s  p95 %s", a, b, c);
	if (cJSON_IsNumber(cJSON_GetObjectItem(t, "mean_change")))
		cdx_text_printf(stdout, "  (mean %+.0f%% on the previous)", cdx_jn(t, "mean_change") * 100);
	cdx_text_printf(stdout, "\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(h, "flaky_jobs"))
		cdx_text_printf(stdout, "  flaky     %s: %s (%.0f on retry, %.0f flips in %.0f runs)\n",
				cdx_js(it, "job"), cdx_js(it, "reason"), cdx_jn(it, "passed_on_retry"),
				cdx_jn(it, "flips"), cdx_jn(it, "runs"));
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(h, "slowest_jobs"))
	{
		secs(cdx_jn(it, "mean_ms"), a, sizeof(a));
		secs(cdx_jn(it, "p95_ms"), b, sizeof(b));
		cdx_text_printf(stdout, "  slow      %-40.40s mean %7s  p95 %7s\n", cdx_js(it, "job"), a, b);
	}
	if (cJSON_IsObject(lf)) {
		when(cdx_jn(lf, "start_ms"), a, sizeof(a), "%Y-%m-%d %H:%M");
		cdx_text_printf(stdout, "  last failure: run %s (%s) at %s\n", cdx_js(lf, "run"),
				cdx_js(lf, "status"), a);
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(lf, "jobs"))
		{
			cdx_text_printf(stdout, "    %s %s", cdx_js(it, "job"), cdx_js(it, "status"));
			if (cJSON_GetObjectItem(it, "exit_code"))
				cdx_text_printf(stdout, ", exit %.0f", cdx_jn(it, "exit_code"));
			if (cJSON_GetObjectItem(it, "signal"))
				cdx_text_printf(stdout, ", signal %.0f", cdx_jn(it, "signal"));
			cdx_text_printf(stdout, " (attempt %.0f)\n", cdx_jn(it, "attempt"));
			if (*cdx_js(it, "log_tail"))
				print_clipped("      | ", cdx_js(it, "log_tail"));
		}
	}
	i = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(h, "alerts_firing"))
		cdx_text_printf(stdout, "%s%s", i++ ? ", " : "  alerts firing: ", it->valuestring);
	if (i)
		cdx_text_printf(stdout, "\n");
}

/* the notifications still owed, of every alert */
static void print_undelivered(const cJSON *h)
{
	const cJSON *it;
	char a[32];
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(h, "alerts_undelivered"))
	{
		when(cdx_jn(it, "tried_ms"), a, sizeof(a), "%Y-%m-%d %H:%M:%S");
		printf("  undelivered alert: %s %s (%s), %.0f tries, the last at %s: %s\n",
		       cdx_js(it, "alert"), cdx_js(it, "state"), cdx_js(it, "subject"),
		       cdx_jn(it, "attempts"), a, cdx_js(it, "error"));
	}
}

enum { OPT_WINDOW = CLI_OPT_OWN, OPT_NO_ALERTS, OPT_CHECK };

/* --window N: the number of runs in *WINDOW */
static int parse_window(const char *cmd, const char *v, size_t *window)
{
	char what[64];
	long n;
	snprintf(what, sizeof(what), "--window needs a number of runs from 1 to %d", CDX_MONITOR_WINDOW_MAX);
	if (cli_number(cmd, what, v, 1, CDX_MONITOR_WINDOW_MAX, &n))
		return CDX_EUSAGE;
	*window = (size_t)n;
	return 0;
}

/* the pipeline named by the positional arguments of P (for `cdx health`
 * and `cdx monitor`) and the project file, if any, in *PR; 0, or the exit
 * status with the problem printed */
static int pipeline_and_project(struct cli *g, const struct cli_opts *p, char **argv, const char **pipeline,
				struct cdx_project **pr)
{
	const char *cmd = argv[0];
	bool bad;
	if (p->status)
		return p->status;
	if (!p->n_pos)
		return cli_usage_error(cmd, "name a pipeline");
	*pipeline = argv[1];
	if (!cdx_name_valid(*pipeline))
		return cli_usage_error(cmd, "'%s' is not a pipeline name", *pipeline);
	*pr = project_if_any(g, &bad);
	return bad ? CDX_EUSAGE : 0;
}

static const struct option health_longs[] = {
	CLI_OPTION_JSON,
	{"window", required_argument, NULL, OPT_WINDOW},
	{"no-alerts", no_argument, NULL, OPT_NO_ALERTS},
	{"check", no_argument, NULL, OPT_CHECK},
	{0},
};

int cmd_health(struct cli *g, int argc, char **argv)
{
	const char *pipeline = NULL, *state;
	bool json = false, alerts = true, check = false;
	size_t window = 0;
	struct cdx_error err = {0};
	struct cdx_project *pr = NULL;
	struct cli_opts p;
	cJSON *h, *fired;
	int rc = 0;
	cli_opts_begin(&p, g, "health", argc, argv, "", health_longs, 1);
	while (!rc && cli_opts_next(&p)) {
		if (p.opt == CLI_OPT_JSON)
			json = true;
		else if (p.opt == OPT_NO_ALERTS)
			alerts = false;
		else if (p.opt == OPT_CHECK)
			check = true;
		else
			rc = parse_window("health", p.arg, &window);
	}
	if (rc)
		return rc;
	rc = pipeline_and_project(g, &p, argv, &pipeline, &pr);
	if (rc)
		return rc;
	state = cli_state(g);
	if (!state) {
		cdx_project_free(pr);
		return CDX_EUSAGE;
	}
	if (alerts && pr) {
		fired = cdx_monitor_alerts(state, pr, pipeline, &err);
		if (!fired) {
			cli_error("health: alerts not evaluated: %s", err.msg);
			if (err.code == CDX_ESTATE) {
				cdx_project_free(pr);
				return CDX_ESTATE;
			}
		}
		cJSON_Delete(fired);
	}
	h = cdx_monitor_health(state, pipeline, pr, window, &err);
	cdx_project_free(pr);
	if (!h) {
		cli_error("health: %s", err.msg);
		return err.code;
	}
	if (json) {
		cli_print_json(h);
	} else {
		print_health(h);
		print_undelivered(h);
	}
	if (check && strcmp(cdx_js(h, "status"), "healthy") != 0)
		rc = CDX_EFAILED;
	cJSON_Delete(h);
	return rc;
}

void cli_evaluate_alerts(struct cli *g, const char *pipeline)
{
	struct cdx_error err = {0};
	struct cdx_project *pr;
	const char *state;
	cJSON *a;
	bool bad;
	if (access(g->config, F_OK) != 0)
		return;
	pr = project_if_any(g, &bad);
	state = pr ? cli_state(g) : NULL;
	if (pr && state && cdx_project_monitoring(pr)->n_alerts) {
		a = cdx_monitor_alerts(state, pr, pipeline, &err);
		if (!a)
			cli_error("warning: alerts not evaluated: %s", err.msg);
		cJSON_Delete(a);
	}
	cdx_project_free(pr);
}

/* ---- cdx monitor ---------------------------------------------------------- */

static volatile sig_atomic_t stop_follow;

static void on_stop(int sig)
{
	(void)sig;
	stop_follow = 1;
}

struct follow {
	const char *pipeline;
	cJSON *runs;     /* ids of this pipeline's runs seen */
	bool changed;    /* something alerts may depend on was seen */
	bool json;
};

static bool mine(struct follow *f, const cJSON *rec, const char *t)
{
	const char *pl = cdx_js(rec, "pipeline");
	if (strcmp(t, "event") == 0) {
		const char *subj = cdx_js(rec, "subject");
		return strcmp(pl, f->pipeline) == 0 || strncmp(subj, "deploy:", 7) == 0 ||
		       strncmp(cdx_js(rec, "kind"), "deployment_", 11) == 0;
	}
	if (strcmp(t, "run_end") == 0)
		return strcmp(pl, f->pipeline) == 0 ||
		       cJSON_GetObjectItemCaseSensitive(f->runs, cdx_js(rec, "id")) != NULL;
	if (strcmp(t, "transition") == 0)
		return true;
	return strcmp(pl, f->pipeline) == 0;
}

static int follow_one(void *ctx, const cJSON *rec)
{
	struct follow *f = ctx;
	const char *t = cdx_js(rec, "t");
	char at[16], d[32];
	if (!mine(f, rec, t))
		return 0;
	if (f->json) {
		char *s = cJSON_PrintUnformatted(rec);
		puts(s);
		free(s);
		fflush(stdout);
		if (strcmp(t, "run_end") == 0 || strcmp(t, "transition") == 0 || strcmp(t, "event") == 0)
			f->changed = true;
		return 0;
	}
	when(cdx_jn(rec, "start_ms") ? cdx_jn(rec, "start_ms")
	     : cdx_jn(rec, "end_ms") ? cdx_jn(rec, "end_ms")
	     : cdx_jn(rec, "at_ms") ? cdx_jn(rec, "at_ms") : (double)cdx_wall_ms(),
	     at, sizeof(at), "%H:%M:%S");
	if (strcmp(t, "run") == 0) {
		if (!cJSON_GetObjectItemCaseSensitive(f->runs, cdx_js(rec, "id")))
			cJSON_AddTrueToObject(f->runs, cdx_js(rec, "id"));
		char who[400];
		cdx_text_printf(stdout, "%s  run    %s started: %.0f jobs, by %s\n", at, cdx_js(rec, "id"),
				cdx_jn(rec, "job_count"), cli_who(rec, who, sizeof(who)));
	} else if (strcmp(t, "attempt") == 0) {
		double end = cdx_jn(rec, "start_ms") + cdx_jn(rec, "wall_ms");
		when(end, at, sizeof(at), "%H:%M:%S");
		secs(cdx_jn(rec, "wall_ms"), d, sizeof(d));
		if (strcmp(cdx_js(rec, "status"), "success") != 0) {
			cdx_text_printf(stdout, "%s  try    %s attempt %.0f %s", at, cdx_js(rec, "job"),
					cdx_jn(rec, "attempt"), cdx_js(rec, "status"));
			if (cJSON_GetObjectItem(rec, "exit_code"))
				cdx_text_printf(stdout, " (exit %.0f)", cdx_jn(rec, "exit_code"));
			cdx_text_printf(stdout, " after %s\n", d);
		}
	} else if (strcmp(t, "job") == 0) {
		secs(cdx_jn(rec, "duration_ms"), d, sizeof(d));
		/* a job record carries no time: it is written as the job ends */
		when(cdx_jn(rec, "end_ms") ? cdx_jn(rec, "end_ms") : (double)cdx_wall_ms(), at, sizeof(at), "%H:%M:%S");
		cdx_text_printf(stdout, "%s  job    %-9s %s %s%s\n", at, cdx_js(rec, "status"),
				cdx_js(rec, "job"), d, cdx_jn(rec, "attempts") > 1 ? " (after a retry)" : "");
	} else if (strcmp(t, "run_end") == 0) {
		secs(cdx_jn(rec, "duration_ms"), d, sizeof(d));
		cdx_text_printf(stdout, "%s  run    %s %s in %s\n", at, cdx_js(rec, "id"),
				cdx_js(rec, "status"), d);
		f->changed = true;
	} else if (strcmp(t, "event") == 0 && strcmp(cdx_js(rec, "kind"), "alert_delivery") == 0) {
		printf("%s  notify %s %s: %s after %.0f tries%s%s\n", at, cdx_js(rec, "alert"),
		       cdx_js(rec, "state"), cdx_js(rec, "delivery"), cdx_jn(rec, "attempts"),
		       *cdx_js(rec, "error") ? ": " : "", cdx_js(rec, "error"));
		f->changed = true;
	} else if (strcmp(t, "event") == 0) {
		cdx_text_printf(stdout, "%s  %-6s %s %s: %s\n", at,
				strcmp(cdx_js(rec, "kind"), "alert_resolved") == 0 ? "ok" : "ALERT",
				*cdx_js(rec, "alert") ? cdx_js(rec, "alert") : cdx_js(rec, "kind"),
				cdx_js(rec, "state"), cdx_js(rec, "message"));
		f->changed = true;
	} else if (strcmp(t, "transition") == 0) {
		cdx_text_printf(stdout, "%s  deploy %s -> %s\n", at, cdx_js(rec, "deployment"),
				cdx_js(rec, "state"));
		f->changed = true;
	}
	fflush(stdout);
	return 0;
}

/* replay run R of PIPELINE (a record of cdx_runset_load) through F as the
 * records it was: the run, its attempts and jobs, its end */
static void replay_run(struct follow *f, const cJSON *r, const char *pipeline)
{
	const cJSON *j, *a;
	cJSON *rec = cJSON_Duplicate(r, 0);
	cJSON_AddStringToObject(rec, "t", "run");
	cJSON_AddItemToObject(rec, "id", cJSON_CreateString(cdx_js(r, "id")));
	cJSON_AddItemToObject(rec, "pipeline", cJSON_CreateString(pipeline));
	cJSON_AddItemToObject(rec, "start_ms", cJSON_CreateNumber(cdx_jn(r, "start_ms")));
	cJSON_AddItemToObject(rec, "job_count", cJSON_CreateNumber(cdx_jn(r, "job_count")));
	cJSON_AddItemToObject(rec, "user", cJSON_CreateString(cdx_js(r, "user")));
	cJSON_AddItemToObject(rec, "host", cJSON_CreateString(cdx_js(r, "host")));
	follow_one(f, rec);
	cJSON_Delete(rec);
	cJSON_ArrayForEach(j, cJSON_GetObjectItem(r, "jobs"))
	{
		double end = 0;
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "attempts"))
		{
			cJSON *ar = cJSON_Duplicate(a, 1);
			cJSON_AddStringToObject(ar, "t", "attempt");
			cJSON_AddStringToObject(ar, "pipeline", pipeline);
			cJSON_AddStringToObject(ar, "job", cdx_js(j, "id"));
			follow_one(f, ar);
			cJSON_Delete(ar);
			if (cdx_jn(a, "start_ms") + cdx_jn(a, "wall_ms") > end)
				end = cdx_jn(a, "start_ms") + cdx_jn(a, "wall_ms");
		}
		if (strcmp(cdx_js(j, "status"), "running") == 0)
			continue;
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "t", "job");
		cJSON_AddStringToObject(rec, "pipeline", pipeline);
		cJSON_AddStringToObject(rec, "run", cdx_js(r, "id"));
		cJSON_AddStringToObject(rec, "job", cdx_js(j, "id"));
		cJSON_AddStringToObject(rec, "status", cdx_js(j, "status"));
		cJSON_AddNumberToObject(rec, "attempts", cJSON_GetArraySize(cJSON_GetObjectItem(j, "attempts")));
		cJSON_AddNumberToObject(rec, "duration_ms", cdx_jn(j, "duration_ms"));
		if (end > 0)
			cJSON_AddNumberToObject(rec, "end_ms", end);
		follow_one(f, rec);
		cJSON_Delete(rec);
	}
	if (cJSON_GetObjectItem(r, "end_ms")) {
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "t", "run_end");
		cJSON_AddStringToObject(rec, "id", cdx_js(r, "id"));
		cJSON_AddStringToObject(rec, "pipeline", pipeline);
		cJSON_AddStringToObject(rec, "status", cdx_js(r, "status"));
		cJSON_AddNumberToObject(rec, "end_ms", cdx_jn(r, "end_ms"));
		cJSON_AddNumberToObject(rec, "duration_ms", cdx_jn(r, "duration_ms"));
		follow_one(f, rec);
		cJSON_Delete(rec);
	} else if (!f->json) {
		cdx_text_printf(stdout, "          run    %s %s\n", cdx_js(r, "id"), cdx_js(r, "status"));
	}
}

/* watch the tail of S from CURSOR until Ctrl-C, evaluating the alerts of
 * PR (may be NULL) when a record they may depend on went by, and at least
 * every retry_backoff (so that undelivered notifications are tried
 * again); the exit status */
static int follow_tail(struct follow *f, struct cdx_store *s, char *cursor, const struct cdx_project *pr)
{
	struct cdx_error err = {0};
	struct sigaction sa, old_int, old_term;
	int64_t evaluated_ms = cdx_now_ns() / 1000000;
	int rc = 0;
	if (!s->ops->tail) {
		cli_error("monitor: the state store %s cannot be followed", s->url);
		return CDX_ESTATE;
	}
	if (!f->json)
		cdx_text_printf(stdout, "-- following %s (Ctrl-C stops) --\n", f->pipeline);
	fflush(stdout);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	f->changed = false;
	while (!stop_follow) {
		if (s->ops->tail(s, cursor, 500, follow_one, f, &err) < 0) {
			cli_error("monitor: %s", err.msg);
			rc = err.code;
			break;
		}
		if (pr && cdx_project_monitoring(pr)->n_alerts &&
		    (f->changed ||
		     cdx_now_ns() / 1000000 - evaluated_ms >= cdx_project_monitoring(pr)->retry_backoff_ms)) {
			/* their events come back through the tail */
			cJSON *fired;
			evaluated_ms = cdx_now_ns() / 1000000;
			fired = cdx_monitor_alerts_in(s, f->pipeline, cdx_project_monitoring(pr), &err);
			if (!fired)
				cli_error("monitor: alerts not evaluated: %s", err.msg);
			cJSON_Delete(fired);
		}
		f->changed = false;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

static const struct option monitor_longs[] = {
	CLI_OPTION_JSON,
	{"follow", no_argument, NULL, 'f'},
	{"window", required_argument, NULL, OPT_WINDOW},
	{0},
};

int cmd_monitor(struct cli *g, int argc, char **argv)
{
	const char *pipeline = NULL, *state;
	bool follow = false;
	struct cdx_error err = {0};
	struct cdx_store *s = NULL;
	struct cdx_project *pr = NULL;
	struct follow f;
	struct cli_opts p;
	char cursor[64];
	size_t recent = 5;
	cJSON *runs, *r;
	int rc = 0;
	memset(&f, 0, sizeof(f));
	cli_opts_begin(&p, g, "monitor", argc, argv, "f", monitor_longs, 1);
	while (!rc && cli_opts_next(&p)) {
		if (p.opt == 'f')
			follow = true;
		else if (p.opt == CLI_OPT_JSON)
			f.json = true;
		else
			rc = parse_window("monitor", p.arg, &recent);
	}
	if (!rc)
		rc = pipeline_and_project(g, &p, argv, &pipeline, &pr);
	if (rc)
		return rc;
	state = cli_state(g);
	if (!state || cdx_store_open(state, &s, &err) < 0) {
		if (state)
			cli_error("monitor: %s", err.msg);
		cdx_project_free(pr);
		return state ? err.code : CDX_EUSAGE;
	}
	f.pipeline = pipeline;
	f.runs = cJSON_CreateObject();
	/* the cursor first, so that nothing recorded while the history below
	 * is printed is missed */
	snprintf(cursor, sizeof(cursor), "$");
	if (follow && s->ops->tail && s->ops->tail(s, cursor, 0, follow_one, &f, &err) < 0) {
		cli_error("monitor: %s", err.msg);
		rc = err.code;
		goto out;
	}
	/* the recent runs, replayed as the events they were */
	runs = cdx_runs_recent(s, pipeline, recent, &err);
	if (!runs) {
		cli_error("monitor: %s", err.msg);
		rc = err.code;
		goto out;
	}
	cJSON_ArrayForEach(r, runs) replay_run(&f, r, pipeline);
	cJSON_Delete(runs);
	if (follow)
		rc = follow_tail(&f, s, cursor, pr);
out:
	cJSON_Delete(f.runs);
	cdx_store_close(s);
	cdx_project_free(pr);
	return rc;
}

/* ---- cdx metrics ---------------------------------------------------------- */

static const struct option metrics_longs[] = {{"prometheus", no_argument, NULL, CLI_OPT_OWN}, {0}};

int cmd_metrics(struct cli *g, int argc, char **argv)
{
	bool prom = false;
	struct cdx_error err = {0};
	struct cli_opts p;
	const char *state;
	char *text, *line, *next;
	cli_opts_begin(&p, g, "metrics", argc, argv, "", metrics_longs, 0);
	while (cli_opts_next(&p))
		prom = true; /* --prometheus */
	if (p.status)
		return p.status;
	state = cli_state(g);
	if (!state)
		return CDX_EUSAGE;
	text = cdx_monitor_metrics(state, &err);
	if (!text) {
		cli_error("metrics: %s", err.msg);
		return err.code;
	}
	{
		/* the worker pool of a redis:// state (exec/pool.h) */
		char *pool = cdx_pool_prometheus(state, &err), *both;
		if (pool) {
			both = cdx_xasprintf("%s%s", text, pool);
			free(text);
			free(pool);
			text = both;
		}
	}
	if (prom) {
		fputs(text, stdout);
	} else {
		/* for people: the samples without comments and buckets */
		for (line = text; *line; line = next) {
			next = strchr(line, '\n');
			next = next ? next + 1 : line + strlen(line);
			if (*line == '#' || memmem(line, (size_t)(next - line), "_bucket{", 8))
				continue;
			fwrite(line, 1, (size_t)(next - line), stdout);
		}
	}
	free(text);
	return 0;
}
