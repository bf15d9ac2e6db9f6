/* monitor_int.h — what the three parts of the monitor share: monitor.c
 * (health), alerts.c (alert evaluation and notification) and metrics.c
 * (Prometheus exposition).  Not an API: cdx.h's cdx_monitor_* and
 * monitor.h are; nothing outside lib/observe/ includes this.
 *
 * Runs are read through state/runs.h; "FIN" below is the array of a pipeline's
 * finished runs, newest first (cdx_monitor_finished), and a window is a
 * slice of it.
 */
#ifndef CDX_MONITOR_INT_H
#define CDX_MONITOR_INT_H

#include <stddef.h>

#include "observe/monitor.h"

struct cJSON;

/* the figures of one window of finished runs */
struct cdx_wstats {
	size_t runs;                /* finished runs in the window */
	size_t ok, failed;          /* of them */
	double rate;                /* ok / runs, NAN when runs is 0 */
	double mean, p50, p95, max; /* duration of successful runs (all when none), ms */
	unsigned consec;            /* failed runs in a row at the newest end */
};

/* cdx_monitor_finished: the finished runs of RUNS (oldest first, as
 * cdx_runs_recent gives them), newest first; *N of them.  The array is the
 * caller's (free); its items are borrowed from RUNS. */
struct cJSON **cdx_monitor_finished(struct cJSON *runs, size_t *n);

/* cdx_monitor_wstats: *ST = the figures of FIN[SKIP .. SKIP+W) (FIN: N_FIN
 * finished runs, newest first) */
void cdx_monitor_wstats(struct cJSON **fin, size_t n_fin, size_t skip, size_t w, struct cdx_wstats *st);

/* cdx_monitor_add_num: O.K = V rounded to 3 decimals; null when V is NaN
 * or infinite (JSON has neither) */
void cdx_monitor_add_num(struct cJSON *o, const char *k, double v);

/* cdx_monitor_firing: the names of the alerts firing for SUBJECT
 * ("pipeline:NAME", "deploy:APP:ENV") by the events recorded in S; best
 * effort: an empty array when S cannot be read.  Caller frees
 * (cJSON_Delete). */
struct cJSON *cdx_monitor_firing(struct cdx_store *s, const char *subject);

/* cdx_monitor_undelivered: the alert notifications of S not delivered yet
 * (every subject): [{alert, subject, state, at_ms, attempts, tried_ms,
 * undelivered: ["notify"|"webhook"...], error}] (alerts.c) */
struct cJSON *cdx_monitor_undelivered(struct cdx_store *s);

/* cdx_alert_retry_due: whether a notification still undelivered after
 * RETRIES later tries, the last at TRIED_MS, is tried again at NOW_MS
 * (BACKOFF_MS after the first, doubling, at most an hour) (alerts.c) */
bool cdx_alert_retry_due(int64_t tried_ms, int retries, int64_t backoff_ms, int64_t now_ms);

#endif /* CDX_MONITOR_INT_H */
