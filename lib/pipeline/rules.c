/* rules.c — reading a job's `rules:` (rules.h) and the glob matcher of
 * `changes:`. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/loader.h"
#include "pipeline/rules.h"

static const char *const rule_keys[] = {"if", "changes", "when", "variables", "allow_failure"};

struct cdx_rules *cdx_rules_ref(struct cdx_rules *r)
{
	if (r)
		r->refs++;
	return r;
}

void cdx_rules_unref(struct cdx_rules *r)
{
	size_t i, k;
	if (!r || --r->refs > 0)
		return;
	for (i = 0; i < r->n; i++) {
		struct cdx_rule *u = &r->r[i];
		cdx_expr_free(u->cond);
		free(u->if_src);
		for (k = 0; k < u->n_changes; k++)
			free(u->changes[k]);
		free(u->changes);
		cdx_vars_free(&u->vars);
	}
	free(r->r);
	free(r);
}

/* a glob of `changes:`: relative, no '..' component, no NUL */
static bool glob_ok(struct cdx_loader *l, const struct cdx_ynode *g)
{
	const char *s = g->str;
	if (g->len == 0 || g->len > 1024) {
		cdx_cfg_problem(&l->c, g, "changes glob must have 1 to 1024 characters");
		return false;
	}
	if (s[0] == '/') {
		cdx_cfg_problem(&l->c, g, "changes glob '%s' must be relative to the workspace", s);
		return false;
	}
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			cdx_cfg_problem(&l->c, g,
					"changes glob '%s' must stay inside the workspace (no '..')", g->str);
			return false;
		}
		if (!e)
			return true;
		s = e + 1;
	}
}

static void parse_rule(struct cdx_loader *l, const struct cdx_ynode *m, struct cdx_rule *r)
{
	const struct cdx_ynode *v;
	r->allow_failure = -1;
	r->file = cdx_loader_intern(l, m->file);
	r->line = m->line;
	r->col = m->col;
	cdx_cfg_keys(&l->c, m, rule_keys, CDX_ARRAY_LEN(rule_keys), "rule");
	v = cdx_yaml_get(m, "if");
	if (v && cdx_cfg_want(&l->c, v, CDX_Y_SCALAR, "rule if")) {
		/* a quoted scalar's text starts after its quote */
		r->cond = cdx_expr_parse(v->str, v->file, v->line, v->col + (v->plain ? 0 : 1), l->c.diags);
		if (r->cond)
			r->if_src = cdx_xstrdup(v->str);
		else
			l->c.problems++;
	}
	v = cdx_yaml_get(m, "changes");
	if (v) {
		const struct cdx_ynode *const *items;
		size_t i, n_items, cap = 0;
		r->has_changes = true;
		if (v->type == CDX_Y_MAP) {
			static const char *const ck[] = {"paths"};
			cdx_cfg_keys(&l->c, v, ck, 1, "changes");
			v = cdx_cfg_need(&l->c, v, "paths", "changes");
		}
		if (v && cdx_cfg_items(&l->c, &v, "changes", &items, &n_items)) {
			if (n_items > CDX_CHANGES_MAX)
				cdx_cfg_problem(&l->c, v, "changes has more than %d globs", CDX_CHANGES_MAX);
			else if (n_items == 0)
				cdx_cfg_problem(&l->c, v, "changes must name at least one glob");
			for (i = 0; i < n_items && i < CDX_CHANGES_MAX; i++)
				if (cdx_cfg_want(&l->c, items[i], CDX_Y_SCALAR, "a changes glob") &&
				    glob_ok(l, items[i]))
					CDX_PUSH(r->changes, r->n_changes, cap, cdx_xstrdup(items[i]->str));
		}
	}
	v = cdx_yaml_get(m, "when");
	if (v)
		r->has_when = cdx_loader_when(l, v, &r->when);
	v = cdx_yaml_get(m, "variables");
	if (v)
		cdx_loader_vars(l, v, "rule variables", false, &r->vars);
	v = cdx_yaml_get(m, "allow_failure");
	if (v) {
		bool b;
		if (cdx_cfg_bool(&l->c, v, "rule allow_failure", &b))
			r->allow_failure = b;
	}
}

static struct cdx_rules *read_rules(struct cdx_loader *l, const struct cdx_ynode *n);

