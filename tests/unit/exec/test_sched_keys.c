/* test_sched_keys.c — the scheduler's when: semantics and after_script,
 * driven by a fake runner in the style of test_sched.c: no fork, no sleep.
 *
 * The fake keeps a simulated clock; every process takes 10 ms of it and
 * ends as the test scripted for its job (an exit code, or a timeout), an
 * after_script (token bit CDX_SCHED_AFTER) as scripted for after_scripts.
 * The hooks record starts in order, so that the tests check what ran, in
 * which order, with which final states, and what the after_script saw.
 */
#include "fixtures.h"

#include "exec/runner.h"
#include "exec/sched.h"
#include "pipeline/dag.h"
#include "pipeline/pipeline.h"

#define MAXJ 16
#define MAXRUN 64

struct proc {
	uint64_t token;
	int64_t end;
	struct cdx_proc_result res;
};

struct fake {
	const struct cdx_pipeline *p;
	int64_t now;
	struct proc run[MAXRUN];
	size_t nrun;
	/* scripted: exit code of each job's script (TIMEDOUT when timeout[j]) */
	int code[MAXJ], after_code[MAXJ];
	bool timeout[MAXJ];
	/* what happened */
	char order[512];          /* "job," or "job+after," in start order */
	enum cdx_proc_end seen_main[MAXJ]; /* how the script ended, as prepare_after saw it */
	int after_done[MAXJ];
	int after_exit[MAXJ];
	int attempt_done[MAXJ];
	enum cdx_job_state final[MAXJ];
	/* manual: played[j] turns true when the clock reaches play_at[j] (>= 0) */
	int64_t play_at[MAXJ];
	int played_calls;
};

static int f_start(void *self, const struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct fake *f = self;
	uint32_t j = (uint32_t)spec->token;
	bool after = (spec->token & CDX_SCHED_AFTER) != 0;
	struct proc *pr;
	(void)err;
	assert_true(j < f->p->n_jobs);
	assert_true(f->nrun < MAXRUN);
	snprintf(f->order + strlen(f->order), sizeof(f->order) - strlen(f->order), "%s%s,", f->p->jobs[j].name,
		 after ? "+after" : "");
	pr = &f->run[f->nrun++];
	memset(pr, 0, sizeof(*pr));
	pr->token = spec->token;
	pr->end = f->now + 10;
	pr->res.token = spec->token;
	if (!after && f->timeout[j]) {
		pr->res.end = CDX_PROC_TIMEDOUT;
		pr->res.term_signal = 15;
	} else {
		pr->res.end = CDX_PROC_EXITED;
		pr->res.exit_code = after ? f->after_code[j] : f->code[j];
	}
	return 0;
}

static int f_wait(void *self, int timeout_ms, struct cdx_proc_result *res)
{
	struct fake *f = self;
	size_t i, best = 0;
	(void)timeout_ms;
	if (!f->nrun) {
		f->now += 100; /* nothing runs: time passes (a manual job waits) */
		return 0;
	}
	for (i = 1; i < f->nrun; i++)
		if (f->run[i].end < f->run[best].end)
			best = i;
	f->now = f->run[best].end;
	*res = f->run[best].res;
	f->run[best] = f->run[--f->nrun];
	return 1;
}

static void f_cancel_all(void *self, bool now)
{
	(void)self;
	(void)now;
}

static size_t f_running(void *self)
{
	return ((struct fake *)self)->nrun;
}

static const struct cdx_runner_ops fake_ops = {f_start, f_wait, f_cancel_all, f_running};

static int h_prepare(void *ctx, size_t job, int attempt, struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct fake *f = ctx;
	(void)attempt;
	(void)err;
	spec->script = f->p->jobs[job].script;
	return 0;
}

static int h_prepare_after(void *ctx, size_t job, int attempt, const struct cdx_proc_result *main,
			   struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct fake *f = ctx;
	(void)attempt;
	(void)err;
	f->seen_main[job] = main->end;
	spec->script = f->p->jobs[job].after_script;
	return 0;
}

static void h_after_done(void *ctx, size_t job, int attempt, const struct cdx_proc_result *r)
{
	struct fake *f = ctx;
	(void)attempt;
	assert_int_equal(r->token, job);
	f->after_done[job]++;
	f->after_exit[job] = r->exit_code;
}

static void h_attempt_done(void *ctx, size_t job, int attempt, const struct cdx_proc_result *r,
			   enum cdx_job_state state)
{
	struct fake *f = ctx;
	(void)attempt;
	(void)state;
	assert_int_equal(r->token, job); /* the script's result, not the after_script's */
	f->attempt_done[job]++;
}

static void h_job_done(void *ctx, size_t job, enum cdx_job_state state, int attempts)
{
	struct fake *f = ctx;
	(void)attempts;
	f->final[job] = state;
}

