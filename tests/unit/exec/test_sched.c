/* test_sched.c — the scheduler (sched.c) driven by a fake runner: no fork,
 * no sleep, no real clock.
 *
 * The fake runner keeps a simulated clock.  start() records the attempt and
 * its scripted result (by default: success after the job's weight, i.e. its
 * duration_hint or 1 s); wait() returns the running attempt that ends first
 * (ties: lower job index, as cdx_dag_simulate does) and moves the clock to
 * its end.  So with default results the scheduler must reproduce the list
 * scheduling of cdx_dag_simulate exactly: same start order, same start
 * times.  Cancellation is simulated by setting the caller's flag when the
 * clock reaches a chosen time (wait() then returns 0, as on EINTR).
 *
 * Tests for behaviour that the scheduler does not have yet are registered
 * only when CDX_PENDING=1 is in the environment (see
 * tests/integration/pending_sched.sh), so that `make check` stays green.
 */
#include "fixtures.h"

#include <signal.h>

#include "pipeline/dag.h"
#include "pipeline/pipeline.h"
#include "exec/runner.h"
#include "exec/sched.h"

#define MAXJ 64
#define MAXSTEPS 8
#define MAXSTARTS 512

/* ---- the fake runner ----------------------------------------------------- */

struct step {
	enum cdx_proc_end end;
	int code;    /* exit code when EXITED, signal when SIGNALED */
	int64_t dur; /* simulated ms; < 0 = the job's weight */
};

struct fattempt {
	uint32_t job;
	int attempt;
	int64_t start, end;
	struct cdx_proc_result res;
};

struct fake {
	const struct cdx_pipeline *p;
	const struct cdx_dag *d;
	int64_t now;
	/* scripted results per job and attempt (1-based attempt -> steps[a-1]) */
	struct step steps[MAXJ][MAXSTEPS];
	int nsteps[MAXJ];
	int start_fail_job;   /* runner start() fails for this job; -1 none */
	int prepare_fail_job; /* prepare hook fails for this job; -1 none */
	/* what is running */
	struct fattempt run[MAXJ];
	size_t nrun, max_running;
	unsigned workers;
	/* what happened */
	uint32_t order[MAXSTARTS];   /* jobs in start order (every attempt) */
	int64_t start_at[MAXSTARTS]; /* simulated start time of each start */
	size_t nstarts;
	int64_t first_start[MAXJ]; /* -1 never started */
	int64_t last_end[MAXJ];    /* -1 never ended */
	int attempts[MAXJ];        /* attempts started (runner) */
	int prepared[MAXJ];        /* prepare() calls */
	int hook_started[MAXJ];    /* started() calls */
	int attempt_done_calls[MAXJ];
	enum cdx_job_state attempt_state[MAXJ][MAXSTEPS + 4];
	int job_done_calls[MAXJ];
	enum cdx_job_state done_state[MAXJ];
	int done_attempts[MAXJ];
	bool finished_ok[MAXJ];  /* ended SUCCESS or ALLOWED (job_done) */
	size_t needs_violations; /* starts whose needs were not done */
	size_t over_workers;     /* starts beyond the worker limit */
	/* cancellation */
	volatile sig_atomic_t cancel;
	int64_t cancel_at;  /* set cancel = 1 when the clock reaches it; < 0 never */
	int cancel_level;   /* value to set at cancel_at (1 or 2) */
	int64_t cancel2_at; /* then set cancel = 2 at this time; < 0 never */
	bool fired1, fired2;
	int cancel_calls;
	bool cancel_now[4];
	int64_t cancel_time[4];
	size_t starts_after_cancel;
	int64_t grace; /* simulated SIGTERM-to-end time of a cancelled attempt */
	size_t ticks;
};

static int64_t weight_of(const struct fake *f, uint32_t j)
{
	return (int64_t)cdx_pipeline_weight_ms(f->p, j);
}

/* needs_done: every job node V needs (directly or through stage nodes) has
 * finished as success or allowed failure */
static bool needs_done(const struct fake *f, uint32_t v)
{
	uint32_t e;
	for (e = f->d->pred_off[v]; e < f->d->pred_off[v + 1]; e++) {
		uint32_t u = f->d->pred[e];
		if (u < f->d->n_jobs) {
			if (!f->finished_ok[u] || f->last_end[u] > f->now)
				return false;
		} else if (!needs_done(f, u)) {
			return false;
		}
	}
	return true;
}

static int fake_start(void *self, const struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct fake *f = self;
	uint32_t j = (uint32_t)spec->token;
	struct fattempt *a;
	struct step st = {CDX_PROC_EXITED, 0, -1};
	int attempt;

	assert_true(j < f->p->n_jobs);
	assert_non_null(spec->script);
	if ((int)j == f->start_fail_job) {
		cdx_error_set(err, CDX_EFAILED, "cannot fork: fake");
		return -1;
	}
	attempt = ++f->attempts[j];
	if (attempt <= f->nsteps[j])
		st = f->steps[j][attempt - 1];
	if (!needs_done(f, j))
		f->needs_violations++;
	if (f->nrun >= f->workers)
		f->over_workers++;
	if (f->fired1)
		f->starts_after_cancel++;
	assert_true(f->nstarts < MAXSTARTS);
	f->order[f->nstarts] = j;
	f->start_at[f->nstarts++] = f->now;
	if (f->first_start[j] < 0)
		f->first_start[j] = f->now;
	a = &f->run[f->nrun++];
	memset(a, 0, sizeof(*a));
	a->job = j;
	a->attempt = attempt;
	a->start = f->now;
	a->end = f->now + (st.dur >= 0 ? st.dur : weight_of(f, j));
	a->res.token = spec->token;
	a->res.end = st.end;
	a->res.exit_code = st.end == CDX_PROC_EXITED ? st.code : 128 + st.code;
	a->res.term_signal = st.end == CDX_PROC_EXITED ? 0 : st.code;
	if (st.end == CDX_PROC_TIMEDOUT && !st.code)
		a->res.term_signal = SIGTERM;
	if (f->nrun > f->max_running)
		f->max_running = f->nrun;
	return 0;
}

static int fake_wait(void *self, int timeout_ms, struct cdx_proc_result *res)
{
	struct fake *f = self;
	size_t i, best = 0;
	(void)timeout_ms;
	f->ticks++;
	if (!f->nrun)
		return 0;
	for (i = 1; i < f->nrun; i++)
		if (f->run[i].end < f->run[best].end ||
		    (f->run[i].end == f->run[best].end && f->run[i].job < f->run[best].job))
			best = i;
	/* a signal arrives before (or as) the next attempt ends */
	if (f->cancel_at >= 0 && !f->fired1 && f->run[best].end >= f->cancel_at) {
		f->fired1 = true;
		if (f->cancel_at > f->now)
			f->now = f->cancel_at;
		f->cancel = (sig_atomic_t)f->cancel_level;
		return 0;
	}
	if (f->cancel2_at >= 0 && f->fired1 && !f->fired2 && f->run[best].end >= f->cancel2_at) {
		f->fired2 = true;
		if (f->cancel2_at > f->now)
			f->now = f->cancel2_at;
		f->cancel = 2;
		return 0;
	}
	if (f->run[best].end > f->now)
		f->now = f->run[best].end;
	*res = f->run[best].res;
	res->start_ms = f->run[best].start;
	res->wall_us = (f->run[best].end - f->run[best].start) * 1000;
	f->last_end[f->run[best].job] = f->run[best].end;
	f->run[best] = f->run[--f->nrun];
	return 1;
}

