/* monitor.h — pipeline health, metrics and alerts (SEED.md's
 * PipelineMonitor); the `monitoring:` section of cdx.yml that configures
 * them is read by project/monitor_config.h.
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

#include "project/monitor_config.h"
#include "state/store.h"

/* cdx_monitor_health_in: health of PIPELINE in the open store S under C
 * (NULL = defaults) over WINDOW runs (0 = C's); see cdx_monitor_health */
struct cJSON *cdx_monitor_health_in(struct cdx_store *s, const char *pipeline, const struct cdx_monitor_config *c,
				    size_t window, struct cdx_error *err);

/* cdx_monitor_alerts_in: evaluate C's alerts for PIPELINE (NULL: every
 * pipeline alert rule names plus the deployment alerts) in the open store
 * S; see cdx_monitor_alerts */
struct cJSON *cdx_monitor_alerts_in(struct cdx_store *s, const char *pipeline, const struct cdx_monitor_config *c,
				    struct cdx_error *err);

#endif /* CDX_MONITOR_H */
