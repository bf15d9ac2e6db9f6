/* query_funcs.c — the functions of cdx.so that read the state store or
 * name a report: $(cdx-runs PIPELINE) and $(cdx-health PIPELINE) answer
 * in-process while make reads the makefile; $(cdx-report ...) expands to
 * the cdx command line that writes the report in a recipe. */
#include <cjson/cJSON.h>
#include <gnumake.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/text.h"
#include "base/json.h"
#include "cdx.h"
#include "gmk-plugin/cdx_plugin.h"

/* the pipeline name ARG, trimmed (caller frees); NULL after stopping make */
static char *pipeline_name(const char *func, const char *arg)
{
	char *name = cdx_gmk_trim(arg);
	if (cdx_name_valid(name))
		return name;
	cdx_gmk_failf(func, "'%s' is not a pipeline name", name);
	free(name);
	return NULL;
}

/* $(cdx-runs PIPELINE): ids of its recent runs, newest first */
static char *fn_runs(const char *nm, unsigned int argc, char **argv)
{
	char *name = pipeline_name(nm, argv[0]), *state, *r;
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	cJSON *runs, *it;
	(void)argc;
	if (!name)
		return NULL;
	state = cdx_gmk_state_url();
	runs = cdx_runs_list(state, name, 10, &err);
	free(state);
	free(name);
	if (!runs) {
		cdx_gmk_fail(nm, err.msg);
		return NULL;
	}
	cJSON_ArrayForEach(it, runs)
	{
		if (b.len)
			cdx_buf_addc(&b, ' ');
		cdx_buf_adds(&b, cdx_jsn(it, "id"));
	}
	cJSON_Delete(runs);
	r = cdx_gmk_give(b.data ? b.data : "");
	cdx_buf_free(&b);
	return r;
}

/* ---- $(cdx-health PIPELINE) and $(cdx-report ...) ------------------------ */

/* $(cdx-health PIPELINE): healthy, degraded, failing or unknown, computed
 * in-process from the store with cdx.yml's thresholds; read only (alerts
 * are evaluated by runs and by cdx health, not by reading a makefile) */
static char *fn_health(const char *nm, unsigned int argc, char **argv)
{
	char *name = pipeline_name(nm, argv[0]), *state, *r;
	struct cdx_error err = {0};
	struct cdx_project *pr;
	cJSON *h;
	(void)argc;
	if (!name)
		return NULL;
	state = cdx_gmk_state_url();
	pr = cdx_gmk_project();
	h = cdx_monitor_health(state, name, pr, 0, &err);
	cdx_project_free(pr);
	free(state);
	free(name);
	if (!h) {
		cdx_gmk_fail(nm, err.msg);
		return NULL;
	}
	r = cdx_gmk_give(cdx_jsn(h, "status"));
	cJSON_Delete(h);
	return r;
}


/* $(cdx-report PIPELINE[,TYPE[,FORMAT[,FILE]]]): the cdx command line that
 * writes the report, for a recipe (make -n shows it; nothing is read
 * while makefiles are parsed).  TYPE defaults to summary; FORMAT to the
 * one FILE's extension names (.html, .txt, .json), else json; without
 * FILE the report goes to standard output. */
static char *fn_report(const char *nm, unsigned int argc, char **argv)
{
	static const char *const types[] = {"summary", "detailed", "performance"};
	static const char *const formats[] = {"json", "html", "text"};
	char *a[4] = {NULL, NULL, NULL, NULL}, *r = NULL, *msg = NULL;
	const char *format;
	struct cdx_buf b = {0};
	unsigned i;
	size_t k;
	for (i = 0; i < 4; i++)
		a[i] = cdx_gmk_trim(i < argc ? argv[i] : "");
	if (!cdx_name_valid(a[0])) {
		msg = cdx_xasprintf("'%s' is not a pipeline name", a[0]);
		goto out;
	}
	if (!*a[1]) {
		free(a[1]);
		a[1] = cdx_xstrdup("summary");
	}
	for (k = 0; k < CDX_ARRAY_LEN(types) && strcmp(a[1], types[k]) != 0; k++)
		;
	if (k == CDX_ARRAY_LEN(types)) {
		msg = cdx_xasprintf("report type '%s' is not summary, detailed or performance", a[1]);
		goto out;
	}
	format = a[2];
	if (!*format) {
		const char *dot = strrchr(a[3], '.');
		format = dot && strcmp(dot, ".html") == 0  ? "html"
			 : dot && strcmp(dot, ".txt") == 0 ? "text"
							   : "json";
	}
	for (k = 0; k < CDX_ARRAY_LEN(formats) && strcmp(format, formats[k]) != 0; k++)
		;
	if (k == CDX_ARRAY_LEN(formats)) {
		msg = cdx_xasprintf("report format '%s' is not json, html or text", format);
		goto out;
	}
	cdx_shq(&b, cdx_gmk_tool());
	cdx_buf_adds(&b, " report ");
	cdx_shq(&b, a[0]);
	cdx_buf_printf(&b, " --type %s --format %s", a[1], format);
	if (*a[3]) {
		cdx_buf_adds(&b, " -o ");
		cdx_shq(&b, a[3]);
	}
	r = cdx_gmk_give(b.data);
out:
	if (msg)
		cdx_gmk_fail(nm, msg);
	free(msg);
	cdx_buf_free(&b);
	for (i = 0; i < 4; i++)
		free(a[i]);
	return r;
}

void cdx_gmk_query_setup(void)
{
	gmk_add_function("cdx-runs", fn_runs, 1, 1, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-health", fn_health, 1, 1, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-report", fn_report, 1, 4, GMK_FUNC_DEFAULT);
}
