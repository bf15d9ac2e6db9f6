/* test_monitor.c — monitor.c, alerts.c, metrics.c, monitor_config.c,
 * state/runs.c and the store operations they stand on (store_file.c's tail,
 * store.c's scan_runs), on a real file store filled with records written
 * the way run.c and deploy.c write them: health states and their
 * thresholds, flaky and slowest jobs, alerts that fire once and resolve
 * once, notify on stdin through cdx_hook_run_opts, metrics label escaping, the
 * monitoring: section's positions. */
#include "fixtures.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <time.h>

#include "base/diag.h"
#include "exec/hook.h"
#include "observe/monitor.h"
#include "observe/monitor_int.h"
#include "state/runs.h"
#include "state/store.h"

/* ---- helpers ------------------------------------------------------------- */

struct fx {
	char *dir;
	char *url;
	struct cdx_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cdx_error err = {0};
	f->dir = fx_tmpdir();
	assert_non_null(f->dir);
	f->url = malloc(strlen(f->dir) + 16);
	snprintf(f->url, strlen(f->dir) + 16, "file:%s/st", f->dir);
	assert_int_equal(cdx_store_open(f->url, &f->s, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	cdx_store_close(f->s);
	fx_rmrf(f->dir);
	free(f->dir);
	free(f->url);
	free(f);
	return 0;
}

static void put(struct cdx_store *s, const char *json)
{
	struct cdx_error err = {0};
	cJSON *o = cJSON_Parse(json);
	assert_non_null(o);
	assert_int_equal(s->ops->append(s, o, &err), 0);
	assert_int_equal(s->ops->flush(s, &err), 0);
	cJSON_Delete(o);
}

/* run N of PIPELINE: one job JOB whose attempts end as ATTEMPTS says
 * ("fs" = failed then success), the run STATUS after DUR ms */
static void run(struct cdx_store *s, const char *pl, int n, const char *status, double dur, const char *job,
		const char *attempts)
{
	char buf[1024];
	double start = 1e12 + n * 100000.0;
	size_t k;
	snprintf(buf, sizeof(buf),
		 "{\"t\":\"run\",\"id\":\"%s-%03d\",\"pipeline\":\"%s\",\"start_ms\":%.0f,\"host\":\"elsewhere\","
		 "\"pid\":1,\"workers\":2,\"job_count\":1}",
		 pl, n, pl, start);
	put(s, buf);
	for (k = 0; attempts[k]; k++) {
		snprintf(buf, sizeof(buf),
			 "{\"t\":\"attempt\",\"run\":\"%s-%03d\",\"pipeline\":\"%s\",\"job\":\"%s\",\"attempt\":%zu,"
			 "\"status\":\"%s\",\"exit_code\":%d,\"start_ms\":%.0f,\"wall_ms\":%.0f,\"log\":\"/nonexistent\"}",
			 pl, n, pl, job, k + 1, attempts[k] == 's' ? "success" : "failed", attempts[k] == 's' ? 0 : 1,
			 start + (double)k * dur / (double)strlen(attempts), dur / (double)strlen(attempts));
		put(s, buf);
	}
	snprintf(buf, sizeof(buf),
		 "{\"t\":\"job\",\"run\":\"%s-%03d\",\"pipeline\":\"%s\",\"job\":\"%s\",\"status\":\"%s\","
		 "\"attempts\":%zu,\"duration_ms\":%.0f}",
		 pl, n, pl, job, attempts[strlen(attempts) - 1] == 's' ? "success" : "failed", strlen(attempts), dur);
	put(s, buf);
	if (status) {
		snprintf(buf, sizeof(buf),
			 "{\"t\":\"run_end\",\"id\":\"%s-%03d\",\"pipeline\":\"%s\",\"status\":\"%s\",\"end_ms\":%.0f,"
			 "\"duration_ms\":%.0f}",
			 pl, n, pl, status, start + dur, dur);
		put(s, buf);
	}
}

static const char *status_of(cJSON *h)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(h, "status"));
}

static cJSON *health(struct fx *f, const struct cdx_monitor_config *c, size_t window)
{
	struct cdx_error err = {0};
	cJSON *h = cdx_monitor_health_in(f->s, "ci", c, window, &err);
	assert_non_null(h);
	return h;
}

/* ---- health --------------------------------------------------------------- */

