/* optimize_analyze.c — the analysis of a pipeline's schedule for given
 * weights (optimize.h's cdx_opt_analyze_weights; cdx_optimize_analyze adds
 * where the weights came from and the resources).
 *
 * Every figure comes from the one job graph (dag.h) and the one
 * list-scheduling simulation that `cdx run` follows (cdx_dag_simulate):
 * the predicted makespan against its lower bound max(critical path, total
 * work / workers), the chain of jobs that bounds it, the worker time lost
 * to implicit stage barriers, the makespan by number of workers and its
 * knee, the jobs worth splitting, and the order in which jobs start.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "observe/optimize_int.h"
#include "pipeline/dag.h"

/* a job on the critical path worth splitting takes at least this share of it */
#define SPLIT_SHARE 0.25
/* the knee: the fewest workers within this factor of unlimited workers */
#define KNEE_FACTOR 1.05
/* worker counts scanned one by one for the knee; above, powers of two */
#define KNEE_LINEAR 256

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

bool cdx_opt_implicit_barrier(const struct cdx_pipeline *p, size_t j)
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
		if (cdx_opt_implicit_barrier(p, i) && (only_stage == CDX_NONE || p->jobs[i].stage - 1 == only_stage)) {
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

/* one analysis: the pipeline, its weights and its simulated schedule */
struct analysis {
	const struct cdx_pipeline *p;
	const struct cdx_dag *d;
	const double *w;   /* ms per job */
	unsigned workers;  /* >= 1 */
	size_t n;          /* jobs */
	double total;      /* total work, ms */
	double *prio;      /* per node: the ordering rule's priority */
	double *start;     /* per job: simulated start, ms */
	size_t *ord;       /* the jobs in start order */
	double span;       /* the simulated makespan, ms */
	size_t *path;      /* the critical path, first job first */
	size_t cp_n;       /* its jobs */
	double cp_len;     /* its weight, ms */
	bool *on_cp;       /* per job: on the critical path */
	double *released;  /* per stage: when its last job ends, ms */
	double *scratch;   /* n start times of scratch */
};

/* A = the schedule of P with weights W on WORKERS (>= 1) */
static void schedule(struct analysis *a, const struct cdx_pipeline *p, const double *w, unsigned workers)
{
	size_t i, n = p->n_jobs;
	memset(a, 0, sizeof(*a));
	a->p = p;
	a->d = p->dag;
	a->w = w;
	a->workers = workers;
	a->n = n;
	a->prio = cdx_xcalloc(a->d->n_nodes + 1, sizeof(double));
	a->start = cdx_xcalloc(n + 1, sizeof(double));
	a->ord = cdx_xcalloc(n + 1, sizeof(size_t));
	a->path = cdx_xcalloc(n + 1, sizeof(size_t));
	a->on_cp = cdx_xcalloc(n + 1, sizeof(bool));
	a->released = cdx_xcalloc(p->n_stages + 1, sizeof(double));
	a->scratch = cdx_xcalloc(n + 1, sizeof(double));
	for (i = 0; i < n; i++)
		a->total += w[i];
	cdx_dag_priority(a->d, w, a->prio);
	a->span = cdx_dag_simulate(a->d, w, a->prio, workers, a->start, a->ord);
	a->cp_n = cdx_dag_critical_path(a->d, w, a->path, &a->cp_len);
	for (i = 0; i < a->cp_n; i++)
		a->on_cp[a->path[i]] = true;
	for (i = 0; i < n; i++)
		if (a->start[i] + w[i] > a->released[p->jobs[i].stage])
			a->released[p->jobs[i].stage] = a->start[i] + w[i];
}

static void analysis_free(struct analysis *a)
{
	free(a->prio);
	free(a->start);
	free(a->ord);
	free(a->path);
	free(a->on_cp);
	free(a->released);
	free(a->scratch);
}

/* the makespan in the declared (file) order: what a scheduler that
 * follows it does */
static double declared_makespan(const struct analysis *a)
{
	double *fifo = cdx_xcalloc(a->d->n_nodes + 1, sizeof(double)), m;
	size_t i;
	for (i = 0; i < a->d->n_nodes; i++)
		fifo[i] = (double)(a->d->n_nodes - i);
	m = makespan(a->d, a->w, fifo, a->workers, a->scratch);
	free(fifo);
	return m;
}

/* the number of levels of the graph; the most jobs on one level in *WIDTH */
static size_t levels(const struct analysis *a, size_t *width)
{
	size_t *level = cdx_xcalloc(a->n + 1, sizeof(size_t)), *per_level, nlevels, i;
	nlevels = cdx_dag_levels(a->d, level);
	per_level = cdx_xcalloc(nlevels + 1, sizeof(size_t));
	*width = 0;
	for (i = 0; i < a->n; i++)
		if (++per_level[level[i]] > *width)
			*width = per_level[level[i]];
	free(level);
	free(per_level);
	return nlevels;
}

/* the figures of the whole schedule, its critical path and bounding jobs */
static void add_summary(cJSON *o, struct analysis *a)
{
	const struct cdx_pipeline *p = a->p;
	double declared = declared_makespan(a), total = a->total, cp_len = a->cp_len, span = a->span;
	double bound = cp_len > total / a->workers ? cp_len : total / a->workers;
	size_t width, nlevels = levels(a, &width), i;
	cJSON *x;
	cJSON_AddStringToObject(o, "pipeline", p->name);
	cJSON_AddNumberToObject(o, "jobs", (double)a->n);
	cJSON_AddNumberToObject(o, "stages", (double)p->n_stages);
	cJSON_AddNumberToObject(o, "workers", a->workers);
	cJSON_AddNumberToObject(o, "total_work_s", total / 1000);
	cJSON_AddNumberToObject(o, "critical_path_s", cp_len / 1000);
	cJSON_AddNumberToObject(o, "useful_parallelism", cp_len > 0 ? total / cp_len : 0);
	cJSON_AddNumberToObject(o, "levels", (double)nlevels);
	cJSON_AddNumberToObject(o, "max_parallelism", (double)width);
	cJSON_AddNumberToObject(o, "lower_bound_s", bound / 1000);
	cJSON_AddNumberToObject(o, "predicted_makespan_s", span / 1000);
	cJSON_AddNumberToObject(o, "declared_order_makespan_s", declared / 1000);
	cJSON_AddNumberToObject(o, "efficiency", span > 0 ? bound / span : 1);
	cJSON_AddNumberToObject(o, "idle_worker_s", (a->workers * span - total) / 1000);
	cJSON_AddNumberToObject(o, "barrier_idle_s",
				barrier_idle(p, a->w, a->start, a->workers, CDX_NONE, a->released) / 1000);
	x = cJSON_AddArrayToObject(o, "critical_path");
	for (i = 0; i < a->cp_n; i++)
		cJSON_AddItemToArray(x, cJSON_CreateString(p->jobs[a->path[i]].id));
	cJSON_AddItemToObject(o, "bounding_jobs", bounding_jobs(p, a->w, a->start));
}

/* per implicit barrier: the stage waited for, who waits, what it costs;
 * then the jobs that declare no inputs or outputs */
static void add_barriers(cJSON *o, const struct analysis *a)
{
	const struct cdx_pipeline *p = a->p;
	cJSON *arr = cJSON_AddArrayToObject(o, "barriers");
	size_t s, i;
	for (s = 0; s + 1 < p->n_stages; s++) {
		size_t held = 0, held_noev = 0;
		cJSON *b;
		for (i = 0; i < a->n; i++)
			if (cdx_opt_implicit_barrier(p, i) && p->jobs[i].stage == s + 1) {
				held++;
				held_noev += !cdx_opt_evidence(&p->jobs[i]);
			}
		if (!held)
			continue;
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "after", p->stages[s].name);
		cJSON_AddStringToObject(b, "before", p->stages[s + 1].name);
		cJSON_AddNumberToObject(b, "jobs_held", (double)held);
		cJSON_AddNumberToObject(b, "jobs_without_evidence", (double)held_noev);
		cJSON_AddNumberToObject(b, "released_at_s", a->released[s] / 1000);
		cJSON_AddNumberToObject(b, "idle_s", barrier_idle(p, a->w, a->start, a->workers, s, a->released) / 1000);
		cJSON_AddItemToArray(arr, b);
	}
	arr = cJSON_AddArrayToObject(o, "jobs_without_evidence");
	for (i = 0; i < a->n; i++)
		if (!cdx_opt_evidence(&p->jobs[i]))
			cJSON_AddItemToArray(arr, cJSON_CreateString(p->jobs[i].id));
}

