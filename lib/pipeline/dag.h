/* dag.h — the job graph: one DAG at job level, and the one ordering rule.
 *
 * Nodes are the pipeline's jobs (0 .. n_jobs-1, file order) followed by one
 * node per stage (n_jobs + s) that stands for "every job of stage s is
 * done".  A job that needs a stage depends on that stage's node, so stage
 * barriers cost O(jobs) edges instead of O(jobs^2).  Stage nodes weigh
 * nothing; they are also the targets `ci/STAGE` of the make module.
 *
 * The ordering rule, used by `cdx run`, `$(cdx-pipeline)` and the
 * optimizer alike: among ready jobs, start the one with the longest
 * remaining path (its own weight plus the heaviest chain of jobs that wait
 * for it) first; ties go to the job that comes first in the file.
 */
#ifndef CDX_DAG_H
#define CDX_DAG_H

#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "pipeline/pipeline.h"

struct cdx_dag {
	size_t n_jobs;      /* job nodes 0 .. n_jobs-1 */
	size_t n_stages;    /* stage nodes n_jobs .. n_nodes-1 */
	size_t n_nodes;
	uint32_t *pred_off; /* n_nodes + 1 offsets into pred */
	uint32_t *pred;     /* what node v needs: pred[pred_off[v] .. pred_off[v+1]) */
	uint32_t *succ_off; /* n_nodes + 1 offsets into succ */
	uint32_t *succ;     /* what waits for node v */
	uint32_t *topo;     /* every node, in a topological order */
};

/* cdx_dag_build: the graph of P (whose needs are resolved).  NULL when the
 * graph has a cycle, reported to DIAGS as "job cycle: a -> b -> a".
 * Free with cdx_dag_free(). */
struct cdx_dag *cdx_dag_build(const struct cdx_pipeline *p, struct cdx_diags *diags);
void cdx_dag_free(struct cdx_dag *d);

/* cdx_dag_priority: PRIO[v] = longest path from node v to the end,
 * counting W[job] (ms) of every job on it including v's own. */
void cdx_dag_priority(const struct cdx_dag *d, const double *w, double *prio);

/* cdx_dag_critical_path: the heaviest chain of jobs, first to last, in
 * PATH (room for n_jobs); returns its length in jobs, its weight in *LEN. */
size_t cdx_dag_critical_path(const struct cdx_dag *d, const double *w, size_t *path, double *len);

/* cdx_dag_levels: LEVEL[job] = 1 + the highest level among the jobs it
 * needs (directly or through a stage); returns the number of levels. */
size_t cdx_dag_levels(const struct cdx_dag *d, size_t *level);

/* The ready queue of the ordering rule: a binary heap of job indexes,
 * highest priority first, lower index on ties. */
struct cdx_ready {
	uint32_t *heap;
	size_t n, cap;
	const double *prio; /* per node, borrowed */
};
void cdx_ready_init(struct cdx_ready *q, const double *prio);
void cdx_ready_push(struct cdx_ready *q, uint32_t job);
/* cdx_ready_pop: the best ready job; the queue must not be empty */
uint32_t cdx_ready_pop(struct cdx_ready *q);
void cdx_ready_free(struct cdx_ready *q);

/* cdx_dag_simulate: list scheduling of the jobs on WORKERS workers with the
 * ordering rule and weights W (ms).  START[job] receives the simulated start
 * time, ORDER (may be NULL) the jobs in start order.  Returns the makespan. */
double cdx_dag_simulate(const struct cdx_dag *d, const double *w, const double *prio, unsigned workers,
			double *start, size_t *order);

#endif /* CDX_DAG_H */
