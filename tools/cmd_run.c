/* cmd_run.c — `cdx run`: load a pipeline and run it, or with --dry-run
 * print its plan (start order by the ordering rule, needs, critical path,
 * maximum parallelism, predicted makespan). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/duration.h"
#include "base/util.h"

struct run_opts {
	const char *target;
	unsigned jobs;
	bool dry_run, json, keep_going;
	const char **vars, **only; /* NULL-terminated */
	size_t n_vars, n_only, cap_vars, cap_only;
	enum cdx_output output;
	long grace_ms; /* -1 = default */
	bool optimize, shuffle;
	enum cdx_opt_level level;      /* with optimize */
	unsigned long long seed;       /* with shuffle */
};

/* the run a signal handler cancels: the tool runs one at a time */

static void print_plan(const cJSON *plan)
{
	const cJSON *order = cJSON_GetObjectItem(plan, "order"), *it, *cp = cJSON_GetObjectItem(plan, "critical_path");
	int i = 0, n = cJSON_GetArraySize(order);
	printf("pipeline %s: %d jobs in %d stages, %d levels, max parallelism %d\n",
	       cJSON_GetObjectItem(plan, "pipeline")->valuestring, n,
	       cJSON_GetObjectItem(plan, "stages")->valueint, cJSON_GetObjectItem(plan, "levels")->valueint,
	       cJSON_GetObjectItem(plan, "max_parallelism")->valueint);
	printf("start order on %d workers (longest remaining path first):\n",
	       cJSON_GetObjectItem(plan, "workers")->valueint);
	cJSON_ArrayForEach(it, order)
	{
		const cJSON *needs = cJSON_GetObjectItem(it, "needs"), *nd;
		struct cdx_buf b = {0};
		cJSON_ArrayForEach(nd, needs)
		{
			if (b.len)
				cdx_buf_adds(&b, ", ");
			cdx_buf_adds(&b, nd->valuestring);
		}
		printf("%5d  %-32s at %7.2fs  path %7.2fs  needs: %s\n", ++i,
		       cJSON_GetObjectItem(it, "job")->valuestring, cJSON_GetObjectItem(it, "start_s")->valuedouble,
		       cJSON_GetObjectItem(it, "priority_s")->valuedouble, b.len ? b.data : "-");
		cdx_buf_free(&b);
	}
	printf("critical path (%d jobs, %.2fs):", cJSON_GetArraySize(cp),
	       cJSON_GetObjectItem(plan, "critical_path_s")->valuedouble);
	i = 0;
	cJSON_ArrayForEach(it, cp) printf("%s %s", i++ ? " ->" : "", it->valuestring);
	printf("\ntotal work %.2fs; lower bound %.2fs; predicted makespan %.2fs\n",
	       cJSON_GetObjectItem(plan, "total_work_s")->valuedouble,
	       cJSON_GetObjectItem(plan, "lower_bound_s")->valuedouble,
	       cJSON_GetObjectItem(plan, "predicted_makespan_s")->valuedouble);
}

