/* pipeline_load.c — pipeline files to the pipeline model: the entry points,
 * the files and their includes, the top-level keys.
 *
 * The passes and the loader's state are described in loader.h; this file
 * runs them in order: files (load_file, depth first through `include:`),
 * variables, templates, the pipeline's name, stages and jobs, needs, stage
 * cycles, and the job graph (dag.c).  A pipeline is returned only when no
 * pass found a problem.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "pipeline/dag.h"
#include "pipeline/loader.h"
#include "pipeline/rules.h"

static const char *const top_keys[] = {"name",    "variables",   "timeout",  "stages",  "templates",
				       "include", "concurrency", "executor", "default"};
static const char *const concurrency_keys[] = {"group", "limit", "cancel_in_progress"};
static const char *const include_keys[] = {"variables", "templates", "stages", "include", "default"};

/* the pipeline's files, each once */
const char *cdx_loader_intern(struct cdx_loader *l, const char *file)
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

/* ---- files and includes -------------------------------------------------- */

static void load_file(struct cdx_loader *l, const char *path, const struct cdx_ynode *from, int depth,
		      const char *mem, size_t memlen);

static void load_includes(struct cdx_loader *l, const struct cdx_ynode *inc, const char *path, int depth)
{
	char *copy = cdx_xstrdup(path);
	const char *dir = dirname(copy);
	const struct cdx_ynode *const *items;
	size_t n, i;
	cdx_cfg_items(&l->c, &inc, "include", &items, &n);
	for (i = 0; i < n; i++) {
		const struct cdx_ynode *item = items[i];
		char *child;
		if (item->type == CDX_Y_MAP && cdx_yaml_get(item, "local")) {
			/* GitLab's {local: PATH} is a path */
			static const char *const local_keys[] = {"local"};
			cdx_loader_keys(l, item, local_keys, 1, "include", CDX_KEYS_INCLUDE);
			item = cdx_yaml_get(item, "local");
		} else if (item->type == CDX_Y_MAP && item->n) {
			cdx_loader_keys(l, item, NULL, 0, "include", CDX_KEYS_INCLUDE);
			continue;
		}
		if (!cdx_cfg_want(&l->c, item, CDX_Y_SCALAR, "include"))
			continue;
		if (item->str[0] == '/' || strcmp(dir, ".") == 0)
			child = cdx_xstrdup(item->str);
		else
			child = cdx_xasprintf("%s/%s", dir, item->str);
		load_file(l, child, item, depth + 1, NULL, 0);
		free(child);
	}
	free(copy);
}

/* concurrency: {group: NAME, limit: N, cancel_in_progress: BOOL}, or
 * just NAME (limit 1) */
static void parse_concurrency(struct cdx_loader *l, const struct cdx_ynode *n)
{
	struct cdx_concurrency *c = &l->p->concurrency;
	const struct cdx_ynode *g = n, *v;
	c->limit = 1;
	c->file = cdx_loader_intern(l, n->file);
	c->line = n->line;
	c->col = n->col;
	if (n->type == CDX_Y_MAP) {
		cdx_cfg_keys(&l->c, n, concurrency_keys, CDX_ARRAY_LEN(concurrency_keys), "concurrency");
		g = cdx_cfg_need(&l->c, n, "group", "concurrency");
		if (!g)
			return;
		v = cdx_yaml_get(n, "limit");
		if (v)
			cdx_cfg_int(&l->c, v, "concurrency limit", 1, CDX_CONCURRENCY_LIMIT_MAX, &c->limit);
		v = cdx_yaml_get(n, "cancel_in_progress");
		if (v)
			cdx_cfg_bool(&l->c, v, "concurrency cancel_in_progress", &c->cancel_in_progress);
	} else if (n->type != CDX_Y_SCALAR || cdx_yaml_is_null(n)) {
		cdx_cfg_problem(&l->c, n, "concurrency must be a group name or a mapping, not %s",
				cdx_yaml_typename(n));
		return;
	}
	if (cdx_cfg_name(&l->c, g, "concurrency group"))
		c->group = cdx_xstrdup(g->str);
}

