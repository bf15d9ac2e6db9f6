/* pipeline_load.c — pipeline files to the pipeline model.
 *
 * Loading happens in passes over positioned YAML trees (ytree.h):
 *   1. files: the main file and, depth first, every `include:` (relative to
 *      the including file, each file once, cycles refused);
 *   2. variables and templates gathered from all files (the including file
 *      wins over what it includes);
 *   3. stages and jobs: `extends:` merged in (deep merge of mappings, the
 *      job's own keys win), keys checked against the schema, `matrix:`
 *      expanded into one job per combination;
 *   4. names indexed, needs resolved, stage cycles found, then the job
 *      graph built (dag.c), which finds job cycles.
 * Every pass goes on after a problem, so that one run reports them all; a
 * pipeline is returned only when no problem was found.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/dag.h"
#include "base/diag.h"
#include "base/duration.h"
#include "base/map.h"
#include "pipeline/pipeline.h"
#include "yaml/ytree.h"

#define MAX_INCLUDE_DEPTH 16
#define MAX_EXTENDS_DEPTH 16
#define MAX_MATRIX 1000

struct loader {
	struct cdx_diags *diags;
	size_t problems;               /* problems reported so far */
	struct cdx_ytree **trees;      /* every file loaded, freed at the end */
	size_t n_trees, cap_trees;
	char **stack;                  /* include chain being loaded (canonical) */
	char **shown;                  /* the same chain as the user named it */
	size_t n_stack, cap_stack, cap_shown;
	char **seen;                   /* canonical paths already loaded */
	size_t n_seen, cap_seen;
	struct cdx_ynode **var_maps;   /* `variables:` of each file, lowest precedence first */
	size_t n_var_maps, cap_var_maps;
	struct cdx_ynode **tpl_maps;   /* `templates:` of each file, same order */
	size_t n_tpl_maps, cap_tpl_maps;
	struct cdx_ynode **stage_nodes;/* every stage, in pipeline order */
	size_t n_stage_nodes, cap_stage_nodes;
	struct cdx_ytree *scratch;     /* arena for merged nodes */
	struct cdx_map tpl_done;       /* template name -> index in tpl_resolved */
	const struct cdx_ynode **tpl_resolved; /* each template with its extends merged, once */
	size_t n_tpl_resolved, cap_tpl_resolved;
	struct cdx_pipeline *p;
	size_t cap_stages, cap_jobs, cap_files;
	bool too_many;                 /* the job limit was passed */
};

/* intern: the pipeline's own copy of FILE, valid as long as the pipeline */
static const char *intern(struct loader *l, const char *file)
{
	struct cdx_pipeline *p = l->p;
	size_t i;
	for (i = 0; i < p->n_files; i++)
		if (strcmp(p->files[i], file) == 0)
			return p->files[i];
	cdx_grow(&p->files, &l->cap_files, p->n_files + 1, sizeof(char *));
	p->files[p->n_files] = cdx_xstrdup(file);
	return p->files[p->n_files++];
}

static void problem(struct loader *l, const struct cdx_ynode *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct loader *l, const struct cdx_ynode *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cdx_diags_addv(l->diags, at ? at->file : l->p->path, at ? at->line : 0, at ? at->col : 0, fmt, ap);
	va_end(ap);
	l->problems++;
}

static const char *const top_keys[] = {"name",	   "variables", "timeout",
				       "stages",   "templates", "include", "concurrency"};
static const char *const concurrency_keys[] = {"group", "limit", "cancel_in_progress"};
static const char *const include_keys[] = {"variables", "templates", "stages", "include"};
static const char *const stage_keys[] = {"name", "needs", "timeout", "environment", "jobs"};
static const char *const job_keys[] = {"name",	   "script",	"needs",   "retry",	"allow_failure",
				       "timeout",  "variables", "inputs",  "outputs", "duration_hint",
				       "extends",  "matrix"};
static const char *const retry_keys[] = {"max", "exit_codes", "when"};
static const char *const var_keys[] = {"value", "from_env", "secret"};

/* check_keys: report every key of MAP not among KEYS (n of them) */
static void check_keys(struct loader *l, const struct cdx_ynode *map, const char *const *keys, size_t n,
		       const char *what)
{
	size_t i, k;
	for (i = 0; i < map->n; i++) {
		const struct cdx_ynode *key = map->pairs[i].key;
		const char *near;
		/* hidden top-level keys (".base", "x-defaults") hold YAML anchors */
		if ((keys == top_keys || keys == include_keys) &&
		    (key->str[0] == '.' || strncmp(key->str, "x-", 2) == 0))
			continue;
		for (k = 0; k < n; k++)
			if (key->str[0] == keys[k][0] && strcmp(key->str, keys[k]) == 0)
				break;
		if (k < n)
			continue;
		near = cdx_closest(key->str, keys, n);
		if (near)
			problem(l, key, "unknown key '%s' in %s (did you mean '%s'?)", key->str, what, near);
		else
			problem(l, key, "unknown key '%s' in %s", key->str, what);
	}
}

static bool want_type(struct loader *l, const struct cdx_ynode *n, enum cdx_ytype type, const char *what)
{
	static const char *const names[] = {"a string", "a list", "a mapping"};
	if (n->type == type && !(type == CDX_Y_SCALAR && cdx_yaml_is_null(n)))
		return true;
	problem(l, n, "%s must be %s, not %s", what, names[type], cdx_yaml_typename(n));
	return false;
}

static bool check_name(struct loader *l, const struct cdx_ynode *n, const char *what)
{
	if (cdx_name_valid(n->str) && strlen(n->str) == n->len)
		return true;
	if (strcmp(n->str, ".") == 0 || strcmp(n->str, "..") == 0) {
		problem(l, n, "%s '%s' is invalid: '.' and '..' cannot be names", what, n->str);
		return false;
	}
	problem(l, n, "%s '%s' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -", what, n->str);
	return false;
}


static bool get_duration(struct loader *l, const struct cdx_ynode *n, const char *what, bool zero_ok,
			 int64_t *ms)
{
	const char *why;
	if (!want_type(l, n, CDX_Y_SCALAR, what))
		return false;
	if (cdx_duration_parse(n->str, ms, &why) < 0) {
		problem(l, n, "bad duration '%s' for %s: %s", n->str, what, why);
		return false;
	}
	if (!zero_ok && *ms <= 0) {
		problem(l, n, "%s must be longer than zero", what);
		return false;
	}
	return true;
}

static bool get_int(struct loader *l, const struct cdx_ynode *n, const char *what, long lo, long hi, int *out)
{
	char *end;
	long v;
	if (!want_type(l, n, CDX_Y_SCALAR, what))
		return false;
	errno = 0;
	v = strtol(n->str, &end, 10);
	if (!n->plain || end == n->str || *end || errno || v < lo || v > hi) {
		problem(l, n, "%s must be a whole number from %ld to %ld, not '%s'", what, lo, hi, n->str);
		return false;
	}
	*out = (int)v;
	return true;
}