/* attempts that have not ended by now are killed; one that ended at or
 * before now already exited on its own and reports how (as the real
 * runner does for a leader it has reaped) */
static void fake_cancel_all(void *self, bool now)
{
	struct fake *f = self;
	size_t i;
	assert_true(f->cancel_calls < 4);
	f->cancel_now[f->cancel_calls] = now;
	f->cancel_time[f->cancel_calls++] = f->now;
	for (i = 0; i < f->nrun; i++) {
		struct fattempt *a = &f->run[i];
		if (a->end <= f->now)
			continue;
		if (a->res.end == CDX_PROC_CANCELLED && !now)
			continue;
		a->res.end = CDX_PROC_CANCELLED;
		a->res.term_signal = now ? SIGKILL : SIGTERM;
		a->res.exit_code = 128 + a->res.term_signal;
		if (now || f->now + f->grace < a->end)
			a->end = f->now + (now ? 0 : f->grace);
	}
}

static size_t fake_running(void *self)
{
	return ((struct fake *)self)->nrun;
}

static const struct cdx_runner_ops fake_ops = {fake_start, fake_wait, fake_cancel_all, fake_running};

/* ---- hooks --------------------------------------------------------------- */

static int h_prepare(void *ctx, size_t job, int attempt, struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct fake *f = ctx;
	(void)attempt;
	f->prepared[job]++;
	if ((int)job == f->prepare_fail_job)
		return cdx_error_set(err, CDX_ESTATE, "cannot create log directory: fake");
	spec->script = f->p->jobs[job].script;
	spec->timeout_ms = f->p->jobs[job].timeout_ms;
	return 0;
}

static void h_started(void *ctx, size_t job, int attempt)
{
	struct fake *f = ctx;
	f->hook_started[job]++;
	assert_int_equal(attempt, f->attempts[job]);
}

static void h_attempt_done(void *ctx, size_t job, int attempt, const struct cdx_proc_result *r,
			   enum cdx_job_state state)
{
	struct fake *f = ctx;
	assert_int_equal(r->token, job);
	assert_true(attempt >= 1 && attempt < MAXSTEPS + 4);
	f->attempt_state[job][attempt - 1] = state;
	f->attempt_done_calls[job]++;
}

static void h_job_done(void *ctx, size_t job, enum cdx_job_state state, int attempts)
{
	struct fake *f = ctx;
	f->job_done_calls[job]++;
	f->done_state[job] = state;
	f->done_attempts[job] = attempts;
	f->finished_ok[job] = state == CDX_JOB_SUCCESS || state == CDX_JOB_ALLOWED;
}

static void h_tick(void *ctx)
{
	(void)ctx;
}

static const struct cdx_sched_hooks *hooks_for(struct fake *f)
{
	static struct cdx_sched_hooks h;
	h.ctx = f;
	h.prepare = h_prepare;
	h.started = h_started;
	h.attempt_done = h_attempt_done;
	h.job_done = h_job_done;
	h.tick = h_tick;
	return &h;
}

/* ---- fixtures ------------------------------------------------------------ */

static struct cdx_pipeline *load(const char *yaml)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem("test.yml", yaml, strlen(yaml), d);
	size_t i;
	if (!p) {
		for (i = 0; i < cdx_diags_count(d); i++) {
			const struct cdx_diag *g = cdx_diags_get(d, i);
			fprintf(stderr, "%s:%d:%d: %s\n", g->file, g->line, g->col, g->msg);
		}
	}
	cdx_diags_free(d);
	assert_non_null(p);
	assert_true(p->n_jobs <= MAXJ);
	return p;
}

static uint32_t job(const struct cdx_pipeline *p, const char *id)
{
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		if (strcmp(p->jobs[i].id, id) == 0)
			return (uint32_t)i;
	fail_msg("no job %s", id);
	return 0;
}

static void fake_init(struct fake *f, const struct cdx_pipeline *p, unsigned workers)
{
	size_t i;
	memset(f, 0, sizeof(*f));
	f->p = p;
	f->d = p->dag;
	f->workers = workers;
	f->start_fail_job = f->prepare_fail_job = -1;
	f->cancel_at = f->cancel2_at = -1;
	f->cancel_level = 1;
	f->grace = 5;
	for (i = 0; i < MAXJ; i++)
		f->first_start[i] = f->last_end[i] = -1;
}

static void script(struct fake *f, uint32_t j, enum cdx_proc_end end, int code, int64_t dur)
{
	assert_true(f->nsteps[j] < MAXSTEPS);
	f->steps[j][f->nsteps[j]++] = (struct step){end, code, dur};
}

struct outcome {
	enum cdx_run_state run;
	enum cdx_job_state states[MAXJ];
	double prio[2 * MAXJ + 2];
};

/* go: run P on F's runner with workers/keep_going/wanted; checks the
 * invariants every run must keep */
static enum cdx_run_state go_opts(struct fake *f, bool keep_going, const bool *wanted, struct outcome *o)
{
	const struct cdx_pipeline *p = f->p;
	struct cdx_sched_opts so;
	double w[MAXJ];
	size_t i;

	assert_true(p->dag->n_nodes < CDX_ARRAY_LEN(o->prio));
	for (i = 0; i < p->n_jobs; i++)
		w[i] = cdx_pipeline_weight_ms(p, i);
	cdx_dag_priority(p->dag, w, o->prio);
	memset(&so, 0, sizeof(so));
	so.workers = f->workers;
	so.keep_going = keep_going;
	so.wanted = wanted;
	so.prio = o->prio;
	so.cancel = &f->cancel;
	o->run = cdx_sched_run(p, &so, &fake_ops, f, hooks_for(f), o->states);

	/* invariants */
	assert_int_equal(f->nrun, 0);             /* nothing left running */
	assert_int_equal(f->needs_violations, 0); /* never before its needs */
	assert_int_equal(f->over_workers, 0);     /* never more than workers */
	assert_true(f->max_running <= f->workers);
	for (i = 0; i < p->n_jobs; i++) {
		if (o->states[i] == CDX_JOB_UNWANTED) {
			assert_int_equal(f->job_done_calls[i], 0);
			assert_int_equal(f->attempts[i], 0);
			continue;
		}
		assert_int_equal(f->job_done_calls[i], 1); /* exactly one final state */
		assert_int_equal(f->done_state[i], o->states[i]);
		assert_int_equal(f->hook_started[i], f->attempts[i]);
		assert_int_equal(f->attempt_done_calls[i], f->prepared[i]);
		assert_true(o->states[i] >= CDX_JOB_SUCCESS && o->states[i] <= CDX_JOB_CANCELLED);
		if (o->states[i] == CDX_JOB_SKIPPED)
			assert_int_equal(f->attempts[i], 0);
	}
	return o->run;
}

static enum cdx_run_state go(struct fake *f, struct outcome *o)
{
	return go_opts(f, false, NULL, o);
}

/* ---- a job starts only after its needs ----------------------------------- */

