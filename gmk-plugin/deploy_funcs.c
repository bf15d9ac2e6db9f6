/* deploy_funcs.c — the deployment functions of cdx.so.
 *
 * $(cdx-deploy APP,ENV,VERSION[,STRATEGY]) and $(cdx-rollback APP,ENV
 * [,STRATEGY[,VERSION]]) are checked when make expands them — the project
 * file must load and declare APP and ENV, the version and strategy must be
 * valid — and expand to the quoted command line of the installed cdx, so
 * that `make -n deploy` shows exactly what would run and the deployment
 * itself happens in the recipe, with make's output and exit status.
 * $(cdx-current APP,ENV) answers in-process: the version serving APP in
 * ENV, or nothing.
 */
#include <gnumake.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdx.h"
#include "gmk-plugin/cdx_plugin.h"
#include "project/environment.h"

/* check APP and ENV against the project file; false after stopping make */
static bool check_env(const char *func, const char *app, const char *env)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_project *pr = cdx_project_load(cdx_gmk_config_path(), d);
	struct cdx_error err = {0};
	bool ok = true;
	if (!pr) {
		struct cdx_buf b = {0};
		const struct cdx_diag *g = cdx_diags_count(d) ? cdx_diags_get(d, 0) : NULL;
		if (g)
			cdx_diag_format(g, &b);
		else
			cdx_buf_printf(&b, "cannot load %s", cdx_gmk_config_path());
		cdx_gmk_fail(func, b.data);
		cdx_buf_free(&b);
		ok = false;
	} else if (!cdx_apps_find(cdx_project_apps(pr), app, env, &err)) {
		cdx_gmk_fail(func, err.msg);
		ok = false;
	}
	cdx_project_free(pr);
	cdx_diags_free(d);
	return ok;
}

static char **trimmed(unsigned int argc, char **argv)
{
	char **a = cdx_xcalloc(argc + 1, sizeof(char *));
	unsigned i;
	for (i = 0; i < argc; i++)
		a[i] = cdx_gmk_trim(argv[i]);
	return a;
}

static void free_args(char **a, unsigned int argc)
{
	unsigned i;
	for (i = 0; i < argc; i++)
		free(a[i]);
	free(a);
}

/* the command line: TOOL VERB APP ENV [extra words...] */
static char *command(const char *verb, const char *app, const char *env, const char *const *extra, size_t n)
{
	struct cdx_buf b = {0};
	size_t i;
	char *r;
	cdx_gmk_shell_quote(&b, cdx_gmk_tool());
	cdx_buf_printf(&b, " %s ", verb);
	cdx_gmk_shell_quote(&b, app);
	cdx_buf_addc(&b, ' ');
	cdx_gmk_shell_quote(&b, env);
	for (i = 0; i < n; i++) {
		cdx_buf_addc(&b, ' ');
		if (extra[i][0] == '-')
			cdx_buf_adds(&b, extra[i]);
		else
			cdx_gmk_shell_quote(&b, extra[i]);
	}
	r = cdx_gmk_give(b.data);
	cdx_buf_free(&b);
	return r;
}

static bool need(const char *func, const char *what, const char *v)
{
	if (*v)
		return true;
	cdx_gmk_failf(func, "name %s", what);
	return false;
}

/* $(cdx-deploy APP,ENV,VERSION[,STRATEGY]) */
static char *fn_deploy(const char *nm, unsigned int argc, char **argv)
{
	char **a = trimmed(argc, argv), *r = NULL;
	const char *extra[3];
	size_t n = 0;
	enum cdx_strategy_kind k;
	if (!need(nm, "an application", a[0]) || !need(nm, "an environment", a[1]) ||
	    !need(nm, "a version (e.g. $(VERSION))", a[2]) || !check_env(nm, a[0], a[1]))
		goto out;
	if (!cdx_version_valid(a[2])) {
		cdx_gmk_failf(nm, "version '%s' is invalid: use 1 to 128 characters from A-Z a-z 0-9 _ . + -", a[2]);
		goto out;
	}
	extra[n++] = a[2];
	if (argc > 3 && *a[3]) {
		if (cdx_strategy_parse(a[3], &k) < 0) {
			cdx_gmk_failf(nm, "unknown strategy '%s' (use blue_green, canary or rolling)", a[3]);
			goto out;
		}
		extra[n++] = "--strategy";
		extra[n++] = a[3];
	}
	r = command("deploy", a[0], a[1], extra, n);
out:
	free_args(a, argc);
	return r;
}

/* $(cdx-rollback APP,ENV[,STRATEGY[,VERSION]]) */
static char *fn_rollback(const char *nm, unsigned int argc, char **argv)
{
	char **a = trimmed(argc, argv), *r = NULL;
	const char *extra[4];
	size_t n = 0;
	enum cdx_rollback_kind k;
	if (!need(nm, "an application", a[0]) || !need(nm, "an environment", a[1]) || !check_env(nm, a[0], a[1]))
		goto out;
	if (argc > 2 && *a[2]) {
		if (cdx_rollback_parse(a[2], &k) < 0) {
			cdx_gmk_failf(nm, "unknown rollback strategy '%s' (use immediate, gradual or blue_green)", a[2]);
			goto out;
		}
		extra[n++] = "--strategy";
		extra[n++] = a[2];
	}
	if (argc > 3 && *a[3]) {
		if (!cdx_version_valid(a[3])) {
			cdx_gmk_failf(nm, "version '%s' is invalid", a[3]);
			goto out;
		}
		extra[n++] = "--to";
		extra[n++] = a[3];
	}
	r = command("rollback", a[0], a[1], extra, n);
out:
	free_args(a, argc);
	return r;
}

/* $(cdx-current APP,ENV): the version serving, or nothing */
static char *fn_current(const char *nm, unsigned int argc, char **argv)
{
	char **a = trimmed(argc, argv), *r = NULL, *state = NULL, *v;
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	struct stat st;
	if (!need(nm, "an application", a[0]) || !need(nm, "an environment", a[1]) || !check_env(nm, a[0], a[1]))
		goto out;
	state = cdx_gmk_state_url();
	/* reading never creates a store: no state directory, nothing deployed */
	if (strncmp(state, "file:", 5) == 0 && stat(state + 5, &st) < 0) {
		r = cdx_gmk_give("");
		goto out;
	}
	if (cdx_orchestrator_open(cdx_gmk_config_path(), state, &o, &err) < 0) {
		cdx_gmk_fail(nm, err.msg);
		goto out;
	}
	v = cdx_current_version(o, a[0], a[1], &err);
	if (!v && err.code)
		cdx_gmk_fail(nm, err.msg);
	else
		r = cdx_gmk_give(v ? v : "");
	free(v);
out:
	cdx_orchestrator_free(o);
	free(state);
	free_args(a, argc);
	return r;
}

void cdx_gmk_deploy_setup(void)
{
	gmk_add_function("cdx-deploy", fn_deploy, 3, 4, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-rollback", fn_rollback, 2, 4, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-current", fn_current, 2, 2, GMK_FUNC_DEFAULT);
}
