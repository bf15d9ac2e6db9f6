/* environment.c — reading `applications:` from cdx.yml (see environment.h).
 *
 * Every problem is reported with its FILE:LINE:COL and the loader goes on,
 * so one `cdx validate cdx.yml` lists them all.  Application-level keys are
 * defaults: each environment starts from a copy of them.  Cross-key rules
 * (canary needs two slots, rolling needs instances, steps ascend to 100)
 * are checked once the environment is read.
 */
#include "project/environment.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

static const char *const app_keys[] = {"environments", "artifact", "deploy_to", "keep_releases",
				       "hooks",	       "health",   "variables"};
static const char *const env_keys[] = {"strategy",  "slots",	"instances", "hooks",	   "health",
				       "variables", "protected", "requires", "rollback",   "blue_green",
				       "canary",    "rolling",	 "artifact", "deploy_to",  "keep_releases",
				       "hosts",	    "path",	 "ssh_config", "shared"};
static const char *const host_keys[] = {"name", "ssh", "port", "path", "variables"};
static const char *const hook_names[] = {"deploy", "start", "stop", "switch", "weight", "cleanup"};
static const char *const hook_keys[] = {"run", "irreversible", "timeout"};
static const char *const check_keys[] = {"http", "tcp", "command", "status", "body", "timeout", "retries",
					 "interval"};
static const char *const strategy_names[] = {"blue_green", "canary", "rolling"};
static const char *const rollback_names[] = {"immediate", "gradual", "blue_green"};
static const char *const rollback_keys[] = {"strategy", "on_failure"};
static const char *const bg_keys[] = {"scale_down_delay"};
static const char *const canary_keys[] = {"steps", "pause", "analysis"};
static const char *const analysis_keys[] = {"command", "max", "min", "no_data", "max_pause"};
static const char *const rolling_keys[] = {"batch", "max_unavailable"};
static const char *const requires_keys[] = {"pipeline"};

#define DEFAULT_HOOK_TIMEOUT_MS (10 * 60 * 1000)

const char *cdx_strategy_name(enum cdx_strategy_kind k)
{
	return strategy_names[k];
}

const char *cdx_hook_name(enum cdx_hook_id h)
{
	return hook_names[h];
}

const char *cdx_rollback_name(enum cdx_rollback_kind k)
{
	return rollback_names[k];
}