static int parse(int argc, char **argv, struct run_opts *o)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--dry-run") == 0 || strcmp(a, "-n") == 0) {
			o->dry_run = true;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "-k") == 0 || strcmp(a, "--keep-going") == 0) {
			o->keep_going = true;
		} else if (strcmp(a, "--var") == 0 || strncmp(a, "--var=", 6) == 0) {
			const char *v = cli_option_value("run", argc, argv, &i, "--var");
			if (!v)
				return CDX_EUSAGE;
			if (!strchr(v, '=') || v[0] == '=')
				return cli_usage_error("run", "--var needs K=V, not '%s'", v);
			cdx_grow(&o->vars, &o->cap_vars, o->n_vars + 2, sizeof(char *));
			o->vars[o->n_vars++] = v;
			o->vars[o->n_vars] = NULL;
		} else if (strcmp(a, "--only") == 0 || strncmp(a, "--only=", 7) == 0) {
			const char *v = cli_option_value("run", argc, argv, &i, "--only");
			if (!v)
				return CDX_EUSAGE;
			cdx_grow(&o->only, &o->cap_only, o->n_only + 2, sizeof(char *));
			o->only[o->n_only++] = v;
			o->only[o->n_only] = NULL;
		} else if (strcmp(a, "--grace") == 0 || strncmp(a, "--grace=", 8) == 0) {
			const char *v = cli_option_value("run", argc, argv, &i, "--grace"), *why;
			int64_t ms;
			if (!v)
				return CDX_EUSAGE;
			if (cdx_duration_parse(v, &ms, &why) < 0)
				return cli_usage_error("run", "--grace %s: %s", v, why);
			o->grace_ms = (long)ms;
		} else if (strcmp(a, "--optimize") == 0 || strncmp(a, "--optimize=", 11) == 0) {
			const char *v = cli_option_value("run", argc, argv, &i, "--optimize");
			if (!v)
				return CDX_EUSAGE;
			if (cdx_opt_level_parse(v, &o->level) < 0)
				return cli_usage_error("run", "--optimize must be conservative, moderate or aggressive, not '%s'",
						       v);
			o->optimize = true;
		} else if (strcmp(a, "--shuffle") == 0 || strncmp(a, "--shuffle=", 10) == 0) {
			const char *v = cli_option_value("run", argc, argv, &i, "--shuffle");
			char *end;
			if (!v)
				return CDX_EUSAGE;
			errno = 0;
			o->seed = strtoull(v, &end, 10);
			if (!*v || *end || errno || v[0] == '-' || v[0] == '+')
				return cli_usage_error("run", "--shuffle needs a whole number as its seed, not '%s'", v);
			o->shuffle = true;
		} else if (strcmp(a, "--output") == 0 || strncmp(a, "--output=", 9) == 0) {
			const char *v = cli_option_value("run", argc, argv, &i, "--output");
			if (!v)
				return CDX_EUSAGE;
			if (strcmp(v, "prefix") == 0)
				o->output = CDX_OUTPUT_PREFIX;
			else if (strcmp(v, "group") == 0)
				o->output = CDX_OUTPUT_GROUP;
			else if (strcmp(v, "quiet") == 0)
				o->output = CDX_OUTPUT_QUIET;
			else
				return cli_usage_error("run", "--output must be prefix, group or quiet, not '%s'", v);
		} else if (strcmp(a, "--jobs") == 0 || strncmp(a, "--jobs=", 7) == 0 || (a[0] == '-' && a[1] == 'j')) {
			const char *v = a[1] == 'j' && a[2] ? a + 2
					: cli_option_value("run", argc, argv, &i, a[1] == 'j' ? "-j" : "--jobs");
			char *end;
			long n;
			if (!v)
				return CDX_EUSAGE;
			n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 4096)
				return cli_usage_error("run", "-j needs a number from 1 to 4096, not '%s'", v);
			o->jobs = (unsigned)n;
		} else if (a[0] == '-' && a[1]) {
			return cli_usage_error("run", "unknown option %s", a);
		} else if (!o->target) {
			o->target = a;
		} else {
			return cli_usage_error("run", "unexpected argument %s", a);
		}
	}
	if (!o->target)
		return cli_usage_error("run", "name a pipeline file or a registered pipeline");
	if (o->shuffle && o->dry_run)
		return cli_usage_error("run", "--shuffle orders a real run; the plan of --dry-run has no random order");
	return 0;
}

static int execute(struct cli *g, struct cdx_pipeline *p, const struct run_opts *o)
{
	struct cdx_run_options ro;
	struct cdx_error err = {0};
	struct cdx_run *r;
	int rc;
	memset(&ro, 0, sizeof(ro));
	ro.jobs = o->jobs;
	ro.keep_going = o->keep_going;
	ro.vars = o->vars;
	ro.only = o->only;
	ro.output = o->output;
	ro.json = o->json;
	ro.state = cli_state(g);
	if (!ro.state)
		return CDX_EUSAGE;
	ro.grace_ms = o->grace_ms;
	ro.shuffle = o->shuffle;
	ro.shuffle_seed = o->seed;
	ro.out = stdout;
	ro.tty = isatty(STDOUT_FILENO);
	r = cdx_run_new(p, &ro, &err);
	if (!r) {
		cli_error("run: %s", err.msg);
		return err.code ? err.code : CDX_EUSAGE;
	}
	/* no SA_RESTART: the runner's wait must see EINTR and look at the flag */
	rc = cli_execute("run", r);
	cdx_run_free(r);
	/* a run ended: the moment alerts on its pipeline may change */
	if (rc == 0 || rc == CDX_EFAILED || rc == CDX_EINTR)
		cli_evaluate_alerts(g, cdx_pipeline_name(p));
	return rc;
}

