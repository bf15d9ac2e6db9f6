/* test_strategy.c — the strategies' state machines (strategies/) driven
 * by a fake struct cdx_strategy_io: no fork, no sleep, no store.
 *
 * The fake writes every call into a log, one line each, so a test states
 * the exact sequence it expects:
 *   "R STATE"                      record (the message goes to msgs[])
 *   "H HOOK TARGET VERSION WEIGHT" hook (TARGET -1: none)
 *   "C TARGET VERSION"             health
 *   "A TARGET VERSION WEIGHT"      analysis
 *   "P MS"                         pause
 * and fails on a chosen step: the Nth health call, a given hook on a given
 * target, the Nth record (which must stop the strategy before the action
 * it announces), or scripted analysis and pause results.
 */
#include "fixtures.h"

#include "project/environment.h"
#include "strategies/strategy.h"

#define MAXLOG 256

struct fake {
	char log[MAXLOG][96];
	char msgs[MAXLOG][256];
	size_t n, nrec;
	int health_calls, fail_health_at; /* fail the Nth health call (1-based; 0 never) */
	int fail_hook, fail_hook_target;  /* fail this hook on this target (-2 never) */
	int records, stop_record_at;      /* record N returns non-zero (0 never) */
	int analysis[16], n_analysis, analysis_calls; /* scripted; past the end: PASS */
	int pauses[16], n_pauses, pause_calls;        /* scripted; past the end: DONE */
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->fail_hook = -2;
	f->fail_hook_target = -2;
}

static void logf_(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct fake *f, const char *fmt, ...)
{
	va_list ap;
	assert_true(f->n < MAXLOG);
	va_start(ap, fmt);
	vsnprintf(f->log[f->n++], sizeof(f->log[0]), fmt, ap);
	va_end(ap);
}

static int f_record(void *ctx, const struct cdx_serving *sv, const char *state, const char *msg)
{
	struct fake *f = ctx;
	(void)sv;
	logf_(f, "R %s", state);
	snprintf(f->msgs[f->nrec++], sizeof(f->msgs[0]), "%s", msg);
	return ++f->records == f->stop_record_at ? 1 : 0;
}

static int f_hook(void *ctx, enum cdx_hook_id h, int t, const char *version, int weight, struct cdx_error *err)
{
	struct fake *f = ctx;
	logf_(f, "H %s %d %s %d", cdx_hook_name(h), t, version ? version : "-", weight);
	if ((int)h == f->fail_hook && t == f->fail_hook_target)
		return cdx_error_set(err, CDX_EFAILED, "%s hook failed on %d", cdx_hook_name(h), t);
	return 0;
}

static int f_health(void *ctx, int t, const char *version, struct cdx_error *err)
{
	struct fake *f = ctx;
	logf_(f, "C %d %s", t, version);
	if (++f->health_calls == f->fail_health_at)
		return cdx_error_set(err, CDX_EFAILED, "health failed on %d", t);
	return 0;
}

static int f_analysis(void *ctx, int t, const char *version, int weight, struct cdx_error *err)
{
	struct fake *f = ctx;
	int i = f->analysis_calls++;
	int r = i < f->n_analysis ? f->analysis[i] : CDX_ANALYSIS_PASS;
	logf_(f, "A %d %s %d", t, version, weight);
	if (r == CDX_ANALYSIS_FAIL)
		cdx_error_set(err, CDX_EFAILED, "analysis failed at %d%%", weight);
	return r;
}

static int f_pause(void *ctx, int64_t ms)
{
	struct fake *f = ctx;
	int i = f->pause_calls++;
	logf_(f, "P %lld", (long long)ms);
	return i < f->n_pauses ? f->pauses[i] : CDX_PAUSE_DONE;
}

static void fake_io(struct fake *f, struct cdx_strategy_io *io)
{
	io->ctx = f;
	io->record = f_record;
	io->hook = f_hook;
	io->health = f_health;
	io->analysis = f_analysis;
	io->pause = f_pause;
	io->skip = NULL;
}

/* the log equals WANT (NULL-terminated); on a mismatch print both */
static void expect_log(const struct fake *f, const char *const *want)
{
	size_t i, nw = 0;
	bool ok;
	while (want[nw])
		nw++;
	ok = nw == f->n;
	for (i = 0; ok && i < nw; i++)
		ok = strcmp(want[i], f->log[i]) == 0;
	if (ok)
		return;
	for (i = 0; i < nw || i < f->n; i++)
		print_error("%3zu  %-28s %s %s\n", i, i < nw ? want[i] : "", i < f->n ? f->log[i] : "",
			    i < nw && i < f->n && strcmp(want[i], f->log[i]) == 0 ? "" : "  <--");
	fail_msg("the calls differ from those expected");
}

static size_t count_prefix(const struct fake *f, const char *pfx)
{
	size_t i, n = 0;
	for (i = 0; i < f->n; i++)
		n += strncmp(f->log[i], pfx, strlen(pfx)) == 0;
	return n;
}

static void reset_log(struct fake *f)
{
	int fh = f->fail_hook, ft = f->fail_hook_target;
	fake_init(f);
	f->fail_hook = fh;
	f->fail_hook_target = ft;
}

/* ---- environments ------------------------------------------------------------ */

static struct cdx_app app = {"web", NULL, 0};
static struct cdx_target slots[2] = {{"blue", NULL, 0}, {"green", NULL, 0}};
static struct cdx_target inst[5] = {{"a", NULL, 0}, {"b", NULL, 0}, {"c", NULL, 0}, {"d", NULL, 0}, {"e", NULL, 0}};

