/* test_environment.c — `applications:` of cdx.yml (lib/environment.c), read
 * through cdx_project_load on temporary files: the model and its defaults
 * for good files, every problem with its LINE:COL for bad ones, and
 * cdx_version_valid. */
#include "fixtures.h"

#include <cjson/cJSON.h>
#include <limits.h>

#include "base/diag.h"
#include "project/environment.h"
#include "state/store.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = fx_tmpdir();
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fx_rmrf(dir);
	free(dir);
	return 0;
}

/* load TEXT as DIR/cdx.yml; the problems, one "LINE:COL: msg" per line, in
 * *PROBLEMS (caller frees) */
static struct cdx_project *load(const char *text, char **problems)
{
	struct cdx_diags *d = cdx_diags_new();
	char *path = fx_write(dir, "cdx.yml", text);
	struct cdx_project *pr = cdx_project_load(path, d);
	struct cdx_buf b = {0};
	size_t i;
	for (i = 0; i < cdx_diags_count(d); i++) {
		const struct cdx_diag *g = cdx_diags_get(d, i);
		assert_string_equal(g->file, path);
		cdx_buf_printf(&b, "%d:%d: %s\n", g->line, g->col, g->msg);
	}
	cdx_buf_addc(&b, '\0');
	*problems = cdx_buf_detach(&b);
	cdx_diags_free(d);
	free(path);
	return pr;
}

/* TEXT fails to load with exactly the problems WANT */
static void expect_problems(const char *text, const char *want)
{
	char *got;
	struct cdx_project *pr = load(text, &got);
	if (pr || strcmp(got, want) != 0) {
		print_error("file:\n%s\nwant:\n%sgot:\n%s", text, want, got);
		fail_msg("problems differ");
	}
	cdx_project_free(pr);
	free(got);
}

static const struct cdx_env *env_of(const struct cdx_project *pr, const char *app, const char *env)
{
	struct cdx_error err = {0};
	const struct cdx_env *e = cdx_apps_find(cdx_project_apps(pr), app, env, &err);
	if (!e)
		fail_msg("%s", err.msg);
	return e;
}

static const char *var(const struct cdx_kv *kv, size_t n, const char *key)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

static const char good[] = "applications:\n"
			   "  web:\n"
			   "    deploy_to: rel/web\n"
			   "    keep_releases: 3\n"
			   "    hooks:\n"
			   "      deploy: ./d.sh\n"
			   "      stop: {run: ./stop.sh, irreversible: true, timeout: 5s}\n"
			   "    health: {command: ./h.sh}\n"
			   "    variables: {A: '1'}\n"
			   "    environments:\n"
			   "      staging:\n"
			   "      qa: {}\n"
			   "      fleet:\n"
			   "        instances: {i1: {PORT: '9001'}, i2: {PORT: '9002'}, i3: {}}\n"
			   "        rolling: {batch: 3, max_unavailable: 2}\n"
			   "      prod:\n"
			   "        strategy: canary\n"
			   "        slots: {left: {PORT: '8081'}, right: {PORT: '8082'}}\n"
			   "        canary:\n"
			   "          steps: [10, 50]\n"
			   "          pause: 30s\n"
			   "          analysis: {command: ./rate.sh, max: 0.01, no_data: pause}\n"
			   "        hooks: {deploy: ./other.sh}\n"
			   "        deploy_to: /abs/prod\n"
			   "        keep_releases: 7\n"
			   "        health:\n"
			   "          - {http: 'http://127.0.0.1:${PORT}/health', status: 204, body: ok, timeout: 1s,"
			   " retries: 10, interval: 500ms}\n"
			   "          - {tcp: '127.0.0.1:${PORT}'}\n"
			   "        variables: {B: '2'}\n"
			   "        protected: true\n"
			   "        requires: {pipeline: ci}\n"
			   "        rollback: {strategy: gradual, on_failure: manual}\n"
			   "      bg:\n"
			   "        blue_green: {scale_down_delay: 0s}\n"
			   "        canary: {steps: [20]}\n"
			   "        strategy: canary\n";

