/* deploy.h — internal pieces of the deployment orchestrator shared with
 * rollback and recovery (lib/rollback.c): the orchestrator's fields, the
 * replay of an environment's state from the store, and the machinery that
 * runs a strategy with records, hooks and checks. */
#ifndef CDX_DEPLOY_H
#define CDX_DEPLOY_H

#include <signal.h>
#include <stdio.h>

#include "cdx.h"
#include "project/environment.h"
#include "exec/hook.h"
#include "state/store.h"
#include "strategies/strategy.h"

struct cdx_orchestrator {
	struct cdx_project *pr;
	const struct cdx_apps *apps;
	struct cdx_store *store;
	char user[64], host[256];
};

/* one deployment or rollback in progress */
struct cdx_dctx {
	struct cdx_orchestrator *o;
	const struct cdx_env *e;
	char id[64];
	const char *kind;      /* "deploy" or "rollback" */
	const char *strategy;  /* the strategy or rollback kind in effect (CDX_STRATEGY) */
	const char *version;   /* what is being rolled out */
	const char *previous;  /* what served before, or NULL */
	char lock[200];        /* lock name */
	unsigned long long token;
	struct cdx_serving *sv;
	FILE *progress;        /* progress lines, or NULL */
	const char *state;     /* last recorded state */
	bool lost;             /* the lock was lost: stop */
	int64_t start_ms;
};

/* replay: the serving state of E from the store (nothing anywhere when
 * never deployed); *LAST (may be NULL) receives a copy of its last
 * transition record, or NULL (caller frees with cJSON_Delete) */
int cdx_env_replay(struct cdx_orchestrator *o, const struct cdx_env *e, struct cdx_serving *sv, struct cJSON **last,
		   struct cdx_error *err);
/* cdx_transition_final: whether transition T ends its deployment (failed
 * counts only when it holds for a person) */
bool cdx_transition_final(const struct cJSON *t);
/* cdx_recover_env: E was left mid-deployment (LAST, not final) by a holder
 * that is gone, and the caller holds the lock: bring it back to the last
 * version known good (rollback.c).  0 recovered, else what needs a person
 * in ERR. */
int cdx_recover_env(struct cdx_dctx *holder, struct cdx_serving *sv, const struct cJSON *last,
		    struct cdx_error *err);
/* begin D: its `deployment` record */
int cdx_deployment_begin(struct cdx_dctx *d, const char *strategy, const char *reason, struct cdx_error *err);

/* the io table for a strategy run in context D */
void cdx_dctx_io(struct cdx_dctx *d, struct cdx_strategy_io *io);
/* record a transition of D: durable before the action; 0, or -1 when the
 * lock was lost (D->lost set) or the store failed */
int cdx_dctx_record(struct cdx_dctx *d, const char *state, const char *msg, const char *cause);
/* the same, with HOLD: a failed state that waits for a person */
int cdx_dctx_record_hold(struct cdx_dctx *d, const char *state, const char *msg, const char *cause, bool hold);
/* the lock of D's environment: 0 taken, CDX_EBUSY (ERR names the holder), or
 * another status */
int cdx_dctx_lock(struct cdx_dctx *d, long long wait_ms, struct cdx_error *err);
void cdx_dctx_unlock(struct cdx_dctx *d);
/* point `current` at VERSION's release (local hook set) */
void cdx_local_current(const struct cdx_env *e, const char *version);

/* signal flags of the deployment in this process */
extern volatile sig_atomic_t cdx_deploy_cancel, cdx_deploy_promote, cdx_deploy_abort;
void cdx_deploy_signals(bool on);

#endif /* CDX_DEPLOY_H */
