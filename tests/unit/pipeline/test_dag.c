/* test_dag.c — dag.c: the graph built from a pipeline (job nodes, stage
 * barrier nodes), topological order, priorities (longest remaining path),
 * the ready queue's ordering rule (ties by file order), critical path,
 * levels, list-scheduling simulation, cycle messages, and the plan JSON. */
#include "fixtures.h"

#include <cjson/cJSON.h>

#include "pipeline/dag.h"
#include "base/diag.h"
#include "pipeline/pipeline.h"

/* ---- helpers ------------------------------------------------------------- */

static struct cdx_pipeline *load(const char *text)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem("dag.yml", text, strlen(text), d);
	if (!p) {
		size_t i;
		struct cdx_buf b = {0};
		for (i = 0; i < cdx_diags_count(d) && cdx_diags_get(d, i); i++) {
			cdx_buf_reset(&b);
			cdx_diag_format(cdx_diags_get(d, i), &b);
			print_message("  %s\n", b.data);
		}
		cdx_buf_free(&b);
		cdx_diags_free(d);
		fail_msg("pipeline did not load");
	}
	cdx_diags_free(d);
	assert_non_null(p->dag);
	return p;
}

static size_t idx(const struct cdx_pipeline *p, const char *id)
{
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		if (strcmp(p->jobs[i].id, id) == 0)
			return i;
	fail_msg("no job %s", id);
	return 0;
}

/* weights of P's jobs (duration_hint, else 1 s), in a new array */
static double *weights(const struct cdx_pipeline *p)
{
	double *w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		w[i] = cdx_pipeline_weight_ms(p, i);
	return w;
}

static double *priorities(const struct cdx_pipeline *p, const double *w)
{
	double *prio = cdx_xcalloc(p->dag->n_nodes + 1, sizeof(double));
	cdx_dag_priority(p->dag, w, prio);
	return prio;
}

/* simulate P on WORKERS; fills START and the job ids in start order as
 * "a b c" into ORDER (room for 4096); returns the makespan in seconds */
static double simulate(const struct cdx_pipeline *p, unsigned workers, double *start, char *order)
{
	double *w = weights(p), *prio = priorities(p, w), span;
	size_t *ord = cdx_xcalloc(p->n_jobs + 1, sizeof(size_t)), i;
	double *st = start ? start : cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	span = cdx_dag_simulate(p->dag, w, prio, workers, st, ord);
	if (order) {
		order[0] = '\0';
		for (i = 0; i < p->n_jobs; i++) {
			if (i)
				strcat(order, " ");
			strcat(order, strchr(p->jobs[ord[i]].id, '/') + 1);
		}
	}
	if (!start)
		free(st);
	free(ord);
	free(w);
	free(prio);
	return span / 1000;
}

/* does node U appear among the predecessors of node V? */
static bool has_pred(const struct cdx_dag *d, uint32_t v, uint32_t u)
{
	uint32_t e;
	for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
		if (d->pred[e] == u)
			return true;
	return false;
}

static size_t npred(const struct cdx_dag *d, uint32_t v)
{
	return d->pred_off[v + 1] - d->pred_off[v];
}

/* ---- structure ----------------------------------------------------------- */

static const char two_stages[] = "stages:\n"
				 "  - name: s1\n"
				 "    jobs:\n"
				 "      - {name: a, script: x}\n"
				 "      - {name: b, script: x, duration_hint: 3s}\n"
				 "  - name: s2\n"
				 "    jobs:\n"
				 "      - {name: c, script: x}\n"
				 "      - {name: d, script: x, needs: [s1/a]}\n"
				 "      - {name: e, script: x, needs: []}\n";

