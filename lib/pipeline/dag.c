/* dag.c — the job graph, its analyses and the ordering rule (see dag.h).
 *
 * The graph is stored as two CSR arrays (predecessors and successors), built
 * in two passes over the resolved needs: count, then fill.  A topological
 * order is computed once with Kahn's algorithm; when it cannot cover every
 * node the graph has a cycle, which is found by walking predecessors among
 * the nodes left over and spelled job by job.  Every analysis afterwards is
 * one linear pass over that order.
 */
#include "pipeline/dag.h"

#include <stdlib.h>
#include <string.h>

/* each_edge: call ADD(from, to) for every edge "TO needs FROM" */
static void each_edge(const struct cdx_pipeline *p, void (*add)(void *, uint32_t, uint32_t), void *ctx)
{
	size_t j, k, m;
	uint32_t nj = (uint32_t)p->n_jobs;
	for (j = 0; j < p->n_jobs; j++) {
		const struct cdx_job *job = &p->jobs[j];
		const struct cdx_stage *st = &p->stages[job->stage];
		add(ctx, (uint32_t)j, nj + (uint32_t)job->stage); /* its stage is done after it */
		if (job->has_needs) {
			for (k = 0; k < job->n_needs; k++) {
				const struct cdx_need *n = &job->needs[k];
				if (n->job == CDX_NONE)
					add(ctx, nj + (uint32_t)n->stage, (uint32_t)j);
				else
					for (m = 0; m < n->njobs; m++)
						add(ctx, (uint32_t)(n->job + m), (uint32_t)j);
			}
		} else if (st->has_needs) {
			for (k = 0; k < st->n_needs; k++)
				add(ctx, nj + (uint32_t)st->needs[k].stage, (uint32_t)j);
		} else if (job->stage > 0) {
			add(ctx, nj + (uint32_t)job->stage - 1, (uint32_t)j);
		}
	}
}

struct fill {
	struct cdx_dag *d;
	uint32_t *pred_at, *succ_at; /* next free slot per node */
	int counting;
};

static void edge(void *ctx, uint32_t from, uint32_t to)
{
	struct fill *f = ctx;
	if (f->counting) {
		f->d->pred_off[to + 1]++;
		f->d->succ_off[from + 1]++;
		return;
	}
	f->d->pred[f->pred_at[to]++] = from;
	f->d->succ[f->succ_at[from]++] = to;
}

void cdx_dag_free(struct cdx_dag *d)
{
	if (!d)
		return;
	free(d->pred_off);
	free(d->pred);
	free(d->succ_off);
	free(d->succ);
	free(d->topo);
	free(d);
}

static void report_cycle(const struct cdx_dag *d, const struct cdx_pipeline *p, const uint32_t *indeg,
			 struct cdx_diags *diags)
{
	size_t n = d->n_nodes, v, steps = 0;
	uint32_t *seen_at = cdx_xcalloc(n, sizeof(uint32_t)); /* 1 + step first visited */
	uint32_t *walk = cdx_xcalloc(n + 1, sizeof(uint32_t));
	struct cdx_buf cyc = {0};
	size_t start, k, first_job = CDX_NONE;

	for (v = 0; v < n && !indeg[v]; v++)
		;
	/* walk to an unfinished predecessor until a node repeats */
	while (!seen_at[v]) {
		uint32_t e;
		seen_at[v] = (uint32_t)++steps;
		walk[steps - 1] = (uint32_t)v;
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
			if (indeg[d->pred[e]])
				break;
		v = d->pred[e];
	}
	start = seen_at[v] - 1;
	/* walk[start..steps) is the cycle: each needs the next; spell it
	 * starting at the earliest job in the file, for a stable message */
	for (k = start; k < steps; k++)
		if (walk[k] < d->n_jobs && (first_job == CDX_NONE || walk[k] < walk[first_job]))
			first_job = k;
	for (k = 0; k <= steps - start; k++) {
		uint32_t u = walk[start + (first_job - start + k) % (steps - start)];
		if (cyc.len)
			cdx_buf_adds(&cyc, " -> ");
		/* a stage in the cycle is spelled as written in needs: its name */
		cdx_buf_adds(&cyc, u < d->n_jobs ? p->jobs[u].id : p->stages[u - d->n_jobs].name);
	}
	{
		const struct cdx_job *j = &p->jobs[walk[first_job]];
		cdx_diags_add(diags, j->file, j->line, j->col, "job cycle: %s", cyc.data);
	}
	cdx_buf_free(&cyc);
	free(seen_at);
	free(walk);
}