/* exit codes: one number or a list of numbers from 1 to 255 */
static bool get_codes(struct loader *l, const struct cdx_ynode *n, const char *what, int **codes, size_t *count)
{
	size_t i, cap = 0;
	if (n->type == CDX_Y_SCALAR) {
		int c;
		if (!get_int(l, n, what, 1, 255, &c))
			return false;
		CDX_PUSH(*codes, *count, cap, c);
		return true;
	}
	if (!want_type(l, n, CDX_Y_SEQ, what))
		return false;
	for (i = 0; i < n->n; i++) {
		int c;
		if (get_int(l, n->items[i], what, 1, 255, &c))
			CDX_PUSH(*codes, *count, cap, c);
	}
	return true;
}

static bool get_strlist(struct loader *l, const struct cdx_ynode *n, const char *what, char ***out, size_t *count)
{
	size_t i, cap = 0;
	if (n->type == CDX_Y_SCALAR && !cdx_yaml_is_null(n)) {
		CDX_PUSH(*out, *count, cap, cdx_xstrdup(n->str));
		return true;
	}
	if (!want_type(l, n, CDX_Y_SEQ, what))
		return false;
	for (i = 0; i < n->n; i++)
		if (want_type(l, n->items[i], CDX_Y_SCALAR, what))
			CDX_PUSH(*out, *count, cap, cdx_xstrdup(n->items[i]->str));
	return true;
}

/* ---- variables ----------------------------------------------------------- */

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
static void vars_set(struct cdx_vars *v, struct cdx_var var)
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

static void parse_vars(struct loader *l, const struct cdx_ynode *map, const char *what, bool allow_secret,
		       struct cdx_vars *out)
{
	size_t i;
	if (cdx_yaml_is_null(map))
		return;
	if (!want_type(l, map, CDX_Y_MAP, what))
		return;
	for (i = 0; i < map->n; i++) {
		const struct cdx_ynode *k = map->pairs[i].key, *v = map->pairs[i].val;
		struct cdx_var var = {0};
		if (!cdx_env_name_valid(k->str) || strlen(k->str) != k->len) {
			problem(l, k, "variable name '%s' is invalid: use A-Z a-z 0-9 _, not starting with a digit",
				k->str);
			continue;
		}
		var.file = intern(l, k->file);
		var.line = k->line;
		var.col = k->col;
		if (v->type == CDX_Y_MAP && allow_secret) {
			const struct cdx_ynode *val = cdx_yaml_get(v, "value"), *env = cdx_yaml_get(v, "from_env"),
					       *sec = cdx_yaml_get(v, "secret");
			check_keys(l, v, var_keys, CDX_ARRAY_LEN(var_keys), "variable");
			if (val && want_type(l, val, CDX_Y_SCALAR, "value"))
				var.value = cdx_xstrdup(val->str);
			if (env && want_type(l, env, CDX_Y_SCALAR, "from_env")) {
				if (!cdx_env_name_valid(env->str))
					problem(l, env, "from_env '%s' is not a valid environment variable name",
						env->str);
				else
					var.from_env = cdx_xstrdup(env->str);
			}
			if (sec) {
				int b = cdx_yaml_bool(sec);
				if (b < 0)
					problem(l, sec, "secret must be true or false, not '%s'",
						sec->type == CDX_Y_SCALAR ? sec->str : cdx_yaml_typename(sec));
				var.secret = b == 1;
			}
			if (!val && !env)
				problem(l, v, "variable '%s' needs value or from_env", k->str);
		} else if (v->type == CDX_Y_SCALAR) {
			var.value = cdx_xstrdup(cdx_yaml_is_null(v) ? "" : v->str);
		} else {
			problem(l, v, "variable '%s' must be a string%s, not %s", k->str,
				allow_secret ? " or {from_env, secret}" : "", cdx_yaml_typename(v));
			continue;
		}
		var.name = cdx_xstrdup(k->str);
		vars_set(out, var);
	}
}

/* ---- files and includes -------------------------------------------------- */

static void load_file(struct loader *l, const char *path, const struct cdx_ynode *from, int depth, const char *mem,
		      size_t memlen);

static void load_includes(struct loader *l, const struct cdx_ynode *inc, const char *path, int depth)
{
	char *copy = cdx_xstrdup(path);
	const char *dir = dirname(copy);
	const struct cdx_ynode *const *items;
	const struct cdx_ynode *single[1];
	size_t n, i;
	if (inc->type == CDX_Y_SCALAR && !cdx_yaml_is_null(inc)) {
		single[0] = inc;
		items = single;
		n = 1;
	} else if (want_type(l, inc, CDX_Y_SEQ, "include")) {
		items = (const struct cdx_ynode *const *)inc->items;
		n = inc->n;
	} else {
		n = 0;
		items = NULL;
	}
	for (i = 0; i < n; i++) {
		char *child;
		if (!want_type(l, items[i], CDX_Y_SCALAR, "include"))
			continue;
		if (items[i]->str[0] == '/' || strcmp(dir, ".") == 0)
			child = cdx_xstrdup(items[i]->str);
		else
			child = cdx_xasprintf("%s/%s", dir, items[i]->str);
		load_file(l, child, items[i], depth + 1, NULL, 0);
		free(child);
	}
	free(copy);
}

/* concurrency: {group: NAME, limit: N, cancel_in_progress: BOOL}, or
 * just NAME (limit 1) */
static void parse_concurrency(struct loader *l, const struct cdx_ynode *n)
{
	struct cdx_concurrency *c = &l->p->concurrency;
	const struct cdx_ynode *g = n, *v;
	c->limit = 1;
	c->file = intern(l, n->file);
	c->line = n->line;
	c->col = n->col;
	if (n->type == CDX_Y_MAP) {
		check_keys(l, n, concurrency_keys, CDX_ARRAY_LEN(concurrency_keys), "concurrency");
		g = cdx_yaml_get(n, "group");
		if (!g) {
			problem(l, n, "missing key 'group' in concurrency");
			return;
		}
		v = cdx_yaml_get(n, "limit");
		if (v)
			get_int(l, v, "concurrency limit", 1, CDX_CONCURRENCY_LIMIT_MAX, &c->limit);
		v = cdx_yaml_get(n, "cancel_in_progress");
		if (v) {
			int b = cdx_yaml_bool(v);
			if (b < 0)
				problem(l, v, "concurrency cancel_in_progress must be true or false, not '%s'",
					v->type == CDX_Y_SCALAR ? v->str : cdx_yaml_typename(v));
			else
				c->cancel_in_progress = b == 1;
		}
	} else if (n->type != CDX_Y_SCALAR || cdx_yaml_is_null(n)) {
		problem(l, n, "concurrency must be a group name or a mapping, not %s", cdx_yaml_typename(n));
		return;
	}
	if (want_type(l, g, CDX_Y_SCALAR, "concurrency group") && check_name(l, g, "concurrency group"))
		c->group = cdx_xstrdup(g->str);
}