static void env_slots(struct cdx_env *e, enum cdx_strategy_kind k)
{
	memset(e, 0, sizeof(*e));
	e->name = "prod";
	e->app = &app;
	e->strategy = k;
	e->targets = slots;
	e->n_targets = 2;
	e->batch = e->max_unavailable = 1;
}

static int canary_steps[] = {10, 50, 100};

static void env_canary(struct cdx_env *e, bool analysis, int64_t pause_ms, enum cdx_nodata nd)
{
	env_slots(e, CDX_STRATEGY_CANARY);
	e->steps = canary_steps;
	e->n_steps = 3;
	e->pause_ms = pause_ms;
	e->analysis_cmd = analysis ? "./rate.sh" : NULL;
	e->has_max = analysis;
	e->analysis_max = 0.01;
	e->nodata = nd;
}

static void env_inst(struct cdx_env *e, size_t n, int batch)
{
	memset(e, 0, sizeof(*e));
	e->name = "fleet";
	e->app = &app;
	e->strategy = CDX_STRATEGY_ROLLING;
	e->instances = true;
	e->targets = inst;
	e->n_targets = n;
	e->batch = e->max_unavailable = batch;
}

/* SV: slots {S0, S1}, ACTIVE serving */
static void sv_slots(struct cdx_serving *sv, const char *s0, const char *s1, int active)
{
	cdx_serving_init(sv, 2);
	cdx_serving_set(&sv->installed[0], s0);
	cdx_serving_set(&sv->installed[1], s1);
	sv->active = active;
	cdx_serving_set(&sv->version, active >= 0 ? sv->installed[active] : NULL);
}

static void sv_inst(struct cdx_serving *sv, size_t n, const char *const *v, const char *version)
{
	size_t i;
	cdx_serving_init(sv, n);
	for (i = 0; i < n; i++)
		cdx_serving_set(&sv->installed[i], v[i]);
	cdx_serving_set(&sv->version, version);
}

static void expect_str(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

/* ---- a test's world ------------------------------------------------------- */

/* what one test drives: the environment, what serves (sv) and what served
 * before the last deploy() (before, the target of revert()), the fake and
 * the io wired to it, the last error */
struct world {
	struct cdx_env e;
	struct cdx_serving sv, before;
	struct cdx_strategy_io io;
	struct cdx_error err;
	struct fake f;
};

/* world_init: nothing serves (sv and before empty), a fresh fake wired to
 * io; the test sets e (env_*) and sv (sv_slots, sv_inst) */
static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	fake_init(&w->f);
	fake_io(&w->f, &w->io);
}

static void world_free(struct world *w)
{
	cdx_serving_free(&w->sv);
	cdx_serving_free(&w->before);
}

/* deploy: S deploys VERSION over what serves, which is kept in before */
static int deploy(struct world *w, const struct cdx_strategy *s, const char *version)
{
	cdx_serving_free(&w->before);
	cdx_serving_copy(&w->before, &w->sv);
	memset(&w->err, 0, sizeof(w->err));
	return s->deploy(&w->e, &w->sv, version, &w->io, &w->err);
}

/* revert: S takes sv back to before */
static int revert(struct world *w, const struct cdx_strategy *s)
{
	return s->revert(&w->e, &w->sv, &w->before, &w->io, &w->err);
}

static int rollback(struct world *w, enum cdx_rollback_kind k, const char *version, const bool *only)
{
	return cdx_rollback_run(&w->e, k, &w->sv, version, only, &w->io, &w->err);
}

/* ---- blue_green ------------------------------------------------------------ */

static void test_bg_first_and_second(void **state)
{
	struct world w;
	static const char *const first[] = {"R deploying",	 "H deploy 0 v1 0", "H start 0 v1 0", "R verifying",
					    "C 0 v1",		 "R promoting",	    "H switch 0 v1 100", "R verifying",
					    "C 0 v1",		 NULL};
	static const char *const second[] = {"R deploying",	 "H deploy 1 v2 0", "H start 1 v2 0", "R verifying",
					     "C 1 v2",		 "R promoting",	    "H switch 1 v2 100", "R verifying",
					     "C 1 v2",		 NULL};
	static const char *const third[] = {"R deploying",	"H deploy 0 v3 0", "H start 0 v3 0", "R verifying",
					    "C 0 v3",		"R promoting",	   "H switch 0 v3 100", "R verifying",
					    "C 0 v3",		NULL};
	(void)state;
	world_init(&w);
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);
	cdx_serving_init(&w.sv, 2);
	assert_int_equal(deploy(&w, &cdx_strategy_blue_green, "v1"), 0);
	expect_log(&w.f, first);
	assert_string_equal(w.f.msgs[0], "install v1 into slot blue");
	assert_string_equal(w.f.msgs[1], "health of slot blue (preview)");
	expect_str(w.sv.version, "v1");
	assert_int_equal(w.sv.active, 0);
	expect_str(w.sv.installed[0], "v1");
	expect_str(w.sv.installed[1], NULL);

	/* the second uses the other slot, and the old one stays warm */
	reset_log(&w.f);
	assert_int_equal(deploy(&w, &cdx_strategy_blue_green, "v2"), 0);
	expect_log(&w.f, second);
	expect_str(w.sv.version, "v2");
	assert_int_equal(w.sv.active, 1);
	expect_str(w.sv.installed[0], "v1");
	expect_str(w.sv.installed[1], "v2");

	/* and the third goes back to the first slot */
	reset_log(&w.f);
	assert_int_equal(deploy(&w, &cdx_strategy_blue_green, "v3"), 0);
	expect_log(&w.f, third);
	assert_int_equal(w.sv.active, 0);
	expect_str(w.sv.installed[1], "v2");
	world_free(&w);
}

