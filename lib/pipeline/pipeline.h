/* pipeline.h — the pipeline model shared inside libcdx.
 *
 * A pipeline is what a pipeline file means after includes, templates,
 * merge keys and matrices have been expanded and every reference checked:
 * stages in file order, and one flat array of jobs in file order, each
 * stage's jobs contiguous.  Needs are resolved to indexes.  The job graph
 * (dag.h) is built from it once, at load time.  Outside libcdx the type is
 * opaque (cdx.h); inside, modules read the fields below and never change
 * them after cdx_pipeline_load() returns.
 */
#ifndef CDX_PIPELINE_H
#define CDX_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/util.h"

struct cdx_dag;

/* A variable: plain value, or taken from the environment at run time. */
struct cdx_var {
	char *name;     /* [A-Za-z_][A-Za-z0-9_]* */
	char *value;    /* value, or the default when from_env is unset; may be NULL */
	char *from_env; /* environment variable to read at run time, or NULL */
	bool secret;    /* masked as *** in output, logs, records and reports */
	const char *file; /* where it was defined (pipeline-owned) */
	int line, col;
};

struct cdx_vars {
	struct cdx_var *v;
	size_t n, cap;
};

/* A reference in `needs`: a stage, or one job of a stage. */
struct cdx_need {
	char *ref;     /* as written: "STAGE" or "STAGE/JOB" */
	size_t stage;  /* resolved stage index */
	size_t job;    /* resolved job index, or CDX_NONE for the whole stage */
	size_t njobs;  /* for a matrix base name: jobs job .. job+njobs-1 */
	const char *file; /* where it was written (pipeline-owned) */
	int line, col;
};
#define CDX_NONE ((size_t)-1)

/* `when:` of a job (and of a rule): when it runs.  The scheduler gives
 * them their meaning (on_failure: a job it needs failed; always: after
 * its needs, whatever they did; manual: started by hand); `never` jobs
 * are not run at all. */
enum cdx_when { CDX_WHEN_ON_SUCCESS = 0, CDX_WHEN_ON_FAILURE, CDX_WHEN_ALWAYS, CDX_WHEN_MANUAL, CDX_WHEN_NEVER };
/* cdx_when_name: "on_success", "on_failure", "always", "manual", "never" */
const char *cdx_when_name(enum cdx_when w);

struct cdx_rules; /* `rules:` (pipeline/rules.h) */

/* retry.when bits */
#define CDX_RETRY_ON_FAILURE 1u /* the script failed (non-zero exit or signal) */
#define CDX_RETRY_ON_TIMEOUT 2u /* the attempt was killed at its timeout */

/* `artifacts:` of a job: files kept with the run after its last attempt
 * (pipeline_artifacts.c; stored by state/artifacts.h) */
enum cdx_artifacts_when { CDX_ARTIFACTS_ON_SUCCESS, CDX_ARTIFACTS_ON_FAILURE, CDX_ARTIFACTS_ALWAYS };
#define CDX_ARTIFACTS_EXPIRE_DEFAULT_MS ((int64_t)30 * 24 * 3600 * 1000)
struct cdx_job_artifacts {
	char **paths;      /* globs relative to the workspace ("**" allowed); n 0: none */
	size_t n;
	int when;          /* enum cdx_artifacts_when */
	int64_t expire_ms; /* kept this long after the job; 0: never expires */
};

struct cdx_job {
	char *name;         /* [A-Za-z0-9_.-]{1,64} */
	char *id;           /* "STAGE/JOB" */
	size_t stage;       /* index of its stage */
	char *script;       /* before_script and script, list items joined by
			     * newlines: one `sh -e` shell runs them all */
	char *after_script; /* after_script (joined the same way), or NULL: runs
			     * after every attempt in a shell of its own */
	int64_t after_timeout_ms;   /* after_script's limit, ms; 0 = 5 minutes */
	bool has_needs;     /* `needs:` given (then stage order does not apply) */
	struct cdx_need *needs;
	size_t n_needs;
	int retry_max;      /* extra attempts after a failure, 0..100 */
	unsigned retry_when;        /* CDX_RETRY_* bits */
	int *retry_codes;           /* retry only on these exit codes (n = 0: any) */
	size_t n_retry_codes;
	bool allow_failure;         /* any failure is allowed */
	bool has_allow_failure;     /* allow_failure: was given (else a manual job's is true) */
	int *allow_codes;           /* failure allowed for these exit codes */
	size_t n_allow_codes;
	int64_t timeout_ms;         /* per attempt; 0 = the stage's */
	struct cdx_vars vars;       /* job variables, matrix values included */
	char **inputs, **outputs;   /* declared paths (optimizer evidence) */
	size_t n_inputs, n_outputs;
	bool has_inputs, has_outputs; /* the key was given (an empty list declares "none") */
	int64_t hint_ms;            /* duration_hint, -1 when absent */
	char **tags;                /* `tags:` a pool worker must have all of (names) */
	size_t n_tags;
	char *matrix_base;          /* name before matrix expansion, or NULL */
	enum cdx_when when;         /* `when:`, CDX_WHEN_ON_SUCCESS when absent */
	struct cdx_rules *rules;    /* `rules:`, or NULL (owned; pipeline/rules.h) */
	struct cdx_job_artifacts artifacts; /* `artifacts:` */
	const char *file;           /* file of its name (pipeline-owned) */
	int line, col;
};

