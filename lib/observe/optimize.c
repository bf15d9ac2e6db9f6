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
 */
#include "observe/optimize.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/dag.h"
#include "base/diag.h"
#include "state/history.h"
#include "base/map.h"

/* a job on the critical path worth splitting takes at least this share of it */
#define SPLIT_SHARE 0.25
/* the knee: the fewest workers within this factor of unlimited workers */
#define KNEE_FACTOR 1.05
/* worker counts scanned one by one for the knee; above, powers of two */
#define KNEE_LINEAR 256

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

/* ---- declared paths ------------------------------------------------------ */

/* the part of path S that names a file or directory: "./" prefixes and
 * trailing slashes dropped, a glob cut to the directory before its first
 * wildcard; into B */
static void path_key(const char *s, struct cdx_buf *b)
{
	size_t n, glob;
	cdx_buf_reset(b);
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	while (s[0] == '/' && s[1] == '/')
		s++;
	n = strlen(s);
	glob = strcspn(s, "*?[");
	if (glob < n) {
		n = glob;
		while (n > 0 && s[n - 1] != '/')
			n--;
	}
	while (n > 1 && s[n - 1] == '/')
		n--;
	if (n == 1 && s[0] == '.')
		n = 0;
	cdx_buf_add(b, s, n);
}

/* A is B, or a directory above it */
static bool path_under(const char *a, size_t na, const char *b, size_t nb)
{
	if (na == 0)
		return true;
	if (na > nb || memcmp(a, b, na) != 0)
		return false;
	return na == nb || b[na] == '/' || a[na - 1] == '/';
}

bool cdx_opt_paths_overlap(const char *a, const char *b)
{
	struct cdx_buf x = {0}, y = {0};
	bool r;
	path_key(a, &x);
	path_key(b, &y);
	r = path_under(x.data ? x.data : "", x.len, y.data ? y.data : "", y.len) ||
	    path_under(y.data ? y.data : "", y.len, x.data ? x.data : "", x.len);
	cdx_buf_free(&x);
	cdx_buf_free(&y);
	return r;
}

/* the first path of A that overlaps one of B; its partner in *WITH */
static const char *first_overlap(char **a, size_t na, char **b, size_t nb, const char **with)
{
	size_t i, k;
	for (i = 0; i < na; i++)
		for (k = 0; k < nb; k++)
			if (cdx_opt_paths_overlap(a[i], b[k])) {
				*with = b[k];
				return a[i];
			}
	return NULL;
}

/* whether job K (later) conflicts with job Y (earlier) by their declared
 * paths; the reason into WHY when it does (WHY may be NULL) */
static bool conflict(const struct cdx_job *k, const struct cdx_job *y, struct cdx_buf *why)
{
	const char *p, *q;
	p = first_overlap(k->inputs, k->n_inputs, y->outputs, y->n_outputs, &q);
	if (p) {
		if (why)
			cdx_buf_printf(why, "%s reads %s, which %s writes (%s)", k->id, p, y->id, q);
		return true;
	}
	p = first_overlap(k->outputs, k->n_outputs, y->inputs, y->n_inputs, &q);
	if (p) {
		if (why)
			cdx_buf_printf(why, "%s writes %s, which %s reads (%s)", k->id, p, y->id, q);
		return true;
	}
	p = first_overlap(k->outputs, k->n_outputs, y->outputs, y->n_outputs, &q);
	if (p) {
		if (why)
			cdx_buf_printf(why, "%s and %s both write %s", k->id, y->id, p);
		return true;
	}
	return false;
}

static bool evidence(const struct cdx_job *j)
{
	return j->has_inputs && j->has_outputs;
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

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int res_one(void *ctx, const cJSON *rec)
{
	struct res_ctx *c = ctx;
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "t"));
	const char *pl, *job, *status;
	size_t i;
	struct res *r;
	unsigned slot;
	if (!t || strcmp(t, "attempt") != 0)
		return 0;
	pl = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "pipeline"));
	job = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "job"));
	status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
	if (!pl || !job || !status || strcmp(pl, c->p->name) != 0 || !cdx_map_get(&c->ids, job, &i))
		return 0;
	r = &c->r[i];
	r->attempts++;
	if (strcmp(status, "success") != 0)
		return 0;
	slot = r->ok++ % CDX_HISTORY_SAMPLES;
	r->wall[slot] = num(rec, "wall_ms");
	r->cpu[slot] = num(rec, "user_ms") + num(rec, "sys_ms");
	r->rss[slot] = num(rec, "maxrss_kb");
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
		if (!err->code)
			err->code = CDX_ESTATE;
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

/* ---- analysis ------------------------------------------------------------ */

static unsigned default_workers(unsigned workers)
{
	long c;
	if (workers)
		return workers;
	c = sysconf(_SC_NPROCESSORS_ONLN);
	return c > 0 ? (unsigned)c : 1;
}

/* the makespan on WORKERS with the ordering rule (PRIO); scratch START */
static double makespan(const struct cdx_dag *d, const double *w, const double *prio, unsigned workers,
		       double *start)
{
	return cdx_dag_simulate(d, w, prio, workers, start, NULL);
}

/* the jobs a job waits for directly, through stage nodes: calls FN */
static void job_preds(const struct cdx_dag *d, uint32_t j, void (*fn)(void *, uint32_t), void *ctx)
{
	uint32_t e, f;
	for (e = d->pred_off[j]; e < d->pred_off[j + 1]; e++) {
		uint32_t u = d->pred[e];
		if (u < d->n_jobs)
			fn(ctx, u);
		else
			for (f = d->pred_off[u]; f < d->pred_off[u + 1]; f++)
				fn(ctx, d->pred[f]);
	}
}

struct latest {
	const double *start, *w;
	double at;        /* the time to explain */
	size_t best;      /* the pred ending latest at or before `at` */
	double best_end;
};

static void latest_pred(void *ctx, uint32_t u)
{
	struct latest *l = ctx;
	double end = l->start[u] + l->w[u];
	if (end <= l->at + 1e-6 && (l->best == CDX_NONE || end > l->best_end)) {
		l->best = u;
		l->best_end = end;
	}
}