struct cdx_dag *cdx_dag_build(const struct cdx_pipeline *p, struct cdx_diags *diags)
{
	struct cdx_dag *d = cdx_xcalloc(1, sizeof(*d));
	struct fill f = {d, NULL, NULL, 1};
	size_t n, v, head = 0, tail = 0;
	uint32_t *indeg;

	d->n_jobs = p->n_jobs;
	d->n_stages = p->n_stages;
	n = d->n_nodes = p->n_jobs + p->n_stages;
	d->pred_off = cdx_xcalloc(n + 1, sizeof(uint32_t));
	d->succ_off = cdx_xcalloc(n + 1, sizeof(uint32_t));
	each_edge(p, edge, &f);
	for (v = 0; v < n; v++) {
		d->pred_off[v + 1] += d->pred_off[v];
		d->succ_off[v + 1] += d->succ_off[v];
	}
	d->pred = cdx_xcalloc(d->pred_off[n] + 1, sizeof(uint32_t));
	d->succ = cdx_xcalloc(d->succ_off[n] + 1, sizeof(uint32_t));
	f.pred_at = cdx_xcalloc(n + 1, sizeof(uint32_t));
	f.succ_at = cdx_xcalloc(n + 1, sizeof(uint32_t));
	memcpy(f.pred_at, d->pred_off, n * sizeof(uint32_t));
	memcpy(f.succ_at, d->succ_off, n * sizeof(uint32_t));
	f.counting = 0;
	each_edge(p, edge, &f);
	free(f.pred_at);
	free(f.succ_at);

	/* Kahn: indeg doubles as "not yet ordered" for the cycle report */
	d->topo = cdx_xcalloc(n + 1, sizeof(uint32_t));
	indeg = cdx_xcalloc(n + 1, sizeof(uint32_t));
	for (v = 0; v < n; v++) {
		indeg[v] = d->pred_off[v + 1] - d->pred_off[v];
		if (!indeg[v])
			d->topo[tail++] = (uint32_t)v;
	}
	while (head < tail) {
		uint32_t u = d->topo[head++], e;
		for (e = d->succ_off[u]; e < d->succ_off[u + 1]; e++)
			if (--indeg[d->succ[e]] == 0)
				d->topo[tail++] = d->succ[e];
	}
	if (tail < n) {
		report_cycle(d, p, indeg, diags);
		free(indeg);
		cdx_dag_free(d);
		return NULL;
	}
	free(indeg);
	return d;
}

void cdx_dag_priority(const struct cdx_dag *d, const double *w, double *prio)
{
	size_t i = d->n_nodes;
	while (i-- > 0) {
		uint32_t v = d->topo[i], e;
		double best = 0;
		for (e = d->succ_off[v]; e < d->succ_off[v + 1]; e++)
			if (prio[d->succ[e]] > best)
				best = prio[d->succ[e]];
		prio[v] = best + (v < d->n_jobs ? w[v] : 0);
	}
}

size_t cdx_dag_critical_path(const struct cdx_dag *d, const double *w, size_t *path, double *len)
{
	double *prio = cdx_xcalloc(d->n_nodes + 1, sizeof(double));
	size_t n = 0, v, best = CDX_NONE;
	cdx_dag_priority(d, w, prio);
	for (v = 0; v < d->n_jobs; v++)
		if (best == CDX_NONE || prio[v] > prio[best])
			best = v;
	*len = best == CDX_NONE ? 0 : prio[best];
	v = best;
	while (v != CDX_NONE) {
		uint32_t e;
		size_t next = CDX_NONE;
		if (v < d->n_jobs)
			path[n++] = v;
		for (e = d->succ_off[v]; e < d->succ_off[v + 1]; e++) {
			uint32_t s = d->succ[e];
			if (next == CDX_NONE || prio[s] > prio[next] || (prio[s] == prio[next] && s < next))
				next = s;
		}
		v = next;
	}
	free(prio);
	return n;
}

size_t cdx_dag_levels(const struct cdx_dag *d, size_t *level)
{
	size_t *lv = cdx_xcalloc(d->n_nodes + 1, sizeof(size_t)), i, top = 0;
	for (i = 0; i < d->n_nodes; i++) {
		uint32_t v = d->topo[i], e;
		size_t m = 0;
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
			if (lv[d->pred[e]] > m)
				m = lv[d->pred[e]];
		lv[v] = v < d->n_jobs ? m + 1 : m;
		if (lv[v] > top)
			top = lv[v];
	}
	memcpy(level, lv, d->n_jobs * sizeof(size_t));
	free(lv);
	return top;
}