static void stage_nodes(void **state)
{
	struct cdx_pipeline *p = load(two_stages);
	const struct cdx_dag *d = p->dag;
	uint32_t s1 = 5, s2 = 6;
	(void)state;
	assert_int_equal(d->n_jobs, 5);
	assert_int_equal(d->n_stages, 2);
	assert_int_equal(d->n_nodes, 7);
	/* a stage node waits for every job of its stage, and for nothing else */
	assert_int_equal(npred(d, s1), 2);
	assert_true(has_pred(d, s1, 0));
	assert_true(has_pred(d, s1, 1));
	assert_int_equal(npred(d, s2), 3);
	assert_true(has_pred(d, s2, 2) && has_pred(d, s2, 3) && has_pred(d, s2, 4));
	/* a job without needs waits for the previous stage's node: one edge */
	assert_int_equal(npred(d, 2), 1);
	assert_true(has_pred(d, 2, s1));
	/* job needs replace the stage order */
	assert_int_equal(npred(d, 3), 1);
	assert_true(has_pred(d, 3, 0));
	assert_int_equal(npred(d, 4), 0);
	/* first-stage jobs wait for nothing */
	assert_int_equal(npred(d, 0), 0);
	cdx_pipeline_free(p);
}

static void stage_needs_edges(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - {name: a, jobs: [{name: j, script: x}]}\n"
				      "  - {name: b, needs: [], jobs: [{name: j, script: x}]}\n"
				      "  - {name: c, needs: [a, b], jobs: [{name: j, script: x}, {name: k, script: x}]}\n");
	const struct cdx_dag *d = p->dag;
	uint32_t na = 4, nb = 5;
	(void)state;
	assert_int_equal(npred(d, 1), 0); /* b/j: needs [] */
	assert_int_equal(npred(d, 2), 2);
	assert_true(has_pred(d, 2, na) && has_pred(d, 2, nb));
	assert_int_equal(npred(d, 3), 2);
	cdx_pipeline_free(p);
}

static void topological_order(void **state)
{
	struct cdx_pipeline *p = load(two_stages);
	const struct cdx_dag *d = p->dag;
	size_t *pos = cdx_xcalloc(d->n_nodes, sizeof(size_t)), i;
	bool *seen = cdx_xcalloc(d->n_nodes, sizeof(bool));
	uint32_t v, e;
	(void)state;
	for (i = 0; i < d->n_nodes; i++) {
		assert_true(d->topo[i] < d->n_nodes);
		assert_false(seen[d->topo[i]]);
		seen[d->topo[i]] = true;
		pos[d->topo[i]] = i;
	}
	for (v = 0; v < d->n_nodes; v++)
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
			assert_true(pos[d->pred[e]] < pos[v]);
	/* successors mirror predecessors */
	for (v = 0; v < d->n_nodes; v++)
		for (e = d->succ_off[v]; e < d->succ_off[v + 1]; e++)
			assert_true(has_pred(d, d->succ[e], v));
	assert_int_equal(d->succ_off[d->n_nodes], d->pred_off[d->n_nodes]);
	free(pos);
	free(seen);
	cdx_pipeline_free(p);
}

/* ---- priorities and the ordering rule ------------------------------------ */

static void priorities_longest_remaining_path(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: a, script: x, duration_hint: 1s}\n"
				      "      - {name: b, script: x, duration_hint: 2s, needs: [s/a]}\n"
				      "      - {name: c, script: x, duration_hint: 3s, needs: [s/b]}\n"
				      "      - {name: d, script: x, duration_hint: 10s, needs: [s/a]}\n"
				      "      - {name: e, script: x, duration_hint: 500ms}\n");
	double *w = weights(p), *prio = priorities(p, w);
	(void)state;
	assert_true(prio[idx(p, "s/c")] == 3000);
	assert_true(prio[idx(p, "s/b")] == 5000);
	assert_true(prio[idx(p, "s/d")] == 10000);
	assert_true(prio[idx(p, "s/a")] == 11000); /* own weight + the heavier branch */
	assert_true(prio[idx(p, "s/e")] == 500);
	assert_true(prio[p->n_jobs] == 0); /* a stage node weighs nothing */
	free(w);
	free(prio);
	cdx_pipeline_free(p);
}

static void priorities_through_stage_barrier(void **state)
{
	struct cdx_pipeline *p = load(two_stages);
	double *w = weights(p), *prio = priorities(p, w);
	(void)state;
	/* s2/c (1 s) waits for all of s1 */
	assert_true(prio[idx(p, "s1/b")] == 4000);
	assert_true(prio[idx(p, "s1/a")] == 2000); /* a -> d, or a -> s1 -> c */
	assert_true(prio[5] == 1000);              /* the node of s1 */
	assert_true(prio[idx(p, "s2/e")] == 1000);
	free(w);
	free(prio);
	cdx_pipeline_free(p);
}

