/* cfg.c — the config-tree toolkit (see cfg.h).  The wording of every
 * message lives here; loaders add only what is theirs alone. */
#include "yaml/cfg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/util.h"

void cdx_cfg_problem(struct cdx_cfg *c, const struct cdx_ynode *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cdx_diags_addv(c->diags, at ? at->file : c->file, at ? at->line : 0, at ? at->col : 0, fmt, ap);
	va_end(ap);
	c->problems++;
}

void cdx_cfg_problem_at(struct cdx_cfg *c, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cdx_diags_addv(c->diags, file, line, col, fmt, ap);
	va_end(ap);
	c->problems++;
}

static void check_keys(struct cdx_cfg *c, const struct cdx_ynode *map, const char *const *keys, size_t n,
		       const char *what, bool hidden)
{
	size_t i, k;
	for (i = 0; i < map->n; i++) {
		const struct cdx_ynode *key = map->pairs[i].key;
		const char *near;
		if (hidden && (key->str[0] == '.' || strncmp(key->str, "x-", 2) == 0))
			continue;
		/* the first byte first: a pipeline checks 100,000 jobs */
		for (k = 0; k < n; k++)
			if (key->str[0] == keys[k][0] && strcmp(key->str, keys[k]) == 0)
				break;
		if (k < n)
			continue;
		near = cdx_closest(key->str, keys, n);
		if (near)
			cdx_cfg_problem(c, key, "unknown key '%s' in %s (did you mean '%s'?)", key->str, what,
					near);
		else
			cdx_cfg_problem(c, key, "unknown key '%s' in %s", key->str, what);
	}
}

void cdx_cfg_keys(struct cdx_cfg *c, const struct cdx_ynode *map, const char *const *keys, size_t n,
		  const char *what)
{
	check_keys(c, map, keys, n, what, false);
}

void cdx_cfg_keys_hidden(struct cdx_cfg *c, const struct cdx_ynode *map, const char *const *keys, size_t n,
			 const char *what)
{
	check_keys(c, map, keys, n, what, true);
}

const struct cdx_ynode *cdx_cfg_need(struct cdx_cfg *c, const struct cdx_ynode *map, const char *key,
				     const char *what)
{
	const struct cdx_ynode *v = cdx_yaml_get(map, key);
	if (!v)
		cdx_cfg_problem(c, map, "missing key '%s' in %s", key, what);
	return v;
}

bool cdx_cfg_want(struct cdx_cfg *c, const struct cdx_ynode *n, enum cdx_ytype type, const char *what)
{
	static const char *const names[] = {"a string", "a list", "a mapping"};
	if (n->type == type && !(type == CDX_Y_SCALAR && cdx_yaml_is_null(n)))
		return true;
	cdx_cfg_problem(c, n, "%s must be %s, not %s", what, names[type], cdx_yaml_typename(n));
	return false;
}

bool cdx_cfg_items(struct cdx_cfg *c, const struct cdx_ynode *const *n, const char *what,
		   const struct cdx_ynode *const **items, size_t *count)
{
	*items = NULL;
	*count = 0;
	if ((*n)->type == CDX_Y_SCALAR && !cdx_yaml_is_null(*n)) {
		*items = n;
		*count = 1;
		return true;
	}
	if (!cdx_cfg_want(c, *n, CDX_Y_SEQ, what))
		return false;
	*items = (const struct cdx_ynode *const *)(*n)->items;
	*count = (*n)->n;
	return true;
}

bool cdx_cfg_name(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what)
{
	if (!cdx_cfg_want(c, n, CDX_Y_SCALAR, what))
		return false;
	if (cdx_name_valid(n->str) && strlen(n->str) == n->len)
		return true;
	if (strcmp(n->str, ".") == 0 || strcmp(n->str, "..") == 0)
		cdx_cfg_problem(c, n, "%s '%s' is invalid: '.' and '..' cannot be names", what, n->str);
	else
		cdx_cfg_problem(c, n, "%s '%s' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -",
				what, n->str);
	return false;
}