/* --optimize: replace *P by the pipeline as cdx_optimize rewrites it (the
 * same jobs, the same name and path, so history and records match) */
static int optimized(struct cli *g, struct cdx_pipeline **p, const struct run_opts *o)
{
	struct cdx_optimize_options oo;
	struct cdx_error err = {0};
	struct cdx_diags *d;
	struct cdx_pipeline *q;
	const char *text;
	cJSON *r;
	memset(&oo, 0, sizeof(oo));
	oo.level = o->level;
	oo.workers = o->jobs;
	oo.state = cli_state(g);
	if (!oo.state)
		return CDX_EUSAGE;
	r = cdx_optimize(*p, &oo, &err);
	if (!r) {
		cli_error("run: --optimize %s: %s", cdx_opt_level_name(o->level), err.msg);
		return err.code ? err.code : CDX_EFAILED;
	}
	text = cJSON_GetStringValue(cJSON_GetObjectItem(r, "yaml"));
	d = cdx_diags_new();
	q = cdx_pipeline_load_mem(cdx_pipeline_path(*p), text, strlen(text), d);
	if (!q) {
		cli_print_diags(d);
		cdx_diags_free(d);
		cJSON_Delete(r);
		return CDX_EFAILED;
	}
	cdx_diags_free(d);
	fprintf(stderr, "cdx run: --optimize %s: %d edge%s rewritten (%d unsafe); predicted makespan on %d workers "
			"%.2fs -> %.2fs\n",
		cdx_opt_level_name(o->level), cJSON_GetObjectItem(r, "edges_rewritten")->valueint,
		cJSON_GetObjectItem(r, "edges_rewritten")->valueint == 1 ? "" : "s",
		cJSON_GetObjectItem(r, "edges_unsafe")->valueint, cJSON_GetObjectItem(r, "workers")->valueint,
		cJSON_GetObjectItem(r, "predicted_makespan_before_s")->valuedouble,
		cJSON_GetObjectItem(r, "predicted_makespan_after_s")->valuedouble);
	cJSON_Delete(r);
	cdx_pipeline_free(*p);
	*p = q;
	return 0;
}

int cmd_run(struct cli *g, int argc, char **argv)
{
	struct run_opts o = {0};
	o.grace_ms = -1;
	struct cdx_diags *d;
	struct cdx_pipeline *p;
	char *path = NULL;
	int rc = parse(argc, argv, &o);
	if (rc)
		goto out;
	rc = cli_resolve_pipeline(g, "run", o.target, &path);
	if (rc)
		goto out;
	d = cdx_diags_new();
	p = cdx_pipeline_load(path, d);
	if (!p) {
		cli_print_diags(d);
		cdx_diags_free(d);
		rc = CDX_EUSAGE;
		goto out;
	}
	cdx_diags_free(d);
	if (o.optimize) {
		rc = optimized(g, &p, &o);
		if (rc) {
			cdx_pipeline_free(p);
			goto out;
		}
	}
	if (o.dry_run) {
		const char *state = cli_state(g);
		cJSON *plan;
		if (!state) {
			cdx_pipeline_free(p);
			rc = CDX_EUSAGE;
			goto out;
		}
		plan = cdx_pipeline_plan_history(p, o.jobs, state);
		if (o.json) {
			char *s = cJSON_Print(plan);
			puts(s);
			free(s);
		} else {
			print_plan(plan);
		}
		cJSON_Delete(plan);
		rc = 0;
	} else {
		fflush(stdout);
		rc = execute(g, p, &o);
	}
	cdx_pipeline_free(p);
out:
	free(path);
	free(o.vars);
	free(o.only);
	return rc;
}