static void test_health_states(void **state)
{
	struct fx *f = *state;
	struct cdx_monitor_config *c = cdx_monitor_config_new(NULL);
	cJSON *h;
	int i;
	h = health(f, c, 0);
	assert_string_equal(status_of(h), "unknown");
	cJSON_Delete(h);
	for (i = 1; i <= 9; i++)
		run(f->s, "ci", i, "success", 1000 + i * 10, "t/a", "s");
	run(f->s, "other", 1, "failed", 5, "t/a", "f"); /* another pipeline: not counted */
	h = health(f, c, 0);
	assert_string_equal(status_of(h), "healthy");
	assert_int_equal((int)cdx_jn(h, "runs"), 9);
	assert_true(cdx_jn(h, "success_rate") == 1);
	assert_true(cdx_jn(cJSON_GetObjectItem(h, "duration_ms"), "p50") == 1050);
	cJSON_Delete(h);
	/* the latest failed: degraded */
	run(f->s, "ci", 10, "failed", 900, "t/a", "f");
	h = health(f, c, 0);
	assert_string_equal(status_of(h), "degraded");
	assert_int_equal((int)cdx_jn(h, "consecutive_failures"), 1);
	assert_string_equal(cdx_js(cJSON_GetObjectItem(h, "last_failure"), "run"), "ci-010");
	cJSON_Delete(h);
	/* three in a row: failing; a cancelled and a running run do not count */
	run(f->s, "ci", 11, "failed", 900, "t/a", "f");
	run(f->s, "ci", 12, "cancelled", 10, "t/a", "f");
	run(f->s, "ci", 13, "failed", 900, "t/a", "f");
	run(f->s, "ci", 14, NULL, 10, "t/a", "s");
	h = health(f, c, 0);
	assert_string_equal(status_of(h), "failing");
	assert_int_equal((int)cdx_jn(h, "consecutive_failures"), 3);
	assert_int_equal((int)cdx_jn(h, "running"), 1);
	assert_int_equal((int)cdx_jn(h, "cancelled"), 1);
	cJSON_Delete(h);
	/* a higher threshold: degraded only (success rate 9/12 < 0.9) */
	c->consecutive_failures = 4;
	h = health(f, c, 0);
	assert_string_equal(status_of(h), "degraded");
	cJSON_Delete(h);
	/* a window of 3: all failed, success rate 0 < 0.5 */
	h = health(f, c, 3);
	assert_string_equal(status_of(h), "failing");
	assert_int_equal((int)cdx_jn(h, "runs"), 3);
	cJSON_Delete(h);
	cdx_monitor_config_free(c);
}

static void test_health_slowdown_and_trend(void **state)
{
	struct fx *f = *state;
	struct cdx_monitor_config *c = cdx_monitor_config_new(NULL);
	cJSON *h, *t;
	int i;
	for (i = 1; i <= 4; i++)
		run(f->s, "ci", i, "success", 1000, "t/a", "s");
	for (i = 5; i <= 8; i++)
		run(f->s, "ci", i, "success", 1400, "t/a", "s");
	h = health(f, c, 4);
	assert_string_equal(status_of(h), "healthy"); /* 1.4 x < 1.5 x */
	t = cJSON_GetObjectItem(h, "trend");
	assert_int_equal((int)cdx_jn(t, "previous_runs"), 4);
	assert_string_equal(cdx_js(t, "direction"), "worse");
	assert_true(fabs(cdx_jn(t, "mean_change") - 0.4) < 1e-6);
	cJSON_Delete(h);
	c->slowdown = 1.3;
	h = health(f, c, 4);
	assert_string_equal(status_of(h), "degraded");
	assert_non_null(strstr(cJSON_GetArrayItem(cJSON_GetObjectItem(h, "reasons"), 0)->valuestring, "p95"));
	cJSON_Delete(h);
	cdx_monitor_config_free(c);
}

static void test_flaky_and_slowest(void **state)
{
	struct fx *f = *state;
	cJSON *h, *fl, *sl;
	/* t/r passes on retry once; t/x alternates; t/s is steady and slow */
	run(f->s, "ci", 1, "success", 100, "t/r", "fs");
	run(f->s, "ci", 2, "success", 100, "t/r", "s");
	run(f->s, "ci", 3, "success", 50, "t/x", "s");
	run(f->s, "ci", 4, "failed", 50, "t/x", "f");
	run(f->s, "ci", 5, "success", 50, "t/x", "s");
	run(f->s, "ci", 6, "success", 5000, "t/s", "s");
	h = health(f, NULL, 0);
	fl = cJSON_GetObjectItem(h, "flaky_jobs");
	assert_int_equal(cJSON_GetArraySize(fl), 2);
	assert_string_equal(cdx_js(cJSON_GetArrayItem(fl, 0), "job"), "t/r");
	assert_string_equal(cdx_js(cJSON_GetArrayItem(fl, 0), "reason"), "passed only on retry");
	assert_string_equal(cdx_js(cJSON_GetArrayItem(fl, 1), "job"), "t/x");
	assert_int_equal((int)cdx_jn(cJSON_GetArrayItem(fl, 1), "flips"), 2);
	sl = cJSON_GetObjectItem(h, "slowest_jobs");
	assert_string_equal(cdx_js(cJSON_GetArrayItem(sl, 0), "job"), "t/s");
	assert_true(cdx_jn(cJSON_GetArrayItem(sl, 0), "mean_ms") == 5000);
	cJSON_Delete(h);
}

