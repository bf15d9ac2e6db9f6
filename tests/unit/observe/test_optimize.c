/* test_optimize.c — optimize.c and its parts (optimize_analyze.c,
 * optimize_rewrite.c, optimize_yaml.c): declared paths, the analysis on
 * small graphs whose optimal schedules are known (makespan, declared
 * order, bound, knee, barrier idle time, bounding jobs, split candidates),
 * suggestions, weights and resources from a real file store, and the
 * rewriting levels: what each keeps and drops, the reasons, and that the
 * file written loads and names the same jobs with the same settings. */
#include "fixtures.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "pipeline/dag.h"
#include "base/diag.h"
#include "base/json.h"
#include "observe/optimize.h"
#include "pipeline/pipeline.h"
#include "state/store.h"

/* ---- helpers ------------------------------------------------------------- */

static char *nostore; /* a store that does not exist: weights from hints */

static struct cdx_pipeline *load(const char *text)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem("opt.yml", text, strlen(text), d);
	if (!p) {
		struct cdx_buf b = {0};
		size_t i;
		for (i = 0; i < cdx_diags_count(d); i++) {
			cdx_buf_reset(&b);
			cdx_diag_format(cdx_diags_get(d, i), &b);
			print_message("  %s\n", b.data);
		}
		cdx_buf_free(&b);
		cdx_diags_free(d);
		fail_msg("pipeline did not load");
	}
	cdx_diags_free(d);
	return p;
}

/* the number KEY of O; a missing one fails the test */
static double num(const cJSON *o, const char *key)
{
	double v = cdx_jnd(o, key, NAN);
	if (isnan(v))
		fail_msg("no number %s", key);
	return v;
}

/* the analysis of TEXT on WORKERS with hint weights */
static cJSON *analyze(const char *text, unsigned workers)
{
	struct cdx_pipeline *p = load(text);
	struct cdx_error err = {0};
	cJSON *a = cdx_optimize_analyze(p, workers, nostore, &err);
	assert_non_null(a);
	cdx_pipeline_free(p);
	return a;
}

static cJSON *optimize(const struct cdx_pipeline *p, enum cdx_opt_level level, unsigned workers)
{
	struct cdx_optimize_options o = {level, workers, nostore, "out.yml"};
	struct cdx_error err = {0};
	cJSON *r = cdx_optimize(p, &o, &err);
	if (!r)
		fail_msg("cdx_optimize: %s", err.msg);
	return r;
}

/* the ids in JSON array A joined by spaces, into BUF */
static const char *ids(const cJSON *a, char *buf, size_t n)
{
	const cJSON *it;
	size_t len = 0;
	buf[0] = '\0';
	cJSON_ArrayForEach(it, a) len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? " " : "", it->valuestring);
	return buf;
}

/* the edge of job JOB with need NEED and change CHANGE, or NULL */
static const cJSON *edge(const cJSON *r, const char *job, const char *need, const char *change)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "edges"))
	{
		if (strcmp(cJSON_GetObjectItem(e, "job")->valuestring, job) == 0 &&
		    strcmp(cJSON_GetObjectItem(e, "need")->valuestring, need) == 0 &&
		    strcmp(cJSON_GetObjectItem(e, "change")->valuestring, change) == 0)
			return e;
	}
	return NULL;
}

/* the optimized file of R, loaded */
static struct cdx_pipeline *reload(const cJSON *r)
{
	return load(cJSON_GetObjectItem(r, "yaml")->valuestring);
}

static const struct cdx_job *job(const struct cdx_pipeline *p, const char *id)
{
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		if (strcmp(p->jobs[i].id, id) == 0)
			return &p->jobs[i];
	fail_msg("no job %s", id);
	return NULL;
}

