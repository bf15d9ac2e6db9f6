/* monitor_config.c — the `monitoring:` section of cdx.yml (monitor_config.h).
 *
 *   monitoring:
 *     window: 20                  # runs in the health window
 *     min_runs: 1                 # fewer finished runs: unknown
 *     thresholds: {healthy: 0.9, failing: 0.5, consecutive_failures: 3, slowdown: 1.5}
 *     notify_timeout: 10s
 *     retry_backoff: 1m           # undelivered: tried again after this, doubling
 *     alerts:
 *       - name: ci-red
 *         when: consecutive_failures >= 3   # or: success_rate < 0.8,
 *         pipeline: ci                      #  p95 > 2x baseline,
 *         window: 10                        #  deployment rolled_back,
 *         notify: ./page-oncall.sh          #  deployment frozen
 *         webhook: https://hooks.example/T1 # JSON POST
 *
 * Like the rest of the project file, the section is read with the
 * config-tree toolkit (yaml/cfg.h): every problem at its FILE:LINE:COL,
 * unknown keys with the closest known one, one pass reports them all.
 * Numbers are written plain, and ranges read "must be from LO to HI".  The parser keeps nothing of the YAML tree: strings
 * are copied, positions point at the config's own copy of the file name.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/duration.h"
#include "project/monitor_config.h"

#define ALERTS_MAX 100

static const char *const monitoring_keys[] = {"window", "min_runs", "thresholds", "notify_timeout", "retry_backoff",
					       "alerts"};
static const char *const threshold_keys[] = {"healthy", "failing", "consecutive_failures", "slowdown"};
static const char *const alert_keys[] = {"name", "when", "pipeline", "window", "notify", "webhook"};

struct cdx_monitor_config *cdx_monitor_config_new(const char *dir)
{
	struct cdx_monitor_config *c = cdx_xcalloc(1, sizeof(*c));
	c->window = 20;
	c->min_runs = 1;
	c->healthy = 0.9;
	c->failing = 0.5;
	c->consecutive_failures = 3;
	c->slowdown = 1.5;
	c->notify_timeout_ms = 10000;
	c->retry_backoff_ms = 60000;
	c->dir = cdx_xstrdup(dir ? dir : ".");
	return c;
}

void cdx_monitor_config_free(struct cdx_monitor_config *c)
{
	size_t i;
	if (!c)
		return;
	for (i = 0; i < c->n_alerts; i++) {
		free(c->alerts[i].name);
		free(c->alerts[i].when);
		free(c->alerts[i].pipeline);
		free(c->alerts[i].notify);
		free(c->alerts[i].webhook);
	}
	free(c->alerts);
	free(c->dir);
	free(c->file);
	free(c);
}

/* a plain number in [LO, HI] */
static bool number(struct cdx_cfg *c, const struct cdx_ynode *v, const char *key, double lo, double hi,
		   double *out)
{
	double x;
	if (!cdx_cfg_number(c, v, key, &x))
		return false;
	if (x < lo || x > hi) {
		cdx_cfg_problem(c, v, "%s must be from %g to %g, not %s", key, lo, hi, v->str);
		return false;
	}
	*out = x;
	return true;
}

/* a plain whole number in [LO, HI] */
static bool integer(struct cdx_cfg *c, const struct cdx_ynode *v, const char *key, double lo, double hi,
		    size_t *out)
{
	double x;
	if (!number(c, v, key, lo, hi, &x))
		return false;
	if (x != floor(x)) {
		cdx_cfg_problem(c, v, "%s must be a whole number, not %s", key, v->str);
		return false;
	}
	*out = (size_t)x;
	return true;
}

/* a string that is not empty and holds no NUL byte, or NULL */
static const struct cdx_ynode *text(struct cdx_cfg *c, const struct cdx_ynode *v, const char *key)
{
	if (!v || !cdx_cfg_want(c, v, CDX_Y_SCALAR, key))
		return NULL;
	if (!*v->str || memchr(v->str, '\0', v->len)) {
		cdx_cfg_problem(c, v, "%s must not be empty%s", key, !*v->str ? "" : " or hold a NUL byte");
		return NULL;
	}
	return v;
}

/* a webhook URL: http:// or https://, a host, no space or control
 * character */
static bool webhook_url(struct cdx_cfg *c, const struct cdx_ynode *v)
{
	const char *s = v->str, *p;
	size_t n = strncasecmp(s, "http://", 7) == 0 ? 7 : strncasecmp(s, "https://", 8) == 0 ? 8 : 0;
	if (!n) {
		cdx_cfg_problem(c, v, "webhook '%s' must be an http:// or https:// URL", s);
		return false;
	}
	for (p = s; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			cdx_cfg_problem(c, v, "webhook URL must not hold spaces or control characters");
			return false;
		}
	}
	if (!s[n] || s[n] == '/') {
		cdx_cfg_problem(c, v, "webhook '%s' names no host", s);
		return false;
	}
	return true;
}