/* more workers: the makespan by workers, and the knee (the fewest workers
 * within KNEE_FACTOR of unlimited ones, which the critical path gives) */
static void add_workers_curve(cJSON *o, struct analysis *a)
{
	double m_inf = a->cp_len;
	size_t P, n = a->n, knee = 0;
	cJSON *arr = cJSON_AddArrayToObject(o, "makespan_by_workers");
	for (P = 1; P <= n && !knee; P = P < KNEE_LINEAR ? P + 1 : P * 2) {
		double m = makespan(a->d, a->w, a->prio, (unsigned)P, a->scratch);
		if (m <= KNEE_FACTOR * m_inf + 1e-6)
			knee = P;
	}
	if (!knee)
		knee = n ? n : 1;
	for (P = 1; P < 2 * knee || P <= a->workers; P *= 2) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddNumberToObject(x, "workers", (double)P);
		cJSON_AddNumberToObject(x, "makespan_s", makespan(a->d, a->w, a->prio, (unsigned)P, a->scratch) / 1000);
		cJSON_AddItemToArray(arr, x);
		if (P >= n)
			break;
	}
	cJSON_AddNumberToObject(o, "unlimited_workers_makespan_s", m_inf / 1000);
	cJSON_AddNumberToObject(o, "workers_knee", (double)knee);
	cJSON_AddNumberToObject(o, "workers_knee_makespan_s",
				makespan(a->d, a->w, a->prio, (unsigned)knee, a->scratch) / 1000);
}

