/* pipeline_needs.c — references between stages and jobs.
 *
 * Stage names and job ids ("STAGE/JOB") are indexed once; every `needs`
 * entry is resolved to indexes: a stage, a job, or the jobs of a matrix by
 * their base name (STAGE/BASE: all of them).  An unknown reference is
 * reported with the closest name (the job of that name in another stage
 * first).  Stage needs name stages only; the implicit previous-stage
 * edges count for stage cycles, which are reported with their path
 * (a -> b -> a) at the `needs` entry that closes the cycle (b's "a").  Job
 * cycles are dag.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline/loader.h"

struct index {
	struct cdx_map stages; /* stage name -> index */
	struct cdx_map jobs;   /* job id -> index */
	struct cdx_map bases;  /* "STAGE/BASE" of matrix jobs -> first index */
	char **base_ids;       /* keys of bases (owned) */
	size_t n_base_ids, cap_base_ids;
};

static void index_free(struct index *x)
{
	size_t i;
	cdx_map_free(&x->stages);
	cdx_map_free(&x->jobs);
	cdx_map_free(&x->bases);
	for (i = 0; i < x->n_base_ids; i++)
		free(x->base_ids[i]);
	free(x->base_ids);
}

static void build_index(struct cdx_loader *l, struct index *x)
{
	struct cdx_pipeline *p = l->p;
	size_t i, old;
	cdx_map_reserve(&x->stages, p->n_stages);
	cdx_map_reserve(&x->jobs, p->n_jobs);
	for (i = 0; i < p->n_stages; i++) {
		struct cdx_stage *s = &p->stages[i];
		if (!cdx_map_put(&x->stages, s->name, i, &old))
			cdx_cfg_problem_at(&l->c, s->file, s->line, s->col,
					   "duplicate stage '%s' (first at line %d)", s->name,
					   p->stages[old].line);
	}
	for (i = 0; i < p->n_jobs; i++) {
		struct cdx_job *j = &p->jobs[i];
		const char *sn = p->stages[j->stage].name;
		size_t ls = strlen(sn), lj = strlen(j->name);
		j->id = cdx_arena_alloc(&p->pool, ls + lj + 2);
		memcpy(j->id, sn, ls);
		j->id[ls] = '/';
		memcpy(j->id + ls + 1, j->name, lj);
		if (!cdx_map_put(&x->jobs, j->id, i, &old))
			cdx_cfg_problem_at(&l->c, j->file, j->line, j->col,
					   "duplicate job '%s' (first at line %d)", j->id, p->jobs[old].line);
		if (j->matrix_base) {
			char *bid = cdx_xasprintf("%s/%s", p->stages[j->stage].name, j->matrix_base);
			if (cdx_map_put(&x->bases, bid, i, NULL))
				CDX_PUSH(x->base_ids, x->n_base_ids, x->cap_base_ids, bid);
			else
				free(bid);
		}
	}
}

static void unknown_ref(struct cdx_loader *l, const struct cdx_need *n, bool stage_only)
{
	const struct cdx_pipeline *p = l->p;
	const char **cands = cdx_xcalloc(p->n_stages + p->n_jobs + 1, sizeof(char *));
	size_t nc = 0, i;
	const char *near;
	bool is_job = strchr(n->ref, '/') != NULL;
	for (i = 0; i < p->n_stages; i++)
		cands[nc++] = p->stages[i].name;
	if (!stage_only)
		for (i = 0; i < p->n_jobs; i++)
			if (p->jobs[i].id && (is_job || strcmp(p->jobs[i].name, n->ref) == 0))
				cands[nc++] = is_job ? p->jobs[i].id : p->jobs[i].id;
	near = NULL;
	if (!is_job && !stage_only)
		for (i = 0; i < p->n_jobs && !near; i++)
			if (strcmp(p->jobs[i].name, n->ref) == 0)
				near = p->jobs[i].id;
	if (!near)
		near = cdx_closest(n->ref, cands, nc);
	cdx_cfg_problem_at(&l->c, n->file, n->line, n->col, "unknown %s '%s' in needs%s%s%s",
			   is_job ? "job" : "stage", n->ref, near ? " (did you mean '" : "", near ? near : "",
			   near ? "'?)" : "");
	free(cands);
}