static const char *const PIPE_MIXED =
    "name: mixed\n"
    "stages:\n"
    "  - name: build\n"
    "    jobs:\n"
    "      - {name: lib, script: 'true', duration_hint: 300ms}\n"
    "      - {name: app, script: 'true', duration_hint: 200ms, needs: [build/lib]}\n"
    "      - {name: docs, script: 'true', duration_hint: 50ms}\n"
    "  - name: test\n"
    "    jobs:\n"
    "      - {name: unit, script: 'true', duration_hint: 400ms}\n"
    "      - {name: it, script: 'true', duration_hint: 100ms, needs: [build/app]}\n"
    "      - {name: lint, script: 'true', duration_hint: 100ms, needs: []}\n"
    "  - name: deploy\n"
    "    jobs:\n"
    "      - {name: stage, script: 'true', duration_hint: 100ms}\n"
    "      - {name: prod, script: 'true', duration_hint: 100ms, needs: [deploy/stage]}\n";

static void test_needs_respected(void **state)
{
	struct cdx_pipeline *p = load(PIPE_MIXED);
	unsigned workers;
	(void)state;
	for (workers = 1; workers <= 4; workers++) {
		struct fake f;
		struct outcome o;
		size_t i;
		fake_init(&f, p, workers);
		assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
		for (i = 0; i < p->n_jobs; i++) {
			assert_int_equal(o.states[i], CDX_JOB_SUCCESS);
			assert_int_equal(f.attempts[i], 1);
		}
		/* explicit checks of a few edges (besides the generic invariant) */
		assert_true(f.first_start[job(p, "build/app")] >= f.last_end[job(p, "build/lib")]);
		assert_true(f.first_start[job(p, "test/it")] >= f.last_end[job(p, "build/app")]);
		/* test/unit has no needs: the previous stage, all of it */
		assert_true(f.first_start[job(p, "test/unit")] >= f.last_end[job(p, "build/lib")]);
		assert_true(f.first_start[job(p, "test/unit")] >= f.last_end[job(p, "build/app")]);
		assert_true(f.first_start[job(p, "test/unit")] >= f.last_end[job(p, "build/docs")]);
		/* deploy waits for the whole test stage, including lint */
		assert_true(f.first_start[job(p, "deploy/stage")] >= f.last_end[job(p, "test/lint")]);
		assert_true(f.first_start[job(p, "deploy/stage")] >= f.last_end[job(p, "test/unit")]);
		assert_true(f.first_start[job(p, "deploy/prod")] >= f.last_end[job(p, "deploy/stage")]);
		/* lint (needs: []) may start at once */
		if (workers >= 3)
			assert_int_equal(f.first_start[job(p, "test/lint")], 0);
	}
	cdx_pipeline_free(p);
}

/* ---- the start order is the ordering rule, as cdx_dag_simulate has it ---- */

static const char *const PIPE_ORDER =
    "name: order\n"
    "stages:\n"
    "  - name: a\n"
    "    jobs:\n"
    "      - {name: short, script: 'true', duration_hint: 100ms}\n"
    "      - {name: long, script: 'true', duration_hint: 900ms}\n"
    "      - {name: tie1, script: 'true', duration_hint: 300ms}\n"
    "      - {name: tie2, script: 'true', duration_hint: 300ms}\n"
    "      - {name: feeder, script: 'true', duration_hint: 50ms}\n"
    "      - {name: tie0, script: 'true', duration_hint: 300ms}\n"
    "  - name: b\n"
    "    needs: []\n"
    "    jobs:\n"
    "      - {name: chain1, script: 'true', duration_hint: 500ms, needs: [a/feeder]}\n"
    "      - {name: chain2, script: 'true', duration_hint: 500ms, needs: [b/chain1]}\n"
    "      - {name: solo, script: 'true', duration_hint: 200ms, needs: []}\n"
    "      - {name: after, script: 'true', duration_hint: 100ms, needs: [a/short]}\n"
    "  - name: c\n"
    "    jobs:\n"
    "      - {name: end, script: 'true', duration_hint: 10ms}\n";

static void test_order_is_the_ordering_rule(void **state)
{
	struct cdx_pipeline *p = load(PIPE_ORDER);
	unsigned workers;
	(void)state;
	for (workers = 1; workers <= 5; workers++) {
		struct fake f;
		struct outcome o;
		double w[MAXJ], start[MAXJ], makespan;
		size_t order[MAXJ], i;

		fake_init(&f, p, workers);
		assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
		for (i = 0; i < p->n_jobs; i++)
			w[i] = cdx_pipeline_weight_ms(p, i);
		makespan = cdx_dag_simulate(p->dag, w, o.prio, workers, start, order);
		assert_int_equal(f.nstarts, p->n_jobs);
		for (i = 0; i < p->n_jobs; i++) {
			if (f.order[i] != order[i])
				fail_msg("workers %u: start %zu is %s, the simulation has %s", workers, i,
					 p->jobs[f.order[i]].id, p->jobs[order[i]].id);
			assert_int_equal(f.start_at[i], (int64_t)start[f.order[i]]);
		}
		assert_int_equal(f.now, (int64_t)makespan);
	}
	/* the rule itself, spelled out for one worker: the heaviest remaining
	 * path first (feeder: 50 + 500 + 500 + 10), ties in file order */
	{
		struct fake f;
		struct outcome o;
		fake_init(&f, p, 1);
		go(&f, &o);
		assert_int_equal(f.order[0], job(p, "a/feeder"));
		assert_int_equal(f.order[1], job(p, "b/chain1"));
		assert_int_equal(f.order[2], job(p, "a/long"));
		/* tie0, tie1, tie2 share a priority: file order tie1, tie2, tie0 */
		{
			size_t i, t1 = 99, t2 = 99, t0 = 99;
			for (i = 0; i < f.nstarts; i++) {
				if (f.order[i] == job(p, "a/tie1"))
					t1 = i;
				if (f.order[i] == job(p, "a/tie2"))
					t2 = i;
				if (f.order[i] == job(p, "a/tie0"))
					t0 = i;
			}
			assert_true(t1 < t2 && t2 < t0);
		}
	}
	cdx_pipeline_free(p);
}

/* ---- never more than `workers` at once ------------------------------------ */

static void test_worker_limit(void **state)
{
	struct cdx_buf y = {0};
	struct cdx_pipeline *p;
	unsigned workers;
	int i;
	(void)state;
	cdx_buf_adds(&y, "name: wide\nstages:\n  - name: s\n    jobs:\n");
	for (i = 0; i < 20; i++)
		cdx_buf_printf(&y, "      - {name: j%d, script: 'true', duration_hint: %dms}\n", i,
			       100 + (i * 37) % 200);
	p = load(y.data);
	for (workers = 1; workers <= 25; workers += 3) {
		struct fake f;
		struct outcome o;
		fake_init(&f, p, workers);
		assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
		assert_int_equal(f.max_running, workers < 20 ? workers : 20);
		assert_int_equal(f.nstarts, 20);
	}
	cdx_pipeline_free(p);
	cdx_buf_free(&y);
}

/* ---- a job starts as soon as its own needs are done ---------------------- */

