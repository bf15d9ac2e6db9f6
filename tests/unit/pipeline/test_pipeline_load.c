/* test_pipeline_load.c — pipeline_load.c through the public API
 * (cdx_pipeline_load, cdx_pipeline_load_mem) and the model of pipeline.h:
 * names, durations, variables and secrets, templates and extends,
 * includes, matrices, needs, retry and allow_failure, one-pass problem
 * reporting, and the job limit. */
#include "fixtures.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "base/diag.h"
#include "pipeline/pipeline.h"

/* ---- helpers ------------------------------------------------------------- */

static const char *datadir(void)
{
	const char *d = getenv("CDX_TESTDATA");
	return d && *d ? d : "tests/data";
}

/* data_path: CDX_TESTDATA/REL (free with free()) */
static char *data_path(const char *rel)
{
	return cdx_xasprintf("%s/%s", datadir(), rel);
}

static void print_diags(struct cdx_diags *d)
{
	size_t i;
	struct cdx_buf b = {0};
	for (i = 0; i < cdx_diags_count(d); i++) {
		const struct cdx_diag *g = cdx_diags_get(d, i);
		if (!g)
			break;
		cdx_buf_reset(&b);
		cdx_diag_format(g, &b);
		print_message("  %s\n", b.data);
	}
	cdx_buf_free(&b);
}

/* load TEXT as the file NAME; fails the test (printing the problems) when
 * it does not load */
static struct cdx_pipeline *load_as(const char *name, const char *text)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem(name, text, strlen(text), d);
	if (!p) {
		print_diags(d);
		cdx_diags_free(d);
		fail_msg("%s did not load", name);
	}
	assert_int_equal(cdx_diags_count(d), 0);
	cdx_diags_free(d);
	return p;
}

static struct cdx_pipeline *load(const char *text)
{
	return load_as("mem.yml", text);
}

static struct cdx_pipeline *load_data(const char *rel)
{
	char *path = data_path(rel);
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load(path, d);
	if (!p) {
		print_diags(d);
		fail_msg("%s did not load", path);
	}
	assert_int_equal(cdx_diags_count(d), 0);
	cdx_diags_free(d);
	free(path);
	return p;
}

/* loading TEXT fails; returns its problems formatted one per line,
 * "LINE:COL: message\n" (free with free()) */
static char *problems_of(const char *name, const char *text)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem(name, text, strlen(text), d);
	struct cdx_buf b = {0};
	size_t i;
	if (p) {
		cdx_pipeline_free(p);
		cdx_diags_free(d);
		fail_msg("%s loaded but should not", name);
	}
	for (i = 0; i < cdx_diags_count(d); i++) {
		const struct cdx_diag *g = cdx_diags_get(d, i);
		if (!g)
			break;
		cdx_buf_printf(&b, "%d:%d: %s\n", g->line, g->col, g->msg);
	}
	cdx_diags_free(d);
	return cdx_buf_detach(&b);
}