struct cdx_rules *cdx_loader_rules(struct cdx_loader *l, const struct cdx_ynode *n)
{
	char key[32];
	size_t idx, n_keys;
	struct cdx_rules *rs;
	snprintf(key, sizeof(key), "%p", (const void *)n);
	if (cdx_map_get(&l->rules_of, key, &idx))
		return cdx_rules_ref(l->rules_made[idx]);
	rs = read_rules(l, n); /* NULL too is kept: its problems are reported once */
	n_keys = l->n_rules_made;
	CDX_PUSH(l->rules_keys, n_keys, l->cap_rules_keys, cdx_xstrdup(key));
	CDX_PUSH(l->rules_made, l->n_rules_made, l->cap_rules_made, cdx_rules_ref(rs));
	cdx_map_put(&l->rules_of, l->rules_keys[l->n_rules_made - 1], l->n_rules_made - 1, NULL);
	return rs;
}

static struct cdx_rules *read_rules(struct cdx_loader *l, const struct cdx_ynode *n)
{
	struct cdx_rules *rs;
	size_t i, cap = 0;
	if (!cdx_cfg_want(&l->c, n, CDX_Y_SEQ, "rules"))
		return NULL;
	if (n->n == 0) {
		cdx_cfg_problem(&l->c, n,
				"rules must have at least one rule (without rules, leave the key out)");
		return NULL;
	}
	if (n->n > CDX_RULES_MAX) {
		cdx_cfg_problem(&l->c, n, "a job has more than %d rules", CDX_RULES_MAX);
		return NULL;
	}
	rs = cdx_xcalloc(1, sizeof(*rs));
	rs->refs = 1;
	for (i = 0; i < n->n; i++) {
		struct cdx_rule r = {0};
		if (!cdx_cfg_want(&l->c, n->items[i], CDX_Y_MAP, "a rule"))
			continue;
		parse_rule(l, n->items[i], &r);
		CDX_PUSH(rs->r, rs->n, cap, r);
	}
	return rs;
}

/* components of glob G[0..NG) against path P[0..NP): dynamic programming
 * over (glob component, path component), so that many '**' stay linear */
#define GLOB_MAX_PARTS 128
bool cdx_glob_match(const char *glob, const char *path)
{
	const char *gp[GLOB_MAX_PARTS], *pp[GLOB_MAX_PARTS];
	size_t gl[GLOB_MAX_PARTS], pl[GLOB_MAX_PARTS], ng = 0, np = 0, i, j;
	bool dp[GLOB_MAX_PARTS + 1][GLOB_MAX_PARTS + 1];
	const char *s;
	char gbuf[1025], pbuf[4097];
	for (s = glob;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n || !e) {
			if (ng == GLOB_MAX_PARTS)
				return false;
			gp[ng] = s;
			gl[ng++] = n;
		}
		if (!e)
			break;
		s = e + 1;
	}
	/* "dir/" means everything under dir */
	if (ng && gl[ng - 1] == 0) {
		gp[ng - 1] = "**";
		gl[ng - 1] = 2;
	}
	for (s = path;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n) {
			if (np == GLOB_MAX_PARTS)
				return false;
			pp[np] = s;
			pl[np++] = n;
		}
		if (!e)
			break;
		s = e + 1;
	}
	/* dp[i][j]: glob parts i.. match path parts j.. */
	for (i = ng + 1; i-- > 0;)
		for (j = np + 1; j-- > 0;) {
			bool ok;
			if (i == ng) {
				ok = j == np;
			} else if (gl[i] == 2 && gp[i][0] == '*' && gp[i][1] == '*') {
				ok = dp[i + 1][j] || (j < np && dp[i][j + 1]);
			} else if (j == np || gl[i] >= sizeof(gbuf) || pl[j] >= sizeof(pbuf)) {
				ok = false;
			} else {
				memcpy(gbuf, gp[i], gl[i]);
				gbuf[gl[i]] = 0;
				memcpy(pbuf, pp[j], pl[j]);
				pbuf[pl[j]] = 0;
				ok = dp[i + 1][j + 1] && fnmatch(gbuf, pbuf, FNM_PERIOD) == 0;
			}
			dp[i][j] = ok;
		}
	return dp[0][0];
}
