/* optimize_int.h — what the parts of the optimizer share: optimize.c (the
 * public entry points, levels, weights from history, suggestions),
 * optimize_analyze.c (the analysis of a schedule), optimize_rewrite.c
 * (declared paths and the rewritten graph) and optimize_yaml.c (the
 * optimized file).  Not an API: cdx.h's cdx_optimize* and optimize.h are;
 * nothing outside lib/observe/ includes this.  optimize.c's header says
 * how the rewrite works.
 */
#ifndef CDX_OPTIMIZE_INT_H
#define CDX_OPTIMIZE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "observe/optimize.h"

struct cJSON;

/* cdx_opt_evidence: whether job J declares both inputs and outputs, so
 * that its conflicts with others can be told from them */
bool cdx_opt_evidence(const struct cdx_job *j);

/* cdx_opt_conflict: whether job K (later) conflicts with job Y (earlier)
 * by their declared paths; the reason into WHY when it does (WHY may be
 * NULL) */
bool cdx_opt_conflict(const struct cdx_job *k, const struct cdx_job *y, struct cdx_buf *why);

/* cdx_opt_implicit_barrier: whether job J of P waits only by an implicit
 * stage barrier (no needs of its own or its stage's, not the first
 * stage) */
bool cdx_opt_implicit_barrier(const struct cdx_pipeline *p, size_t j);

/* the rewrite of a pipeline's graph at a level (optimize.c's header);
 * filled by cdx_opt_rewrite, freed by cdx_opt_rewrite_free */
struct cdx_opt_rewrite {
	const struct cdx_pipeline *p;
	const struct cdx_dag *d;
	enum cdx_opt_level level;
	size_t n, nw;          /* jobs; 64-bit words per set */
	uint32_t *rank;        /* per job: its rank among jobs in topological order */
	uint32_t *at;          /* per rank: the job */
	uint64_t *anc;         /* per node: ancestor jobs in the old graph (by rank) */
	uint64_t *nanc;        /* per node: ancestor jobs in the new graph */
	uint64_t *tmp;         /* one set of scratch */
	bool *changed;         /* per job: written with new needs (NULL: none) */
	struct cdx_buf *needs; /* per changed job: its new needs, one ref a line */
	struct cdx_buf *notes; /* per job: its rewritten edges, one a line (NULL: none) */
	struct cJSON *edges;   /* every added or removed edge, with its reason */
};

/* cdx_opt_rewrite: RW = the rewrite of P at LEVEL; at the conservative
 * level nothing changes (only RW->edges is made, empty).  P has at most
 * CDX_OPT_MAX_REWRITE_JOBS jobs above that level. */
void cdx_opt_rewrite(struct cdx_opt_rewrite *rw, const struct cdx_pipeline *p, enum cdx_opt_level level);

/* cdx_opt_rewrite_free: what cdx_opt_rewrite allocated (RW->edges too,
 * unless the caller took it and set it NULL) */
void cdx_opt_rewrite_free(struct cdx_opt_rewrite *rw);

/* cdx_opt_yaml: the pipeline file of RW: HEAD as comment lines first,
 * then the pipeline with each stage's jobs in the order the ordering rule
 * (PRIO, per node) starts them, each changed job with its new needs and
 * its notes.  The caller frees it with free(). */
char *cdx_opt_yaml(const struct cdx_opt_rewrite *rw, const double *prio, const char *head);

#endif /* CDX_OPTIMIZE_INT_H */
