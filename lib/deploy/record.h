/* record.h — reading an environment's deployment records back.
 *
 * A deployment is a `deployment` record followed by `transition` records,
 * each carrying a snapshot of what runs where (`serving`); the state of an
 * environment is the snapshot of its last transition (deploy.c explains the
 * model).  This file is the one reader of that model: the snapshot to and
 * from JSON, the replay that finds what serves now, whether a transition
 * ends its deployment, finding a deployment record by id, and the name of
 * an environment's lock.  Everything here only reads the store. */
#ifndef CDX_RECORD_H
#define CDX_RECORD_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/json.h"
#include "deploy/orchestrator.h"
#include "strategies/strategy.h"

/* cdx_record_is: whether record REC is of type TYPE (its "t") */
bool cdx_record_is(const cJSON *rec, const char *type);
/* cdx_record_str_eq: whether the string member KEY of REC equals WANT (a
 * NULL WANT equals nothing) */
bool cdx_record_str_eq(const cJSON *rec, const char *key, const char *want);

/* cdx_deploy_lock_name: the store's name of the deployment lock of APP/ENV,
 * "deploy:APP:ENV", into BUF of N bytes (truncated to fit) */
void cdx_deploy_lock_name(char *buf, size_t n, const char *app, const char *env);

/* cdx_env_target: the index of slot or instance NAME of E, or -1 (also
 * for a NULL NAME) */
int cdx_env_target(const struct cdx_env *e, const char *name);

/* cdx_serving_json: SV as the `serving` snapshot of a transition of E;
 * caller frees with cJSON_Delete */
cJSON *cdx_serving_json(const struct cdx_env *e, const struct cdx_serving *sv);

/* cdx_env_replay: the serving state of E from the store into SV (always
 * initialised, nothing anywhere when never deployed; free with
 * cdx_serving_free); *LAST (LAST may be NULL) receives a copy of its last
 * transition record, or NULL (caller frees with cJSON_Delete).  -1 with ERR
 * when the store cannot be read. */
int cdx_env_replay(struct cdx_orchestrator *o, const struct cdx_env *e, struct cdx_serving *sv, cJSON **last,
		   struct cdx_error *err);

/* cdx_transition_final: whether transition T ends its deployment (failed
 * counts only when it holds for a person) */
bool cdx_transition_final(const cJSON *t);

/* cdx_deployment_find: a copy of the `deployment` record with id ID (the
 * last one when repeated; caller frees with cJSON_Delete), or NULL with
 * ERR set: CDX_EUSAGE when there is none, CDX_ESTATE when the store cannot
 * be read */
cJSON *cdx_deployment_find(struct cdx_orchestrator *o, const char *id, struct cdx_error *err);

/* cdx_release_outcomes: each version deployed to one environment, with
 * the outcome of its release, from HIST (cdx_deployments_list of that
 * environment, oldest first): a JSON array of {"version", "outcome"},
 * ordered by record order (a version stands where its latest deployment or
 * successful rollback to it stands), the newest last.  The outcome is
 * "good" (its latest deployment succeeded, or a rollback to it did),
 * "failed" (its latest deployment failed, was rolled back, or a successful
 * rollback left it) or "incomplete" (its latest deployment was interrupted
 * or is still running).  Caller frees with cJSON_Delete.  This is the one
 * place that says which releases are good: pruning (local.c) and the
 * target of a rollback (rollback.c) both read it. */
cJSON *cdx_release_outcomes(const cJSON *hist);

/* cdx_release_outcome: the outcome of VERSION in OUTCOMES (as above), or
 * NULL when it was never deployed */
const char *cdx_release_outcome(const cJSON *outcomes, const char *version);

/* cdx_release_in_use: whether release NAME is one pruning must keep: a
 * version SV has installed or serves, or PREVIOUS (may be NULL) */
bool cdx_release_in_use(const struct cdx_serving *sv, const char *previous, const char *name);

/* cdx_release_rank: the removal rank of release NAME by OUTCOMES (as
 * above), the lowest pruned first: failed and incomplete releases (and
 * ones never recorded) before good ones, within each the older first.
 * Both hook sets prune by it (local.c, ssh.c). */
int cdx_release_rank(const cJSON *outcomes, const char *name);

/* cdx_release_prune_pick: of the releases NAMES (N) found in releases/,
 * the ones pruning removes so that KEEP_RELEASES stay (the ones in use
 * count towards it and never go): by cdx_release_rank, so failed and
 * incomplete releases go first and the newest good ones stay.  A
 * NULL-terminated array borrowing from NAMES; caller frees the array. */
const char **cdx_release_prune_pick(char *const *names, size_t n, const struct cdx_serving *sv,
				    const char *previous, const cJSON *outcomes, int keep_releases);

/* cdx_deployment_before: what served E before deployment ID acted, the
 * snapshot of its first transition, into SV (always initialised; free with
 * cdx_serving_free).  1 found, 0 when ID has no transition, -1 with ERR
 * when the store cannot be read. */
int cdx_deployment_before(struct cdx_orchestrator *o, const struct cdx_env *e, const char *id,
			  struct cdx_serving *sv, struct cdx_error *err);

#endif /* CDX_RECORD_H */
