/* cmd_optimize.c — `cdx optimize FILE [--level L] [--workers P] [-o OUT.yml]
 * [--json]`: the analysis of a pipeline's schedule from measured history,
 * the edges the chosen level rewrites and why, suggestions, and the
 * optimized pipeline file (lib/optimize.c does the work). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/util.h"

struct opt_opts {
	const char *target, *out;
	enum cdx_opt_level level;
	unsigned workers;
	bool json;
};

enum { OPT_LEVEL = CLI_OPT_OWN };

static const struct option optimize_longs[] = {
	CLI_OPTION_JSON,
	{"level", required_argument, NULL, OPT_LEVEL},
	{"workers", required_argument, NULL, 'j'},
	{"output", required_argument, NULL, 'o'},
	{0},
};

static int parse(struct cli *g, int argc, char **argv, struct opt_opts *o)
{
	struct cli_opts p;
	long n;
	cli_opts_begin(&p, g, "optimize", argc, argv, "j:o:", optimize_longs, 1);
	while (cli_opts_next(&p)) {
		switch (p.opt) {
		case CLI_OPT_JSON:
			o->json = true;
			break;
		case OPT_LEVEL:
			if (cdx_opt_level_parse(p.arg, &o->level) < 0)
				return cli_usage_error("optimize",
						       "--level must be conservative, moderate or aggressive, not '%s'", p.arg);
			break;
		case 'j':
			if (cli_number("optimize", "--workers needs a number from 1 to 4096", p.arg, 1, 4096, &n))
				return CDX_EUSAGE;
			o->workers = (unsigned)n;
			break;
		default: /* -o, --output */
			if (!*p.arg)
				return cli_usage_error("optimize", "-o needs a file name");
			o->out = p.arg;
			break;
		}
	}
	if (p.status)
		return p.status;
	if (!p.n_pos)
		return cli_usage_error("optimize", "name a pipeline file or a registered pipeline");
	o->target = argv[1];
	return 0;
}

/* write TEXT to PATH through a temporary file renamed over it; 0 or -1
 * with a message printed */