static void expect_problems(const char *text, const char *want)
{
	char *got = problems_of("mem.yml", text);
	assert_string_equal(got, want);
	free(got);
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

static size_t job_index(const struct cdx_pipeline *p, const char *id)
{
	return (size_t)(job(p, id) - p->jobs);
}

static const char *var(const struct cdx_vars *v, const char *name)
{
	const struct cdx_var *x = cdx_vars_find(v, name);
	return x ? (x->value ? x->value : "(null)") : "(absent)";
}

#define ONE_JOB(extra)                                                                                            \
	"stages:\n"                                                                                               \
	"  - name: s\n"                                                                                           \
	"    jobs:\n"                                                                                             \
	"      - name: j\n"                                                                                       \
	"        script: x\n" extra

/* ---- names and basics ---------------------------------------------------- */

static void basic_model(void **state)
{
	struct cdx_pipeline *p = load_data("valid/basic.yml");
	char *path = data_path("valid/basic.yml");
	char *buf;
	size_t len;
	(void)state;
	assert_string_equal(cdx_pipeline_name(p), "ci");
	assert_string_equal(cdx_pipeline_path(p), path);
	assert_int_equal(cdx_pipeline_stage_count(p), 2);
	assert_string_equal(cdx_pipeline_stage_name(p, 0), "build");
	assert_string_equal(cdx_pipeline_stage_name(p, 1), "test");
	assert_null(cdx_pipeline_stage_name(p, 2));
	assert_int_equal(cdx_pipeline_job_count(p), 2);
	assert_string_equal(cdx_pipeline_job_id(p, 0), "build/compile");
	assert_string_equal(cdx_pipeline_job_id(p, 1), "test/unit");
	assert_null(cdx_pipeline_job_id(p, 2));
	assert_int_equal(p->timeout_ms, 3600000);
	assert_int_equal(p->stages[0].timeout_ms, 600000);
	assert_int_equal(p->stages[1].timeout_ms, CDX_STAGE_TIMEOUT_DEFAULT_MS);
	assert_int_equal(p->stages[0].first_job, 0);
	assert_int_equal(p->stages[0].n_jobs, 1);
	assert_int_equal(p->stages[1].first_job, 1);
	assert_string_equal(var(&p->stages[0].env, "OPT"), "-O2");
	assert_string_equal(p->jobs[0].script, "make -j2");
	assert_int_equal(p->jobs[0].retry_max, 2);
	assert_false(p->jobs[0].allow_failure);
	assert_int_equal(p->jobs[0].n_inputs, 1);
	assert_string_equal(p->jobs[0].inputs[0], "src/");
	assert_int_equal(p->jobs[0].n_outputs, 1);
	assert_string_equal(p->jobs[0].outputs[0], "build/");
	assert_int_equal(p->jobs[0].hint_ms, -1);
	assert_int_equal(p->jobs[0].timeout_ms, 0); /* the stage's */
	assert_null(p->jobs[0].matrix_base);
	/* positions: a job is where its name is */
	assert_int_equal(p->jobs[0].line, 12);
	assert_int_equal(p->jobs[0].col, 15);
	assert_int_equal(p->stages[1].line, 18);
	assert_int_equal(p->stages[1].col, 11);
	assert_string_equal(p->jobs[1].file, path);
	/* the main file's CRC-32 */
	assert_int_equal(p->n_files, 1);
	assert_int_equal(cdx_read_file(path, 1 << 20, &buf, &len, NULL), 0);
	assert_int_equal(p->file_hash, cdx_crc32(0, buf, len));
	free(buf);
	free(path);
	cdx_pipeline_free(p);
	cdx_pipeline_free(NULL);
}

static void name_from_file_stem(void **state)
{
	static const char text[] = ONE_JOB("");
	struct cdx_pipeline *p;
	char *got;
	(void)state;
	p = load_as("some/dir/my-pipe.yml", text);
	assert_string_equal(cdx_pipeline_name(p), "my-pipe");
	cdx_pipeline_free(p);
	p = load_as("other.yaml", text);
	assert_string_equal(cdx_pipeline_name(p), "other");
	cdx_pipeline_free(p);
	p = load_as("noext", text);
	assert_string_equal(cdx_pipeline_name(p), "noext");
	cdx_pipeline_free(p);
	got = problems_of("dir/a b.yml", text);
	assert_string_equal(got, "0:0: pipeline name 'a b' taken from the file name is invalid; set name:\n");
	free(got);
	/* an explicit name wins over the stem */
	p = load_as("a b.yml", "name: fine\n" ONE_JOB(""));
	assert_string_equal(cdx_pipeline_name(p), "fine");
	cdx_pipeline_free(p);
}

static void scripts(void **state)
{
	struct cdx_pipeline *p = load("stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - {name: one, script: make}\n"
				      "      - {name: list, script: [./configure, make, make check]}\n"
				      "      - name: block\n"
				      "        script: |\n"
				      "          set -x\n"
				      "          make\n");
	(void)state;
	assert_string_equal(p->jobs[0].script, "make");
	assert_string_equal(p->jobs[1].script, "./configure\nmake\nmake check");
	assert_string_equal(p->jobs[2].script, "set -x\nmake\n");
	cdx_pipeline_free(p);
	expect_problems(ONE_JOB("        inputs: src\n        outputs: [a, {b: c}]\n"),
			"7:22: outputs must be a string, not a mapping\n");
}

/* ---- durations ----------------------------------------------------------- */

static void durations(void **state)
{
	struct cdx_pipeline *p = load_data("valid/durations.yml");
	(void)state;
	assert_int_equal(p->timeout_ms, 720LL * 3600 * 1000);
	assert_int_equal(p->stages[0].timeout_ms, 90000);
	assert_int_equal(p->stages[1].timeout_ms, 5400000);
	assert_int_equal(job(p, "s1/bare")->timeout_ms, 500);
	assert_int_equal(job(p, "s1/bare")->hint_ms, 0);
	assert_int_equal(job(p, "s1/ms")->timeout_ms, 500);
	assert_int_equal(job(p, "s1/ms")->hint_ms, 250);
	assert_int_equal(job(p, "s1/sec")->timeout_ms, 30000);
	assert_int_equal(job(p, "s1/sec")->hint_ms, 1500);
	assert_int_equal(job(p, "s1/min")->timeout_ms, 600000);
	assert_int_equal(job(p, "s1/min")->hint_ms, 150000);
	assert_int_equal(job(p, "s1/hour")->timeout_ms, 3600000);
	assert_int_equal(job(p, "s1/hour")->hint_ms, 900000);
	assert_int_equal(job(p, "s1/frac")->timeout_ms, 1); /* never rounded to zero */
	assert_int_equal(job(p, "s1/frac")->hint_ms, 12000);
	assert_int_equal(job(p, "s2/default")->timeout_ms, 0);
	assert_int_equal(job(p, "s2/default")->hint_ms, -1);
	assert_true(cdx_pipeline_weight_ms(p, job_index(p, "s2/default")) == 1000.0);
	assert_true(cdx_pipeline_weight_ms(p, job_index(p, "s1/bare")) == 0.0);
	assert_true(cdx_pipeline_weight_ms(p, job_index(p, "s1/min")) == 150000.0);
	cdx_pipeline_free(p);
}

static void default_stage_timeout(void **state)
{
	struct cdx_pipeline *p = load(ONE_JOB(""));
	(void)state;
	assert_int_equal(p->stages[0].timeout_ms, 3600000);
	assert_int_equal(p->jobs[0].timeout_ms, 0);
	assert_int_equal(p->timeout_ms, 0);
	cdx_pipeline_free(p);
}

static void duration_problems(void **state)
{
	(void)state;
	expect_problems("timeout: 0\n" ONE_JOB("        timeout: 31d\n        duration_hint: -1\n"),
			"1:10: timeout must be longer than zero\n"
			"7:18: bad duration '31d' for timeout: unknown duration unit (use ms, s, m or h)\n"
			"8:24: bad duration '-1' for duration_hint: expected a duration such as 90, 0.5, 500ms, 30s, "
			"10m or 1h\n");
}

/* ---- variables and secrets ----------------------------------------------- */

static void variables(void **state)
{
	struct cdx_pipeline *p = load_data("valid/secrets.yml");
	const struct cdx_var *v;
	const struct cdx_job *j;
	(void)state;
	assert_int_equal(p->vars.n, 8);
	assert_string_equal(p->vars.v[0].name, "PLAIN");
	assert_string_equal(p->vars.v[7].name, "DEBUG");
	assert_string_equal(var(&p->vars, "PLAIN"), "hello");
	assert_string_equal(var(&p->vars, "EMPTY"), "");
	assert_string_equal(var(&p->vars, "QUOTED"), "a value with spaces and $DOLLARS");
	assert_string_equal(var(&p->vars, "NUMBER"), "42");
	assert_string_equal(var(&p->vars, "NOPE"), "(absent)");
	v = cdx_vars_find(&p->vars, "API_TOKEN");
	assert_non_null(v);
	assert_string_equal(v->from_env, "API_TOKEN");
	assert_null(v->value);
	assert_true(v->secret);
	assert_int_equal(v->line, 9);
	assert_int_equal(v->col, 3);
	v = cdx_vars_find(&p->vars, "REGION");
	assert_string_equal(v->from_env, "CDX_REGION");
	assert_string_equal(v->value, "eu-west-1"); /* the default */
	assert_false(v->secret);
	v = cdx_vars_find(&p->vars, "PASSWORD");
	assert_null(v->from_env);
	assert_string_equal(v->value, "hunter2");
	assert_true(v->secret);
	v = cdx_vars_find(&p->vars, "DEBUG");
	assert_false(v->secret);
	assert_string_equal(var(&p->stages[0].env, "TARGET"), "staging");
	assert_string_equal(var(&p->stages[0].env, "_PRIVATE"), "1");
	j = job(p, "deploy/push");
	assert_int_equal(j->vars.n, 2);
	assert_true(cdx_vars_find(&j->vars, "DEPLOY_KEY")->secret);
	assert_string_equal(var(&j->vars, "PLAIN"), "overridden");
	cdx_pipeline_free(p);
}

static void secrets_masked_in_json(void **state)
{
	struct cdx_pipeline *p = load_data("valid/secrets.yml");
	cJSON *o = cdx_pipeline_json(p), *vars;
	char *text;
	(void)state;
	assert_non_null(o);
	vars = cJSON_GetObjectItem(o, "variables");
	assert_string_equal(cJSON_GetObjectItem(vars, "PLAIN")->valuestring, "hello");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(vars, "PASSWORD"), "value")->valuestring, "***");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(vars, "API_TOKEN"), "secret")));
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(vars, "REGION"), "value")->valuestring,
			    "eu-west-1");
	text = cJSON_PrintUnformatted(o);
	assert_null(strstr(text, "hunter2"));
	free(text);
	cJSON_Delete(o);
	cdx_pipeline_free(p);
}

