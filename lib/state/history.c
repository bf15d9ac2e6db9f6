/* history.c — what the store recorded, for planning (see history.h).
 *
 * A job's weight is the median wall time of its last CDX_HISTORY_SAMPLES
 * successful attempts, kept in a ring per job while the records pass by
 * once; a store that answers for one pipeline (Redis) is asked for its
 * last CDX_HISTORY_RUNS runs only.  Reading never creates a store.
 */
#include "state/history.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/map.h"

struct weights_ctx {
	const struct cdx_pipeline *p;
	struct cdx_map ids; /* job id -> index */
	double (*samples)[CDX_HISTORY_SAMPLES];
	unsigned *count; /* samples seen per job (ring position) */
};

static int weights_one(void *ctx, const cJSON *rec)
{
	struct weights_ctx *c = ctx;
	const char *t = cdx_jsn(rec, "t");
	const char *pl, *status, *job;
	size_t idx;
	if (!t || strcmp(t, "attempt") != 0)
		return 0;
	pl = cdx_jsn(rec, "pipeline");
	status = cdx_jsn(rec, "status");
	job = cdx_jsn(rec, "job");
	if (!pl || !status || !job || strcmp(pl, c->p->name) != 0 || strcmp(status, "success") != 0)
		return 0;
	if (!cdx_map_get(&c->ids, job, &idx))
		return 0;
	c->samples[idx][c->count[idx]++ % CDX_HISTORY_SAMPLES] = cdx_jnd(rec, "wall_ms", NAN);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void cdx_history_weights(struct cdx_store *s, const struct cdx_pipeline *p, double *w)
{
	struct weights_ctx c;
	struct cdx_error err = {0};
	size_t i;
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.samples = cdx_xcalloc(p->n_jobs + 1, sizeof(*c.samples));
	c.count = cdx_xcalloc(p->n_jobs + 1, sizeof(unsigned));
	for (i = 0; i < p->n_jobs; i++)
		cdx_map_put(&c.ids, p->jobs[i].id, i, NULL);
	/* a store that answers for one pipeline (Redis) is asked for its
	 * recent runs only, not for all of history */
	if ((s->ops->scan_runs ? s->ops->scan_runs(s, p->name, CDX_HISTORY_RUNS, weights_one, &c, &err)
			       : s->ops->scan(s, weights_one, &c, &err)) == 0) {
		for (i = 0; i < p->n_jobs; i++) {
			unsigned n = c.count[i] < CDX_HISTORY_SAMPLES ? c.count[i] : CDX_HISTORY_SAMPLES;
			if (!n)
				continue;
			qsort(c.samples[i], n, sizeof(double), cmp_double);
			w[i] =
			    n % 2 ? c.samples[i][n / 2] : (c.samples[i][n / 2 - 1] + c.samples[i][n / 2]) / 2;
		}
	}
	cdx_map_free(&c.ids);
	free(c.samples);
	free(c.count);
}

void cdx_history_weights_at(const char *state, const struct cdx_pipeline *p, double *w)
{
	struct cdx_store *s;
	struct cdx_error err = {0};
	if (cdx_store_open_read(state, &s, &err) != CDX_OPEN_OK)
		return;
	cdx_history_weights(s, p, w);
	cdx_store_close(s);
}

int cdx_history_scan_at(const char *state, cdx_store_fn fn, void *ctx, struct cdx_error *err)
{
	struct cdx_store *s;
	enum cdx_open_result o = cdx_store_open_read(state, &s, err);
	int rc;
	if (o != CDX_OPEN_OK)
		return o == CDX_OPEN_ERROR ? -1 : 0;
	rc = s->ops->scan(s, fn, ctx, err);
	cdx_store_close(s);
	return rc < 0 ? -1 : 0;
}

cJSON *cdx_pipeline_plan_history(const struct cdx_pipeline *p, unsigned workers, const char *state)
{
	double *w = cdx_pipeline_weights(p);
	cdx_history_weights_at(state, p, w);
	return cdx_pipeline_plan_weighted(p, workers, w);
}