/* ---- the ready queue ----------------------------------------------------- */

static int better(const struct cdx_ready *q, uint32_t a, uint32_t b)
{
	if (q->prio[a] != q->prio[b])
		return q->prio[a] > q->prio[b];
	return a < b;
}

void cdx_ready_init(struct cdx_ready *q, const double *prio)
{
	memset(q, 0, sizeof(*q));
	q->prio = prio;
}

void cdx_ready_push(struct cdx_ready *q, uint32_t job)
{
	size_t i;
	cdx_grow(&q->heap, &q->cap, q->n + 1, sizeof(uint32_t));
	i = q->n++;
	while (i > 0 && better(q, job, q->heap[(i - 1) / 2])) {
		q->heap[i] = q->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	q->heap[i] = job;
}

uint32_t cdx_ready_pop(struct cdx_ready *q)
{
	uint32_t top = q->heap[0], last = q->heap[--q->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && better(q, q->heap[c + 1], q->heap[c]))
			c++;
		if (!better(q, q->heap[c], last))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (q->n)
		q->heap[i] = last;
	return top;
}

void cdx_ready_free(struct cdx_ready *q)
{
	free(q->heap);
	memset(q, 0, sizeof(*q));
}

/* ---- list-scheduling simulation ------------------------------------------ */

struct running {
	double end;
	uint32_t job;
};

static void run_push(struct running *h, size_t *n, struct running r)
{
	size_t i = (*n)++;
	while (i > 0 && (h[(i - 1) / 2].end > r.end || (h[(i - 1) / 2].end == r.end && h[(i - 1) / 2].job > r.job))) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = r;
}

static struct running run_pop(struct running *h, size_t *n)
{
	struct running top = h[0], last = h[--(*n)];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && (h[c + 1].end < h[c].end || (h[c + 1].end == h[c].end && h[c + 1].job < h[c].job)))
			c++;
		if (h[c].end > last.end || (h[c].end == last.end && h[c].job > last.job))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

/* finish node V: release what waits for it; stage nodes finish at once */
static void release(const struct cdx_dag *d, uint32_t v, uint32_t *left, struct cdx_ready *q, uint32_t *stack)
{
	size_t sp = 0;
	stack[sp++] = v;
	while (sp) {
		uint32_t u = stack[--sp], e;
		for (e = d->succ_off[u]; e < d->succ_off[u + 1]; e++) {
			uint32_t s = d->succ[e];
			if (--left[s])
				continue;
			if (s < d->n_jobs)
				cdx_ready_push(q, s);
			else
				stack[sp++] = s;
		}
	}
}

double cdx_dag_simulate(const struct cdx_dag *d, const double *w, const double *prio, unsigned workers,
			double *start, size_t *order)
{
	uint32_t *left = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	uint32_t *stack = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	struct running *run = cdx_xcalloc((size_t)workers + 1, sizeof(*run));
	struct cdx_ready q;
	size_t nrun = 0, started = 0, v;
	double now = 0, makespan = 0;

	if (!workers)
		workers = 1;
	cdx_ready_init(&q, prio);
	for (v = 0; v < d->n_nodes; v++)
		left[v] = d->pred_off[v + 1] - d->pred_off[v];
	for (v = 0; v < d->n_nodes; v++)
		if (!left[v]) {
			if (v < d->n_jobs)
				cdx_ready_push(&q, (uint32_t)v);
			else
				release(d, (uint32_t)v, left, &q, stack);
		}
	while (q.n || nrun) {
		while (q.n && nrun < workers) {
			uint32_t j = cdx_ready_pop(&q);
			struct running r = {now + w[j], j};
			start[j] = now;
			if (order)
				order[started] = j;
			started++;
			run_push(run, &nrun, r);
		}
		if (nrun) {
			/* everything that ends at this moment releases its
			 * successors before a worker is given new work */
			struct running r = run_pop(run, &nrun);
			now = r.end;
			if (now > makespan)
				makespan = now;
			release(d, r.job, left, &q, stack);
			while (nrun && run[0].end == now)
				release(d, run_pop(run, &nrun).job, left, &q, stack);
		}
	}
	cdx_ready_free(&q);
	free(left);
	free(stack);
	free(run);
	return makespan;
}
