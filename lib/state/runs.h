/* runs.h — runs folded from the store's records: the one place that turns
 * run, attempt, job and run_end records into runs, for `cdx runs` and
 * `cdx show` (cdx_runs_list and cdx_run_load in cdx.h), the monitor
 * (health, alerts) and the reports.
 *
 * A full run (cdx_runs_recent, cdx_runs_get) is a cJSON object: id, jobs,
 * the run record's other fields (pipeline, file, file_hash, vars,
 * start_ms, host, user, pid, workers, ...) without "t", status
 * ("running", "interrupted" or the run_end's), and the run_end's numbers
 * (end_ms, duration_ms, critical_path_ms, ...) and driver; jobs: [{id,
 * status, attempts: [attempt records without t/run/pipeline/job],
 * duration_ms}], ordered by their first attempt's start, attempts by
 * number.  A summary (cdx_runs_list) is the run record without "t",
 * status, jobs_STATUS counts of its job records, end_ms and duration_ms;
 * cdx_run_load adds jobs in the order they were first recorded.
 */
#ifndef CDX_RUNS_H
#define CDX_RUNS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/json.h"
#include "state/store.h"

struct cJSON;

/* cdx_runs_recent: the last N runs of PIPELINE in S, oldest first, as a
 * cJSON array of full runs (caller frees with cJSON_Delete); NULL with ERR
 * set when the store cannot be read.  Runs whose run record is missing are
 * left out. */
struct cJSON *cdx_runs_recent(struct cdx_store *s, const char *pipeline, size_t n, struct cdx_error *err);

/* cdx_runs_get: run RUN_ID alone, a full run (one full scan); NULL with
 * ERR set (CDX_EUSAGE when there is no such run) */
struct cJSON *cdx_runs_get(struct cdx_store *s, const char *run_id, struct cdx_error *err);

/* cdx_runs_finished: the run's status is final and counts for health:
 * success, failed, timeout or interrupted (not running, not cancelled) */
bool cdx_runs_finished(const struct cJSON *run);
/* cdx_runs_ok: the run succeeded */
bool cdx_runs_ok(const struct cJSON *run);

/* cdx_log_tail: the last MAX_LINES lines (at most MAX_BYTES bytes) of the
 * file PATH, as a malloc'd string (free with free()); NULL when it cannot
 * be read.  Invalid UTF-8 is replaced by '?', so the text is safe to put
 * in JSON and HTML after escaping. */
char *cdx_log_tail(const char *path, size_t max_bytes, size_t max_lines);
/* cdx_log_tail_state: a log file that is not on this machine is read from
 * the shared copy in the store STATE (a redis:// state keeps every
 * attempt's log); NULL: files only */
void cdx_log_tail_state(const char *state);

/* cdx_quantile: the Q quantile (0..1) of N values at V (sorted in place),
 * by linear interpolation; 0 when N is 0 */
double cdx_quantile(double *v, size_t n, double q);

#endif /* CDX_RUNS_H */
