/* monitor.h — pipeline health, metrics and alerts (SEED.md's
 * PipelineMonitor), and the `monitoring:` section of cdx.yml.
 *
 * Everything here is computed from the records of the state store (store.h)
 * at the time of the call: there is no monitoring daemon and no state of
 * its own.  An alert's state (firing or not) is the last alert /
 * alert_resolved event recorded for it, so that any process — the end of a
 * run, `cdx health`, `cdx monitor --follow`, on this host or another
 * sharing the store — sees the same incident and an alert fires once per
 * incident.
 *
 * Health of a pipeline, over its last WINDOW finished runs (cancelled and
 * still running runs do not count):
 *
 *   unknown   fewer than min_runs finished runs
 *   failing   the last consecutive_failures runs all failed, or the
 *             success rate is below `failing`
 *   degraded  the success rate is below `healthy`, or the latest run
 *             failed, or p95 duration exceeds slowdown x the p95 of the
 *             previous window (when that window has min_runs runs)
 *   healthy   otherwise
 *
 * with the defaults window 20, min_runs 1, healthy 0.9, failing 0.5,
 * consecutive_failures 3, slowdown 1.5.
 */
#ifndef CDX_MONITOR_H
#define CDX_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "store.h"
#include "ytree.h"

/* what an alert watches */
enum cdx_alert_kind {
	CDX_ALERT_CONSECUTIVE_FAILURES, /* consecutive_failures >= N */
	CDX_ALERT_SUCCESS_RATE,         /* success_rate < X over its window */
	CDX_ALERT_P95,                  /* p95 > K x baseline (previous window) */
	CDX_ALERT_ROLLED_BACK,          /* a deployment rolled back */
	CDX_ALERT_FROZEN,               /* a deployment frozen */
};

struct cdx_alert_rule {
	char *name;               /* unique in the file; default the `when` text */
	enum cdx_alert_kind kind;
	char *when;               /* the condition as written */
	double threshold;         /* N (runs), X (0..1) or K (factor > 0) */
	size_t window;            /* runs; 0 = the monitoring window */
	char *pipeline;           /* only this pipeline, or NULL = every one */
	char *notify;             /* sh -c command, the alert JSON on stdin; or NULL */
	const char *file;         /* where it was defined (config-owned) */
	int line, col;
};

struct cdx_monitor_config {
	size_t window;                  /* runs in the health window, 1..1000 */
	size_t min_runs;                /* fewer finished runs: unknown */
	double healthy;                 /* success rate at or above (0..1) */
	double failing;                 /* success rate below (0..1) */
	unsigned consecutive_failures;  /* this many failed runs in a row: failing */
	double slowdown;                /* p95 over slowdown x baseline: degraded */
	long long notify_timeout_ms;    /* a notify command is killed after this */
	char *dir;                      /* directory notify commands run in */
	char *file;                     /* the project file, for positions */
	struct cdx_alert_rule *alerts;
	size_t n_alerts, cap_alerts;
};

#define CDX_MONITOR_WINDOW_MAX 1000

/* cdx_monitor_config_new: the defaults; notify commands run in DIR (NULL:
 * the working directory).  Free with cdx_monitor_config_free(). */
struct cdx_monitor_config *cdx_monitor_config_new(const char *dir);
void cdx_monitor_config_free(struct cdx_monitor_config *c);

/* cdx_monitor_config_parse: read the `monitoring:` mapping N into C,
 * adding every problem to DIAGS as FILE:LINE:COL; returns how many. */
int cdx_monitor_config_parse(const struct cdx_ynode *n, struct cdx_monitor_config *c, struct cdx_diags *diags);

/* the monitoring section of a loaded project (project.c): never NULL */
const struct cdx_monitor_config *cdx_project_monitoring(const struct cdx_project *pr);

/* cdx_monitor_health_in: health of PIPELINE in the open store S under C
 * (NULL = defaults) over WINDOW runs (0 = C's); see cdx_monitor_health */
struct cJSON *cdx_monitor_health_in(struct cdx_store *s, const char *pipeline, const struct cdx_monitor_config *c,
				    size_t window, struct cdx_error *err);

/* cdx_monitor_alerts_in: evaluate C's alerts for PIPELINE (NULL: every
 * pipeline alert rule names plus the deployment alerts) in the open store
 * S; see cdx_monitor_alerts */
struct cJSON *cdx_monitor_alerts_in(struct cdx_store *s, const char *pipeline, const struct cdx_monitor_config *c,
				    struct cdx_error *err);

/* cdx_monitor_after_run: the end-of-run hook (lib/run.c, the make run's
 * watcher): evaluate the alerts of PIPELINE in S with the project file
 * CONFIG (NULL or missing: nothing to do).  Best effort: problems are
 * printed as warnings on stderr, never change the run's result. */
void cdx_monitor_after_run(struct cdx_store *s, const char *pipeline, const char *config);

#endif /* CDX_MONITOR_H */
