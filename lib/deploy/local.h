/* local.h — the built-in `local` hook set: deployments that work on this
 * machine with no hooks written at all, Capistrano-style.
 *
 * Under an environment's deploy_to:
 *
 *   releases/VERSION/        a copy of the artifact, or a directory holding
 *                            a VERSION file when there is no artifact
 *   slots/NAME, instances/NAME -> ../releases/VERSION   what each target runs
 *   current -> releases/VERSION                         what serves
 *
 * Links are replaced atomically (a new link renamed over the old), so a
 * reader never sees a missing `current`.  A release already present is
 * reused: a redeploy and a rollback do not copy again.  The orchestrator
 * calls these around the user's hooks (effects.c, deploy.c).  For an
 * environment with hosts the SSH hook set (ssh.h) does this on every host
 * instead: `current` and pruning do nothing here then. */
#ifndef CDX_LOCAL_H
#define CDX_LOCAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "exec/hook.h"
#include "project/environment.h"
#include "strategies/strategy.h"

/* cdx_local_release_dir: DEPLOY_TO/releases/VERSION of E; caller frees */
char *cdx_local_release_dir(const struct cdx_env *e, const char *version);

/* cdx_local_release: make releases/VERSION of E: a copy of E's artifact
 * (expanded with ENV; a relative path is looked up in DIR, the project's
 * directory, where the copy runs) or a directory with a VERSION file.
 * Nothing to do when it exists.  0, or -1 with ERR; a failed copy leaves
 * no releases/VERSION behind. */
int cdx_local_release(const struct cdx_env *e, const char *dir, const char *version, const struct cdx_envv *env,
		      struct cdx_error *err);

/* cdx_local_release_present: whether releases/VERSION of E exists or can
 * be made again (its artifact is there, or E has none: a bare release);
 * DIR as for cdx_local_release */
bool cdx_local_release_present(const struct cdx_env *e, const char *dir, const char *version);

/* cdx_local_target_link: point slots/NAME (instances/NAME) of target T of
 * E at VERSION's release.  0, or -1 with ERR. */
int cdx_local_target_link(const struct cdx_env *e, int t, const char *version, struct cdx_error *err);

/* cdx_local_current: point `current` of E at VERSION's release; a NULL
 * VERSION removes it (nothing serves).  Best effort: failures are ignored. */
void cdx_local_current(const struct cdx_env *e, const char *version);

/* cdx_local_prune: remove old releases of E down to keep_releases (the
 * ones in use count towards it), never one in use: every version SV has
 * installed or serves and PREVIOUS (may be NULL).  Which go is decided by
 * OUTCOMES (cdx_release_outcomes, record.h), never by file times: failed
 * and incomplete releases (and ones no record names) first, then good
 * ones, each oldest first in record order; the newest good ones stay. */
void cdx_local_prune(const struct cdx_env *e, const struct cdx_serving *sv, const char *previous,
		     const cJSON *outcomes);

#endif /* CDX_LOCAL_H */