static void test_bg_preview_fails(void **state)
{
	struct world w;
	static const char *const want[] = {"R deploying", "H deploy 1 v2 0", "H start 1 v2 0", "R verifying", "C 1 v2",
					   /* revert: the new slot stopped; no switch ever */
					   "R rolling_back", "H stop 1 v2 0", NULL};
	(void)state;
	world_init(&w);
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);
	w.f.fail_health_at = 1;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_blue_green, "v2"), 0);
	assert_string_equal(w.err.msg, "health failed on 1");
	/* nothing moved traffic */
	assert_int_equal(w.sv.active, 0);
	expect_str(w.sv.version, "v1");
	expect_str(w.sv.installed[1], "v2"); /* touched: the revert must stop it */
	memset(&w.err, 0, sizeof(w.err));
	assert_int_equal(revert(&w, &cdx_strategy_blue_green), 0);
	expect_log(&w.f, want);
	assert_int_equal(count_prefix(&w.f, "H switch"), 0);
	assert_int_equal(w.sv.active, 0);
	expect_str(w.sv.version, "v1");
	expect_str(w.sv.installed[0], "v1");
	expect_str(w.sv.installed[1], NULL);
	world_free(&w);
}

static void test_bg_fails_after_switch(void **state)
{
	struct world w;
	static const char *const want[] = {"R deploying",	"H deploy 1 v2 0", "H start 1 v2 0",	"R verifying",
					   "C 1 v2",		"R promoting",	   "H switch 1 v2 100", "R verifying",
					   "C 1 v2",
					   /* revert: traffic back to blue, green stopped */
					   "R rolling_back",	"H switch 0 v1 100", "R rolling_back",	"H stop 1 v2 0",
					   NULL};
	(void)state;
	world_init(&w);
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);
	w.f.fail_health_at = 2;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_blue_green, "v2"), 0);
	assert_int_equal(w.sv.active, 1);
	expect_str(w.sv.version, "v2");
	assert_int_equal(revert(&w, &cdx_strategy_blue_green), 0);
	expect_log(&w.f, want);
	assert_int_equal(w.sv.active, 0);
	expect_str(w.sv.version, "v1");
	expect_str(w.sv.installed[1], NULL);
	world_free(&w);
}

static void test_bg_first_fails(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);
	w.f.fail_health_at = 2; /* after the switch of a first deployment */
	cdx_serving_init(&w.sv, 2);
	assert_int_not_equal(deploy(&w, &cdx_strategy_blue_green, "v1"), 0);
	assert_int_equal(revert(&w, &cdx_strategy_blue_green), 0);
	/* nothing served before: nothing serves now, the slot is stopped */
	assert_string_equal(w.f.log[w.f.n - 1], "H stop 0 v1 0");
	assert_int_equal(w.sv.active, -1);
	expect_str(w.sv.version, NULL);
	expect_str(w.sv.installed[0], NULL);
	world_free(&w);
}

static void test_bg_hook_fails(void **state)
{
	struct world w;
	static const char *const want[] = {"R deploying", "H deploy 1 v2 0", "H start 1 v2 0",
					   "R rolling_back", "H stop 1 v2 0", NULL};
	(void)state;
	world_init(&w);
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);
	w.f.fail_hook = CDX_HOOK_START;
	w.f.fail_hook_target = 1;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_blue_green, "v2"), 0);
	assert_string_equal(w.err.msg, "start hook failed on 1");
	w.f.fail_hook = -2;
	assert_int_equal(revert(&w, &cdx_strategy_blue_green), 0);
	expect_log(&w.f, want);
	world_free(&w);
}

/* ---- canary ------------------------------------------------------------------ */

static const char *const canary_full[] = {
    "R deploying", "H deploy 1 v2 0", "H start 1 v2 0", "R verifying", "C 1 v2",
    /* 10% */
    "R promoting", "H weight 1 v2 10", "R verifying", "P 30000", "R verifying", "A 1 v2 10", "R verifying", "C 1 v2",
    /* 50% */
    "R promoting", "H weight 1 v2 50", "R verifying", "P 30000", "R verifying", "A 1 v2 50", "R verifying", "C 1 v2",
    /* all */
    "R promoting", "H switch 1 v2 100", "R verifying", "C 1 v2", NULL};

static void test_canary_steps(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 30000, CDX_NODATA_FAIL);
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	expect_log(&w.f, canary_full);
	assert_string_equal(w.f.msgs[2], "weight 10% to canary slot green");
	expect_str(w.sv.version, "v2");
	assert_int_equal(w.sv.active, 1);
	assert_int_equal(w.sv.canary, -1);
	assert_int_equal(w.sv.weight, 0);
	world_free(&w);
}

static void test_canary_first_is_blue_green(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 30000, CDX_NODATA_FAIL);
	cdx_serving_init(&w.sv, 2);
	assert_int_equal(deploy(&w, &cdx_strategy_canary, "v1"), 0);
	assert_int_equal(count_prefix(&w.f, "H weight"), 0);
	assert_int_equal(count_prefix(&w.f, "P "), 0);
	assert_int_equal(w.sv.active, 0);
	expect_str(w.sv.version, "v1");
	world_free(&w);
}

static void test_canary_no_pause_no_analysis(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, false, 0, CDX_NODATA_FAIL);
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_int_equal(count_prefix(&w.f, "P "), 0);
	assert_int_equal(count_prefix(&w.f, "A "), 0);
	assert_int_equal(count_prefix(&w.f, "H weight"), 2);
	assert_int_equal(count_prefix(&w.f, "C "), 4); /* install, 10, 50, after the switch */
	world_free(&w);
}