/* ---- alerts ----------------------------------------------------------------- */

static struct cdx_monitor_config *one_alert(enum cdx_alert_kind kind, double threshold, const char *notify)
{
	struct cdx_monitor_config *c = cdx_monitor_config_new(NULL);
	struct cdx_alert_rule r;
	memset(&r, 0, sizeof(r));
	r.name = strdup("a1");
	r.when = strdup("test");
	r.kind = kind;
	r.threshold = threshold;
	r.notify = notify ? strdup(notify) : NULL;
	CDX_PUSH(c->alerts, c->n_alerts, c->cap_alerts, r);
	return c;
}

static int evaluate(struct fx *f, const struct cdx_monitor_config *c, const char *want_kind)
{
	struct cdx_error err = {0};
	cJSON *a = cdx_monitor_alerts_in(f->s, "ci", c, &err);
	int n;
	assert_non_null(a);
	n = cJSON_GetArraySize(a);
	if (want_kind && n)
		assert_string_equal(cdx_js(cJSON_GetArrayItem(a, 0), "kind"), want_kind);
	cJSON_Delete(a);
	return n;
}

static void test_alert_once_per_incident(void **state)
{
	struct fx *f = *state;
	struct cdx_monitor_config *c = one_alert(CDX_ALERT_CONSECUTIVE_FAILURES, 2, NULL);
	run(f->s, "ci", 1, "failed", 10, "t/a", "f");
	assert_int_equal(evaluate(f, c, NULL), 0);
	run(f->s, "ci", 2, "failed", 10, "t/a", "f");
	assert_int_equal(evaluate(f, c, "alert"), 1);
	assert_int_equal(evaluate(f, c, NULL), 0);
	run(f->s, "ci", 3, "failed", 10, "t/a", "f");
	assert_int_equal(evaluate(f, c, NULL), 0);
	run(f->s, "ci", 4, "success", 10, "t/a", "s");
	assert_int_equal(evaluate(f, c, "alert_resolved"), 1);
	assert_int_equal(evaluate(f, c, NULL), 0);
	/* the state is in the store: a new handle sees it */
	{
		struct cdx_store *s2;
		struct cdx_error err = {0};
		cJSON *a;
		assert_int_equal(cdx_store_open(f->url, &s2, &err), 0);
		a = cdx_monitor_alerts_in(s2, "ci", c, &err);
		assert_int_equal(cJSON_GetArraySize(a), 0);
		cJSON_Delete(a);
		cdx_store_close(s2);
	}
	run(f->s, "ci", 5, "failed", 10, "t/a", "f");
	run(f->s, "ci", 6, "failed", 10, "t/a", "f");
	assert_int_equal(evaluate(f, c, "alert"), 1);
	cdx_monitor_config_free(c);
}

static void test_alert_p95_and_rate(void **state)
{
	struct fx *f = *state;
	struct cdx_monitor_config *p95 = one_alert(CDX_ALERT_P95, 2, NULL), *rate;
	int i;
	p95->alerts[0].window = 3;
	for (i = 1; i <= 3; i++)
		run(f->s, "ci", i, "success", 1000, "t/a", "s");
	assert_int_equal(evaluate(f, p95, NULL), 0); /* no baseline yet */
	for (i = 4; i <= 6; i++)
		run(f->s, "ci", i, "success", 2500, "t/a", "s");
	assert_int_equal(evaluate(f, p95, "alert"), 1);
	cdx_monitor_config_free(p95);
	rate = one_alert(CDX_ALERT_SUCCESS_RATE, 0.5, NULL);
	free(rate->alerts[0].name);
	rate->alerts[0].name = strdup("a2"); /* a1 is firing for the p95 */
	rate->alerts[0].window = 8;
	run(f->s, "ci", 7, "failed", 10, "t/a", "f");
	assert_int_equal(evaluate(f, rate, NULL), 0); /* 7 runs: the window is not full */
	for (i = 8; i <= 11; i++)
		run(f->s, "ci", i, "failed", 10, "t/a", "f");
	assert_int_equal(evaluate(f, rate, "alert"), 1); /* 3 of 8 passed */
	cdx_monitor_config_free(rate);
}

