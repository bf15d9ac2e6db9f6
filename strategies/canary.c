/* canary.c — the canary strategy: the new version starts in the slot that
 * does not serve, then receives a growing share of traffic (`steps`); after
 * each step a pause, then analysis (a command printing a number held
 * against max/min, with an explicit policy when it prints nothing) and the
 * health checks.  After the last step the canary slot takes all traffic.
 * `cdx promote` skips the remaining pauses; `cdx abort` or a failure sends
 * all traffic back to the stable slot.  With nothing serving yet there is
 * no stable version to compare with, and the first deployment is a
 * blue-green one. */
#include "strategies/strategy.h"

#include <string.h>

/* analysis at weight W until it passes or fails.  No data with no_data:
 * pause waits (a second at least between attempts) until data comes, a
 * promote or abort, or max_pause has gone by: then it fails.  The pause is
 * recorded once, when it starts, not at every attempt. */
static int analyse(const struct cdx_env *e, struct cdx_serving *sv, int c, const char *version, int w,
		   const struct cdx_strategy_io *io, bool *promoted, struct cdx_error *err)
{
	int64_t t0 = cdx_now_ns() / 1000000, waited = 0;
	bool paused = false;
	for (;;) {
		int a = io->analysis(io->ctx, c, version, w, err);
		int64_t step = e->pause_ms > 1000 ? e->pause_ms : 1000, gone;
		if (a == CDX_ANALYSIS_PASS)
			return 0;
		if (a == CDX_ANALYSIS_FAIL)
			return -1;
		/* no data; after a promote no pause is left, so nor is this wait */
		if (e->nodata == CDX_NODATA_PASS || (e->nodata == CDX_NODATA_PAUSE && *promoted))
			return 0;
		if (e->nodata == CDX_NODATA_FAIL) {
			cdx_error_set(err, CDX_EFAILED, "analysis gave no data at %d%% (no_data: fail)", w);
			return -1;
		}
		/* the time paused: the clock's, or the pauses' when they ran
		 * longer (a pause that does not sleep, in the unit tests) */
		gone = cdx_now_ns() / 1000000 - t0;
		if (waited > gone)
			gone = waited;
		if (e->max_pause_ms > 0 && gone >= e->max_pause_ms) {
			cdx_error_set(err, CDX_EFAILED,
				      "analysis gave no data at %d%% for %lld ms (max_pause)", w,
				      (long long)e->max_pause_ms);
			return -1;
		}
		if (!paused)
			CDX_RECORD("verifying",
				   "analysis gave no data at %d%%: paused until it does, or promote or abort "
				   "(at most %lld ms)",
				   w, (long long)e->max_pause_ms);
		paused = true;
		if (e->max_pause_ms > 0 && step > e->max_pause_ms - gone)
			step = e->max_pause_ms - gone;
		switch (io->pause(io->ctx, step)) {
		case CDX_PAUSE_ABORT:
			cdx_error_set(err, CDX_EFAILED, "aborted at %d%%", w);
			return -1;
		case CDX_PAUSE_PROMOTE:
			*promoted = true;
			return 0;
		}
		waited += step;
	}
}

static int canary_deploy(const struct cdx_env *e, struct cdx_serving *sv, const char *version,
			 const struct cdx_strategy_io *io, struct cdx_error *err)
{
	int c;
	size_t i;
	bool promoted = false;
	if (sv->active < 0)
		return cdx_strategy_blue_green.deploy(e, sv, version, io, err);
	c = sv->active == 0 ? 1 : 0;
	CDX_RECORD("deploying", "install canary %s into slot %s", version, e->targets[c].name);
	if (cdx_strategy_install(sv, c, version, io, err))
		return -1;
	CDX_RECORD("verifying", "health of canary slot %s", e->targets[c].name);
	if (io->health(io->ctx, c, version, err))
		return -1;
	for (i = 0; i < e->n_steps && e->steps[i] < 100; i++) {
		int w = e->steps[i];
		CDX_RECORD("promoting", "weight %d%% to canary slot %s", w, e->targets[c].name);
		sv->canary = c; /* touched from here on */
		if (io->hook(io->ctx, CDX_HOOK_WEIGHT, c, version, w, err))
			return -1;
		sv->weight = w;
		if (!promoted && e->pause_ms > 0) {
			CDX_RECORD("verifying", "pause %lld ms at %d%%", (long long)e->pause_ms, w);
			switch (io->pause(io->ctx, e->pause_ms)) {
			case CDX_PAUSE_ABORT:
				cdx_error_set(err, CDX_EFAILED, "aborted at %d%%", w);
				return -1;
			case CDX_PAUSE_PROMOTE:
				promoted = true;
				break;
			}
		}
		if (e->analysis_cmd) {
			CDX_RECORD("verifying", "analysis at %d%%", w);
			if (analyse(e, sv, c, version, w, io, &promoted, err))
				return -1;
		}
		CDX_RECORD("verifying", "health of canary slot %s at %d%%", e->targets[c].name, w);
		if (io->health(io->ctx, c, version, err))
			return -1;
	}
	return cdx_strategy_cutover(e, sv, c, version, "all traffic", io, err);
}

static int canary_revert(const struct cdx_env *e, struct cdx_serving *sv, const struct cdx_serving *before,
			 const struct cdx_strategy_io *io, struct cdx_error *err)
{
	int c;
	if (before->active < 0)
		return cdx_strategy_blue_green.revert(e, sv, before, io, err);
	c = before->active == 0 ? 1 : 0;
	if (sv->active != before->active) {
		CDX_RECORD("rolling_back", "switch all traffic back to slot %s (%s)", e->targets[before->active].name,
			   before->version);
		if (cdx_strategy_switch(sv, before->active, before->version, io, err))
			return -1;
	} else if (sv->canary >= 0) {
		CDX_RECORD("rolling_back", "weight 0%% to canary slot %s", e->targets[c].name);
		if (io->hook(io->ctx, CDX_HOOK_WEIGHT, c, sv->installed[c], 0, err))
			return -1;
		sv->canary = -1;
		sv->weight = 0;
	}
	if (sv->installed[c] && !(before->installed[c] && strcmp(sv->installed[c], before->installed[c]) == 0)) {
		CDX_RECORD("rolling_back", "stop canary slot %s", e->targets[c].name);
		if (cdx_strategy_stop(sv, c, io, err))
			return -1;
	}
	return 0;
}

const struct cdx_strategy cdx_strategy_canary = {"canary", canary_deploy, canary_revert};
