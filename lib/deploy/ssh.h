/* ssh.h — the built-in SSH hook set: the local hook set's sibling
 * (local.h) for an environment with `hosts:`, Capistrano-style on every
 * host, over the transport of ssh_conn.h.
 *
 * Under each host's path:
 *
 *   releases/VERSION/      the artifact, uploaded once per host as a tar
 *                          whose sha256 is checked on the host before it is
 *                          unpacked (a directory with a VERSION file when
 *                          there is no artifact); made under a temporary
 *                          name and renamed, so it is whole or absent
 *   shared/X               linked into every release as releases/VERSION/X
 *   slots/NAME -> ../releases/VERSION   blue_green over hosts
 *   current -> releases/VERSION         what the host serves, switched
 *                                       atomically (ln -s to a new name,
 *                                       then mv -T over the old)
 *
 * The user's hooks run on the host in its path, with the deployment's
 * CDX_* variables (CDX_DEPLOY_DIR and CDX_RELEASE_DIR as on the host,
 * CDX_HOST, CDX_HOST_NAME) and the environment's and the host's variables.
 * Every remote command is a constant script with the values as its
 * quoted arguments.  With a dry-run stream the commands are printed, per
 * host, instead of run. */
#ifndef CDX_SSH_H
#define CDX_SSH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#include "deploy/ssh_conn.h"
#include "exec/hook.h"
#include "strategies/strategy.h"

struct cdx_ssh;

/* cdx_ssh_open: the connections to E's hosts for one deployment (a
 * private 0700 directory holds their control sockets and the artifact's
 * tar); BASE: the owner, cancel flag and tick every command runs with;
 * DRY (may be NULL): print commands there instead.  NULL with ERR. */
struct cdx_ssh *cdx_ssh_open(const struct cdx_env *e, const struct cdx_ssh_run *base, FILE *dry,
			     struct cdx_error *err);
/* cdx_ssh_close: end every connection (ssh -O exit), remove the directory */
void cdx_ssh_close(struct cdx_ssh *s);

/* cdx_ssh_down: whether host I could not be reached (or its key was refused) */
bool cdx_ssh_down(const struct cdx_ssh *s, size_t i);
/* cdx_ssh_untouched: host I is down and no command of this deployment ever
 * ran there: it runs what it ran before */
bool cdx_ssh_untouched(const struct cdx_ssh *s, size_t i);

/* cdx_ssh_release: make releases/VERSION on host I: E's artifact (expanded
 * with ENV, relative to DIR) uploaded and checked, the shared paths
 * linked in; nothing when it is there.  0, or -1 with ERR. */
int cdx_ssh_release(struct cdx_ssh *s, size_t i, const char *dir, const char *version, const struct cdx_envv *env,
		    struct cdx_error *err);

/* hosts whose releases are made at once (cdx_ssh_prefetch) */
#define CDX_SSH_PARALLEL 8

/* cdx_ssh_prefetch: cdx_ssh_release on the hosts flagged in WHICH, up to
 * CDX_SSH_PARALLEL at once (a process each): the hosts of one batch are
 * uploaded in parallel.  Errors are not reported here: the release of each
 * host is made (or found) again in order, which says what failed. */
void cdx_ssh_prefetch(struct cdx_ssh *s, const bool *which, const char *dir, const char *version,
		      const struct cdx_envv *env);

/* cdx_ssh_link: point LINK ("current", or "slots/NAME") of host I at
 * VERSION's release, atomically; a NULL VERSION removes it.  0, or -1. */
int cdx_ssh_link(struct cdx_ssh *s, size_t i, const char *link, const char *version, struct cdx_error *err);

/* cdx_ssh_hook: run CMD on host I in its path with the variables VARS
 * ("NAME=VALUE", NULL-terminated), TIMEOUT_MS at most; *STATUS its exit
 * status (as cdx_hook_run's).  0, or -1 with ERR when the host cannot be
 * reached. */
int cdx_ssh_hook(struct cdx_ssh *s, size_t i, const char *cmd, char *const *vars, int64_t timeout_ms,
		 int *status, struct cdx_error *err);

/* cdx_ssh_prune: remove old releases on every reachable host (flagged in
 * ONLY, when not NULL), as cdx_local_prune does (record.h:
 * cdx_release_prune_pick) */
void cdx_ssh_prune(struct cdx_ssh *s, const bool *only, const struct cdx_serving *sv, const char *previous,
		   const cJSON *outcomes);

#endif /* CDX_SSH_H */