static void test_not_level_by_level(void **state)
{
	struct cdx_pipeline *p =
	    load("name: eager\n"
		 "stages:\n"
		 "  - name: one\n"
		 "    jobs:\n"
		 "      - {name: a, script: 'true', duration_hint: 100ms}\n"
		 "      - {name: long, script: 'true', duration_hint: 5s}\n"
		 "  - name: two\n"
		 "    jobs:\n"
		 "      - {name: b, script: 'true', duration_hint: 100ms, needs: [one/a]}\n"
		 "      - {name: c, script: 'true', duration_hint: 100ms, needs: [two/b]}\n"
		 "      - {name: d, script: 'true', duration_hint: 100ms}\n");
	struct fake f;
	struct outcome o;
	(void)state;
	fake_init(&f, p, 3);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(f.first_start[job(p, "one/long")], 0);
	assert_int_equal(f.first_start[job(p, "two/b")], 100); /* when a ends, not when long does */
	assert_int_equal(f.first_start[job(p, "two/c")], 200);
	assert_int_equal(f.first_start[job(p, "two/d")], 5000); /* stage order: after all of one */
	assert_true(f.last_end[job(p, "two/c")] < f.last_end[job(p, "one/long")]);
	cdx_pipeline_free(p);
}

/* ---- retries ------------------------------------------------------------- */

static const char *const PIPE_RETRY =
    "name: retry\n"
    "stages:\n"
    "  - name: s\n"
    "    jobs:\n"
    "      - {name: count, script: 'true', retry: 2}\n"
    "      - {name: codes, script: 'true', retry: {max: 2, exit_codes: [75, 76]}}\n"
    "      - {name: tmo, script: 'true', retry: {max: 1, when: timeout}}\n"
    "      - {name: fail, script: 'true', retry: {max: 1, when: script_failure}}\n"
    "      - {name: none, script: 'true'}\n"
    "  - name: t\n"
    "    jobs:\n"
    "      - {name: after, script: 'true'}\n";