static bool h_played(void *ctx, size_t job, int64_t wait_ms)
{
	struct fake *f = ctx;
	f->played_calls++;
	f->now += wait_ms; /* the hook waits that long for a play */
	return f->play_at[job] >= 0 && f->now >= f->play_at[job];
}

static struct cdx_pipeline *load(const char *yaml)
{
	struct cdx_pipeline *p = cdx_pipeline_load_mem("test.yml", yaml, strlen(yaml), NULL);
	assert_non_null(p);
	assert_true(p->n_jobs <= MAXJ);
	return p;
}

static void init(struct fake *f, const struct cdx_pipeline *p)
{
	size_t i;
	memset(f, 0, sizeof(*f));
	f->p = p;
	for (i = 0; i < MAXJ; i++)
		f->play_at[i] = -1;
}

static uint32_t job(const struct cdx_pipeline *p, const char *name)
{
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		if (strcmp(p->jobs[i].name, name) == 0)
			return (uint32_t)i;
	fail_msg("no job %s", name);
	return 0;
}

/* run P on F; BLOCKS: per job, a manual job holds back what needs it */
static enum cdx_run_state go(struct fake *f, bool keep_going, const bool *blocks, bool wait)
{
	struct cdx_sched_hooks h;
	struct cdx_sched_opts so;
	enum cdx_job_state states[MAXJ];
	double prio[2 * MAXJ + 2];
	double w[MAXJ];
	size_t i;
	enum cdx_run_state rs;
	for (i = 0; i < f->p->n_jobs; i++)
		w[i] = cdx_pipeline_weight_ms(f->p, i);
	cdx_dag_priority(f->p->dag, w, prio);
	memset(&h, 0, sizeof(h));
	h.ctx = f;
	h.prepare = h_prepare;
	h.attempt_done = h_attempt_done;
	h.job_done = h_job_done;
	h.prepare_after = h_prepare_after;
	h.after_done = h_after_done;
	h.played = h_played;
	memset(&so, 0, sizeof(so));
	so.workers = 1;
	so.keep_going = keep_going;
	so.prio = prio;
	so.manual_blocks = blocks;
	so.manual_wait = wait;
	rs = cdx_sched_run(f->p, &so, &fake_ops, f, &h, states);
	assert_int_equal(f->nrun, 0);
	for (i = 0; i < f->p->n_jobs; i++)
		assert_int_equal(states[i], f->final[i]);
	return rs;
}

static const char *const PIPE =
    "name: w\n"
    "stages:\n"
    "  - name: build\n"
    "    jobs: [{name: compile, script: make, duration_hint: 1s}]\n"
    "  - name: test\n"
    "    jobs: [{name: unit, script: check}]\n"
    "  - name: post\n"
    "    jobs:\n"
    "      - {name: clean, when: always, script: rm}\n"
    "      - {name: notify, when: on_failure, script: mail}\n"
    "  - name: deploy\n"
    "    jobs: [{name: prod, script: ship}]\n";

static void test_success(void **state)
{
	struct cdx_pipeline *p = load(PIPE);
	struct fake f;
	(void)state;
	init(&f, p);
	assert_int_equal(go(&f, false, NULL, false), CDX_RUN_SUCCESS);
	assert_string_equal(f.order, "compile,unit,clean,prod,");
	assert_int_equal(f.final[job(p, "notify")], CDX_JOB_SKIPPED);
	assert_int_equal(f.final[job(p, "clean")], CDX_JOB_SUCCESS);
	cdx_pipeline_free(p);
}

static void test_failure(void **state)
{
	struct cdx_pipeline *p = load(PIPE);
	struct fake f;
	bool kg;
	(void)state;
	for (kg = false; ; kg = true) {
		init(&f, p);
		f.code[job(p, "compile")] = 2;
		assert_int_equal(go(&f, kg, NULL, false), CDX_RUN_FAILED);
		/* unit is skipped, clean and notify run (through the skipped
		 * stage), prod after them is skipped: the pipeline failed */
		assert_string_equal(f.order, "compile,clean,notify,");
		assert_int_equal(f.final[job(p, "unit")], CDX_JOB_SKIPPED);
		assert_int_equal(f.final[job(p, "clean")], CDX_JOB_SUCCESS);
		assert_int_equal(f.final[job(p, "notify")], CDX_JOB_SUCCESS);
		assert_int_equal(f.final[job(p, "prod")], CDX_JOB_SKIPPED);
		if (kg)
			break;
	}
	/* a failing always job fails the run */
	init(&f, p);
	f.code[job(p, "clean")] = 1;
	assert_int_equal(go(&f, false, NULL, false), CDX_RUN_FAILED);
	assert_string_equal(f.order, "compile,unit,clean,");
	cdx_pipeline_free(p);
}