/* parse_when: the condition S into R; false when it is not one */
static bool parse_when(const char *s, struct cdx_alert_rule *r)
{
	char norm[128], *e;
	size_t i, k = 0;
	double x;
	for (i = 0; s[i]; i++) {
		if (isspace((unsigned char)s[i]))
			continue;
		if (k + 1 >= sizeof(norm))
			return false;
		norm[k++] = (char)tolower((unsigned char)s[i]);
	}
	norm[k] = '\0';
	if (strncmp(norm, "consecutive_failures>=", 22) == 0) {
		x = strtod(norm + 22, &e);
		if (*e || e == norm + 22 || x < 1 || x > CDX_MONITOR_WINDOW_MAX || x != floor(x))
			return false;
		r->kind = CDX_ALERT_CONSECUTIVE_FAILURES;
		r->threshold = x;
		return true;
	}
	if (strncmp(norm, "success_rate<", 13) == 0) {
		x = strtod(norm + 13, &e);
		if (e == norm + 13)
			return false;
		if (strcmp(e, "%") == 0) {
			x /= 100;
			e++;
		}
		if (*e || !(x > 0) || x > 1)
			return false;
		r->kind = CDX_ALERT_SUCCESS_RATE;
		r->threshold = x;
		return true;
	}
	if (strncmp(norm, "p95>", 4) == 0) {
		x = strtod(norm + 4, &e);
		if (e == norm + 4 || !(x > 0) || !isfinite(x) || x > 1000)
			return false;
		if (*e == 'x' || *e == '*')
			e++;
		if (strcmp(e, "baseline") != 0)
			return false;
		r->kind = CDX_ALERT_P95;
		r->threshold = x;
		return true;
	}
	if (strcmp(norm, "deploymentrolled_back") == 0 || strcmp(norm, "deployment_rolled_back") == 0 ||
	    strcmp(norm, "rolled_back") == 0) {
		r->kind = CDX_ALERT_ROLLED_BACK;
		return true;
	}
	if (strcmp(norm, "deploymentfrozen") == 0 || strcmp(norm, "deployment_frozen") == 0 ||
	    strcmp(norm, "frozen") == 0) {
		r->kind = CDX_ALERT_FROZEN;
		return true;
	}
	return false;
}

/* the name an alert without one gets from its condition: stable, and
 * unique per condition */
static char *alert_name(const struct cdx_alert_rule *r, const char *when)
{
	struct cdx_buf b = {0};
	const char *s;
	cdx_buf_adds(&b, r->pipeline ? r->pipeline : "all");
	cdx_buf_addc(&b, '.');
	for (s = when; *s && b.len < CDX_NAME_MAX; s++)
		cdx_buf_addc(&b, isalnum((unsigned char)*s) || *s == '.' || *s == '_' ? *s : '-');
	return cdx_buf_detach(&b);
}

static void parse_alert(struct cdx_cfg *c, const struct cdx_ynode *a, struct cdx_monitor_config *mc)
{
	struct cdx_alert_rule r;
	const struct cdx_ynode *v, *when;
	size_t i;
	int before = c->problems;
	memset(&r, 0, sizeof(r));
	if (!cdx_cfg_want(c, a, CDX_Y_MAP, "an alert"))
		return;
	cdx_cfg_keys(c, a, alert_keys, CDX_ARRAY_LEN(alert_keys), "alert");
	when = cdx_yaml_get(a, "when");
	if (!when) {
		cdx_cfg_problem(c, a, "alert has no when: (e.g. consecutive_failures >= 3)");
		return;
	}
	if (!text(c, when, "when"))
		return;
	if (!parse_when(when->str, &r)) {
		cdx_cfg_problem(c, when,
				"alert condition '%s' is not one of: consecutive_failures >= N, success_rate < X, "
				"p95 > K x baseline, deployment rolled_back, deployment frozen",
				when->str);
		return;
	}
	r.file = mc->file;
	r.line = when->line;
	r.col = when->col;
	v = cdx_yaml_get(a, "name");
	if (v && cdx_cfg_name(c, v, "alert name"))
		r.name = cdx_xstrdup(v->str);
	v = cdx_yaml_get(a, "pipeline");
	if (v && cdx_cfg_name(c, v, "pipeline name")) {
		if (r.kind == CDX_ALERT_ROLLED_BACK || r.kind == CDX_ALERT_FROZEN)
			cdx_cfg_problem(c, v, "a deployment alert is about deployments, not pipeline '%s'", v->str);
		else
			r.pipeline = cdx_xstrdup(v->str);
	}
	v = cdx_yaml_get(a, "window");
	if (v)
		integer(c, v, "window", 1, CDX_MONITOR_WINDOW_MAX, &r.window);
	v = text(c, cdx_yaml_get(a, "notify"), "notify");
	if (v)
		r.notify = cdx_xstrdup(v->str);
	v = text(c, cdx_yaml_get(a, "webhook"), "webhook");
	if (v && webhook_url(c, v))
		r.webhook = cdx_xstrdup(v->str);
	if (!r.name)
		r.name = alert_name(&r, when->str);
	for (i = 0; i < mc->n_alerts; i++) {
		if (strcmp(mc->alerts[i].name, r.name) == 0) {
			cdx_cfg_problem(c, a, "alert '%s' is defined twice (names must be unique)", r.name);
			break;
		}
	}
	r.when = cdx_xstrdup(when->str);
	if (c->problems > before) {
		free(r.name);
		free(r.when);
		free(r.pipeline);
		free(r.notify);
		free(r.webhook);
		return;
	}
	CDX_PUSH(mc->alerts, mc->n_alerts, mc->cap_alerts, r);
}