/* the chain of jobs that bounds the simulated makespan (a new array, first
 * job first; the caller frees it with cJSON_Delete): from
 * the job that ends last, back through whatever made each start when it
 * did (a need that ended then, else the job whose end freed the worker) */
static cJSON *bounding_jobs(const struct cdx_pipeline *p, const double *w, const double *start)
{
	const struct cdx_dag *d = p->dag;
	size_t n = p->n_jobs, i, j = CDX_NONE, len = 0;
	size_t *chain = cdx_xcalloc(n + 1, sizeof(size_t));
	cJSON *a = cJSON_CreateArray();
	for (i = 0; i < n; i++)
		if (j == CDX_NONE || start[i] + w[i] > start[j] + w[j])
			j = i;
	while (j != CDX_NONE && len < n) {
		struct latest l = {start, w, start[j], CDX_NONE, 0};
		chain[len++] = j;
		if (start[j] <= 1e-6)
			break;
		job_preds(d, (uint32_t)j, latest_pred, &l);
		if (l.best == CDX_NONE || l.best_end < start[j] - 1e-6) {
			/* no need held it that long: it waited for a worker */
			size_t k, free_by = CDX_NONE;
			for (k = 0; k < n; k++)
				if (k != j && fabs(start[k] + w[k] - start[j]) <= 1e-6 &&
				    (free_by == CDX_NONE || start[k] < start[free_by]))
					free_by = k;
			l.best = free_by;
		}
		j = l.best;
	}
	while (len-- > 0)
		cJSON_AddItemToArray(a, cJSON_CreateString(p->jobs[chain[len]].id));
	free(chain);
	return a;
}

/* whether job J waits only by an implicit stage barrier */
static bool implicit_barrier(const struct cdx_pipeline *p, size_t j)
{
	const struct cdx_job *jb = &p->jobs[j];
	return !jb->has_needs && !p->stages[jb->stage].has_needs && jb->stage > 0;
}

struct ev {
	double t;
	int run, held; /* change of running jobs, of jobs held by a barrier */
};

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* worker time idle while some job waited for nothing but an implicit
 * stage barrier (ms), in the schedule START; per barrier into PER (by the
 * stage waited for), when given */
static double barrier_idle(const struct cdx_pipeline *p, const double *w, const double *start, unsigned workers,
			   size_t only_stage, double *released)
{
	size_t n = p->n_jobs, i, ne = 0;
	struct ev *e = cdx_xcalloc(4 * n + 1, sizeof(*e));
	double idle = 0, prev = 0;
	int run = 0, held = 0;
	for (i = 0; i < n; i++) {
		e[ne++] = (struct ev){start[i], 1, 0};
		e[ne++] = (struct ev){start[i] + w[i], -1, 0};
		if (implicit_barrier(p, i) && (only_stage == CDX_NONE || p->jobs[i].stage - 1 == only_stage)) {
			double rel = released[p->jobs[i].stage - 1];
			if (rel > 0) {
				e[ne++] = (struct ev){0, 0, 1};
				e[ne++] = (struct ev){rel, 0, -1};
			}
		}
	}
	qsort(e, ne, sizeof(*e), cmp_ev);
	for (i = 0; i < ne; i++) {
		double dt = e[i].t - prev;
		if (dt > 0 && held > 0) {
			double free_w = (double)workers - run;
			if (free_w > 0)
				idle += dt * (free_w < held ? free_w : held);
		}
		prev = e[i].t;
		run += e[i].run;
		held += e[i].held;
	}
	free(e);
	return idle;
}