/* jobs that dominate the critical path, the largest share first, with the
 * lower bound were each one halved */
static void add_split_candidates(cJSON *o, const struct analysis *a)
{
	struct split {
		size_t job;
		double bound;
	} *sp = cdx_xcalloc(a->cp_n + 1, sizeof(*sp));
	const double *w = a->w;
	double *w2 = cdx_xcalloc(a->n + 1, sizeof(double)), cp_len = a->cp_len;
	size_t *path2 = cdx_xcalloc(a->n + 1, sizeof(size_t)), ns = 0, q, i;
	cJSON *arr = cJSON_AddArrayToObject(o, "split_candidates");
	for (i = 0; i < a->cp_n; i++) {
		size_t j = a->path[i];
		double cp2, work2 = a->total - w[j] / 2;
		if (cp_len <= 0 || w[j] < SPLIT_SHARE * cp_len || cp_len < a->total / a->workers)
			continue;
		memcpy(w2, w, a->n * sizeof(double));
		w2[j] /= 2;
		cdx_dag_critical_path(a->d, w2, path2, &cp2);
		for (q = ns++; q > 0 && w[sp[q - 1].job] < w[j]; q--)
			sp[q] = sp[q - 1];
		sp[q].job = j;
		sp[q].bound = cp2 > work2 / a->workers ? cp2 : work2 / a->workers;
	}
	for (q = 0; q < ns; q++) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "job", a->p->jobs[sp[q].job].id);
		cJSON_AddNumberToObject(x, "weight_s", w[sp[q].job] / 1000);
		cJSON_AddNumberToObject(x, "share_of_critical_path", w[sp[q].job] / cp_len);
		cJSON_AddNumberToObject(x, "lower_bound_if_halved_s", sp[q].bound / 1000);
		cJSON_AddItemToArray(arr, x);
	}
	free(sp);
	free(w2);
	free(path2);
}

/* the jobs in the order the ordering rule starts them */
static void add_order(cJSON *o, const struct analysis *a)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "order");
	size_t i;
	for (i = 0; i < a->n; i++) {
		size_t j = a->ord[i];
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "job", a->p->jobs[j].id);
		cJSON_AddNumberToObject(x, "weight_s", a->w[j] / 1000);
		cJSON_AddNumberToObject(x, "priority_s", a->prio[j] / 1000);
		cJSON_AddNumberToObject(x, "start_s", a->start[j] / 1000);
		cJSON_AddBoolToObject(x, "critical", a->on_cp[j]);
		cJSON_AddBoolToObject(x, "evidence", cdx_opt_evidence(&a->p->jobs[j]));
		cJSON_AddItemToArray(arr, x);
	}
}

cJSON *cdx_opt_analyze_weights(const struct cdx_pipeline *p, const double *w, unsigned workers)
{
	struct analysis a;
	cJSON *o = cJSON_CreateObject();
	schedule(&a, p, w, workers ? workers : 1);
	add_summary(o, &a);
	add_barriers(o, &a);
	add_workers_curve(o, &a);
	add_split_candidates(o, &a);
	add_order(o, &a);
	analysis_free(&a);
	return o;
}