static void test_after_script(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: a, script: x, after_script: y, retry: 1}\n"
				      "      - {name: b, script: x, after_script: y}\n"
				      "      - {name: c, script: x, after_script: y, needs: [s/b]}\n");
	struct fake f;
	(void)state;
	init(&f, p);
	f.code[job(p, "a")] = 3;      /* fails twice: after_script each time */
	f.timeout[job(p, "b")] = true; /* times out: its after_script still runs */
	f.after_code[job(p, "c")] = 9; /* a failing after_script changes nothing */
	f.timeout[job(p, "c")] = false;
	assert_int_equal(go(&f, true, NULL, false), CDX_RUN_FAILED);
	assert_string_equal(f.order, "b,b+after,a,a+after,a,a+after,"); /* b first: c needs it */
	assert_int_equal(f.after_done[job(p, "a")], 2);
	assert_int_equal(f.attempt_done[job(p, "a")], 2);
	assert_int_equal(f.seen_main[job(p, "b")], CDX_PROC_TIMEDOUT);
	assert_int_equal(f.final[job(p, "b")], CDX_JOB_FAILED);
	assert_int_equal(f.final[job(p, "c")], CDX_JOB_SKIPPED);
	init(&f, p);
	f.after_code[job(p, "b")] = 9;
	assert_int_equal(go(&f, true, NULL, false), CDX_RUN_SUCCESS);
	assert_int_equal(f.after_exit[job(p, "b")], 9);
	assert_int_equal(f.final[job(p, "b")], CDX_JOB_SUCCESS);
	cdx_pipeline_free(p);
}

static const char *const PIPE_MANUAL =
    "stages:\n"
    "  - name: s\n"
    "    jobs:\n"
    "      - {name: build, script: x}\n"
    "      - {name: gate, when: manual, script: x, needs: [s/build]}\n"
    "      - {name: after, script: x, needs: [s/gate]}\n";

static void test_manual(void **state)
{
	struct cdx_pipeline *p = load(PIPE_MANUAL);
	struct fake f;
	bool blocks[MAXJ] = {0};
	(void)state;
	/* not played, holding nothing back: after runs, gate stays manual */
	init(&f, p);
	assert_int_equal(go(&f, false, NULL, false), CDX_RUN_SUCCESS);
	assert_string_equal(f.order, "build,after,");
	assert_int_equal(f.final[job(p, "gate")], CDX_JOB_MANUAL);
	/* blocking and not played, no waiting: after is skipped */
	blocks[job(p, "gate")] = true;
	init(&f, p);
	assert_int_equal(go(&f, false, blocks, false), CDX_RUN_SUCCESS);
	assert_string_equal(f.order, "build,");
	assert_int_equal(f.final[job(p, "gate")], CDX_JOB_MANUAL);
	assert_int_equal(f.final[job(p, "after")], CDX_JOB_SKIPPED);
	/* blocking, waiting, played later: gate then after */
	init(&f, p);
	f.play_at[job(p, "gate")] = 500;
	assert_int_equal(go(&f, false, blocks, true), CDX_RUN_SUCCESS);
	assert_string_equal(f.order, "build,gate,after,");
	assert_true(f.played_calls > 1);
	/* not blocking, played while build runs: it runs too */
	init(&f, p);
	f.play_at[job(p, "gate")] = 0;
	assert_int_equal(go(&f, false, NULL, false), CDX_RUN_SUCCESS);
	assert_int_equal(f.final[job(p, "gate")], CDX_JOB_SUCCESS);
	/* after a failure no manual job starts */
	init(&f, p);
	f.code[job(p, "build")] = 1;
	f.play_at[job(p, "gate")] = 0;
	assert_int_equal(go(&f, false, blocks, true), CDX_RUN_FAILED);
	assert_string_equal(f.order, "build,");
	assert_int_equal(f.final[job(p, "gate")], CDX_JOB_SKIPPED);
	cdx_pipeline_free(p);
}

static void test_on_failure_without_needs(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: lone, when: on_failure, script: x, needs: []}\n"
				      "      - {name: always, when: always, script: x, needs: []}\n");
	struct fake f;
	(void)state;
	init(&f, p);
	assert_int_equal(go(&f, false, NULL, false), CDX_RUN_SUCCESS);
	assert_string_equal(f.order, "always,");
	assert_int_equal(f.final[job(p, "lone")], CDX_JOB_SKIPPED);
	cdx_pipeline_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_success),
	    cmocka_unit_test(test_failure),
	    cmocka_unit_test(test_after_script),
	    cmocka_unit_test(test_manual),
	    cmocka_unit_test(test_on_failure_without_needs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