static void test_canary_promote_skips_pauses(void **state)
{
	struct world w;
	static int steps4[] = {10, 25, 50, 100};
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 30000, CDX_NODATA_FAIL);
	w.e.steps = steps4;
	w.e.n_steps = 4;
	w.f.pauses[0] = CDX_PAUSE_PROMOTE;
	w.f.n_pauses = 1;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	/* one pause (promoted there); the weights and the analysis still go on */
	assert_int_equal(count_prefix(&w.f, "P "), 1);
	assert_int_equal(count_prefix(&w.f, "H weight"), 3);
	assert_int_equal(count_prefix(&w.f, "A "), 3);
	expect_str(w.sv.version, "v2");
	world_free(&w);
}

/* the revert of a canary that had weight: weight 0, then the canary stopped */
static const char *const canary_revert_tail[] = {"R rolling_back", "H weight 1 v2 0", "R rolling_back",
						 "H stop 1 v2 0", NULL};

static void check_canary_revert(struct world *w)
{
	size_t start = w->f.n, i;
	assert_int_equal(w->sv.canary, 1);
	assert_int_equal(w->sv.active, 0);
	assert_int_equal(revert(w, &cdx_strategy_canary), 0);
	for (i = 0; canary_revert_tail[i]; i++) {
		assert_true(start + i < w->f.n);
		assert_string_equal(w->f.log[start + i], canary_revert_tail[i]);
	}
	assert_int_equal(w->f.n, start + i);
	assert_int_equal(w->sv.active, 0);
	assert_int_equal(w->sv.canary, -1);
	assert_int_equal(w->sv.weight, 0);
	expect_str(w->sv.version, "v1");
	expect_str(w->sv.installed[1], NULL);
	assert_int_equal(count_prefix(&w->f, "H switch"), 0);
}

static void test_canary_abort(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 30000, CDX_NODATA_FAIL);
	w.f.pauses[0] = CDX_PAUSE_DONE;
	w.f.pauses[1] = CDX_PAUSE_ABORT;
	w.f.n_pauses = 2;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_string_equal(w.err.msg, "aborted at 50%");
	assert_string_equal(w.f.log[w.f.n - 1], "P 30000");
	assert_int_equal(w.sv.weight, 50);
	check_canary_revert(&w);
	world_free(&w);
}

static void test_canary_analysis_fails(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 30000, CDX_NODATA_FAIL);
	w.f.analysis[0] = CDX_ANALYSIS_PASS;
	w.f.analysis[1] = CDX_ANALYSIS_FAIL;
	w.f.n_analysis = 2;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_string_equal(w.err.msg, "analysis failed at 50%");
	assert_string_equal(w.f.log[w.f.n - 1], "A 1 v2 50");
	check_canary_revert(&w);
	world_free(&w);
}

static void test_canary_fails_after_switch(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, false, 0, CDX_NODATA_FAIL);
	w.f.fail_health_at = 4; /* after the final switch */
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_int_equal(w.sv.active, 1);
	reset_log(&w.f);
	assert_int_equal(revert(&w, &cdx_strategy_canary), 0);
	assert_string_equal(w.f.log[0], "R rolling_back");
	assert_string_equal(w.f.log[1], "H switch 0 v1 100");
	assert_string_equal(w.f.log[w.f.n - 1], "H stop 1 v2 0");
	assert_int_equal(w.sv.active, 0);
	expect_str(w.sv.version, "v1");
	expect_str(w.sv.installed[1], NULL);
	world_free(&w);
}

static void test_canary_nodata_fail(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 0, CDX_NODATA_FAIL);
	w.f.analysis[0] = CDX_ANALYSIS_NODATA;
	w.f.n_analysis = 1;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_string_equal(w.err.msg, "analysis gave no data at 10% (no_data: fail)");
	assert_int_equal(count_prefix(&w.f, "P "), 0);
	assert_string_equal(w.f.log[w.f.n - 1], "A 1 v2 10");
	world_free(&w);
}

static void test_canary_nodata_pass(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 0, CDX_NODATA_PASS);
	w.f.analysis[0] = w.f.analysis[1] = CDX_ANALYSIS_NODATA;
	w.f.n_analysis = 2;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_int_equal(count_prefix(&w.f, "P "), 0);
	assert_int_equal(count_prefix(&w.f, "A "), 2);
	expect_str(w.sv.version, "v2");
	world_free(&w);
}

static void test_canary_nodata_pause(void **state)
{
	struct world w;
	static const char *const want[] = {
	    "R deploying", "H deploy 1 v2 0", "H start 1 v2 0", "R verifying", "C 1 v2",
	    /* 10%: no data twice, paused (at least 1 s) until it comes; the
	     * pause recorded once */
	    "R promoting", "H weight 1 v2 10", "R verifying", "A 1 v2 10", "R verifying", "P 1000", "A 1 v2 10",
	    "P 1000", "A 1 v2 10", "R verifying", "C 1 v2",
	    /* 50%: no data, paused, promoted */
	    "R promoting", "H weight 1 v2 50", "R verifying", "A 1 v2 50", "R verifying", "P 1000", "R verifying",
	    "C 1 v2", "R promoting", "H switch 1 v2 100", "R verifying", "C 1 v2", NULL};
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 0, CDX_NODATA_PAUSE);
	w.f.analysis[0] = w.f.analysis[1] = w.f.analysis[3] = CDX_ANALYSIS_NODATA;
	w.f.analysis[2] = CDX_ANALYSIS_PASS;
	w.f.n_analysis = 4;
	w.f.pauses[2] = CDX_PAUSE_PROMOTE;
	w.f.n_pauses = 3;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	expect_log(&w.f, want);
	expect_str(w.sv.version, "v2");
	cdx_serving_free(&w.sv);

	/* abort while paused for data */
	fake_init(&w.f);
	w.f.analysis[0] = CDX_ANALYSIS_NODATA;
	w.f.n_analysis = 1;
	w.f.pauses[0] = CDX_PAUSE_ABORT;
	w.f.n_pauses = 1;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_string_equal(w.err.msg, "aborted at 10%");
	check_canary_revert(&w);
	world_free(&w);
}