static void resolve_needs(struct cdx_loader *l, struct index *x, struct cdx_need *needs, size_t n,
			  bool stage_only)
{
	size_t i, v;
	for (i = 0; i < n; i++) {
		struct cdx_need *nd = &needs[i];
		const char *slash = strchr(nd->ref, '/');
		if (!slash) {
			if (cdx_map_get(&x->stages, nd->ref, &v))
				nd->stage = v;
			else
				unknown_ref(l, nd, stage_only);
			continue;
		}
		if (stage_only) {
			cdx_cfg_problem_at(
			    &l->c, nd->file, nd->line, nd->col,
			    "stage needs name stages, not jobs: '%s' (move it to the job's needs)", nd->ref);
			continue;
		}
		if (cdx_map_get(&x->jobs, nd->ref, &v)) {
			nd->job = v;
			nd->njobs = 1;
			nd->stage = l->p->jobs[v].stage;
		} else if (cdx_map_get(&x->bases, nd->ref, &v)) {
			size_t k = v;
			nd->job = v;
			nd->stage = l->p->jobs[v].stage;
			while (k < l->p->n_jobs && l->p->jobs[k].matrix_base &&
			       l->p->jobs[k].stage == nd->stage &&
			       strncmp(l->p->jobs[k].matrix_base, slash + 1, strlen(slash + 1) + 1) == 0)
				k++;
			nd->njobs = k - v;
		} else {
			unknown_ref(l, nd, false);
		}
	}
}

/* report_cycle: the DFS path STACK[0 .. DEPTH) (EDGE[k] - 1 the need of
 * STACK[k] it follows) went back to NEXT.  The cycle is reported at the
 * `needs` entry that closes it: the last explicit edge of the path (an
 * implicit previous-stage edge has no entry to point at, and every cycle
 * has an explicit edge, since implicit ones only go backwards), the cycle
 * spelled from the stage that entry names round to it again. */
static void report_cycle(struct cdx_loader *l, const size_t *stack, const size_t *edge, size_t depth,
			 size_t next)
{
	const struct cdx_pipeline *p = l->p;
	const struct cdx_need *closing;
	struct cdx_buf cyc = {0};
	size_t first = 0, m, i, at;
	while (stack[first] != next)
		first++;
	m = depth - first; /* stages in the cycle: stack[first .. depth) */
	at = m - 1;        /* the last one whose edge is explicit */
	while (at > 0 && !p->stages[stack[first + at]].has_needs)
		at--;
	closing = &p->stages[stack[first + at]].needs[edge[first + at] - 1];
	for (i = 1; i <= m; i++)
		cdx_buf_printf(&cyc, "%s -> ", p->stages[stack[first + (at + i) % m]].name);
	cdx_buf_adds(&cyc, p->stages[stack[first + (at + 1) % m]].name);
	cdx_cfg_problem_at(&l->c, closing->file, closing->line, closing->col, "stage cycle: %s", cyc.data);
	cdx_buf_free(&cyc);
}

void cdx_loader_stage_cycles(struct cdx_loader *l)
{
	struct cdx_pipeline *p = l->p;
	size_t n = p->n_stages, s;
	unsigned char *state = cdx_xcalloc(n ? n : 1, 1);
	size_t *stack = cdx_xcalloc(n ? n : 1, sizeof(size_t)),
	       *edge = cdx_xcalloc(n ? n : 1, sizeof(size_t));
	bool reported = false;
	/* iterative DFS over "needs" edges */
	for (s = 0; s < n && !reported; s++) {
		size_t depth = 0;
		if (state[s])
			continue;
		stack[depth] = s;
		edge[depth] = 0;
		state[s] = 1;
		depth = 1;
		while (depth && !reported) {
			size_t u = stack[depth - 1], e = edge[depth - 1]++, next;
			const struct cdx_stage *st = &p->stages[u];
			size_t ne = st->has_needs ? st->n_needs : (u > 0 ? 1 : 0);
			if (e >= ne) {
				state[u] = 2;
				depth--;
				continue;
			}
			next = st->has_needs ? st->needs[e].stage : u - 1;
			if (next == CDX_NONE)
				continue;
			if (state[next] == 1) {
				report_cycle(l, stack, edge, depth, next);
				reported = true;
			} else if (!state[next]) {
				state[next] = 1;
				stack[depth] = next;
				edge[depth] = 0;
				depth++;
			}
		}
	}
	free(state);
	free(stack);
	free(edge);
}

void cdx_loader_needs(struct cdx_loader *l)
{
	struct cdx_pipeline *p = l->p;
	struct index x = {0};
	size_t i;
	build_index(l, &x);
	for (i = 0; i < p->n_stages; i++)
		resolve_needs(l, &x, p->stages[i].needs, p->stages[i].n_needs, true);
	for (i = 0; i < p->n_jobs; i++)
		resolve_needs(l, &x, p->jobs[i].needs, p->jobs[i].n_needs, false);
	index_free(&x);
}