cJSON *cdx_opt_analyze_weights(const struct cdx_pipeline *p, const double *w, unsigned workers)
{
	const struct cdx_dag *d = p->dag;
	size_t n = p->n_jobs, i, cp_n, nlevels, width = 0, s, knee = 0;
	double *prio = cdx_xcalloc(d->n_nodes + 1, sizeof(double));
	double *fifo = cdx_xcalloc(d->n_nodes + 1, sizeof(double));
	double *start = cdx_xcalloc(n + 1, sizeof(double));
	double *scratch = cdx_xcalloc(n + 1, sizeof(double));
	double *w2 = cdx_xcalloc(n + 1, sizeof(double));
	double *released = cdx_xcalloc(p->n_stages + 1, sizeof(double));
	size_t *path = cdx_xcalloc(n + 1, sizeof(size_t)), *path2 = cdx_xcalloc(n + 1, sizeof(size_t));
	size_t *level = cdx_xcalloc(n + 1, sizeof(size_t)), *per_level;
	bool *on_cp = cdx_xcalloc(n + 1, sizeof(bool));
	size_t *ord = cdx_xcalloc(n + 1, sizeof(size_t));
	double total = 0, cp_len, span, declared, bound, m_inf, idle_b;
	cJSON *o = cJSON_CreateObject(), *a;

	workers = workers ? workers : 1;
	for (i = 0; i < n; i++)
		total += w[i];
	cdx_dag_priority(d, w, prio);
	/* file order: what a scheduler that follows the declared order does */
	for (i = 0; i < d->n_nodes; i++)
		fifo[i] = (double)(d->n_nodes - i);
	declared = makespan(d, w, fifo, workers, scratch);
	span = cdx_dag_simulate(d, w, prio, workers, start, ord);
	cp_n = cdx_dag_critical_path(d, w, path, &cp_len);
	for (i = 0; i < cp_n; i++)
		on_cp[path[i]] = true;
	bound = cp_len > total / workers ? cp_len : total / workers;
	nlevels = cdx_dag_levels(d, level);
	per_level = cdx_xcalloc(nlevels + 1, sizeof(size_t));
	for (i = 0; i < n; i++)
		if (++per_level[level[i]] > width)
			width = per_level[level[i]];
	for (i = 0; i < n; i++)
		if (start[i] + w[i] > released[p->jobs[i].stage])
			released[p->jobs[i].stage] = start[i] + w[i];

	cJSON_AddStringToObject(o, "pipeline", p->name);
	cJSON_AddNumberToObject(o, "jobs", (double)n);
	cJSON_AddNumberToObject(o, "stages", (double)p->n_stages);
	cJSON_AddNumberToObject(o, "workers", workers);
	cJSON_AddNumberToObject(o, "total_work_s", total / 1000);
	cJSON_AddNumberToObject(o, "critical_path_s", cp_len / 1000);
	cJSON_AddNumberToObject(o, "useful_parallelism", cp_len > 0 ? total / cp_len : 0);
	cJSON_AddNumberToObject(o, "levels", (double)nlevels);
	cJSON_AddNumberToObject(o, "max_parallelism", (double)width);
	cJSON_AddNumberToObject(o, "lower_bound_s", bound / 1000);
	cJSON_AddNumberToObject(o, "predicted_makespan_s", span / 1000);
	cJSON_AddNumberToObject(o, "declared_order_makespan_s", declared / 1000);
	cJSON_AddNumberToObject(o, "efficiency", span > 0 ? bound / span : 1);
	cJSON_AddNumberToObject(o, "idle_worker_s", (workers * span - total) / 1000);
	idle_b = barrier_idle(p, w, start, workers, CDX_NONE, released);
	cJSON_AddNumberToObject(o, "barrier_idle_s", idle_b / 1000);
	a = cJSON_AddArrayToObject(o, "critical_path");
	for (i = 0; i < cp_n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(p->jobs[path[i]].id));
	cJSON_AddItemToObject(o, "bounding_jobs", bounding_jobs(p, w, start));

	/* per implicit barrier: the stage waited for, who waits, what it costs */
	a = cJSON_AddArrayToObject(o, "barriers");
	for (s = 0; s + 1 < p->n_stages; s++) {
		size_t held = 0, held_noev = 0;
		cJSON *b;
		for (i = 0; i < n; i++)
			if (implicit_barrier(p, i) && p->jobs[i].stage == s + 1) {
				held++;
				held_noev += !evidence(&p->jobs[i]);
			}
		if (!held)
			continue;
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "after", p->stages[s].name);
		cJSON_AddStringToObject(b, "before", p->stages[s + 1].name);
		cJSON_AddNumberToObject(b, "jobs_held", (double)held);
		cJSON_AddNumberToObject(b, "jobs_without_evidence", (double)held_noev);
		cJSON_AddNumberToObject(b, "released_at_s", released[s] / 1000);
		cJSON_AddNumberToObject(b, "idle_s", barrier_idle(p, w, start, workers, s, released) / 1000);
		cJSON_AddItemToArray(a, b);
	}
	a = cJSON_AddArrayToObject(o, "jobs_without_evidence");
	for (i = 0; i < n; i++)
		if (!evidence(&p->jobs[i]))
			cJSON_AddItemToArray(a, cJSON_CreateString(p->jobs[i].id));

	/* more workers: the curve, and the knee */
	m_inf = cp_len;
	a = cJSON_AddArrayToObject(o, "makespan_by_workers");
	{
		size_t P;
		for (P = 1; P <= n && !knee; P = P < KNEE_LINEAR ? P + 1 : P * 2) {
			double m = makespan(d, w, prio, (unsigned)P, scratch);
			if (m <= KNEE_FACTOR * m_inf + 1e-6)
				knee = P;
		}
		if (!knee)
			knee = n ? n : 1;
		for (P = 1; P < 2 * knee || P <= workers; P *= 2) {
			cJSON *x = cJSON_CreateObject();
			cJSON_AddNumberToObject(x, "workers", (double)P);
			cJSON_AddNumberToObject(x, "makespan_s", makespan(d, w, prio, (unsigned)P, scratch) / 1000);
			cJSON_AddItemToArray(a, x);
			if (P >= n)
				break;
		}
	}
	cJSON_AddNumberToObject(o, "unlimited_workers_makespan_s", m_inf / 1000);
	cJSON_AddNumberToObject(o, "workers_knee", (double)knee);
	cJSON_AddNumberToObject(o, "workers_knee_makespan_s", makespan(d, w, prio, (unsigned)knee, scratch) / 1000);

	/* jobs that dominate the critical path, the largest share first */
	a = cJSON_AddArrayToObject(o, "split_candidates");
	{
		struct split {
			size_t job;
			double bound;
		} *sp = cdx_xcalloc(cp_n + 1, sizeof(*sp));
		size_t ns = 0, q;
		for (i = 0; i < cp_n; i++) {
			size_t j = path[i];
			double cp2, work2 = total - w[j] / 2;
			if (cp_len <= 0 || w[j] < SPLIT_SHARE * cp_len || cp_len < total / workers)
				continue;
			memcpy(w2, w, n * sizeof(double));
			w2[j] /= 2;
			cdx_dag_critical_path(d, w2, path2, &cp2);
			for (q = ns++; q > 0 && w[sp[q - 1].job] < w[j]; q--)
				sp[q] = sp[q - 1];
			sp[q].job = j;
			sp[q].bound = cp2 > work2 / workers ? cp2 : work2 / workers;
		}
		for (q = 0; q < ns; q++) {
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "job", p->jobs[sp[q].job].id);
			cJSON_AddNumberToObject(x, "weight_s", w[sp[q].job] / 1000);
			cJSON_AddNumberToObject(x, "share_of_critical_path", w[sp[q].job] / cp_len);
			cJSON_AddNumberToObject(x, "lower_bound_if_halved_s", sp[q].bound / 1000);
			cJSON_AddItemToArray(a, x);
		}
		free(sp);
	}

	a = cJSON_AddArrayToObject(o, "order");
	{
		for (i = 0; i < n; i++) {
			size_t j = ord[i];
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "job", p->jobs[j].id);
			cJSON_AddNumberToObject(x, "weight_s", w[j] / 1000);
			cJSON_AddNumberToObject(x, "priority_s", prio[j] / 1000);
			cJSON_AddNumberToObject(x, "start_s", start[j] / 1000);
			cJSON_AddBoolToObject(x, "critical", on_cp[j]);
			cJSON_AddBoolToObject(x, "evidence", evidence(&p->jobs[j]));
			cJSON_AddItemToArray(a, x);
		}
	}
	free(ord);
	free(prio);
	free(fifo);
	free(start);
	free(scratch);
	free(w2);
	free(released);
	free(path);
	free(path2);
	free(level);
	free(per_level);
	free(on_cp);
	return o;
}