/* no_data: pause ends as failed after max_pause, its last pause cut to
 * what is left of it, and is recorded once */
static void test_canary_nodata_max_pause(void **state)
{
	struct world w;
	size_t i;
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 0, CDX_NODATA_PAUSE);
	w.e.max_pause_ms = 2500;
	for (i = 0; i < 8; i++)
		w.f.analysis[i] = CDX_ANALYSIS_NODATA;
	w.f.n_analysis = 8;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_string_equal(w.err.msg, "analysis gave no data at 10% for 2500 ms (max_pause)");
	assert_int_equal(count_prefix(&w.f, "P "), 3);
	assert_string_equal(w.f.log[w.f.n - 2], "P 500");
	assert_int_equal(count_prefix(&w.f, "A "), 4);
	/* health, analysis at 10%, paused: one record each */
	assert_int_equal(count_prefix(&w.f, "R verifying"), 3);
	world_free(&w);
}

/* after a promote, no pause of any kind is left: a step without data does
 * not wait again (no_data: pause) */
static void test_canary_promote_skips_nodata_pauses(void **state)
{
	struct world w;
	(void)state;
	world_init(&w);
	env_canary(&w.e, true, 30000, CDX_NODATA_PAUSE);
	w.f.analysis[0] = w.f.analysis[1] = w.f.analysis[2] = w.f.analysis[3] = CDX_ANALYSIS_NODATA;
	w.f.n_analysis = 4;
	w.f.pauses[0] = CDX_PAUSE_PROMOTE; /* the step pause at 10% */
	w.f.pauses[1] = w.f.pauses[2] = CDX_PAUSE_DONE;
	w.f.n_pauses = 3;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_int_equal(count_prefix(&w.f, "P "), 1);
	assert_int_equal(count_prefix(&w.f, "A "), 2);
	expect_str(w.sv.version, "v2");
	world_free(&w);
}

/* ---- rolling ------------------------------------------------------------------- */

static void test_rolling_batches(void **state)
{
	struct world w;
	static const char *const v1[] = {"v1", "v1", "v1", "v1", "v1"};
	static const char *const want[] = {
	    "R deploying", "H deploy 0 v2 0", "H start 0 v2 0", "R deploying", "H deploy 1 v2 0", "H start 1 v2 0",
	    "R verifying", "C 0 v2", "R verifying", "C 1 v2",
	    "R deploying", "H deploy 2 v2 0", "H start 2 v2 0", "R deploying", "H deploy 3 v2 0", "H start 3 v2 0",
	    "R verifying", "C 2 v2", "R verifying", "C 3 v2",
	    "R deploying", "H deploy 4 v2 0", "H start 4 v2 0", "R verifying", "C 4 v2", NULL};
	size_t i, out = 0, most = 0;
	(void)state;
	world_init(&w);
	env_inst(&w.e, 5, 2);
	sv_inst(&w.sv, 5, v1, "v1");
	assert_int_equal(deploy(&w, &cdx_strategy_rolling, "v2"), 0);
	expect_log(&w.f, want);
	assert_string_equal(w.f.msgs[0], "update instance a to v2");
	/* never more than max_unavailable out (stopped for an update and not yet checked) */
	for (i = 0; i < w.f.n; i++) {
		if (strncmp(w.f.log[i], "H deploy", 8) == 0)
			out++;
		else if (w.f.log[i][0] == 'C')
			out--;
		most = out > most ? out : most;
	}
	assert_int_equal(most, (size_t)w.e.max_unavailable);
	expect_str(w.sv.version, "v2");
	for (i = 0; i < 5; i++)
		expect_str(w.sv.installed[i], "v2");
	cdx_serving_free(&w.sv);

	/* batch 1: one at a time */
	fake_init(&w.f);
	env_inst(&w.e, 3, 1);
	sv_inst(&w.sv, 3, v1, "v1");
	assert_int_equal(deploy(&w, &cdx_strategy_rolling, "v2"), 0);
	assert_string_equal(w.f.log[3], "R verifying");
	assert_string_equal(w.f.log[4], "C 0 v2");
	assert_string_equal(w.f.log[5], "R deploying");
	world_free(&w);
}

static void test_rolling_failure_restores_touched(void **state)
{
	struct world w;
	static const char *const v1[] = {"v1", "v0", "v1", "v1", "v1"};
	static const char *const want[] = {"R rolling_back", "H deploy 2 v1 0", "H start 2 v1 0", "R rolling_back",
					   "H deploy 1 v0 0", "H start 1 v0 0", "R rolling_back", "H deploy 0 v1 0",
					   "H start 0 v1 0", NULL};
	(void)state;
	world_init(&w);
	env_inst(&w.e, 5, 1);
	w.f.fail_health_at = 3; /* instance c */
	sv_inst(&w.sv, 5, v1, "v1");
	assert_int_not_equal(deploy(&w, &cdx_strategy_rolling, "v2"), 0);
	assert_string_equal(w.err.msg, "health failed on 2");
	expect_str(w.sv.installed[2], "v2");
	expect_str(w.sv.installed[3], "v1");
	reset_log(&w.f);
	assert_int_equal(revert(&w, &cdx_strategy_rolling), 0);
	/* exactly the touched ones, newest first, each to its own previous version */
	expect_log(&w.f, want);
	assert_string_equal(w.f.msgs[0], "instance c back to v1");
	expect_str(w.sv.installed[0], "v1");
	expect_str(w.sv.installed[1], "v0");
	expect_str(w.sv.installed[2], "v1");
	expect_str(w.sv.version, "v1");
	world_free(&w);
}