bool cdx_cfg_env_name(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what)
{
	if (!cdx_cfg_want(c, n, CDX_Y_SCALAR, what))
		return false;
	if (cdx_env_name_valid(n->str) && strlen(n->str) == n->len)
		return true;
	cdx_cfg_problem(c, n, "%s '%s' is invalid: use A-Z a-z 0-9 _, not starting with a digit", what,
			n->str);
	return false;
}

bool cdx_cfg_duration(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, bool zero_ok,
		      int64_t *ms)
{
	const char *why;
	int64_t v;
	if (!cdx_cfg_want(c, n, CDX_Y_SCALAR, what))
		return false;
	if (cdx_duration_parse(n->str, &v, &why) < 0) {
		cdx_cfg_problem(c, n, "bad duration '%s' for %s: %s", n->str, what, why);
		return false;
	}
	if (!zero_ok && v <= 0) {
		cdx_cfg_problem(c, n, "%s must be longer than zero", what);
		return false;
	}
	*ms = v;
	return true;
}

/* a scalar that may be a number: not null, and unquoted when the reader
 * wants plain numbers; else a problem saying N must be KIND */
static bool number_scalar(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, const char *kind)
{
	bool scalar = n->type == CDX_Y_SCALAR && !cdx_yaml_is_null(n);
	if (scalar && (n->plain || !c->plain_numbers))
		return true;
	cdx_cfg_problem(c, n, "%s must be %s, not %s", what, kind, scalar ? "a quoted string" : cdx_yaml_typename(n));
	return false;
}

bool cdx_cfg_int(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, long lo, long hi, int *out)
{
	char kind[80];
	char *end;
	long v;
	snprintf(kind, sizeof(kind), "a whole number from %ld to %ld", lo, hi);
	if (!number_scalar(c, n, what, kind))
		return false;
	errno = 0;
	v = strtol(n->str, &end, 10);
	if (errno || end == n->str || *end || v < lo || v > hi) {
		cdx_cfg_problem(c, n, "%s must be %s, not '%s'", what, kind, n->str);
		return false;
	}
	*out = (int)v;
	return true;
}

bool cdx_cfg_number(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, double *out)
{
	char *end;
	double v;
	if (!number_scalar(c, n, what, "a number"))
		return false;
	errno = 0;
	v = strtod(n->str, &end);
	if (errno || end == n->str || *end || !isfinite(v)) {
		cdx_cfg_problem(c, n, "%s must be a number, not '%s'", what, n->str);
		return false;
	}
	*out = v;
	return true;
}

bool cdx_cfg_bool(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, bool *out)
{
	int b = cdx_yaml_bool(n);
	if (b < 0) {
		cdx_cfg_problem(c, n, "%s must be true or false, not '%s'", what,
				n->type == CDX_Y_SCALAR ? n->str : cdx_yaml_typename(n));
		return false;
	}
	*out = b;
	return true;
}

void cdx_cfg_unknown(struct cdx_cfg *c, const struct cdx_ynode *at, const char *what, const char *word,
		     const char *const *cands, size_t n)
{
	const char *near = cdx_closest(word, cands, n);
	if (near)
		cdx_cfg_problem(c, at, "unknown %s '%s' (did you mean '%s'?)", what, word, near);
	else
		cdx_cfg_problem(c, at, "unknown %s '%s'", what, word);
}

int cdx_cfg_choice(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, const char *const *names,
		   size_t count)
{
	size_t i;
	if (!cdx_cfg_want(c, n, CDX_Y_SCALAR, what))
		return -1;
	for (i = 0; i < count; i++)
		if (strcmp(n->str, names[i]) == 0)
			return (int)i;
	cdx_cfg_unknown(c, n, what, n->str, names, count);
	return -1;
}