/* ---- rewriting ------------------------------------------------------------ */

struct rewrite {
	const struct cdx_pipeline *p;
	const struct cdx_dag *d;
	enum cdx_opt_level level;
	size_t n, nw;        /* jobs; 64-bit words per set */
	uint32_t *rank;      /* per job: its rank among jobs in topological order */
	uint32_t *at;        /* per rank: the job */
	uint64_t *anc;       /* per node: ancestor jobs in the old graph (by rank) */
	uint64_t *nanc;      /* per node: ancestor jobs in the new graph */
	uint64_t *tmp;       /* one set of scratch */
	bool *changed;       /* per job: written with new needs */
	struct cdx_buf *needs; /* per changed job: its new needs, one ref a line */
	struct cdx_buf *notes; /* per job: its rewritten edges, one a line */
	cJSON *edges;
};

#define ROW(set, v) ((set) + (size_t)(v) * rw->nw)

static bool bs_has(const uint64_t *b, size_t i)
{
	return (b[i / 64] >> (i % 64)) & 1;
}

static void bs_set(uint64_t *b, size_t i)
{
	b[i / 64] |= (uint64_t)1 << (i % 64);
}

static void bs_or(uint64_t *a, const uint64_t *b, size_t nw)
{
	size_t i;
	for (i = 0; i < nw; i++)
		a[i] |= b[i];
}

/* SET |= what waiting for node U means in the graph ANC: U itself when it
 * is a job, and everything before it */
static void add_node(const struct rewrite *rw, uint64_t *set, const uint64_t *anc, uint32_t u)
{
	if (u < rw->n)
		bs_set(set, rw->rank[u]);
	bs_or(set, ROW(anc, u), rw->nw);
}

/* the old ancestors of every node, in topological order */
static void old_ancestors(struct rewrite *rw)
{
	const struct cdx_dag *d = rw->d;
	size_t i;
	for (i = 0; i < d->n_nodes; i++) {
		uint32_t v = d->topo[i], e;
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
			add_node(rw, ROW(rw->anc, v), rw->anc, d->pred[e]);
	}
}

/* whether job K must still wait for its old ancestor Y (see the header) */
static bool required(const struct rewrite *rw, size_t k, size_t y, const uint64_t *written)
{
	const struct cdx_job *jk = &rw->p->jobs[k], *jy = &rw->p->jobs[y];
	if (bs_has(written, rw->rank[y]))
		return true;
	if (evidence(jk) && evidence(jy))
		return conflict(jk, jy, NULL);
	return rw->level == CDX_OPT_MODERATE;
}

/* the jobs named by K's written needs (its own, or its stage's), by rank */
static void written_needs(const struct rewrite *rw, size_t k, uint64_t *set)
{
	const struct cdx_dag *d = rw->d;
	uint32_t e, f;
	memset(set, 0, rw->nw * sizeof(uint64_t));
	if (implicit_barrier(rw->p, k))
		return;
	for (e = d->pred_off[k]; e < d->pred_off[k + 1]; e++) {
		uint32_t u = d->pred[e];
		if (u < rw->n)
			bs_set(set, rw->rank[u]);
		else
			for (f = d->pred_off[u]; f < d->pred_off[u + 1]; f++)
				bs_set(set, rw->rank[d->pred[f]]);
	}
}

static void add_edge(struct rewrite *rw, size_t k, const char *need, const char *change, const char *reason,
		     bool unsafe)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "job", rw->p->jobs[k].id);
	cJSON_AddStringToObject(e, "need", need);
	cJSON_AddStringToObject(e, "change", change);
	cJSON_AddStringToObject(e, "reason", reason);
	cJSON_AddBoolToObject(e, "unsafe", unsafe);
	cJSON_AddItemToArray(rw->edges, e);
	cdx_buf_printf(&rw->notes[k], "%s %s: %s\n", change, need, reason);
}

/* why job K now waits for job Y (an added need) */
static void why_added(const struct rewrite *rw, size_t k, size_t y, struct cdx_buf *why)
{
	const struct cdx_job *jk = &rw->p->jobs[k], *jy = &rw->p->jobs[y];
	cdx_buf_reset(why);
	if (evidence(jk) && evidence(jy) && conflict(jk, jy, why))
		return;
	cdx_buf_printf(why, "%s declares no %s: %s keeps waiting for %s, as it did before",
		       !evidence(jk) ? jk->id : jy->id,
		       !(evidence(jk) ? jy : jk)->has_inputs ? "inputs" : "outputs", jk->id, jy->id);
}

/* the implicit barrier of job K was replaced: say why, and whether that was
 * without evidence.  DROPPED: the old ancestors it no longer waits for. */
static void removed_barrier(struct rewrite *rw, size_t k, const uint64_t *dropped)
{
	const struct cdx_pipeline *p = rw->p;
	const struct cdx_job *jk = &p->jobs[k];
	struct cdx_buf why = {0}, safe = {0}, unsafe = {0};
	size_t r, n_safe = 0, n_unsafe = 0;
	const char *culprit = evidence(jk) ? NULL : jk->id; /* who declares nothing */
	for (r = 0; r < rw->n; r++) {
		const struct cdx_job *jy;
		if (!bs_has(dropped, r))
			continue;
		jy = &p->jobs[rw->at[r]];
		if (evidence(jk) && evidence(jy)) {
			if (n_safe++ < 3)
				cdx_buf_printf(&safe, "%s%s", n_safe > 1 ? ", " : "", jy->id);
		} else {
			if (!culprit)
				culprit = jy->id;
			if (n_unsafe++ < 3)
				cdx_buf_printf(&unsafe, "%s%s", n_unsafe > 1 ? ", " : "", jy->id);
		}
	}
	if (n_unsafe)
		cdx_buf_printf(&why, "unsafe: implicit stage barrier dropped without evidence: %s no longer waits for %s%s "
				     "(%s declares no inputs or outputs)",
			       jk->id, unsafe.data, n_unsafe > 3 ? ", ..." : "", culprit);
	else if (n_safe)
		cdx_buf_printf(&why, "declared inputs and outputs: %s reads nothing that %s%s write%s, and writes "
				     "nothing they read or write",
			       jk->id, safe.data, n_safe > 3 ? ", ..." : "", n_safe == 1 ? "s" : "");
	else
		cdx_buf_printf(&why, "replaced by the job-level needs it implies");
	add_edge(rw, k, p->stages[jk->stage - 1].name, "removed", why.data, n_unsafe > 0);
	cdx_buf_free(&why);
	cdx_buf_free(&safe);
	cdx_buf_free(&unsafe);
}