static void load_file(struct loader *l, const char *path, const struct cdx_ynode *from, int depth, const char *mem,
		      size_t memlen)
{
	struct cdx_error err = {0};
	struct cdx_ytree *t;
	struct cdx_ynode *root, *n;
	char *buf = NULL, *canon;
	size_t len, i, before = cdx_diags_count(l->diags);
	bool main_file = from == NULL;

	canon = realpath(path, NULL);
	if (canon) {
		for (i = 0; i < l->n_stack; i++) {
			if (strcmp(l->stack[i], canon) == 0) {
				struct cdx_buf cyc = {0};
				size_t k;
				for (k = i; k < l->n_stack; k++)
					cdx_buf_printf(&cyc, "%s -> ", l->shown[k]);
				cdx_buf_adds(&cyc, path);
				problem(l, from, "include cycle: %s", cyc.data);
				cdx_buf_free(&cyc);
				free(canon);
				return;
			}
		}
		for (i = 0; i < l->n_seen; i++) {
			if (strcmp(l->seen[i], canon) == 0) {
				free(canon); /* included before: each file counts once */
				return;
			}
		}
	}
	if (depth > MAX_INCLUDE_DEPTH) {
		problem(l, from, "includes nested deeper than %d files", MAX_INCLUDE_DEPTH);
		free(canon);
		return;
	}
	if (mem) {
		len = memlen;
	} else if (cdx_read_file(path, CDX_YAML_MAXBYTES + 1, &buf, &len, &err) < 0) {
		if (from)
			problem(l, from, "%s", err.msg);
		else
			problem(l, NULL, "%s", strstr(err.msg, "larger than") ? "file is larger than 16 MiB" : err.msg);
		free(canon);
		return;
	}
	if (main_file)
		l->p->file_hash = cdx_crc32(0, mem ? mem : buf, len);
	t = cdx_yaml_parse(path, mem ? mem : buf, len, l->diags);
	free(buf);
	if (!t) {
		l->problems += cdx_diags_count(l->diags) - before + (l->diags ? 0 : 1);
		free(canon);
		return;
	}
	CDX_PUSH(l->trees, l->n_trees, l->cap_trees, t);
	if (canon)
		CDX_PUSH(l->seen, l->n_seen, l->cap_seen, cdx_xstrdup(canon));
	root = cdx_yaml_root(t);
	if (root->type != CDX_Y_MAP) {
		problem(l, root, "a pipeline file must be a mapping with stages, not %s", cdx_yaml_typename(root));
		free(canon);
		return;
	}
	if (main_file)
		check_keys(l, root, top_keys, CDX_ARRAY_LEN(top_keys), "pipeline");
	else
		check_keys(l, root, include_keys, CDX_ARRAY_LEN(include_keys), "included file");

	cdx_grow(&l->shown, &l->cap_shown, l->n_stack + 1, sizeof(char *));
	l->shown[l->n_stack] = cdx_xstrdup(path);
	CDX_PUSH(l->stack, l->n_stack, l->cap_stack, canon ? canon : cdx_xstrdup(path));
	n = cdx_yaml_get(root, "include");
	if (n)
		load_includes(l, n, path, depth);
	l->n_stack--;
	free(l->stack[l->n_stack]);
	free(l->shown[l->n_stack]);

	n = cdx_yaml_get(root, "variables");
	if (n)
		CDX_PUSH(l->var_maps, l->n_var_maps, l->cap_var_maps, n);
	n = cdx_yaml_get(root, "templates");
	if (n && want_type(l, n, CDX_Y_MAP, "templates"))
		CDX_PUSH(l->tpl_maps, l->n_tpl_maps, l->cap_tpl_maps, n);
	n = cdx_yaml_get(root, "stages");
	if (n && want_type(l, n, CDX_Y_SEQ, "stages"))
		for (i = 0; i < n->n; i++)
			CDX_PUSH(l->stage_nodes, l->n_stage_nodes, l->cap_stage_nodes, n->items[i]);
	if (main_file) {
		if (!cdx_yaml_get(root, "stages"))
			problem(l, root, "missing key 'stages' in pipeline");
		n = cdx_yaml_get(root, "name");
		if (n && want_type(l, n, CDX_Y_SCALAR, "name") && check_name(l, n, "pipeline name"))
			l->p->name = cdx_xstrdup(n->str);
		n = cdx_yaml_get(root, "timeout");
		if (n)
			get_duration(l, n, "timeout", false, &l->p->timeout_ms);
		n = cdx_yaml_get(root, "concurrency");
		if (n)
			parse_concurrency(l, n);
	}
}

/* ---- templates ----------------------------------------------------------- */

static const struct cdx_ynode *find_template(struct loader *l, const char *name)
{
	size_t i = l->n_tpl_maps;
	while (i-- > 0) {
		const struct cdx_ynode *t = cdx_yaml_get(l->tpl_maps[i], name);
		if (t)
			return t;
	}
	return NULL;
}

/* deep merge: BASE's keys, overridden by OVER's; mappings on both sides are
 * merged recursively.  The result lives in the scratch arena. */
static struct cdx_ynode *merge(struct loader *l, const struct cdx_ynode *base, const struct cdx_ynode *over)
{
	struct cdx_ynode *m = cdx_yaml_new_map(l->scratch, over, base->n + over->n);
	size_t i;
	for (i = 0; i < base->n; i++) {
		const struct cdx_ynode *o = cdx_yaml_get(over, base->pairs[i].key->str);
		if (!o)
			cdx_yaml_map_add(l->scratch, m, base->pairs[i].key, base->pairs[i].val);
	}
	for (i = 0; i < over->n; i++) {
		const struct cdx_ynode *b = cdx_yaml_get(base, over->pairs[i].key->str);
		struct cdx_ynode *v = over->pairs[i].val;
		if (b && b->type == CDX_Y_MAP && v->type == CDX_Y_MAP)
			v = merge(l, b, v);
		cdx_yaml_map_add(l->scratch, m, over->pairs[i].key, v);
	}
	return m;
}

/* resolve `extends:` of NODE (a job or template mapping); CHAIN holds the
 * template names being resolved, for cycle messages */