static void test_alert_notify_stdin(void **state)
{
	struct fx *f = *state;
	char cmd[1100], *out, path[512];
	size_t len;
	struct cdx_error err = {0};
	struct cdx_monitor_config *c;
	cJSON *o;
	snprintf(path, sizeof(path), "%s/notified", f->dir);
	snprintf(cmd, sizeof(cmd), "{ cat; echo \" $CDX_ALERT $CDX_ALERT_STATE\"; } >'%s'", path);
	c = one_alert(CDX_ALERT_CONSECUTIVE_FAILURES, 1, cmd);
	run(f->s, "ci", 1, "failed", 10, "t/a", "f");
	assert_int_equal(evaluate(f, c, "alert"), 1);
	assert_int_equal(cdx_read_file(path, 1 << 20, &out, &len, &err), 0);
	assert_non_null(strstr(out, " a1 firing\n"));
	*strstr(out, " a1 firing\n") = '\0';
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_string_equal(cdx_js(o, "alert"), "a1");
	assert_string_equal(cdx_js(o, "subject"), "pipeline:ci");
	assert_null(cJSON_GetObjectItem(o, "t"));
	cJSON_Delete(o);
	free(out);
	/* a notify command that hangs is killed at notify_timeout (at each of
	 * its three tries, 1 s and 2 s apart) */
	cdx_monitor_config_free(c);
	c = one_alert(CDX_ALERT_CONSECUTIVE_FAILURES, 1, "sleep 30");
	free(c->alerts[0].name);
	c->alerts[0].name = strdup("slow");
	c->notify_timeout_ms = 200;
	{
		int64_t t0 = cdx_now_ns();
		assert_int_equal(evaluate(f, c, "alert"), 1);
		assert_true(cdx_now_ns() - t0 < 10000000000LL);
	}
	cdx_monitor_config_free(c);
}

/* the one action of evaluating C (named NAME) for ci; caller frees */
static cJSON *notified(struct fx *f, struct cdx_monitor_config *c, const char *name)
{
	struct cdx_error err = {0};
	cJSON *a, *one;
	free(c->alerts[0].name);
	c->alerts[0].name = strdup(name);
	a = cdx_monitor_alerts_in(f->s, "ci", c, &err);
	assert_non_null(a);
	assert_int_equal(cJSON_GetArraySize(a), 1);
	one = cJSON_DetachItemFromArray(a, 0);
	cJSON_Delete(a);
	return one;
}

/* the notify command runs through cdx_hook_run_opts: the JSON comes on its
 * stdin, and it runs in the project's directory; its status is recorded,
 * CDX_HOOK_TIMEDOUT for one killed at notify_timeout; one that reads none
 * or only part of a large JSON ends normally */
