/* steps.c — what the strategies are made of: the serving state (what runs
 * where) and the steps they share — install, switch, the final cutover of a
 * slot deployment, stop (see strategy.h).  The bottom of strategies/: the
 * strategies and the rollback kinds use it, it uses none of them. */
#include "strategies/strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cdx_serving_init(struct cdx_serving *sv, size_t n)
{
	memset(sv, 0, sizeof(*sv));
	sv->active = -1;
	sv->canary = -1;
	sv->n = n;
	sv->installed = cdx_xcalloc(n ? n : 1, sizeof(char *));
}

void cdx_serving_set(char **slot, const char *version)
{
	char *v = version ? cdx_xstrdup(version) : NULL;
	free(*slot);
	*slot = v;
}

void cdx_serving_copy(struct cdx_serving *dst, const struct cdx_serving *src)
{
	size_t i;
	cdx_serving_init(dst, src->n);
	dst->active = src->active;
	dst->canary = src->canary;
	dst->weight = src->weight;
	dst->irreversible_done = src->irreversible_done;
	cdx_serving_set(&dst->version, src->version);
	for (i = 0; i < src->n; i++)
		cdx_serving_set(&dst->installed[i], src->installed[i]);
}

void cdx_serving_free(struct cdx_serving *sv)
{
	size_t i;
	if (!sv->installed)
		return;
	for (i = 0; i < sv->n; i++)
		free(sv->installed[i]);
	free(sv->installed);
	free(sv->version);
	memset(sv, 0, sizeof(*sv));
}

/* install VERSION on target T and start it (deploy + start hooks) */
int cdx_strategy_install(struct cdx_serving *sv, int t, const char *version, const struct cdx_strategy_io *io,
			 struct cdx_error *err)
{
	/* from here on the target is touched: a revert must restore it */
	cdx_serving_set(&sv->installed[t], version);
	if (io->hook(io->ctx, CDX_HOOK_DEPLOY, t, version, 0, err))
		return -1;
	if (io->hook(io->ctx, CDX_HOOK_START, t, version, 0, err))
		return -1;
	return 0;
}

/* slots: switch all traffic to slot T, which holds VERSION */
int cdx_strategy_switch(struct cdx_serving *sv, int t, const char *version, const struct cdx_strategy_io *io,
			struct cdx_error *err)
{
	if (io->hook(io->ctx, CDX_HOOK_SWITCH, t, version, 100, err))
		return -1;
	sv->active = t;
	sv->canary = -1;
	sv->weight = 0;
	cdx_serving_set(&sv->version, version);
	return 0;
}

int cdx_strategy_cutover(const struct cdx_env *e, struct cdx_serving *sv, int t, const char *version, const char *what,
			 const struct cdx_strategy_io *io, struct cdx_error *err)
{
	CDX_RECORD("promoting", "switch %s to slot %s", what, e->targets[t].name);
	if (cdx_strategy_switch(sv, t, version, io, err))
		return -1;
	CDX_RECORD("verifying", "health of slot %s after the switch", e->targets[t].name);
	if (io->health(io->ctx, t, version, err))
		return -1;
	return 0;
}

int cdx_strategy_stop(struct cdx_serving *sv, int t, const struct cdx_strategy_io *io, struct cdx_error *err)
{
	if (io->hook(io->ctx, CDX_HOOK_STOP, t, sv->installed[t], 0, err))
		return -1;
	cdx_serving_set(&sv->installed[t], NULL);
	return 0;
}
