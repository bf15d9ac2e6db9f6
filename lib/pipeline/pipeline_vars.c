/* pipeline_vars.c — variables of a pipeline, a stage (`environment:`) and
 * a job: NAME: value, or in pipeline and job variables NAME: {value,
 * from_env, secret}.  Names are environment variable names; a later
 * definition of a name replaces the earlier one (the including file, the
 * job, the matrix win). */
#include <stdlib.h>
#include <string.h>

#include "pipeline/loader.h"

static const char *const var_keys[] = {"value", "from_env", "secret"};

void cdx_vars_free(struct cdx_vars *v)
{
	size_t i;
	for (i = 0; i < v->n; i++) {
		free(v->v[i].name);
		free(v->v[i].value);
		free(v->v[i].from_env);
	}
	free(v->v);
	memset(v, 0, sizeof(*v));
}

struct cdx_var *cdx_vars_find(const struct cdx_vars *v, const char *name)
{
	size_t i;
	for (i = 0; i < v->n; i++)
		if (strcmp(v->v[i].name, name) == 0)
			return &v->v[i];
	return NULL;
}

/* vars_set: set NAME in V (replacing an earlier value); takes ownership of
 * the strings in VAR */
void cdx_vars_set(struct cdx_vars *v, struct cdx_var var)
{
	struct cdx_var *old = cdx_vars_find(v, var.name);
	if (old) {
		free(old->name);
		free(old->value);
		free(old->from_env);
		*old = var;
		return;
	}
	CDX_PUSH(v->v, v->n, v->cap, var);
}

/* the bytes of S as a JSON string, quotes included: cJSON writes \" \\ \b
 * \f \n \r \t in two bytes and other control characters as \u00XX */
static size_t json_len(const char *s)
{
	size_t n = 2;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
			n += 2;
		else if (c < 0x20)
			n += 6;
		else
			n++;
	}
	return n;
}

size_t cdx_var_record_len(const char *name, const char *value)
{
	return json_len(name) + 1 + json_len(value ? value : "") + 1;
}

/* entry_fits: NAME=VALUE (AT the value's node) fits a job's environment;
 * false with the problem reported */
static bool entry_fits(struct cdx_loader *l, const struct cdx_ynode *at, const char *name)
{
	size_t n = strlen(name) + 1 + at->len;
	if (n <= CDX_VAR_ENTRY_MAX)
		return true;
	cdx_cfg_problem(
	    &l->c, at,
	    "variable '%s' is too long: %s=VALUE is %zu bytes, over the %u a job's environment takes", name,
	    name, n, CDX_VAR_ENTRY_MAX);
	return false;
}

void cdx_loader_vars_size(struct cdx_loader *l, const struct cdx_vars *vars)
{
	size_t i, total = 2;
	for (i = 0; i < vars->n; i++) {
		const struct cdx_var *v = &vars->v[i];
		if (v->secret)
			continue;
		total += cdx_var_record_len(v->name, v->value);
		if (total > CDX_VARS_RECORD_MAX) {
			cdx_cfg_problem_at(
			    &l->c, v->file, v->line, v->col,
			    "variables too large: with '%s' they take %zu bytes in the run record, over "
			    "its limit of %u",
			    v->name, total, CDX_VARS_RECORD_MAX);
			return;
		}
	}
}

void cdx_loader_vars(struct cdx_loader *l, const struct cdx_ynode *map, const char *what, bool allow_secret,
		     struct cdx_vars *out)
{
	size_t i;
	if (cdx_yaml_is_null(map))
		return;
	if (!cdx_cfg_want(&l->c, map, CDX_Y_MAP, what))
		return;
	for (i = 0; i < map->n; i++) {
		const struct cdx_ynode *k = map->pairs[i].key, *v = map->pairs[i].val;
		struct cdx_var var = {0};
		if (!cdx_cfg_env_name(&l->c, k, "variable name"))
			continue;
		var.file = cdx_loader_intern(l, k->file);
		var.line = k->line;
		var.col = k->col;
		if (v->type == CDX_Y_MAP && allow_secret) {
			const struct cdx_ynode *val = cdx_yaml_get(v, "value"),
					       *env = cdx_yaml_get(v, "from_env"),
					       *sec = cdx_yaml_get(v, "secret");
			cdx_cfg_keys(&l->c, v, var_keys, CDX_ARRAY_LEN(var_keys), "variable");
			if (val && cdx_cfg_want(&l->c, val, CDX_Y_SCALAR, "value") &&
			    entry_fits(l, val, k->str))
				var.value = cdx_xstrdup(val->str);
			if (env && cdx_cfg_env_name(&l->c, env, "from_env"))
				var.from_env = cdx_xstrdup(env->str);
			if (sec)
				cdx_cfg_bool(&l->c, sec, "secret", &var.secret);
			if (!val && !env)
				cdx_cfg_problem(&l->c, v, "variable '%s' needs value or from_env", k->str);
		} else if (v->type == CDX_Y_SCALAR) {
			if (!entry_fits(l, v, k->str))
				continue;
			var.value = cdx_xstrdup(cdx_yaml_is_null(v) ? "" : v->str);
		} else {
			cdx_cfg_problem(&l->c, v, "variable '%s' must be a string%s, not %s", k->str,
					allow_secret ? " or {from_env, secret}" : "", cdx_yaml_typename(v));
			continue;
		}
		var.name = cdx_xstrdup(k->str);
		cdx_vars_set(out, var);
	}
}