/* the needs of job ID in P as written, "a b", or "-" without needs: */
static const char *needs(const struct cdx_pipeline *p, const char *id, char *buf, size_t n)
{
	const struct cdx_job *j = job(p, id);
	size_t k, len = 0;
	if (!j->has_needs)
		return "-";
	buf[0] = '\0';
	for (k = 0; k < j->n_needs; k++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s", k ? " " : "", j->needs[k].ref);
	return buf;
}

static int setup(void **state)
{
	char *dir = fx_tmpdir();
	(void)state;
	nostore = malloc(strlen(dir) + 32);
	snprintf(nostore, strlen(dir) + 32, "file:%s/none", dir);
	free(dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_rmrf(nostore + 5 /* "file:" */);
	free(nostore);
	return 0;
}

/* ---- declared paths ------------------------------------------------------ */

static void paths(void **state)
{
	(void)state;
	assert_true(cdx_opt_paths_overlap("build/app", "build/app"));
	assert_true(cdx_opt_paths_overlap("build/", "build/app.o"));
	assert_true(cdx_opt_paths_overlap("build", "build/x/y"));
	assert_true(cdx_opt_paths_overlap("build/x/y", "./build"));
	assert_true(cdx_opt_paths_overlap(".", "anything"));
	assert_true(cdx_opt_paths_overlap("src/*.c", "src/main.c"));
	assert_true(cdx_opt_paths_overlap("*.o", "x")); /* a glob at the top is everything */
	assert_false(cdx_opt_paths_overlap("build/app", "build/application"));
	assert_false(cdx_opt_paths_overlap("build/", "buildx"));
	assert_false(cdx_opt_paths_overlap("src/", "doc/"));
	assert_false(cdx_opt_paths_overlap("src/*.c", "doc/a.c"));
}

static void levels(void **state)
{
	enum cdx_opt_level l = CDX_OPT_CONSERVATIVE;
	(void)state;
	assert_int_equal(cdx_opt_level_parse("aggressive", &l), 0);
	assert_int_equal(l, CDX_OPT_AGGRESSIVE);
	assert_int_equal(cdx_opt_level_parse("moderate", &l), 0);
	assert_int_equal(l, CDX_OPT_MODERATE);
	assert_int_equal(cdx_opt_level_parse("fast", &l), -1);
	assert_int_equal(cdx_opt_level_parse(NULL, &l), -1);
	assert_string_equal(cdx_opt_level_name(CDX_OPT_CONSERVATIVE), "conservative");
}

/* ---- analysis ------------------------------------------------------------ */

/* a chain: nothing runs side by side, whatever the workers */
static void chain(void **state)
{
	cJSON *a = analyze("stages:\n"
			   "  - {name: s, jobs: [{name: a, script: x, duration_hint: 1s}]}\n"
			   "  - {name: t, jobs: [{name: b, script: x, duration_hint: 2s}]}\n"
			   "  - {name: u, jobs: [{name: c, script: x, duration_hint: 3s}]}\n",
			   4);
	char buf[256];
	(void)state;
	assert_true(num(a, "predicted_makespan_s") == 6);
	assert_true(num(a, "lower_bound_s") == 6);
	assert_true(num(a, "critical_path_s") == 6);
	assert_true(num(a, "useful_parallelism") == 1);
	assert_true(num(a, "workers_knee") == 1);
	assert_string_equal(ids(cJSON_GetObjectItem(a, "critical_path"), buf, sizeof(buf)), "s/a t/b u/c");
	assert_string_equal(ids(cJSON_GetObjectItem(a, "bounding_jobs"), buf, sizeof(buf)), "s/a t/b u/c");
	/* b and c wait for nothing but barriers while 3 workers are free:
	 * b for 1 s, c for 3 s (whether the barriers matter, nothing says) */
	assert_true(num(a, "barrier_idle_s") == 4);
	/* c is half the critical path: split it, the bound drops by 1.5 s */
	{
		const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "split_candidates"), 0);
		assert_non_null(s);
		assert_string_equal(cJSON_GetObjectItem(s, "job")->valuestring, "u/c");
		assert_true(num(s, "lower_bound_if_halved_s") == 4.5);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a, "split_candidates")), 2); /* b: 1/3 */
	}
	cJSON_Delete(a);
}