static void test_good(void **state)
{
	char *problems, *want;
	struct cdx_project *pr = load(good, &problems);
	const struct cdx_env *e;
	(void)state;
	if (!pr)
		fail_msg("%s", problems);
	free(problems);

	/* staging: nothing but the application's defaults */
	e = env_of(pr, "web", "staging");
	assert_string_equal(e->app->name, "web");
	assert_int_equal(e->line, 11);
	assert_int_equal(e->col, 7);
	assert_int_equal(e->strategy, CDX_STRATEGY_BLUE_GREEN);
	assert_false(e->instances);
	assert_int_equal(e->n_targets, 2);
	assert_string_equal(e->targets[0].name, "blue");
	assert_string_equal(e->targets[1].name, "green");
	assert_string_equal(e->hooks[CDX_HOOK_DEPLOY].cmd, "./d.sh");
	assert_false(e->hooks[CDX_HOOK_DEPLOY].irreversible);
	assert_int_equal(e->hooks[CDX_HOOK_DEPLOY].timeout_ms, 600000);
	assert_string_equal(e->hooks[CDX_HOOK_STOP].cmd, "./stop.sh");
	assert_true(e->hooks[CDX_HOOK_STOP].irreversible);
	assert_int_equal(e->hooks[CDX_HOOK_STOP].timeout_ms, 5000);
	assert_null(e->hooks[CDX_HOOK_SWITCH].cmd);
	assert_int_equal(e->n_checks, 1);
	assert_int_equal(e->checks[0].kind, CDX_CHECK_COMMAND);
	assert_string_equal(e->checks[0].target, "./h.sh");
	assert_int_equal(e->checks[0].timeout_ms, 2000);
	assert_int_equal(e->checks[0].interval_ms, 1000);
	assert_int_equal(e->checks[0].attempts, 3);
	assert_string_equal(var(e->vars, e->n_vars, "A"), "1");
	want = cdx_xasprintf("%s/rel/web", dir);
	assert_string_equal(e->deploy_to, want);
	free(want);
	assert_int_equal(e->keep_releases, 3);
	assert_false(e->protected);
	assert_null(e->requires_pipeline);
	assert_int_equal(e->rollback, CDX_ROLLBACK_IMMEDIATE);
	assert_true(e->auto_rollback);
	assert_int_equal(e->scale_down_delay_ms, 30000);
	assert_int_equal(e->n_steps, 0);

	/* qa: {} is the same as nothing */
	e = env_of(pr, "web", "qa");
	assert_int_equal(e->n_targets, 2);
	assert_int_equal(e->keep_releases, 3);
	assert_string_equal(e->hooks[CDX_HOOK_DEPLOY].cmd, "./d.sh");

	/* fleet: instances mean rolling; batch at most max_unavailable */
	e = env_of(pr, "web", "fleet");
	assert_int_equal(e->strategy, CDX_STRATEGY_ROLLING);
	assert_true(e->instances);
	assert_int_equal(e->n_targets, 3);
	assert_string_equal(e->targets[1].name, "i2");
	assert_string_equal(var(e->targets[1].vars, e->targets[1].n_vars, "PORT"), "9002");
	assert_int_equal(e->targets[2].n_vars, 0);
	assert_int_equal(e->batch, 2);
	assert_int_equal(e->max_unavailable, 2);

	/* prod: everything said */
	e = env_of(pr, "web", "prod");
	assert_int_equal(e->strategy, CDX_STRATEGY_CANARY);
	assert_int_equal(e->n_targets, 2);
	assert_string_equal(e->targets[0].name, "left");
	assert_string_equal(var(e->targets[0].vars, e->targets[0].n_vars, "PORT"), "8081");
	assert_int_equal(e->n_steps, 3); /* the last step is always 100 */
	assert_int_equal(e->steps[0], 10);
	assert_int_equal(e->steps[1], 50);
	assert_int_equal(e->steps[2], 100);
	assert_int_equal(e->pause_ms, 30000);
	assert_string_equal(e->analysis_cmd, "./rate.sh");
	assert_true(e->has_max);
	assert_false(e->has_min);
	assert_true(e->analysis_max > 0.0099 && e->analysis_max < 0.0101);
	assert_int_equal(e->nodata, CDX_NODATA_PAUSE);
	assert_string_equal(e->hooks[CDX_HOOK_DEPLOY].cmd, "./other.sh");
	assert_string_equal(e->hooks[CDX_HOOK_STOP].cmd, "./stop.sh"); /* the rest inherited */
	assert_string_equal(e->deploy_to, "/abs/prod");
	assert_int_equal(e->keep_releases, 7);
	assert_int_equal(e->n_checks, 2);
	assert_int_equal(e->checks[0].kind, CDX_CHECK_HTTP);
	assert_string_equal(e->checks[0].target, "http://127.0.0.1:${PORT}/health");
	assert_int_equal(e->checks[0].status, 204);
	assert_string_equal(e->checks[0].body, "ok");
	assert_int_equal(e->checks[0].timeout_ms, 1000);
	assert_int_equal(e->checks[0].attempts, 10);
	assert_int_equal(e->checks[0].interval_ms, 500);
	assert_int_equal(e->checks[1].kind, CDX_CHECK_TCP);
	assert_string_equal(var(e->vars, e->n_vars, "B"), "2");
	assert_null(var(e->vars, e->n_vars, "A")); /* variables: replaces the application's */
	assert_true(e->protected);
	assert_string_equal(e->requires_pipeline, "ci");
	assert_int_equal(e->rollback, CDX_ROLLBACK_GRADUAL);
	assert_false(e->auto_rollback);

	e = env_of(pr, "web", "bg");
	assert_int_equal(e->scale_down_delay_ms, 0);
	assert_int_equal(e->n_steps, 2);
	assert_int_equal(e->steps[1], 100);

	/* get_config */
	{
		cJSON *c = cdx_env_config(env_of(pr, "web", "prod"));
		cJSON *steps = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "canary"), "steps");
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(c, "strategy")), "canary");
		assert_int_equal(cJSON_GetArraySize(steps), 3);
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "protected")));
		assert_string_equal(
		    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "rollback"), "on_failure")), "manual");
		cJSON_Delete(c);
	}
	cdx_project_free(pr);
}

