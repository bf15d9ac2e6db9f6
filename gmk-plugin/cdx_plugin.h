/* cdx_plugin.h — what the files of cdx.so share: the registry of pipelines
 * loaded in this make process, returning results to make, stopping make at
 * the current line, and the cdx tool's path.
 *
 *   cdx_plugin.c      setup, the registry, the helpers below
 *   pipeline_funcs.c  $(cdx-pipeline), $(cdx-stages), $(cdx-jobs), $(cdx--spec)
 *   rules.c           the make rules of a pipeline (cdx_gmk_define_rules)
 *   lanes.c           lane pinning: the list schedule made binding on make
 *   query_funcs.c     $(cdx-runs), $(cdx-health), $(cdx-report)
 *   deploy_funcs.c    $(cdx-deploy), $(cdx-rollback), $(cdx-current)
 */
#ifndef CDX_CDX_PLUGIN_H
#define CDX_CDX_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/map.h"
#include "base/util.h"
#include "exec/jobspec.h"

struct cdx_pipeline;
struct cdx_project;

/* a pipeline of the registry: loaded once per make process */
struct cdx_gmk_loaded {
	size_t index; /* its place in the registry: names its recipes and $(cdx--spec) */
	char *path;
	struct cdx_pipeline *p;
	bool rules; /* $(cdx-pipeline) defined its rules already */
	/* after the rules: the job specs, written as make expands recipes */
	struct cdx_jobspec_w specs;
	struct cdx_map ids; /* job id -> index (keys are p's) */
	bool *written;      /* n_jobs flags: spec in the store */
	char *extra;        /* the specs' "x-cdx" object, JSON */
};

/* cdx_gmk_load: the pipeline in FILE_ARG (blanks trimmed), loaded once
 * into the registry; NULL after stopping make (as FUNC) */
struct cdx_gmk_loaded *cdx_gmk_load(const char *func, const char *file_arg);
/* cdx_gmk_loaded_at: entry K of the registry, or NULL */
struct cdx_gmk_loaded *cdx_gmk_loaded_at(size_t k);

/* cdx_gmk_give: S copied into memory from gmk_alloc, for make to free */
char *cdx_gmk_give(const char *s);
/* cdx_gmk_fail: stop make with "Makefile:LINE: *** FUNC: MSG.  Stop." */
void cdx_gmk_fail(const char *func, const char *msg);
/* cdx_gmk_failf: cdx_gmk_fail with the message formatted as printf does */
void cdx_gmk_failf(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cdx_gmk_trim: S without leading and trailing blanks (caller frees) */
char *cdx_gmk_trim(const char *s);
/* cdx_gmk_config_path: the project file make's directory uses: $CDX_CONFIG,
 * else cdx.yml */
const char *cdx_gmk_config_path(void);
/* cdx_gmk_project: that project file, loaded (free with cdx_project_free);
 * NULL when there is none or it does not load (the defaults apply then) */
struct cdx_project *cdx_gmk_project(void);
/* cdx_gmk_state_url: the state URL as the cdx tool would resolve it in
 * make's directory (caller frees) */
char *cdx_gmk_state_url(void);
/* cdx_gmk_shell_quote: S single-quoted for sh inside a recipe ($ doubled
 * for make) */
void cdx_gmk_shell_quote(struct cdx_buf *b, const char *s);
/* cdx_gmk_add_word: S as a word of a recipe: as it is when no character in
 * it means anything to sh, quoted otherwise */
void cdx_gmk_add_word(struct cdx_buf *b, const char *s);
/* cdx_gmk_note_store: spec store FD is open for the rest of make's life:
 * a fatal signal make receives is noted in it (jobspec.h) */
void cdx_gmk_note_store(int fd);
/* cdx_gmk_tool: the absolute path of the cdx tool the recipes call */
const char *cdx_gmk_tool(void);
/* cdx_gmk_job_cmd: what a job's recipe runs, quoted: `TOOL job` */
const char *cdx_gmk_job_cmd(void);

/* rules.c: define the make rules of pipeline L (once); stops make as FUNC
 * on failure */
void cdx_gmk_define_rules(const char *func, struct cdx_gmk_loaded *l);

/* lanes.c: the lane pinning of P for the weights W and priorities PRIO: in
 * LANE_PREV[J] the job that job J follows in its lane (an order-only
 * prerequisite), UINT32_MAX for none; nothing is pinned unless make runs
 * -jN (1 < N < jobs), without -k, for the whole pipeline */
void cdx_gmk_pin_lanes(const struct cdx_pipeline *p, const double *w, const double *prio,
		       uint32_t *lane_prev);
/* lanes.c: the number of jobs the goals need, when every goal is a target
 * of P (NAME, NAME/STAGE, NAME/STAGE/JOB); 0 when unknown */
size_t cdx_gmk_expected_jobs(const struct cdx_pipeline *p, const bool *out);

/* the setup of each file's functions */
void cdx_gmk_pipeline_setup(void);
void cdx_gmk_query_setup(void);
void cdx_gmk_deploy_setup(void);

#endif /* CDX_CDX_PLUGIN_H */