/* already_loaded: CANON is being loaded (an include cycle, reported from
 * FROM) or was loaded before (each file counts once) */
static bool already_loaded(struct cdx_loader *l, const char *canon, const char *path,
			   const struct cdx_ynode *from)
{
	size_t i, k;
	for (i = 0; i < l->n_stack; i++) {
		if (strcmp(l->stack[i], canon) == 0) {
			struct cdx_buf cyc = {0};
			for (k = i; k < l->n_stack; k++)
				cdx_buf_printf(&cyc, "%s -> ", l->shown[k]);
			cdx_buf_adds(&cyc, path);
			cdx_cfg_problem(&l->c, from, "include cycle: %s", cyc.data);
			cdx_buf_free(&cyc);
			return true;
		}
	}
	for (i = 0; i < l->n_seen; i++)
		if (strcmp(l->seen[i], canon) == 0)
			return true;
	return false;
}

/* read_tree: PATH (or MEM) parsed, or NULL with its problems counted */
static struct cdx_ytree *read_tree(struct cdx_loader *l, const char *path, const struct cdx_ynode *from,
				   const char *mem, size_t memlen)
{
	struct cdx_error err = {0};
	struct cdx_ytree *t;
	char *buf = NULL;
	size_t len, before = cdx_diags_count(l->c.diags);
	if (mem) {
		len = memlen;
	} else if (cdx_read_file(path, CDX_YAML_MAXBYTES + 1, &buf, &len, &err) < 0) {
		if (from)
			cdx_cfg_problem(&l->c, from, "%s", err.msg);
		else
			cdx_cfg_problem(&l->c, NULL, "%s",
					strstr(err.msg, "larger than") ? "file is larger than 16 MiB"
								       : err.msg);
		return NULL;
	}
	if (!from)
		l->p->file_hash = cdx_crc32(0, mem ? mem : buf, len);
	t = cdx_yaml_parse(path, mem ? mem : buf, len, l->c.diags);
	free(buf);
	if (!t)
		l->c.problems += (int)(cdx_diags_count(l->c.diags) - before) + (l->c.diags ? 0 : 1);
	return t;
}

/* the keys of the main file only */
static void main_keys(struct cdx_loader *l, const struct cdx_ynode *root)
{
	const struct cdx_ynode *n;
	cdx_cfg_need(&l->c, root, "stages", "pipeline");
	n = cdx_yaml_get(root, "name");
	if (n && cdx_cfg_name(&l->c, n, "pipeline name"))
		l->p->name = cdx_xstrdup(n->str);
	n = cdx_yaml_get(root, "timeout");
	if (n)
		cdx_cfg_duration(&l->c, n, "timeout", false, &l->p->timeout_ms);
	n = cdx_yaml_get(root, "concurrency");
	if (n)
		parse_concurrency(l, n);
	n = cdx_yaml_get(root, "executor");
	if (n) {
		static const char *const executors[] = {"local", "workers"};
		l->p->executor_workers = cdx_cfg_choice(&l->c, n, "executor", executors, 2) == 1;
	}
}

/* load_file: PATH (MEM when given), included from FROM (NULL: the main
 * file) at DEPTH, then what it includes; its variables, templates and
 * stages are gathered after those of its includes */