/* independent jobs 3 3 2 2 on 2 workers: optimal 5 s, and the rule finds it */
static void independent(void **state)
{
	cJSON *a = analyze("stages:\n"
			   "  - name: s\n"
			   "    jobs:\n"
			   "      - {name: a, script: x, duration_hint: 2s}\n"
			   "      - {name: b, script: x, duration_hint: 3s}\n"
			   "      - {name: c, script: x, duration_hint: 2s}\n"
			   "      - {name: d, script: x, duration_hint: 3s}\n",
			   2);
	(void)state;
	assert_true(num(a, "lower_bound_s") == 5);
	assert_true(num(a, "predicted_makespan_s") == 5);
	/* file order: a, b at 0; c at 2; d at 3, until 6 */
	assert_true(num(a, "declared_order_makespan_s") == 6);
	assert_true(num(a, "efficiency") == 1);
	assert_true(num(a, "idle_worker_s") == 0);
	/* unlimited workers: 3 s; within 5% of that takes 4 workers */
	assert_true(num(a, "unlimited_workers_makespan_s") == 3);
	assert_true(num(a, "workers_knee") == 4);
	assert_true(num(a, "max_parallelism") == 4);
	cJSON_Delete(a);
}

/* a chain listed last: file order starts it late; the rule does not */
static void chain_last(void **state)
{
	cJSON *a = analyze("stages:\n"
			   "  - name: s\n"
			   "    jobs:\n"
			   "      - {name: a1, script: x, duration_hint: 1s}\n"
			   "      - {name: a2, script: x, duration_hint: 1s}\n"
			   "      - {name: a3, script: x, duration_hint: 1s}\n"
			   "      - {name: a4, script: x, duration_hint: 1s}\n"
			   "      - {name: c1, script: x, duration_hint: 2s}\n"
			   "      - {name: c2, script: x, duration_hint: 2s, needs: [s/c1]}\n",
			   2);
	char buf[256];
	(void)state;
	assert_true(num(a, "lower_bound_s") == 4);
	assert_true(num(a, "predicted_makespan_s") == 4);
	assert_true(num(a, "declared_order_makespan_s") == 6);
	assert_string_equal(ids(cJSON_GetObjectItem(a, "critical_path"), buf, sizeof(buf)), "s/c1 s/c2");
	/* the first job started is the chain's head */
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "order"), 0), "job")->valuestring,
		"s/c1");
	cJSON_Delete(a);
}

/* a stage barrier: c could run beside a, but waits for b too */
static const char barrier_yml[] = "stages:\n"
				  "  - name: s1\n"
				  "    jobs:\n"
				  "      - {name: a, script: x, duration_hint: 4s}\n"
				  "      - {name: b, script: x, duration_hint: 1s}\n"
				  "  - name: s2\n"
				  "    jobs:\n"
				  "      - {name: c, script: x, duration_hint: 1s}\n";

static void barrier(void **state)
{
	cJSON *a = analyze(barrier_yml, 2), *b;
	char buf[256];
	(void)state;
	assert_true(num(a, "predicted_makespan_s") == 5);
	/* one worker idle from 1 s to 4 s while c waits only for the barrier */
	assert_true(num(a, "barrier_idle_s") == 3);
	/* ... and from 4 s to 5 s, when nothing is left for it */
	assert_true(num(a, "idle_worker_s") == 4);
	assert_string_equal(ids(cJSON_GetObjectItem(a, "bounding_jobs"), buf, sizeof(buf)), "s1/a s2/c");
	b = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "barriers"), 0);
	assert_non_null(b);
	assert_string_equal(cJSON_GetObjectItem(b, "after")->valuestring, "s1");
	assert_true(num(b, "jobs_held") == 1);
	assert_true(num(b, "jobs_without_evidence") == 1);
	assert_true(num(b, "released_at_s") == 4);
	assert_true(num(b, "idle_s") == 3);
	cJSON_Delete(a);
}

/* the bounding chain through a worker: on 1 worker each job waits for the
 * one before it, needed or not */
static void bounding_by_worker(void **state)
{
	cJSON *a = analyze("stages:\n"
			   "  - name: s\n"
			   "    jobs:\n"
			   "      - {name: a, script: x, duration_hint: 2s}\n"
			   "      - {name: b, script: x, duration_hint: 1s}\n",
			   1);
	char buf[256];
	(void)state;
	assert_true(num(a, "predicted_makespan_s") == 3);
	assert_string_equal(ids(cJSON_GetObjectItem(a, "bounding_jobs"), buf, sizeof(buf)), "s/a s/b");
	cJSON_Delete(a);
}