static int write_file(const char *path, const char *text)
{
	char *tmp = cdx_xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	size_t len = strlen(text);
	int rc = 0;
	if (!f) {
		cli_error("optimize: cannot write %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		cli_error("optimize: cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (fclose(f) != 0 && rc == 0) {
		cli_error("optimize: cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		cli_error("optimize: cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* a chain of job ids "a -> b -> c"; a long one by its ends */
static void print_list(const char *label, const cJSON *a)
{
	int i, n = cJSON_GetArraySize(a);
	cdx_text_printf(stdout, "%s", label);
	for (i = 0; i < n; i++) {
		if (n > 12 && i == 5) {
			cdx_text_printf(stdout, " -> ... (%d more)", n - 10);
			i = n - 5;
		}
		cdx_text_printf(stdout, "%s %s", i ? " ->" : "", cJSON_GetArrayItem(a, i)->valuestring);
	}
	cdx_text_printf(stdout, "\n");
}

static void print_report(const cJSON *r, const char *out)
{
	const cJSON *before = cJSON_GetObjectItem(r, "before"), *after = cJSON_GetObjectItem(r, "after"), *it;
	const cJSON *edges = cJSON_GetObjectItem(r, "edges"), *sugg = cJSON_GetObjectItem(r, "suggestions");
	const cJSON *res = cJSON_GetObjectItem(r, "resources"), *from = cJSON_GetObjectItem(before, "weights_from");

	cdx_text_printf(stdout, "pipeline %s: %.0f jobs in %.0f stages; level %s; %.0f workers\n",
			cdx_jsn(r, "pipeline"), cdx_jn(before, "jobs"),
			cdx_jn(before, "stages"), cdx_jsn(r, "level"),
			cdx_jn(r, "workers"));
	cdx_text_printf(stdout, "weights: %.0f from history, %.0f from duration_hint, %.0f default (1s)\n",
			cdx_jn(from, "history"), cdx_jn(from, "duration_hint"), cdx_jn(from, "default"));
	cdx_text_printf(stdout,
			"total work %.2fs; critical path %.2fs; useful parallelism %.2f; max width %.0f\n",
			cdx_jn(before, "total_work_s"), cdx_jn(before, "critical_path_s"),
			cdx_jn(before, "useful_parallelism"), cdx_jn(before, "max_parallelism"));
	print_list("critical path:", cJSON_GetObjectItem(before, "critical_path"));
	print_list("bounding jobs:", cJSON_GetObjectItem(before, "bounding_jobs"));
	cdx_text_printf(stdout, "idle worker time %.2fs, %.2fs of it behind stage barriers\n",
			cdx_jn(before, "idle_worker_s"), cdx_jn(before, "barrier_idle_s"));
	cdx_text_printf(
	    stdout, "lower bound %.2fs; declared order %.2fs; predicted makespan %.2fs -> %.2fs (%.2fx)\n",
	    cdx_jn(r, "lower_bound_s"), cdx_jn(r, "declared_order_makespan_s"),
	    cdx_jn(r, "predicted_makespan_before_s"), cdx_jn(r, "predicted_makespan_after_s"),
	    cdx_jn(r, "speedup"));
	if (cdx_jn(after, "critical_path_s") != cdx_jn(before, "critical_path_s"))
		print_list("critical path after:", cJSON_GetObjectItem(after, "critical_path"));
	cdx_text_printf(stdout, "rewritten edges: %d (%.0f unsafe)\n", cJSON_GetArraySize(edges),
			cdx_jn(r, "edges_unsafe"));
	cJSON_ArrayForEach(it, edges)
	{
		cdx_text_printf(stdout, "  %s%s: %s need %s: %s\n",
				cdx_jb(it, "unsafe", false) ? "UNSAFE " : "",
				cdx_jsn(it, "job"),
				cdx_jsn(it, "change"),
				cdx_jsn(it, "need"),
				cdx_jsn(it, "reason"));
	}
	if (cJSON_GetArraySize(sugg)) {
		cdx_text_printf(stdout, "suggestions:\n");
		cJSON_ArrayForEach(it, sugg) cdx_text_printf(stdout, "  - %s\n", it->valuestring);
	}
	if (cJSON_GetArraySize(res)) {
		cdx_text_printf(stdout, "resources (median of recent successful attempts):\n");
		cJSON_ArrayForEach(it, res)
		{
			if (cdx_jn(it, "samples") <= 0) {
				cdx_text_printf(stdout, "  %-32s %3.0f attempts, none successful\n",
						it->string, cdx_jn(it, "attempts"));
				continue;
			}
			cdx_text_printf(
			    stdout, "  %-32s wall %7.2fs  cpu %7.2fs (%3.0f%%)  rss %7.1f MiB (peak %.1f)\n",
			    it->string, cdx_jn(it, "wall_s"), cdx_jn(it, "cpu_s"),
			    100 * cdx_jn(it, "cpu_share"), cdx_jn(it, "maxrss_mib"),
			    cdx_jn(it, "maxrss_mib_peak"));
		}
	}
	if (out)
		cdx_text_printf(stdout, "wrote %s\n", out);
	else
		cdx_text_printf(stdout, "(write the optimized pipeline with -o FILE)\n");
}

int cmd_optimize(struct cli *g, int argc, char **argv)
{
	struct opt_opts o;
	struct cdx_optimize_options oo;
	struct cdx_error err = {0};
	struct cdx_diags *d = NULL;
	struct cdx_pipeline *p = NULL;
	cJSON *r = NULL;
	char *path = NULL;
	const char *state;
	int rc;

	memset(&o, 0, sizeof(o));
	o.level = CDX_OPT_MODERATE;
	rc = parse(g, argc, argv, &o);
	if (rc)
		goto out;
	rc = cli_resolve_pipeline(g, "optimize", o.target, &path);
	if (rc)
		goto out;
	d = cdx_diags_new();
	p = cdx_pipeline_load(path, d);
	if (!p) {
		cli_print_diags(d);
		rc = CDX_EUSAGE;
		goto out;
	}
	state = cli_state(g);
	if (!state) {
		rc = CDX_EUSAGE;
		goto out;
	}
	memset(&oo, 0, sizeof(oo));
	oo.level = o.level;
	oo.workers = o.workers;
	oo.state = state;
	oo.out_name = o.out && strcmp(o.out, "-") != 0 ? o.out : NULL;
	r = cdx_optimize(p, &oo, &err);
	if (!r) {
		cli_error("optimize: %s", err.msg);
		rc = err.code;
		goto out;
	}
	if (o.out && strcmp(o.out, "-") == 0) {
		fputs(cdx_jsn(r, "yaml"), stdout);
		rc = 0;
		goto out;
	}
	if (o.out && write_file(o.out, cdx_jsn(r, "yaml")) < 0) {
		rc = CDX_EUSAGE;
		goto out;
	}
	if (o.json) {
		if (o.out)
			cJSON_AddStringToObject(r, "output", o.out);
		cli_print_json(r);
	} else {
		print_report(r, o.out);
	}
	rc = 0;
out:
	cJSON_Delete(r);
	cdx_pipeline_free(p);
	cdx_diags_free(d);
	free(path);
	return rc;
}