static void test_rolling_failure_stops_new_instances(void **state)
{
	struct world w;
	static const char *const v[] = {"v1", NULL, "v1", NULL};
	static const char *const want[] = {"R rolling_back", "H deploy 2 v1 0", "H start 2 v1 0", "R rolling_back",
					   "H stop 1 v2 0",  "R rolling_back", "H deploy 0 v1 0", "H start 0 v1 0",
					   NULL};
	(void)state;
	world_init(&w);
	env_inst(&w.e, 4, 1);
	w.f.fail_hook = CDX_HOOK_DEPLOY; /* the deploy hook of instance c */
	w.f.fail_hook_target = 2;
	sv_inst(&w.sv, 4, v, "v1");
	assert_int_not_equal(deploy(&w, &cdx_strategy_rolling, "v2"), 0);
	reset_log(&w.f);
	w.f.fail_hook = -2;
	assert_int_equal(revert(&w, &cdx_strategy_rolling), 0);
	expect_log(&w.f, want);
	expect_str(w.sv.installed[1], NULL);
	expect_str(w.sv.installed[3], NULL);
	world_free(&w);
}

/* ---- cdx_rollback_run ------------------------------------------------------------ */

static void test_rollback_slots_warm(void **state)
{
	struct world w;
	/* the warm slot is checked first, then takes the traffic */
	static const char *const want[] = {"C 0 v1", "R rolling_back", "H switch 0 v1 100", NULL};
	/* a warm slot whose process is gone is started again */
	static const char *const restart[] = {"C 0 v1", "R rolling_back", "H deploy 0 v1 0", "H start 0 v1 0",
					      "C 0 v1", "R rolling_back", "H switch 0 v1 100", NULL};
	static const enum cdx_rollback_kind kinds[] = {CDX_ROLLBACK_IMMEDIATE, CDX_ROLLBACK_BLUE_GREEN};
	size_t k;
	(void)state;
	world_init(&w);
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);
	/* immediate and blue_green: the warm slot takes the traffic, nothing else */
	for (k = 0; k < 2; k++) {
		fake_init(&w.f);
		sv_slots(&w.sv, "v1", "v2", 1);
		assert_int_equal(rollback(&w, kinds[k], "v1", NULL), 0);
		expect_log(&w.f, want);
		assert_int_equal(w.sv.active, 0);
		expect_str(w.sv.version, "v1");
		expect_str(w.sv.installed[1], "v2"); /* stays warm for going forward again */
		cdx_serving_free(&w.sv);
	}
	fake_init(&w.f);
	w.f.fail_health_at = 1;
	sv_slots(&w.sv, "v1", "v2", 1);
	assert_int_equal(rollback(&w, CDX_ROLLBACK_IMMEDIATE, "v1", NULL), 0);
	expect_log(&w.f, restart);
	assert_string_equal(w.f.msgs[0], "slot blue (v1) is not healthy: start it again");
	assert_int_equal(w.sv.active, 0);
	world_free(&w);
}

static void test_rollback_slots_cold(void **state)
{
	struct world w;
	static const char *const imm[] = {"R rolling_back", "H deploy 0 v1 0", "H start 0 v1 0", "R rolling_back",
					  "H switch 0 v1 100", NULL};
	static const char *const bg[] = {"R rolling_back", "H deploy 0 v1 0", "H start 0 v1 0", "R rolling_back",
					 "C 0 v1", "R rolling_back", "H switch 0 v1 100", NULL};
	static const char *const gradual[] = {
	    "R rolling_back", "H deploy 0 v1 0", "H start 0 v1 0", "R rolling_back", "C 0 v1",
	    "R rolling_back", "H weight 0 v1 25", "C 0 v1", "R rolling_back", "H weight 0 v1 50", "C 0 v1",
	    "R rolling_back", "H weight 0 v1 75", "C 0 v1", "R rolling_back", "H switch 0 v1 100", NULL};
	(void)state;
	world_init(&w);
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);

	sv_slots(&w.sv, "v0", "v2", 1); /* v1 is in no slot any more */
	assert_int_equal(rollback(&w, CDX_ROLLBACK_IMMEDIATE, "v1", NULL), 0);
	expect_log(&w.f, imm);
	assert_string_equal(w.f.msgs[0], "reinstall v1 into slot blue");
	assert_int_equal(w.sv.active, 0);
	expect_str(w.sv.version, "v1");
	cdx_serving_free(&w.sv);

	fake_init(&w.f);
	sv_slots(&w.sv, "v0", "v2", 1);
	assert_int_equal(rollback(&w, CDX_ROLLBACK_BLUE_GREEN, "v1", NULL), 0);
	expect_log(&w.f, bg);
	cdx_serving_free(&w.sv);

	fake_init(&w.f);
	sv_slots(&w.sv, "v0", "v2", 1);
	assert_int_equal(rollback(&w, CDX_ROLLBACK_GRADUAL, "v1", NULL), 0);
	expect_log(&w.f, gradual);
	assert_int_equal(w.sv.active, 0);
	assert_int_equal(w.sv.canary, -1);
	assert_int_equal(w.sv.weight, 0);
	cdx_serving_free(&w.sv);

	/* a reinstalled slot that is not healthy is not switched to */
	fake_init(&w.f);
	w.f.fail_health_at = 1;
	sv_slots(&w.sv, "v0", "v2", 1);
	assert_int_not_equal(rollback(&w, CDX_ROLLBACK_BLUE_GREEN, "v1", NULL), 0);
	assert_int_equal(count_prefix(&w.f, "H switch"), 0);
	assert_int_equal(w.sv.active, 1);
	world_free(&w);
}

