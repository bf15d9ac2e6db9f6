/* rolling.c — the rolling strategy: instances are updated in batches of
 * `batch` (never more than `max_unavailable` out at once), in file order,
 * each batch health-checked before the next starts.  A failure restores
 * exactly the instances already touched, newest first, to the version
 * each had before (an instance that had none is stopped). */
#include "strategies/strategy.h"

#include <string.h>

static bool same(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

static int rolling_deploy(const struct cdx_env *e, struct cdx_serving *sv, const char *version,
			  const struct cdx_strategy_io *io, struct cdx_error *err)
{
	size_t i, j, b = (size_t)e->batch;
	for (i = 0; i < sv->n; i += b) {
		size_t end = i + b < sv->n ? i + b : sv->n;
		for (j = i; j < end; j++) {
			if (io->skip && io->skip(io->ctx, (int)j))
				continue;
			CDX_RECORD("deploying", "update instance %s to %s", e->targets[j].name, version);
			if (cdx_strategy_install(sv, (int)j, version, io, err))
				return -1;
		}
		for (j = i; j < end; j++) {
			if (io->skip && io->skip(io->ctx, (int)j))
				continue;
			CDX_RECORD("verifying", "health of instance %s", e->targets[j].name);
			if (io->health(io->ctx, (int)j, version, err))
				return -1;
		}
	}
	cdx_serving_set(&sv->version, version);
	return 0;
}

static int rolling_revert(const struct cdx_env *e, struct cdx_serving *sv, const struct cdx_serving *before,
			  const struct cdx_strategy_io *io, struct cdx_error *err)
{
	size_t i;
	for (i = sv->n; i-- > 0;) {
		if (same(sv->installed[i], before->installed[i]))
			continue;
		if (before->installed[i]) {
			CDX_RECORD("rolling_back", "instance %s back to %s", e->targets[i].name, before->installed[i]);
			if (cdx_strategy_install(sv, (int)i, before->installed[i], io, err))
				return -1;
		} else {
			CDX_RECORD("rolling_back", "stop instance %s", e->targets[i].name);
			if (cdx_strategy_stop(sv, (int)i, io, err))
				return -1;
		}
	}
	cdx_serving_set(&sv->version, before->version);
	return 0;
}

const struct cdx_strategy cdx_strategy_rolling = {"rolling", rolling_deploy, rolling_revert};
