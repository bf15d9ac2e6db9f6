/* monitor_config.c — the `monitoring:` section of cdx.yml (monitor_config.h).
 *
 *   monitoring:
 *     window: 20                  # runs in the health window
 *     min_runs: 1                 # fewer finished runs: unknown
 *     thresholds: {healthy: 0.9, failing: 0.5, consecutive_failures: 3, slowdown: 1.5}
 *     notify_timeout: 10s
 *     alerts:
 *       - name: ci-red
 *         when: consecutive_failures >= 3   # or: success_rate < 0.8,
 *         pipeline: ci                      #  p95 > 2x baseline,
 *         window: 10                        #  deployment rolled_back,
 *         notify: ./page-oncall.sh          #  deployment frozen
 *
 * Like the rest of the project file, every problem is reported at its
 * FILE:LINE:COL, unknown keys with the closest known one, and one pass
 * reports them all.  The parser keeps nothing of the YAML tree: strings
 * are copied, positions point at the config's own copy of the file name.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "project/monitor_config.h"

#define ALERTS_MAX 100

static const char *const monitoring_keys[] = {"window", "min_runs", "thresholds", "notify_timeout", "alerts"};
static const char *const threshold_keys[] = {"healthy", "failing", "consecutive_failures", "slowdown"};
static const char *const alert_keys[] = {"name", "when", "pipeline", "window", "notify"};

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
	}
	free(c->alerts);
	free(c->dir);
	free(c->file);
	free(c);
}

static void problem(struct cdx_diags *d, int *n, const struct cdx_ynode *at, const char *fmt, const char *a,
		    const char *b)
{
	cdx_diags_add(d, at->file, at->line, at->col, fmt, a, b);
	(*n)++;
}

static void check_keys(const struct cdx_ynode *map, const char *what, const char *const *keys, size_t nk,
		       struct cdx_diags *d, int *n)
{
	size_t i, q;
	for (i = 0; i < map->n; i++) {
		const struct cdx_ynode *k = map->pairs[i].key;
		const char *near;
		for (q = 0; q < nk; q++)
			if (strcmp(k->str, keys[q]) == 0)
				break;
		if (q < nk)
			continue;
		near = cdx_closest(k->str, keys, nk);
		if (near) {
			cdx_diags_add(d, k->file, k->line, k->col, "unknown key '%s' in %s (did you mean '%s'?)", k->str,
				      what, near);
			(*n)++;
		} else {
			problem(d, n, k, "unknown key '%s' in %s", k->str, what);
		}
	}
}

/* a plain number in [LO, HI]; false with a problem otherwise */
static bool number(const struct cdx_ynode *v, const char *key, double lo, double hi, double *out,
		   struct cdx_diags *d, int *n)
{
	char *end;
	double x;
	if (v->type != CDX_Y_SCALAR || cdx_yaml_is_null(v) || !v->plain) {
		problem(d, n, v, "%s must be a number, not %s", key, v->type == CDX_Y_SCALAR && !v->plain
									 ? "a quoted string" : cdx_yaml_typename(v));
		return false;
	}
	errno = 0;
	x = strtod(v->str, &end);
	if (*end || errno || end == v->str || !isfinite(x)) {
		problem(d, n, v, "%s must be a number, not '%s'", key, v->str);
		return false;
	}
	if (x < lo || x > hi) {
		char range[96];
		snprintf(range, sizeof(range), "%g to %g", lo, hi);
		cdx_diags_add(d, v->file, v->line, v->col, "%s must be from %s, not %s", key, range, v->str);
		(*n)++;
		return false;
	}
	*out = x;
	return true;
}

static bool integer(const struct cdx_ynode *v, const char *key, double lo, double hi, size_t *out,
		    struct cdx_diags *d, int *n)
{
	double x;
	if (!number(v, key, lo, hi, &x, d, n))
		return false;
	if (x != floor(x)) {
		problem(d, n, v, "%s must be a whole number, not %s", key, v->str);
		return false;
	}
	*out = (size_t)x;
	return true;
}