static void ready_queue_ties_by_file_order(void **state)
{
	double prio[8] = {5, 7, 5, 7, 1, 5, 7, 0};
	struct cdx_ready q;
	uint32_t want[] = {1, 3, 6, 0, 2, 5, 4, 7};
	uint32_t push[] = {5, 7, 2, 6, 0, 4, 3, 1};
	size_t i;
	(void)state;
	cdx_ready_init(&q, prio);
	for (i = 0; i < 8; i++)
		cdx_ready_push(&q, push[i]);
	assert_int_equal(q.n, 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(cdx_ready_pop(&q), want[i]);
	assert_int_equal(q.n, 0);
	/* interleaved pushes and pops */
	cdx_ready_push(&q, 4);
	cdx_ready_push(&q, 2);
	assert_int_equal(cdx_ready_pop(&q), 2);
	cdx_ready_push(&q, 0);
	cdx_ready_push(&q, 1);
	assert_int_equal(cdx_ready_pop(&q), 1);
	assert_int_equal(cdx_ready_pop(&q), 0);
	assert_int_equal(cdx_ready_pop(&q), 4);
	cdx_ready_free(&q);
}

static void ready_queue_many(void **state)
{
	/* 1000 jobs in pseudo-random order come out by priority, then index */
	double *prio = cdx_xcalloc(1000, sizeof(double));
	struct cdx_ready q;
	uint32_t i, prev, cur;
	(void)state;
	for (i = 0; i < 1000; i++)
		prio[i] = (double)(i % 7);
	cdx_ready_init(&q, prio);
	for (i = 0; i < 1000; i++)
		cdx_ready_push(&q, (i * 389 + 17) % 1000); /* 389 is coprime with 1000 */
	prev = cdx_ready_pop(&q);
	for (i = 1; i < 1000; i++) {
		cur = cdx_ready_pop(&q);
		assert_true(prio[prev] > prio[cur] || (prio[prev] == prio[cur] && prev < cur));
		prev = cur;
	}
	cdx_ready_free(&q);
	free(prio);
}

/* ---- critical path and levels -------------------------------------------- */

static const char diamond[] = "stages:\n"
			      "  - name: s\n"
			      "    jobs:\n"
			      "      - {name: a, script: x, duration_hint: 1s}\n"
			      "      - {name: b, script: x, duration_hint: 5s, needs: [s/a]}\n"
			      "      - {name: c, script: x, duration_hint: 2s, needs: [s/a]}\n"
			      "      - {name: d, script: x, duration_hint: 1s, needs: [s/b, s/c]}\n"
			      "      - {name: lone, script: x, duration_hint: 6s}\n";

static void critical_path(void **state)
{
	struct cdx_pipeline *p = load(diamond);
	double *w = weights(p), len = 0;
	size_t path[8], n;
	(void)state;
	n = cdx_dag_critical_path(p->dag, w, path, &len);
	assert_int_equal(n, 3);
	assert_int_equal(path[0], idx(p, "s/a"));
	assert_int_equal(path[1], idx(p, "s/b"));
	assert_int_equal(path[2], idx(p, "s/d"));
	assert_true(len == 7000);
	free(w);
	cdx_pipeline_free(p);
}

static void critical_path_ties_and_stages(void **state)
{
	/* equal branches: the earlier job in the file; the path crosses the
	 * stage barrier and lists jobs only */
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s1\n"
				      "    jobs:\n"
				      "      - {name: x, script: x, duration_hint: 2s}\n"
				      "      - {name: y, script: x, duration_hint: 2s}\n"
				      "  - name: s2\n"
				      "    jobs:\n"
				      "      - {name: z, script: x, duration_hint: 2s}\n"
				      "      - {name: w, script: x, duration_hint: 2s}\n");
	double *w = weights(p), len = 0;
	size_t path[8], n;
	(void)state;
	n = cdx_dag_critical_path(p->dag, w, path, &len);
	assert_int_equal(n, 2);
	assert_int_equal(path[0], idx(p, "s1/x"));
	assert_int_equal(path[1], idx(p, "s2/z"));
	assert_true(len == 4000);
	free(w);
	cdx_pipeline_free(p);
}