static const struct cdx_ynode *resolve_extends(struct loader *l, const struct cdx_ynode *node, const char **chain,
					       size_t depth)
{
	const struct cdx_ynode *ext = cdx_yaml_get(node, "extends"), *result = node;
	const struct cdx_ynode *const *names;
	const struct cdx_ynode *single[1];
	size_t n, i;
	if (!ext)
		return node;
	if (ext->type == CDX_Y_SCALAR && !cdx_yaml_is_null(ext)) {
		single[0] = ext;
		names = single;
		n = 1;
	} else if (want_type(l, ext, CDX_Y_SEQ, "extends")) {
		names = (const struct cdx_ynode *const *)ext->items;
		n = ext->n;
	} else {
		return node;
	}
	/* later templates in the list win over earlier ones; the node over all */
	for (i = n; i-- > 0;) {
		const struct cdx_ynode *tpl;
		size_t k;
		if (!want_type(l, names[i], CDX_Y_SCALAR, "extends"))
			continue;
		for (k = 0; k < depth; k++) {
			if (strcmp(chain[k], names[i]->str) == 0) {
				struct cdx_buf cyc = {0};
				size_t j;
				for (j = k; j < depth; j++)
					cdx_buf_printf(&cyc, "%s -> ", chain[j]);
				cdx_buf_adds(&cyc, names[i]->str);
				problem(l, names[i], "extends cycle: %s", cyc.data);
				cdx_buf_free(&cyc);
				return node;
			}
		}
		tpl = find_template(l, names[i]->str);
		if (!tpl) {
			const char **cands = NULL;
			size_t nc = 0, cap = 0, t, p;
			const char *near;
			for (t = 0; t < l->n_tpl_maps; t++)
				for (p = 0; p < l->tpl_maps[t]->n; p++)
					CDX_PUSH(cands, nc, cap, l->tpl_maps[t]->pairs[p].key->str);
			near = cdx_closest(names[i]->str, cands, nc);
			if (near)
				problem(l, names[i], "unknown template '%s' (did you mean '%s'?)", names[i]->str, near);
			else
				problem(l, names[i], "unknown template '%s'", names[i]->str);
			free(cands);
			continue;
		}
		if (tpl->type != CDX_Y_MAP)
			continue; /* reported once, where templates are checked */
		if (depth >= MAX_EXTENDS_DEPTH) {
			problem(l, names[i], "extends nested deeper than %d templates", MAX_EXTENDS_DEPTH);
			continue;
		}
		if (cdx_yaml_get(tpl, "name"))
			problem(l, cdx_yaml_get(tpl, "name"), "a template cannot set 'name'");
		{
			/* each template is resolved once: extends lists that repeat
			 * templates cannot blow up exponentially */
			size_t at;
			if (cdx_map_get(&l->tpl_done, names[i]->str, &at)) {
				tpl = l->tpl_resolved[at];
			} else {
				chain[depth] = names[i]->str;
				tpl = resolve_extends(l, tpl, chain, depth + 1);
				CDX_PUSH(l->tpl_resolved, l->n_tpl_resolved, l->cap_tpl_resolved, tpl);
				cdx_map_put(&l->tpl_done, names[i]->str, l->n_tpl_resolved - 1, NULL);
			}
		}
		result = merge(l, tpl, result);
	}
	return result;
}

/* ---- stages and jobs ----------------------------------------------------- */

/* the references of N into *OUT and *COUNT (in the pipeline's pool) */
static void parse_needs(struct loader *l, const struct cdx_ynode *n, const char *what, struct cdx_need **out,
			size_t *count)
{
	size_t i;
	const struct cdx_ynode *const *items = &n;
	size_t n_items = 1;
	if (cdx_yaml_is_null(n))
		return;
	if (n->type != CDX_Y_SCALAR) {
		if (!want_type(l, n, CDX_Y_SEQ, what))
			return;
		items = (const struct cdx_ynode *const *)n->items;
		n_items = n->n;
	}
	*out = cdx_arena_alloc(&l->p->pool, n_items * sizeof(**out));
	*count = 0;
	for (i = 0; i < n_items; i++) {
		struct cdx_need *need = &(*out)[*count];
		if (!want_type(l, items[i], CDX_Y_SCALAR, what))
			continue;
		need->ref = cdx_arena_strndup(&l->p->pool, items[i]->str, items[i]->len);
		need->stage = need->job = CDX_NONE;
		need->file = intern(l, items[i]->file);
		need->line = items[i]->line;
		need->col = items[i]->col;
		(*count)++;
	}
}

/* the script of N, its lines joined (in the pipeline's pool) */
static char *join_script(struct loader *l, const struct cdx_ynode *n)
{
	struct cdx_buf b = {0};
	size_t i;
	char *s;
	if (n->type == CDX_Y_SCALAR && !cdx_yaml_is_null(n)) {
		for (i = 0; i < n->len; i++)
			if (n->str[i] != ' ' && n->str[i] != '\t' && n->str[i] != '\n' && n->str[i] != '\r')
				return cdx_arena_strndup(&l->p->pool, n->str, n->len);
	} else if (n->type == CDX_Y_SEQ) {
		for (i = 0; i < n->n; i++) {
			if (!want_type(l, n->items[i], CDX_Y_SCALAR, "a script line"))
				continue;
			if (b.len)
				cdx_buf_addc(&b, '\n');
			cdx_buf_add(&b, n->items[i]->str, n->items[i]->len);
		}
	} else {
		problem(l, n, "script must be a string or a list of strings, not %s", cdx_yaml_typename(n));
		return NULL;
	}
	for (i = 0; i < b.len; i++)
		if (b.data[i] != ' ' && b.data[i] != '\t' && b.data[i] != '\n' && b.data[i] != '\r') {
			s = cdx_arena_strndup(&l->p->pool, b.data, b.len);
			cdx_buf_free(&b);
			return s;
		}
	problem(l, n, "empty script");
	cdx_buf_free(&b);
	return NULL;
}

/* free what a job holds outside the pipeline's pool */
static void job_free_fields(struct cdx_job *j)
{
	size_t i;
	free(j->retry_codes);
	free(j->allow_codes);
	cdx_vars_free(&j->vars);
	for (i = 0; i < j->n_inputs; i++)
		free(j->inputs[i]);
	free(j->inputs);
	for (i = 0; i < j->n_outputs; i++)
		free(j->outputs[i]);
	free(j->outputs);
}

static void parse_retry(struct loader *l, const struct cdx_ynode *n, struct cdx_job *j)
{
	const struct cdx_ynode *v;
	j->retry_when = CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT;
	if (n->type == CDX_Y_SCALAR) {
		get_int(l, n, "retry", 0, 100, &j->retry_max);
		return;
	}
	if (!want_type(l, n, CDX_Y_MAP, "retry"))
		return;
	check_keys(l, n, retry_keys, CDX_ARRAY_LEN(retry_keys), "retry");
	v = cdx_yaml_get(n, "max");
	if (v)
		get_int(l, v, "retry max", 0, 100, &j->retry_max);
	else
		problem(l, n, "missing key 'max' in retry");
	v = cdx_yaml_get(n, "exit_codes");
	if (v)
		get_codes(l, v, "retry exit_codes", &j->retry_codes, &j->n_retry_codes);
	v = cdx_yaml_get(n, "when");
	if (v) {
		const struct cdx_ynode *const *items = (const struct cdx_ynode *const *)v->items;
		size_t cnt = v->n, i;
		if (v->type == CDX_Y_SCALAR) {
			items = (const struct cdx_ynode *const *)&v;
			cnt = 1;
		} else if (!want_type(l, v, CDX_Y_SEQ, "retry when")) {
			return;
		}
		j->retry_when = 0;
		for (i = 0; i < cnt; i++) {
			const char *w = items[i]->type == CDX_Y_SCALAR ? items[i]->str : "";
			if (strcmp(w, "always") == 0)
				j->retry_when |= CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT;
			else if (strcmp(w, "script_failure") == 0)
				j->retry_when |= CDX_RETRY_ON_FAILURE;
			else if (strcmp(w, "timeout") == 0)
				j->retry_when |= CDX_RETRY_ON_TIMEOUT;
			else
				problem(l, items[i], "retry when must be always, script_failure or timeout, not '%s'",
					w);
		}
	}
}