/* the written needs of a changed job K: its written refs, then the direct
 * needs NEWD not implied by them; a stage whose every job is among them by
 * its name.  One ref a line into rw->needs[k]; added edges listed. */
static void write_needs(struct rewrite *rw, size_t k, const uint64_t *newd)
{
	const struct cdx_pipeline *p = rw->p;
	const struct cdx_dag *d = rw->d;
	const struct cdx_job *jk = &p->jobs[k];
	struct cdx_buf *out = &rw->needs[k], why = {0};
	uint64_t *covered = rw->tmp;
	size_t i, s;
	uint32_t e;

	memset(covered, 0, rw->nw * sizeof(uint64_t));
	if (!implicit_barrier(p, k)) {
		for (e = d->pred_off[k]; e < d->pred_off[k + 1]; e++) {
			uint32_t u = d->pred[e];
			add_node(rw, covered, rw->nanc, u);
			cdx_buf_printf(out, "%s\n", u < rw->n ? p->jobs[u].id : p->stages[u - rw->n].name);
		}
	}
	for (s = 0; s < p->n_stages; s++) {
		const struct cdx_stage *st = &p->stages[s];
		size_t want = 0;
		bool whole;
		for (i = st->first_job; i < st->first_job + st->n_jobs; i++)
			want += bs_has(newd, rw->rank[i]) && !bs_has(covered, rw->rank[i]);
		if (!want)
			continue;
		/* the stage by its name: a stage of several jobs, or the one
		 * whose barrier K had */
		whole = want == st->n_jobs && (st->n_jobs > 1 || (implicit_barrier(p, k) && jk->stage == s + 1));
		if (whole) {
			/* the stage node: all its jobs */
			size_t first = st->first_job;
			cdx_buf_printf(out, "%s\n", st->name);
			if (implicit_barrier(p, k) && jk->stage == s + 1)
				continue; /* the barrier it had, now written */
			why_added(rw, k, first, &why);
			add_edge(rw, k, st->name, "added", why.data, false);
			continue;
		}
		for (i = st->first_job; i < st->first_job + st->n_jobs; i++) {
			if (!bs_has(newd, rw->rank[i]) || bs_has(covered, rw->rank[i]))
				continue;
			cdx_buf_printf(out, "%s\n", p->jobs[i].id);
			why_added(rw, k, i, &why);
			add_edge(rw, k, p->jobs[i].id, "added", why.data, false);
		}
	}
	cdx_buf_free(&why);
	if (!out->data)
		cdx_buf_adds(out, ""); /* changed, and waits for nothing */
}