static void load_file(struct cdx_loader *l, const char *path, const struct cdx_ynode *from, int depth,
		      const char *mem, size_t memlen)
{
	struct cdx_ytree *t;
	struct cdx_ynode *root, *n;
	char *canon = realpath(path, NULL);
	size_t i;

	if (canon && already_loaded(l, canon, path, from)) {
		free(canon);
		return;
	}
	if (depth > CDX_MAX_INCLUDE_DEPTH) {
		cdx_cfg_problem(&l->c, from, "includes nested deeper than %d files", CDX_MAX_INCLUDE_DEPTH);
		free(canon);
		return;
	}
	t = read_tree(l, path, from, mem, memlen);
	if (!t) {
		free(canon);
		return;
	}
	CDX_PUSH(l->trees, l->n_trees, l->cap_trees, t);
	if (canon)
		CDX_PUSH(l->seen, l->n_seen, l->cap_seen, cdx_xstrdup(canon));
	root = cdx_yaml_root(t);
	if (!cdx_cfg_want(&l->c, root, CDX_Y_MAP, "a pipeline file")) {
		free(canon);
		return;
	}
	if (!from)
		cdx_loader_keys(l, root, top_keys, CDX_ARRAY_LEN(top_keys), "pipeline", CDX_KEYS_TOP);
	else
		cdx_loader_keys(l, root, include_keys, CDX_ARRAY_LEN(include_keys), "included file",
				CDX_KEYS_TOP);

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
	n = cdx_yaml_get(root, "default");
	if (n)
		cdx_loader_default_add(l, n);
	n = cdx_yaml_get(root, "templates");
	if (n && cdx_cfg_want(&l->c, n, CDX_Y_MAP, "templates"))
		CDX_PUSH(l->tpl_maps, l->n_tpl_maps, l->cap_tpl_maps, n);
	n = cdx_yaml_get(root, "stages");
	if (n && cdx_cfg_want(&l->c, n, CDX_Y_SEQ, "stages"))
		for (i = 0; i < n->n; i++)
			CDX_PUSH(l->stage_nodes, l->n_stage_nodes, l->cap_stage_nodes, n->items[i]);
	if (!from)
		main_keys(l, root);
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

static void loader_free(struct cdx_loader *l)
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
	cdx_map_free(&l->rules_of);
	for (i = 0; i < l->n_rules_made; i++) {
		cdx_rules_unref(l->rules_made[i]);
		free(l->rules_keys[i]);
	}
	free(l->rules_made);
	free(l->rules_keys);
	cdx_yaml_free(l->scratch);
}

/* the pipeline's name from the main file's name when it sets none */
static void name_from_file(struct cdx_loader *l, const char *path)
{
	char *s = stem(path);
	if (cdx_name_valid(s)) {
		l->p->name = s;
		return;
	}
	cdx_cfg_problem(&l->c, NULL, "pipeline name '%s' taken from the file name is invalid; set name:", s);
	free(s);
}

static struct cdx_pipeline *load(const char *path, const char *mem, size_t memlen, struct cdx_diags *diags)
{
	struct cdx_loader l = {0};
	struct cdx_pipeline *p = cdx_xcalloc(1, sizeof(*p));
	size_t i;
	char blank[] = "{}";

	p->path = cdx_xstrdup(path);
	l.c.diags = diags;
	l.c.file = p->path;
	l.c.plain_numbers = true;
	l.p = p;
	l.scratch = cdx_yaml_parse("-", blank, 2, NULL);
	load_file(&l, path, NULL, 0, mem, memlen);
	if (l.n_trees == 0)
		goto out;
	for (i = 0; i < l.n_var_maps; i++)
		cdx_loader_vars(&l, l.var_maps[i], "variables", true, &p->vars);
	cdx_loader_vars_size(&l, &p->vars);
	cdx_loader_templates(&l);
	if (!p->name)
		name_from_file(&l, path);
	cdx_loader_stages(&l);
	if (l.n_stage_nodes == 0 && l.c.problems == 0)
		cdx_cfg_problem(&l.c, cdx_yaml_root(l.trees[0]), "pipeline has no stages");
	cdx_loader_needs(&l);
	if (l.c.problems)
		goto out;
	cdx_loader_stage_cycles(&l);
	if (l.c.problems)
		goto out;
	p->dag = cdx_dag_build(p, diags);
	if (!p->dag)
		l.c.problems++;
out:
	loader_free(&l);
	if (l.c.problems) {
		cdx_pipeline_free(p);
		return NULL;
	}
	return p;
}

struct cdx_pipeline *cdx_pipeline_load(const char *path, struct cdx_diags *diags)
{
	return load(path, NULL, 0, diags);
}

struct cdx_pipeline *cdx_pipeline_load_mem(const char *name, const char *buf, size_t len,
					   struct cdx_diags *diags)
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
		cdx_job_clear(&p->jobs[i]);
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
