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
#include "exec/decide.h"

struct run_opts {
	const char *target;
	unsigned jobs;
	bool dry_run, json, keep_going;
	const char **vars, **only, **play; /* NULL-terminated */
	size_t n_vars, n_only, cap_vars, cap_only, n_play, cap_play;
	enum cdx_output output;
	long grace_ms; /* -1 = default */
	bool optimize, shuffle, pool;
	enum cdx_opt_level level;      /* with optimize */
	unsigned long long seed;       /* with shuffle */
};

static void print_plan(const cJSON *plan)
{
	const cJSON *order = cJSON_GetObjectItem(plan, "order"), *it, *cp = cJSON_GetObjectItem(plan, "critical_path");
	int i = 0, n = cJSON_GetArraySize(order);
	cdx_text_printf(stdout, "pipeline %s: %d jobs in %d stages, %d levels, max parallelism %d\n",
			cJSON_GetObjectItem(plan, "pipeline")->valuestring, n,
			cJSON_GetObjectItem(plan, "stages")->valueint,
			cJSON_GetObjectItem(plan, "levels")->valueint,
			cJSON_GetObjectItem(plan, "max_parallelism")->valueint);
	cdx_text_printf(stdout, "start order on %d workers (longest remaining path first):\n",
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
		cdx_text_printf(stdout, "%5d  %-32s at %7.2fs  path %7.2fs  needs: %s\n", ++i,
				cJSON_GetObjectItem(it, "job")->valuestring,
				cJSON_GetObjectItem(it, "start_s")->valuedouble,
				cJSON_GetObjectItem(it, "priority_s")->valuedouble, b.len ? b.data : "-");
		cdx_buf_free(&b);
	}
	cdx_text_printf(stdout, "critical path (%d jobs, %.2fs):", cJSON_GetArraySize(cp),
			cJSON_GetObjectItem(plan, "critical_path_s")->valuedouble);
	i = 0;
	cJSON_ArrayForEach(it, cp) cdx_text_printf(stdout, "%s %s", i++ ? " ->" : "", it->valuestring);
	cdx_text_printf(stdout, "\ntotal work %.2fs; lower bound %.2fs; predicted makespan %.2fs\n",
			cJSON_GetObjectItem(plan, "total_work_s")->valuedouble,
			cJSON_GetObjectItem(plan, "lower_bound_s")->valuedouble,
			cJSON_GetObjectItem(plan, "predicted_makespan_s")->valuedouble);
}

/* --dry-run: what `when:` and `rules:` decide for each job (decide.h),
 * with the --vars, into PLAN as "decisions": [{job, when, why}] for the
 * jobs with something to say; 0 or the exit status */
static int plan_decisions(cJSON *plan, const struct cdx_pipeline *p, const char *const *vars, const char *state)
{
	struct cdx_vars rv = {0};
	struct cdx_decide_ctx dc;
	struct cdx_job_decision *d;
	struct cdx_error err = {0};
	cJSON *arr;
	size_t i;
	for (i = 0; vars && vars[i]; i++) {
		const char *eq = strchr(vars[i], '=');
		struct cdx_var v = {0};
		if (!eq)
			continue; /* the run refuses it; a plan does not need it */
		v.name = cdx_xstrndup(vars[i], (size_t)(eq - vars[i]));
		v.value = cdx_xstrdup(eq + 1);
		CDX_PUSH(rv.v, rv.n, rv.cap, v);
	}
	memset(&dc, 0, sizeof(dc));
	dc.run_vars = &rv;
	dc.state = state;
	d = cdx_decide_jobs(p, &dc, &err);
	cdx_vars_free(&rv);
	if (!d) {
		cli_error("run: %s", err.msg);
		return err.code;
	}
	arr = cJSON_AddArrayToObject(plan, "decisions");
	for (i = 0; i < p->n_jobs; i++) {
		cJSON *o;
		if (!d[i].why[0])
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "job", p->jobs[i].id);
		cJSON_AddStringToObject(o, "when", cdx_when_name(d[i].when));
		cJSON_AddStringToObject(o, "why", d[i].why);
		cJSON_AddItemToArray(arr, o);
	}
	cdx_decisions_free(d, p->n_jobs);
	return 0;
}

static void print_decisions(const cJSON *plan)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(plan, "decisions"))
	{
		const char *when = cJSON_GetObjectItem(it, "when")->valuestring;
		cdx_text_printf(stdout, "%-10s %s (%s)\n",
				!strcmp(when, "never") ? "skipped" : !strcmp(when, "on_success") ? "runs" : when,
				cJSON_GetObjectItem(it, "job")->valuestring, cJSON_GetObjectItem(it, "why")->valuestring);
	}
}

enum { OPT_VAR = CLI_OPT_OWN, OPT_ONLY, OPT_GRACE, OPT_OPTIMIZE, OPT_SHUFFLE, OPT_OUTPUT, OPT_WORKERS, OPT_PLAY };

static const struct option run_longs[] = {
	CLI_OPTION_JSON,
	{"dry-run", no_argument, NULL, 'n'},
	{"keep-going", no_argument, NULL, 'k'},
	{"jobs", required_argument, NULL, 'j'},
	{"var", required_argument, NULL, OPT_VAR},
	{"only", required_argument, NULL, OPT_ONLY},
	{"grace", required_argument, NULL, OPT_GRACE},
	{"optimize", required_argument, NULL, OPT_OPTIMIZE},
	{"shuffle", required_argument, NULL, OPT_SHUFFLE},
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"workers", no_argument, NULL, OPT_WORKERS},
	{"play", required_argument, NULL, OPT_PLAY},
	{0},
};