/* decide the new graph, in topological order */
static void rewrite(struct rewrite *rw)
{
	const struct cdx_pipeline *p = rw->p;
	const struct cdx_dag *d = rw->d;
	size_t i, nw = rw->nw;
	uint64_t *written = cdx_xcalloc(nw + 1, sizeof(uint64_t));
	uint64_t *newd = cdx_xcalloc(nw + 1, sizeof(uint64_t));
	uint64_t *form = cdx_xcalloc(nw + 1, sizeof(uint64_t));
	uint64_t *dropped = cdx_xcalloc(nw + 1, sizeof(uint64_t));

	for (i = 0; i < d->n_nodes; i++) {
		uint32_t v = d->topo[i], e;
		uint64_t *na = ROW(rw->nanc, v);
		size_t r, q;
		if (v >= rw->n) {
			/* a stage node: all its jobs and what they wait for */
			for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
				add_node(rw, na, rw->nanc, d->pred[e]);
			continue;
		}
		written_needs(rw, v, written);
		memset(newd, 0, nw * sizeof(uint64_t));
		/* R(v) from the latest rank down: an element not yet covered is
		 * a direct need, and brings its own ancestors */
		for (r = rw->rank[v]; r-- > 0;) {
			if (!bs_has(ROW(rw->anc, v), r) || bs_has(na, r))
				continue;
			if (!required(rw, v, rw->at[r], written))
				continue;
			bs_set(newd, r);
			bs_set(na, r);
			bs_or(na, ROW(rw->nanc, rw->at[r]), nw);
		}
		/* what its written form gives in the new graph */
		memset(form, 0, nw * sizeof(uint64_t));
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
			add_node(rw, form, rw->nanc, d->pred[e]);
		if (memcmp(form, na, nw * sizeof(uint64_t)) == 0)
			continue;
		rw->changed[v] = true;
		for (q = 0; q < nw; q++)
			dropped[q] = ROW(rw->anc, v)[q] & ~na[q];
		write_needs(rw, v, newd);
		if (implicit_barrier(p, v)) {
			/* the barrier edge is gone unless it was written back */
			const char *prev = p->stages[p->jobs[v].stage - 1].name;
			const char *s = rw->needs[v].data, *line;
			bool kept = false;
			size_t len = strlen(prev);
			for (line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
				if (strncmp(line, prev, len) == 0 && line[len] == '\n')
					kept = true;
			if (!kept)
				removed_barrier(rw, v, dropped);
		}
	}
	free(written);
	free(newd);
	free(form);
	free(dropped);
}

/* ---- the optimized file -------------------------------------------------- */

/* S as a YAML double-quoted scalar (JSON's escapes are YAML's) */
static void yq(struct cdx_buf *b, const char *s)
{
	cJSON *x = cJSON_CreateString(s ? s : "");
	char *t = cJSON_PrintUnformatted(x);
	cdx_buf_adds(b, t);
	free(t);
	cJSON_Delete(x);
}

static void ydur(struct cdx_buf *b, int64_t ms)
{
	cdx_buf_printf(b, "%lldms", (long long)ms);
}

/* a comment line: TEXT with line breaks flattened */
static void ycomment(struct cdx_buf *b, const char *indent, const char *text)
{
	cdx_buf_printf(b, "%s# ", indent);
	for (; *text; text++)
		cdx_buf_addc(b, *text == '\n' || *text == '\r' ? ' ' : *text);
	cdx_buf_addc(b, '\n');
}

static void yvars(struct cdx_buf *b, const char *indent, const char *key, const struct cdx_vars *v)
{
	size_t i;
	if (!v->n)
		return;
	cdx_buf_printf(b, "%s%s:\n", indent, key);
	for (i = 0; i < v->n; i++) {
		const struct cdx_var *x = &v->v[i];
		cdx_buf_printf(b, "%s  %s: ", indent, x->name);
		if (x->from_env || x->secret) {
			bool comma = false;
			cdx_buf_adds(b, "{");
			if (x->value) {
				cdx_buf_adds(b, "value: ");
				yq(b, x->value);
				comma = true;
			}
			if (x->from_env) {
				cdx_buf_printf(b, "%sfrom_env: ", comma ? ", " : "");
				yq(b, x->from_env);
			}
			cdx_buf_printf(b, ", secret: %s}\n", x->secret ? "true" : "false");
		} else {
			yq(b, x->value ? x->value : "");
			cdx_buf_addc(b, '\n');
		}
	}
}

static void ystrs(struct cdx_buf *b, const char *indent, const char *key, char **s, size_t n)
{
	size_t i;
	cdx_buf_printf(b, "%s%s: [", indent, key);
	for (i = 0; i < n; i++) {
		if (i)
			cdx_buf_adds(b, ", ");
		yq(b, s[i]);
	}
	cdx_buf_adds(b, "]\n");
}

static void ycodes(struct cdx_buf *b, const int *c, size_t n)
{
	size_t i;
	cdx_buf_adds(b, "[");
	for (i = 0; i < n; i++)
		cdx_buf_printf(b, "%s%d", i ? ", " : "", c[i]);
	cdx_buf_adds(b, "]");
}

/* the written needs of job J: new ones when it changed, else as loaded */
static void yneeds(struct cdx_buf *b, const struct rewrite *rw, size_t j)
{
	const struct cdx_pipeline *p = rw->p;
	const struct cdx_job *jb = &p->jobs[j];
	size_t k, m;
	bool first = true;
	if (rw->changed && rw->changed[j]) {
		const char *line = rw->needs[j].data;
		cdx_buf_adds(b, "        needs: [");
		while (line && *line) {
			const char *nl = strchr(line, '\n');
			char *ref = cdx_xstrndup(line, (size_t)(nl - line));
			cdx_buf_adds(b, first ? "" : ", ");
			yq(b, ref);
			free(ref);
			first = false;
			line = nl + 1;
		}
		cdx_buf_adds(b, "]\n");
		return;
	}
	if (!jb->has_needs)
		return;
	/* resolved, so that a matrix base name becomes the jobs it stands for */
	cdx_buf_adds(b, "        needs: [");
	for (k = 0; k < jb->n_needs; k++) {
		const struct cdx_need *nd = &jb->needs[k];
		if (nd->job == CDX_NONE) {
			cdx_buf_adds(b, first ? "" : ", ");
			yq(b, p->stages[nd->stage].name);
			first = false;
			continue;
		}
		for (m = 0; m < nd->njobs; m++) {
			cdx_buf_adds(b, first ? "" : ", ");
			yq(b, p->jobs[nd->job + m].id);
			first = false;
		}
	}
	cdx_buf_adds(b, "]\n");
}

static void yjob(struct cdx_buf *b, const struct rewrite *rw, size_t j)
{
	const struct cdx_job *jb = &rw->p->jobs[j];
	cdx_buf_adds(b, "      - name: ");
	yq(b, jb->name);
	cdx_buf_adds(b, "\n        script: ");
	yq(b, jb->script);
	cdx_buf_addc(b, '\n');
	yneeds(b, rw, j);
	if (jb->retry_max || jb->n_retry_codes || jb->retry_when != (CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT)) {
		cdx_buf_printf(b, "        retry: {max: %d", jb->retry_max);
		if (jb->n_retry_codes) {
			cdx_buf_adds(b, ", exit_codes: ");
			ycodes(b, jb->retry_codes, jb->n_retry_codes);
		}
		cdx_buf_printf(b, ", when: [%s%s%s]}\n", jb->retry_when & CDX_RETRY_ON_FAILURE ? "script_failure" : "",
			       (jb->retry_when & CDX_RETRY_ON_FAILURE) && (jb->retry_when & CDX_RETRY_ON_TIMEOUT) ? ", "
														 : "",
			       jb->retry_when & CDX_RETRY_ON_TIMEOUT ? "timeout" : "");
	}
	if (jb->n_allow_codes) {
		cdx_buf_adds(b, "        allow_failure: {exit_codes: ");
		ycodes(b, jb->allow_codes, jb->n_allow_codes);
		cdx_buf_adds(b, "}\n");
	} else if (jb->allow_failure) {
		cdx_buf_adds(b, "        allow_failure: true\n");
	}
	if (jb->timeout_ms) {
		cdx_buf_adds(b, "        timeout: ");
		ydur(b, jb->timeout_ms);
		cdx_buf_addc(b, '\n');
	}
	yvars(b, "        ", "variables", &jb->vars);
	if (jb->has_inputs)
		ystrs(b, "        ", "inputs", jb->inputs, jb->n_inputs);
	if (jb->has_outputs)
		ystrs(b, "        ", "outputs", jb->outputs, jb->n_outputs);
	if (jb->hint_ms >= 0) {
		cdx_buf_adds(b, "        duration_hint: ");
		ydur(b, jb->hint_ms);
		cdx_buf_addc(b, '\n');
	}
}

struct by_prio {
	const double *prio;
	size_t j;
};

static int cmp_prio(const void *a, const void *b)
{
	const struct by_prio *x = a, *y = b;
	if (x->prio[x->j] != y->prio[y->j])
		return x->prio[x->j] > y->prio[y->j] ? -1 : 1;
	return x->j < y->j ? -1 : x->j > y->j;
}

/* the whole file: HEAD (comment lines) first, then the pipeline with each
 * stage's jobs in the order the ordering rule (PRIO) starts them.  The
 * caller frees it with free(). */
static char *yaml(const struct rewrite *rw, const double *prio, const char *head)
{
	const struct cdx_pipeline *p = rw->p;
	struct cdx_buf b = {0};
	struct by_prio *ord = cdx_xcalloc(p->n_jobs + 1, sizeof(*ord));
	size_t s, i, k;
	const char *line = head;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *one = cdx_xstrndup(line, len);
		ycomment(&b, "", one);
		free(one);
		line = nl ? nl + 1 : NULL;
	}
	cdx_buf_adds(&b, "name: ");
	yq(&b, p->name);
	cdx_buf_addc(&b, '\n');
	yvars(&b, "", "variables", &p->vars);
	if (p->timeout_ms) {
		cdx_buf_adds(&b, "timeout: ");
		ydur(&b, p->timeout_ms);
		cdx_buf_addc(&b, '\n');
	}
	cdx_buf_adds(&b, "stages:\n");
	for (s = 0; s < p->n_stages; s++) {
		const struct cdx_stage *st = &p->stages[s];
		cdx_buf_adds(&b, "  - name: ");
		yq(&b, st->name);
		cdx_buf_addc(&b, '\n');
		if (st->has_needs) {
			cdx_buf_adds(&b, "    needs: [");
			for (k = 0; k < st->n_needs; k++) {
				cdx_buf_adds(&b, k ? ", " : "");
				yq(&b, p->stages[st->needs[k].stage].name);
			}
			cdx_buf_adds(&b, "]\n");
		}
		if (st->timeout_ms != CDX_STAGE_TIMEOUT_DEFAULT_MS) {
			cdx_buf_adds(&b, "    timeout: ");
			ydur(&b, st->timeout_ms);
			cdx_buf_addc(&b, '\n');
		}
		yvars(&b, "    ", "environment", &st->env);
		cdx_buf_adds(&b, "    jobs:\n");
		for (i = 0; i < st->n_jobs; i++)
			ord[i] = (struct by_prio){prio, st->first_job + i};
		qsort(ord, st->n_jobs, sizeof(*ord), cmp_prio);
		for (i = 0; i < st->n_jobs; i++) {
			const char *note = rw->notes ? rw->notes[ord[i].j].data : NULL;
			while (note && *note) {
				const char *nl = strchr(note, '\n');
				char *one = cdx_xstrndup(note, (size_t)(nl - note));
				ycomment(&b, "      ", one);
				free(one);
				note = nl + 1;
			}
			yjob(&b, rw, ord[i].j);
		}
	}
	free(ord);
	return cdx_buf_detach(&b);
}