static int lookup(const char *s, const char *const *names, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

int cdx_strategy_parse(const char *s, enum cdx_strategy_kind *k)
{
	int i = lookup(s, strategy_names, CDX_ARRAY_LEN(strategy_names));
	if (i < 0)
		return -1;
	*k = (enum cdx_strategy_kind)i;
	return 0;
}

int cdx_rollback_parse(const char *s, enum cdx_rollback_kind *k)
{
	int i = lookup(s, rollback_names, CDX_ARRAY_LEN(rollback_names));
	if (i < 0)
		return -1;
	*k = (enum cdx_rollback_kind)i;
	return 0;
}

bool cdx_version_valid(const char *v)
{
	size_t i, n = strlen(v);
	if (n == 0 || n > 128 || v[0] == '.' || v[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char ch = v[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '.' || ch == '+' || ch == '-'))
			return false;
	}
	return true;
}

static void kv_free(struct cdx_kv *kv, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* variables: a mapping of environment names to scalar values */
static void parse_kv(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, struct cdx_kv **out,
		     size_t *count)
{
	size_t i;
	kv_free(*out, *count);
	*out = NULL;
	*count = 0;
	if (cdx_yaml_is_null(n) || !cdx_cfg_want(c, n, CDX_Y_MAP, what))
		return;
	*out = cdx_xcalloc(n->n ? n->n : 1, sizeof(**out));
	for (i = 0; i < n->n; i++) {
		const struct cdx_ynode *k = n->pairs[i].key, *v = n->pairs[i].val;
		if (!cdx_env_name_valid(k->str) || strncmp(k->str, "CDX_", 4) == 0) {
			cdx_cfg_problem(c, k, "variable name '%s' in %s is invalid: use A-Z a-z 0-9 _, not starting "
					      "with a digit or CDX_", k->str, what);
			continue;
		}
		if (v->type != CDX_Y_SCALAR || strlen(v->str) != v->len) {
			cdx_cfg_problem(c, v, "variable '%s' in %s must be a string, not %s", k->str, what,
					cdx_yaml_typename(v));
			continue;
		}
		(*out)[*count].key = cdx_xstrdup(k->str);
		(*out)[(*count)++].value = cdx_xstrdup(cdx_yaml_is_null(v) ? "" : v->str);
	}
}

static void kv_copy(struct cdx_kv **dst, size_t *nd, const struct cdx_kv *src, size_t ns)
{
	size_t i;
	*dst = cdx_xcalloc(ns ? ns : 1, sizeof(**dst));
	for (i = 0; i < ns; i++) {
		(*dst)[i].key = cdx_xstrdup(src[i].key);
		(*dst)[i].value = cdx_xstrdup(src[i].value);
	}
	*nd = ns;
}

static void parse_hooks(struct cdx_cfg *c, const struct cdx_ynode *n, struct cdx_hook *hooks)
{
	size_t i;
	if (!cdx_cfg_want(c, n, CDX_Y_MAP, "hooks"))
		return;
	cdx_cfg_keys(c, n, hook_names, CDX_ARRAY_LEN(hook_names), "hooks");
	for (i = 0; i < n->n; i++) {
		const struct cdx_ynode *k = n->pairs[i].key, *v = n->pairs[i].val, *x;
		int h = lookup(k->str, hook_names, CDX_ARRAY_LEN(hook_names));
		struct cdx_hook hk = {NULL, false, DEFAULT_HOOK_TIMEOUT_MS};
		if (h < 0)
			continue;
		if (v->type == CDX_Y_MAP) {
			cdx_cfg_keys(c, v, hook_keys, CDX_ARRAY_LEN(hook_keys), "a hook");
			x = cdx_yaml_get(v, "run");
			if (!x) {
				cdx_cfg_problem(c, v, "hook '%s' needs 'run', the command", k->str);
				continue;
			}
			if (!cdx_cfg_want(c, x, CDX_Y_SCALAR, "a hook's run"))
				continue;
			hk.cmd = cdx_xstrdup(x->str);
			if ((x = cdx_yaml_get(v, "irreversible")))
				cdx_cfg_bool(c, x, "irreversible", &hk.irreversible);
			if ((x = cdx_yaml_get(v, "timeout")))
				cdx_cfg_duration(c, x, "a hook's timeout", false, &hk.timeout_ms);
		} else if (cdx_cfg_want(c, v, CDX_Y_SCALAR, "a hook")) {
			hk.cmd = cdx_xstrdup(v->str);
		} else {
			continue;
		}
		free(hooks[h].cmd);
		hooks[h] = hk;
	}
}

static void checks_free(struct cdx_check *ck, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		free(ck[i].target);
		free(ck[i].body);
	}
	free(ck);
}

static bool parse_check(struct cdx_cfg *c, const struct cdx_ynode *m, struct cdx_check *ck)
{
	static const char *const kinds[] = {"http", "tcp", "command"};
	const struct cdx_ynode *x;
	size_t k, found = 0;
	memset(ck, 0, sizeof(*ck));
	ck->timeout_ms = 2000;
	ck->interval_ms = 1000;
	ck->attempts = 3;
	if (!cdx_cfg_want(c, m, CDX_Y_MAP, "a health check"))
		return false;
	cdx_cfg_keys(c, m, check_keys, CDX_ARRAY_LEN(check_keys), "a health check");
	for (k = 0; k < CDX_ARRAY_LEN(kinds); k++) {
		x = cdx_yaml_get(m, kinds[k]);
		if (!x)
			continue;
		if (found++) {
			cdx_cfg_problem(c, x, "a health check has one of http, tcp or command, not several");
			return false;
		}
		if (!cdx_cfg_want(c, x, CDX_Y_SCALAR, kinds[k]))
			return false;
		ck->kind = (enum cdx_check_kind)k;
		if (k == CDX_CHECK_HTTP && strncmp(x->str, "http://", 7) != 0 && strncmp(x->str, "https://", 8) != 0) {
			cdx_cfg_problem(c, x, "http check '%s' is not an http:// or https:// URL", x->str);
			return false;
		}
		if (k == CDX_CHECK_TCP && !strchr(x->str, ':')) {
			cdx_cfg_problem(c, x, "tcp check '%s' is not HOST:PORT", x->str);
			return false;
		}
		ck->target = cdx_xstrdup(x->str);
	}
	if (!found) {
		cdx_cfg_problem(c, m, "a health check needs one of http, tcp or command");
		return false;
	}
	if ((x = cdx_yaml_get(m, "status"))) {
		if (ck->kind != CDX_CHECK_HTTP)
			cdx_cfg_problem(c, x, "status applies to http checks only");
		else
			cdx_cfg_int(c, x, "status", 100, 599, &ck->status);
	}
	if ((x = cdx_yaml_get(m, "body"))) {
		if (ck->kind != CDX_CHECK_HTTP)
			cdx_cfg_problem(c, x, "body applies to http checks only");
		else if (cdx_cfg_want(c, x, CDX_Y_SCALAR, "body"))
			ck->body = cdx_xstrdup(x->str);
	}
	if ((x = cdx_yaml_get(m, "timeout")))
		cdx_cfg_duration(c, x, "a health check's timeout", false, &ck->timeout_ms);
	if ((x = cdx_yaml_get(m, "interval")))
		cdx_cfg_duration(c, x, "a health check's interval", true, &ck->interval_ms);
	if ((x = cdx_yaml_get(m, "retries")))
		cdx_cfg_int(c, x, "retries", 1, 1000, &ck->attempts);
	return true;
}

static void parse_health(struct cdx_cfg *c, const struct cdx_ynode *n, struct cdx_check **out, size_t *count)
{
	size_t i, items = n->type == CDX_Y_SEQ ? n->n : 1;
	checks_free(*out, *count);
	*out = cdx_xcalloc(items ? items : 1, sizeof(**out));
	*count = 0;
	if (cdx_yaml_is_null(n))
		return;
	for (i = 0; i < items; i++) {
		struct cdx_check *ck = &(*out)[*count];
		if (parse_check(c, n->type == CDX_Y_SEQ ? n->items[i] : n, ck)) {
			(*count)++;
		} else { /* a check refused half way may own its target */
			free(ck->target);
			free(ck->body);
			memset(ck, 0, sizeof(*ck));
		}
	}
}

static void checks_copy(struct cdx_check **dst, size_t *nd, const struct cdx_check *src, size_t ns)
{
	size_t i;
	*dst = cdx_xcalloc(ns ? ns : 1, sizeof(**dst));
	for (i = 0; i < ns; i++) {
		(*dst)[i] = src[i];
		(*dst)[i].target = cdx_xstrdup(src[i].target);
		(*dst)[i].body = src[i].body ? cdx_xstrdup(src[i].body) : NULL;
	}
	*nd = ns;
}

static void parse_targets(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, struct cdx_env *e)
{
	char kind[32];
	size_t i;
	snprintf(kind, sizeof(kind), "%s name", what);
	if (!cdx_cfg_want(c, n, CDX_Y_MAP, what))
		return;
	if (n->n == 0 || n->n > 256) {
		cdx_cfg_problem(c, n, "%s must name 1 to 256 %s", what, what);
		return;
	}
	e->targets = cdx_xcalloc(n->n, sizeof(*e->targets));
	for (i = 0; i < n->n; i++) {
		const struct cdx_ynode *k = n->pairs[i].key, *v = n->pairs[i].val;
		struct cdx_target *t = &e->targets[e->n_targets];
		if (!cdx_cfg_env_name(c, k, kind))
			continue;
		t->name = cdx_xstrdup(k->str);
		parse_kv(c, v, what, &t->vars, &t->n_vars);
		e->n_targets++;
	}
}

static void parse_canary(struct cdx_cfg *c, const struct cdx_ynode *n, struct cdx_env *e)
{
	const struct cdx_ynode *x, *a;
	size_t i;
	if (!cdx_cfg_want(c, n, CDX_Y_MAP, "canary"))
		return;
	cdx_cfg_keys(c, n, canary_keys, CDX_ARRAY_LEN(canary_keys), "canary");
	if ((x = cdx_yaml_get(n, "steps")) && cdx_cfg_want(c, x, CDX_Y_SEQ, "canary steps")) {
		free(e->steps);
		e->steps = cdx_xcalloc(x->n + 1, sizeof(int)); /* room for the 100 added below */
		e->n_steps = 0;
		for (i = 0; i < x->n; i++) {
			int w;
			if (!cdx_cfg_int(c, x->items[i], "a canary step", 1, 100, &w))
				continue;
			if (e->n_steps && w <= e->steps[e->n_steps - 1]) {
				cdx_cfg_problem(c, x->items[i], "canary steps must ascend: %d after %d", w,
						e->steps[e->n_steps - 1]);
				continue;
			}
			e->steps[e->n_steps++] = w;
		}
		if (e->n_steps && e->steps[e->n_steps - 1] != 100)
			e->steps[e->n_steps++] = 100; /* the last step always takes all traffic */
	}
	if ((x = cdx_yaml_get(n, "pause")))
		cdx_cfg_duration(c, x, "canary pause", true, &e->pause_ms);
	a = cdx_yaml_get(n, "analysis");
	if (!a || !cdx_cfg_want(c, a, CDX_Y_MAP, "canary analysis"))
		return;
	cdx_cfg_keys(c, a, analysis_keys, CDX_ARRAY_LEN(analysis_keys), "canary analysis");
	if ((x = cdx_yaml_get(a, "command")) && cdx_cfg_want(c, x, CDX_Y_SCALAR, "analysis command"))
		e->analysis_cmd = cdx_xstrdup(x->str);
	if ((x = cdx_yaml_get(a, "max")))
		e->has_max = cdx_cfg_number(c, x, "analysis max", &e->analysis_max);
	if ((x = cdx_yaml_get(a, "min")))
		e->has_min = cdx_cfg_number(c, x, "analysis min", &e->analysis_min);
	if ((x = cdx_yaml_get(a, "no_data"))) {
		static const char *const nd[] = {"fail", "pause", "pass"};
		int i2 = cdx_cfg_choice(c, x, "no_data policy", nd, CDX_ARRAY_LEN(nd));
		if (i2 >= 0)
			e->nodata = (enum cdx_nodata)i2;
	}
	if ((x = cdx_yaml_get(a, "max_pause")))
		cdx_cfg_duration(c, x, "analysis max_pause", false, &e->max_pause_ms);
	if (!e->analysis_cmd)
		cdx_cfg_problem(c, a, "canary analysis needs a command");
	else if (!e->has_max && !e->has_min)
		cdx_cfg_problem(c, a, "canary analysis needs max or min");
}

/* the application-level defaults an environment starts from */
struct app_defaults {
	char *artifact, *deploy_to;
	int keep_releases;
	struct cdx_hook hooks[CDX_HOOK_COUNT];
	struct cdx_check *checks;
	size_t n_checks;
	struct cdx_kv *vars;
	size_t n_vars;
};

/* env_inherit: E named by key K, starting from the application's
 * defaults D */
static void env_inherit(const struct cdx_ynode *k, const struct app_defaults *d, struct cdx_env *e)
{
	int h;
	e->name = cdx_xstrdup(k->str);
	e->file = k->file;
	e->line = k->line;
	e->col = k->col;
	e->keep_releases = d->keep_releases;
	e->auto_rollback = true;
	e->scale_down_delay_ms = 30000;
	e->batch = 1;
	e->nodata = CDX_NODATA_FAIL;
	e->max_pause_ms = 15 * 60 * 1000;
	for (h = 0; h < CDX_HOOK_COUNT; h++) {
		e->hooks[h] = d->hooks[h];
		e->hooks[h].cmd = d->hooks[h].cmd ? cdx_xstrdup(d->hooks[h].cmd) : NULL;
	}
	checks_copy(&e->checks, &e->n_checks, d->checks, d->n_checks);
	kv_copy(&e->vars, &e->n_vars, d->vars, d->n_vars);
	e->artifact = d->artifact ? cdx_xstrdup(d->artifact) : NULL;
	e->deploy_to = d->deploy_to ? cdx_xstrdup(d->deploy_to) : NULL;
}

/* env_strategy: strategy, and its slots or instances (rolling when only
 * instances are given) */
static void env_strategy(struct cdx_cfg *c, const struct cdx_ynode *m, struct cdx_env *e)
{
	const struct cdx_ynode *x, *slots = cdx_yaml_get(m, "slots"), *inst = cdx_yaml_get(m, "instances");
	if ((x = cdx_yaml_get(m, "strategy"))) {
		int s = cdx_cfg_choice(c, x, "strategy", strategy_names, CDX_ARRAY_LEN(strategy_names));
		if (s >= 0)
			e->strategy = (enum cdx_strategy_kind)s;
	}
	if (slots && inst) {
		cdx_cfg_problem(c, inst, "an environment has slots or instances, not both");
	} else if (inst) {
		e->instances = true;
		parse_targets(c, inst, "instances", e);
		if (!cdx_yaml_get(m, "strategy"))
			e->strategy = CDX_STRATEGY_ROLLING;
	} else if (slots) {
		parse_targets(c, slots, "slots", e);
	}
}

/* ---- hosts (the SSH hook set) ---------------------------------------------------- */

/* S is made of A-Z a-z 0-9 and the characters in MORE only */
static bool chars_ok(const char *s, const char *more)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(more, *s)))
			return false;
	return true;
}