static void test_rollback_canary_in_flight(void **state)
{
	struct world w;
	static const char *const want[] = {"R rolling_back", "H weight 1 v2 0", "R rolling_back", "H stop 1 v2 0",
					   NULL};
	(void)state;
	world_init(&w);
	env_canary(&w.e, false, 0, CDX_NODATA_FAIL);
	sv_slots(&w.sv, "v1", "v2", 0);
	w.sv.canary = 1;
	w.sv.weight = 25;
	assert_int_equal(rollback(&w, CDX_ROLLBACK_IMMEDIATE, "v1", NULL), 0);
	expect_log(&w.f, want);
	assert_int_equal(w.sv.canary, -1);
	assert_int_equal(w.sv.weight, 0);
	expect_str(w.sv.installed[1], NULL);
	expect_str(w.sv.version, "v1");
	world_free(&w);
}

static void test_rollback_instances(void **state)
{
	struct world w;
	static const char *const v[] = {"v2", "v2", "v1", "v2"};
	static const char *const imm[] = {"R rolling_back", "H deploy 0 v1 0", "H start 0 v1 0", "R rolling_back",
					  "H deploy 1 v1 0", "H start 1 v1 0", "R rolling_back", "H deploy 3 v1 0",
					  "H start 3 v1 0", NULL};
	/* batches of two restarted instances, each instance of a batch checked */
	static const char *const gradual[] = {
	    "R rolling_back", "H deploy 0 v1 0", "H start 0 v1 0", "R rolling_back", "H deploy 1 v1 0",
	    "H start 1 v1 0", "R rolling_back", "C 0 v1", "R rolling_back", "C 1 v1", "R rolling_back",
	    "H deploy 3 v1 0", "H start 3 v1 0", "R rolling_back", "C 3 v1", NULL};
	/* the instances already there are no batch's members: a, c restarted
	 * make one batch, checked; b, d (already v1) are not */
	static const char *const alt[] = {"v2", "v1", "v2", "v1"};
	static const char *const gradual_alt[] = {
	    "R rolling_back", "H deploy 0 v1 0", "H start 0 v1 0", "R rolling_back", "H deploy 2 v1 0",
	    "H start 2 v1 0", "R rolling_back", "C 0 v1", "R rolling_back", "C 2 v1", NULL};
	static const bool only[] = {false, true, false, true};
	size_t i;
	(void)state;
	world_init(&w);
	env_inst(&w.e, 4, 2);
	sv_inst(&w.sv, 4, v, "v2");
	assert_int_equal(rollback(&w, CDX_ROLLBACK_IMMEDIATE, "v1", NULL), 0);
	expect_log(&w.f, imm); /* c already runs v1: untouched; no health */
	expect_str(w.sv.version, "v1");
	for (i = 0; i < 4; i++)
		expect_str(w.sv.installed[i], "v1");
	cdx_serving_free(&w.sv);

	fake_init(&w.f);
	sv_inst(&w.sv, 4, v, "v2");
	assert_int_equal(rollback(&w, CDX_ROLLBACK_GRADUAL, "v1", NULL), 0);
	expect_log(&w.f, gradual); /* health after each batch of two */
	cdx_serving_free(&w.sv);

	fake_init(&w.f);
	sv_inst(&w.sv, 4, alt, "v2");
	assert_int_equal(rollback(&w, CDX_ROLLBACK_GRADUAL, "v1", NULL), 0);
	expect_log(&w.f, gradual_alt);
	cdx_serving_free(&w.sv);

	/* a failed check stops the rollback before the next batch */
	fake_init(&w.f);
	w.f.fail_health_at = 2;
	sv_inst(&w.sv, 4, v, "v2");
	assert_int_not_equal(rollback(&w, CDX_ROLLBACK_GRADUAL, "v1", NULL), 0);
	assert_string_equal(w.f.log[w.f.n - 1], "C 1 v1");
	expect_str(w.sv.installed[3], "v2");
	expect_str(w.sv.version, "v2");
	cdx_serving_free(&w.sv);

	/* a subset: only b and d */
	fake_init(&w.f);
	sv_inst(&w.sv, 4, v, "v2");
	assert_int_equal(rollback(&w, CDX_ROLLBACK_IMMEDIATE, "v1", only), 0);
	assert_int_equal(count_prefix(&w.f, "H deploy"), 2);
	assert_int_equal(count_prefix(&w.f, "H deploy 0"), 0);
	expect_str(w.sv.installed[0], "v2");
	expect_str(w.sv.installed[1], "v1");
	expect_str(w.sv.installed[2], "v1");
	expect_str(w.sv.installed[3], "v1");
	expect_str(w.sv.version, "v2"); /* a is still on v2: the environment as a whole is not */
	world_free(&w);
}

/* ---- record() says stop: nothing after it happens ------------------------------- */