static void suggest(void **state)
{
	cJSON *a = analyze(barrier_yml, 2), *s;
	const cJSON *it;
	bool split = false, knee = false, bar = false;
	(void)state;
	s = cdx_optimize_suggest(a);
	assert_true(cJSON_IsArray(s));
	cJSON_ArrayForEach(it, s)
	{
		split = split || strstr(it->valuestring, "split s1/a") != NULL;
		knee = knee || strstr(it->valuestring, "under 5%") != NULL;
		bar = bar || (strstr(it->valuestring, "declare inputs: and outputs: on") &&
			      strstr(it->valuestring, "s2/c"));
	}
	assert_true(split);
	assert_true(knee);
	assert_true(bar);
	cJSON_Delete(s);
	cJSON_Delete(a);
}

/* weights and resources come from the attempts in the store */
static void history(void **state)
{
	char *dir = fx_tmpdir(), *url;
	struct cdx_store *st;
	struct cdx_error err = {0};
	struct cdx_pipeline *p = load(barrier_yml);
	cJSON *a, *rec, *res, *x;
	const char *b_wall[] = {"3000", "1000", "2000"};
	size_t i;
	(void)state;
	url = malloc(strlen(dir) + 16);
	snprintf(url, strlen(dir) + 16, "file:%s/s", dir);
	assert_int_equal(cdx_store_open(url, &st, &err), 0);
	for (i = 0; i < 3; i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "{\"t\":\"attempt\",\"run\":\"r%zu\",\"pipeline\":\"opt\",\"job\":\"s1/b\",\"attempt\":1,"
			 "\"status\":\"success\",\"wall_ms\":%s,\"user_ms\":500,\"sys_ms\":100,\"maxrss_kb\":%zu}",
			 i, b_wall[i], 2048 * (i + 1));
		rec = cJSON_Parse(text);
		assert_int_equal(st->ops->append(st, rec, &err), 0);
		cJSON_Delete(rec);
	}
	rec = cJSON_Parse("{\"t\":\"attempt\",\"run\":\"r9\",\"pipeline\":\"opt\",\"job\":\"s1/b\",\"attempt\":1,"
			  "\"status\":\"failed\",\"wall_ms\":10}");
	assert_int_equal(st->ops->append(st, rec, &err), 0);
	cJSON_Delete(rec);
	assert_int_equal(st->ops->flush(st, &err), 0);
	cdx_store_close(st);

	a = cdx_optimize_analyze(p, 2, url, &err);
	assert_non_null(a);
	/* b weighs its median, 2 s; a and c their hints */
	assert_true(num(a, "total_work_s") == 7);
	assert_true(num(cJSON_GetObjectItem(a, "weights_from"), "history") == 1);
	assert_true(num(cJSON_GetObjectItem(a, "weights_from"), "duration_hint") == 2);
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(a, "order"))
	{
		if (strcmp(cJSON_GetObjectItem(x, "job")->valuestring, "s1/b") == 0)
			assert_string_equal(cJSON_GetObjectItem(x, "weight_from")->valuestring, "history");
	}
	res = cJSON_GetObjectItem(cJSON_GetObjectItem(a, "resources"), "s1/b");
	assert_non_null(res);
	assert_true(num(res, "attempts") == 4);
	assert_true(num(res, "samples") == 3);
	assert_true(num(res, "wall_s") == 2);
	assert_true(num(res, "cpu_s") == 0.6);
	assert_true(num(res, "cpu_share") == 0.3);
	assert_true(num(res, "maxrss_mib") == 4);
	assert_true(num(res, "maxrss_mib_peak") == 6);
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "resources"), "s1/a"));
	cJSON_Delete(a);
	cdx_pipeline_free(p);
	fx_rmrf(dir);
	free(dir);
	free(url);
}

/* ---- rewriting ----------------------------------------------------------- */

/* compile writes build/app; unit reads it; style reads only src/ */
static const char evidence_yml[] = "name: ev\n"
				   "stages:\n"
				   "  - name: build\n"
				   "    jobs:\n"
				   "      - {name: compile, script: x, duration_hint: 4s, inputs: [src/], outputs: [build/app]}\n"
				   "      - {name: docs, script: x, duration_hint: 1s, inputs: [doc/], outputs: [build/doc/]}\n"
				   "  - name: test\n"
				   "    jobs:\n"
				   "      - {name: unit, script: x, duration_hint: 2s, inputs: [build/app], outputs: []}\n"
				   "      - {name: style, script: x, duration_hint: 3s, inputs: [src/], outputs: []}\n";