static void parse_allow_failure(struct loader *l, const struct cdx_ynode *n, struct cdx_job *j)
{
	int b = cdx_yaml_bool(n);
	if (b >= 0) {
		j->allow_failure = b == 1;
		return;
	}
	if (n->type == CDX_Y_MAP) {
		const struct cdx_ynode *codes = cdx_yaml_get(n, "exit_codes");
		static const char *const keys[] = {"exit_codes"};
		check_keys(l, n, keys, 1, "allow_failure");
		if (codes)
			get_codes(l, codes, "allow_failure exit_codes", &j->allow_codes, &j->n_allow_codes);
		else
			problem(l, n, "missing key 'exit_codes' in allow_failure");
		return;
	}
	if (n->type == CDX_Y_SCALAR && (!n->plain || strspn(n->str, "0123456789") != n->len)) {
		problem(l, n, "allow_failure must be true, false or exit codes, not '%s'", n->str);
		return;
	}
	get_codes(l, n, "allow_failure", &j->allow_codes, &j->n_allow_codes);
}

/* parse one job mapping (extends already merged) into J */
static void parse_job(struct loader *l, const struct cdx_ynode *m, struct cdx_job *j)
{
	const struct cdx_ynode *v;
	j->line = m->line;
	j->col = m->col;
	j->hint_ms = -1;
	j->retry_when = CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT;
	v = cdx_yaml_get(m, "script");
	if (v)
		j->script = join_script(l, v);
	else
		problem(l, m, "missing key 'script' in job");
	v = cdx_yaml_get(m, "needs");
	if (v) {
		j->has_needs = true;
		parse_needs(l, v, "needs", &j->needs, &j->n_needs);
	}
	v = cdx_yaml_get(m, "retry");
	if (v)
		parse_retry(l, v, j);
	v = cdx_yaml_get(m, "allow_failure");
	if (v)
		parse_allow_failure(l, v, j);
	v = cdx_yaml_get(m, "timeout");
	if (v)
		get_duration(l, v, "timeout", false, &j->timeout_ms);
	v = cdx_yaml_get(m, "variables");
	if (v)
		parse_vars(l, v, "variables", true, &j->vars);
	v = cdx_yaml_get(m, "inputs");
	if (v)
		j->has_inputs = get_strlist(l, v, "inputs", &j->inputs, &j->n_inputs);
	v = cdx_yaml_get(m, "outputs");
	if (v)
		j->has_outputs = get_strlist(l, v, "outputs", &j->outputs, &j->n_outputs);
	v = cdx_yaml_get(m, "duration_hint");
	if (v)
		get_duration(l, v, "duration_hint", true, &j->hint_ms);
}

/* a copy of SRC in DST, which shares its pool strings (they never change) */
static void copy_job(struct loader *l, struct cdx_job *dst, const struct cdx_job *src)
{
	size_t i;
	*dst = *src;
	dst->name = NULL;
	dst->id = NULL;
	if (src->n_needs) { /* resolved one by one later */
		dst->needs = cdx_arena_alloc(&l->p->pool, src->n_needs * sizeof(*dst->needs));
		memcpy(dst->needs, src->needs, src->n_needs * sizeof(*dst->needs));
	}
	dst->retry_codes = src->n_retry_codes ? cdx_xcalloc(src->n_retry_codes, sizeof(int)) : NULL;
	if (src->n_retry_codes)
		memcpy(dst->retry_codes, src->retry_codes, src->n_retry_codes * sizeof(int));
	dst->allow_codes = src->n_allow_codes ? cdx_xcalloc(src->n_allow_codes, sizeof(int)) : NULL;
	if (src->n_allow_codes)
		memcpy(dst->allow_codes, src->allow_codes, src->n_allow_codes * sizeof(int));
	memset(&dst->vars, 0, sizeof(dst->vars));
	for (i = 0; i < src->vars.n; i++) {
		struct cdx_var v = src->vars.v[i];
		v.name = cdx_xstrdup(v.name);
		v.value = v.value ? cdx_xstrdup(v.value) : NULL;
		v.from_env = v.from_env ? cdx_xstrdup(v.from_env) : NULL;
		CDX_PUSH(dst->vars.v, dst->vars.n, dst->vars.cap, v);
	}
	dst->inputs = src->n_inputs ? cdx_xcalloc(src->n_inputs, sizeof(char *)) : NULL;
	for (i = 0; i < src->n_inputs; i++)
		dst->inputs[i] = cdx_xstrdup(src->inputs[i]);
	dst->outputs = src->n_outputs ? cdx_xcalloc(src->n_outputs, sizeof(char *)) : NULL;
	for (i = 0; i < src->n_outputs; i++)
		dst->outputs[i] = cdx_xstrdup(src->outputs[i]);
	dst->matrix_base = NULL;
}

static void add_job(struct loader *l, struct cdx_job *j)
{
	struct cdx_pipeline *p = l->p;
	if (p->n_jobs >= CDX_MAX_JOBS) {
		/* refuse as soon as the limit is passed, before expanding more */
		if (!l->too_many) {
			problem(l, NULL, "pipeline has more than %d jobs", CDX_MAX_JOBS);
			l->too_many = true;
		}
		job_free_fields(j);
		return;
	}
	cdx_grow(&p->jobs, &l->cap_jobs, p->n_jobs + 1, sizeof(*p->jobs));
	p->jobs[p->n_jobs++] = *j;
}

/* matrix value to a name part: [A-Za-z0-9_.] kept, other runs become one
 * '_', leading and trailing '_' dropped ("-O2" -> "O2", "x86 64" -> "x86_64") */
static void name_part(struct cdx_buf *b, const char *v)
{
	size_t start = b->len;
	for (; *v; v++) {
		char c = *v;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			  c == '.';
		if (ok)
			cdx_buf_addc(b, c);
		else if (b->len > start && b->data[b->len - 1] != '_')
			cdx_buf_addc(b, '_');
	}
	while (b->len > start && b->data[b->len - 1] == '_')
		b->data[--b->len] = '\0';
}