static void variable_problems(void **state)
{
	(void)state;
	expect_problems("variables:\n"
			"  1X: a\n"
			"  OK: [a]\n"
			"  T: {from_env: 'A B'}\n"
			"  S: {value: x, secret: maybe}\n"
			"  N: {secret: true}\n"
			"  K: {value: x, colour: red}\n" ONE_JOB(""),
			"2:3: variable name '1X' is invalid: use A-Z a-z 0-9 _, not starting with a digit\n"
			"3:7: variable 'OK' must be a string or {from_env, secret}, not a list\n"
			"4:17: from_env 'A B' is invalid: use A-Z a-z 0-9 _, not starting with a digit\n"
			"5:25: secret must be true or false, not 'maybe'\n"
			"6:6: variable 'N' needs value or from_env\n"
			"7:17: unknown key 'colour' in variable\n");
	/* a stage's environment holds plain strings only */
	expect_problems("stages:\n"
			"  - name: s\n"
			"    environment: {A: {from_env: B}}\n"
			"    jobs: [{name: j, script: x}]\n",
			"3:22: variable 'A' must be a string, not a mapping\n");
}

/* ---- templates and extends ----------------------------------------------- */

static void templates_deep_merge(void **state)
{
	struct cdx_pipeline *p = load_data("valid/templates.yml");
	const struct cdx_job *j;
	(void)state;
	/* compile extends debian -> cached -> base */
	j = job(p, "build/compile");
	assert_string_equal(j->script, "make");
	assert_int_equal(j->retry_max, 1);
	assert_int_equal(j->retry_when, CDX_RETRY_ON_FAILURE);
	assert_int_equal(j->timeout_ms, 600000);
	assert_int_equal(j->vars.n, 4);
	assert_string_equal(var(&j->vars, "LANG"), "C");
	assert_string_equal(var(&j->vars, "CCACHE_DIR"), "/tmp/ccache");
	assert_string_equal(var(&j->vars, "IMAGE"), "debian:12");
	assert_string_equal(var(&j->vars, "LEVEL"), "job"); /* the job's keys win */
	/* extends: [debian, quick]: the later template wins */
	j = job(p, "build/quick-compile");
	assert_int_equal(j->timeout_ms, 60000);
	assert_string_equal(var(&j->vars, "LEVEL"), "debian");
	assert_int_equal(j->retry_max, 1);
	/* a job's scalar replaces a template's mapping */
	j = job(p, "test/unit");
	assert_int_equal(j->retry_max, 3);
	assert_int_equal(j->retry_when, CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT);
	assert_string_equal(var(&j->vars, "LEVEL"), "base");
	cdx_pipeline_free(p);
}