static void moderate_evidence(void **state)
{
	struct cdx_pipeline *p = load(evidence_yml), *q;
	cJSON *r = optimize(p, CDX_OPT_MODERATE, 2);
	const cJSON *e;
	char buf[256];
	(void)state;
	/* before: compile and docs until 4 s, then style: 7 s; after: style
	 * beside compile, docs, then unit after compile: 6 s */
	assert_true(num(r, "predicted_makespan_before_s") == 7);
	assert_true(num(r, "predicted_makespan_after_s") == 6);
	assert_true(num(r, "speedup") == 7.0 / 6.0);
	assert_true(num(r, "edges_unsafe") == 0);
	e = edge(r, "test/unit", "build/compile", "added");
	assert_non_null(e);
	assert_non_null(strstr(cJSON_GetObjectItem(e, "reason")->valuestring, "reads build/app"));
	assert_non_null(edge(r, "test/unit", "build", "removed"));
	e = edge(r, "test/style", "build", "removed");
	assert_non_null(e);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(e, "unsafe")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "edges")), 3);
	q = reload(r);
	assert_int_equal(q->n_jobs, 4);
	assert_string_equal(needs(q, "test/unit", buf, sizeof(buf)), "build/compile");
	assert_string_equal(needs(q, "test/style", buf, sizeof(buf)), "");
	assert_string_equal(needs(q, "build/compile", buf, sizeof(buf)), "-");
	/* each rewritten edge is a comment above its job */
	assert_non_null(strstr(cJSON_GetObjectItem(r, "yaml")->valuestring,
			       "      # added build/compile: test/unit reads build/app"));
	cdx_pipeline_free(q);
	cJSON_Delete(r);
	cdx_pipeline_free(p);
}

/* a write-after-read conflict keeps the order too */
static void moderate_war(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - {name: a, jobs: [{name: read, script: x, inputs: [cfg], outputs: []}]}\n"
				      "  - {name: b, jobs: [{name: write, script: x, inputs: [], outputs: [cfg]}]}\n");
	cJSON *r = optimize(p, CDX_OPT_MODERATE, 2);
	(void)state;
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "edges")), 0);
	assert_true(num(r, "speedup") == 1);
	cJSON_Delete(r);
	cdx_pipeline_free(p);
}

/* without evidence, moderate changes nothing; aggressive drops the
 * barrier and says it is unsafe */
static void no_evidence(void **state)
{
	struct cdx_pipeline *p = load(barrier_yml), *q;
	cJSON *r = optimize(p, CDX_OPT_MODERATE, 2);
	const cJSON *e;
	char buf[256];
	(void)state;
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "edges")), 0);
	assert_true(num(r, "predicted_makespan_after_s") == 5);
	cJSON_Delete(r);

	r = optimize(p, CDX_OPT_AGGRESSIVE, 2);
	e = edge(r, "s2/c", "s1", "removed");
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "unsafe")));
	assert_non_null(strstr(cJSON_GetObjectItem(e, "reason")->valuestring, "unsafe"));
	assert_true(num(r, "edges_unsafe") == 1);
	/* c beside b: 4 s, the bound */
	assert_true(num(r, "predicted_makespan_after_s") == 4);
	q = reload(r);
	assert_string_equal(needs(q, "s2/c", buf, sizeof(buf)), "");
	cdx_pipeline_free(q);
	cJSON_Delete(r);
	cdx_pipeline_free(p);
}

/* a job without evidence keeps everything it waited for, even through a
 * job that lost its barrier: deploy still waits for build */