static void levels_and_width(void **state)
{
	struct cdx_pipeline *p = load(diamond);
	size_t level[8];
	cJSON *plan;
	(void)state;
	assert_int_equal(cdx_dag_levels(p->dag, level), 3);
	assert_int_equal(level[idx(p, "s/a")], 1);
	assert_int_equal(level[idx(p, "s/b")], 2);
	assert_int_equal(level[idx(p, "s/c")], 2);
	assert_int_equal(level[idx(p, "s/d")], 3);
	assert_int_equal(level[idx(p, "s/lone")], 1);
	plan = cdx_pipeline_plan(p, 2);
	assert_int_equal(cJSON_GetObjectItem(plan, "levels")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(plan, "max_parallelism")->valueint, 2);
	cJSON_Delete(plan);
	cdx_pipeline_free(p);

	/* through a stage barrier: one level per stage; width is the widest */
	p = load(two_stages);
	assert_int_equal(cdx_dag_levels(p->dag, level), 2);
	assert_int_equal(level[idx(p, "s2/c")], 2);
	assert_int_equal(level[idx(p, "s2/d")], 2);
	assert_int_equal(level[idx(p, "s2/e")], 1);
	plan = cdx_pipeline_plan(p, 1);
	assert_int_equal(cJSON_GetObjectItem(plan, "max_parallelism")->valueint, 3);
	cJSON_Delete(plan);
	cdx_pipeline_free(p);
}

/* ---- simulation ---------------------------------------------------------- */

static const char fork_join[] = "stages:\n"
				"  - {name: fork, jobs: [{name: a, script: x}]}\n"
				"  - name: work\n"
				"    jobs:\n"
				"      - {name: b1, script: x}\n"
				"      - {name: b2, script: x}\n"
				"      - {name: b3, script: x}\n"
				"      - {name: b4, script: x}\n"
				"  - {name: join, jobs: [{name: z, script: x}]}\n";

static void simulate_fork_join(void **state)
{
	struct cdx_pipeline *p = load(fork_join);
	double start[8];
	char order[4096];
	(void)state;
	assert_true(simulate(p, 1, start, order) == 6);
	assert_string_equal(order, "a b1 b2 b3 b4 z");
	assert_true(simulate(p, 2, start, order) == 4);
	assert_string_equal(order, "a b1 b2 b3 b4 z");
	assert_true(start[idx(p, "work/b1")] == 1000 && start[idx(p, "work/b2")] == 1000);
	assert_true(start[idx(p, "work/b3")] == 2000 && start[idx(p, "work/b4")] == 2000);
	assert_true(start[idx(p, "join/z")] == 3000);
	assert_true(simulate(p, 3, start, order) == 4); /* 4 branches on 3 workers */
	assert_true(simulate(p, 4, start, order) == 3);
	assert_true(simulate(p, 64, start, order) == 3);
	assert_true(simulate(p, 0, start, order) == 6); /* 0 workers means 1 */
	cdx_pipeline_free(p);
}

static void simulate_chain_and_fan_out(void **state)
{
	/* three independent jobs come first in the file, then a chain of
	 * three; on 2 workers the longest-path rule starts the chain at once
	 * and reaches the optimum, 3 s (file order alone would take 4 s) */
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: x1, script: x}\n"
				      "      - {name: x2, script: x}\n"
				      "      - {name: x3, script: x}\n"
				      "      - {name: c1, script: x}\n"
				      "      - {name: c2, script: x, needs: [s/c1]}\n"
				      "      - {name: c3, script: x, needs: [s/c2]}\n");
	double start[8];
	char order[4096];
	(void)state;
	assert_true(simulate(p, 2, start, order) == 3);
	assert_string_equal(strstr(order, "c1"), order); /* the chain's head first */
	assert_true(start[idx(p, "s/c1")] == 0);
	assert_true(start[idx(p, "s/c2")] == 1000);
	assert_true(start[idx(p, "s/c3")] == 2000);
	assert_true(simulate(p, 1, start, order) == 6);
	assert_true(simulate(p, 3, start, order) == 3);
	cdx_pipeline_free(p);
}

