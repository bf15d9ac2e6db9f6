/* rules.h — a job's `rules:`: a list of {if, changes, when, variables,
 * allow_failure}, read by the loader (pipeline_jobs.c calls
 * cdx_loader_rules) and decided per run by exec/decide.c: the first rule
 * whose `if:` is true and whose `changes:` matched decides the job's
 * `when:`, variables and allow_failure; when no rule matches the job is
 * `never` run.  Jobs of one matrix share their rules (counted
 * references).
 */
#ifndef CDX_RULES_H
#define CDX_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/expr.h"
#include "pipeline/pipeline.h"

#define CDX_RULES_MAX 100   /* rules of one job */
#define CDX_CHANGES_MAX 100 /* globs of one `changes:` */

struct cdx_rule {
	struct cdx_expr *cond; /* `if:`, NULL when absent (true) */
	char *if_src;          /* `if:` as written, NULL when absent */
	char **changes;        /* `changes:` globs (relative to the workspace) */
	size_t n_changes;
	bool has_changes; /* `changes:` given */
	bool has_when;    /* `when:` given; else the job's when */
	enum cdx_when when;
	struct cdx_vars vars; /* `variables:` added when the rule matches */
	int allow_failure;    /* -1 absent, else 0 or 1 */
	const char *file;     /* where the rule is (pipeline-owned) */
	int line, col;
};

struct cdx_rules {
	unsigned refs;
	struct cdx_rule *r;
	size_t n;
};

struct cdx_loader;
struct cdx_ynode;
/* cdx_loader_rules: the `rules:` list N (problems reported), or NULL */
struct cdx_rules *cdx_loader_rules(struct cdx_loader *l, const struct cdx_ynode *n);
/* cdx_rules_ref: one more reference to R (may be NULL), returned */
struct cdx_rules *cdx_rules_ref(struct cdx_rules *r);
/* cdx_rules_unref: one reference fewer; freed at none */
void cdx_rules_unref(struct cdx_rules *r);

/* cdx_glob_match: PATH (relative, '/'-separated) matches GLOB: '*' and
 * '?' and [...] within one path component, '**' as a whole component any
 * number of components (also none) */
bool cdx_glob_match(const char *glob, const char *path);

#endif /* CDX_RULES_H */
