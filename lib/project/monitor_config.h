/* monitor_config.h — the `monitoring:` section of cdx.yml: the health
 * thresholds and the alert rules that lib/observe/monitor.c applies.
 * Read with the rest of the project file (project.c); kept apart from the
 * monitor itself so that reading cdx.yml needs nothing above this layer.
 */
#ifndef CDX_MONITOR_CONFIG_H
#define CDX_MONITOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "yaml/cfg.h"
#include "yaml/ytree.h"

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
	char *webhook;            /* http(s) URL the alert JSON is POSTed to; or NULL */
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
	long long notify_timeout_ms;    /* a notify command is killed (a webhook given up) after this */
	int64_t retry_backoff_ms;       /* undelivered: the first later try after this, then doubling */
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

/* cdx_monitor_config_parse: read the `monitoring:` mapping N into MC,
 * every problem reported and counted in C */
void cdx_monitor_config_parse(struct cdx_cfg *c, const struct cdx_ynode *n, struct cdx_monitor_config *mc);

/* the monitoring section of a loaded project (project.c): never NULL */
const struct cdx_monitor_config *cdx_project_monitoring(const struct cdx_project *pr);

#endif /* CDX_MONITOR_CONFIG_H */
