/* dctx.h — one deployment, rollback or recovery in progress, and what it
 * writes to the store.
 *
 * A context holds its environment's lock (a fencing token: a write made
 * with a lost lock is refused by the store) and records a `deployment`
 * record, then a `transition` before every action, each with a snapshot of
 * what serves (record.h reads them back).  A transition is durable before
 * the action it announces, so a crash leaves an exact trace.  The signal
 * flags say what this process was told: SIGINT/SIGTERM/SIGHUP cancel (the
 * deployment aborts and rolls back), SIGUSR1 promotes (cdx promote skips the
 * remaining pauses), SIGUSR2 aborts (cdx abort).  The signals are the quick
 * way on the holder's host; promote and abort `event` records reach the
 * flags through the store from any host (cdx_dctx_controls). */
#ifndef CDX_DCTX_H
#define CDX_DCTX_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "deploy/orchestrator.h"
#include "strategies/strategy.h"

/* a deployment's lock lives this long without renewal (Redis); renewed at
 * every pause step and a third of it into a running hook */
#define CDX_LOCK_TTL_MS 30000

/* one deployment or rollback in progress */
struct cdx_dctx {
	struct cdx_orchestrator *o;
	const struct cdx_env *e;
	char id[64];
	const char *kind;      /* "deploy", "rollback", "recover" or "scale_down" */
	const char *strategy;  /* the strategy or rollback kind in effect (CDX_STRATEGY) */
	const char *version;   /* what is being rolled out */
	const char *previous;  /* what served before, or NULL */
	char lock[200];        /* lock name */
	unsigned long long token; /* the lock's fencing token; 0: not held */
	struct cdx_serving *sv; /* what serves, updated as the strategy goes */
	FILE *progress;        /* progress lines, or NULL */
	const char *state;     /* last recorded state */
	bool lost;             /* the lock was lost: stop */
	int64_t start_ms;      /* wall clock at the start, ms */
	char watch[64];        /* the store's tail cursor of cdx_dctx_controls; "": not watching */
	char last_analysis[300]; /* "WEIGHT DETAIL" of the last analysis recorded */
	struct cdx_ssh *ssh;   /* hosts: its SSH connections (ssh.h), opened at the first
				* remote command, closed by cdx_dctx_unlock */
	FILE *dry;             /* hosts: print the remote commands here instead (--dry-run) */
	const bool *only;      /* per instance: in this deployment (--hosts), or NULL: all */
};

/* signal flags of the deployment in this process */
extern volatile sig_atomic_t cdx_deploy_cancel, cdx_deploy_promote, cdx_deploy_abort;
/* cdx_deploy_signals: ON: catch the signals above (flags cleared) and
 * ignore SIGPIPE; off: their default actions again */
void cdx_deploy_signals(bool on);

/* cdx_dctx_lock: take the lock of D's environment, waiting up to WAIT_MS:
 * 0 taken, CDX_EBUSY (ERR names the holder), or another status with ERR */
int cdx_dctx_lock(struct cdx_dctx *d, long long wait_ms, struct cdx_error *err);
/* cdx_dctx_controls: read the store's records made since the last look
 * (since cdx_dctx_lock at first), waiting up to WAIT_MS for some, and set
 * cdx_deploy_promote or cdx_deploy_abort for a promote or abort `event`
 * aimed at D's deployment: so `cdx promote` and `cdx abort` reach a holder
 * on another host.  0, or -1 when the store cannot be read (nothing set). */
int cdx_dctx_controls(struct cdx_dctx *d, long long wait_ms);
/* cdx_dctx_unlock: release it, if held; close D's SSH connections */
void cdx_dctx_unlock(struct cdx_dctx *d);

/* cdx_dctx_describe: add D's id, kind, app, env, version and previous
 * version (null when none) to the JSON object O */
void cdx_dctx_describe(const struct cdx_dctx *d, cJSON *o);
/* cdx_deployment_begin: record D's `deployment` record with STRATEGY and
 * REASON (may be NULL).  0, or -1 with ERR (CDX_EBUSY: the lock was lost) */
int cdx_deployment_begin(struct cdx_dctx *d, const char *strategy, const char *reason, struct cdx_error *err);

/* cdx_dctx_record: record a transition of D to STATE with MSG and CAUSE
 * (may be NULL), durable before the action; 0, or -1 when the lock was
 * lost (D->lost set) or the store failed (said on stderr) */
int cdx_dctx_record(struct cdx_dctx *d, const char *state, const char *msg, const char *cause);
/* the same, with HOLD: a failed state that waits for a person */
int cdx_dctx_record_hold(struct cdx_dctx *d, const char *state, const char *msg, const char *cause, bool hold);

/* cdx_dctx_record_hosts: a `host` record {deployment, app, env, host,
 * version, outcome, unreachable} per host of D's environment with hosts:
 * the release each one runs (D->sv; ONLY_VERSION, may be NULL: only the
 * hosts at that version) and its OUTCOME there (good, failed, incomplete).  Rollbacks
 * pick a release good on every host by them (rollback.c); the history
 * shows them (deploy_query.c). */
void cdx_dctx_record_hosts(struct cdx_dctx *d, const char *only_version, const char *outcome);

#endif /* CDX_DCTX_H */