static void test_record_stops(void **state)
{
	struct world w;
	static const char *const v1[] = {"v1", "v1", "v1"};
	int n;
	(void)state;
	world_init(&w);
	/* blue_green: every record, in turn, refusing */
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);
	for (n = 1; n <= 4; n++) {
		fake_init(&w.f);
		w.f.stop_record_at = n;
		sv_slots(&w.sv, "v1", NULL, 0);
		assert_int_not_equal(deploy(&w, &cdx_strategy_blue_green, "v2"), 0);
		assert_true(w.f.log[w.f.n - 1][0] == 'R'); /* the refused record is the last call */
		assert_int_equal((int)w.f.nrec, n);
		assert_non_null(strstr(w.err.msg, "stopped before: "));
		assert_non_null(strstr(w.err.msg, w.f.msgs[n - 1]));
		if (n <= 3)
			assert_int_equal(w.sv.active, 0); /* never switched */
		cdx_serving_free(&w.sv);
	}
	/* the third announces the switch, which must not happen */
	fake_init(&w.f);
	w.f.stop_record_at = 3;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_blue_green, "v2"), 0);
	assert_string_equal(w.f.msgs[2], "switch traffic to slot green");
	assert_int_equal(count_prefix(&w.f, "H switch"), 0);
	cdx_serving_free(&w.sv);

	/* canary: refused at the first weight */
	env_canary(&w.e, true, 1000, CDX_NODATA_FAIL);
	fake_init(&w.f);
	w.f.stop_record_at = 3;
	sv_slots(&w.sv, "v1", NULL, 0);
	assert_int_not_equal(deploy(&w, &cdx_strategy_canary, "v2"), 0);
	assert_int_equal(count_prefix(&w.f, "H weight"), 0);
	assert_string_equal(w.f.log[w.f.n - 1], "R promoting");
	cdx_serving_free(&w.sv);

	/* rolling: refused before the second instance */
	env_inst(&w.e, 3, 1);
	fake_init(&w.f);
	w.f.stop_record_at = 3;
	sv_inst(&w.sv, 3, v1, "v1");
	assert_int_not_equal(deploy(&w, &cdx_strategy_rolling, "v2"), 0);
	assert_int_equal(count_prefix(&w.f, "H deploy"), 1);
	expect_str(w.sv.installed[1], "v1");
	cdx_serving_free(&w.sv);

	/* rollback: refused before the switch */
	env_slots(&w.e, CDX_STRATEGY_BLUE_GREEN);
	fake_init(&w.f);
	w.f.stop_record_at = 1;
	sv_slots(&w.sv, "v1", "v2", 1);
	assert_int_not_equal(rollback(&w, CDX_ROLLBACK_IMMEDIATE, "v1", NULL), 0);
	assert_string_equal(w.f.log[w.f.n - 1], "R rolling_back");
	assert_int_equal(count_prefix(&w.f, "H "), 0);
	assert_int_equal(w.sv.active, 1);
	cdx_serving_free(&w.sv);

	/* and a revert too */
	sv_slots(&w.sv, "v1", "v2", 1);
	cdx_serving_free(&w.before);
	sv_slots(&w.before, "v1", NULL, 0);
	fake_init(&w.f);
	w.f.stop_record_at = 1;
	assert_int_not_equal(revert(&w, &cdx_strategy_blue_green), 0);
	assert_int_equal(w.f.n, 1);
	assert_int_equal(w.sv.active, 1);
	world_free(&w);
}

static void test_serving_helpers(void **state)
{
	struct cdx_serving a, b;
	(void)state;
	sv_slots(&a, "v1", "v2", 1);
	a.canary = 0;
	a.weight = 30;
	a.irreversible_done = true;
	cdx_serving_copy(&b, &a);
	cdx_serving_set(&a.installed[0], NULL);
	expect_str(b.installed[0], "v1");
	expect_str(b.version, "v2");
	assert_int_equal(b.active, 1);
	assert_int_equal(b.canary, 0);
	assert_int_equal(b.weight, 30);
	assert_true(b.irreversible_done);
	cdx_serving_free(&a);
	cdx_serving_free(&a); /* twice is harmless */
	cdx_serving_free(&b);
	assert_ptr_equal(cdx_strategy_for(CDX_STRATEGY_BLUE_GREEN), &cdx_strategy_blue_green);
	assert_ptr_equal(cdx_strategy_for(CDX_STRATEGY_CANARY), &cdx_strategy_canary);
	assert_ptr_equal(cdx_strategy_for(CDX_STRATEGY_ROLLING), &cdx_strategy_rolling);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bg_first_and_second),
	    cmocka_unit_test(test_bg_preview_fails),
	    cmocka_unit_test(test_bg_fails_after_switch),
	    cmocka_unit_test(test_bg_first_fails),
	    cmocka_unit_test(test_bg_hook_fails),
	    cmocka_unit_test(test_canary_steps),
	    cmocka_unit_test(test_canary_first_is_blue_green),
	    cmocka_unit_test(test_canary_no_pause_no_analysis),
	    cmocka_unit_test(test_canary_promote_skips_pauses),
	    cmocka_unit_test(test_canary_abort),
	    cmocka_unit_test(test_canary_analysis_fails),
	    cmocka_unit_test(test_canary_fails_after_switch),
	    cmocka_unit_test(test_canary_nodata_fail),
	    cmocka_unit_test(test_canary_nodata_pass),
	    cmocka_unit_test(test_canary_nodata_pause),
	    cmocka_unit_test(test_canary_nodata_max_pause),
	    cmocka_unit_test(test_canary_promote_skips_nodata_pauses),
	    cmocka_unit_test(test_rolling_batches),
	    cmocka_unit_test(test_rolling_failure_restores_touched),
	    cmocka_unit_test(test_rolling_failure_stops_new_instances),
	    cmocka_unit_test(test_rollback_slots_warm),
	    cmocka_unit_test(test_rollback_slots_cold),
	    cmocka_unit_test(test_rollback_canary_in_flight),
	    cmocka_unit_test(test_rollback_instances),
	    cmocka_unit_test(test_record_stops),
	    cmocka_unit_test(test_serving_helpers),
	};
	return cmocka_run_group_tests_name("strategy", tests, NULL, NULL);
}
