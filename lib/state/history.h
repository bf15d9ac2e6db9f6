/* history.h — what the store recorded, for planning: measured job
 * durations for the ordering rule, and a plain scan of a store that may
 * not exist yet.  Runs themselves are folded in runs.h. */
#ifndef CDX_HISTORY_H
#define CDX_HISTORY_H

#include "pipeline/pipeline.h"
#include "state/store.h"

/* how many recent successful attempts a job's weight is the median of */
#define CDX_HISTORY_SAMPLES 9
/* how many recent runs a store with scan_runs is asked for (weights) */
#define CDX_HISTORY_RUNS 50

/* cdx_history_weights: W[job] = median wall time (ms) of the job's recent
 * successful attempts in S, for jobs that have any; others are left as
 * they are.  Best effort: a store that cannot be read changes nothing. */
void cdx_history_weights(struct cdx_store *s, const struct cdx_pipeline *p, double *w);

/* cdx_history_weights_at: the same from the store named STATE, opened
 * only if it exists (reading never creates a store) */
void cdx_history_weights_at(const char *state, const struct cdx_pipeline *p, double *w);

/* cdx_history_scan_at: call FN (see store.h) for every record of the store
 * named STATE (NULL = file:.cdx), oldest first.  A file store that does not
 * exist holds nothing: 0 without calling FN, and nothing is created.  -1
 * with ERR set when the store cannot be opened or read. */
int cdx_history_scan_at(const char *state, cdx_store_fn fn, void *ctx, struct cdx_error *err);

#endif /* CDX_HISTORY_H */
