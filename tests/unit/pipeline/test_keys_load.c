/* test_keys_load.c — the keys of the keys issue as the loader reads them:
 * before_script joined ahead of the script, after_script and its timeout,
 * default: under extends: (job > template > default, variables merged key
 * by key, [] takes a default back), parallel: N (names, CDX_NODE_*,
 * needs on the base name), and the keys of other CI systems refused by
 * name at their FILE:LINE:COL. */
#include "fixtures.h"

#include "pipeline/pipeline.h"

static struct cdx_pipeline *load(const char *text)
{
	struct cdx_pipeline *p = cdx_pipeline_load_mem("k.yml", text, strlen(text), NULL);
	assert_non_null(p);
	return p;
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

static const char *var(const struct cdx_job *j, const char *name)
{
	const struct cdx_var *v = cdx_vars_find(&j->vars, name);
	return v ? v->value : NULL;
}

static char *problems(const char *text)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem("k.yml", text, strlen(text), d);
	struct cdx_buf b = {0};
	size_t i;
	assert_null(p);
	for (i = 0; i < cdx_diags_count(d); i++) {
		const struct cdx_diag *g = cdx_diags_get(d, i);
		cdx_buf_printf(&b, "%d:%d: %s\n", g->line, g->col, g->msg);
	}
	cdx_diags_free(d);
	return cdx_buf_detach(&b);
}

static void test_scripts(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - name: a\n"
				      "        before_script: [one, two]\n"
				      "        script: three\n"
				      "        after_script: [four, five]\n"
				      "        after_script_timeout: 30s\n"
				      "      - {name: b, script: x}\n");
	(void)state;
	assert_string_equal(job(p, "s/a")->script, "one\ntwo\nthree");
	assert_string_equal(job(p, "s/a")->after_script, "four\nfive");
	assert_int_equal(job(p, "s/a")->after_timeout_ms, 30000);
	assert_null(job(p, "s/b")->after_script);
	assert_int_equal(job(p, "s/b")->after_timeout_ms, 0);
	cdx_pipeline_free(p);
}

static void test_default(void **state)
{
	struct cdx_pipeline *p = load("default:\n"
				      "  before_script: [d]\n"
				      "  after_script: da\n"
				      "  timeout: 5m\n"
				      "  retry: 2\n"
				      "  variables: {A: da, B: db}\n"
				      "templates:\n"
				      "  t: {timeout: 7m, variables: {B: tb}}\n"
				      "stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: plain, script: x}\n"
				      "      - {name: tpl, extends: t, script: x}\n"
				      "      - {name: own, extends: t, timeout: 9m, retry: 0, before_script: [], after_script: [], "
				      "variables: {B: ob}, script: x}\n");
	(void)state;
	assert_string_equal(job(p, "s/plain")->script, "d\nx");
	assert_string_equal(job(p, "s/plain")->after_script, "da");
	assert_int_equal(job(p, "s/plain")->timeout_ms, 300000);
	assert_int_equal(job(p, "s/plain")->retry_max, 2);
	assert_string_equal(var(job(p, "s/plain"), "B"), "db");
	assert_int_equal(job(p, "s/tpl")->timeout_ms, 420000);
	assert_string_equal(var(job(p, "s/tpl"), "A"), "da");
	assert_string_equal(var(job(p, "s/tpl"), "B"), "tb");
	assert_string_equal(job(p, "s/own")->script, "x");
	assert_null(job(p, "s/own")->after_script);
	assert_int_equal(job(p, "s/own")->timeout_ms, 540000);
	assert_int_equal(job(p, "s/own")->retry_max, 0);
	assert_string_equal(var(job(p, "s/own"), "A"), "da");
	assert_string_equal(var(job(p, "s/own"), "B"), "ob");
	cdx_pipeline_free(p);
}

static void test_parallel(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: t\n"
				      "    jobs:\n"
				      "      - {name: shard, parallel: 3, script: x}\n"
				      "  - name: r\n"
				      "    jobs:\n"
				      "      - {name: sum, needs: [t/shard], script: x}\n");
	const struct cdx_job *s2;
	(void)state;
	assert_int_equal(p->n_jobs, 4);
	s2 = job(p, "t/shard-2of3");
	assert_string_equal(var(s2, "CDX_NODE_INDEX"), "2");
	assert_string_equal(var(s2, "CDX_NODE_TOTAL"), "3");
	assert_string_equal(s2->matrix_base, "shard");
	assert_int_equal(job(p, "r/sum")->n_needs, 1);
	assert_int_equal(job(p, "r/sum")->needs[0].njobs, 3);
	cdx_pipeline_free(p);
}

static void test_refused(void **state)
{
	char *got;
	(void)state;
	got = problems("image: x\n"
		       "stages:\n"
		       "  - name: s\n"
		       "    environment: {A: 1}\n"
		       "    jobs:\n"
		       "      - {name: a, script: x, environment: prod, runs-on: linux, bogus: 1}\n");
	assert_string_equal(got, "1:1: 'image' is not supported in pipeline: jobs run on the host, cdx starts no "
				 "containers; run `docker run IMAGE ...` in script, or use tags: to pick a worker of "
				 "the pool that has the tools\n"
				 "6:30: 'environment' is not supported in job: a job's environment is a GitLab "
				 "deployment; deploy with `cdx deploy APP ENV VERSION` in script (environments live in "
				 "cdx.yml); for environment variables use variables:\n"
				 "6:49: 'runs-on' is not supported in job: jobs run on the host; use tags: with the "
				 "worker pool (cdx worker --tags)\n"
				 "6:65: unknown key 'bogus' in job\n");
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scripts),
	    cmocka_unit_test(test_default),
	    cmocka_unit_test(test_parallel),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