/* a relative path to cdx.yml still gives an absolute release root */
static void test_relative_path(void **state)
{
	char cwd[PATH_MAX], *problems, *want;
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_project *pr;
	const struct cdx_env *e;
	char *sub = cdx_xasprintf("%s/sub", dir);
	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(cdx_mkdirs(sub), 0);
	free(fx_write(sub, "cdx.yml", "applications:\n  web:\n    environments:\n      staging:\n"));
	assert_int_equal(chdir(dir), 0);
	pr = cdx_project_load("sub/cdx.yml", d);
	assert_int_equal(chdir(cwd), 0);
	problems = cdx_diags_count(d) ? cdx_xstrdup(cdx_diags_get(d, 0)->msg) : NULL;
	if (!pr)
		fail_msg("%s", problems);
	e = env_of(pr, "web", "staging");
	want = cdx_xasprintf("%s/.deploy/web/staging", sub);
	assert_string_equal(e->deploy_to, want);
	free(want);
	free(problems);
	free(sub);
	cdx_project_free(pr);
	cdx_diags_free(d);
}

static void test_find(void **state)
{
	char *problems;
	struct cdx_project *pr = load(good, &problems);
	struct cdx_error err = {0};
	const struct cdx_apps *apps;
	(void)state;
	assert_non_null(pr);
	free(problems);
	apps = cdx_project_apps(pr);
	assert_null(cdx_apps_find(apps, "wep", "prod", &err));
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_string_equal(err.msg, "unknown application 'wep' (did you mean 'web'?)");
	assert_null(cdx_apps_find(apps, "web", "prd", &err));
	assert_string_equal(err.msg, "unknown environment 'prd' of application 'web' (did you mean 'prod'?)");
	assert_null(cdx_apps_find(apps, "web", "zzzzzzzzzzzzzzzz", &err));
	assert_string_equal(err.msg, "unknown environment 'zzzzzzzzzzzzzzzz' of application 'web'");
	cdx_project_free(pr);

	pr = load("state: file:.cdx\n", &problems);
	assert_non_null(pr);
	free(problems);
	assert_null(cdx_apps_find(cdx_project_apps(pr), "web", "prod", &err));
	assert_string_equal(err.msg, "unknown application 'web': the project file declares no applications");
	cdx_project_free(pr);
}