static void test_alert_notify_hook(void **state)
{
	struct fx *f = *state;
	char cmd[1200], path[512], *out, *big;
	size_t len, n = 512u << 10;
	struct cdx_error err = {0};
	struct cdx_monitor_config *c;
	cJSON *a, *o;
	snprintf(path, sizeof(path), "%s/got", f->dir);
	snprintf(cmd, sizeof(cmd), "{ pwd; cat; } >'%s'", path);
	c = one_alert(CDX_ALERT_CONSECUTIVE_FAILURES, 1, cmd);
	free(c->dir);
	c->dir = strdup(f->dir);
	run(f->s, "ci", 1, "failed", 10, "t/a", "f");
	a = notified(f, c, "read");
	assert_int_equal((int)cdx_jn(a, "notify_status"), 0);
	cJSON_Delete(a);
	assert_int_equal(cdx_read_file(path, 1 << 20, &out, &len, &err), 0);
	assert_true(strncmp(out, f->dir, strlen(f->dir)) == 0 && out[strlen(f->dir)] == '\n');
	o = cJSON_Parse(out + strlen(f->dir) + 1);
	assert_non_null(o);
	assert_string_equal(cdx_js(o, "alert"), "read");
	assert_string_equal(cdx_js(o, "state"), "firing");
	cJSON_Delete(o);
	free(out);
	/* a command that does not read its stdin, one that fails, one killed */
	free(c->alerts[0].notify);
	c->alerts[0].notify = strdup("true");
	a = notified(f, c, "unread");
	assert_int_equal((int)cdx_jn(a, "notify_status"), 0);
	cJSON_Delete(a);
	free(c->alerts[0].notify);
	c->alerts[0].notify = strdup("exit 3");
	a = notified(f, c, "three");
	assert_int_equal((int)cdx_jn(a, "notify_status"), 3);
	cJSON_Delete(a);
	free(c->alerts[0].notify);
	c->alerts[0].notify = strdup("sleep 30");
	c->notify_timeout_ms = 100;
	a = notified(f, c, "killed");
	assert_int_equal((int)cdx_jn(a, "notify_status"), CDX_HOOK_TIMEDOUT);
	cJSON_Delete(a);
	/* a JSON of 512 KiB (a long `when`; the event recorded with it must stay
	 * under the store's 1 MiB a record), many pipefuls: read in part, not at
	 * all, and whole */
	big = malloc(n + 1);
	memset(big, 'w', n);
	big[n] = '\0';
	free(c->alerts[0].when);
	c->alerts[0].when = big;
	c->notify_timeout_ms = 10000;
	free(c->alerts[0].notify);
	c->alerts[0].notify = strdup("head -c 100 >/dev/null; exit 5");
	a = notified(f, c, "part");
	assert_int_equal((int)cdx_jn(a, "notify_status"), 5);
	cJSON_Delete(a);
	free(c->alerts[0].notify);
	c->alerts[0].notify = strdup("exit 6");
	a = notified(f, c, "none");
	assert_int_equal((int)cdx_jn(a, "notify_status"), 6);
	cJSON_Delete(a);
	free(c->alerts[0].notify);
	snprintf(cmd, sizeof(cmd), "wc -c >'%s'", path);
	c->alerts[0].notify = strdup(cmd);
	a = notified(f, c, "all");
	assert_int_equal((int)cdx_jn(a, "notify_status"), 0);
	cJSON_Delete(a);
	assert_int_equal(cdx_read_file(path, 1 << 20, &out, &len, &err), 0);
	assert_true(atol(out) > (long)n);
	free(out);
	assert_int_equal(evaluate(f, c, NULL), 0); /* recorded: not again */
	cdx_monitor_config_free(c);
}

static void test_alert_deployments(void **state)
{
	struct fx *f = *state;
	struct cdx_monitor_config *c = one_alert(CDX_ALERT_ROLLED_BACK, 0, NULL);
	put(f->s, "{\"t\":\"deployment\",\"id\":\"d1\",\"app\":\"web\",\"env\":\"prod\",\"version\":\"2\"}");
	put(f->s, "{\"t\":\"transition\",\"deployment\":\"d1\",\"state\":\"rolled_back\",\"at_ms\":1}");
	assert_int_equal(evaluate(f, c, "alert"), 1);
	assert_int_equal(evaluate(f, c, NULL), 0);
	put(f->s, "{\"t\":\"deployment\",\"id\":\"d2\",\"app\":\"web\",\"env\":\"prod\",\"version\":\"3\"}");
	put(f->s, "{\"t\":\"transition\",\"deployment\":\"d2\",\"state\":\"succeeded\",\"at_ms\":2}");
	assert_int_equal(evaluate(f, c, "alert_resolved"), 1);
	cdx_monitor_config_free(c);
	c = one_alert(CDX_ALERT_FROZEN, 0, NULL);
	put(f->s, "{\"t\":\"event\",\"kind\":\"deployment_frozen\",\"app\":\"web\",\"env\":\"prod\"}");
	assert_int_equal(evaluate(f, c, "alert"), 1);
	put(f->s, "{\"t\":\"event\",\"kind\":\"deployment_unfrozen\",\"app\":\"web\",\"env\":\"prod\"}");
	assert_int_equal(evaluate(f, c, "alert_resolved"), 1);
	cdx_monitor_config_free(c);
}

/* ---- metrics ------------------------------------------------------------------ */

