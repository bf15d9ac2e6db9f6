/* cmd_validate.c — `cdx validate FILE... [--json]`: every problem of every
 * file in one pass, as FILE:LINE:COL: message, exit status 2 if any. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "project/environment.h"
#include "base/diag.h"
#include "base/util.h"

static bool is_project_file(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strcmp(base, "cdx.yml") == 0 || strcmp(base, "cdx.yaml") == 0;
}

static cJSON *problems_json(const struct cdx_diags *d, size_t from)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;
	for (i = from; i < cdx_diags_count(d); i++) {
		const struct cdx_diag *g = cdx_diags_get(d, i);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", g->file);
		cJSON_AddNumberToObject(o, "line", g->line);
		cJSON_AddNumberToObject(o, "column", g->col);
		cJSON_AddStringToObject(o, "message", g->msg);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/* validate one pipeline file; returns its problem count */
static size_t one_pipeline(const char *path, bool json, cJSON *files)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load(path, d);
	size_t n = cdx_diags_count(d);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", path);
		cJSON_AddStringToObject(o, "kind", "pipeline");
		cJSON_AddBoolToObject(o, "valid", p != NULL);
		if (p) {
			cJSON_AddStringToObject(o, "pipeline", cdx_pipeline_name(p));
			cJSON_AddNumberToObject(o, "stages", (double)cdx_pipeline_stage_count(p));
			cJSON_AddNumberToObject(o, "jobs", (double)cdx_pipeline_job_count(p));
		}
		cJSON_AddItemToObject(o, "problems", problems_json(d, 0));
		cJSON_AddItemToArray(files, o);
	} else if (p) {
		cdx_text_printf(stdout, "%s: ok (pipeline %s, %zu stage%s, %zu job%s)\n", path,
				cdx_pipeline_name(p), cdx_pipeline_stage_count(p),
				cdx_pipeline_stage_count(p) == 1 ? "" : "s", cdx_pipeline_job_count(p),
				cdx_pipeline_job_count(p) == 1 ? "" : "s");
	} else {
		cli_print_diags(d);
	}
	if (!p && !n)
		n = 1;
	cdx_pipeline_free(p);
	cdx_diags_free(d);
	return n;
}

static size_t one_project(const char *path, bool json, cJSON *files)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_project *pr = cdx_project_load(path, d);
	size_t n = cdx_diags_count(d), i;
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", path);
		cJSON_AddStringToObject(o, "kind", "project");
		cJSON_AddBoolToObject(o, "valid", pr != NULL);
		cJSON_AddItemToObject(o, "problems", problems_json(d, 0));
		cJSON_AddItemToArray(files, o);
	} else if (pr) {
		const struct cdx_apps *apps = cdx_project_apps(pr);
		size_t envs = 0, a;
		for (a = 0; a < apps->n; a++)
			envs += apps->apps[a].n_envs;
		cdx_text_printf(stdout, "%s: ok (project, %zu pipeline%s", path,
				cdx_project_pipeline_count(pr),
				cdx_project_pipeline_count(pr) == 1 ? "" : "s");
		if (apps->n)
			cdx_text_printf(stdout, ", %zu application%s, %zu environment%s", apps->n,
					apps->n == 1 ? "" : "s", envs, envs == 1 ? "" : "s");
		cdx_text_printf(stdout, ")\n");
	} else {
		cli_print_diags(d);
	}
	if (!pr && !n)
		n = 1;
	cdx_diags_free(d);
	if (pr)
		for (i = 0; i < cdx_project_pipeline_count(pr); i++)
			n += one_pipeline(cdx_project_pipeline_path(pr, i), json, files);
	cdx_project_free(pr);
	return n;
}

int cmd_validate(struct cli *g, int argc, char **argv)
{
	static const struct option longs[] = {CLI_OPTION_JSON, {0}};
	bool json = false;
	size_t problems = 0, i;
	struct cli_opts p;
	cJSON *files;
	cli_opts_begin(&p, g, "validate", argc, argv, "", longs, SIZE_MAX);
	while (cli_opts_next(&p))
		json = true; /* --json */
	if (p.status)
		return p.status;
	if (!p.n_pos)
		return cli_usage_error("validate", "name at least one file");
	files = cJSON_CreateArray();
	for (i = 1; i <= p.n_pos; i++)
		problems += is_project_file(argv[i]) ? one_project(argv[i], json, files)
						     : one_pipeline(argv[i], json, files);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "valid", problems == 0);
		cJSON_AddNumberToObject(o, "problems", (double)problems);
		cJSON_AddItemToObject(o, "files", files);
		cli_print_json(o);
		cJSON_Delete(o);
	} else {
		cJSON_Delete(files);
		if (problems)
			cdx_text_printf(stderr, "cdx validate: %zu problem%s found\n", problems,
					problems == 1 ? "" : "s");
	}
	return problems ? CDX_EUSAGE : 0;
}