static void transitive_kept(void **state)
{
	struct cdx_pipeline *p =
		load("stages:\n"
		     "  - {name: build, jobs: [{name: make, script: x, inputs: [src/], outputs: [out/]}]}\n"
		     "  - {name: test, jobs: [{name: lint, script: x, inputs: [src/], outputs: []}]}\n"
		     "  - {name: deploy, jobs: [{name: ship, script: x}]}\n"),
			    *q;
	cJSON *r = optimize(p, CDX_OPT_MODERATE, 2);
	const cJSON *e;
	char buf[256];
	(void)state;
	assert_non_null(edge(r, "test/lint", "build", "removed"));
	e = edge(r, "deploy/ship", "build/make", "added");
	assert_non_null(e);
	assert_non_null(strstr(cJSON_GetObjectItem(e, "reason")->valuestring, "declares no"));
	q = reload(r);
	/* the barrier on test stays, written, and build/make comes beside it */
	assert_string_equal(needs(q, "deploy/ship", buf, sizeof(buf)), "build/make test");
	assert_string_equal(needs(q, "test/lint", buf, sizeof(buf)), "");
	cdx_pipeline_free(q);
	cJSON_Delete(r);

	/* aggressive: ship loses build/make without a word of evidence */
	r = optimize(p, CDX_OPT_AGGRESSIVE, 2);
	assert_null(edge(r, "deploy/ship", "build/make", "added"));
	cJSON_Delete(r);
	cdx_pipeline_free(p);
}

/* written needs stay at every level, and explicit stage needs too */
static void written_stay(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - {name: a, jobs: [{name: x, script: x, inputs: [], outputs: []}]}\n"
				      "  - name: b\n"
				      "    needs: [a]\n"
				      "    jobs: [{name: y, script: x, inputs: [], outputs: []}]\n"
				      "  - {name: c, jobs: [{name: z, script: x, needs: [b/y], inputs: [], outputs: []}]}\n"),
				    *q;
	cJSON *r = optimize(p, CDX_OPT_AGGRESSIVE, 2);
	char buf[256];
	(void)state;
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "edges")), 0);
	q = reload(r);
	assert_true(q->stages[1].has_needs);
	assert_string_equal(needs(q, "c/z", buf, sizeof(buf)), "b/y");
	cdx_pipeline_free(q);
	cJSON_Delete(r);
	cdx_pipeline_free(p);
}

/* conservative: the same graph, each stage's jobs in start order */
static void conservative(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: short, script: x, duration_hint: 1s}\n"
				      "      - {name: long, script: x, duration_hint: 9s}\n"
				      "      - {name: mid, script: x, duration_hint: 5s}\n"
				      "  - {name: t, jobs: [{name: last, script: x, inputs: [], outputs: []}]}\n"),
				    *q;
	cJSON *r = optimize(p, CDX_OPT_CONSERVATIVE, 2);
	(void)state;
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "edges")), 0);
	assert_true(num(r, "speedup") == 1);
	q = reload(r);
	assert_string_equal(q->jobs[0].id, "s/long");
	assert_string_equal(q->jobs[1].id, "s/mid");
	assert_string_equal(q->jobs[2].id, "s/short");
	assert_false(q->jobs[3].has_needs); /* still the implicit barrier */
	cdx_pipeline_free(q);
	cJSON_Delete(r);
	cdx_pipeline_free(p);
}

/* everything a job says survives the round trip */
static void round_trip(void **state)
{
	static const char text[] =
		"name: rt\n"
		"variables:\n"
		"  CC: gcc\n"
		"  TOKEN: {from_env: TOKEN, secret: true}\n"
		"  KEY: {value: \"s3cr\\\"et\", secret: true}\n"
		"timeout: 1h\n"
		"templates:\n"
		"  base: {retry: {max: 2, exit_codes: [3, 4], when: script_failure}}\n"
		"stages:\n"
		"  - name: build\n"
		"    timeout: 10m\n"
		"    environment: {OPT: -O2}\n"
		"    jobs:\n"
		"      - name: compile\n"
		"        extends: base\n"
		"        script: [\"make -j2\", \"echo '#$x' \\\\ done\"]\n"
		"        matrix: {ARCH: [x86 64, arm]}\n"
		"        allow_failure: {exit_codes: [7]}\n"
		"        timeout: 90s\n"
		"        variables: {V: \"a: b\"}\n"
		"        inputs: [src/]\n"
		"        outputs: [build/]\n"
		"        duration_hint: 1.5s\n"
		"  - name: test\n"
		"    needs: [build]\n"
		"    jobs:\n"
		"      - {name: unit, script: make check, needs: [build/compile], allow_failure: true, retry: 1}\n";
	struct cdx_pipeline *p = load(text), *q;
	cJSON *r = optimize(p, CDX_OPT_AGGRESSIVE, 2), *a, *b;
	size_t i;
	(void)state;
	q = reload(r);
	assert_int_equal(q->n_jobs, p->n_jobs);
	a = cdx_pipeline_json(p);
	b = cdx_pipeline_json(q);
	/* the same but for the file, and the matrix origin (expanded now) */
	cJSON_DeleteItemFromObject(a, "path");
	cJSON_DeleteItemFromObject(b, "path");
	for (i = 0; i < 2; i++) {
		cJSON *j;
		cJSON_ArrayForEach(j, cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "stages"), (int)i),
							  "jobs"))
		cJSON_DeleteItemFromObject(j, "matrix_of");
	}
	/* unit needs build/compile: the matrix base, written as its jobs */
	{
		cJSON *unit = cJSON_GetArrayItem(
			cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "stages"), 1), "jobs"), 0);
		cJSON_ReplaceItemInObject(unit, "needs",
					  cJSON_CreateStringArray((const char *[]){"build/compile-x86_64",
										   "build/compile-arm"},
								  2));
	}
	if (!cJSON_Compare(a, b, 1)) {
		char *x = cJSON_Print(a), *y = cJSON_Print(b);
		print_message("before:\n%s\nafter:\n%s\n", x, y);
		free(x);
		free(y);
		fail_msg("the optimized pipeline differs");
	}
	assert_string_equal(job(q, "build/compile-arm")->script, "make -j2\necho '#$x' \\ done");
	cJSON_Delete(a);
	cJSON_Delete(b);
	cdx_pipeline_free(q);
	cJSON_Delete(r);
	cdx_pipeline_free(p);
}

