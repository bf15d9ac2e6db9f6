/* strategy.h — deployment strategies behind one small interface.
 *
 * A strategy is pure sequencing: it decides which hook runs on which slot
 * or instance, when health is checked, when traffic moves.  Every effect
 * goes through struct cdx_strategy_io — the orchestrator's real hooks,
 * health checks, clock and store, or a unit test's fakes — so the state
 * machines are tested without forking or sleeping.
 *
 * The contract: before each action the strategy calls io->record(state,
 * msg) (the orchestrator makes that durable first; non-zero means stop:
 * the lock is lost or the deployment was aborted), then acts, then updates
 * struct cdx_serving so that it always says what runs where.  deploy()
 * returns 0 when VERSION serves everything; otherwise non-zero with the
 * reason in ERR and SV describing exactly what was changed, from which
 * revert() (given the state BEFORE the deployment) brings the previous
 * version back.  rollback() takes an environment to an earlier version
 * with one of the rollback kinds (immediate, gradual, blue_green).
 *
 * Files, bottom up: steps.c (the serving state and the shared steps),
 * blue_green.c, canary.c (a first canary deployment is a blue-green one),
 * rolling.c, then strategy.c (choosing a strategy, the rollback kinds).
 */
#ifndef CDX_STRATEGY_H
#define CDX_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "project/environment.h"

/* what runs where in one environment */
struct cdx_serving {
	char *version;    /* what receives all traffic, NULL when nothing was deployed */
	int active;       /* slots: the slot serving it, -1 none */
	int canary;       /* canary: the slot receiving CDX_WEIGHT percent, -1 none */
	int weight;       /* percent of traffic on the canary slot */
	char **installed; /* per target (slot or instance): version installed and started, or NULL */
	size_t n;         /* targets */
	bool irreversible_done; /* an irreversible hook has run in this deployment */
};

/* results of io->pause */
enum { CDX_PAUSE_DONE, CDX_PAUSE_PROMOTE, CDX_PAUSE_ABORT };
/* results of io->analysis */
enum { CDX_ANALYSIS_PASS, CDX_ANALYSIS_FAIL, CDX_ANALYSIS_NODATA };

struct cdx_strategy_io {
	void *ctx;
	/* make "STATE: MSG" durable before the action; non-zero: stop now */
	int (*record)(void *ctx, const struct cdx_serving *sv, const char *state, const char *msg);
	/* run hook H on target T (-1: none) for VERSION with WEIGHT; 0 ok,
	 * else failed with the reason in ERR */
	int (*hook)(void *ctx, enum cdx_hook_id h, int t, const char *version, int weight, struct cdx_error *err);
	/* health of target T running VERSION: 0 healthy, else the reason in ERR */
	int (*health)(void *ctx, int t, const char *version, struct cdx_error *err);
	/* canary analysis of target T at WEIGHT: CDX_ANALYSIS_*, detail in ERR */
	int (*analysis)(void *ctx, int t, const char *version, int weight, struct cdx_error *err);
	/* wait MS: CDX_PAUSE_DONE, _PROMOTE (skip remaining pauses), _ABORT */
	int (*pause)(void *ctx, int64_t ms);
	/* whether instance T is left out of this deployment (a partial
	 * deployment over some hosts: cdx deploy --hosts), or NULL: none is */
	bool (*skip)(void *ctx, int t);
};

struct cdx_strategy {
	const char *name;
	int (*deploy)(const struct cdx_env *e, struct cdx_serving *sv, const char *version,
		      const struct cdx_strategy_io *io, struct cdx_error *err);
	int (*revert)(const struct cdx_env *e, struct cdx_serving *sv, const struct cdx_serving *before,
		      const struct cdx_strategy_io *io, struct cdx_error *err);
};

extern const struct cdx_strategy cdx_strategy_blue_green;
extern const struct cdx_strategy cdx_strategy_canary;
extern const struct cdx_strategy cdx_strategy_rolling;

/* cdx_strategy_for: the strategy of kind K */
const struct cdx_strategy *cdx_strategy_for(enum cdx_strategy_kind k);

/* cdx_serving helpers: init for N targets, deep copy, free, set a string */
void cdx_serving_init(struct cdx_serving *sv, size_t n);
void cdx_serving_copy(struct cdx_serving *dst, const struct cdx_serving *src);
void cdx_serving_free(struct cdx_serving *sv);
void cdx_serving_set(char **slot, const char *version);

/* cdx_rollback_run: take the environment from SV to VERSION with rollback
 * kind K: immediate (everything at once, no pauses, no analysis), gradual
 * (in steps with health between), blue_green (switch to the slot holding
 * VERSION, reinstalled first if it is not warm).  ONLY (may be NULL) limits
 * a rollback of instances to those flagged.  0, or non-zero with ERR. */
int cdx_rollback_run(const struct cdx_env *e, enum cdx_rollback_kind k, struct cdx_serving *sv,
		     const char *version, const bool *only, const struct cdx_strategy_io *io,
		     struct cdx_error *err);

/* for the strategies: record STATE and a printf-style message before an
 * action, returning -1 from the calling function when told to stop */
#define CDX_RECORD(state, ...)                                                                                   \
	do {                                                                                                 \
		char msg_[256];                                                                              \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                                   \
		if (io->record(io->ctx, sv, state, msg_))                                                    \
			return cdx_error_set(err, CDX_EFAILED, "stopped before: %s", msg_);                  \
	} while (0)

/* cdx_strategy_install: deploy + start hooks of VERSION on target T (the
 * target counts as touched from the start) */
int cdx_strategy_install(struct cdx_serving *sv, int t, const char *version, const struct cdx_strategy_io *io,
			 struct cdx_error *err);
/* cdx_strategy_switch: switch hook: all traffic to slot T holding VERSION */
int cdx_strategy_switch(struct cdx_serving *sv, int t, const char *version, const struct cdx_strategy_io *io,
			struct cdx_error *err);
/* cdx_strategy_cutover: the end of a slot deployment: record "switch WHAT
 * to slot T" and switch all traffic to T holding VERSION, then record and
 * check T's health after the switch */
int cdx_strategy_cutover(const struct cdx_env *e, struct cdx_serving *sv, int t, const char *version, const char *what,
			 const struct cdx_strategy_io *io, struct cdx_error *err);
/* cdx_strategy_stop: stop hook on target T (for the version SV says it
 * runs); then T holds nothing */
int cdx_strategy_stop(struct cdx_serving *sv, int t, const struct cdx_strategy_io *io, struct cdx_error *err);

#endif /* CDX_STRATEGY_H */
