/* effects.h — the effects a strategy's sequencing has in a deployment in
 * progress: the struct cdx_strategy_io table (strategies/strategy.h) that
 * the orchestrator, rollbacks and recovery hand to a strategy.
 *
 * record: a transition of the context, refused once the lock is lost or the
 * deployment was cancelled or aborted (only rolling_back goes on); hook: the
 * user's hook with the documented environment (CDX_APP, CDX_VERSION,
 * CDX_SLOT, ..., CDX_LOCK and CDX_LOCK_TOKEN) around the local hook set
 * (local.h), or on the hosts around the SSH hook set (effects_hosts.h); health: the
 * environment's checks (probe.h), each recorded as a `check` record;
 * analysis: the canary's analysis command, its number held against max and
 * min; pause: a wait that cdx promote and cdx abort interrupt.  Hooks and
 * pauses renew the lock as they run.  Every command runs with the
 * deployment as its owner (runner.h: spec->owner), a hook that starts or
 * stops a target with "ID/TARGET", so that recovery finds what a killed
 * cdx left running (recover.c). */
#ifndef CDX_EFFECTS_H
#define CDX_EFFECTS_H

#include "deploy/dctx.h"
#include "strategies/strategy.h"

/* cdx_dctx_io: the io table of a strategy run in context D (D->sv set) */
void cdx_dctx_io(struct cdx_dctx *d, struct cdx_strategy_io *io);

/* cdx_dctx_io_dry: the io table of a dry run in D (D->dry set): states and
 * checks are printed, hooks print their remote commands per host (ssh.h),
 * nothing is recorded, run or changed */
void cdx_dctx_io_dry(struct cdx_dctx *d, struct cdx_strategy_io *io);

#endif /* CDX_EFFECTS_H */