/* append V to the NULL-terminated list *L of *N entries */
static void push(const char ***l, size_t *n, size_t *cap, const char *v)
{
	cdx_grow(l, cap, *n + 2, sizeof(char *));
	(*l)[(*n)++] = v;
	(*l)[*n] = NULL;
}

/* the value V of option OPT (one that takes a value) into O */
static int parse_value(struct run_opts *o, int opt, const char *v)
{
	const char *why;
	int64_t ms;
	long n;
	char *end;
	switch (opt) {
	case 'j':
		if (cli_number("run", "-j needs a number from 1 to 4096", v, 1, 4096, &n))
			return CDX_EUSAGE;
		o->jobs = (unsigned)n;
		return 0;
	case OPT_VAR:
		if (!strchr(v, '=') || v[0] == '=')
			return cli_usage_error("run", "--var needs K=V, not '%s'", v);
		push(&o->vars, &o->n_vars, &o->cap_vars, v);
		return 0;
	case OPT_ONLY:
		push(&o->only, &o->n_only, &o->cap_only, v);
		return 0;
	case OPT_PLAY:
		push(&o->play, &o->n_play, &o->cap_play, v);
		return 0;
	case OPT_GRACE:
		if (cdx_duration_parse(v, &ms, &why) < 0)
			return cli_usage_error("run", "--grace %s: %s", v, why);
		o->grace_ms = (long)ms;
		return 0;
	case OPT_OPTIMIZE:
		if (cdx_opt_level_parse(v, &o->level) < 0)
			return cli_usage_error("run", "--optimize must be conservative, moderate or aggressive, not '%s'", v);
		o->optimize = true;
		return 0;
	case OPT_SHUFFLE:
		errno = 0;
		o->seed = strtoull(v, &end, 10);
		if (!*v || *end || errno || v[0] == '-' || v[0] == '+')
			return cli_usage_error("run", "--shuffle needs a whole number as its seed, not '%s'", v);
		o->shuffle = true;
		return 0;
	default: /* OPT_OUTPUT */
		if (strcmp(v, "prefix") == 0)
			o->output = CDX_OUTPUT_PREFIX;
		else if (strcmp(v, "group") == 0)
			o->output = CDX_OUTPUT_GROUP;
		else if (strcmp(v, "quiet") == 0)
			o->output = CDX_OUTPUT_QUIET;
		else
			return cli_usage_error("run", "--output must be prefix, group or quiet, not '%s'", v);
		return 0;
	}
}

static int parse(struct cli *g, int argc, char **argv, struct run_opts *o)
{
	struct cli_opts p;
	int rc = 0;
	cli_opts_begin(&p, g, "run", argc, argv, "nkj:", run_longs, 1);
	while (!rc && cli_opts_next(&p)) {
		if (p.opt == 'n')
			o->dry_run = true;
		else if (p.opt == CLI_OPT_JSON)
			o->json = true;
		else if (p.opt == 'k')
			o->keep_going = true;
		else if (p.opt == OPT_WORKERS)
			o->pool = true;
		else
			rc = parse_value(o, p.opt, p.arg);
	}
	if (rc || p.status)
		return rc ? rc : p.status;
	if (!p.n_pos)
		return cli_usage_error("run", "name a pipeline file or a registered pipeline");
	o->target = argv[1];
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
	ro.play = o->play;
	ro.output = o->output;
	ro.json = o->json;
	ro.state = cli_state(g);
	if (!ro.state)
		return CDX_EUSAGE;
	ro.grace_ms = o->grace_ms;
	ro.shuffle = o->shuffle;
	ro.shuffle_seed = o->seed;
	ro.pool = o->pool;
	ro.out = stdout;
	ro.tty = isatty(STDOUT_FILENO);
	r = cdx_run_new(p, &ro, &err);
	if (!r) {
		cli_error("run: %s", err.msg);
		return err.code;
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
		return err.code;
	}
	text = cdx_jsn(r, "yaml");
	d = cdx_diags_new();
	q = cdx_pipeline_load_mem(cdx_pipeline_path(*p), text, strlen(text), d);
	if (!q) {
		cli_print_diags(d);
		cdx_diags_free(d);
		cJSON_Delete(r);
		return CDX_EFAILED;
	}
	cdx_diags_free(d);
	cdx_text_printf(
	    stderr,
	    "cdx run: --optimize %s: %d edge%s rewritten (%d unsafe); predicted makespan on %d workers "
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
	int rc = parse(g, argc, argv, &o);
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
		rc = plan_decisions(plan, p, o.vars, state);
		if (rc)
			;
		else if (o.json)
			cli_print_json(plan);
		else {
			print_plan(plan);
			print_decisions(plan);
		}
		cJSON_Delete(plan);
	} else {
		fflush(stdout);
		rc = execute(g, p, &o);
	}
	cdx_pipeline_free(p);
out:
	free(path);
	free(o.vars);
	free(o.only);
	free(o.play);
	return rc;
}