static void test_metrics(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	char *m;
	run(f->s, "ci", 1, "success", 1500, "t/a", "fs");
	/* a label value with a quote, a backslash and a newline */
	put(f->s, "{\"t\":\"job\",\"run\":\"x\",\"pipeline\":\"ci\",\"job\":\"q\\\"b\\\\n\\nl\",\"status\":\"failed\"}");
	m = cdx_monitor_metrics(f->url, &err);
	assert_non_null(m);
	assert_non_null(strstr(m, "# TYPE cdx_runs_total counter\ncdx_runs_total{pipeline=\"ci\",status=\"success\"} 1\n"));
	assert_non_null(strstr(m, "cdx_attempts_total{pipeline=\"ci\",status=\"failed\"} 1\n"));
	assert_non_null(strstr(m, "job=\"q\\\"b\\\\n\\nl\""));
	assert_non_null(strstr(m, "cdx_run_duration_seconds_bucket{pipeline=\"ci\",le=\"1\"} 0\n"));
	assert_non_null(strstr(m, "cdx_run_duration_seconds_bucket{pipeline=\"ci\",le=\"2.5\"} 1\n"));
	assert_non_null(strstr(m, "cdx_run_duration_seconds_count{pipeline=\"ci\"} 1\n"));
	free(m);
	/* a store that does not exist: empty, and not created */
	{
		char url[600];
		snprintf(url, sizeof(url), "file:%s/none", f->dir);
		m = cdx_monitor_metrics(url, &err);
		assert_non_null(m);
		assert_non_null(strstr(m, "cdx_runs_in_progress 0"));
		free(m);
		snprintf(url, sizeof(url), "%s/none", f->dir);
		assert_int_equal(access(url, F_OK), -1);
	}
}

/* ---- store: tail and scan_runs ------------------------------------------------- */

static int count_rec(void *ctx, const cJSON *rec)
{
	(void)rec;
	(*(int *)ctx)++;
	return 0;
}

static void test_tail(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	char cur[64] = "";
	int n = 0;
	int64_t t0;
	put(f->s, "{\"t\":\"event\",\"kind\":\"a\"}");
	put(f->s, "{\"t\":\"event\",\"kind\":\"b\"}");
	assert_int_equal(f->s->ops->tail(f->s, cur, 0, count_rec, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cur, "2");
	/* nothing new: returns after the wait */
	n = 0;
	t0 = cdx_now_ns();
	assert_int_equal(f->s->ops->tail(f->s, cur, 150, count_rec, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_true(cdx_now_ns() - t0 >= 140000000);
	put(f->s, "{\"t\":\"event\",\"kind\":\"c\"}");
	assert_int_equal(f->s->ops->tail(f->s, cur, 1000, count_rec, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(cur, "3");
	/* "$": from now on; an old cursor from another reader works too */
	{
		char now[64] = "$", old[64] = "1";
		n = 0;
		assert_int_equal(f->s->ops->tail(f->s, now, 0, count_rec, &n, &err), 0);
		assert_int_equal(n, 0);
		assert_string_equal(now, "3");
		assert_int_equal(f->s->ops->tail(f->s, old, 0, count_rec, &n, &err), 0);
		assert_int_equal(n, 2);
	}
	/* records written by another handle (another process's view) */
	{
		struct cdx_store *s2;
		n = 0;
		assert_int_equal(cdx_store_open(f->url, &s2, &err), 0);
		put(s2, "{\"t\":\"event\",\"kind\":\"d\"}");
		cdx_store_close(s2);
		assert_int_equal(f->s->ops->tail(f->s, cur, 1000, count_rec, &n, &err), 0);
		assert_int_equal(n, 1);
		assert_string_equal(cur, "4");
	}
	{
		char bad[64] = "x1";
		assert_int_equal(f->s->ops->tail(f->s, bad, 0, count_rec, &n, &err), -1);
		assert_int_equal(err.code, CDX_EUSAGE);
	}
}

struct ids {
	char seen[16][32];
	int n;
};

static int collect_runs(void *ctx, const cJSON *rec)
{
	struct ids *c = ctx;
	const char *t = cdx_js(rec, "t");
	if (strcmp(t, "run") == 0 && c->n < 16)
		snprintf(c->seen[c->n++], 32, "%s", cdx_js(rec, "id"));
	if (strcmp(t, "attempt") == 0 || strcmp(t, "job") == 0)
		assert_true(strncmp(cdx_js(rec, "run"), "ci-", 3) == 0);
	return 0;
}

static void test_scan_runs(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	struct ids c;
	cJSON *runs;
	int i;
	for (i = 1; i <= 5; i++) {
		run(f->s, "ci", i, "success", 10, "t/a", "s");
		run(f->s, "cd", i, "success", 10, "t/a", "s");
	}
	/* a make run: its job's records come before its run record */
	put(f->s, "{\"t\":\"attempt\",\"run\":\"ci-900\",\"pipeline\":\"ci\",\"job\":\"t/a\",\"attempt\":1,"
		  "\"status\":\"success\",\"start_ms\":2e12,\"wall_ms\":5}");
	put(f->s, "{\"t\":\"run\",\"id\":\"ci-900\",\"pipeline\":\"ci\",\"start_ms\":2e12,\"host\":\"elsewhere\"}");
	put(f->s, "{\"t\":\"run_end\",\"id\":\"ci-900\",\"status\":\"success\",\"end_ms\":2e12,\"duration_ms\":9}");
	memset(&c, 0, sizeof(c));
	assert_int_equal(cdx_store_scan_runs(f->s, "ci", 3, collect_runs, &c, &err), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.seen[0], "ci-004");
	assert_string_equal(c.seen[2], "ci-900");
	runs = cdx_runs_recent(f->s, "ci", 2, &err);
	assert_int_equal(cJSON_GetArraySize(runs), 2);
	assert_string_equal(cdx_js(cJSON_GetArrayItem(runs, 1), "id"), "ci-900");
	assert_string_equal(cdx_js(cJSON_GetArrayItem(runs, 1), "status"), "success");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
				 cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 1), "jobs"), 0),
				 "attempts")),
			 1);
	cJSON_Delete(runs);
	memset(&c, 0, sizeof(c));
	assert_int_equal(cdx_store_scan_runs(f->s, "nothing", 3, collect_runs, &c, &err), 0);
	assert_int_equal(c.n, 0);
}

