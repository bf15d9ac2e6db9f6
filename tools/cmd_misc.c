/* cmd_misc.c — small commands: `cdx pipelines` and `cdx plugin-path`. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/util.h"

#ifndef CDX_LIBDIR
#define CDX_LIBDIR "/usr/local/lib"
#endif

int cmd_plugin_path(struct cli *g, int argc, char **argv)
{
	char exe[PATH_MAX], *slash, *cand;
	struct cli_opts p;
	ssize_t n;
	cli_opts_begin(&p, g, "plugin-path", argc, argv, "", NULL, SIZE_MAX);
	while (cli_opts_next(&p))
		;
	if (p.status)
		return p.status;
	if (p.n_pos)
		return cli_usage_error("plugin-path", "takes no arguments");
	/* a cdx run from its build tree uses the cdx.so built beside it */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			cand = cdx_xasprintf("%s/cdx.so", exe);
			if (access(cand, R_OK) == 0) {
				puts(cand);
				free(cand);
				return 0;
			}
			free(cand);
			/* installed layout: PREFIX/bin/cdx and PREFIX/lib/cdx/cdx.so */
			cand = cdx_xasprintf("%s/../lib/cdx/cdx.so", exe);
			if (access(cand, R_OK) == 0) {
				char *real = realpath(cand, NULL);
				puts(real ? real : cand);
				free(real);
				free(cand);
				return 0;
			}
			free(cand);
		}
	}
	puts(CDX_LIBDIR "/cdx/cdx.so");
	return 0;
}

int cmd_pipelines(struct cli *g, int argc, char **argv)
{
	static const struct option longs[] = {CLI_OPTION_JSON, {0}};
	bool json = false;
	struct cdx_project *pr;
	struct cli_opts op;
	cJSON *arr;
	size_t i;
	int rc = 0;
	cli_opts_begin(&op, g, "pipelines", argc, argv, "", longs, SIZE_MAX);
	while (cli_opts_next(&op))
		json = true; /* --json */
	if (op.status)
		return op.status;
	if (op.n_pos)
		return cli_usage_error("pipelines", "unknown argument %s", argv[1]);
	if (access(g->config, F_OK) != 0) {
		cli_error("pipelines: no project file %s (create one with `pipelines: {NAME: FILE}`)", g->config);
		return CDX_EUSAGE;
	}
	pr = cli_project(g);
	if (!pr)
		return CDX_EUSAGE;
	arr = cJSON_CreateArray();
	for (i = 0; i < cdx_project_pipeline_count(pr); i++) {
		const char *path = cdx_project_pipeline_path(pr, i);
		struct cdx_diags *pd = cdx_diags_new();
		struct cdx_pipeline *p = cdx_pipeline_load(path, pd);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", cdx_project_pipeline_name(pr, i));
		cJSON_AddStringToObject(o, "file", path);
		cJSON_AddBoolToObject(o, "valid", p != NULL);
		if (p) {
			cJSON_AddNumberToObject(o, "stages", (double)cdx_pipeline_stage_count(p));
			cJSON_AddNumberToObject(o, "jobs", (double)cdx_pipeline_job_count(p));
		} else {
			cJSON_AddNumberToObject(o, "problems", (double)cdx_diags_count(pd));
			rc = CDX_EUSAGE;
		}
		if (!json) {
			if (p)
				cdx_text_printf(stdout, "%-20s %-30s %3zu stages %5zu jobs\n",
						cdx_project_pipeline_name(pr, i), path,
						cdx_pipeline_stage_count(p), cdx_pipeline_job_count(p));
			else
				cdx_text_printf(
				    stdout, "%-20s %-30s invalid (%zu problems; see cdx validate %s)\n",
				    cdx_project_pipeline_name(pr, i), path, cdx_diags_count(pd), path);
		}
		cJSON_AddItemToArray(arr, o);
		cdx_pipeline_free(p);
		cdx_diags_free(pd);
	}
	if (json)
		cli_print_json(arr);
	cJSON_Delete(arr);
	cdx_project_free(pr);
	return rc;
}