static void simulate_is_greedy_list_scheduling(void **state)
{
	/* independent jobs of 3, 3, 2, 2, 2 s on 2 workers: the optimum is 6 s
	 * ({3,3} and {2,2,2}); longest-first list scheduling gives 7 s.  The
	 * simulation predicts what cdx run will do, not the optimum. */
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: c, script: x, duration_hint: 2s}\n"
				      "      - {name: a, script: x, duration_hint: 3s}\n"
				      "      - {name: d, script: x, duration_hint: 2s}\n"
				      "      - {name: b, script: x, duration_hint: 3s}\n"
				      "      - {name: e, script: x, duration_hint: 2s}\n");
	double start[8];
	char order[4096];
	(void)state;
	assert_true(simulate(p, 2, start, order) == 7);
	assert_string_equal(order, "a b c d e");
	assert_true(start[idx(p, "s/e")] == 5000);
	cdx_pipeline_free(p);
}

static void simulate_stage_barrier(void **state)
{
	struct cdx_pipeline *p = load(two_stages);
	double start[8];
	char order[4096];
	(void)state;
	/* s1: a 1 s, b 3 s; s2/c waits for the whole of s1, s2/d only for a,
	 * s2/e for nothing */
	assert_true(simulate(p, 8, start, order) == 4);
	assert_true(start[idx(p, "s2/c")] == 3000);
	assert_true(start[idx(p, "s2/d")] == 1000);
	assert_true(start[idx(p, "s2/e")] == 0);
	/* on 2 workers: b (4 s of path) and a (2 s) first, e when a is done */
	assert_true(simulate(p, 2, start, order) == 4);
	assert_string_equal(order, "b a d e c");
	assert_true(start[idx(p, "s2/d")] == 1000);
	assert_true(start[idx(p, "s2/e")] == 2000);
	assert_true(start[idx(p, "s2/c")] == 3000);
	cdx_pipeline_free(p);
}

static void simulate_simultaneous_completions(void **state)
{
	/* j0 and j1 both end at 1 s.  Jobs ready at that instant are j3 (path
	 * 1 s), j4 and j5 (3 s each, released by j1); two workers are free.
	 * The ordering rule starts j4 and j5, for a makespan of 4 s (the lower
	 * bound).  KNOWN ISSUE: cdx_dag_simulate() handles the completions one
	 * at a time and fills the first free worker with j3 before j1's
	 * completion has released j4 and j5, predicting 5 s. */
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: j0, script: x, duration_hint: 1s}\n"
				      "      - {name: j1, script: x, duration_hint: 1s}\n"
				      "      - {name: j2, script: x, duration_hint: 2s}\n"
				      "      - {name: j3, script: x, duration_hint: 1s}\n"
				      "      - {name: j4, script: x, duration_hint: 3s, needs: [s/j1]}\n"
				      "      - {name: j5, script: x, duration_hint: 3s, needs: [s/j1]}\n");
	double start[8], span;
	(void)state;
	span = simulate(p, 3, start, NULL);
	assert_true(span == 4);
	assert_true(start[idx(p, "s/j4")] == 1000);
	assert_true(start[idx(p, "s/j5")] == 1000);
	assert_true(start[idx(p, "s/j3")] == 2000);
	cdx_pipeline_free(p);
}

static void simulate_zero_weights(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - {name: s1, jobs: [{name: a, script: x, duration_hint: 0}]}\n"
				      "  - {name: s2, jobs: [{name: b, script: x, duration_hint: 0}]}\n");
	double start[4];
	(void)state;
	assert_true(simulate(p, 1, start, NULL) == 0);
	assert_true(start[0] == 0 && start[1] == 0);
	cdx_pipeline_free(p);
}

/* ---- cycles -------------------------------------------------------------- */