#define HEAD "applications:\n  web:\n    environments:\n      prod:\n"

static void test_bad(void **state)
{
	(void)state;
	expect_problems(HEAD "        strategy: blue_gren\n",
			"5:19: unknown strategy 'blue_gren' (did you mean 'blue_green'?)\n");
	expect_problems(HEAD "        stratgy: canary\n",
			"5:9: unknown key 'stratgy' in an environment (did you mean 'strategy'?)\n");
	expect_problems(HEAD "        strategy: rolling\n",
			"4:7: environment 'prod' uses rolling, which needs instances\n");
	expect_problems(HEAD "        strategy: canary\n",
			"4:7: environment 'prod' uses canary, which needs canary: {steps: [...]}\n");
	expect_problems(HEAD "        instances: {a: {}}\n        strategy: blue_green\n",
			"4:7: environment 'prod' uses blue_green, which needs slots, not instances\n");
	expect_problems(HEAD "        slots: {a: {}, b: {}, c: {}}\n",
			"5:16: blue_green needs exactly two slots, not 3\n");
	expect_problems(HEAD "        slots: {a: {}}\n        instances: {b: {}}\n",
			"6:20: an environment has slots or instances, not both\n");
	expect_problems(HEAD "        instances: {}\n", "5:20: instances must name 1 to 256 instances\n");
	expect_problems(HEAD "        instances: {1a: {}}\n",
			"5:21: instances name '1a' is invalid: use A-Z a-z 0-9 _, not starting with a digit\n");
}

static void test_bad_canary(void **state)
{
	(void)state;
	expect_problems(HEAD "        strategy: canary\n"
			     "        canary:\n"
			     "          steps: [10, 5, 100, 0]\n",
			"7:23: canary steps must ascend: 5 after 10\n"
			"7:31: a canary step must be a whole number from 1 to 100, not '0'\n");
	expect_problems(HEAD "        strategy: canary\n"
			     "        canary:\n"
			     "          steps: [50]\n"
			     "          analysis: {command: ./x.sh}\n",
			"8:21: canary analysis needs max or min\n");
	expect_problems(HEAD "        strategy: canary\n"
			     "        canary:\n"
			     "          steps: [50]\n"
			     "          analysis: {max: 1, no_data: paws}\n",
			"8:21: canary analysis needs a command\n"
			"8:39: unknown no_data policy 'paws' (did you mean 'pass'?)\n");
	expect_problems(HEAD "        strategy: canary\n"
			     "        canary: {steps: [50], pause: soon}\n",
			"6:38: bad duration 'soon' for canary pause: expected a duration such as 90, 0.5, 500ms, 30s, 10m or 1h\n");
}

static void test_bad_hooks_health(void **state)
{
	(void)state;
	expect_problems(HEAD "        hooks:\n"
			     "          deploy: {irreversible: true}\n"
			     "          strat: ./x.sh\n",
			"6:19: hook 'deploy' needs 'run', the command\n"
			"7:11: unknown key 'strat' in hooks (did you mean 'start'?)\n");
	expect_problems(HEAD "        health: {http: 'http://x/', tcp: 'x:1'}\n",
			"5:42: a health check has one of http, tcp or command, not several\n");
	expect_problems(HEAD "        health: {http: 'ftp://x/'}\n",
			"5:24: http check 'ftp://x/' is not an http:// or https:// URL\n");
	expect_problems(HEAD "        health: [{tcp: localhost}, {status: 200}]\n",
			"5:24: tcp check 'localhost' is not HOST:PORT\n"
			"5:36: a health check needs one of http, tcp or command\n");
	expect_problems(HEAD "        health: {command: ./x.sh, status: 200, retries: 0}\n",
			"5:43: status applies to http checks only\n"
			"5:57: retries must be a whole number from 1 to 1000, not '0'\n");
	expect_problems(HEAD "        variables: {CDX_X: '1', ok: [1]}\n",
			"5:21: variable name 'CDX_X' in variables is invalid: use A-Z a-z 0-9 _, not starting with a "
			"digit or CDX_\n"
			"5:37: variable 'ok' in variables must be a string, not a list\n");
}

