/* decide.h — what each job of a pipeline does in one run, decided once at
 * its start from `when:` and `rules:` (pipeline/rules.h): its effective
 * `when:`, allow_failure and the variables a matching rule adds, with a
 * sentence saying why ("rules: rule 2 matched ($CDX_BRANCH == "main")").
 *
 * Variables that rules read, lowest precedence first: cdx's own
 * (CDX_BRANCH and CDX_COMMIT from the workspace's git checkout, when it is
 * one (exec/gitinfo.h); CDX_PIPELINE; CDX_RUN_ID), the pipeline's
 * (from_env read now), the job's (matrix values included), then RUN_VARS
 * (--var, make's command line).  A variable set in the environment of cdx
 * is not seen unless the pipeline names it with from_env, so that a rule
 * means the same wherever it is decided.
 *
 * `changes:` (exec/changes.h) reads the store for the job's last
 * successful attempt; the digests it computed are in CHANGES, to be
 * recorded with the job's attempts.
 */
#ifndef CDX_DECIDE_H
#define CDX_DECIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"
#include "pipeline/pipeline.h"

struct cdx_store;
struct cJSON;

struct cdx_job_decision {
	enum cdx_when when;    /* effective when: for this run */
	bool allow_failure;    /* effective allow_failure */
	struct cdx_vars vars;  /* variables a matching rule adds (owned) */
	char why[160];         /* "rules: rule 2 matched ($CDX_BRANCH == \"main\")",
				  "rules: no rule matched", "when: manual" */
	struct cJSON *changes; /* {KEY: DIGEST} of the job's `changes:` rules, to be
				  recorded with its attempts (owned), or NULL */
};

struct cdx_decide_ctx {
	const char *dir;                 /* workspace (NULL: the current directory) */
	const struct cdx_vars *run_vars; /* --var / make command line, may be NULL */
	struct cdx_store *store;         /* for changes:, may be NULL (all changed) */
	const char *pipeline;            /* CDX_PIPELINE (NULL: the pipeline's name) */
	const char *run_id;              /* CDX_RUN_ID, may be NULL */
	const bool *wanted;              /* decide only these jobs (NULL: all); the
					    others get when: never, "not selected" */
	const char *state;               /* with STORE NULL: the store to read for
					    changes: (opened only if it exists) */
};

/* cdx_decide_jobs: one decision per job of P; NULL + ERR on failure (a rule
 * that cannot be evaluated, CDX_EUSAGE, naming the job and its FILE:LINE);
 * free with cdx_decisions_free(d, p->n_jobs) */
struct cdx_job_decision *cdx_decide_jobs(const struct cdx_pipeline *p, const struct cdx_decide_ctx *ctx,
					 struct cdx_error *err);
void cdx_decisions_free(struct cdx_job_decision *d, size_t n);

/* cdx_decide_git: CDX_BRANCH and CDX_COMMIT of DIR's checkout, set in V
 * (nothing when DIR is in none, or detached: no branch) */
void cdx_decide_git(const char *dir, struct cdx_vars *v);

#endif /* CDX_DECIDE_H */