static void expect_cycle(const char *text, int line, int col, const char *msg)
{
	struct cdx_diags *d = cdx_diags_new();
	const struct cdx_diag *g;
	assert_null(cdx_pipeline_load_mem("dag.yml", text, strlen(text), d));
	assert_int_equal(cdx_diags_count(d), 1);
	g = cdx_diags_get(d, 0);
	assert_string_equal(g->msg, msg);
	assert_int_equal(g->line, line);
	assert_int_equal(g->col, col);
	cdx_diags_free(d);
}

static void cycle_messages(void **state)
{
	(void)state;
	expect_cycle("stages:\n"
		     "  - name: s\n"
		     "    jobs:\n"
		     "      - {name: a, script: x, needs: [s/c]}\n"
		     "      - {name: b, script: x, needs: [s/a]}\n"
		     "      - {name: c, script: x, needs: [s/b]}\n",
		     4, 16, "job cycle: s/a -> s/c -> s/b -> s/a");
	/* spelled from the earliest job of the cycle, whatever the entry point;
	 * jobs that merely wait for the cycle are left out */
	expect_cycle("stages:\n"
		     "  - name: s\n"
		     "    jobs:\n"
		     "      - {name: tail, script: x, needs: [s/q]}\n"
		     "      - {name: p, script: x, needs: [s/q]}\n"
		     "      - {name: q, script: x, needs: [s/p]}\n",
		     5, 16, "job cycle: s/p -> s/q -> s/p");
	expect_cycle("stages:\n"
		     "  - name: s\n"
		     "    jobs:\n"
		     "      - {name: self, script: x, needs: [s/self]}\n",
		     4, 16, "job cycle: s/self -> s/self");
	/* across stages: the earlier stage's job needs a later one */
	expect_cycle("stages:\n"
		     "  - {name: s1, jobs: [{name: a, script: x, needs: [s2/b]}]}\n"
		     "  - {name: s2, jobs: [{name: b, script: x, needs: [s1/a]}]}\n",
		     2, 30, "job cycle: s1/a -> s2/b -> s1/a");
}

static void stage_cycle_messages(void **state)
{
	(void)state;
	expect_cycle("stages:\n"
		     "  - {name: a, needs: [c], jobs: [{name: j, script: x}]}\n"
		     "  - {name: b, jobs: [{name: j, script: x}]}\n"
		     "  - {name: c, jobs: [{name: j, script: x}]}\n",
		     2, 23, "stage cycle: c -> b -> a -> c");
	/* at the needs entry that closes it (a fixed defect: at the stage's
	 * name); implicit edges have no entry, the cycle turns to the last
	 * explicit one above */
	expect_cycle("stages:\n"
		     "  - {name: a, needs: [b], jobs: [{name: j, script: x}]}\n"
		     "  - {name: b, needs: [c], jobs: [{name: j, script: x}]}\n"
		     "  - {name: c, needs: [x, a], jobs: [{name: j, script: x}]}\n"
		     "  - {name: x, needs: [], jobs: [{name: j, script: x}]}\n",
		     4, 26, "stage cycle: a -> b -> c -> a");
}

/* ---- the plan ------------------------------------------------------------ */