/* layered graphs with random weights: whatever the level, the file loads,
 * the jobs are the same, and every new need was an ancestor before */
static void random_graphs(void **state)
{
	unsigned seed = 12345, g;
	(void)state;
	for (g = 0; g < 20; g++) {
		struct cdx_buf b = {0};
		size_t s, j, nst = 2 + g % 4, width = 1 + g % 5;
		struct cdx_pipeline *p, *q;
		enum cdx_opt_level lv;
		cdx_buf_adds(&b, "stages:\n");
		for (s = 0; s < nst; s++) {
			cdx_buf_printf(&b, "  - name: s%zu\n    jobs:\n", s);
			for (j = 0; j < width; j++) {
				seed = seed * 1103515245 + 12345;
				cdx_buf_printf(&b, "      - {name: j%zu, script: x, duration_hint: %ums", j, 100 + seed % 900);
				if (seed % 3)
					cdx_buf_printf(&b, ", inputs: [d%u], outputs: [d%u]", (seed >> 4) % 4,
						       (seed >> 8) % 4);
				if (s && seed % 5 == 0)
					cdx_buf_printf(&b, ", needs: [s%zu/j%zu]", s - 1, (size_t)(seed >> 12) % width);
				cdx_buf_adds(&b, "}\n");
			}
		}
		p = load(b.data);
		for (lv = CDX_OPT_CONSERVATIVE; lv <= CDX_OPT_AGGRESSIVE; lv++) {
			cJSON *r = optimize(p, lv, 1 + g % 3);
			size_t k;
			q = reload(r);
			assert_int_equal(q->n_jobs, p->n_jobs);
			/* the new graph is looser: not slower on unlimited workers */
			assert_true(num(cJSON_GetObjectItem(r, "after"), "critical_path_s") <=
				    num(cJSON_GetObjectItem(r, "before"), "critical_path_s") + 1e-9);
			if (lv == CDX_OPT_CONSERVATIVE)
				assert_true(num(r, "speedup") == 1);
			for (k = 0; k < q->n_jobs; k++)
				assert_non_null(job(p, q->jobs[k].id));
			cdx_pipeline_free(q);
			cJSON_Delete(r);
		}
		cdx_pipeline_free(p);
		cdx_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths),
		cmocka_unit_test(levels),
		cmocka_unit_test(chain),
		cmocka_unit_test(independent),
		cmocka_unit_test(chain_last),
		cmocka_unit_test(barrier),
		cmocka_unit_test(bounding_by_worker),
		cmocka_unit_test(suggest),
		cmocka_unit_test(history),
		cmocka_unit_test(moderate_evidence),
		cmocka_unit_test(moderate_war),
		cmocka_unit_test(no_evidence),
		cmocka_unit_test(transitive_kept),
		cmocka_unit_test(written_stay),
		cmocka_unit_test(conservative),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(random_graphs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