static void extends_merges_nested_maps(void **state)
{
	struct cdx_pipeline *p = load("templates:\n"
				      "  t:\n"
				      "    retry: {max: 2, exit_codes: [3], when: timeout}\n"
				      "    allow_failure: {exit_codes: [7]}\n"
				      "    inputs: [a, b]\n"
				      "stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - name: j\n"
				      "        extends: t\n"
				      "        script: x\n"
				      "        retry: {max: 5}\n"
				      "        inputs: [c]\n");
	const struct cdx_job *j = &p->jobs[0];
	(void)state;
	assert_int_equal(j->retry_max, 5);           /* own */
	assert_int_equal(j->n_retry_codes, 1);       /* merged from the template */
	assert_int_equal(j->retry_codes[0], 3);
	assert_int_equal(j->retry_when, CDX_RETRY_ON_TIMEOUT);
	assert_int_equal(j->n_allow_codes, 1);
	assert_int_equal(j->allow_codes[0], 7);
	assert_int_equal(j->n_inputs, 1);            /* lists are replaced, not appended */
	assert_string_equal(j->inputs[0], "c");
	cdx_pipeline_free(p);
}

static void template_problems(void **state)
{
	(void)state;
	expect_problems("templates:\n"
			"  a: {extends: b}\n"
			"  b: {extends: a}\n"
			"  \"bad name\": {retry: 1}\n"
			"  base: {timeout: 1m}\n" ONE_JOB("        extends: [a, bsae, nope]\n"),
			"3:16: extends cycle: a -> b -> a\n"
			"4:3: template name 'bad name' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -\n"
			"11:22: unknown template 'bsae' (did you mean 'base'?)\n"
			"11:28: unknown template 'nope'\n");
}

static void extends_depth_limit(void **state)
{
	struct cdx_buf b = {0};
	char *got;
	int i;
	(void)state;
	cdx_buf_adds(&b, "templates:\n");
	for (i = 0; i < 20; i++)
		cdx_buf_printf(&b, "  t%d: {extends: t%d}\n", i, i + 1);
	cdx_buf_adds(&b, "  t20: {retry: 1}\n" ONE_JOB("        extends: t0\n"));
	got = problems_of("mem.yml", b.data);
	assert_non_null(strstr(got, "extends nested deeper than 16 templates"));
	free(got);
	cdx_buf_free(&b);
}

/* ---- includes ------------------------------------------------------------ */

static void include_fragments(void **state)
{
	struct cdx_pipeline *p = load_data("valid/include_main.yml");
	const struct cdx_job *j;
	(void)state;
	assert_int_equal(p->n_files, 3);
	assert_int_equal(p->n_stages, 4);
	/* included stages come first, depth first */
	assert_string_equal(p->stages[0].name, "lint");
	assert_string_equal(p->stages[1].name, "prepare");
	assert_string_equal(p->stages[2].name, "build");
	assert_string_equal(p->stages[3].name, "test");
	assert_non_null(strstr(p->stages[0].file, "fragments/lint.yml"));
	assert_non_null(strstr(p->stages[1].file, "fragments/common.yml"));
	/* the fragment's own job uses the fragment's template */
	assert_int_equal(job(p, "prepare/deps")->timeout_ms, 15 * 60000);
	/* the including file wins; the fragment adds */
	assert_string_equal(var(&p->vars, "CC"), "clang");
	assert_string_equal(var(&p->vars, "CFLAGS"), "-O2 -Wall");
	j = job(p, "build/compile");
	assert_int_equal(j->timeout_ms, 15 * 60000); /* template from the fragment */
	assert_string_equal(var(&j->vars, "CFLAGS_EXTRA"), "-g");
	j = job(p, "test/unit");
	assert_int_equal(j->n_needs, 2);
	assert_int_equal(j->needs[1].job, job_index(p, "lint/style"));
	cdx_pipeline_free(p);
}

