/* pipeline_funcs.c — the pipeline functions of cdx.so: $(cdx-pipeline
 * FILE) (the pipeline's targets, rules.c), $(cdx-stages FILE), $(cdx-jobs
 * FILE[,STAGE]), $(cdx-version), and the internal $(cdx--spec K,TARGET)
 * that writes a job's spec to the spec store as make expands its recipe.
 * Each pipeline is read once per make process (the registry,
 * cdx_plugin.c). */
#include <gnumake.h>
#include <stdlib.h>
#include <string.h>

#include "cdx.h"
#include "gmk-plugin/cdx_plugin.h"
#include "pipeline/pipeline.h"

/* $(cdx-version): the version of the loaded module */
static char *fn_version(const char *nm, unsigned int argc, char **argv)
{
	(void)nm;
	(void)argc;
	(void)argv;
	return cdx_gmk_give(CDX_VERSION);
}

/* $(cdx-stages FILE): the pipeline's stage names, in file order */
static char *fn_stages(const char *nm, unsigned int argc, char **argv)
{
	struct cdx_gmk_loaded *l = cdx_gmk_load(nm, argv[0]);
	struct cdx_pipeline *p = l ? l->p : NULL;
	struct cdx_buf b = {0};
	char *r;
	size_t i;
	(void)argc;
	if (!p)
		return NULL;
	for (i = 0; i < p->n_stages; i++) {
		if (i)
			cdx_buf_addc(&b, ' ');
		cdx_buf_adds(&b, p->stages[i].name);
	}
	r = cdx_gmk_give(b.data ? b.data : "");
	cdx_buf_free(&b);
	return r;
}

/* $(cdx-jobs FILE[,STAGE]): job ids STAGE/JOB, in file order */
static char *fn_jobs(const char *nm, unsigned int argc, char **argv)
{
	struct cdx_gmk_loaded *l = cdx_gmk_load(nm, argv[0]);
	struct cdx_pipeline *p = l ? l->p : NULL;
	struct cdx_buf b = {0};
	char *stage = argc > 1 ? cdx_gmk_trim(argv[1]) : NULL, *r;
	size_t i, s = CDX_NONE;
	if (!p) {
		free(stage);
		return NULL;
	}
	if (stage && *stage) {
		for (i = 0; i < p->n_stages; i++)
			if (strcmp(p->stages[i].name, stage) == 0)
				s = i;
		if (s == CDX_NONE) {
			cdx_gmk_failf(nm, "%s: no stage '%s' in pipeline %s", p->path, stage, p->name);
			free(stage);
			return NULL;
		}
	}
	for (i = 0; i < p->n_jobs; i++) {
		if (s != CDX_NONE && p->jobs[i].stage != s)
			continue;
		if (b.len)
			cdx_buf_addc(&b, ' ');
		cdx_buf_adds(&b, p->jobs[i].id);
	}
	r = cdx_gmk_give(b.data ? b.data : "");
	cdx_buf_free(&b);
	free(stage);
	return r;
}

/* $(cdx-pipeline FILE): define the pipeline's targets; expands to nothing */
static char *fn_pipeline(const char *nm, unsigned int argc, char **argv)
{
	struct cdx_gmk_loaded *l = cdx_gmk_load(nm, argv[0]);
	(void)argc;
	if (l && !l->rules)
		cdx_gmk_define_rules(nm, l);
	return NULL;
}

/* $(cdx--spec K,TARGET), internal: in the recipe of a job of pipeline K of
 * the registry, writes the job's spec to the pipeline's spec store (once)
 * and expands to nothing */
static char *fn_spec(const char *nm, unsigned int argc, char **argv)
{
	char *ks = cdx_gmk_trim(argv[0]), *target = cdx_gmk_trim(argv[1]), *end;
	unsigned long k = strtoul(ks, &end, 10);
	struct cdx_error err = {0};
	struct cdx_gmk_loaded *l = cdx_gmk_loaded_at(k);
	size_t nl, j;
	(void)argc;
	if (*end || end == ks || !l || !l->rules) {
		cdx_gmk_fail(nm, "internal: not a pipeline of this make");
		goto out;
	}
	if (!l->ids.n) /* the first job make starts: index the ids */
		for (j = 0; j < l->p->n_jobs; j++)
			cdx_map_put(&l->ids, l->p->jobs[j].id, j, NULL);
	nl = strlen(l->p->name);
	if (strncmp(target, l->p->name, nl) != 0 || target[nl] != '/' ||
	    !cdx_map_get(&l->ids, target + nl + 1, &j)) {
		cdx_gmk_failf(nm, "'%s' is not a job of pipeline %s", target, l->p->name);
		goto out;
	}
	if (!l->written[j]) {
		struct cdx_buf b = {0};
		cdx_pipeline_job_spec_to(l->p, j, l->extra, &b);
		if (cdx_jobspec_put(&l->specs, l->p->jobs[j].id, b.data, b.len, &err) < 0) {
			cdx_buf_free(&b);
			cdx_gmk_fail(nm, err.msg);
			goto out;
		}
		cdx_buf_free(&b);
		l->written[j] = true;
	}
out:
	free(ks);
	free(target);
	return NULL;
}

void cdx_gmk_pipeline_setup(void)
{
	gmk_add_function("cdx-version", fn_version, 0, 0, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-stages", fn_stages, 1, 1, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-jobs", fn_jobs, 1, 2, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-pipeline", fn_pipeline, 1, 1, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx--spec", fn_spec, 2, 2, GMK_FUNC_DEFAULT);
}
