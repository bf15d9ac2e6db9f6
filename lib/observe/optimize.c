/* optimize.c — the optimizer: analysis of a pipeline's schedule from
 * measured history, suggestions, and a rewritten pipeline file that
 * finishes closer to max(critical path, total work / workers).
 *
 * Everything here reasons on the one job graph (dag.h) and predicts with
 * the one list-scheduling simulation and ordering rule that `cdx run`
 * follows (cdx_dag_simulate); there is no second scheduler.  Weights are
 * those of `cdx run`: the median of recent successful attempts from the
 * store, else duration_hint, else 1 s.
 *
 * Rewriting keeps the meaning of every written `needs:` and only touches
 * implicit stage barriers (a job without needs in a stage without needs
 * waits for the whole previous stage).  For each job k it computes R(k),
 * the jobs k must still wait for:
 *   - every job named by a written need of k (or of its stage);
 *   - of the jobs k waited for before (its ancestors in the old graph),
 *     those it conflicts with by declared inputs and outputs (it reads
 *     what they write, writes what they read, or both write the same);
 *   - moderate only: every former ancestor where k or it declares no
 *     inputs or outputs (no evidence: it stays).
 * R(k) is a subset of k's old ancestors, so the new graph is acyclic and
 * the old topological order still holds.  Ancestor sets are bitsets
 * indexed by topological rank, so the direct needs of k (the minimal
 * elements of R(k)) fall out of one pass from the latest rank down.  A job
 * whose ancestors in the new graph equal what its written form already
 * gives is written as it was; any other is given job-level needs: its
 * written ones, plus the direct needs not already implied (a whole stage
 * named by its name).  Every added or removed edge is listed with its
 * reason; edges dropped without evidence are marked unsafe.  The result is
 * loaded back with the pipeline loader before it is returned, so a file
 * this module writes always validates and names the same jobs.
 *
 * The optimizer's files: this one has the public entry points, the levels,
 * the weights and resources read from history, and the suggestions;
 * optimize_analyze.c the analysis of a schedule, optimize_rewrite.c the
 * declared paths and the rewritten graph, optimize_yaml.c the optimized
 * file; optimize_int.h is what they share.
 */
#include "observe/optimize.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/json.h"
#include "base/map.h"
#include "observe/optimize_int.h"
#include "pipeline/dag.h"
#include "state/history.h"

const char *cdx_opt_level_name(enum cdx_opt_level level)
{
	switch (level) {
	case CDX_OPT_CONSERVATIVE: return "conservative";
	case CDX_OPT_MODERATE: return "moderate";
	case CDX_OPT_AGGRESSIVE: return "aggressive";
	}
	return "unknown";
}

int cdx_opt_level_parse(const char *s, enum cdx_opt_level *level)
{
	static const enum cdx_opt_level all[] = {CDX_OPT_CONSERVATIVE, CDX_OPT_MODERATE, CDX_OPT_AGGRESSIVE};
	size_t i;
	for (i = 0; s && i < CDX_ARRAY_LEN(all); i++) {
		if (strcmp(s, cdx_opt_level_name(all[i])) == 0) {
			*level = all[i];
			return 0;
		}
	}
	return -1;
}

/* ---- history: weights and resources -------------------------------------- */

enum weight_src { SRC_DEFAULT, SRC_HINT, SRC_HISTORY };
static const char *const src_names[] = {"default", "duration_hint", "history"};

struct res {
	double wall[CDX_HISTORY_SAMPLES], cpu[CDX_HISTORY_SAMPLES], rss[CDX_HISTORY_SAMPLES];
	unsigned ok;          /* successful attempts seen (ring position) */
	unsigned attempts;    /* attempts seen, any status */
	double rss_max;       /* KiB, over successful attempts */
};

struct res_ctx {
	const struct cdx_pipeline *p;
	struct cdx_map ids; /* job id -> index */
	struct res *r;
};