struct cdx_stage {
	char *name;
	bool has_needs;          /* `needs:` given; else the previous stage */
	struct cdx_need *needs;  /* stage needs (job == CDX_NONE) */
	size_t n_needs;
	int64_t timeout_ms;      /* default job timeout, ms (3600 s when absent) */
	struct cdx_vars env;     /* `environment:` */
	size_t first_job;        /* index of its first job */
	size_t n_jobs;
	const char *file;        /* file of its name (pipeline-owned) */
	int line, col;
};

/* `concurrency:` — at most LIMIT runs of the pipelines naming GROUP at
 * once, across processes (file store) or machines (Redis store); see
 * lib/concurrency.c */
struct cdx_concurrency {
	char *group;             /* NULL: no concurrency group */
	int limit;               /* runs at once, 1..1000 */
	bool cancel_in_progress; /* a new run cancels the oldest running one
				    instead of waiting for a slot */
	const char *file;        /* where it was set (pipeline-owned) */
	int line, col;
};

#define CDX_CONCURRENCY_LIMIT_MAX 1000

struct cdx_pipeline {
	char *name;
	char *path;               /* file as named by the caller */
	uint32_t file_hash;       /* CRC-32 of the main file's bytes */
	struct cdx_vars vars;     /* `variables:` */
	int64_t timeout_ms;       /* whole run, 0 = none */
	struct cdx_concurrency concurrency;
	bool executor_workers;    /* `executor: workers`: jobs go to the pool */
	struct cdx_stage *stages;
	size_t n_stages;
	struct cdx_job *jobs;
	size_t n_jobs;
	struct cdx_dag *dag;      /* job graph, built at load */
	/* the names, ids, scripts and matrix bases of the jobs, and every
	 * `needs` list with its references: one arena, not five allocations
	 * a job */
	struct cdx_arena pool;
	char **files;             /* every file loaded, main first (owned) */
	size_t n_files;
};

#define CDX_STAGE_TIMEOUT_DEFAULT_MS 3600000
#define CDX_AFTER_SCRIPT_TIMEOUT_DEFAULT_MS 300000 /* GitLab's 5 minutes */
#define CDX_MAX_JOBS 100000

/* Limits on variables, so that cdx validate refuses what a run could not
 * do (the loader checks the values the file gives, cdx run those known only
 * then: from_env, --var):
 *  - NAME=VALUE of one variable is at most CDX_VAR_ENTRY_MAX bytes, the
 *    most one string of a job's environment may have (Linux's
 *    MAX_ARG_STRLEN, 128 KiB, less its NUL);
 *  - the pipeline's variables, secret ones left out, take at most
 *    CDX_VARS_RECORD_MAX bytes as the JSON of the run record that holds
 *    them, well inside the 1 MiB a store record may have (state/journal.h,
 *    CDX_JOURNAL_RECMAX). */
#define CDX_VAR_ENTRY_MAX (128u * 1024 - 1)
#define CDX_VARS_RECORD_MAX (512u * 1024)

/* cdx_var_record_len: the bytes "NAME":"VALUE", take in a JSON object
 * (escapes counted as cJSON writes them) */
size_t cdx_var_record_len(const char *name, const char *value);

/* cdx_vars_find: the variable NAME in V, or NULL */
struct cdx_var *cdx_vars_find(const struct cdx_vars *v, const char *name);
void cdx_vars_free(struct cdx_vars *v);

/* cdx_pipeline_weight_ms: the weight of job I for ordering: its
 * duration_hint, else 1000 ms. */
double cdx_pipeline_weight_ms(const struct cdx_pipeline *p, size_t i);
/* cdx_pipeline_weights: every job's cdx_pipeline_weight_ms, as an array
 * of n_jobs (+ 1) the caller frees with free() */
double *cdx_pipeline_weights(const struct cdx_pipeline *p);

struct cJSON;
/* cdx_pipeline_plan_weighted: cdx_pipeline_plan (cdx.h) with the weights
 * W (ms per job, from cdx_pipeline_weights, maybe refined from history;
 * freed here).  Caller frees the plan with cJSON_Delete. */
struct cJSON *cdx_pipeline_plan_weighted(const struct cdx_pipeline *p, unsigned workers, double *w);

struct cJSON;
/* cdx_pipeline_job_spec: job J alone as a pipeline file (JSON, which is
 * YAML) with every setting of J, its stage and the pipeline's variables,
 * and EXTRA (may be NULL) under the hidden key "x-cdx".  '#' and '$' are
 * written as \u escapes, so the text is safe in a make assignment.  The
 * caller frees it with free(). */
char *cdx_pipeline_job_spec(const struct cdx_pipeline *p, size_t j, const struct cJSON *extra);
/* cdx_pipeline_job_spec_to: the same appended to B, with EXTRA given as
 * JSON text (or NULL) */
struct cdx_buf;
void cdx_pipeline_job_spec_to(const struct cdx_pipeline *p, size_t j, const char *extra, struct cdx_buf *b);

#endif /* CDX_PIPELINE_H */
