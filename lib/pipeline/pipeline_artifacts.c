/* pipeline_artifacts.c — a job's `artifacts:` key:
 *
 *   artifacts:
 *     paths: [dist/, reports]                  # globs relative to the workspace,
 *                                              # "**" for any directories
 *     when: on_success | on_failure | always   # default on_success
 *     expire_in: 7d | "1 week" | never         # default 30 days
 *
 * A bare list is `paths:`.  Globs are checked here (relative, no "..",
 * bounded: base/pack.h), so a run never meets one it cannot use.
 * expire_in is GitLab's: a number with a unit (s, m/min, h/hr, d/day,
 * w/week, mo/month = 30 days, y/year = 365 days, words in the singular or
 * plural, parts may follow each other: "1 day 12 hours"), or "never";
 * at most 10 years. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/pack.h"
#include "pipeline/loader.h"

static const char *const artifact_keys[] = {"paths", "when", "expire_in"};
static const char *const artifact_whens[] = {"on_success", "on_failure", "always"};

#define EXPIRE_MAX_MS ((int64_t)3650 * 24 * 3600 * 1000)

/* the milliseconds of unit word W (N bytes), 0 when it is none */
static int64_t unit_ms(const char *w, size_t n)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = {
	    {"ms", 1},
	    {"s", 1000},
	    {"sec", 1000},
	    {"secs", 1000},
	    {"second", 1000},
	    {"seconds", 1000},
	    {"m", 60000},
	    {"min", 60000},
	    {"mins", 60000},
	    {"minute", 60000},
	    {"minutes", 60000},
	    {"h", 3600000},
	    {"hr", 3600000},
	    {"hrs", 3600000},
	    {"hour", 3600000},
	    {"hours", 3600000},
	    {"d", 86400000},
	    {"day", 86400000},
	    {"days", 86400000},
	    {"w", 604800000},
	    {"wk", 604800000},
	    {"week", 604800000},
	    {"weeks", 604800000},
	    {"mo", 2592000000},
	    {"month", 2592000000},
	    {"months", 2592000000},
	    {"y", 31536000000},
	    {"yr", 31536000000},
	    {"year", 31536000000},
	    {"years", 31536000000},
	};
	for (size_t i = 0; i < CDX_ARRAY_LEN(units); i++)
		if (strlen(units[i].name) == n && strncasecmp(units[i].name, w, n) == 0)
			return units[i].ms;
	return 0;
}

/* S as expire_in: 0 with *MS set (0: never), or -1 with a static *WHY */
static int parse_expire(const char *s, int64_t *ms, const char **why)
{
	int64_t total = 0;
	int parts = 0;
	if (strcasecmp(s, "never") == 0) {
		*ms = 0;
		return 0;
	}
	while (*s) {
		char *end;
		double v;
		size_t wl;
		int64_t u;
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		if (!isdigit((unsigned char)*s)) {
			*why = "expected a number";
			return -1;
		}
		v = strtod(s, &end);
		s = end;
		while (*s == ' ')
			s++;
		wl = 0;
		while (isalpha((unsigned char)s[wl]))
			wl++;
		if (wl == 0) {
			*why = "a number needs a unit (s, m, h, d, w, mo, y)";
			return -1;
		}
		u = unit_ms(s, wl);
		if (!u) {
			*why = "unknown unit (use s, m, h, d, w, mo, y, or their words)";
			return -1;
		}
		s += wl;
		if (v * (double)u > (double)EXPIRE_MAX_MS) {
			*why = "longer than 10 years (use never)";
			return -1;
		}
		total += (int64_t)(v * (double)u);
		parts++;
	}
	if (!parts) {
		*why = "empty";
		return -1;
	}
	if (total > EXPIRE_MAX_MS) {
		*why = "longer than 10 years (use never)";
		return -1;
	}
	if (total < 1000) {
		*why = "shorter than a second";
		return -1;
	}
	*ms = total;
	return 0;
}

static void add_paths(struct cdx_loader *l, const struct cdx_ynode *n, struct cdx_job_artifacts *a)
{
	const struct cdx_ynode *const *items;
	size_t n_items, cap = 0;
	if (!cdx_cfg_items(&l->c, &n, "artifacts paths", &items, &n_items))
		return;
	for (size_t i = 0; i < n_items; i++) {
		struct cdx_error err = {0};
		if (!cdx_cfg_want(&l->c, items[i], CDX_Y_SCALAR, "an artifacts path"))
			continue;
		if (cdx_glob_check(items[i]->str, &err) < 0) {
			cdx_cfg_problem(&l->c, items[i], "%s", err.msg);
			continue;
		}
		CDX_PUSH(a->paths, a->n, cap, cdx_xstrdup(items[i]->str));
	}
	if (n_items == 0)
		cdx_cfg_problem(&l->c, n, "artifacts paths is empty (name the files to keep)");
}

void cdx_loader_artifacts(struct cdx_loader *l, const struct cdx_ynode *n, struct cdx_job *j)
{
	struct cdx_job_artifacts *a = &j->artifacts;
	const struct cdx_ynode *v;
	cdx_job_artifacts_free(a);
	a->when = CDX_ARTIFACTS_ON_SUCCESS;
	a->expire_ms = CDX_ARTIFACTS_EXPIRE_DEFAULT_MS;
	if (n->type == CDX_Y_SEQ) {
		add_paths(l, n, a);
		return;
	}
	if (!cdx_cfg_want(&l->c, n, CDX_Y_MAP, "artifacts"))
		return;
	cdx_cfg_keys(&l->c, n, artifact_keys, CDX_ARRAY_LEN(artifact_keys), "artifacts");
	v = cdx_cfg_need(&l->c, n, "paths", "artifacts");
	if (v)
		add_paths(l, v, a);
	v = cdx_yaml_get(n, "when");
	if (v) {
		int w =
		    cdx_cfg_choice(&l->c, v, "artifacts when", artifact_whens, CDX_ARRAY_LEN(artifact_whens));
		if (w >= 0)
			a->when = w;
	}
	v = cdx_yaml_get(n, "expire_in");
	if (v && cdx_cfg_want(&l->c, v, CDX_Y_SCALAR, "artifacts expire_in")) {
		const char *why = NULL;
		if (parse_expire(v->str, &a->expire_ms, &why) < 0)
			cdx_cfg_problem(&l->c, v, "artifacts expire_in '%s' is invalid: %s", v->str, why);
	}
}

void cdx_job_artifacts_copy(struct cdx_job_artifacts *dst, const struct cdx_job_artifacts *src)
{
	*dst = *src;
	dst->paths = src->n ? cdx_xcalloc(src->n, sizeof(char *)) : NULL;
	for (size_t i = 0; i < src->n; i++)
		dst->paths[i] = cdx_xstrdup(src->paths[i]);
}

void cdx_job_artifacts_free(struct cdx_job_artifacts *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->paths[i]);
	free(a->paths);
	a->paths = NULL;
	a->n = 0;
}