static int res_one(void *ctx, const cJSON *rec)
{
	struct res_ctx *c = ctx;
	const char *t = cdx_jsn(rec, "t");
	const char *pl, *job, *status;
	size_t i;
	struct res *r;
	unsigned slot;
	if (!t || strcmp(t, "attempt") != 0)
		return 0;
	pl = cdx_jsn(rec, "pipeline");
	job = cdx_jsn(rec, "job");
	status = cdx_jsn(rec, "status");
	if (!pl || !job || !status || strcmp(pl, c->p->name) != 0 || !cdx_map_get(&c->ids, job, &i))
		return 0;
	r = &c->r[i];
	r->attempts++;
	if (strcmp(status, "success") != 0)
		return 0;
	slot = r->ok++ % CDX_HISTORY_SAMPLES;
	r->wall[slot] = cdx_jn(rec, "wall_ms");
	r->cpu[slot] = cdx_jn(rec, "user_ms") + cdx_jn(rec, "sys_ms");
	r->rss[slot] = cdx_jn(rec, "maxrss_kb");
	if (r->rss[slot] > r->rss_max)
		r->rss_max = r->rss[slot];
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
	double s[CDX_HISTORY_SAMPLES];
	memcpy(s, v, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* read P's attempts from the store STATE into a new array of n_jobs
 * entries (free with free()); NULL with ERR set when it cannot be read */
static struct res *read_resources(const struct cdx_pipeline *p, const char *state, struct cdx_error *err)
{
	struct res_ctx c;
	size_t i;
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.r = cdx_xcalloc(p->n_jobs + 1, sizeof(*c.r));
	for (i = 0; i < p->n_jobs; i++)
		cdx_map_put(&c.ids, p->jobs[i].id, i, NULL);
	if (cdx_history_scan_at(state, res_one, &c, err) < 0) {
		cdx_map_free(&c.ids);
		free(c.r);
		return NULL;
	}
	cdx_map_free(&c.ids);
	return c.r;
}

/* the weights `cdx run` would use, and where each came from */
static void weights(const struct cdx_pipeline *p, const char *state, const struct res *r, double *w,
		    unsigned char *src)
{
	size_t i;
	for (i = 0; i < p->n_jobs; i++) {
		w[i] = cdx_pipeline_weight_ms(p, i);
		src[i] = p->jobs[i].hint_ms >= 0 ? SRC_HINT : SRC_DEFAULT;
	}
	cdx_history_weights_at(state, p, w);
	for (i = 0; i < p->n_jobs; i++)
		if (r[i].ok)
			src[i] = SRC_HISTORY;
}

/* per job id: attempts, samples, medians of wall, CPU and RSS; a new
 * object the caller frees with cJSON_Delete (jobs never attempted left out) */
static cJSON *resources_json(const struct cdx_pipeline *p, const struct res *r)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;
	for (i = 0; i < p->n_jobs; i++) {
		unsigned n = r[i].ok < CDX_HISTORY_SAMPLES ? r[i].ok : CDX_HISTORY_SAMPLES;
		cJSON *j;
		double wall, cpu;
		if (!r[i].attempts)
			continue;
		j = cJSON_AddObjectToObject(o, p->jobs[i].id);
		cJSON_AddNumberToObject(j, "attempts", r[i].attempts);
		cJSON_AddNumberToObject(j, "samples", n);
		if (!n)
			continue;
		wall = median(r[i].wall, n);
		cpu = median(r[i].cpu, n);
		cJSON_AddNumberToObject(j, "wall_s", wall / 1000);
		cJSON_AddNumberToObject(j, "cpu_s", cpu / 1000);
		cJSON_AddNumberToObject(j, "cpu_share", wall > 0 ? cpu / wall : 0);
		cJSON_AddNumberToObject(j, "maxrss_mib", median(r[i].rss, n) / 1024);
		cJSON_AddNumberToObject(j, "maxrss_mib_peak", r[i].rss_max / 1024);
	}
	return o;
}

/* ---- the public functions ------------------------------------------------ */

/* WORKERS, or 0: the processors online */
static unsigned default_workers(unsigned workers)
{
	long c;
	if (workers)
		return workers;
	c = sysconf(_SC_NPROCESSORS_ONLN);
	return c > 0 ? (unsigned)c : 1;
}

/* annotate the analysis A's jobs with where their weights came from */
static void add_sources(cJSON *a, const struct cdx_pipeline *p, const unsigned char *src)
{
	cJSON *x, *counts = cJSON_CreateObject();
	struct cdx_map ids = {0};
	size_t i, k, c[3] = {0, 0, 0};
	for (i = 0; i < p->n_jobs; i++) {
		cdx_map_put(&ids, p->jobs[i].id, i, NULL);
		c[src[i]]++;
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(a, "order"))
	{
		if (cdx_map_get(&ids, cdx_jsn(x, "job"), &k))
			cJSON_AddStringToObject(x, "weight_from", src_names[src[k]]);
	}
	for (i = 0; i < 3; i++)
		cJSON_AddNumberToObject(counts, src_names[i], (double)c[i]);
	cJSON_AddItemToObject(a, "weights_from", counts);
	cdx_map_free(&ids);
}

cJSON *cdx_optimize_analyze(const struct cdx_pipeline *p, unsigned workers, const char *state,
			    struct cdx_error *err)
{
	struct res *r = read_resources(p, state, err);
	double *w;
	unsigned char *src;
	cJSON *a;
	if (!r)
		return NULL;
	w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	src = cdx_xcalloc(p->n_jobs + 1, 1);
	weights(p, state, r, w, src);
	a = cdx_opt_analyze_weights(p, w, default_workers(workers));
	add_sources(a, p, src);
	cJSON_AddItemToObject(a, "resources", resources_json(p, r));
	free(w);
	free(src);
	free(r);
	return a;
}

cJSON *cdx_optimize_suggest(const cJSON *a)
{
	cJSON *out = cJSON_CreateArray(), *x;
	struct cdx_buf b = {0};
	double span = cdx_jn(a, "predicted_makespan_s"), bound = cdx_jn(a, "lower_bound_s");
	double knee = cdx_jn(a, "workers_knee"), workers = cdx_jn(a, "workers");
	double idle_b = cdx_jn(a, "barrier_idle_s");
	const cJSON *noev = cJSON_GetObjectItem(a, "jobs_without_evidence");

#define SAY(...)                                                                   \
	do {                                                                       \
		cdx_buf_reset(&b);                                                 \
		cdx_buf_printf(&b, __VA_ARGS__);                                   \
		cJSON_AddItemToArray(out, cJSON_CreateString(b.data));             \
	} while (0)

	cJSON_ArrayForEach(x, cJSON_GetObjectItem(a, "split_candidates"))
	{
		SAY("split %s: it takes %.2fs, %.0f%% of the critical path, and the makespan cannot drop below the "
		    "critical path; two halves that run side by side would bring the lower bound to %.2fs",
		    cdx_jsn(x, "job"), cdx_jn(x, "weight_s"),
		    100 * cdx_jn(x, "share_of_critical_path"), cdx_jn(x, "lower_bound_if_halved_s"));
	}
	if (knee >= 1) {
		if (workers > knee)
			SAY("%.0f workers suffice: past %.0f, more workers gain under 5%% (%.2fs on %.0f, %.2fs with "
			    "unlimited workers); you plan for %.0f",
			    knee, knee, cdx_jn(a, "workers_knee_makespan_s"), knee, cdx_jn(a, "unlimited_workers_makespan_s"),
			    workers);
		else if (workers < knee)
			SAY("more workers help up to %.0f: %.2fs on %.0f against %.2fs on %.0f; past %.0f they gain "
			    "under 5%%",
			    knee, cdx_jn(a, "workers_knee_makespan_s"), knee, span, workers, knee);
		else
			SAY("%.0f workers is the knee: more workers gain under 5%%", knee);
	}
	if (span > 0 && idle_b > 0.05 * span) {
		struct cdx_buf names = {0};
		int i, n = cJSON_GetArraySize(noev);
		for (i = 0; i < n && i < 5; i++)
			cdx_buf_printf(&names, "%s%s", i ? ", " : "", cJSON_GetStringValue(cJSON_GetArrayItem(noev, i)));
		if (n)
			SAY("stage barriers keep workers idle for %.2f worker-seconds while jobs wait for nothing else; declare "
			    "inputs: and outputs: on %s%s (%d job%s without them) so that --level moderate can replace "
			    "the barriers by job-level needs",
			    idle_b, names.data, n > 5 ? ", ..." : "", n, n == 1 ? "" : "s");
		else
			SAY("stage barriers keep workers idle for %.2f worker-seconds while jobs wait for nothing else; "
			    "--level moderate replaces them by job-level needs from the declared inputs and outputs",
			    idle_b);
		cdx_buf_free(&names);
	}
	if (span > 0 && bound > 0 && span > 1.2 * bound)
		SAY("the predicted makespan %.2fs is %.0f%% above the lower bound %.2fs: the graph, not the order, "
		    "holds it back (see bounding_jobs)",
		    span, 100 * (span / bound - 1), bound);
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(a, "resources"))
	{
		double share = cdx_jn(x, "cpu_share"), wall = cdx_jn(x, "wall_s"), rss = cdx_jn(x, "maxrss_mib_peak");
		if (cdx_jn(x, "samples") > 0 && wall >= 1 && share < 0.1)
			SAY("%s mostly waits (CPU %.0f%% of its %.2fs): it could share a worker with CPU-bound jobs",
			    x->string, 100 * share, wall);
		if (rss >= 1024)
			SAY("%s peaks at %.0f MiB of memory: many of it at once may exhaust memory", x->string, rss);
		if (cdx_jn(x, "attempts") > 2 * cdx_jn(x, "samples") && cdx_jn(x, "attempts") >= 4)
			SAY("%s needed %.0f attempts for %.0f successes: a flaky job stretches the makespan", x->string,
			    cdx_jn(x, "attempts"), cdx_jn(x, "samples"));
	}
#undef SAY
	cdx_buf_free(&b);
	return out;
}

