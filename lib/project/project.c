/* project.c — the project file cdx.yml: where state lives and which
 * pipelines are registered by name (SEED.md's PipelineManager).
 *
 * The tree is read with the config-tree toolkit (yaml/cfg.h), like pipeline
 * files: unknown keys with the closest known one, positions FILE:LINE:COL,
 * every problem in one pass; and registered pipeline files are
 * resolved relative to the directory of cdx.yml, not the working directory.
 * Validating a project (cdx validate cdx.yml) also validates every pipeline
 * it registers; that is the caller's loop over cdx_project_pipeline_path().
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/util.h"
#include "project/environment.h"
#include "project/monitor_config.h"
#include "yaml/cfg.h"

struct proj_pipeline {
	char *name; /* registered name */
	char *path; /* file, resolved against dir */
};

struct cdx_project {
	char *path;  /* cdx.yml as named */
	char *dir;   /* its directory */
	char *state; /* state URL */
	struct proj_pipeline *pipelines;
	size_t n, cap;
	struct cdx_apps apps; /* applications: and their environments */
	struct cdx_monitor_config *mon; /* `monitoring:` (monitor_config.c) */
};

static const char *const project_keys[] = {"state", "pipelines", "applications", "monitoring"};

static char *resolve(const char *dir, const char *p)
{
	if (p[0] == '/' || strcmp(dir, ".") == 0)
		return cdx_xstrdup(p);
	return cdx_xasprintf("%s/%s", dir, p);
}

/* read_tree: PATH parsed, or NULL with a problem in DIAGS */
static struct cdx_ytree *read_tree(const char *path, struct cdx_diags *diags)
{
	struct cdx_error err = {0};
	struct cdx_ytree *t;
	char *buf = NULL;
	size_t len, before = cdx_diags_count(diags);
	if (cdx_read_file(path, CDX_YAML_MAXBYTES + 1, &buf, &len, &err) < 0) {
		cdx_diags_add(diags, path, 0, 0, "%s", err.msg);
		return NULL;
	}
	t = cdx_yaml_parse(path, buf, len, diags);
	free(buf);
	if (!t && cdx_diags_count(diags) == before)
		cdx_diags_add(diags, path, 0, 0, "cannot parse the project file");
	return t;
}

/* state: file:DIR (relative to cdx.yml) or redis://...; file:.cdx when
 * N is NULL */
static void parse_state(struct cdx_cfg *c, const struct cdx_ynode *n, struct cdx_project *pr)
{
	char *dir;
	if (n && cdx_cfg_want(c, n, CDX_Y_SCALAR, "state")) {
		if (strncmp(n->str, "file:", 5) == 0 && n->str[5]) {
			dir = resolve(pr->dir, n->str + 5);
			pr->state = cdx_xasprintf("file:%s", dir);
			free(dir);
		} else if (strncmp(n->str, "redis://", 8) == 0) {
			pr->state = cdx_xstrdup(n->str);
		} else {
			cdx_cfg_problem(c, n, "state '%s' is not file:DIR or redis://HOST[:PORT][/DB]", n->str);
		}
	}
	if (!pr->state) {
		dir = resolve(pr->dir, ".cdx");
		pr->state = cdx_xasprintf("file:%s", dir);
		free(dir);
	}
}

/* pipelines: NAME: FILE (relative to cdx.yml); false when N is no mapping */
static bool parse_pipelines(struct cdx_cfg *c, const struct cdx_ynode *n, struct cdx_project *pr)
{
	size_t i;
	if (cdx_yaml_is_null(n))
		return true;
	if (!cdx_cfg_want(c, n, CDX_Y_MAP, "pipelines"))
		return false;
	for (i = 0; i < n->n; i++) {
		const struct cdx_ynode *k = n->pairs[i].key, *v = n->pairs[i].val;
		struct proj_pipeline pp;
		if (!cdx_cfg_name(c, k, "pipeline name"))
			continue;
		if (v->type != CDX_Y_SCALAR || cdx_yaml_is_null(v)) {
			cdx_cfg_problem(c, v, "pipeline '%s' must name a file, not %s", k->str, cdx_yaml_typename(v));
			continue;
		}
		pp.name = cdx_xstrdup(k->str);
		pp.path = resolve(pr->dir, v->str);
		CDX_PUSH(pr->pipelines, pr->n, pr->cap, pp);
	}
	return true;
}

static struct cdx_project *project_new(const char *path)
{
	struct cdx_project *pr = cdx_xcalloc(1, sizeof(*pr));
	char *copy = cdx_xstrdup(path);
	pr->path = cdx_xstrdup(path);
	pr->dir = cdx_xstrdup(dirname(copy));
	free(copy);
	pr->mon = cdx_monitor_config_new(pr->dir);
	return pr;
}

struct cdx_project *cdx_project_load(const char *path, struct cdx_diags *diags)
{
	struct cdx_cfg c = {.diags = diags, .file = path};
	struct cdx_project *pr;
	struct cdx_ytree *t = read_tree(path, diags);
	const struct cdx_ynode *root, *n;

	if (!t)
		return NULL;
	pr = project_new(path);
	root = cdx_yaml_root(t);
	if (cdx_cfg_want(&c, root, CDX_Y_MAP, "a project file")) {
		cdx_cfg_keys(&c, root, project_keys, CDX_ARRAY_LEN(project_keys), "project file");
		parse_state(&c, cdx_yaml_get(root, "state"), pr);
		n = cdx_yaml_get(root, "monitoring");
		if (n)
			cdx_monitor_config_parse(&c, n, pr->mon);
		n = cdx_yaml_get(root, "pipelines");
		/* applications are not read after a pipelines: that is no mapping */
		if (!n || parse_pipelines(&c, n, pr)) {
			n = cdx_yaml_get(root, "applications");
			if (n)
				cdx_apps_parse(&c, n, pr->dir, &pr->apps);
		}
	}
	cdx_yaml_free(t);
	if (c.problems) {
		cdx_project_free(pr);
		return NULL;
	}
	return pr;
}

void cdx_project_free(struct cdx_project *pr)
{
	size_t i;
	if (!pr)
		return;
	for (i = 0; i < pr->n; i++) {
		free(pr->pipelines[i].name);
		free(pr->pipelines[i].path);
	}
	free(pr->pipelines);
	cdx_apps_free(&pr->apps);
	free(pr->path);
	free(pr->dir);
	free(pr->state);
	cdx_monitor_config_free(pr->mon);
	free(pr);
}

const char *cdx_project_state(const struct cdx_project *pr)
{
	return pr->state;
}

size_t cdx_project_pipeline_count(const struct cdx_project *pr)
{
	return pr->n;
}

const char *cdx_project_pipeline_name(const struct cdx_project *pr, size_t i)
{
	return i < pr->n ? pr->pipelines[i].name : NULL;
}

const char *cdx_project_pipeline_path(const struct cdx_project *pr, size_t i)
{
	return i < pr->n ? pr->pipelines[i].path : NULL;
}

const char *cdx_project_find(const struct cdx_project *pr, const char *name)
{
	size_t i;
	for (i = 0; i < pr->n; i++)
		if (strcmp(pr->pipelines[i].name, name) == 0)
			return pr->pipelines[i].path;
	return NULL;
}

const struct cdx_apps *cdx_project_apps(const struct cdx_project *pr)
{
	return &pr->apps;
}

const struct cdx_monitor_config *cdx_project_monitoring(const struct cdx_project *pr)
{
	return pr->mon;
}