/* a path on a host: absolute, no "..", plain characters (it is quoted anyway) */
static bool remote_path_ok(const char *p)
{
	return p[0] == '/' && strlen(p) < 1024 && chars_ok(p, "_.+-/@%,:") && !strstr(p, "/../") &&
	       (strlen(p) < 3 || strcmp(p + strlen(p) - 3, "/..") != 0);
}

/* [USER@]HOST: never an ssh option, no blank, no shell character */
static bool ssh_dest_ok(const char *s)
{
	const char *at = strchr(s, '@');
	if (!s[0] || s[0] == '-' || strlen(s) > 255 || (at && (at == s || strchr(at + 1, '@') || !at[1])))
		return false;
	return chars_ok(s, "_.-@:[]%");
}

/* a shared entry: relative, no "..", "NAME/" for a directory */
static bool shared_ok(const char *s)
{
	char *dup, *tok, *save = NULL;
	bool ok = s[0] && s[0] != '/' && strlen(s) < 512 && chars_ok(s, "_.+-/@,");
	if (!ok)
		return false;
	dup = cdx_xstrdup(s);
	for (tok = strtok_r(dup, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		if (strcmp(tok, "..") == 0 || strcmp(tok, ".") == 0)
			ok = false;
	free(dup);
	return ok && !strstr(s, "//");
}

static void host_free(struct cdx_host *h)
{
	free(h->name);
	free(h->ssh);
	free(h->path);
	free(h->addr);
	kv_free(h->vars, h->n_vars);
}

/* one item of hosts: {name, ssh, port, path, variables} into H; false when refused */
static bool parse_host(struct cdx_cfg *c, const struct cdx_ynode *m, struct cdx_host *h)
{
	const struct cdx_ynode *x;
	memset(h, 0, sizeof(*h));
	if (!cdx_cfg_want(c, m, CDX_Y_MAP, "a host"))
		return false;
	cdx_cfg_keys(c, m, host_keys, CDX_ARRAY_LEN(host_keys), "a host");
	if (!(x = cdx_cfg_need(c, m, "name", "a host")) || !cdx_cfg_name(c, x, "host name"))
		return false;
	h->name = cdx_xstrdup(x->str);
	if (!(x = cdx_cfg_need(c, m, "ssh", "a host")) || !cdx_cfg_want(c, x, CDX_Y_SCALAR, "ssh"))
		goto bad;
	if (!ssh_dest_ok(x->str)) {
		cdx_cfg_problem(c, x, "ssh '%s' of host '%s' is not [USER@]HOST (A-Z a-z 0-9 _ . - : [ ] %%, not "
				      "starting with -)", x->str, h->name);
		goto bad;
	}
	h->ssh = cdx_xstrdup(x->str);
	h->addr = cdx_xstrdup(strchr(x->str, '@') ? strchr(x->str, '@') + 1 : x->str);
	if ((x = cdx_yaml_get(m, "port")) && !cdx_cfg_int(c, x, "port", 1, 65535, &h->port))
		goto bad;
	if ((x = cdx_yaml_get(m, "path")) && cdx_cfg_want(c, x, CDX_Y_SCALAR, "path")) {
		if (!remote_path_ok(x->str)) {
			cdx_cfg_problem(c, x, "path '%s' of host '%s' is not an absolute path of A-Z a-z 0-9 _ . + - / "
					      "@ %% , : without ..", x->str, h->name);
			goto bad;
		}
		h->path = cdx_xstrdup(x->str);
	}
	if ((x = cdx_yaml_get(m, "variables")))
		parse_kv(c, x, "a host's variables", &h->vars, &h->n_vars);
	return true;
bad:
	host_free(h);
	memset(h, 0, sizeof(*h));
	return false;
}

/* env_hosts: hosts, path, ssh_config and shared of environment M, DIR the
 * project's directory (ssh_config is relative to it) */
static void env_hosts(struct cdx_cfg *c, const struct cdx_ynode *m, const char *dir, struct cdx_env *e)
{
	const struct cdx_ynode *x = cdx_yaml_get(m, "hosts"), *y;
	size_t i, j;
	if ((y = cdx_yaml_get(m, "path")) && cdx_cfg_want(c, y, CDX_Y_SCALAR, "path")) {
		if (!remote_path_ok(y->str))
			cdx_cfg_problem(c, y, "path '%s' is not an absolute path of A-Z a-z 0-9 _ . + - / @ %% , : "
					      "without ..", y->str);
		else
			e->path = cdx_xstrdup(y->str);
	}
	if ((y = cdx_yaml_get(m, "ssh_config")) && cdx_cfg_want(c, y, CDX_Y_SCALAR, "ssh_config")) {
		e->ssh_config = y->str[0] == '/' ? cdx_xstrdup(y->str) : cdx_xasprintf("%s/%s", dir, y->str);
		if (access(e->ssh_config, R_OK) < 0)
			cdx_cfg_problem(c, y, "ssh_config '%s' cannot be read: %s", y->str, strerror(errno));
	}
	if ((y = cdx_yaml_get(m, "shared")) && cdx_cfg_want(c, y, CDX_Y_SEQ, "shared")) {
		e->shared = cdx_xcalloc(y->n ? y->n : 1, sizeof(char *));
		for (i = 0; i < y->n; i++) {
			if (!cdx_cfg_want(c, y->items[i], CDX_Y_SCALAR, "a shared path"))
				continue;
			if (!shared_ok(y->items[i]->str)) {
				cdx_cfg_problem(c, y->items[i], "shared path '%s' is not a relative path of A-Z a-z 0-9 "
								"_ . + - / @ , without . or .. (a directory ends in /)",
						y->items[i]->str);
				continue;
			}
			e->shared[e->n_shared++] = cdx_xstrdup(y->items[i]->str);
		}
	}
	if (!x) {
		if (e->path || e->ssh_config || e->shared)
			cdx_cfg_problem(c, y ? y : m, "path, ssh_config and shared apply to an environment with hosts");
		return;
	}
	if (!cdx_cfg_want(c, x, CDX_Y_SEQ, "hosts"))
		return;
	if (x->n == 0 || x->n > 256) {
		cdx_cfg_problem(c, x, "hosts must list 1 to 256 hosts");
		return;
	}
	e->hosts = cdx_xcalloc(x->n, sizeof(*e->hosts));
	for (i = 0; i < x->n; i++) {
		struct cdx_host *h = &e->hosts[e->n_hosts];
		if (!parse_host(c, x->items[i], h))
			continue;
		for (j = 0; j < e->n_hosts; j++)
			if (strcmp(e->hosts[j].name, h->name) == 0)
				break;
		if (j < e->n_hosts) {
			cdx_cfg_problem(c, x->items[i], "environment '%s' names host '%s' twice", e->name, h->name);
			host_free(h);
			continue;
		}
		if (!h->path && !e->path) {
			cdx_cfg_problem(c, x->items[i], "host '%s' needs a path (its own, or the environment's path:)",
					h->name);
			host_free(h);
			continue;
		}
		if (!h->path)
			h->path = cdx_xstrdup(e->path);
		e->n_hosts++;
	}
	if (e->strategy == CDX_STRATEGY_CANARY)
		cdx_cfg_problem(c, x, "environment '%s' has hosts: use rolling or blue_green over hosts, not canary",
				e->name);
	if (e->strategy == CDX_STRATEGY_ROLLING || (!cdx_yaml_get(m, "strategy") && !cdx_yaml_get(m, "slots"))) {
		if (e->instances) {
			cdx_cfg_problem(c, x, "a rolling deployment over hosts takes its instances from hosts:, "
					      "not instances:");
			return;
		}
		/* rolling over hosts: each host is an instance */
		e->strategy = CDX_STRATEGY_ROLLING;
		e->instances = true;
		free(e->targets);
		e->targets = cdx_xcalloc(e->n_hosts ? e->n_hosts : 1, sizeof(*e->targets));
		e->n_targets = e->n_hosts;
		for (i = 0; i < e->n_hosts; i++) {
			e->targets[i].name = cdx_xstrdup(e->hosts[i].name);
			kv_copy(&e->targets[i].vars, &e->targets[i].n_vars, e->hosts[i].vars, e->hosts[i].n_vars);
		}
	}
}

/* cdx_env_hosts_are_targets: whether E's instances are its hosts (rolling over hosts) */
bool cdx_env_hosts_are_targets(const struct cdx_env *e)
{
	return e->n_hosts && e->instances;
}

/* env_settings: the keys an environment may take from its application,
 * and its gates */
static void env_settings(struct cdx_cfg *c, const struct cdx_ynode *m, struct cdx_env *e)
{
	const struct cdx_ynode *x;
	if ((x = cdx_yaml_get(m, "hooks")))
		parse_hooks(c, x, e->hooks);
	if ((x = cdx_yaml_get(m, "health")))
		parse_health(c, x, &e->checks, &e->n_checks);
	if ((x = cdx_yaml_get(m, "variables")))
		parse_kv(c, x, "variables", &e->vars, &e->n_vars);
	if ((x = cdx_yaml_get(m, "protected")))
		cdx_cfg_bool(c, x, "protected", &e->protected);
	if ((x = cdx_yaml_get(m, "artifact")) && cdx_cfg_want(c, x, CDX_Y_SCALAR, "artifact")) {
		free(e->artifact);
		e->artifact = cdx_xstrdup(x->str);
	}
	if ((x = cdx_yaml_get(m, "deploy_to")) && cdx_cfg_want(c, x, CDX_Y_SCALAR, "deploy_to")) {
		free(e->deploy_to);
		e->deploy_to = cdx_xstrdup(x->str);
	}
	if ((x = cdx_yaml_get(m, "keep_releases")))
		cdx_cfg_int(c, x, "keep_releases", 1, 1000, &e->keep_releases);
	if ((x = cdx_yaml_get(m, "requires")) && cdx_cfg_want(c, x, CDX_Y_MAP, "requires")) {
		const struct cdx_ynode *p = cdx_yaml_get(x, "pipeline");
		cdx_cfg_keys(c, x, requires_keys, CDX_ARRAY_LEN(requires_keys), "requires");
		if (!p)
			cdx_cfg_problem(c, x, "requires needs a pipeline");
		else if (cdx_cfg_name(c, p, "required pipeline"))
			e->requires_pipeline = cdx_xstrdup(p->str);
	}
}

/* env_rollback: rollback: {strategy, on_failure} */
static void env_rollback(struct cdx_cfg *c, const struct cdx_ynode *x, struct cdx_env *e)
{
	static const char *const of[] = {"manual", "auto"};
	const struct cdx_ynode *y;
	cdx_cfg_keys(c, x, rollback_keys, CDX_ARRAY_LEN(rollback_keys), "rollback");
	if ((y = cdx_yaml_get(x, "strategy"))) {
		int s = cdx_cfg_choice(c, y, "rollback strategy", rollback_names, CDX_ARRAY_LEN(rollback_names));
		if (s >= 0)
			e->rollback = (enum cdx_rollback_kind)s;
	}
	if ((y = cdx_yaml_get(x, "on_failure"))) {
		int s = cdx_cfg_choice(c, y, "on_failure policy", of, CDX_ARRAY_LEN(of));
		if (s >= 0)
			e->auto_rollback = s == 1;
	}
}

/* env_options: the settings of each strategy (blue_green, canary, rolling)
 * and of rollback */
static void env_options(struct cdx_cfg *c, const struct cdx_ynode *m, struct cdx_env *e)
{
	const struct cdx_ynode *x, *y;
	if ((x = cdx_yaml_get(m, "rollback")) && cdx_cfg_want(c, x, CDX_Y_MAP, "rollback"))
		env_rollback(c, x, e);
	if ((x = cdx_yaml_get(m, "blue_green")) && cdx_cfg_want(c, x, CDX_Y_MAP, "blue_green")) {
		cdx_cfg_keys(c, x, bg_keys, CDX_ARRAY_LEN(bg_keys), "blue_green");
		if ((y = cdx_yaml_get(x, "scale_down_delay")))
			cdx_cfg_duration(c, y, "scale_down_delay", true, &e->scale_down_delay_ms);
	}
	if ((x = cdx_yaml_get(m, "canary")))
		parse_canary(c, x, e);
	if ((x = cdx_yaml_get(m, "rolling")) && cdx_cfg_want(c, x, CDX_Y_MAP, "rolling")) {
		cdx_cfg_keys(c, x, rolling_keys, CDX_ARRAY_LEN(rolling_keys), "rolling");
		if ((y = cdx_yaml_get(x, "batch")) && y->type == CDX_Y_SCALAR && y->len > 1 &&
		    y->str[y->len - 1] == '%') {
			char *end;
			long pct = strtol(y->str, &end, 10);
			if (end != y->str + y->len - 1 || pct < 1 || pct > 100)
				cdx_cfg_problem(c, y, "batch '%s' is not a count or a percentage from 1%% to 100%%",
						y->str);
			else
				e->batch_percent = (int)pct;
		} else if (y) {
			cdx_cfg_int(c, y, "batch", 1, 256, &e->batch);
		}
		if ((y = cdx_yaml_get(x, "max_unavailable")))
			cdx_cfg_int(c, y, "max_unavailable", 1, 256, &e->max_unavailable);
	}
}

/* env_rules: the cross-key rules, reported at the environment's key K */
static void env_rules(struct cdx_cfg *c, const struct cdx_ynode *k, const struct cdx_ynode *m,
		      const struct cdx_env *e)
{
	const struct cdx_ynode *slots = cdx_yaml_get(m, "slots"), *inst = cdx_yaml_get(m, "instances");
	size_t i, j;
	if (e->strategy == CDX_STRATEGY_ROLLING && !e->instances)
		cdx_cfg_problem(c, k, "environment '%s' uses rolling, which needs instances", e->name);
	if (e->strategy != CDX_STRATEGY_ROLLING && e->instances)
		cdx_cfg_problem(c, k, "environment '%s' uses %s, which needs slots, not instances", e->name,
				strategy_names[e->strategy]);
	if (e->strategy != CDX_STRATEGY_ROLLING && slots && !inst && e->n_targets != 2)
		cdx_cfg_problem(c, slots, "%s needs exactly two slots, not %zu", strategy_names[e->strategy],
				e->n_targets);
	if (e->strategy == CDX_STRATEGY_CANARY && !e->n_steps && !cdx_yaml_get(m, "canary"))
		cdx_cfg_problem(c, k, "environment '%s' uses canary, which needs canary: {steps: [...]}", e->name);
	for (i = 0; i < e->n_targets; i++)
		for (j = 0; j < i; j++)
			if (strcmp(e->targets[i].name, e->targets[j].name) == 0)
				cdx_cfg_problem(c, k, "environment '%s' names %s '%s' twice", e->name,
						e->instances ? "instance" : "slot", e->targets[i].name);
}

/* env_fill: what is left unset: two slots (blue, green), one canary step
 * of 100, max_unavailable, an absolute release root under DIR */
static void env_fill(struct cdx_env *e, const char *dir, const char *app)
{
	size_t i;
	if (!e->n_targets && !e->instances) { /* two slots, blue and green */
		static const char *const two[] = {"blue", "green"};
		e->targets = cdx_xcalloc(2, sizeof(*e->targets));
		for (i = 0; i < 2; i++)
			e->targets[i].name = cdx_xstrdup(two[i]);
		e->n_targets = 2;
	}
	if (!e->n_steps && e->strategy == CDX_STRATEGY_CANARY) {
		e->steps = cdx_xcalloc(1, sizeof(int));
		e->steps[e->n_steps++] = 100;
	}
	if (e->batch_percent) { /* of the instances, at least one */
		e->batch = (int)((e->n_targets * (size_t)e->batch_percent + 99) / 100);
		if (e->batch < 1)
			e->batch = 1;
	}
	if (!e->max_unavailable)
		e->max_unavailable = e->batch;
	if (e->batch > e->max_unavailable)
		e->batch = e->max_unavailable;
	if (!e->deploy_to)
		e->deploy_to = cdx_xasprintf(".deploy/%s/%s", app, e->name);
	if (e->deploy_to[0] != '/') {
		char *abs = cdx_xasprintf("%s/%s", dir, e->deploy_to);
		free(e->deploy_to);
		e->deploy_to = abs;
	}
}

/* parse_env: environment K: M of application APP in DIR, from defaults D */
static void parse_env(struct cdx_cfg *c, const struct cdx_ynode *k, const struct cdx_ynode *m,
		      const struct app_defaults *d, const char *dir, const char *app, struct cdx_env *e)
{
	env_inherit(k, d, e);
	if (!cdx_yaml_is_null(m)) {
		if (!cdx_cfg_want(c, m, CDX_Y_MAP, "an environment"))
			return;
		cdx_cfg_keys(c, m, env_keys, CDX_ARRAY_LEN(env_keys), "an environment");
		env_strategy(c, m, e);
		env_settings(c, m, e);
		env_options(c, m, e);
		env_hosts(c, m, dir, e);
		env_rules(c, k, m, e);
	}
	env_fill(e, dir, app);
}

static void defaults_free(struct app_defaults *d)
{
	int h;
	free(d->artifact);
	free(d->deploy_to);
	for (h = 0; h < CDX_HOOK_COUNT; h++)
		free(d->hooks[h].cmd);
	checks_free(d->checks, d->n_checks);
	kv_free(d->vars, d->n_vars);
}

static void env_free(struct cdx_env *e);
static void app_free(struct cdx_app *a);

static void parse_app(struct cdx_cfg *c, const struct cdx_ynode *k, const struct cdx_ynode *m, const char *dir,
		      struct cdx_app *a)
{
	struct app_defaults d = {.keep_releases = 5};
	const struct cdx_ynode *x, *envs;
	size_t i;
	a->name = cdx_xstrdup(k->str);
	if (!cdx_cfg_want(c, m, CDX_Y_MAP, "an application"))
		return;
	cdx_cfg_keys(c, m, app_keys, CDX_ARRAY_LEN(app_keys), "an application");
	if ((x = cdx_yaml_get(m, "artifact")) && cdx_cfg_want(c, x, CDX_Y_SCALAR, "artifact"))
		d.artifact = cdx_xstrdup(x->str);
	if ((x = cdx_yaml_get(m, "deploy_to")) && cdx_cfg_want(c, x, CDX_Y_SCALAR, "deploy_to"))
		d.deploy_to = cdx_xstrdup(x->str);
	if ((x = cdx_yaml_get(m, "keep_releases")))
		cdx_cfg_int(c, x, "keep_releases", 1, 1000, &d.keep_releases);
	if ((x = cdx_yaml_get(m, "hooks")))
		parse_hooks(c, x, d.hooks);
	if ((x = cdx_yaml_get(m, "health")))
		parse_health(c, x, &d.checks, &d.n_checks);
	if ((x = cdx_yaml_get(m, "variables")))
		parse_kv(c, x, "variables", &d.vars, &d.n_vars);
	envs = cdx_yaml_get(m, "environments");
	if (!envs) {
		cdx_cfg_problem(c, k, "application '%s' needs environments", k->str);
	} else if (cdx_cfg_want(c, envs, CDX_Y_MAP, "environments")) {
		a->envs = cdx_xcalloc(envs->n ? envs->n : 1, sizeof(*a->envs));
		for (i = 0; i < envs->n; i++) {
			const struct cdx_ynode *ek = envs->pairs[i].key;
			if (!cdx_cfg_name(c, ek, "environment name")) {
				/* still read, so that its problems are reported too */
				struct cdx_env bad = {0};
				bad.app = a;
				parse_env(c, ek, envs->pairs[i].val, &d, dir, a->name, &bad);
				env_free(&bad);
				continue;
			}
			a->envs[a->n_envs].app = a;
			parse_env(c, ek, envs->pairs[i].val, &d, dir, a->name, &a->envs[a->n_envs]);
			a->n_envs++;
		}
	}
	defaults_free(&d);
}

void cdx_apps_parse(struct cdx_cfg *c, const struct cdx_ynode *n, const char *dir, struct cdx_apps *apps)
{
	size_t i;
	/* absolute, so that release roots are (hooks run in DIR, not here) */
	char *abs = dir[0] == '/' ? NULL : realpath(dir, NULL);
	apps->dir = cdx_xstrdup(abs ? abs : dir);
	free(abs);
	if (cdx_yaml_is_null(n) || !cdx_cfg_want(c, n, CDX_Y_MAP, "applications"))
		return;
	apps->apps = cdx_xcalloc(n->n ? n->n : 1, sizeof(*apps->apps));
	for (i = 0; i < n->n; i++) {
		const struct cdx_ynode *k = n->pairs[i].key;
		if (!cdx_cfg_name(c, k, "application name")) {
			/* still read, so that the problems inside it (an
			 * environment's name, say) are reported in the same pass */
			struct cdx_app bad = {0};
			parse_app(c, k, n->pairs[i].val, apps->dir, &bad);
			app_free(&bad);
			continue;
		}
		parse_app(c, k, n->pairs[i].val, apps->dir, &apps->apps[apps->n++]);
	}
	/* environments point at their application: fix up after the array settled */
	for (i = 0; i < apps->n; i++) {
		size_t j;
		for (j = 0; j < apps->apps[i].n_envs; j++)
			apps->apps[i].envs[j].app = &apps->apps[i];
	}
}

static void env_free(struct cdx_env *e)
{
	size_t i;
	int h;
	free(e->name);
	for (i = 0; i < e->n_targets; i++) {
		free(e->targets[i].name);
		kv_free(e->targets[i].vars, e->targets[i].n_vars);
	}
	free(e->targets);
	for (h = 0; h < CDX_HOOK_COUNT; h++)
		free(e->hooks[h].cmd);
	checks_free(e->checks, e->n_checks);
	kv_free(e->vars, e->n_vars);
	free(e->artifact);
	free(e->deploy_to);
	free(e->requires_pipeline);
	free(e->steps);
	free(e->analysis_cmd);
	for (i = 0; i < e->n_hosts; i++)
		host_free(&e->hosts[i]);
	free(e->hosts);
	free(e->path);
	free(e->ssh_config);
	for (i = 0; i < e->n_shared; i++)
		free(e->shared[i]);
	free(e->shared);
}

static void app_free(struct cdx_app *a)
{
	size_t j;
	for (j = 0; j < a->n_envs; j++)
		env_free(&a->envs[j]);
	free(a->envs);
	free(a->name);
}

void cdx_apps_free(struct cdx_apps *apps)
{
	size_t i;
	if (!apps)
		return;
	for (i = 0; i < apps->n; i++)
		app_free(&apps->apps[i]);
	free(apps->apps);
	free(apps->dir);
	memset(apps, 0, sizeof(*apps));
}

const struct cdx_env *cdx_apps_find(const struct cdx_apps *apps, const char *app, const char *env,
				    struct cdx_error *err)
{
	const char **names;
	const char *near;
	size_t i, j;
	for (i = 0; i < apps->n; i++)
		if (strcmp(apps->apps[i].name, app) == 0)
			break;
	if (i == apps->n) {
		names = cdx_xcalloc(apps->n + 1, sizeof(char *));
		for (j = 0; j < apps->n; j++)
			names[j] = apps->apps[j].name;
		near = cdx_closest(app, names, apps->n);
		if (near)
			cdx_error_set(err, CDX_EUSAGE, "unknown application '%s' (did you mean '%s'?)", app, near);
		else
			cdx_error_set(err, CDX_EUSAGE, "unknown application '%s'%s", app,
				      apps->n ? "" : ": the project file declares no applications");
		free(names);
		return NULL;
	}
	for (j = 0; j < apps->apps[i].n_envs; j++)
		if (strcmp(apps->apps[i].envs[j].name, env) == 0)
			return &apps->apps[i].envs[j];
	names = cdx_xcalloc(apps->apps[i].n_envs + 1, sizeof(char *));
	for (j = 0; j < apps->apps[i].n_envs; j++)
		names[j] = apps->apps[i].envs[j].name;
	near = cdx_closest(env, names, apps->apps[i].n_envs);
	if (near)
		cdx_error_set(err, CDX_EUSAGE, "unknown environment '%s' of application '%s' (did you mean '%s'?)", env,
			      app, near);
	else
		cdx_error_set(err, CDX_EUSAGE, "unknown environment '%s' of application '%s'", env, app);
	free(names);
	return NULL;
}

static cJSON *kv_json(const struct cdx_kv *kv, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;
	for (i = 0; i < n; i++)
		cJSON_AddStringToObject(o, kv[i].key, kv[i].value);
	return o;
}

cJSON *cdx_env_config(const struct cdx_env *e)
{
	static const char *const kinds[] = {"http", "tcp", "command"};
	cJSON *o = cJSON_CreateObject(), *a, *x;
	size_t i;
	int h;
	cJSON_AddStringToObject(o, "application", e->app->name);
	cJSON_AddStringToObject(o, "environment", e->name);
	cJSON_AddStringToObject(o, "strategy", strategy_names[e->strategy]);
	a = cJSON_AddObjectToObject(o, e->instances ? "instances" : "slots");
	for (i = 0; i < e->n_targets; i++)
		cJSON_AddItemToObject(a, e->targets[i].name, kv_json(e->targets[i].vars, e->targets[i].n_vars));
	a = cJSON_AddObjectToObject(o, "hooks");
	for (h = 0; h < CDX_HOOK_COUNT; h++) {
		if (!e->hooks[h].cmd)
			continue;
		x = cJSON_AddObjectToObject(a, hook_names[h]);
		cJSON_AddStringToObject(x, "run", e->hooks[h].cmd);
		cJSON_AddBoolToObject(x, "irreversible", e->hooks[h].irreversible);
		cJSON_AddNumberToObject(x, "timeout_ms", (double)e->hooks[h].timeout_ms);
	}
	a = cJSON_AddArrayToObject(o, "health");
	for (i = 0; i < e->n_checks; i++) {
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, kinds[e->checks[i].kind], e->checks[i].target);
		if (e->checks[i].status)
			cJSON_AddNumberToObject(x, "status", e->checks[i].status);
		if (e->checks[i].body)
			cJSON_AddStringToObject(x, "body", e->checks[i].body);
		cJSON_AddNumberToObject(x, "timeout_ms", (double)e->checks[i].timeout_ms);
		cJSON_AddNumberToObject(x, "retries", e->checks[i].attempts);
		cJSON_AddNumberToObject(x, "interval_ms", (double)e->checks[i].interval_ms);
		cJSON_AddItemToArray(a, x);
	}
	cJSON_AddItemToObject(o, "variables", kv_json(e->vars, e->n_vars));
	if (e->artifact)
		cJSON_AddStringToObject(o, "artifact", e->artifact);
	cJSON_AddStringToObject(o, "deploy_to", e->deploy_to);
	cJSON_AddNumberToObject(o, "keep_releases", e->keep_releases);
	cJSON_AddBoolToObject(o, "protected", e->protected);
	if (e->requires_pipeline)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "requires"), "pipeline", e->requires_pipeline);
	x = cJSON_AddObjectToObject(o, "rollback");
	cJSON_AddStringToObject(x, "strategy", rollback_names[e->rollback]);
	cJSON_AddStringToObject(x, "on_failure", e->auto_rollback ? "auto" : "manual");
	if (e->strategy == CDX_STRATEGY_BLUE_GREEN)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "blue_green"), "scale_down_delay_ms",
					(double)e->scale_down_delay_ms);
	if (e->strategy == CDX_STRATEGY_CANARY) {
		x = cJSON_AddObjectToObject(o, "canary");
		cJSON_AddItemToObject(x, "steps", cJSON_CreateIntArray(e->steps, (int)e->n_steps));
		cJSON_AddNumberToObject(x, "pause_ms", (double)e->pause_ms);
		if (e->analysis_cmd) {
			cJSON *an = cJSON_AddObjectToObject(x, "analysis");
			static const char *const nd[] = {"fail", "pause", "pass"};
			cJSON_AddStringToObject(an, "command", e->analysis_cmd);
			if (e->has_max)
				cJSON_AddNumberToObject(an, "max", e->analysis_max);
			if (e->has_min)
				cJSON_AddNumberToObject(an, "min", e->analysis_min);
			cJSON_AddStringToObject(an, "no_data", nd[e->nodata]);
			cJSON_AddNumberToObject(an, "max_pause_ms", (double)e->max_pause_ms);
		}
	}
	if (e->n_hosts) {
		a = cJSON_AddArrayToObject(o, "hosts");
		for (i = 0; i < e->n_hosts; i++) {
			x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "name", e->hosts[i].name);
			cJSON_AddStringToObject(x, "ssh", e->hosts[i].ssh);
			if (e->hosts[i].port)
				cJSON_AddNumberToObject(x, "port", e->hosts[i].port);
			cJSON_AddStringToObject(x, "path", e->hosts[i].path);
			cJSON_AddItemToObject(x, "variables", kv_json(e->hosts[i].vars, e->hosts[i].n_vars));
			cJSON_AddItemToArray(a, x);
		}
		if (e->ssh_config)
			cJSON_AddStringToObject(o, "ssh_config", e->ssh_config);
		a = cJSON_AddArrayToObject(o, "shared");
		for (i = 0; i < e->n_shared; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(e->shared[i]));
	}
	if (e->strategy == CDX_STRATEGY_ROLLING) {
		x = cJSON_AddObjectToObject(o, "rolling");
		cJSON_AddNumberToObject(x, "batch", e->batch);
		cJSON_AddNumberToObject(x, "max_unavailable", e->max_unavailable);
	}
	return o;
}