/* one mapping VAR -> value or [values]: expand the product into jobs */
static void expand_matrix_map(struct loader *l, const struct cdx_ynode *mm, const struct cdx_job *proto,
			      const struct cdx_ynode *name_node, size_t *made)
{
	size_t nvars = mm->n, i, total = 1;
	size_t *idx;
	if (!nvars) {
		problem(l, mm, "matrix must name at least one variable");
		return;
	}
	for (i = 0; i < nvars; i++) {
		const struct cdx_ynode *k = mm->pairs[i].key, *v = mm->pairs[i].val;
		size_t cnt = v->type == CDX_Y_SEQ ? v->n : 1;
		if (!cdx_env_name_valid(k->str)) {
			problem(l, k, "variable name '%s' is invalid: use A-Z a-z 0-9 _, not starting with a digit",
				k->str);
			return;
		}
		if (v->type == CDX_Y_MAP || (v->type == CDX_Y_SEQ && v->n == 0)) {
			problem(l, v, "matrix values of '%s' must be a string or a non-empty list of strings", k->str);
			return;
		}
		if (v->type == CDX_Y_SEQ)
			for (size_t q = 0; q < v->n; q++)
				if (!want_type(l, v->items[q], CDX_Y_SCALAR, "a matrix value"))
					return;
		total *= cnt;
		if (total > MAX_MATRIX) {
			problem(l, mm, "matrix expands to more than %d jobs", MAX_MATRIX);
			return;
		}
	}
	idx = cdx_xcalloc(nvars, sizeof(*idx));
	while (!l->too_many) {
		struct cdx_job j;
		struct cdx_buf name = {0};
		cdx_buf_adds(&name, proto->name);
		copy_job(l, &j, proto);
		for (i = 0; i < nvars; i++) {
			const struct cdx_ynode *v = mm->pairs[i].val;
			const struct cdx_ynode *val = v->type == CDX_Y_SEQ ? v->items[idx[i]] : v;
			struct cdx_var var = {0};
			cdx_buf_addc(&name, '-');
			name_part(&name, val->str);
			var.name = cdx_xstrdup(mm->pairs[i].key->str);
			var.value = cdx_xstrdup(val->str);
			var.file = intern(l, val->file);
			var.line = val->line;
			var.col = val->col;
			vars_set(&j.vars, var);
		}
		j.name = cdx_arena_strndup(&l->p->pool, name.data, name.len);
		cdx_buf_free(&name);
		j.matrix_base = proto->name;
		if (!cdx_name_valid(j.name)) {
			problem(l, name_node, "matrix job name '%s' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -",
				j.name);
			job_free_fields(&j);
		} else {
			add_job(l, &j);
			(*made)++;
		}
		for (i = nvars; i-- > 0;) {
			const struct cdx_ynode *v = mm->pairs[i].val;
			size_t cnt = v->type == CDX_Y_SEQ ? v->n : 1;
			if (++idx[i] < cnt)
				break;
			idx[i] = 0;
		}
		if (i == (size_t)-1)
			break;
	}
	free(idx);
}

static void parse_stage_jobs(struct loader *l, const struct cdx_ynode *jobs, size_t stage, const char *sname)
{
	size_t i, first;
	const char *chain[MAX_EXTENDS_DEPTH + 1];
	struct cdx_map names = {0}; /* job names as written -> index in jobs */
	for (i = 0; i < jobs->n; i++) {
		const struct cdx_ynode *raw = jobs->items[i], *m, *name, *matrix;
		struct cdx_job j = {0};
		if (!want_type(l, raw, CDX_Y_MAP, "a job"))
			continue;
		/* the job's own keys; a template's keys are checked with the template */
		check_keys(l, raw, job_keys, CDX_ARRAY_LEN(job_keys), "job");
		m = resolve_extends(l, raw, chain, 0);
		name = cdx_yaml_get(raw, "name");
		if (!name) {
			problem(l, raw, "missing key 'name' in job");
			continue;
		}
		parse_job(l, m, &j);
		j.file = intern(l, name->file);
		j.line = name->line;
		j.col = name->col;
		j.stage = stage;
		if (!want_type(l, name, CDX_Y_SCALAR, "job name") || !check_name(l, name, "job name")) {
			job_free_fields(&j);
			continue;
		}
		if (!cdx_map_put(&names, name->str, i, &first)) {
			/* as written: two entries of one name clash even when their
			 * matrix expansions would not */
			problem(l, name, "duplicate job '%s/%s' (first at line %d)", sname, name->str,
				cdx_yaml_get(jobs->items[first], "name")->line);
			job_free_fields(&j);
			continue;
		}
		j.name = cdx_arena_strndup(&l->p->pool, name->str, name->len);
		matrix = cdx_yaml_get(m, "matrix");
		if (matrix && !cdx_yaml_is_null(matrix)) {
			size_t made = 0, k;
			if (matrix->type == CDX_Y_MAP) {
				expand_matrix_map(l, matrix, &j, name, &made);
			} else if (matrix->type == CDX_Y_SEQ && matrix->n == 0) {
				problem(l, matrix, "matrix must name at least one variable");
			} else if (matrix->type == CDX_Y_SEQ) {
				for (k = 0; k < matrix->n; k++)
					if (want_type(l, matrix->items[k], CDX_Y_MAP, "a matrix entry"))
						expand_matrix_map(l, matrix->items[k], &j, name, &made);
			} else {
				problem(l, matrix, "matrix must be a mapping or a list of mappings, not %s",
					cdx_yaml_typename(matrix));
			}
			job_free_fields(&j);
			continue;
		}
		add_job(l, &j);
	}
	cdx_map_free(&names);
}

