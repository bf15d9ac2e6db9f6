/* project.c — the project file cdx.yml: where state lives and which
 * pipelines are registered by name (SEED.md's PipelineManager).
 *
 * Keys are checked like pipeline keys (unknown keys with the closest known
 * one), positions are FILE:LINE:COL, and registered pipeline files are
 * resolved relative to the directory of cdx.yml, not the working directory.
 * Validating a project (cdx validate cdx.yml) also validates every pipeline
 * it registers; that is the caller's loop over cdx_project_pipeline_path().
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "project/environment.h"
#include "project/monitor_config.h"
#include "base/util.h"
#include "yaml/ytree.h"

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

static void bad(struct cdx_diags *d, const struct cdx_ynode *n, int *problems, const char *fmt, const char *a,
		const char *b)
{
	cdx_diags_add(d, n->file, n->line, n->col, fmt, a, b);
	(*problems)++;
}

struct cdx_project *cdx_project_load(const char *path, struct cdx_diags *diags)
{
	struct cdx_error err = {0};
	struct cdx_project *pr = NULL;
	struct cdx_ytree *t = NULL;
	struct cdx_ynode *root, *n;
	char *buf = NULL, *copy;
	size_t len, i, before = cdx_diags_count(diags);
	int problems = 0;

	if (cdx_read_file(path, CDX_YAML_MAXBYTES + 1, &buf, &len, &err) < 0) {
		cdx_diags_add(diags, path, 0, 0, "%s", err.msg);
		return NULL;
	}
	t = cdx_yaml_parse(path, buf, len, diags);
	free(buf);
	if (!t) {
		if (cdx_diags_count(diags) == before)
			cdx_diags_add(diags, path, 0, 0, "cannot parse the project file");
		return NULL;
	}
	pr = cdx_xcalloc(1, sizeof(*pr));
	pr->path = cdx_xstrdup(path);
	copy = cdx_xstrdup(path);
	pr->dir = cdx_xstrdup(dirname(copy));
	free(copy);
	pr->mon = cdx_monitor_config_new(pr->dir);
	root = cdx_yaml_root(t);
	if (root->type != CDX_Y_MAP) {
		bad(diags, root, &problems, "a project file must be a mapping, not %s%s", cdx_yaml_typename(root), "");
		goto out;
	}
	for (i = 0; i < root->n; i++) {
		const struct cdx_ynode *k = root->pairs[i].key;
		const char *near;
		size_t q;
		for (q = 0; q < CDX_ARRAY_LEN(project_keys); q++)
			if (strcmp(k->str, project_keys[q]) == 0)
				break;
		if (q < CDX_ARRAY_LEN(project_keys))
			continue;
		near = cdx_closest(k->str, project_keys, CDX_ARRAY_LEN(project_keys));
		if (near)
			bad(diags, k, &problems, "unknown key '%s' in project file (did you mean '%s'?)", k->str, near);
		else
			bad(diags, k, &problems, "unknown key '%s' in project file%s", k->str, "");
	}
	n = cdx_yaml_get(root, "state");
	if (n) {
		if (n->type != CDX_Y_SCALAR || cdx_yaml_is_null(n))
			bad(diags, n, &problems, "state must be a string such as file:.cdx or redis://host:6379, not %s%s",
			    cdx_yaml_typename(n), "");
		else if (strncmp(n->str, "file:", 5) == 0 && n->str[5]) {
			char *dir = resolve(pr->dir, n->str + 5);
			pr->state = cdx_xasprintf("file:%s", dir);
			free(dir);
		}
		else if (strncmp(n->str, "redis://", 8) == 0)
			pr->state = cdx_xstrdup(n->str);
		else
			bad(diags, n, &problems, "state '%s' is not file:DIR or redis://HOST[:PORT][/DB]%s", n->str, "");
	}
	if (!pr->state) {
		char *dir = resolve(pr->dir, ".cdx");
		pr->state = cdx_xasprintf("file:%s", dir);
		free(dir);
	}
	n = cdx_yaml_get(root, "monitoring");
	if (n)
		problems += cdx_monitor_config_parse(n, pr->mon, diags);
	n = cdx_yaml_get(root, "pipelines");
	if (n && !cdx_yaml_is_null(n)) {
		if (n->type != CDX_Y_MAP) {
			bad(diags, n, &problems, "pipelines must be a mapping of names to files, not %s%s",
			    cdx_yaml_typename(n), "");
			goto out;
		}
		for (i = 0; i < n->n; i++) {
			const struct cdx_ynode *k = n->pairs[i].key, *v = n->pairs[i].val;
			struct proj_pipeline pp;
			if (!cdx_name_valid(k->str)) {
				bad(diags, k, &problems,
				    "pipeline name '%s' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -%s", k->str,
				    "");
				continue;
			}
			if (v->type != CDX_Y_SCALAR || cdx_yaml_is_null(v)) {
				bad(diags, v, &problems, "pipeline '%s' must name a file, not %s", k->str,
				    cdx_yaml_typename(v));
				continue;
			}
			pp.name = cdx_xstrdup(k->str);
			pp.path = resolve(pr->dir, v->str);
			CDX_PUSH(pr->pipelines, pr->n, pr->cap, pp);
		}
	}
	n = cdx_yaml_get(root, "applications");
	if (n) {
		struct cdx_cfg c = {.diags = diags, .file = path};
		cdx_apps_parse(&c, n, pr->dir, &pr->apps);
		problems += c.problems;
	}
out:
	cdx_yaml_free(t);
	if (problems) {
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