/* ---- the public functions ------------------------------------------------ */

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
		if (cdx_map_get(&ids, cJSON_GetStringValue(cJSON_GetObjectItem(x, "job")), &k))
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

static double get(const cJSON *o, const char *key)
{
	return num(o, key);
}

cJSON *cdx_optimize_suggest(const cJSON *a)
{
	cJSON *out = cJSON_CreateArray(), *x;
	struct cdx_buf b = {0};
	double span = get(a, "predicted_makespan_s"), bound = get(a, "lower_bound_s");
	double knee = get(a, "workers_knee"), workers = get(a, "workers");
	double idle_b = get(a, "barrier_idle_s");
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
		    cJSON_GetStringValue(cJSON_GetObjectItem(x, "job")), get(x, "weight_s"),
		    100 * get(x, "share_of_critical_path"), get(x, "lower_bound_if_halved_s"));
	}
	if (knee >= 1) {
		if (workers > knee)
			SAY("%.0f workers suffice: past %.0f, more workers gain under 5%% (%.2fs on %.0f, %.2fs with "
			    "unlimited workers); you plan for %.0f",
			    knee, knee, get(a, "workers_knee_makespan_s"), knee, get(a, "unlimited_workers_makespan_s"),
			    workers);
		else if (workers < knee)
			SAY("more workers help up to %.0f: %.2fs on %.0f against %.2fs on %.0f; past %.0f they gain "
			    "under 5%%",
			    knee, get(a, "workers_knee_makespan_s"), knee, span, workers, knee);
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
		double share = get(x, "cpu_share"), wall = get(x, "wall_s"), rss = get(x, "maxrss_mib_peak");
		if (get(x, "samples") > 0 && wall >= 1 && share < 0.1)
			SAY("%s mostly waits (CPU %.0f%% of its %.2fs): it could share a worker with CPU-bound jobs",
			    x->string, 100 * share, wall);
		if (rss >= 1024)
			SAY("%s peaks at %.0f MiB of memory: many of it at once may exhaust memory", x->string, rss);
		if (get(x, "attempts") > 2 * get(x, "samples") && get(x, "attempts") >= 4)
			SAY("%s needed %.0f attempts for %.0f successes: a flaky job stretches the makespan", x->string,
			    get(x, "attempts"), get(x, "samples"));
	}
#undef SAY
	cdx_buf_free(&b);
	return out;
}

static void rewrite_free(struct rewrite *rw)
{
	size_t i;
	for (i = 0; i < rw->n; i++) {
		if (rw->needs)
			cdx_buf_free(&rw->needs[i]);
		if (rw->notes)
			cdx_buf_free(&rw->notes[i]);
	}
	free(rw->needs);
	free(rw->notes);
	free(rw->rank);
	free(rw->at);
	free(rw->anc);
	free(rw->nanc);
	free(rw->tmp);
	free(rw->changed);
	cJSON_Delete(rw->edges);
}