static void parse_stages(struct loader *l)
{
	struct cdx_pipeline *p = l->p;
	size_t i, want = 0;
	/* the jobs as written (a matrix adds more) in one array, in huge pages
	 * when big, rather than one that grows and is copied */
	for (i = 0; i < l->n_stage_nodes; i++) {
		const struct cdx_ynode *v = l->stage_nodes[i]->type == CDX_Y_MAP ?
						    cdx_yaml_get(l->stage_nodes[i], "jobs") : NULL;
		want += v && v->type == CDX_Y_SEQ ? v->n : 0;
	}
	if (!p->jobs && want > 4 && want <= CDX_MAX_JOBS) {
		p->jobs = cdx_xmalloc_big(want * sizeof(*p->jobs));
		l->cap_jobs = want;
	}
	/* the pool's first chunk: room for a job's names, script and a few
	 * needs each, in huge pages from about 6,000 jobs on */
	if (want <= CDX_MAX_JOBS)
		p->pool.first = 65536 + want * 160;
	for (i = 0; i < l->n_stage_nodes; i++) {
		const struct cdx_ynode *m = l->stage_nodes[i], *v, *name;
		struct cdx_stage s = {0};
		if (!want_type(l, m, CDX_Y_MAP, "a stage"))
			continue;
		check_keys(l, m, stage_keys, CDX_ARRAY_LEN(stage_keys), "stage");
		name = cdx_yaml_get(m, "name");
		if (!name) {
			problem(l, m, "missing key 'name' in stage");
			continue;
		}
		if (!want_type(l, name, CDX_Y_SCALAR, "stage name") || !check_name(l, name, "stage name"))
			continue;
		s.name = cdx_xstrdup(name->str);
		s.file = intern(l, name->file);
		s.line = name->line;
		s.col = name->col;
		s.timeout_ms = CDX_STAGE_TIMEOUT_DEFAULT_MS;
		v = cdx_yaml_get(m, "needs");
		if (v) {
			s.has_needs = true;
			parse_needs(l, v, "stage needs", &s.needs, &s.n_needs);
		}
		v = cdx_yaml_get(m, "timeout");
		if (v)
			get_duration(l, v, "timeout", false, &s.timeout_ms);
		v = cdx_yaml_get(m, "environment");
		if (v)
			parse_vars(l, v, "environment", false, &s.env);
		cdx_grow(&p->stages, &l->cap_stages, p->n_stages + 1, sizeof(*p->stages));
		s.first_job = p->n_jobs;
		v = cdx_yaml_get(m, "jobs");
		if (!v)
			problem(l, m, "missing key 'jobs' in stage '%s'", s.name);
		else if (want_type(l, v, CDX_Y_SEQ, "jobs"))
			parse_stage_jobs(l, v, p->n_stages, s.name);
		s.n_jobs = p->n_jobs - s.first_job;
		if (v && v->type == CDX_Y_SEQ && v->n == 0)
			problem(l, v, "stage '%s' has no jobs", s.name);
		p->stages[p->n_stages++] = s;
	}
}

/* ---- references ---------------------------------------------------------- */

struct index {
	struct cdx_map stages;  /* stage name -> index */
	struct cdx_map jobs;    /* job id -> index */
	struct cdx_map bases;   /* "STAGE/BASE" of matrix jobs -> first index */
	char **base_ids;        /* keys of bases (owned) */
	size_t n_base_ids, cap_base_ids;
};

static void index_free(struct index *x)
{
	size_t i;
	cdx_map_free(&x->stages);
	cdx_map_free(&x->jobs);
	cdx_map_free(&x->bases);
	for (i = 0; i < x->n_base_ids; i++)
		free(x->base_ids[i]);
	free(x->base_ids);
}

static void build_index(struct loader *l, struct index *x)
{
	struct cdx_pipeline *p = l->p;
	size_t i, old;
	cdx_map_reserve(&x->stages, p->n_stages);
	cdx_map_reserve(&x->jobs, p->n_jobs);
	for (i = 0; i < p->n_stages; i++) {
		struct cdx_stage *s = &p->stages[i];
		if (!cdx_map_put(&x->stages, s->name, i, &old))
		{
			cdx_diags_add(l->diags, s->file, s->line, s->col, "duplicate stage '%s' (first at line %d)",
				      s->name, p->stages[old].line);
			l->problems++;
		}
	}
	for (i = 0; i < p->n_jobs; i++) {
		struct cdx_job *j = &p->jobs[i];
		const char *sn = p->stages[j->stage].name;
		size_t ls = strlen(sn), lj = strlen(j->name);
		j->id = cdx_arena_alloc(&p->pool, ls + lj + 2);
		memcpy(j->id, sn, ls);
		j->id[ls] = '/';
		memcpy(j->id + ls + 1, j->name, lj);
		if (!cdx_map_put(&x->jobs, j->id, i, &old)) {
			cdx_diags_add(l->diags, j->file, j->line, j->col, "duplicate job '%s' (first at line %d)", j->id,
				      p->jobs[old].line);
			l->problems++;
		}
		if (j->matrix_base) {
			char *bid = cdx_xasprintf("%s/%s", p->stages[j->stage].name, j->matrix_base);
			if (cdx_map_put(&x->bases, bid, i, NULL))
				CDX_PUSH(x->base_ids, x->n_base_ids, x->cap_base_ids, bid);
			else
				free(bid);
		}
	}
}

static void unknown_ref(struct loader *l, const struct cdx_need *n, bool stage_only)
{
	const struct cdx_pipeline *p = l->p;
	const char **cands = cdx_xcalloc(p->n_stages + p->n_jobs + 1, sizeof(char *));
	size_t nc = 0, i;
	const char *near;
	bool is_job = strchr(n->ref, '/') != NULL;
	for (i = 0; i < p->n_stages; i++)
		cands[nc++] = p->stages[i].name;
	if (!stage_only)
		for (i = 0; i < p->n_jobs; i++)
			if (p->jobs[i].id && (is_job || strcmp(p->jobs[i].name, n->ref) == 0))
				cands[nc++] = is_job ? p->jobs[i].id : p->jobs[i].id;
	near = NULL;
	if (!is_job && !stage_only)
		for (i = 0; i < p->n_jobs && !near; i++)
			if (strcmp(p->jobs[i].name, n->ref) == 0)
				near = p->jobs[i].id;
	if (!near)
		near = cdx_closest(n->ref, cands, nc);
	cdx_diags_add(l->diags, n->file, n->line, n->col, "unknown %s '%s' in needs%s%s%s",
		      is_job ? "job" : "stage", n->ref, near ? " (did you mean '" : "", near ? near : "",
		      near ? "'?)" : "");
	l->problems++;
	free(cands);
}

static void resolve_needs(struct loader *l, struct index *x, struct cdx_need *needs, size_t n, bool stage_only)
{
	size_t i, v;
	for (i = 0; i < n; i++) {
		struct cdx_need *nd = &needs[i];
		const char *slash = strchr(nd->ref, '/');
		if (!slash) {
			if (cdx_map_get(&x->stages, nd->ref, &v))
				nd->stage = v;
			else
				unknown_ref(l, nd, stage_only);
			continue;
		}
		if (stage_only) {
			cdx_diags_add(l->diags, nd->file, nd->line, nd->col,
				      "stage needs name stages, not jobs: '%s' (move it to the job's needs)", nd->ref);
			l->problems++;
			continue;
		}
		if (cdx_map_get(&x->jobs, nd->ref, &v)) {
			nd->job = v;
			nd->njobs = 1;
			nd->stage = l->p->jobs[v].stage;
		} else if (cdx_map_get(&x->bases, nd->ref, &v)) {
			size_t k = v;
			nd->job = v;
			nd->stage = l->p->jobs[v].stage;
			while (k < l->p->n_jobs && l->p->jobs[k].matrix_base && l->p->jobs[k].stage == nd->stage &&
			       strncmp(l->p->jobs[k].matrix_base, slash + 1, strlen(slash + 1) + 1) == 0)
				k++;
			nd->njobs = k - v;
		} else {
			unknown_ref(l, nd, false);
		}
	}
}