/* the comment that heads the optimized file: how many edges changed, and
 * how many of them unsafely (*N_UNSAFE).  Caller frees. */
static char *file_head(const struct cdx_pipeline *p, const struct cdx_opt_rewrite *rw, size_t *n_unsafe)
{
	cJSON *e;
	*n_unsafe = 0;
	cJSON_ArrayForEach(e, rw->edges) *n_unsafe += cdx_jb(e, "unsafe", false);
	return cdx_xasprintf("optimized by cdx optimize --level %s from %s (pipeline %s): %d edge%s rewritten, %zu "
			     "of them unsafe\njobs are listed in each stage in the order cdx starts them "
			     "(longest remaining path first)",
			     cdx_opt_level_name(rw->level), p->path, p->name, cJSON_GetArraySize(rw->edges),
			     cJSON_GetArraySize(rw->edges) == 1 ? "" : "s", *n_unsafe);
}

/* TEXT loaded back as file NAME: it must load and name the same jobs as
 * P.  The pipeline (cdx_pipeline_free) and *W2, the weights W of P by the
 * loaded pipeline's jobs (free); NULL with ERR set when it does not load
 * or its jobs differ. */
static struct cdx_pipeline *load_back(const struct cdx_pipeline *p, const char *name, const char *text,
				      const double *w, double **w2, struct cdx_error *err)
{
	struct cdx_diags *diags = cdx_diags_new();
	struct cdx_pipeline *q = cdx_pipeline_load_mem(name, text, strlen(text), diags);
	struct cdx_map ids = {0};
	size_t i, k;
	*w2 = NULL;
	if (!q || q->n_jobs != p->n_jobs) {
		struct cdx_buf m = {0};
		if (cdx_diags_count(diags))
			cdx_diag_format(cdx_diags_get(diags, 0), &m);
		cdx_error_set(err, CDX_EFAILED, "internal error: the optimized pipeline does not load: %s",
			      m.data ? m.data : "jobs differ");
		cdx_buf_free(&m);
		goto fail;
	}
	*w2 = cdx_xcalloc(q->n_jobs + 1, sizeof(double));
	for (i = 0; i < p->n_jobs; i++)
		cdx_map_put(&ids, p->jobs[i].id, i, NULL);
	for (i = 0; i < q->n_jobs; i++) {
		if (!cdx_map_get(&ids, q->jobs[i].id, &k)) {
			cdx_error_set(err, CDX_EFAILED, "internal error: the optimized pipeline has a job %s "
							"that the original has not",
				      q->jobs[i].id);
			goto fail;
		}
		(*w2)[i] = w[k];
	}
	cdx_map_free(&ids);
	cdx_diags_free(diags);
	return q;
fail:
	cdx_map_free(&ids);
	cdx_diags_free(diags);
	cdx_pipeline_free(q);
	free(*w2);
	*w2 = NULL;
	return NULL;
}