cJSON *cdx_optimize(const struct cdx_pipeline *p, const struct cdx_optimize_options *o, struct cdx_error *err)
{
	const struct cdx_dag *d = p->dag;
	struct rewrite rw;
	struct res *r = NULL;
	struct cdx_diags *diags = NULL;
	struct cdx_pipeline *q = NULL;
	double *w = NULL, *w2 = NULL, *prio = NULL;
	unsigned char *src = NULL;
	unsigned workers = default_workers(o->workers);
	cJSON *out = NULL, *before, *after;
	char *text = NULL, *head;
	size_t i, k, n_unsafe = 0;
	const char *name = o->out_name ? o->out_name : p->path;

	memset(&rw, 0, sizeof(rw));
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
	prio = cdx_xcalloc(d->n_nodes + 1, sizeof(double));
	weights(p, o->state, r, w, src);
	cdx_dag_priority(d, w, prio);

	rw.p = p;
	rw.d = d;
	rw.level = o->level;
	rw.n = p->n_jobs;
	rw.nw = (p->n_jobs + 63) / 64;
	rw.edges = cJSON_CreateArray();
	if (o->level != CDX_OPT_CONSERVATIVE) {
		rw.rank = cdx_xcalloc(rw.n + 1, sizeof(uint32_t));
		rw.at = cdx_xcalloc(rw.n + 1, sizeof(uint32_t));
		for (i = 0, k = 0; i < d->n_nodes; i++)
			if (d->topo[i] < rw.n) {
				rw.rank[d->topo[i]] = (uint32_t)k;
				rw.at[k++] = d->topo[i];
			}
		rw.anc = cdx_xcalloc(d->n_nodes * rw.nw + 1, sizeof(uint64_t));
		rw.nanc = cdx_xcalloc(d->n_nodes * rw.nw + 1, sizeof(uint64_t));
		rw.tmp = cdx_xcalloc(rw.nw + 1, sizeof(uint64_t));
		rw.changed = cdx_xcalloc(rw.n + 1, sizeof(bool));
		rw.needs = cdx_xcalloc(rw.n + 1, sizeof(struct cdx_buf));
		rw.notes = cdx_xcalloc(rw.n + 1, sizeof(struct cdx_buf));
		old_ancestors(&rw);
		rewrite(&rw);
	}
	{
		cJSON *e;
		cJSON_ArrayForEach(e, rw.edges) n_unsafe += cJSON_IsTrue(cJSON_GetObjectItem(e, "unsafe"));
	}
	head = cdx_xasprintf("optimized by cdx optimize --level %s from %s (pipeline %s): %d edge%s rewritten, %zu "
			     "of them unsafe\njobs are listed in each stage in the order cdx starts them "
			     "(longest remaining path first)",
			     cdx_opt_level_name(o->level), p->path, p->name, cJSON_GetArraySize(rw.edges),
			     cJSON_GetArraySize(rw.edges) == 1 ? "" : "s", n_unsafe);
	text = yaml(&rw, prio, head);
	free(head);

	/* the file must load, and name the same jobs */
	diags = cdx_diags_new();
	q = cdx_pipeline_load_mem(name, text, strlen(text), diags);
	if (!q || q->n_jobs != p->n_jobs) {
		struct cdx_buf m = {0};
		if (cdx_diags_count(diags))
			cdx_diag_format(cdx_diags_get(diags, 0), &m);
		cdx_error_set(err, CDX_EFAILED, "internal error: the optimized pipeline does not load: %s",
			      m.data ? m.data : "jobs differ");
		cdx_buf_free(&m);
		goto out;
	}
	{
		struct cdx_map ids = {0};
		w2 = cdx_xcalloc(q->n_jobs + 1, sizeof(double));
		for (i = 0; i < p->n_jobs; i++)
			cdx_map_put(&ids, p->jobs[i].id, i, NULL);
		for (i = 0; i < q->n_jobs; i++) {
			if (!cdx_map_get(&ids, q->jobs[i].id, &k)) {
				cdx_error_set(err, CDX_EFAILED, "internal error: the optimized pipeline has a job %s "
								"that the original has not",
					      q->jobs[i].id);
				cdx_map_free(&ids);
				goto out;
			}
			w2[i] = w[k];
		}
		cdx_map_free(&ids);
	}

	before = cdx_opt_analyze_weights(p, w, workers);
	add_sources(before, p, src);
	after = cdx_opt_analyze_weights(q, w2, workers);
	out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "pipeline", p->name);
	cJSON_AddStringToObject(out, "file", p->path);
	cJSON_AddStringToObject(out, "level", cdx_opt_level_name(o->level));
	cJSON_AddNumberToObject(out, "workers", workers);
	cJSON_AddNumberToObject(out, "lower_bound_s", get(before, "lower_bound_s"));
	cJSON_AddNumberToObject(out, "declared_order_makespan_s", get(before, "declared_order_makespan_s"));
	cJSON_AddNumberToObject(out, "predicted_makespan_before_s", get(before, "predicted_makespan_s"));
	cJSON_AddNumberToObject(out, "predicted_makespan_after_s", get(after, "predicted_makespan_s"));
	cJSON_AddNumberToObject(out, "lower_bound_after_s", get(after, "lower_bound_s"));
	cJSON_AddNumberToObject(out, "speedup", get(after, "predicted_makespan_s") > 0
							? get(before, "predicted_makespan_s") /
								  get(after, "predicted_makespan_s")
							: 1);
	cJSON_AddNumberToObject(out, "edges_rewritten", cJSON_GetArraySize(rw.edges));
	cJSON_AddNumberToObject(out, "edges_unsafe", (double)n_unsafe);
	cJSON_AddItemToObject(out, "critical_path",
			      cJSON_Duplicate(cJSON_GetObjectItem(after, "critical_path"), 1));
	cJSON_AddItemToObject(out, "edges", rw.edges);
	rw.edges = NULL;
	cJSON_AddItemToObject(out, "suggestions", cdx_optimize_suggest(before));
	cJSON_AddItemToObject(out, "resources", resources_json(p, r));
	cJSON_AddItemToObject(out, "before", before);
	cJSON_AddItemToObject(out, "after", after);
	cJSON_AddStringToObject(out, "yaml", text);
out:
	cdx_pipeline_free(q);
	cdx_diags_free(diags);
	rewrite_free(&rw);
	free(text);
	free(w);
	free(w2);
	free(prio);
	free(src);
	free(r);
	return out;
}