static const struct cdx_ynode *string(const struct cdx_ynode *v, const char *key, struct cdx_diags *d, int *n)
{
	if (!v)
		return NULL;
	if (v->type != CDX_Y_SCALAR || cdx_yaml_is_null(v)) {
		problem(d, n, v, "%s must be a string, not %s", key, cdx_yaml_typename(v));
		return NULL;
	}
	if (!*v->str || memchr(v->str, '\0', v->len)) {
		problem(d, n, v, "%s must not be empty%s", key, !*v->str ? "" : " or hold a NUL byte");
		return NULL;
	}
	return v;
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

static void parse_alert(const struct cdx_ynode *a, struct cdx_monitor_config *c, struct cdx_diags *d, int *n)
{
	struct cdx_alert_rule r;
	const struct cdx_ynode *v;
	size_t i;
	int before = *n;
	memset(&r, 0, sizeof(r));
	if (a->type != CDX_Y_MAP) {
		problem(d, n, a, "an alert must be a mapping with when: and notify:, not %s%s", cdx_yaml_typename(a), "");
		return;
	}
	check_keys(a, "alert", alert_keys, CDX_ARRAY_LEN(alert_keys), d, n);
	v = cdx_yaml_get(a, "when");
	if (!v) {
		problem(d, n, a, "alert has no when: (e.g. consecutive_failures >= 3)%s%s", "", "");
		return;
	}
	if (!string(v, "when", d, n))
		return;
	if (!parse_when(v->str, &r)) {
		problem(d, n, v,
			"alert condition '%s' is not one of: consecutive_failures >= N, success_rate < X, "
			"p95 > K x baseline, deployment rolled_back, deployment frozen%s",
			v->str, "");
		return;
	}
	r.file = c->file;
	r.line = v->line;
	r.col = v->col;
	v = string(cdx_yaml_get(a, "name"), "name", d, n);
	if (v && !cdx_name_valid(v->str))
		problem(d, n, v, "alert name '%s' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -%s", v->str,
			"");
	else if (v)
		r.name = cdx_xstrdup(v->str);
	v = string(cdx_yaml_get(a, "pipeline"), "pipeline", d, n);
	if (v && !cdx_name_valid(v->str))
		problem(d, n, v, "'%s' is not a pipeline name%s", v->str, "");
	else if (v && (r.kind == CDX_ALERT_ROLLED_BACK || r.kind == CDX_ALERT_FROZEN))
		problem(d, n, v, "a deployment alert is about deployments, not pipeline '%s'%s", v->str, "");
	else if (v)
		r.pipeline = cdx_xstrdup(v->str);
	v = cdx_yaml_get(a, "window");
	if (v)
		integer(v, "window", 1, CDX_MONITOR_WINDOW_MAX, &r.window, d, n);
	v = string(cdx_yaml_get(a, "notify"), "notify", d, n);
	if (v)
		r.notify = cdx_xstrdup(v->str);
	if (!r.name) {
		/* a name from the condition: stable, and unique per condition */
		struct cdx_buf b = {0};
		const char *s;
		cdx_buf_adds(&b, r.pipeline ? r.pipeline : "all");
		cdx_buf_addc(&b, '.');
		for (s = cdx_yaml_get(a, "when")->str; *s && b.len < CDX_NAME_MAX; s++)
			cdx_buf_addc(&b, isalnum((unsigned char)*s) || *s == '.' || *s == '_' ? *s : '-');
		r.name = cdx_buf_detach(&b);
	}
	for (i = 0; i < c->n_alerts; i++) {
		if (strcmp(c->alerts[i].name, r.name) == 0) {
			problem(d, n, a, "alert '%s' is defined twice (names must be unique)%s", r.name, "");
			break;
		}
	}
	r.when = cdx_xstrdup(cdx_yaml_get(a, "when")->str);
	if (*n > before) {
		free(r.name);
		free(r.when);
		free(r.pipeline);
		free(r.notify);
		return;
	}
	CDX_PUSH(c->alerts, c->n_alerts, c->cap_alerts, r);
}

int cdx_monitor_config_parse(const struct cdx_ynode *m, struct cdx_monitor_config *c, struct cdx_diags *d)
{
	const struct cdx_ynode *v, *t;
	int n = 0;
	size_t i;
	double x;
	if (!c->file)
		c->file = cdx_xstrdup(m->file);
	if (cdx_yaml_is_null(m))
		return 0;
	if (m->type != CDX_Y_MAP) {
		problem(d, &n, m, "monitoring must be a mapping (window, thresholds, alerts), not %s%s",
			cdx_yaml_typename(m), "");
		return n;
	}
	check_keys(m, "monitoring", monitoring_keys, CDX_ARRAY_LEN(monitoring_keys), d, &n);
	v = cdx_yaml_get(m, "window");
	if (v)
		integer(v, "window", 1, CDX_MONITOR_WINDOW_MAX, &c->window, d, &n);
	v = cdx_yaml_get(m, "min_runs");
	if (v)
		integer(v, "min_runs", 1, CDX_MONITOR_WINDOW_MAX, &c->min_runs, d, &n);
	v = cdx_yaml_get(m, "notify_timeout");
	if (v) {
		const char *why;
		int64_t ms;
		if (v->type != CDX_Y_SCALAR || cdx_yaml_is_null(v))
			problem(d, &n, v, "notify_timeout must be a duration such as 10s, not %s%s", cdx_yaml_typename(v),
				"");
		else if (cdx_duration_parse(v->str, &ms, &why) < 0 || ms <= 0)
			problem(d, &n, v, "notify_timeout '%s' is not a positive duration%s", v->str, "");
		else
			c->notify_timeout_ms = ms;
	}
	t = cdx_yaml_get(m, "thresholds");
	if (t && !cdx_yaml_is_null(t)) {
		if (t->type != CDX_Y_MAP) {
			problem(d, &n, t, "thresholds must be a mapping, not %s%s", cdx_yaml_typename(t), "");
		} else {
			size_t cf;
			check_keys(t, "thresholds", threshold_keys, CDX_ARRAY_LEN(threshold_keys), d, &n);
			v = cdx_yaml_get(t, "healthy");
			if (v && number(v, "healthy", 0, 1, &x, d, &n))
				c->healthy = x;
			v = cdx_yaml_get(t, "failing");
			if (v && number(v, "failing", 0, 1, &x, d, &n))
				c->failing = x;
			v = cdx_yaml_get(t, "slowdown");
			if (v && number(v, "slowdown", 1, 1000, &x, d, &n))
				c->slowdown = x;
			v = cdx_yaml_get(t, "consecutive_failures");
			if (v && integer(v, "consecutive_failures", 1, CDX_MONITOR_WINDOW_MAX, &cf, d, &n))
				c->consecutive_failures = (unsigned)cf;
			if (c->failing > c->healthy) {
				v = cdx_yaml_get(t, "failing") ? cdx_yaml_get(t, "failing") : t;
				problem(d, &n, v, "thresholds: failing (%s) must not be above healthy (%s)",
					cdx_yaml_get(t, "failing") ? cdx_yaml_get(t, "failing")->str : "0.5",
					cdx_yaml_get(t, "healthy") ? cdx_yaml_get(t, "healthy")->str : "0.9");
			}
		}
	}
	v = cdx_yaml_get(m, "alerts");
	if (v && !cdx_yaml_is_null(v)) {
		if (v->type != CDX_Y_SEQ) {
			problem(d, &n, v, "alerts must be a list, not %s%s", cdx_yaml_typename(v), "");
		} else if (v->n > ALERTS_MAX) {
			problem(d, &n, v, "too many alerts (the limit is 100)%s%s", "", "");
		} else {
			for (i = 0; i < v->n; i++)
				parse_alert(v->items[i], c, d, &n);
		}
	}
	return n;
}