/* the result of cdx_optimize: the figures BEFORE and AFTER (taken), RW's
 * edges (taken), the suggestions, the resources R and the file TEXT */
static cJSON *result(const struct cdx_pipeline *p, enum cdx_opt_level level, unsigned workers, cJSON *before,
		     cJSON *after, struct cdx_opt_rewrite *rw, size_t n_unsafe, const struct res *r,
		     const char *text)
{
	cJSON *out = cJSON_CreateObject();
	double span_before = cdx_jn(before, "predicted_makespan_s"), span_after = cdx_jn(after, "predicted_makespan_s");
	cJSON_AddStringToObject(out, "pipeline", p->name);
	cJSON_AddStringToObject(out, "file", p->path);
	cJSON_AddStringToObject(out, "level", cdx_opt_level_name(level));
	cJSON_AddNumberToObject(out, "workers", workers);
	cJSON_AddNumberToObject(out, "lower_bound_s", cdx_jn(before, "lower_bound_s"));
	cJSON_AddNumberToObject(out, "declared_order_makespan_s", cdx_jn(before, "declared_order_makespan_s"));
	cJSON_AddNumberToObject(out, "predicted_makespan_before_s", span_before);
	cJSON_AddNumberToObject(out, "predicted_makespan_after_s", span_after);
	cJSON_AddNumberToObject(out, "lower_bound_after_s", cdx_jn(after, "lower_bound_s"));
	cJSON_AddNumberToObject(out, "speedup", span_after > 0 ? span_before / span_after : 1);
	cJSON_AddNumberToObject(out, "edges_rewritten", cJSON_GetArraySize(rw->edges));
	cJSON_AddNumberToObject(out, "edges_unsafe", (double)n_unsafe);
	cJSON_AddItemToObject(out, "critical_path",
			      cJSON_Duplicate(cJSON_GetObjectItem(after, "critical_path"), 1));
	cJSON_AddItemToObject(out, "edges", rw->edges);
	rw->edges = NULL;
	cJSON_AddItemToObject(out, "suggestions", cdx_optimize_suggest(before));
	cJSON_AddItemToObject(out, "resources", resources_json(p, r));
	cJSON_AddItemToObject(out, "before", before);
	cJSON_AddItemToObject(out, "after", after);
	cJSON_AddStringToObject(out, "yaml", text);
	return out;
}

