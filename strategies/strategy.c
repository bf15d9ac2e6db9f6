/* strategy.c — choosing a strategy, and the rollback kinds (immediate,
 * gradual, blue_green) that rollbacks and recovery run (see strategy.h).
 * It stands on steps.c and names the three strategies; they do not call
 * back into it. */
#include "strategies/strategy.h"

#include <stdio.h>
#include <string.h>

const struct cdx_strategy *cdx_strategy_for(enum cdx_strategy_kind k)
{
	switch (k) {
	case CDX_STRATEGY_CANARY:
		return &cdx_strategy_canary;
	case CDX_STRATEGY_ROLLING:
		return &cdx_strategy_rolling;
	case CDX_STRATEGY_BLUE_GREEN:
		break;
	}
	return &cdx_strategy_blue_green;
}

static int slot_of(const struct cdx_serving *sv, const char *version, int prefer_not)
{
	size_t i;
	if (sv->active >= 0 && sv->active != prefer_not && sv->installed[sv->active] &&
	    strcmp(sv->installed[sv->active], version) == 0)
		return sv->active;
	for (i = 0; i < sv->n; i++)
		if ((int)i != prefer_not && sv->installed[i] && strcmp(sv->installed[i], version) == 0)
			return (int)i;
	return -1;
}

/* gradual rollback of instances: the health of each of the NB instances
 * just restarted */
static int check_batch(const struct cdx_env *e, struct cdx_serving *sv, const size_t *batch, size_t nb,
		       const char *version, const struct cdx_strategy_io *io, struct cdx_error *err)
{
	size_t j;
	for (j = 0; j < nb; j++) {
		CDX_RECORD("rolling_back", "health of instance %s", e->targets[batch[j]].name);
		if (io->health(io->ctx, (int)batch[j], version, err))
			return -1;
	}
	return 0;
}

/* slots: a warm slot holding VERSION takes the traffic back at once (a
 * canary's weight back to 0, or a switch); a cold one is reinstalled into
 * the slot not serving; gradual moves the traffic in steps */
static int rollback_slots(const struct cdx_env *e, enum cdx_rollback_kind k, struct cdx_serving *sv,
			  const char *version, const struct cdx_strategy_io *io, struct cdx_error *err)
{
	int t = slot_of(sv, version, -1);
	if (sv->canary >= 0 && sv->weight > 0 && t == sv->active && t >= 0) {
		int c = sv->canary;
		CDX_RECORD("rolling_back", "traffic back to slot %s (%s) from canary %s", e->targets[t].name, version,
			   e->targets[c].name);
		if (io->hook(io->ctx, CDX_HOOK_WEIGHT, c, sv->installed[c], 0, err))
			return -1;
		sv->weight = 0;
		sv->canary = -1;
		CDX_RECORD("rolling_back", "stop canary slot %s", e->targets[c].name);
		return cdx_strategy_stop(sv, c, io, err);
	}
	if (t >= 0 && t != sv->active && io->health(io->ctx, t, version, err) != 0) {
		/* recorded as warm, but its process is gone: start it again */
		CDX_RECORD("rolling_back", "slot %s (%s) is not healthy: start it again", e->targets[t].name,
			   version);
		if (cdx_strategy_install(sv, t, version, io, err) || io->health(io->ctx, t, version, err))
			return -1;
	}
	if (t < 0) {
		/* not warm: reinstall it into the slot not serving */
		t = sv->active == 0 && sv->n > 1 ? 1 : 0;
		CDX_RECORD("rolling_back", "reinstall %s into slot %s", version, e->targets[t].name);
		if (cdx_strategy_install(sv, t, version, io, err))
			return -1;
		if (k != CDX_ROLLBACK_IMMEDIATE) {
			CDX_RECORD("rolling_back", "health of slot %s", e->targets[t].name);
			if (io->health(io->ctx, t, version, err))
				return -1;
		}
	}
	if (k == CDX_ROLLBACK_GRADUAL && sv->active >= 0 && sv->active != t) {
		/* traffic back in steps: the restored slot is the canary */
		static const int steps[] = {25, 50, 75};
		size_t s;
		for (s = 0; s < CDX_ARRAY_LEN(steps); s++) {
			CDX_RECORD("rolling_back", "weight %d%% to slot %s (%s)", steps[s], e->targets[t].name, version);
			if (io->hook(io->ctx, CDX_HOOK_WEIGHT, t, version, steps[s], err))
				return -1;
			sv->canary = t;
			sv->weight = steps[s];
			if (io->health(io->ctx, t, version, err))
				return -1;
		}
	}
	CDX_RECORD("rolling_back", "switch traffic to slot %s (%s)", e->targets[t].name, version);
	return cdx_strategy_switch(sv, t, version, io, err);
}

/* instances: immediate restarts all at once (no health between), gradual
 * in batches of `batch` restarted instances, each checked before the next
 * batch starts (instances already at VERSION are not a batch's members) */
static int rollback_instances(const struct cdx_env *e, enum cdx_rollback_kind k, struct cdx_serving *sv,
			      const char *version, const bool *only, const struct cdx_strategy_io *io,
			      struct cdx_error *err)
{
	size_t i, batch[256], nb = 0;
	for (i = 0; i < sv->n; i++) {
		if (only && !only[i])
			continue;
		if (sv->installed[i] && strcmp(sv->installed[i], version) == 0)
			continue;
		CDX_RECORD("rolling_back", "instance %s back to %s", e->targets[i].name, version);
		if (cdx_strategy_install(sv, (int)i, version, io, err))
			return -1;
		if (k == CDX_ROLLBACK_GRADUAL) {
			batch[nb++] = i;
			if (nb == CDX_ARRAY_LEN(batch) || nb == (size_t)(e->batch > 0 ? e->batch : 1)) {
				if (check_batch(e, sv, batch, nb, version, io, err))
					return -1;
				nb = 0;
			}
		}
	}
	if (nb && check_batch(e, sv, batch, nb, version, io, err))
		return -1;
	for (i = 0; i < sv->n; i++)
		if (sv->installed[i] && strcmp(sv->installed[i], version) != 0)
			break;
	if (i == sv->n)
		cdx_serving_set(&sv->version, version);
	return 0;
}

int cdx_rollback_run(const struct cdx_env *e, enum cdx_rollback_kind k, struct cdx_serving *sv,
		     const char *version, const bool *only, const struct cdx_strategy_io *io,
		     struct cdx_error *err)
{
	if (e->instances)
		return rollback_instances(e, k, sv, version, only, io, err);
	return rollback_slots(e, k, sv, version, io, err);
}