static void plan_json(void **state)
{
	struct cdx_pipeline *p = load(diamond);
	cJSON *plan = cdx_pipeline_plan(p, 2), *order, *cp, *first, *it;
	int i = 0;
	(void)state;
	assert_non_null(plan);
	assert_string_equal(cJSON_GetObjectItem(plan, "pipeline")->valuestring, "dag");
	assert_int_equal(cJSON_GetObjectItem(plan, "jobs")->valueint, 5);
	assert_int_equal(cJSON_GetObjectItem(plan, "stages")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(plan, "workers")->valueint, 2);
	assert_true(cJSON_GetObjectItem(plan, "total_work_s")->valuedouble == 15);
	assert_true(cJSON_GetObjectItem(plan, "critical_path_s")->valuedouble == 7);
	assert_true(cJSON_GetObjectItem(plan, "lower_bound_s")->valuedouble == 7.5);
	/* a(0-1) lone(0-6); b(1-6); c(6-8); d(8-9) */
	assert_true(cJSON_GetObjectItem(plan, "predicted_makespan_s")->valuedouble == 9);
	cp = cJSON_GetObjectItem(plan, "critical_path");
	assert_int_equal(cJSON_GetArraySize(cp), 3);
	assert_string_equal(cJSON_GetArrayItem(cp, 0)->valuestring, "s/a");
	assert_string_equal(cJSON_GetArrayItem(cp, 2)->valuestring, "s/d");
	order = cJSON_GetObjectItem(plan, "order");
	assert_int_equal(cJSON_GetArraySize(order), 5);
	first = cJSON_GetArrayItem(order, 0);
	assert_string_equal(cJSON_GetObjectItem(first, "job")->valuestring, "s/a");
	assert_true(cJSON_GetObjectItem(first, "priority_s")->valuedouble == 7);
	assert_true(cJSON_GetObjectItem(first, "weight_s")->valuedouble == 1);
	assert_int_equal(cJSON_GetObjectItem(first, "level")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(first, "needs")), 0);
	cJSON_ArrayForEach(it, order)
	{
		static const char *const want[] = {"s/a", "s/lone", "s/b", "s/c", "s/d"};
		assert_string_equal(cJSON_GetObjectItem(it, "job")->valuestring, want[i]);
		i++;
	}
	it = cJSON_GetArrayItem(order, 4);
	assert_true(cJSON_GetObjectItem(it, "start_s")->valuedouble == 8);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(it, "needs")), 2);
	cJSON_Delete(plan);
	/* stage needs show as the stage's name */
	cdx_pipeline_free(p);
	p = load(two_stages);
	plan = cdx_pipeline_plan(p, 1);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(plan, "order"))
	{
		if (strcmp(cJSON_GetObjectItem(it, "job")->valuestring, "s2/c") == 0)
			assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(it, "needs"), 0)->valuestring,
					    "s1");
	}
	cJSON_Delete(plan);
	cdx_pipeline_free(p);
}

static void large_graph_is_linear(void **state)
{
	/* 5 stages of 2000 jobs: stage barriers keep the graph small */
	struct cdx_buf b = {0};
	struct cdx_pipeline *p;
	int s, j;
	double span;
	(void)state;
	cdx_buf_adds(&b, "stages:\n");
	for (s = 0; s < 5; s++) {
		cdx_buf_printf(&b, "  - name: s%d\n    jobs:\n", s);
		for (j = 0; j < 2000; j++)
			cdx_buf_printf(&b, "      - {name: j%d, script: x}\n", j);
	}
	p = load(b.data);
	assert_int_equal(p->dag->n_nodes, 10005);
	/* 2000 (its stage) + 2000 edges to the next stage node, per stage */
	assert_true(p->dag->pred_off[p->dag->n_nodes] < 4 * 10000);
	span = simulate(p, 100, NULL, NULL);
	assert_true(span == 100); /* 5 stages x 2000 jobs / 100 workers x 1 s */
	cdx_pipeline_free(p);
	cdx_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stage_nodes),
		cmocka_unit_test(stage_needs_edges),
		cmocka_unit_test(topological_order),
		cmocka_unit_test(priorities_longest_remaining_path),
		cmocka_unit_test(priorities_through_stage_barrier),
		cmocka_unit_test(ready_queue_ties_by_file_order),
		cmocka_unit_test(ready_queue_many),
		cmocka_unit_test(critical_path),
		cmocka_unit_test(critical_path_ties_and_stages),
		cmocka_unit_test(levels_and_width),
		cmocka_unit_test(simulate_fork_join),
		cmocka_unit_test(simulate_chain_and_fan_out),
		cmocka_unit_test(simulate_is_greedy_list_scheduling),
		cmocka_unit_test(simulate_stage_barrier),
		cmocka_unit_test(simulate_simultaneous_completions),
		cmocka_unit_test(simulate_zero_weights),
		cmocka_unit_test(cycle_messages),
		cmocka_unit_test(stage_cycle_messages),
		cmocka_unit_test(plan_json),
		cmocka_unit_test(large_graph_is_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
