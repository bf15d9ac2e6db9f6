/* rules.c — the make rules of a pipeline, for $(cdx-pipeline FILE).
 *
 * Per job only what differs from job to job goes through make's parser:
 * its rule with its prerequisites (needs first, critical path first: what
 * make starts first; then the order-only one of its lane, lanes.c), and a
 * recipe that names a variable, one per set of command-line overrides
 * (one, usually), which names the job by $@.  The job's definition is
 * written to the spec store by $(cdx--spec) when make expands the recipe,
 * so that reading the makefile costs nothing per job for it and make's
 * variables hold none of it (jobspec.h).  The text goes to make in pieces
 * (eval_piece). */
#include <cjson/cJSON.h>
#include <gnumake.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdx.h"
#include "gmk-plugin/cdx_plugin.h"
#include "exec/decide.h"
#include "pipeline/dag.h"
#include "pipeline/pipeline.h"
#include "pipeline/rules.h"
#include "state/history.h"

/* the names of a pipeline's targets, " NAME/STAGE/JOB" for each job and
 * " NAME/STAGE" for each stage, in DAG node order, in one buffer */
struct target_names {
	struct cdx_buf text;
	size_t *off; /* node V's name is text.data[off[V] .. off[V + 1]) */
};

static void target_names_init(struct target_names *t, const struct cdx_pipeline *p)
{
	const struct cdx_dag *d = p->dag;
	size_t v, nl = strlen(p->name);
	memset(t, 0, sizeof(*t));
	t->off = cdx_xcalloc(d->n_nodes + 1, sizeof(size_t));
	for (v = 0; v < d->n_nodes; v++) {
		const char *s = v < d->n_jobs ? p->jobs[v].id : p->stages[v - d->n_jobs].name;
		t->off[v] = t->text.len;
		cdx_buf_addc(&t->text, ' ');
		cdx_buf_add(&t->text, p->name, nl);
		cdx_buf_addc(&t->text, '/');
		cdx_buf_adds(&t->text, s);
	}
	t->off[d->n_nodes] = t->text.len;
}

static void target_names_free(struct target_names *t)
{
	cdx_buf_free(&t->text);
	free(t->off);
}

/* append " NAME/..." of node V to B */
static void add_target(struct cdx_buf *b, const struct target_names *t, uint32_t v)
{
	cdx_buf_add(b, t->text.data + t->off[v], t->off[v + 1] - t->off[v]);
}

