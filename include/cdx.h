/* cdx.h — the public C API of libcdx: CI/CD automation for GNU Make users.
 *
 * libcdx loads pipeline files (YAML), validates them with precise
 * FILE:LINE:COL diagnostics, builds one job-level DAG and orders it by one
 * rule (longest remaining path first, ties by file order) that serves
 * `cdx run`, the make module and the optimizer alike.
 *
 * Conventions: every type is opaque and changed only through its routines.
 * Functions that can fail return 0 on success and -1 on failure (or a NULL
 * pointer), and describe the failure in a caller-supplied struct cdx_error
 * or, for file loading, in a struct cdx_diags that collects every problem
 * found in one pass. Every _new or _load has a _free that accepts NULL.
 * A "dict" result (SEED.md) is a cJSON tree the caller frees with
 * cJSON_Delete(). Strings returned as `const char *` belong to the object
 * they were read from and live as long as it does.
 */
#ifndef CDX_CDX_H
#define CDX_CDX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CDX_VERSION "0.1.0"

#if defined(__GNUC__)
#define CDX_API __attribute__((visibility("default")))
#else
#define CDX_API
#endif

struct cJSON;

/* Exit statuses of the cdx tool, and the codes of struct cdx_error. */
enum cdx_status {
	CDX_OK = 0,          /* success */
	CDX_EFAILED = 1,     /* the work failed: a job, a deployment */
	CDX_EUSAGE = 2,      /* usage or configuration error */
	CDX_EBUSY = 3,       /* another holder has the lock */
	CDX_ESTATE = 4,      /* state backend unreachable */
	CDX_EINTR = 130,     /* interrupted by a signal */
};

/* cdx_strstatus: a short lower-case description of CODE (static string). */
CDX_API const char *cdx_strstatus(int code);

#define CDX_ERRMAX 512

/* A single error: a code from enum cdx_status and a bounded message,
 * lower-case, problem first, no trailing full stop. */
struct cdx_error {
	int code;
	char msg[CDX_ERRMAX];
};

/* ---- diagnostics --------------------------------------------------------- */

/* One problem in a file. line and col are 1-based; 0 when unknown. */
struct cdx_diag {
	const char *file; /* the file as the user named it */
	int line;         /* 1-based line, 0 = whole file */
	int col;          /* 1-based column, 0 = whole line */
	const char *msg;  /* lower-case, problem first */
};

/* A list of problems, collected so that one pass reports them all. */
struct cdx_diags;

/* cdx_diags_new: an empty list; NULL when out of memory.
 * Free with cdx_diags_free(). */
CDX_API struct cdx_diags *cdx_diags_new(void);
CDX_API void cdx_diags_free(struct cdx_diags *d);
CDX_API size_t cdx_diags_count(const struct cdx_diags *d);
/* cdx_diags_get: the I-th problem in file and position order; the view
 * lives as long as D is neither freed nor added to. */
CDX_API const struct cdx_diag *cdx_diags_get(const struct cdx_diags *d, size_t i);

/* ---- pipelines ----------------------------------------------------------- */

struct cdx_pipeline;

/* cdx_pipeline_load: read, expand (includes, templates, matrices, YAML
 * merge keys) and validate the pipeline file PATH.  Returns the pipeline,
 * or NULL with every problem appended to DIAGS (which may be NULL if the
 * caller does not want them).  Free the result with cdx_pipeline_free(). */
CDX_API struct cdx_pipeline *cdx_pipeline_load(const char *path, struct cdx_diags *diags);

/* cdx_pipeline_load_mem: as cdx_pipeline_load, from LEN bytes at BUF that
 * claim to come from the file NAME (used in messages and to resolve
 * includes). */
CDX_API struct cdx_pipeline *cdx_pipeline_load_mem(const char *name, const char *buf, size_t len,
						   struct cdx_diags *diags);

CDX_API void cdx_pipeline_free(struct cdx_pipeline *p);

/* cdx_pipeline_validate: the number of problems in PATH (0 = valid), each
 * appended to DIAGS. */
CDX_API size_t cdx_pipeline_validate(const char *path, struct cdx_diags *diags);

CDX_API const char *cdx_pipeline_name(const struct cdx_pipeline *p);
CDX_API const char *cdx_pipeline_path(const struct cdx_pipeline *p);
CDX_API size_t cdx_pipeline_stage_count(const struct cdx_pipeline *p);
/* the I-th stage's name, in file order */
CDX_API const char *cdx_pipeline_stage_name(const struct cdx_pipeline *p, size_t i);
CDX_API size_t cdx_pipeline_job_count(const struct cdx_pipeline *p);
/* the I-th job's identity "STAGE/JOB", in file order (matrix jobs expanded) */
CDX_API const char *cdx_pipeline_job_id(const struct cdx_pipeline *p, size_t i);

/* cdx_pipeline_json: SEED.md's Pipeline.to_dict — the expanded pipeline
 * with secret values replaced by "***".  Caller frees with cJSON_Delete. */
CDX_API struct cJSON *cdx_pipeline_json(const struct cdx_pipeline *p);

/* cdx_pipeline_plan: the execution plan for WORKERS parallel workers
 * (0 = number of CPUs): start order by the ordering rule, each job's needs,
 * critical path and its length, levels, maximum width, total work and the
 * makespan predicted by list scheduling.  Weights are duration_hint, else
 * one second.  Caller frees with cJSON_Delete; NULL when out of memory. */
CDX_API struct cJSON *cdx_pipeline_plan(const struct cdx_pipeline *p, unsigned workers);

/* ---- the project file (cdx.yml) ----------------------------------------- */

/* SEED.md's PipelineManager: cdx.yml names the state store and registers
 * pipelines by name (`pipelines: {ci: ci.yml}`, paths relative to it). */
struct cdx_project;

/* cdx_project_load: read and validate the project file PATH.  NULL with
 * every problem appended to DIAGS.  Free with cdx_project_free(). */
CDX_API struct cdx_project *cdx_project_load(const char *path, struct cdx_diags *diags);
CDX_API void cdx_project_free(struct cdx_project *pr);
/* the state URL, "file:.cdx" resolved against the project's directory
 * when the file does not say */
CDX_API const char *cdx_project_state(const struct cdx_project *pr);
CDX_API size_t cdx_project_pipeline_count(const struct cdx_project *pr);
CDX_API const char *cdx_project_pipeline_name(const struct cdx_project *pr, size_t i);
/* the I-th pipeline's file, resolved against the project's directory */
CDX_API const char *cdx_project_pipeline_path(const struct cdx_project *pr, size_t i);
/* cdx_project_find: the file of the pipeline registered as NAME, or NULL */
CDX_API const char *cdx_project_find(const struct cdx_project *pr, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* CDX_CDX_H */
