/* blue_green.c — the blue-green strategy: install the new version into the
 * idle slot, check it there (preview) before it sees a request, switch all
 * traffic at once, check again.  The old slot keeps running, so going back
 * is a switch, not a reinstall.  A first deployment uses the first slot. */
#include "strategies/strategy.h"

#include <string.h>

static int idle_slot(const struct cdx_serving *sv)
{
	return sv->active < 0 ? 0 : (sv->active == 0 ? 1 : 0);
}

static int bg_deploy(const struct cdx_env *e, struct cdx_serving *sv, const char *version,
		     const struct cdx_strategy_io *io, struct cdx_error *err)
{
	int t = idle_slot(sv);
	const char *slot = e->targets[t].name;
	CDX_RECORD("deploying", "install %s into slot %s", version, slot);
	if (cdx_strategy_install(sv, t, version, io, err))
		return -1;
	CDX_RECORD("verifying", "health of slot %s (preview)", slot);
	if (io->health(io->ctx, t, version, err))
		return -1;
	return cdx_strategy_cutover(e, sv, t, version, "traffic", io, err);
}

/* traffic back to the slot that served before; the failed slot stopped */
static int bg_revert(const struct cdx_env *e, struct cdx_serving *sv, const struct cdx_serving *before,
		     const struct cdx_strategy_io *io, struct cdx_error *err)
{
	size_t i;
	if (before->active >= 0 && sv->active != before->active) {
		CDX_RECORD("rolling_back", "switch traffic back to slot %s (%s)", e->targets[before->active].name,
			   before->version);
		if (cdx_strategy_switch(sv, before->active, before->version, io, err))
			return -1;
	}
	for (i = 0; i < sv->n; i++) {
		if ((int)i == sv->active && before->active >= 0)
			continue;
		if (!sv->installed[i] || (before->installed[i] && strcmp(sv->installed[i], before->installed[i]) == 0))
			continue;
		CDX_RECORD("rolling_back", "stop slot %s", e->targets[i].name);
		if (cdx_strategy_stop(sv, (int)i, io, err))
			return -1;
	}
	if (before->active < 0) { /* nothing served before: nothing serves now */
		sv->active = -1;
		cdx_serving_set(&sv->version, NULL);
	}
	return 0;
}

const struct cdx_strategy cdx_strategy_blue_green = {"blue_green", bg_deploy, bg_revert};