static void test_retry_by_count(void **state)
{
	struct cdx_pipeline *p = load(PIPE_RETRY);
	uint32_t c = job(p, "s/count");
	struct fake f;
	struct outcome o;
	(void)state;

	/* fails twice, then passes: 3 attempts, success */
	fake_init(&f, p, 2);
	script(&f, c, CDX_PROC_EXITED, 1, 10);
	script(&f, c, CDX_PROC_SIGNALED, SIGSEGV, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(o.states[c], CDX_JOB_SUCCESS);
	assert_int_equal(f.attempts[c], 3);
	assert_int_equal(f.done_attempts[c], 3);
	assert_int_equal(f.attempt_state[c][0], CDX_JOB_RUNNING); /* retry due */
	assert_int_equal(f.attempt_state[c][1], CDX_JOB_RUNNING);
	assert_int_equal(f.attempt_state[c][2], CDX_JOB_SUCCESS);
	assert_int_equal(o.states[job(p, "t/after")], CDX_JOB_SUCCESS);

	/* exhausted: 1 + 2 attempts, then failed; the next stage is skipped */
	fake_init(&f, p, 2);
	script(&f, c, CDX_PROC_EXITED, 1, 10);
	script(&f, c, CDX_PROC_EXITED, 2, 10);
	script(&f, c, CDX_PROC_EXITED, 3, 10);
	script(&f, c, CDX_PROC_EXITED, 0, 10); /* never reached */
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(o.states[c], CDX_JOB_FAILED);
	assert_int_equal(f.attempts[c], 3);
	assert_int_equal(f.attempt_state[c][2], CDX_JOB_FAILED);
	assert_int_equal(o.states[job(p, "t/after")], CDX_JOB_SKIPPED);

	/* no retry configured: one attempt */
	fake_init(&f, p, 2);
	script(&f, job(p, "s/none"), CDX_PROC_EXITED, 1, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[job(p, "s/none")], 1);
	assert_int_equal(o.states[job(p, "s/none")], CDX_JOB_FAILED);
	cdx_pipeline_free(p);
}

/* an attempt lost with a pool worker (CDX_PROC_LOST) is retried at most
 * CDX_SCHED_LOST_RETRIES times, apart from the job's own retry */
static void test_worker_lost_retried_apart(void **state)
{
	struct cdx_pipeline *p = load(PIPE_RETRY);
	uint32_t c = job(p, "s/count"), n = job(p, "s/none");
	struct fake f;
	struct outcome o;
	(void)state;

	/* lost, failed, lost, failed, passes: the two losses do not use up
	 * its retry: 2 */
	fake_init(&f, p, 2);
	script(&f, c, CDX_PROC_LOST, 0, 10);
	script(&f, c, CDX_PROC_EXITED, 1, 10);
	script(&f, c, CDX_PROC_LOST, 0, 10);
	script(&f, c, CDX_PROC_EXITED, 1, 10);
	script(&f, c, CDX_PROC_EXITED, 0, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(o.states[c], CDX_JOB_SUCCESS);
	assert_int_equal(f.attempts[c], 5);
	assert_int_equal(f.attempt_state[c][0], CDX_JOB_RUNNING);
	assert_int_equal(f.attempt_state[c][2], CDX_JOB_RUNNING);

	/* no retry of its own: lost twice and then passing still passes */
	fake_init(&f, p, 2);
	script(&f, n, CDX_PROC_LOST, 0, 10);
	script(&f, n, CDX_PROC_LOST, 0, 10);
	script(&f, n, CDX_PROC_EXITED, 0, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(f.attempts[n], 3);

	/* lost a third time: failed */
	fake_init(&f, p, 2);
	script(&f, n, CDX_PROC_LOST, 0, 10);
	script(&f, n, CDX_PROC_LOST, 0, 10);
	script(&f, n, CDX_PROC_LOST, 0, 10);
	script(&f, n, CDX_PROC_EXITED, 0, 10); /* never reached */
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(o.states[n], CDX_JOB_FAILED);
	assert_int_equal(f.attempts[n], 3);
	cdx_pipeline_free(p);
}

static void test_retry_by_exit_code(void **state)
{
	struct cdx_pipeline *p = load(PIPE_RETRY);
	uint32_t c = job(p, "s/codes");
	struct fake f;
	struct outcome o;
	(void)state;

	/* a listed code is retried */
	fake_init(&f, p, 5);
	script(&f, c, CDX_PROC_EXITED, 75, 10);
	script(&f, c, CDX_PROC_EXITED, 76, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(f.attempts[c], 3);
	assert_int_equal(o.states[c], CDX_JOB_SUCCESS);

	/* another code is not */
	fake_init(&f, p, 5);
	script(&f, c, CDX_PROC_EXITED, 1, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[c], 1);
	assert_int_equal(o.states[c], CDX_JOB_FAILED);

	/* a listed code, then an unlisted one: stops retrying there */
	fake_init(&f, p, 5);
	script(&f, c, CDX_PROC_EXITED, 75, 10);
	script(&f, c, CDX_PROC_EXITED, 2, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[c], 2);

	/* a signal is no exit code: not retried when codes are listed */
	fake_init(&f, p, 5);
	script(&f, c, CDX_PROC_SIGNALED, SIGKILL, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[c], 1);

	/* a listed code every time: exhausted after 1 + max */
	fake_init(&f, p, 5);
	script(&f, c, CDX_PROC_EXITED, 75, 10);
	script(&f, c, CDX_PROC_EXITED, 75, 10);
	script(&f, c, CDX_PROC_EXITED, 75, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[c], 3);
	cdx_pipeline_free(p);
}

static void test_retry_on_timeout_only(void **state)
{
	struct cdx_pipeline *p = load(PIPE_RETRY);
	uint32_t t = job(p, "s/tmo"), sf = job(p, "s/fail");
	struct fake f;
	struct outcome o;
	(void)state;

	/* when: timeout — a timed-out attempt is retried */
	fake_init(&f, p, 5);
	script(&f, t, CDX_PROC_TIMEDOUT, SIGTERM, 50);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(f.attempts[t], 2);
	assert_int_equal(o.states[t], CDX_JOB_SUCCESS);

	/* ... a failed one is not */
	fake_init(&f, p, 5);
	script(&f, t, CDX_PROC_EXITED, 1, 50);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[t], 1);
	assert_int_equal(o.states[t], CDX_JOB_FAILED);

	/* ... and two timeouts exhaust max: 1 */
	fake_init(&f, p, 5);
	script(&f, t, CDX_PROC_TIMEDOUT, SIGTERM, 50);
	script(&f, t, CDX_PROC_TIMEDOUT, SIGKILL, 50);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[t], 2);

	/* when: script_failure — a timeout is not retried, a failure is */
	fake_init(&f, p, 5);
	script(&f, sf, CDX_PROC_TIMEDOUT, SIGTERM, 50);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[sf], 1);
	fake_init(&f, p, 5);
	script(&f, sf, CDX_PROC_EXITED, 9, 50);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(f.attempts[sf], 2);
	cdx_pipeline_free(p);
}

/* ---- allowed failures ---------------------------------------------------- */

static const char *const PIPE_ALLOW =
    "name: allow\n"
    "stages:\n"
    "  - name: s\n"
    "    jobs:\n"
    "      - {name: any, script: 'true', allow_failure: true}\n"
    "      - {name: codes, script: 'true', allow_failure: {exit_codes: [3]}}\n"
    "      - {name: list, script: 'true', allow_failure: [4, 5]}\n"
    "  - name: t\n"
    "    jobs:\n"
    "      - {name: dep_any, script: 'true', needs: [s/any]}\n"
    "      - {name: dep_codes, script: 'true', needs: [s/codes]}\n"
    "      - {name: dep_list, script: 'true', needs: [s/list]}\n";

static void test_allow_failure(void **state)
{
	struct cdx_pipeline *p = load(PIPE_ALLOW);
	uint32_t any = job(p, "s/any"), codes = job(p, "s/codes"), list = job(p, "s/list");
	struct fake f;
	struct outcome o;
	(void)state;

	fake_init(&f, p, 2);
	script(&f, any, CDX_PROC_EXITED, 1, 10);
	script(&f, codes, CDX_PROC_EXITED, 3, 10);
	script(&f, list, CDX_PROC_EXITED, 5, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(o.states[any], CDX_JOB_ALLOWED);
	assert_int_equal(o.states[codes], CDX_JOB_ALLOWED);
	assert_int_equal(o.states[list], CDX_JOB_ALLOWED);
	/* dependents of an allowed failure run */
	assert_int_equal(o.states[job(p, "t/dep_any")], CDX_JOB_SUCCESS);
	assert_int_equal(o.states[job(p, "t/dep_codes")], CDX_JOB_SUCCESS);
	assert_int_equal(o.states[job(p, "t/dep_list")], CDX_JOB_SUCCESS);

	/* allow_failure: true covers signals and timeouts too */
	fake_init(&f, p, 2);
	script(&f, any, CDX_PROC_TIMEDOUT, SIGTERM, 10);
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(o.states[any], CDX_JOB_ALLOWED);

	/* an exit code not listed fails; keep_going lets the others finish */
	fake_init(&f, p, 3);
	script(&f, codes, CDX_PROC_EXITED, 4, 10);
	script(&f, list, CDX_PROC_EXITED, 3, 10);
	assert_int_equal(go_opts(&f, true, NULL, &o), CDX_RUN_FAILED);
	assert_int_equal(o.states[codes], CDX_JOB_FAILED);
	assert_int_equal(o.states[list], CDX_JOB_FAILED);
	assert_int_equal(o.states[any], CDX_JOB_SUCCESS);
	assert_int_equal(o.states[job(p, "t/dep_codes")], CDX_JOB_SKIPPED);
	assert_int_equal(o.states[job(p, "t/dep_list")], CDX_JOB_SKIPPED);
	assert_int_equal(o.states[job(p, "t/dep_any")], CDX_JOB_SUCCESS);
	cdx_pipeline_free(p);
}

/* ---- failure without keep_going ------------------------------------------ */

static const char *const PIPE_FAIL =
    "name: fail\n"
    "stages:\n"
    "  - name: one\n"
    "    jobs:\n"
    "      - {name: bad, script: 'true', duration_hint: 100ms}\n"
    "      - {name: long, script: 'true', duration_hint: 2s}\n"
    "      - {name: queued, script: 'true', duration_hint: 50ms}\n"
    "      - {name: queued2, script: 'true', duration_hint: 50ms}\n"
    "  - name: two\n"
    "    needs: []\n"
    "    jobs:\n"
    "      - {name: needs_bad, script: 'true', needs: [one/bad]}\n"
    "      - {name: grand, script: 'true', needs: [two/needs_bad]}\n"
    "      - {name: free, script: 'true', duration_hint: 10ms, needs: [one/long]}\n"
    "      - {name: free2, script: 'true', duration_hint: 10ms, needs: [two/free]}\n"
    "  - name: three\n"
    "    needs: [one]\n"
    "    jobs:\n"
    "      - {name: stage_dep, script: 'true'}\n"
    "  - name: four\n"
    "    needs: [two]\n"
    "    jobs:\n"
    "      - {name: late, script: 'true'}\n";

static void test_failure_stops_the_run(void **state)
{
	struct cdx_pipeline *p = load(PIPE_FAIL);
	uint32_t bad = job(p, "one/bad");
	struct fake f;
	struct outcome o;
	size_t i;
	(void)state;

	fake_init(&f, p, 2); /* long and bad run; queued ones wait */
	script(&f, bad, CDX_PROC_EXITED, 1, 100);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(o.states[bad], CDX_JOB_FAILED);
	/* the one running when it failed finishes */
	assert_int_equal(o.states[job(p, "one/long")], CDX_JOB_SUCCESS);
	assert_int_equal(f.last_end[job(p, "one/long")], 2000);
	/* nothing new starts after the failure */
	for (i = 0; i < f.nstarts; i++)
		assert_true(f.start_at[i] < 100);
	assert_int_equal(f.nstarts, 2);
	/* everything else is skipped, dependent or not */
	for (i = 0; i < p->n_jobs; i++)
		if (i != bad && i != job(p, "one/long"))
			assert_int_equal(o.states[i], CDX_JOB_SKIPPED);
	cdx_pipeline_free(p);
}

/* ---- keep_going: exactly the dependents of the failure are skipped ------- */

/* depends: job A needs job B, directly or transitively (through stages) */
static bool depends(const struct cdx_dag *d, uint32_t a, uint32_t b)
{
	uint32_t e;
	for (e = d->pred_off[a]; e < d->pred_off[a + 1]; e++) {
		uint32_t u = d->pred[e];
		if (u == b || depends(d, u, b))
			return true;
	}
	return false;
}

static void test_keep_going(void **state)
{
	struct cdx_pipeline *p = load(PIPE_FAIL);
	uint32_t bad = job(p, "one/bad");
	unsigned workers;
	(void)state;

	for (workers = 1; workers <= 4; workers++) {
		struct fake f;
		struct outcome o;
		size_t i;
		fake_init(&f, p, workers);
		script(&f, bad, CDX_PROC_EXITED, 1, 100);
		assert_int_equal(go_opts(&f, true, NULL, &o), CDX_RUN_FAILED);
		assert_int_equal(o.states[bad], CDX_JOB_FAILED);
		for (i = 0; i < p->n_jobs; i++) {
			if (i == bad)
				continue;
			if (depends(p->dag, (uint32_t)i, bad)) {
				if (o.states[i] != CDX_JOB_SKIPPED)
					fail_msg("workers %u: %s depends on the failure but is %s", workers,
						 p->jobs[i].id, cdx_job_state_name(o.states[i]));
			} else if (o.states[i] != CDX_JOB_SUCCESS) {
				fail_msg("workers %u: %s does not depend on the failure but is %s", workers,
					 p->jobs[i].id, cdx_job_state_name(o.states[i]));
			}
		}
		/* spelled out */
		assert_int_equal(o.states[job(p, "two/needs_bad")], CDX_JOB_SKIPPED);
		assert_int_equal(o.states[job(p, "two/grand")], CDX_JOB_SKIPPED);
		assert_int_equal(o.states[job(p, "three/stage_dep")], CDX_JOB_SKIPPED);
		assert_int_equal(o.states[job(p, "four/late")], CDX_JOB_SKIPPED);
		assert_int_equal(o.states[job(p, "two/free2")], CDX_JOB_SUCCESS);
		assert_int_equal(o.states[job(p, "one/queued2")], CDX_JOB_SUCCESS);
	}
	cdx_pipeline_free(p);
}

/* keep_going with a failure that is retried first, and a spawn failure */
static void test_keep_going_retry_then_fail(void **state)
{
	struct cdx_pipeline *p = load("name: kgr\n"
				      "stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: flaky, script: 'true', retry: 1}\n"
				      "      - {name: other, script: 'true'}\n"
				      "      - {name: dep, script: 'true', needs: [s/flaky]}\n"
				      "      - {name: dep2, script: 'true', needs: [s/other]}\n");
	uint32_t fl = job(p, "s/flaky");
	struct fake f;
	struct outcome o;
	(void)state;
	fake_init(&f, p, 1);
	script(&f, fl, CDX_PROC_EXITED, 1, 10);
	script(&f, fl, CDX_PROC_EXITED, 1, 10);
	assert_int_equal(go_opts(&f, true, NULL, &o), CDX_RUN_FAILED);
	assert_int_equal(f.attempts[fl], 2);
	assert_int_equal(o.states[job(p, "s/dep")], CDX_JOB_SKIPPED);
	assert_int_equal(o.states[job(p, "s/dep2")], CDX_JOB_SUCCESS);
	cdx_pipeline_free(p);
}

/* ---- cancellation -------------------------------------------------------- */

static const char *const PIPE_CANCEL = "name: cancel\n"
				       "stages:\n"
				       "  - name: one\n"
				       "    jobs:\n"
				       "      - {name: a, script: 'true', duration_hint: 1s}\n"
				       "      - {name: b, script: 'true', duration_hint: 1s}\n"
				       "      - {name: c, script: 'true', duration_hint: 1s}\n"
				       "      - {name: d, script: 'true', duration_hint: 1s}\n"
				       "  - name: two\n"
				       "    needs: []\n"
				       "    jobs:\n"
				       "      - {name: x, script: 'true', duration_hint: 100ms, retry: 3}\n"
				       "  - name: three\n"
				       "    needs: [one]\n"
				       "    jobs:\n"
				       "      - {name: z, script: 'true'}\n";

static void test_cancel(void **state)
{
	struct cdx_pipeline *p = load(PIPE_CANCEL);
	struct fake f;
	struct outcome o;
	size_t i;
	(void)state;

	fake_init(&f, p, 2);
	f.cancel_at = 500; /* a and b run, c and d wait */
	assert_int_equal(go(&f, &o), CDX_RUN_CANCELLED);
	assert_int_equal(f.cancel_calls, 1);
	assert_false(f.cancel_now[0]); /* SIGTERM first, SIGKILL after grace */
	assert_int_equal(f.cancel_time[0], 500);
	assert_int_equal(f.starts_after_cancel, 0);
	assert_int_equal(f.nstarts, 2);
	for (i = 0; i < p->n_jobs; i++)
		if (i != job(p, "three/z")) /* see test_cancel_dependents_pending */
			assert_int_equal(o.states[i], CDX_JOB_CANCELLED);
	assert_true(o.states[job(p, "three/z")] == CDX_JOB_CANCELLED ||
		    o.states[job(p, "three/z")] == CDX_JOB_SKIPPED);
	/* the two that ran ended when cancelled, not at their natural end */
	assert_int_equal(f.last_end[job(p, "one/a")], 500 + f.grace);

	/* a second request kills at once */
	fake_init(&f, p, 2);
	f.grace = 10000;
	f.cancel_at = 300;
	f.cancel2_at = 400;
	assert_int_equal(go(&f, &o), CDX_RUN_CANCELLED);
	assert_int_equal(f.cancel_calls, 2);
	assert_false(f.cancel_now[0]);
	assert_true(f.cancel_now[1]);
	assert_int_equal(f.cancel_time[1], 400);
	assert_int_equal(f.last_end[job(p, "one/a")], 400);
	assert_int_equal(f.starts_after_cancel, 0);

	/* a flag already at 2 (e.g. SIGINT twice before the loop saw it) */
	fake_init(&f, p, 4);
	f.cancel_at = 100;
	f.cancel_level = 2;
	assert_int_equal(go(&f, &o), CDX_RUN_CANCELLED);
	assert_int_equal(f.cancel_calls, 1);
	assert_true(f.cancel_now[0]);

	/* a cancelled attempt is not retried (x has retry: 3) */
	fake_init(&f, p, 5);
	f.cancel_at = 50;
	assert_int_equal(go(&f, &o), CDX_RUN_CANCELLED);
	assert_int_equal(f.attempts[job(p, "two/x")], 1);
	assert_int_equal(o.states[job(p, "two/x")], CDX_JOB_CANCELLED);
	assert_int_equal(f.starts_after_cancel, 0);

	/* an attempt that failed on its own just as the cancel came is not
	 * retried either (without keep_going) */
	fake_init(&f, p, 5);
	script(&f, job(p, "two/x"), CDX_PROC_EXITED, 1, 100);
	f.cancel_at = 100;
	assert_int_equal(go(&f, &o), CDX_RUN_CANCELLED);
	assert_int_equal(f.attempts[job(p, "two/x")], 1);
	assert_int_equal(f.starts_after_cancel, 0);
	cdx_pipeline_free(p);
}

/* (was pending, fixed) with keep_going, an attempt that failed on its own while the
 * cancel was being handled is retried: sched.c ended() only suppresses
 * retries when `stopping && !keep_going`, so after cdx_run_cancel() (or
 * the pipeline timeout) a -k run starts a new attempt, which nothing
 * cancels any more (cancel_all was already called) — the run goes on. */
static void test_cancel_keep_going_no_retry_pending(void **state)
{
	struct cdx_pipeline *p = load(PIPE_CANCEL);
	struct fake f;
	struct outcome o;
	(void)state;
	fake_init(&f, p, 5);
	script(&f, job(p, "two/x"), CDX_PROC_EXITED, 1, 100);
	f.cancel_at = 100; /* x exits 1 at the moment the cancel comes */
	assert_int_equal(go_opts(&f, true, NULL, &o), CDX_RUN_CANCELLED);
	assert_int_equal(f.starts_after_cancel, 0);
	assert_int_equal(f.attempts[job(p, "two/x")], 1);
	cdx_pipeline_free(p);
}

/* (was pending, fixed) after a cancel, every job that never started should read
 * "cancelled"; a job whose need was running when the cancel came reads
 * "skipped" instead (release() blocks it), one that was merely waiting
 * "cancelled" — the record depends on timing. */
static void test_cancel_dependents_pending(void **state)
{
	struct cdx_pipeline *p = load(PIPE_CANCEL);
	struct fake f;
	struct outcome o;
	size_t i;
	(void)state;
	fake_init(&f, p, 5);
	f.cancel_at = 500; /* every job of one runs; three/z waits for them */
	assert_int_equal(go(&f, &o), CDX_RUN_CANCELLED);
	for (i = 0; i < p->n_jobs; i++)
		if (i != job(p, "two/x") && o.states[i] != CDX_JOB_CANCELLED) /* x passed before */
			fail_msg("%s is %s after a cancel", p->jobs[i].id, cdx_job_state_name(o.states[i]));
	assert_int_equal(o.states[job(p, "two/x")], CDX_JOB_SUCCESS);
	cdx_pipeline_free(p);
}

/* ---- --only: unwanted jobs never start ----------------------------------- */

static void test_wanted(void **state)
{
	struct cdx_pipeline *p = load(PIPE_MIXED);
	bool wanted[MAXJ] = {0};
	struct fake f;
	struct outcome o;
	size_t i;
	(void)state;
	/* test/it with its needs: build/app, build/lib */
	wanted[job(p, "test/it")] = wanted[job(p, "build/app")] = wanted[job(p, "build/lib")] = true;
	fake_init(&f, p, 2);
	assert_int_equal(go_opts(&f, false, wanted, &o), CDX_RUN_SUCCESS);
	for (i = 0; i < p->n_jobs; i++) {
		if (wanted[i]) {
			assert_int_equal(o.states[i], CDX_JOB_SUCCESS);
			assert_int_equal(f.attempts[i], 1);
		} else {
			assert_int_equal(o.states[i], CDX_JOB_UNWANTED);
			assert_int_equal(f.attempts[i], 0);
			assert_int_equal(f.prepared[i], 0);
		}
	}
	assert_int_equal(f.nstarts, 3);

	/* a stage wanted as a whole, the later stage not */
	memset(wanted, 0, sizeof(wanted));
	wanted[job(p, "build/lib")] = wanted[job(p, "build/app")] = wanted[job(p, "build/docs")] = true;
	fake_init(&f, p, 3);
	assert_int_equal(go_opts(&f, false, wanted, &o), CDX_RUN_SUCCESS);
	assert_int_equal(f.nstarts, 3);
	assert_int_equal(o.states[job(p, "deploy/prod")], CDX_JOB_UNWANTED);

	/* a failure among wanted jobs with keep_going: unwanted stay unwanted */
	fake_init(&f, p, 3);
	script(&f, job(p, "build/lib"), CDX_PROC_EXITED, 1, 10);
	assert_int_equal(go_opts(&f, true, wanted, &o), CDX_RUN_FAILED);
	assert_int_equal(o.states[job(p, "build/app")], CDX_JOB_SKIPPED);
	assert_int_equal(o.states[job(p, "build/docs")], CDX_JOB_SUCCESS);
	assert_int_equal(o.states[job(p, "test/unit")], CDX_JOB_UNWANTED);
	cdx_pipeline_free(p);
}

/* ---- spawn failures ------------------------------------------------------ */

static void test_spawn_failure(void **state)
{
	struct cdx_pipeline *p = load("name: spawn\n"
				      "stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: a, script: 'true', retry: 3}\n"
				      "      - {name: b, script: 'true', needs: [s/a]}\n"
				      "      - {name: c, script: 'true', allow_failure: true}\n"
				      "      - {name: d, script: 'true', needs: [s/c]}\n");
	uint32_t a = job(p, "s/a"), c = job(p, "s/c");
	struct fake f;
	struct outcome o;
	(void)state;

	/* prepare() fails: the job fails unstarted, without retries */
	fake_init(&f, p, 2);
	f.prepare_fail_job = (int)a;
	assert_int_equal(go_opts(&f, true, NULL, &o), CDX_RUN_FAILED);
	assert_int_equal(o.states[a], CDX_JOB_FAILED);
	assert_int_equal(f.attempts[a], 0);
	assert_int_equal(f.prepared[a], 1);
	assert_int_equal(f.hook_started[a], 0);
	assert_int_equal(f.attempt_done_calls[a], 1);
	assert_int_equal(f.done_attempts[a], 1);
	assert_int_equal(o.states[job(p, "s/b")], CDX_JOB_SKIPPED);
	assert_int_equal(o.states[c], CDX_JOB_SUCCESS);

	/* the runner's start() fails: the same */
	fake_init(&f, p, 2);
	f.start_fail_job = (int)a;
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(o.states[a], CDX_JOB_FAILED);
	assert_int_equal(o.states[job(p, "s/b")], CDX_JOB_SKIPPED);

	/* allowed to fail: its dependent runs */
	fake_init(&f, p, 2);
	f.prepare_fail_job = (int)c;
	assert_int_equal(go(&f, &o), CDX_RUN_SUCCESS);
	assert_int_equal(o.states[c], CDX_JOB_ALLOWED);
	assert_int_equal(o.states[job(p, "s/d")], CDX_JOB_SUCCESS);

	/* a retry that cannot start (SPAWNFAIL) ends the job as failed */
	fake_init(&f, p, 2);
	script(&f, a, CDX_PROC_EXITED, 1, 10);
	script(&f, a, CDX_PROC_SPAWNFAIL, 0, 0);
	assert_int_equal(go(&f, &o), CDX_RUN_FAILED);
	assert_int_equal(o.states[a], CDX_JOB_FAILED);
	assert_int_equal(f.attempts[a], 2);
	cdx_pipeline_free(p);
}

/* ---- cdx_sched_outcome --------------------------------------------------- */

static struct cdx_proc_result res_of(enum cdx_proc_end end, int code)
{
	struct cdx_proc_result r;
	memset(&r, 0, sizeof(r));
	r.end = end;
	if (end == CDX_PROC_EXITED || end == CDX_PROC_SPAWNFAIL)
		r.exit_code = code;
	else {
		r.term_signal = code;
		r.exit_code = 128 + code;
	}
	return r;
}

static void test_outcome_table(void **state)
{
	static int codes75[] = {75}, codes3[] = {3, 4};
	struct cdx_job plain, retry2, rcodes, rtmo, rfail, allow, acodes, both;
	struct {
		const struct cdx_job *j;
		int attempt;
		enum cdx_proc_end end;
		int code;
		enum cdx_job_state want;
	} rows[] = {
	    {&plain, 1, CDX_PROC_EXITED, 0, CDX_JOB_SUCCESS},
	    {&plain, 1, CDX_PROC_EXITED, 1, CDX_JOB_FAILED},
	    {&plain, 1, CDX_PROC_SIGNALED, SIGSEGV, CDX_JOB_FAILED},
	    {&plain, 1, CDX_PROC_TIMEDOUT, SIGTERM, CDX_JOB_FAILED},
	    {&plain, 1, CDX_PROC_CANCELLED, SIGTERM, CDX_JOB_CANCELLED},
	    {&plain, 1, CDX_PROC_SPAWNFAIL, 127, CDX_JOB_FAILED},
	    {&retry2, 1, CDX_PROC_EXITED, 1, CDX_JOB_RUNNING},
	    {&retry2, 2, CDX_PROC_EXITED, 1, CDX_JOB_RUNNING},
	    {&retry2, 3, CDX_PROC_EXITED, 1, CDX_JOB_FAILED},
	    {&retry2, 3, CDX_PROC_EXITED, 0, CDX_JOB_SUCCESS},
	    {&retry2, 1, CDX_PROC_SIGNALED, SIGKILL, CDX_JOB_RUNNING},
	    {&retry2, 1, CDX_PROC_TIMEDOUT, SIGTERM, CDX_JOB_RUNNING},
	    {&retry2, 1, CDX_PROC_CANCELLED, SIGTERM, CDX_JOB_CANCELLED},
	    {&rcodes, 1, CDX_PROC_EXITED, 75, CDX_JOB_RUNNING},
	    {&rcodes, 1, CDX_PROC_EXITED, 74, CDX_JOB_FAILED},
	    {&rcodes, 1, CDX_PROC_SIGNALED, SIGKILL, CDX_JOB_FAILED},
	    {&rcodes, 2, CDX_PROC_EXITED, 75, CDX_JOB_FAILED},
	    {&rtmo, 1, CDX_PROC_TIMEDOUT, SIGTERM, CDX_JOB_RUNNING},
	    {&rtmo, 1, CDX_PROC_EXITED, 1, CDX_JOB_FAILED},
	    {&rtmo, 1, CDX_PROC_SIGNALED, SIGTERM, CDX_JOB_FAILED},
	    {&rtmo, 2, CDX_PROC_TIMEDOUT, SIGTERM, CDX_JOB_FAILED},
	    {&rfail, 1, CDX_PROC_TIMEDOUT, SIGTERM, CDX_JOB_FAILED},
	    {&rfail, 1, CDX_PROC_EXITED, 2, CDX_JOB_RUNNING},
	    {&allow, 1, CDX_PROC_EXITED, 1, CDX_JOB_ALLOWED},
	    {&allow, 1, CDX_PROC_SIGNALED, SIGKILL, CDX_JOB_ALLOWED},
	    {&allow, 1, CDX_PROC_TIMEDOUT, SIGTERM, CDX_JOB_ALLOWED},
	    {&allow, 1, CDX_PROC_SPAWNFAIL, 127, CDX_JOB_ALLOWED},
	    {&allow, 1, CDX_PROC_CANCELLED, SIGTERM, CDX_JOB_CANCELLED},
	    {&allow, 1, CDX_PROC_EXITED, 0, CDX_JOB_SUCCESS},
	    {&acodes, 1, CDX_PROC_EXITED, 3, CDX_JOB_ALLOWED},
	    {&acodes, 1, CDX_PROC_EXITED, 4, CDX_JOB_ALLOWED},
	    {&acodes, 1, CDX_PROC_EXITED, 5, CDX_JOB_FAILED},
	    {&acodes, 1, CDX_PROC_TIMEDOUT, SIGTERM, CDX_JOB_FAILED},
	    /* retried first, allowed when the retries are used up */
	    {&both, 1, CDX_PROC_EXITED, 3, CDX_JOB_RUNNING},
	    {&both, 2, CDX_PROC_EXITED, 3, CDX_JOB_ALLOWED},
	    {&both, 2, CDX_PROC_EXITED, 1, CDX_JOB_FAILED},
	};
	size_t i;
	(void)state;

	memset(&plain, 0, sizeof(plain));
	plain.retry_when = CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT;
	retry2 = plain;
	retry2.retry_max = 2;
	rcodes = plain;
	rcodes.retry_max = 1;
	rcodes.retry_codes = codes75;
	rcodes.n_retry_codes = 1;
	rtmo = plain;
	rtmo.retry_max = 1;
	rtmo.retry_when = CDX_RETRY_ON_TIMEOUT;
	rfail = plain;
	rfail.retry_max = 1;
	rfail.retry_when = CDX_RETRY_ON_FAILURE;
	allow = plain;
	allow.allow_failure = true;
	acodes = plain;
	acodes.allow_codes = codes3;
	acodes.n_allow_codes = 2;
	both = acodes;
	both.retry_max = 1;
	for (i = 0; i < CDX_ARRAY_LEN(rows); i++) {
		struct cdx_proc_result r = res_of(rows[i].end, rows[i].code);
		enum cdx_job_state got = cdx_sched_outcome(rows[i].j, rows[i].attempt, &r);
		if (got != rows[i].want)
			fail_msg("row %zu: got %s, want %s", i, cdx_job_state_name(got),
				 cdx_job_state_name(rows[i].want));
	}
	/* names used in output and records */
	assert_string_equal(cdx_job_state_name(CDX_JOB_ALLOWED), "allowed_failure");
	assert_string_equal(cdx_job_state_name(CDX_JOB_SKIPPED), "skipped");
	assert_string_equal(cdx_job_state_name(CDX_JOB_CANCELLED), "cancelled");
	assert_string_equal(cdx_job_state_name((enum cdx_job_state)99), "unknown");
	assert_string_equal(cdx_run_state_name(CDX_RUN_TIMEOUT), "timeout");
	assert_string_equal(cdx_run_state_name(CDX_RUN_CANCELLED), "cancelled");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_needs_respected),
	    cmocka_unit_test(test_order_is_the_ordering_rule),
	    cmocka_unit_test(test_worker_limit),
	    cmocka_unit_test(test_not_level_by_level),
	    cmocka_unit_test(test_retry_by_count),
	    cmocka_unit_test(test_worker_lost_retried_apart),
	    cmocka_unit_test(test_retry_by_exit_code),
	    cmocka_unit_test(test_retry_on_timeout_only),
	    cmocka_unit_test(test_allow_failure),
	    cmocka_unit_test(test_failure_stops_the_run),
	    cmocka_unit_test(test_keep_going),
	    cmocka_unit_test(test_keep_going_retry_then_fail),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_wanted),
	    cmocka_unit_test(test_spawn_failure),
	    cmocka_unit_test(test_outcome_table),
	    cmocka_unit_test(test_cancel_keep_going_no_retry_pending),
	    cmocka_unit_test(test_cancel_dependents_pending),
	};
	return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
