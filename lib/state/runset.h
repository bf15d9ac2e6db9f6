/* runset.h — the recent runs of one pipeline, folded from the store's
 * records for the monitor (health, alerts) and the reports.
 *
 * A run is a cJSON object shaped like cdx_run_load()'s result: the run
 * record's fields (id, pipeline, file, file_hash, vars, start_ms, host,
 * user, pid, workers, ...) without "t", plus status ("running",
 * "interrupted" or the run_end's), end_ms, duration_ms, critical_path_ms
 * and jobs: [{id, status, duration_ms, attempts: [attempt records without
 * t/run/pipeline/job]}], jobs ordered by their first attempt's start.
 */
#ifndef CDX_RUNSET_H
#define CDX_RUNSET_H

#include <stdbool.h>
#include <stddef.h>

#include "state/store.h"

struct cJSON;

/* cdx_runset_load: the last N runs of PIPELINE in S, oldest first, as a
 * cJSON array (caller frees with cJSON_Delete); NULL with ERR set when
 * the store cannot be read.  Runs whose run record is missing are left
 * out. */
struct cJSON *cdx_runset_load(struct cdx_store *s, const char *pipeline, size_t n, struct cdx_error *err);

/* cdx_runset_load_one: run RUN_ID alone, shaped the same (one full scan);
 * NULL with ERR set (CDX_EUSAGE when there is no such run) */
struct cJSON *cdx_runset_load_one(struct cdx_store *s, const char *run_id, struct cdx_error *err);

/* cdx_runset_finished: the run's status is final and counts for health:
 * success, failed, timeout or interrupted (not running, not cancelled) */
bool cdx_runset_finished(const struct cJSON *run);
/* cdx_runset_ok: the run succeeded */
bool cdx_runset_ok(const struct cJSON *run);

/* helpers: a string field ("" when absent), a number field (0) */
const char *cdx_js(const struct cJSON *o, const char *k);
double cdx_jn(const struct cJSON *o, const char *k);

/* cdx_log_tail: the last MAX_LINES lines (at most MAX_BYTES bytes) of the
 * file PATH, as a malloc'd string (free with free()); NULL when it cannot
 * be read.  Invalid UTF-8 is replaced by '?', so the text is safe to put
 * in JSON and HTML after escaping. */
char *cdx_log_tail(const char *path, size_t max_bytes, size_t max_lines);

/* cdx_quantile: the Q quantile (0..1) of N values at V (sorted in place),
 * by linear interpolation; 0 when N is 0 */
double cdx_quantile(double *v, size_t n, double q);

#endif /* CDX_RUNSET_H */
