/* optimize.h — the optimizer's internals that tests reach (the public API
 * is in cdx.h: cdx_optimize, cdx_optimize_analyze, cdx_optimize_suggest).
 */
#ifndef CDX_OPTIMIZE_H
#define CDX_OPTIMIZE_H

#include <stdbool.h>

#include "pipeline/pipeline.h"

struct cJSON;

/* the most jobs a pipeline may have for moderate and aggressive rewriting
 * (the rewrite keeps a set of ancestors per job: n * n bits) */
#define CDX_OPT_MAX_REWRITE_JOBS 20000

/* cdx_opt_paths_overlap: whether the declared paths A and B (inputs or
 * outputs) may name a common file: equal, or one a directory of the other
 * ("build/" and "build/app.o"; "./x" is "x"; "." or "" is everything).  A
 * glob (* ? [) counts as the directory before its first wildcard, which
 * errs on the side of overlap. */
bool cdx_opt_paths_overlap(const char *a, const char *b);

/* cdx_opt_analyze_weights: the analysis of cdx_optimize_analyze for
 * weights W (ms per job, not read from any store) on WORKERS workers
 * (>= 1), without "resources".  Caller frees with cJSON_Delete. */
struct cJSON *cdx_opt_analyze_weights(const struct cdx_pipeline *p, const double *w, unsigned workers);

#endif /* CDX_OPTIMIZE_H */
