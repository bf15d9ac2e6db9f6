/* effects_hosts.h — the effects of a deployment over hosts: what the
 * io table (effects.h) does for an environment with `hosts:`.
 *
 * A hook of a strategy on target T runs on T's host (rolling over hosts:
 * the hosts are the instances) or on every host (a slot, or no target),
 * through the SSH hook set (ssh.h): a deploy makes the release first (the
 * hosts of a batch in parallel) and then points `current` (instances) or
 * slots/NAME (slots) at it; a switch points `current` at it on every host;
 * a stop of a host's instance leaves it serving nothing.  The user's hook
 * runs on the host with the deployment's CDX_* variables and the
 * environment's, targets' and host's own, nothing else of this machine's
 * environment.  In a rollback, a host never reached in this deployment is
 * left as it was. */
#ifndef CDX_EFFECTS_HOSTS_H
#define CDX_EFFECTS_HOSTS_H

#include "deploy/dctx.h"
#include "exec/hook.h"

/* cdx_host_env: the variables of host I of E into CE: CDX_HOST (its
 * address), CDX_HOST_NAME, its variables, and CDX_DEPLOY_DIR and
 * CDX_RELEASE_DIR (of VERSION, may be NULL) as on the host */
void cdx_host_env(const struct cdx_env *e, size_t i, const char *version, struct cdx_envv *ce);

/* cdx_hosts_hook: hook H of target T (-1: none) for VERSION on its hosts,
 * CE the hook's environment (effects.c); D's connections are opened at the
 * first call (TICK renews the lock while a command runs) and with D->dry
 * set the commands are printed instead.  0, or -1 with ERR. */
int cdx_hosts_hook(struct cdx_dctx *d, enum cdx_hook_id h, int t, const char *version, struct cdx_envv *ce,
		   void (*tick)(void *), struct cdx_error *err);

#endif /* CDX_EFFECTS_HOSTS_H */