cJSON *cdx_optimize(const struct cdx_pipeline *p, const struct cdx_optimize_options *o, struct cdx_error *err)
{
	struct cdx_opt_rewrite rw;
	struct res *r;
	struct cdx_pipeline *q;
	double *w, *w2 = NULL, *prio;
	unsigned char *src;
	unsigned workers = default_workers(o->workers);
	cJSON *out = NULL, *before;
	char *text, *head;
	size_t n_unsafe;

	if (o->level != CDX_OPT_CONSERVATIVE && p->n_jobs > CDX_OPT_MAX_REWRITE_JOBS) {
		cdx_error_set(err, CDX_EUSAGE, "pipeline %s has %zu jobs: at most %d can be rewritten at level %s",
			      p->name, p->n_jobs, CDX_OPT_MAX_REWRITE_JOBS, cdx_opt_level_name(o->level));
		return NULL;
	}
	r = read_resources(p, o->state, err);
	if (!r)
		return NULL;
	w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	src = cdx_xcalloc(p->n_jobs + 1, 1);
	prio = cdx_xcalloc(p->dag->n_nodes + 1, sizeof(double));
	weights(p, o->state, r, w, src);
	cdx_dag_priority(p->dag, w, prio);

	cdx_opt_rewrite(&rw, p, o->level);
	head = file_head(p, &rw, &n_unsafe);
	text = cdx_opt_yaml(&rw, prio, head);
	free(head);
	q = load_back(p, o->out_name ? o->out_name : p->path, text, w, &w2, err);
	if (q) {
		before = cdx_opt_analyze_weights(p, w, workers);
		add_sources(before, p, src);
		out = result(p, o->level, workers, before, cdx_opt_analyze_weights(q, w2, workers), &rw, n_unsafe, r,
			     text);
	}
	cdx_pipeline_free(q);
	cdx_opt_rewrite_free(&rw);
	free(text);
	free(w);
	free(w2);
	free(prio);
	free(src);
	free(r);
	return out;
}