static void parse_thresholds(struct cdx_cfg *c, const struct cdx_ynode *t, struct cdx_monitor_config *mc)
{
	const struct cdx_ynode *v, *failing = cdx_yaml_get(t, "failing"), *healthy = cdx_yaml_get(t, "healthy");
	size_t cf;
	double x;
	cdx_cfg_keys(c, t, threshold_keys, CDX_ARRAY_LEN(threshold_keys), "thresholds");
	if (healthy && number(c, healthy, "healthy", 0, 1, &x))
		mc->healthy = x;
	if (failing && number(c, failing, "failing", 0, 1, &x))
		mc->failing = x;
	v = cdx_yaml_get(t, "slowdown");
	if (v && number(c, v, "slowdown", 1, 1000, &x))
		mc->slowdown = x;
	v = cdx_yaml_get(t, "consecutive_failures");
	if (v && integer(c, v, "consecutive_failures", 1, CDX_MONITOR_WINDOW_MAX, &cf))
		mc->consecutive_failures = (unsigned)cf;
	if (mc->failing > mc->healthy)
		cdx_cfg_problem(c, failing ? failing : t, "thresholds: failing (%s) must not be above healthy (%s)",
				failing ? failing->str : "0.5", healthy ? healthy->str : "0.9");
}

static void parse_monitoring(struct cdx_cfg *c, const struct cdx_ynode *m, struct cdx_monitor_config *mc)
{
	const struct cdx_ynode *v;
	size_t i;
	if (cdx_yaml_is_null(m) || !cdx_cfg_want(c, m, CDX_Y_MAP, "monitoring"))
		return;
	cdx_cfg_keys(c, m, monitoring_keys, CDX_ARRAY_LEN(monitoring_keys), "monitoring");
	v = cdx_yaml_get(m, "window");
	if (v)
		integer(c, v, "window", 1, CDX_MONITOR_WINDOW_MAX, &mc->window);
	v = cdx_yaml_get(m, "min_runs");
	if (v)
		integer(c, v, "min_runs", 1, CDX_MONITOR_WINDOW_MAX, &mc->min_runs);
	v = cdx_yaml_get(m, "notify_timeout");
	if (v && cdx_cfg_want(c, v, CDX_Y_SCALAR, "notify_timeout")) {
		const char *why;
		int64_t ms;
		if (cdx_duration_parse(v->str, &ms, &why) < 0 || ms <= 0)
			cdx_cfg_problem(c, v, "notify_timeout '%s' is not a positive duration", v->str);
		else
			mc->notify_timeout_ms = ms;
	}
	v = cdx_yaml_get(m, "retry_backoff");
	if (v)
		cdx_cfg_duration(c, v, "retry_backoff", false, &mc->retry_backoff_ms);
	v = cdx_yaml_get(m, "thresholds");
	if (v && !cdx_yaml_is_null(v) && cdx_cfg_want(c, v, CDX_Y_MAP, "thresholds"))
		parse_thresholds(c, v, mc);
	v = cdx_yaml_get(m, "alerts");
	if (v && !cdx_yaml_is_null(v) && cdx_cfg_want(c, v, CDX_Y_SEQ, "alerts")) {
		if (v->n > ALERTS_MAX)
			cdx_cfg_problem(c, v, "too many alerts (the limit is %d)", ALERTS_MAX);
		else
			for (i = 0; i < v->n; i++)
				parse_alert(c, v->items[i], mc);
	}
}

void cdx_monitor_config_parse(struct cdx_cfg *c, const struct cdx_ynode *m, struct cdx_monitor_config *mc)
{
	bool plain = c->plain_numbers;
	if (!mc->file)
		mc->file = cdx_xstrdup(m->file);
	c->plain_numbers = true; /* thresholds are numbers, not '0.9' */
	parse_monitoring(c, m, mc);
	c->plain_numbers = plain;
}