/* ---- monitoring: in cdx.yml ------------------------------------------------------ */

static void test_config(void **state)
{
	struct fx *f = *state;
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_project *pr;
	const struct cdx_monitor_config *c;
	char *p = fx_write(f->dir, "cdx.yml",
			   "monitoring:\n"
			   "  window: 7\n"
			   "  min_runs: 2\n"
			   "  notify_timeout: 3s\n"
			   "  thresholds: {healthy: 0.95, failing: 0.6, consecutive_failures: 4, slowdown: 2}\n"
			   "  retry_backoff: 30s\n"
			   "  alerts:\n"
			   "    - {name: red, when: consecutive_failures >= 3, pipeline: ci, notify: ./n.sh,\n"
			   "       webhook: 'https://hooks.example/T1?x=1'}\n"
			   "    - {when: 'success_rate < 80%', window: 10}\n"
			   "    - {when: p95 > 1.5 x baseline}\n"
			   "    - {when: deployment rolled_back}\n"
			   "    - {when: deployment frozen}\n");
	pr = cdx_project_load(p, d);
	assert_non_null(pr);
	c = cdx_project_monitoring(pr);
	assert_int_equal(c->window, 7);
	assert_int_equal(c->min_runs, 2);
	assert_int_equal(c->notify_timeout_ms, 3000);
	assert_true(c->healthy == 0.95 && c->failing == 0.6 && c->slowdown == 2);
	assert_int_equal(c->consecutive_failures, 4);
	assert_int_equal(c->n_alerts, 5);
	assert_string_equal(c->alerts[0].name, "red");
	assert_string_equal(c->alerts[0].pipeline, "ci");
	assert_string_equal(c->alerts[0].webhook, "https://hooks.example/T1?x=1");
	assert_null(c->alerts[1].webhook);
	assert_int_equal(c->retry_backoff_ms, 30000);
	assert_int_equal(c->alerts[0].kind, CDX_ALERT_CONSECUTIVE_FAILURES);
	assert_true(c->alerts[1].threshold == 0.8);
	assert_int_equal(c->alerts[1].window, 10);
	assert_string_equal(c->alerts[1].name, "all.success_rate---80-");
	assert_int_equal(c->alerts[2].kind, CDX_ALERT_P95);
	assert_true(c->alerts[2].threshold == 1.5);
	assert_int_equal(c->alerts[3].kind, CDX_ALERT_ROLLED_BACK);
	assert_int_equal(c->alerts[4].kind, CDX_ALERT_FROZEN);
	assert_string_equal(c->alerts[0].file, p);
	assert_int_equal(c->alerts[0].line, 8);
	cdx_project_free(pr);
	free(p);
	/* without monitoring: the defaults */
	p = fx_write(f->dir, "cdx.yml", "state: file:.cdx\n");
	pr = cdx_project_load(p, d);
	assert_non_null(pr);
	assert_int_equal(cdx_project_monitoring(pr)->window, 20);
	assert_int_equal(cdx_project_monitoring(pr)->n_alerts, 0);
	cdx_project_free(pr);
	free(p);
	cdx_diags_free(d);
}

static void expect_problem(const char *dir, const char *text, const char *want)
{
	struct cdx_diags *d = cdx_diags_new();
	char *p = fx_write(dir, "cdx.yml", text);
	struct cdx_buf b = {0};
	size_t i;
	assert_null(cdx_project_load(p, d));
	for (i = 0; i < cdx_diags_count(d); i++) {
		cdx_diag_format(cdx_diags_get(d, i), &b);
		cdx_buf_addc(&b, '\n');
	}
	if (!strstr(b.data ? b.data : "", want))
		fail_msg("expected [%s] in:\n%s", want, b.data ? b.data : "(nothing)");
	cdx_buf_free(&b);
	cdx_diags_free(d);
	free(p);
}