static void include_relative_to_the_including_file(void **state)
{
	char *dir = fx_tmpdir(), *sub, *main_path, *p1, *p2, *p3, *p4;
	struct cdx_pipeline *p;
	struct cdx_diags *d = cdx_diags_new();
	char *cwd = getcwd(NULL, 0);
	(void)state;
	assert_non_null(dir);
	sub = cdx_xasprintf("%s/ci", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(sub);
	sub = cdx_xasprintf("%s/ci/parts", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(sub);
	sub = cdx_xasprintf("%s/shared", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(sub);
	main_path = fx_write(dir, "ci/main.yml",
			     "include: [parts/a.yml, parts/b.yml]\n"
			     "stages:\n"
			     "  - name: main\n"
			     "    jobs: [{name: j, script: x, extends: from-c}]\n");
	p1 = fx_write(dir, "ci/parts/a.yml", "include: ../../shared/c.yml\nvariables: {A: a}\n");
	p2 = fx_write(dir, "ci/parts/b.yml", "include: [../../shared/c.yml]\nvariables: {B: b}\n");
	p3 = fx_write(dir, "shared/c.yml",
		      "templates: {from-c: {retry: 4}}\n"
		      "stages: [{name: shared, jobs: [{name: once, script: x}]}]\n");
	p4 = fx_write(dir, "shared/unused.yml", "");
	/* from another working directory, the includes still resolve */
	assert_int_equal(chdir("/"), 0);
	p = cdx_pipeline_load(main_path, d);
	assert_int_equal(chdir(cwd), 0);
	if (!p)
		print_diags(d);
	assert_non_null(p);
	/* c.yml is included twice but loaded once: one "shared" stage */
	assert_int_equal(p->n_files, 4);
	assert_int_equal(p->n_stages, 2);
	assert_string_equal(p->stages[0].name, "shared");
	assert_string_equal(p->stages[1].name, "main");
	assert_string_equal(var(&p->vars, "A"), "a");
	assert_string_equal(var(&p->vars, "B"), "b");
	assert_int_equal(p->jobs[1].retry_max, 4);
	cdx_pipeline_free(p);
	cdx_diags_free(d);
	fx_rmrf(dir);
	free(main_path);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	free(cwd);
	free(dir);
}

static void include_problems(void **state)
{
	char *dir = fx_tmpdir(), *main_path, *frag, *msg;
	struct cdx_diags *d = cdx_diags_new();
	const struct cdx_diag *g;
	(void)state;
	main_path = fx_write(dir, "main.yml", "include: [frag.yml, missing.yml]\n" ONE_JOB(""));
	frag = fx_write(dir, "frag.yml", "name: not-here\nstages: {}\n");
	assert_null(cdx_pipeline_load(main_path, d));
	assert_int_equal(cdx_diags_count(d), 3);
	/* problems of the fragment carry its name and positions */
	g = cdx_diags_get(d, 0);
	assert_string_equal(g->file, frag);
	assert_int_equal(g->line, 1);
	assert_string_equal(g->msg, "unknown key 'name' in included file");
	g = cdx_diags_get(d, 1);
	assert_string_equal(g->file, frag);
	assert_string_equal(g->msg, "stages must be a list, not a mapping");
	g = cdx_diags_get(d, 2);
	assert_string_equal(g->file, main_path);
	assert_int_equal(g->line, 1);
	assert_int_equal(g->col, 21);
	msg = cdx_xasprintf("cannot open %s/missing.yml: No such file or directory", dir);
	assert_string_equal(g->msg, msg);
	free(msg);
	cdx_diags_free(d);
	fx_rmrf(dir);
	free(main_path);
	free(frag);
	free(dir);
}

static void include_depth_limit(void **state)
{
	char *dir = fx_tmpdir(), *name, *text, *path, *last = NULL;
	struct cdx_diags *d = cdx_diags_new();
	size_t i, found = 0;
	int k;
	(void)state;
	for (k = 0; k <= 20; k++) {
		name = cdx_xasprintf("f%d.yml", k);
		text = k < 20 ? cdx_xasprintf("include: f%d.yml\n%s", k + 1, k == 0 ? ONE_JOB("") : "")
			      : cdx_xstrdup("variables: {DEEP: yes}\n");
		path = fx_write(dir, name, text);
		if (k == 0)
			last = path;
		else
			free(path);
		free(name);
		free(text);
	}
	assert_null(cdx_pipeline_load(last, d));
	for (i = 0; i < cdx_diags_count(d); i++)
		if (strcmp(cdx_diags_get(d, i)->msg, "includes nested deeper than 16 files") == 0)
			found++;
	assert_int_equal(found, 1);
	cdx_diags_free(d);
	fx_rmrf(dir);
	free(last);
	free(dir);
}

static void include_from_memory(void **state)
{
	char *dir = fx_tmpdir(), *frag, *name;
	struct cdx_pipeline *p;
	(void)state;
	frag = fx_write(dir, "vars.yml", "variables: {FROM_DISK: yes}\n");
	/* the name of an in-memory pipeline resolves its includes */
	name = cdx_xasprintf("%s/virtual.yml", dir);
	p = load_as(name, "include: vars.yml\n" ONE_JOB(""));
	assert_string_equal(var(&p->vars, "FROM_DISK"), "yes");
	assert_string_equal(cdx_pipeline_name(p), "virtual");
	cdx_pipeline_free(p);
	fx_rmrf(dir);
	free(frag);
	free(name);
	free(dir);
}

/* ---- matrices ------------------------------------------------------------ */

static void matrix_expansion(void **state)
{
	static const char *const ids[] = {
		"build/compile-gcc-O0",	     "build/compile-gcc-O2",	  "build/compile-clang-O0",
		"build/compile-clang-O2",    "build/cross-arm64-glibc",	  "build/cross-riscv64-glibc",
		"build/cross-x86_64-musl",   "test/unit",		  "test/cross-check",
	};
	struct cdx_pipeline *p = load_data("valid/matrix.yml");
	const struct cdx_job *j;
	size_t i;
	(void)state;
	assert_int_equal(p->n_jobs, CDX_ARRAY_LEN(ids));
	for (i = 0; i < CDX_ARRAY_LEN(ids); i++)
		assert_string_equal(p->jobs[i].id, ids[i]);
	j = job(p, "build/compile-clang-O2");
	assert_string_equal(j->name, "compile-clang-O2");
	assert_string_equal(j->matrix_base, "compile");
	assert_string_equal(var(&j->vars, "CC"), "clang");
	assert_string_equal(var(&j->vars, "OPT"), "-O2"); /* the value, unsanitised */
	assert_string_equal(j->script, "make CC=\"$CC\" OPT=\"$OPT\"");
	assert_int_equal(j->line, 8); /* the base job's name */
	j = job(p, "build/cross-x86_64-musl");
	assert_string_equal(var(&j->vars, "ARCH"), "x86 64");
	assert_string_equal(var(&j->vars, "LIBC"), "musl");
	assert_string_equal(j->matrix_base, "cross");
	assert_null(job(p, "test/unit")->matrix_base);
	assert_int_equal(p->stages[0].n_jobs, 7);
	cdx_pipeline_free(p);
}

static void matrix_overrides_job_variables(void **state)
{
	struct cdx_pipeline *p = load(ONE_JOB("        variables: {CC: cc, KEEP: k}\n"
					      "        matrix: {CC: [gcc, \"clang 16\", ++x, a.b_c]}\n"));
	(void)state;
	assert_int_equal(p->n_jobs, 4);
	assert_string_equal(p->jobs[0].id, "s/j-gcc");
	assert_string_equal(p->jobs[1].id, "s/j-clang_16");
	assert_string_equal(p->jobs[2].id, "s/j-x");
	assert_string_equal(p->jobs[3].id, "s/j-a.b_c");
	assert_string_equal(var(&p->jobs[1].vars, "CC"), "clang 16");
	assert_string_equal(var(&p->jobs[1].vars, "KEEP"), "k");
	assert_int_equal(p->jobs[1].vars.n, 2);
	cdx_pipeline_free(p);
}

static void matrix_problems(void **state)
{
	struct cdx_buf b = {0};
	char *got;
	int i;
	(void)state;
	expect_problems(ONE_JOB("        matrix: {CC: [], 1X: [a]}\n"),
			"6:22: matrix values of 'CC' must be a string or a non-empty list of strings\n");
	expect_problems(ONE_JOB("        matrix: [{A: a}, b]\n"), "6:26: a matrix entry must be a mapping, not a string\n");
	expect_problems(ONE_JOB("        matrix: {A: [a, [b]]}\n"), "6:25: a matrix value must be a string, not a list\n");
	/* more than 1000 combinations */
	cdx_buf_adds(&b, ONE_JOB("        matrix:\n          A: [0,1,2,3,4,5,6,7,8,9]\n          B: [0,1,2,3,4,5,6,7,8,9]\n"
				 "          C: [0,1,2,3,4,5,6,7,8,9,10]\n"));
	got = problems_of("mem.yml", b.data);
	assert_string_equal(got, "7:11: matrix expands to more than 1000 jobs\n");
	free(got);
	/* exactly 1000 is fine */
	cdx_buf_reset(&b);
	cdx_buf_adds(&b, ONE_JOB("        matrix:\n          A: ["));
	for (i = 0; i < 1000; i++)
		cdx_buf_printf(&b, "%s%d", i ? "," : "", i);
	cdx_buf_adds(&b, "]\n");
	{
		struct cdx_pipeline *p = load(b.data);
		assert_int_equal(p->n_jobs, 1000);
		assert_string_equal(p->jobs[999].id, "s/j-999");
		cdx_pipeline_free(p);
	}
	cdx_buf_free(&b);
}

/* ---- needs --------------------------------------------------------------- */

static void needs_resolution(void **state)
{
	struct cdx_pipeline *p = load_data("valid/needs.yml");
	const struct cdx_job *j;
	(void)state;
	/* stage needs */
	assert_false(p->stages[0].has_needs);
	assert_true(p->stages[1].has_needs); /* needs: [] */
	assert_int_equal(p->stages[1].n_needs, 0);
	assert_false(p->stages[2].has_needs); /* the previous stage */
	assert_int_equal(p->stages[3].n_needs, 2);
	assert_int_equal(p->stages[3].needs[0].stage, 2);
	assert_int_equal(p->stages[3].needs[0].job, CDX_NONE);
	assert_int_equal(p->stages[3].needs[1].stage, 0);
	assert_string_equal(p->stages[3].needs[1].ref, "fetch");
	/* a scalar need on a stage */
	j = job(p, "build/compile");
	assert_true(j->has_needs);
	assert_int_equal(j->n_needs, 1);
	assert_int_equal(j->needs[0].stage, 0);
	assert_int_equal(j->needs[0].job, CDX_NONE);
	/* needs: [] on a job */
	j = job(p, "lint/spell");
	assert_true(j->has_needs);
	assert_int_equal(j->n_needs, 0);
	/* a job need */
	j = job(p, "test/unit");
	assert_int_equal(j->needs[0].job, job_index(p, "build/compile"));
	assert_int_equal(j->needs[0].njobs, 1);
	assert_int_equal(j->needs[0].stage, 2);
	assert_int_equal(j->needs[0].line, 21);
	assert_int_equal(j->needs[0].col, 50);
	assert_false(job(p, "test/integration")->has_needs);
	/* a stage and a job */
	j = job(p, "release/tarball");
	assert_int_equal(j->needs[0].stage, 3);
	assert_int_equal(j->needs[0].job, CDX_NONE);
	assert_int_equal(j->needs[1].job, job_index(p, "build/docs"));
	cdx_pipeline_free(p);
}

static void needs_matrix_base(void **state)
{
	struct cdx_pipeline *p = load_data("valid/matrix.yml");
	const struct cdx_job *j = job(p, "test/unit");
	(void)state;
	assert_int_equal(j->n_needs, 1);
	assert_string_equal(j->needs[0].ref, "build/compile");
	assert_int_equal(j->needs[0].job, 0);
	assert_int_equal(j->needs[0].njobs, 4);
	assert_int_equal(j->needs[0].stage, 0);
	j = job(p, "test/cross-check");
	assert_int_equal(j->needs[0].job, 4);
	assert_int_equal(j->needs[0].njobs, 3);
	assert_int_equal(j->needs[1].job, job_index(p, "build/compile-gcc-O2"));
	assert_int_equal(j->needs[1].njobs, 1);
	cdx_pipeline_free(p);
}

static void needs_problems(void **state)
{
	(void)state;
	expect_problems("stages:\n"
			"  - name: build\n"
			"    jobs: [{name: compile, script: x}]\n"
			"  - name: test\n"
			"    needs: [biuld, build/compile, zzz]\n"
			"    jobs:\n"
			"      - {name: a, script: x, needs: [build/compil, compile, test/b, nope/x]}\n",
			"5:13: unknown stage 'biuld' in needs (did you mean 'build'?)\n"
			"5:20: stage needs name stages, not jobs: 'build/compile' (move it to the job's needs)\n"
			"5:35: unknown stage 'zzz' in needs\n"
			"7:38: unknown job 'build/compil' in needs (did you mean 'build/compile'?)\n"
			"7:52: unknown stage 'compile' in needs (did you mean 'build/compile'?)\n"
			"7:61: unknown job 'test/b' in needs (did you mean 'test/a'?)\n"
			"7:69: unknown job 'nope/x' in needs\n");
}

/* ---- retry and allow_failure --------------------------------------------- */

static void retry_and_allow_failure(void **state)
{
	struct cdx_pipeline *p = load_data("valid/retry.yml");
	const struct cdx_job *j;
	(void)state;
	j = job(p, "flaky/plain");
	assert_int_equal(j->retry_max, 2);
	assert_int_equal(j->n_retry_codes, 0);
	assert_int_equal(j->retry_when, CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT);
	j = job(p, "flaky/codes");
	assert_int_equal(j->retry_max, 3);
	assert_int_equal(j->n_retry_codes, 2);
	assert_int_equal(j->retry_codes[0], 75);
	assert_int_equal(j->retry_codes[1], 111);
	assert_int_equal(j->retry_when, CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT);
	j = job(p, "flaky/on-timeout");
	assert_int_equal(j->retry_max, 1);
	assert_int_equal(j->n_retry_codes, 1);
	assert_int_equal(j->retry_codes[0], 1);
	assert_int_equal(j->retry_when, CDX_RETRY_ON_TIMEOUT);
	j = job(p, "flaky/always");
	assert_int_equal(j->retry_max, 100);
	assert_int_equal(j->retry_when, CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT);
	j = job(p, "optional/allowed");
	assert_true(j->allow_failure);
	assert_int_equal(j->n_allow_codes, 0);
	j = job(p, "optional/one-code");
	assert_false(j->allow_failure);
	assert_int_equal(j->n_allow_codes, 1);
	assert_int_equal(j->allow_codes[0], 3);
	j = job(p, "optional/some-codes");
	assert_int_equal(j->n_allow_codes, 3);
	assert_int_equal(j->allow_codes[2], 255);
	j = job(p, "optional/as-map");
	assert_int_equal(j->n_allow_codes, 1);
	assert_int_equal(j->allow_codes[0], 1);
	j = job(p, "optional/strict");
	assert_false(j->allow_failure);
	assert_int_equal(j->retry_max, 0);
	cdx_pipeline_free(p);
}

static void retry_problems(void **state)
{
	(void)state;
	expect_problems(ONE_JOB("        retry: {exit_codes: [1, 256, x], when: [never], tries: 2}\n"
				"        allow_failure: {codes: [1]}\n"),
			"6:16: missing key 'max' in retry\n"
			"6:33: retry exit_codes must be a whole number from 1 to 255, not '256'\n"
			"6:38: retry exit_codes must be a whole number from 1 to 255, not 'x'\n"
			"6:49: unknown retry condition 'never'\n"
			"6:57: unknown key 'tries' in retry\n"
			"7:24: missing key 'exit_codes' in allow_failure\n"
			"7:25: unknown key 'codes' in allow_failure\n");
	expect_problems(ONE_JOB("        retry: 2.5\n        allow_failure: \"no\"\n"),
			"6:16: retry must be a whole number from 0 to 100, not '2.5'\n"
			"7:24: allow_failure must be true, false or exit codes, not 'no'\n");
}

/* ---- one pass, sorted ---------------------------------------------------- */

static void every_problem_in_one_pass(void **state)
{
	char *path = data_path("invalid/many_problems.yml");
	struct cdx_diags *d = cdx_diags_new();
	size_t i;
	(void)state;
	assert_null(cdx_pipeline_load(path, d));
	assert_int_equal(cdx_diags_count(d), 9);
	for (i = 1; i < 9; i++) {
		const struct cdx_diag *a = cdx_diags_get(d, i - 1), *b = cdx_diags_get(d, i);
		assert_true(a->line < b->line || (a->line == b->line && a->col < b->col));
		assert_string_equal(b->file, path);
	}
	assert_int_equal(cdx_diags_get(d, 0)->line, 2);
	assert_int_equal(cdx_diags_get(d, 8)->line, 21);
	cdx_diags_free(d);
	/* cdx_pipeline_validate counts the same problems */
	d = cdx_diags_new();
	assert_int_equal(cdx_pipeline_validate(path, d), 9);
	assert_int_equal(cdx_diags_count(d), 9);
	cdx_diags_free(d);
	assert_int_equal(cdx_pipeline_validate(path, NULL), 1); /* no list: "at least one" */
	free(path);
	path = data_path("valid/basic.yml");
	assert_int_equal(cdx_pipeline_validate(path, NULL), 0);
	free(path);
}

static void load_without_diags(void **state)
{
	(void)state;
	assert_null(cdx_pipeline_load_mem("x.yml", "stages: {}", 10, NULL));
	assert_null(cdx_pipeline_load("/nonexistent/cdx/x.yml", NULL));
}

static void missing_file(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	const struct cdx_diag *g;
	(void)state;
	assert_null(cdx_pipeline_load("/nonexistent/cdx/x.yml", d));
	assert_int_equal(cdx_diags_count(d), 1);
	g = cdx_diags_get(d, 0);
	assert_string_equal(g->file, "/nonexistent/cdx/x.yml");
	assert_int_equal(g->line, 0);
	assert_string_equal(g->msg, "cannot open /nonexistent/cdx/x.yml: No such file or directory");
	cdx_diags_free(d);
}

static void structure_problems(void **state)
{
	(void)state;
	expect_problems("[1, 2]\n", "1:1: a pipeline file must be a mapping, not a list\n");
	expect_problems("name: x\n", "1:1: missing key 'stages' in pipeline\n");
	expect_problems("stages: []\n", "1:1: pipeline has no stages\n");
	expect_problems("stages:\n  - name: s\n    jobs: []\n", "3:11: stage 's' has no jobs\n");
	expect_problems("stages:\n  - name: s\n", "2:5: missing key 'jobs' in stage 's'\n");
	expect_problems("stages:\n  - jobs: [{name: j, script: x}]\n", "2:5: missing key 'name' in stage\n");
	expect_problems("stages:\n  - just-a-name\n",
			"2:5: a stage must be a mapping, not a string: cdx lists each stage's jobs under it: "
			"{name: just-a-name, jobs: [{name: JOB, script: ...}]}\n");
	expect_problems("stages:\n  - {name: s, jobs: [x]}\n", "2:22: a job must be a mapping, not a string\n");
	expect_problems("stages:\n  - {name: [s], jobs: [{name: j, script: x}]}\n",
			"2:12: stage name must be a string, not a list\n");
	expect_problems("name: ~\n" ONE_JOB(""), "1:7: pipeline name must be a string, not null\n");
	expect_problems("stages:\n  - {name: s, jobs: [{name: j}]}\n", "2:22: missing key 'script' in job\n");
}

/* ---- limits -------------------------------------------------------------- */

/* a pipeline of MATRICES jobs with a 1000-value matrix each, plus EXTRA
 * plain jobs: the YAML stays small (an anchored list) */
static char *many_jobs(int matrices, int extra)
{
	struct cdx_buf b = {0};
	int i;
	cdx_buf_adds(&b, "stages:\n  - name: s\n    jobs:\n");
	for (i = 0; i < matrices; i++) {
		if (i == 0) {
			int k;
			cdx_buf_adds(&b, "      - {name: m0, script: x, matrix: {X: &v [");
			for (k = 0; k < 1000; k++)
				cdx_buf_printf(&b, "%s%d", k ? "," : "", k);
			cdx_buf_adds(&b, "]}}\n");
		} else {
			cdx_buf_printf(&b, "      - {name: m%d, script: x, matrix: {X: *v}}\n", i);
		}
	}
	for (i = 0; i < extra; i++)
		cdx_buf_printf(&b, "      - {name: e%d, script: x}\n", i);
	return cdx_buf_detach(&b);
}

static void job_limit(void **state)
{
	char *text = many_jobs(100, 1), *got;
	(void)state;
	got = problems_of("big.yml", text);
	assert_string_equal(got, "0:0: pipeline has more than 100000 jobs\n");
	free(got);
	free(text);
}

static void job_limit_exact(void **state)
{
	char *text = many_jobs(100, 0);
	struct cdx_pipeline *p;
	(void)state;
	p = load_as("big.yml", text);
	assert_int_equal(cdx_pipeline_job_count(p), CDX_MAX_JOBS);
	assert_string_equal(cdx_pipeline_job_id(p, CDX_MAX_JOBS - 1), "s/m99-999");
	assert_non_null(p->dag);
	cdx_pipeline_free(p);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(basic_model),
		cmocka_unit_test(name_from_file_stem),
		cmocka_unit_test(scripts),
		cmocka_unit_test(durations),
		cmocka_unit_test(default_stage_timeout),
		cmocka_unit_test(duration_problems),
		cmocka_unit_test(variables),
		cmocka_unit_test(secrets_masked_in_json),
		cmocka_unit_test(variable_problems),
		cmocka_unit_test(templates_deep_merge),
		cmocka_unit_test(extends_merges_nested_maps),
		cmocka_unit_test(template_problems),
		cmocka_unit_test(extends_depth_limit),
		cmocka_unit_test(include_fragments),
		cmocka_unit_test(include_relative_to_the_including_file),
		cmocka_unit_test(include_problems),
		cmocka_unit_test(include_depth_limit),
		cmocka_unit_test(include_from_memory),
		cmocka_unit_test(matrix_expansion),
		cmocka_unit_test(matrix_overrides_job_variables),
		cmocka_unit_test(matrix_problems),
		cmocka_unit_test(needs_resolution),
		cmocka_unit_test(needs_matrix_base),
		cmocka_unit_test(needs_problems),
		cmocka_unit_test(retry_and_allow_failure),
		cmocka_unit_test(retry_problems),
		cmocka_unit_test(every_problem_in_one_pass),
		cmocka_unit_test(load_without_diags),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(structure_problems),
		cmocka_unit_test(job_limit),
		cmocka_unit_test(job_limit_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