/* stage-level cycles, with implicit previous-stage edges */
static void check_stage_cycles(struct loader *l)
{
	struct cdx_pipeline *p = l->p;
	size_t n = p->n_stages, s;
	unsigned char *state = cdx_xcalloc(n ? n : 1, 1);
	size_t *stack = cdx_xcalloc(n ? n : 1, sizeof(size_t)), *edge = cdx_xcalloc(n ? n : 1, sizeof(size_t));
	bool reported = false;
	/* iterative DFS over "needs" edges */
	for (s = 0; s < n && !reported; s++) {
		size_t depth = 0;
		if (state[s])
			continue;
		stack[depth] = s;
		edge[depth] = 0;
		state[s] = 1;
		depth = 1;
		while (depth && !reported) {
			size_t u = stack[depth - 1], e = edge[depth - 1]++, next;
			const struct cdx_stage *st = &p->stages[u];
			size_t ne = st->has_needs ? st->n_needs : (u > 0 ? 1 : 0);
			if (e >= ne) {
				state[u] = 2;
				depth--;
				continue;
			}
			next = st->has_needs ? st->needs[e].stage : u - 1;
			if (next == CDX_NONE)
				continue;
			if (state[next] == 1) {
				struct cdx_buf cyc = {0};
				size_t k = 0;
				while (stack[k] != next)
					k++;
				for (; k < depth; k++)
					cdx_buf_printf(&cyc, "%s -> ", p->stages[stack[k]].name);
				cdx_buf_adds(&cyc, p->stages[next].name);
				cdx_diags_add(l->diags, p->stages[next].file, p->stages[next].line, p->stages[next].col,
					      "stage cycle: %s", cyc.data);
				l->problems++;
				cdx_buf_free(&cyc);
				reported = true;
			} else if (!state[next]) {
				state[next] = 1;
				stack[depth] = next;
				edge[depth] = 0;
				depth++;
			}
		}
	}
	free(state);
	free(stack);
	free(edge);
}

/* ---- entry points -------------------------------------------------------- */

static char *stem(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;
	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
		n -= 4;
	else if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	return cdx_xstrndup(base, n);
}

static void loader_free(struct loader *l)
{
	size_t i;
	for (i = 0; i < l->n_trees; i++)
		cdx_yaml_free(l->trees[i]);
	free(l->trees);
	for (i = 0; i < l->n_stack; i++) {
		free(l->stack[i]);
		free(l->shown[i]);
	}
	free(l->stack);
	free(l->shown);
	for (i = 0; i < l->n_seen; i++)
		free(l->seen[i]);
	free(l->seen);
	free(l->var_maps);
	free(l->tpl_maps);
	free(l->stage_nodes);
	cdx_map_free(&l->tpl_done);
	free(l->tpl_resolved);
	cdx_yaml_free(l->scratch);
}

static struct cdx_pipeline *load(const char *path, const char *mem, size_t memlen, struct cdx_diags *diags)
{
	struct loader l = {0};
	struct cdx_pipeline *p = cdx_xcalloc(1, sizeof(*p));
	struct index x = {0};
	size_t i;
	char blank[] = "{}";

	l.diags = diags;
	l.p = p;
	p->path = cdx_xstrdup(path);
	l.scratch = cdx_yaml_parse("-", blank, 2, NULL);
	load_file(&l, path, NULL, 0, mem, memlen);
	if (l.n_trees == 0)
		goto out;
	for (i = 0; i < l.n_var_maps; i++)
		parse_vars(&l, l.var_maps[i], "variables", true, &p->vars);
	for (i = 0; i < l.n_tpl_maps; i++) {
		size_t k;
		for (k = 0; k < l.tpl_maps[i]->n; k++) {
			const struct cdx_ypair *tp = &l.tpl_maps[i]->pairs[k];
			check_name(&l, tp->key, "template name");
			if (tp->val->type != CDX_Y_MAP)
				problem(&l, tp->val, "template '%s' must be a mapping, not %s", tp->key->str,
					cdx_yaml_typename(tp->val));
			else /* checked even when no job uses it */
				check_keys(&l, tp->val, job_keys, CDX_ARRAY_LEN(job_keys), "template");
		}
	}
	if (!p->name) {
		char *s = stem(path);
		if (cdx_name_valid(s)) {
			p->name = s;
		} else {
			problem(&l, NULL, "pipeline name '%s' taken from the file name is invalid; set name:", s);
			free(s);
		}
	}
	parse_stages(&l);
	if (l.n_stage_nodes == 0 && l.problems == 0)
		problem(&l, cdx_yaml_root(l.trees[0]), "pipeline has no stages");
	build_index(&l, &x);
	for (i = 0; i < p->n_stages; i++)
		resolve_needs(&l, &x, p->stages[i].needs, p->stages[i].n_needs, true);
	for (i = 0; i < p->n_jobs; i++)
		resolve_needs(&l, &x, p->jobs[i].needs, p->jobs[i].n_needs, false);
	index_free(&x);
	if (l.problems)
		goto out;
	check_stage_cycles(&l);
	if (l.problems)
		goto out;
	p->dag = cdx_dag_build(p, diags);
	if (!p->dag)
		l.problems++;
out:
	loader_free(&l);
	if (l.problems) {
		cdx_pipeline_free(p);
		return NULL;
	}
	return p;
}

struct cdx_pipeline *cdx_pipeline_load(const char *path, struct cdx_diags *diags)
{
	return load(path, NULL, 0, diags);
}

struct cdx_pipeline *cdx_pipeline_load_mem(const char *name, const char *buf, size_t len, struct cdx_diags *diags)
{
	return load(name, buf, len, diags);
}

size_t cdx_pipeline_validate(const char *path, struct cdx_diags *diags)
{
	size_t before = cdx_diags_count(diags);
	struct cdx_pipeline *p = cdx_pipeline_load(path, diags);
	if (p) {
		cdx_pipeline_free(p);
		return 0;
	}
	return diags ? cdx_diags_count(diags) - before : 1;
}

void cdx_pipeline_free(struct cdx_pipeline *p)
{
	size_t i;
	if (!p)
		return;
	for (i = 0; i < p->n_jobs; i++)
		job_free_fields(&p->jobs[i]);
	free(p->jobs);
	for (i = 0; i < p->n_stages; i++) {
		free(p->stages[i].name);
		cdx_vars_free(&p->stages[i].env);
	}
	free(p->stages);
	cdx_vars_free(&p->vars);
	cdx_dag_free(p->dag);
	cdx_arena_free(&p->pool);
	for (i = 0; i < p->n_files; i++)
		free(p->files[i]);
	free(p->files);
	free(p->concurrency.group);
	free(p->name);
	free(p->path);
	free(p);
}