static void test_config_errors(void **state)
{
	struct fx *f = *state;
	expect_problem(f->dir, "monitoring: [1]\n", "cdx.yml:1:13: monitoring must be a mapping");
	expect_problem(f->dir, "monitoring:\n  windw: 3\n",
		       "cdx.yml:2:3: unknown key 'windw' in monitoring (did you mean 'window'?)");
	expect_problem(f->dir, "monitoring:\n  window: 1001\n", "cdx.yml:2:11: window must be from 1 to 1000, not 1001");
	expect_problem(f->dir, "monitoring:\n  window: 2.5\n", "cdx.yml:2:11: window must be a whole number, not 2.5");
	expect_problem(f->dir, "monitoring:\n  window: '3'\n", "cdx.yml:2:11: window must be a number, not a quoted string");
	expect_problem(f->dir, "monitoring:\n  thresholds: {healthy: 2}\n", "cdx.yml:2:25: healthy must be from 0 to 1, not 2");
	expect_problem(f->dir, "monitoring:\n  notify_timeout: soon\n", "cdx.yml:2:19: notify_timeout 'soon' is not a positive duration");
	expect_problem(f->dir, "monitoring:\n  alerts: {a: 1}\n", "cdx.yml:2:11: alerts must be a list");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {notify: x}\n", "cdx.yml:3:7: alert has no when:");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {when: consecutive_failures >= 0}\n",
		       "cdx.yml:3:14: alert condition 'consecutive_failures >= 0' is not one of");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {when: p95 > 2x median}\n", "cdx.yml:3:14: alert condition");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {when: frozen, pipeline: ci}\n",
		       "cdx.yml:3:32: a deployment alert is about deployments, not pipeline 'ci'");
	expect_problem(f->dir,
		       "monitoring:\n  alerts:\n    - {name: a, when: frozen}\n    - {name: a, when: rolled_back}\n",
		       "cdx.yml:4:7: alert 'a' is defined twice");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {name: 'a b', when: frozen}\n",
		       "cdx.yml:3:14: alert name 'a b' is invalid");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {when: frozen, notify: ''}\n",
		       "cdx.yml:3:30: notify must not be empty");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {when: frozen, webhook: 'ftp://h/x'}\n",
		       "cdx.yml:3:31: webhook 'ftp://h/x' must be an http:// or https:// URL");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {when: frozen, webhook: 'https:///x'}\n",
		       "cdx.yml:3:31: webhook 'https:///x' names no host");
	expect_problem(f->dir, "monitoring:\n  alerts:\n    - {when: frozen, webhook: 'http://h/a b'}\n",
		       "cdx.yml:3:31: webhook URL must not hold spaces");
	expect_problem(f->dir, "monitoring:\n  retry_backoff: 0s\n", "cdx.yml:2:18: ");
}

/* an undelivered notification is tried again retry_backoff after the
 * last try, then after twice that, and so on, at most an hour apart */
static void test_alert_retry_due(void **state)
{
	(void)state;
	assert_false(cdx_alert_retry_due(1000, 0, 60000, 1000));
	assert_false(cdx_alert_retry_due(1000, 0, 60000, 60999));
	assert_true(cdx_alert_retry_due(1000, 0, 60000, 61000));
	assert_false(cdx_alert_retry_due(1000, 1, 60000, 61000));
	assert_true(cdx_alert_retry_due(1000, 1, 60000, 121000));
	assert_false(cdx_alert_retry_due(1000, 3, 60000, 480999));
	assert_true(cdx_alert_retry_due(1000, 3, 60000, 481000));
	/* the cap: an hour, however many tries */
	assert_true(cdx_alert_retry_due(0, 40, 60000, 3600000));
	assert_false(cdx_alert_retry_due(0, 40, 60000, 3599999));
	/* a backoff longer than the cap is kept */
	assert_true(cdx_alert_retry_due(0, 5, 7200000, 7200000));
	/* a clock that went back: not yet */
	assert_false(cdx_alert_retry_due(5000, 0, 1000, 4000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_health_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_slowdown_and_trend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flaky_and_slowest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_once_per_incident, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_p95_and_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_notify_stdin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_notify_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_deployments, setup, teardown),
		cmocka_unit_test(test_alert_retry_due),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