static void test_bad_other(void **state)
{
	(void)state;
	expect_problems("applications:\n  web:\n    keep_releases: 3\n",
			"2:3: application 'web' needs environments\n");
	expect_problems(HEAD "        keep_releases: 0\n",
			"5:24: keep_releases must be a whole number from 1 to 1000, not '0'\n");
	expect_problems(HEAD "        requires: {pipe: ci}\n",
			"5:19: requires needs a pipeline\n"
			"5:20: unknown key 'pipe' in requires\n");
	expect_problems(HEAD "        rollback: {strategy: instant, on_failure: manul}\n",
			"5:30: unknown rollback strategy 'instant'\n"
			"5:51: unknown on_failure policy 'manul' (did you mean 'manual'?)\n");
	expect_problems(HEAD "        protected: yes please\n",
			"5:20: protected must be true or false, not 'yes please'\n");
	expect_problems(HEAD "        rolling: {batch: 0}\n        instances: {a: {}}\n",
			"5:26: batch must be a whole number from 1 to 256, not '0'\n");
	expect_problems("applications:\n  web:\n    environments:\n      'pr od': {}\n",
			"4:7: environment name 'pr od' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -\n");
	expect_problems("applications: [web]\n", "1:15: applications must be a mapping, not a list\n");
	/* several problems in one pass, in file order */
	expect_problems("applications:\n"
			"  web:\n"
			"    environments:\n"
			"      a: {strategy: nope}\n"
			"      b: {keep_releases: x}\n",
			"4:21: unknown strategy 'nope'\n"
			"5:26: keep_releases must be a whole number from 1 to 1000, not 'x'\n");
}

static void test_version_valid(void **state)
{
	char longest[130];
	(void)state;
	assert_true(cdx_version_valid("1.4.2"));
	assert_true(cdx_version_valid("v1+build.5"));
	assert_true(cdx_version_valid("a_b-c"));
	assert_true(cdx_version_valid("0"));
	assert_false(cdx_version_valid(""));
	assert_false(cdx_version_valid(".hidden"));
	assert_false(cdx_version_valid("-rf"));
	assert_false(cdx_version_valid(".."));
	assert_false(cdx_version_valid("a/b"));
	assert_false(cdx_version_valid("a b"));
	assert_false(cdx_version_valid("a$b"));
	assert_false(cdx_version_valid("1.0\n"));
	assert_false(cdx_version_valid("\xc3\xa4"));
	memset(longest, 'x', 128);
	longest[128] = '\0';
	assert_true(cdx_version_valid(longest));
	longest[128] = 'x';
	longest[129] = '\0';
	assert_false(cdx_version_valid(longest));
}

static void test_names(void **state)
{
	enum cdx_strategy_kind k;
	enum cdx_rollback_kind r;
	(void)state;
	assert_int_equal(cdx_strategy_parse("rolling", &k), 0);
	assert_int_equal(k, CDX_STRATEGY_ROLLING);
	assert_int_equal(cdx_strategy_parse("Rolling", &k), -1);
	assert_int_equal(cdx_rollback_parse("gradual", &r), 0);
	assert_int_equal(r, CDX_ROLLBACK_GRADUAL);
	assert_int_equal(cdx_rollback_parse("", &r), -1);
	assert_string_equal(cdx_strategy_name(CDX_STRATEGY_BLUE_GREEN), "blue_green");
	assert_string_equal(cdx_rollback_name(CDX_ROLLBACK_BLUE_GREEN), "blue_green");
	assert_string_equal(cdx_hook_name(CDX_HOOK_CLEANUP), "cleanup");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),	     cmocka_unit_test(test_relative_path),
	    cmocka_unit_test(test_find),	     cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_bad_canary),	     cmocka_unit_test(test_bad_hooks_health),
	    cmocka_unit_test(test_bad_other),	     cmocka_unit_test(test_version_valid),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests_name("environment", tests, setup, teardown);
}