/* qsort_r order: highest priority (longest remaining path) first */
static int cmp_prio(const void *a, const void *b, void *ctx)
{
	const double *sort_prio = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (sort_prio[x] != sort_prio[y])
		return sort_prio[x] > sort_prio[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* " --override NAME" for each variable of V given on make's command line
 * (caller frees) */
static char *overrides_of(const struct cdx_vars *v)
{
	struct cdx_buf b = {0};
	size_t k;
	for (k = 0; k < v->n; k++) {
		char *q = cdx_xasprintf("$(origin %s)", v->v[k].name);
		char *origin = gmk_expand(q);
		if (origin && strcmp(origin, "command line") == 0) {
			cdx_buf_adds(&b, " --override ");
			cdx_buf_adds(&b, v->v[k].name);
		}
		gmk_free(origin);
		free(q);
	}
	return cdx_buf_detach(&b);
}

/* append S to B and free it */
static void free_str(char *s, struct cdx_buf *b)
{
	cdx_buf_adds(b, s);
	free(s);
}

/* make reads rule text in pieces of about this size: gmk_eval copies what
 * it is given, so one piece for 10,000 jobs (a megabyte) would be written
 * three times into fresh pages (text, copy, make's reading), where pieces
 * reuse the same few pages */
#define EVAL_PIECE (64u << 10)

/* hand B to make when it holds a piece's worth of complete lines */
static void eval_piece(struct cdx_buf *b, bool last)
{
	if (!b->len || (!last && b->len < EVAL_PIECE))
		return;
	gmk_eval(b->data, NULL);
	b->len = 0;
	b->data[0] = '\0';
}

/* the recipes of a pipeline's jobs: one per set of command-line overrides */
struct recipes {
	char **groups; /* the override words of each recipe */
	size_t n_groups, cap_groups;
	size_t *group;           /* each job's recipe */
	struct cdx_map group_of; /* override words -> recipe (keys are GROUPS') */
};

static void recipes_free(struct recipes *r)
{
	size_t i;
	for (i = 0; i < r->n_groups; i++)
		free(r->groups[i]);
	free(r->groups);
	free(r->group);
	cdx_map_free(&r->group_of);
}

/* each job's weight W (measured history, else its hint) and priority PRIO
 * (longest remaining path) */
static void job_priorities(const struct cdx_pipeline *p, double *w, double *prio)
{
	char *state = cdx_gmk_state_url();
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		w[i] = cdx_pipeline_weight_ms(p, i);
	cdx_history_weights_at(state, p, w);
	cdx_dag_priority(p->dag, w, prio);
	free(state);
}

/* a variable a rule reads, with its value when make has it from its
 * command line (it counts as a --var) */
static void rule_var(void *ctx, const char *name)
{
	struct cdx_vars *rv = ctx;
	struct cdx_var v = {0};
	char *q, *origin;
	if (cdx_vars_find(rv, name))
		return;
	q = cdx_xasprintf("$(origin %s)", name);
	origin = gmk_expand(q);
	free(q);
	v.name = cdx_xstrdup(name);
	if (origin && strcmp(origin, "command line") == 0) {
		char *x;
		q = cdx_xasprintf("$(%s)", name);
		x = gmk_expand(q);
		v.value = cdx_xstrdup(x ? x : "");
		gmk_free(x);
		free(q);
	}
	gmk_free(origin);
	CDX_PUSH(rv->v, rv->n, rv->cap, v);
}

/* the command-line variables rules read (value NULL: not on it) */
static void rule_vars(const struct cdx_job *jb, struct cdx_vars *rv)
{
	size_t k;
	for (k = 0; jb->rules && k < jb->rules->n; k++)
		if (jb->rules->r[k].cond)
			cdx_expr_vars(jb->rules->r[k].cond, rule_var, rv);
}

/* WHEN[j]: job j's when: as its rules decide it for this make (make's
 * command-line variables count as --vars): a job decided `never` gets no
 * target, and what needs it goes on without it (as cdx run skips it); one
 * decided manual or on_failure is held back as one that says so itself.
 * NULL when no job has rules: and the jobs' own when: hold.  0, or -1
 * after stopping make. */
static int decide_when(const char *func, const struct cdx_pipeline *p, enum cdx_when **when)
{
	struct cdx_vars rv = {0}, given = {0};
	struct cdx_decide_ctx dc;
	struct cdx_job_decision *d;
	struct cdx_error err = {0};
	char *state;
	size_t i;
	bool any = false;
	*when = NULL;
	for (i = 0; i < p->n_jobs; i++) {
		any |= p->jobs[i].rules != NULL;
		rule_vars(&p->jobs[i], &rv);
	}
	if (!any) {
		cdx_vars_free(&rv);
		return 0;
	}
	for (i = 0; i < rv.n; i++)
		if (rv.v[i].value) {
			CDX_PUSH(given.v, given.n, given.cap, rv.v[i]);
			rv.v[i].name = rv.v[i].value = NULL;
		}
	cdx_vars_free(&rv);
	state = cdx_gmk_state_url();
	memset(&dc, 0, sizeof(dc));
	dc.run_vars = &given;
	dc.state = state;
	d = cdx_decide_jobs(p, &dc, &err);
	free(state);
	cdx_vars_free(&given);
	if (!d) {
		cdx_gmk_failf(func, "%s", err.msg);
		return -1;
	}
	*when = cdx_xcalloc(p->n_jobs + 1, sizeof(enum cdx_when));
	for (i = 0; i < p->n_jobs; i++)
		(*when)[i] = d[i].when;
	cdx_decisions_free(d, p->n_jobs);
	return 0;
}

/* the when: of job I, as decided (WHEN, may be NULL) or its own */
static enum cdx_when when_of(const struct cdx_pipeline *p, const enum cdx_when *when, size_t i)
{
	return when ? when[i] : p->jobs[i].when;
}

/* when: under make (as decided: WHEN may be NULL, see decide_when).
 * OUT[j] says job j is no prerequisite of its stage's target, so that
 * `make NAME` does not run it: an on_failure job (the watcher of the run
 * runs it after make when the run failed, cmd_job.c), a manual job (it
 * runs when named: make NAME/STAGE/JOB), and a job that needs a manual job
 * that holds it back (allow_failure: false).  SOFT[j]: job j is a manual
 * job that holds nothing back: what needs it has no prerequisite on it.
 * Both NULL when no job says when: on_failure or manual. */
static void when_targets(const struct cdx_pipeline *p, const enum cdx_when *when, bool **out, bool **soft)
{
	const struct cdx_dag *d = p->dag;
	size_t i;
	bool any = false, changed = true;
	*out = *soft = NULL;
	for (i = 0; i < p->n_jobs; i++)
		any |= when_of(p, when, i) == CDX_WHEN_MANUAL || when_of(p, when, i) == CDX_WHEN_ON_FAILURE;
	if (!any)
		return;
	*out = cdx_xcalloc(p->n_jobs + 1, sizeof(bool));
	*soft = cdx_xcalloc(p->n_jobs + 1, sizeof(bool));
	for (i = 0; i < p->n_jobs; i++) {
		const struct cdx_job *jb = &p->jobs[i];
		enum cdx_when wi = when_of(p, when, i);
		(*out)[i] = wi == CDX_WHEN_MANUAL || wi == CDX_WHEN_ON_FAILURE;
		/* GitLab: a manual job may fail, and holds nothing back, unless
		 * it says allow_failure: false (as in cdx run, its own key) */
		(*soft)[i] = wi == CDX_WHEN_MANUAL && (!jb->has_allow_failure || jb->allow_failure);
	}
	/* what needs a held-back manual job waits for it: out too */
	while (changed) {
		changed = false;
		for (i = 0; i < p->n_jobs; i++) {
			uint32_t e, f;
			if ((*out)[i])
				continue;
			for (e = d->pred_off[i]; e < d->pred_off[i + 1] && !(*out)[i]; e++) {
				uint32_t u = d->pred[e];
				if (u < d->n_jobs) {
					(*out)[i] = (*out)[u] && !(*soft)[u] && when_of(p, when, u) != CDX_WHEN_ON_FAILURE;
					continue;
				}
				for (f = d->pred_off[u]; f < d->pred_off[u + 1]; f++) {
					uint32_t w = d->pred[f];
					if (w < d->n_jobs && (*out)[w] && !(*soft)[w] &&
					    when_of(p, when, w) != CDX_WHEN_ON_FAILURE)
						(*out)[i] = true;
				}
			}
			changed |= (*out)[i];
		}
	}
}

/* a run id for this make and the spec store of L for it; JOB_ARGS gets
 * " --run ID --owner PID" for the recipes; -1 after stopping make */
static int open_specs(const char *func, struct cdx_gmk_loaded *l, char *job_args, size_t size, const bool *out)
{
	const struct cdx_pipeline *p = l->p;
	struct cdx_error err = {0};
	char run_id[64];
	cJSON *extra;
	cdx_run_id_new(run_id, sizeof(run_id));
	if (cdx_jobspec_create(&l->specs, run_id, p->n_jobs, &err) < 0) {
		cdx_gmk_fail(func, err.msg);
		return -1;
	}
	cdx_gmk_note_store(l->specs.fd);
	l->written = cdx_xcalloc(p->n_jobs + 1, sizeof(bool));
	snprintf(job_args, size, " --run %s --owner %ld", run_id, (long)getpid());
	extra = cJSON_CreateObject();
	cJSON_AddStringToObject(extra, "file", p->path);
	cJSON_AddNumberToObject(extra, "jobs", (double)p->n_jobs);
	/* how many jobs this make invocation should run, when the goals say:
	 * the watcher then knows a run that stopped short is not a success */
	cJSON_AddNumberToObject(extra, "expect", (double)cdx_gmk_expected_jobs(p, out));
	if (p->timeout_ms)
		cJSON_AddNumberToObject(extra, "timeout_ms", (double)p->timeout_ms);
	l->extra = cJSON_PrintUnformatted(extra);
	cJSON_Delete(extra);
	return 0;
}

/* the .PHONY targets, the pipeline's rule (its stages) and each stage's
 * rule (its jobs), highest priority first */
static void target_rules(struct cdx_buf *b, const struct cdx_pipeline *p, const struct target_names *names,
			 const double *prio, const bool *never, const bool *out)
{
	const struct cdx_dag *d = p->dag;
	size_t n = p->n_jobs, i, k;
	uint32_t *tmp = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	cdx_buf_printf(b, ".PHONY: %s", p->name);
	for (i = 0; i < d->n_nodes; i++) {
		if (b->len >= EVAL_PIECE) {
			cdx_buf_addc(b, '\n');
			eval_piece(b, false);
		}
		if (!b->len)
			cdx_buf_adds(b, ".PHONY:");
		if (never && i < n && never[i])
			continue;
		add_target(b, names, (uint32_t)i);
	}
	cdx_buf_printf(b, "\n%s:", p->name);
	for (i = 0; i < p->n_stages; i++)
		tmp[i] = (uint32_t)(n + i);
	qsort_r(tmp, p->n_stages, sizeof(uint32_t), cmp_prio, (void *)prio);
	for (i = 0; i < p->n_stages; i++)
		add_target(b, names, tmp[i]);
	cdx_buf_addc(b, '\n');
	for (i = 0; i < p->n_stages; i++) {
		const struct cdx_stage *st = &p->stages[i];
		cdx_buf_add(b, names->text.data + names->off[n + i] + 1,
			    names->off[n + i + 1] - names->off[n + i] - 1);
		cdx_buf_addc(b, ':');
		for (k = 0; k < st->n_jobs; k++)
			tmp[k] = (uint32_t)(st->first_job + k);
		qsort_r(tmp, st->n_jobs, sizeof(uint32_t), cmp_prio, (void *)prio);
		for (k = 0; k < st->n_jobs; k++)
			if ((!never || !never[tmp[k]]) && (!out || !out[tmp[k]]))
				add_target(b, names, tmp[k]);
		cdx_buf_addc(b, '\n');
		eval_piece(b, false);
	}
	free(tmp);
}

/* the override words of job JB of P into OV, NUL-terminated: every
 * variable a job sees may come from make's command line; pipeline and
 * stage variables are asked about once (*PIPE_OVER, STAGE_OVER) */
static void job_overrides(struct cdx_buf *ov, const struct cdx_pipeline *p, const struct cdx_job *jb,
			  char **stage_over, char **pipe_over, bool version_override)
{
	const struct cdx_vars *env = &p->stages[jb->stage].env;
	if (!stage_over[jb->stage]) {
		struct cdx_buf so = {0};
		if (!*pipe_over)
			*pipe_over = overrides_of(&p->vars);
		cdx_buf_adds(&so, *pipe_over);
		free_str(overrides_of(env), &so);
		cdx_buf_addc(&so, '\0'); /* "" rather than NULL when empty */
		stage_over[jb->stage] = cdx_buf_detach(&so);
	}
	cdx_buf_adds(ov, stage_over[jb->stage]);
	if (jb->vars.n)
		free_str(overrides_of(&jb->vars), ov);
	if (jb->rules) { /* what its rules read: `cdx job` decides again */
		struct cdx_vars rv = {0};
		rule_vars(jb, &rv);
		free_str(overrides_of(&rv), ov);
		cdx_vars_free(&rv);
	}
	if (version_override && !cdx_vars_find(&p->vars, "VERSION") && !cdx_vars_find(env, "VERSION") &&
	    !cdx_vars_find(&jb->vars, "VERSION"))
		cdx_buf_adds(ov, " --override VERSION"); /* recorded as the run's version (requires:) */
	cdx_buf_addc(ov, '\0');
}

/* the recipes of L's jobs into R, each defined in B as a variable that
 * every job of its set names: one per set of command-line overrides */
static void define_recipes(struct cdx_buf *b, const struct cdx_gmk_loaded *l, const char *job_args,
			   struct recipes *r)
{
	const struct cdx_pipeline *p = l->p;
	size_t n = p->n_jobs, i;
	size_t *stage_group = cdx_xcalloc(p->n_stages + 1, sizeof(size_t)); /* the recipe of a stage's jobs
										without words of their own */
	char **stage_over = cdx_xcalloc(p->n_stages + 1, sizeof(char *)), *pipe_over = NULL;
	char *vorigin = gmk_expand("$(origin VERSION)");
	bool version_override = vorigin && strcmp(vorigin, "command line") == 0;
	gmk_free(vorigin);
	r->group = cdx_xcalloc(n + 1, sizeof(size_t));
	for (i = 0; i < p->n_stages; i++)
		stage_group[i] = SIZE_MAX;
	for (i = 0; i < n; i++) {
		const struct cdx_job *jb = &p->jobs[i];
		struct cdx_buf ov = {0};
		bool own = jb->vars.n || version_override || jb->rules; /* words of its own */
		size_t g;
		if (!own && stage_group[jb->stage] != SIZE_MAX) {
			r->group[i] = stage_group[jb->stage];
			continue;
		}
		job_overrides(&ov, p, jb, stage_over, &pipe_over, version_override);
		if (!cdx_map_get(&r->group_of, ov.data, &g)) {
			char *key = cdx_buf_detach(&ov);
			g = r->n_groups;
			CDX_PUSH(r->groups, r->n_groups, r->cap_groups, key);
			/* the keys are the groups' own strings, which never move */
			cdx_map_put(&r->group_of, key, g, NULL);
			cdx_buf_printf(b, "cdx--recipe-%zu-%zu = @", l->index, g);
			cdx_buf_adds(b, cdx_gmk_job_cmd());
			/* CDX_EXECUTOR=workers (a make or environment variable, read
			 * when the recipe runs): the job goes to the worker pool */
			cdx_buf_adds(b, "$(if $(filter workers,$(CDX_EXECUTOR)), --workers)");
			cdx_buf_adds(b, job_args); /* " --run ID --owner PID" */
			cdx_buf_adds(b, key);
			/* STAGE/JOB, and its spec written to the store (expands to nothing) */
			cdx_buf_printf(b, " $(@:%s/%%=%%)$(cdx--spec %zu,$@)\n", p->name, l->index);
		}
		cdx_buf_free(&ov);
		r->group[i] = g;
		if (!own)
			stage_group[jb->stage] = g;
	}
	for (i = 0; i < p->n_stages; i++)
		free(stage_over[i]);
	free(stage_over);
	free(pipe_over);
	free(stage_group);
}

/* each job's rule: its needs, critical path first (what make starts
 * first), the job before it in its lane (LANE_PREV) order-only, and its
 * recipe of R */
static void job_rules(struct cdx_buf *b, const struct cdx_gmk_loaded *l, const struct target_names *names,
		      const double *prio, const uint32_t *lane_prev, const struct recipes *r, const bool *never,
		      const bool *soft, const bool *held)
{
	const struct cdx_pipeline *p = l->p;
	const struct cdx_dag *d = p->dag;
	uint32_t *tmp = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	char **recipe_ref = cdx_xcalloc(r->n_groups + 1, sizeof(char *)); /* "\n\t$(...)\n" */
	size_t i;
	for (i = 0; i < r->n_groups; i++)
		recipe_ref[i] = cdx_xasprintf("\n\t$(cdx--recipe-%zu-%zu)\n", l->index, i);
	for (i = 0; i < p->n_jobs; i++) {
		uint32_t e, np = 0;
		if (never && never[i])
			continue;
		cdx_buf_add(b, names->text.data + names->off[i] + 1, names->off[i + 1] - names->off[i] - 1);
		cdx_buf_addc(b, ':');
		for (e = d->pred_off[i]; e < d->pred_off[i + 1]; e++)
			if ((!never || d->pred[e] >= p->n_jobs || !never[d->pred[e]]) &&
			    (!soft || d->pred[e] >= p->n_jobs || !soft[d->pred[e]]))
				tmp[np++] = d->pred[e];
		if (np > 1)
			qsort_r(tmp, np, sizeof(uint32_t), cmp_prio, (void *)prio);
		for (e = 0; e < np; e++)
			add_target(b, names, tmp[e]);
		if (lane_prev[i] != UINT32_MAX && (!never || !never[lane_prev[i]]) &&
		    (!held || !held[lane_prev[i]])) {
			cdx_buf_adds(b, " |");
			add_target(b, names, lane_prev[i]);
		}
		cdx_buf_adds(b, recipe_ref[r->group[i]]);
		eval_piece(b, false);
	}
	for (i = 0; i < r->n_groups; i++)
		free(recipe_ref[i]);
	free(recipe_ref);
	free(tmp);
}

void cdx_gmk_define_rules(const char *func, struct cdx_gmk_loaded *l)
{
	const struct cdx_pipeline *p = l->p;
	double *w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	double *prio = cdx_xcalloc(p->dag->n_nodes + 1, sizeof(double));
	uint32_t *lane_prev = cdx_xcalloc(p->n_jobs + 1, sizeof(uint32_t));
	struct target_names names = {0};
	struct recipes r = {0};
	struct cdx_buf b = {0};
	char job_args[128];
	bool *never = NULL, *held = NULL, *soft = NULL;
	enum cdx_when *when = NULL;
	size_t i;

	if (decide_when(func, p, &when) < 0)
		goto out;
	for (i = 0; i < p->n_jobs; i++)
		if (when_of(p, when, i) == CDX_WHEN_NEVER) {
			if (!never)
				never = cdx_xcalloc(p->n_jobs + 1, sizeof(bool));
			never[i] = true;
		}
	when_targets(p, when, &held, &soft);
	job_priorities(p, w, prio);
	cdx_gmk_pin_lanes(p, w, prio, lane_prev);
	if (open_specs(func, l, job_args, sizeof(job_args), held) < 0)
		goto out;
	target_names_init(&names, p);
	cdx_grow(&b.data, &b.cap, 2 * EVAL_PIECE, 1);
	target_rules(&b, p, &names, prio, never, held);
	define_recipes(&b, l, job_args, &r);
	job_rules(&b, l, &names, prio, lane_prev, &r, never, soft, held);
	eval_piece(&b, true);
	l->rules = true;
out:
	recipes_free(&r);
	target_names_free(&names);
	cdx_buf_free(&b);
	free(w);
	free(prio);
	free(lane_prev);
	free(never);
	free(held);
	free(soft);
	free(when);
	/* the rule text, the schedule and the loader's garbage are freed:
	 * give the memory back, make forks (or spawns) every recipe */
	malloc_trim(0);
}
