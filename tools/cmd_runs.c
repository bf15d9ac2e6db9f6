/* cmd_runs.c — reading recorded runs: `cdx runs`, `cdx status RUN_ID` and
 * `cdx logs RUN_ID STAGE/JOB`. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/util.h"

static void print_json(cJSON *o)
{
	char *s = cJSON_Print(o);
	puts(s);
	free(s);
}

static int fail_err(const char *cmd, const struct cdx_error *err)
{
	cli_error("%s: %s", cmd, err->msg);
	return err->code ? err->code : CDX_ESTATE;
}

int cmd_runs(struct cli *g, int argc, char **argv)
{
	const char *pipeline = NULL;
	bool json = false;
	long limit = 20;
	struct cdx_error err = {0};
	cJSON *runs, *r;
	int i;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strncmp(argv[i], "-n", 2) == 0 || strcmp(argv[i], "--limit") == 0 ||
			   strncmp(argv[i], "--limit=", 8) == 0) {
			const char *v = argv[i][1] == 'n' && argv[i][2] ? argv[i] + 2
					: cli_option_value("runs", argc, argv, &i, argv[i][1] == 'n' ? "-n" : "--limit");
			char *end;
			if (!v)
				return CDX_EUSAGE;
			limit = strtol(v, &end, 10);
			if (*end || limit < 0)
				return cli_usage_error("runs", "-n needs a number, not '%s'", v);
		} else if (argv[i][0] == '-') {
			return cli_usage_error("runs", "unknown option %s", argv[i]);
		} else if (!pipeline) {
			pipeline = argv[i];
			if (!cdx_name_valid(pipeline))
				return cli_usage_error("runs", "'%s' is not a pipeline name", pipeline);
		} else {
			return cli_usage_error("runs", "unexpected argument %s", argv[i]);
		}
	}
	if (!cli_state(g))
		return CDX_EUSAGE;
	runs = cdx_runs_list(cli_state(g), pipeline, (size_t)limit, &err);
	if (!runs)
		return fail_err("runs", &err);
	if (json) {
		print_json(runs);
	} else {
		printf("%-28s %-16s %-11s %-19s %9s  %s\n", "RUN", "PIPELINE", "STATUS", "STARTED", "DURATION",
		       "JOBS ok/failed/skipped");
		cJSON_ArrayForEach(r, runs)
		{
			char w[32], d[32] = "-";
			cli_when(cli_num(r, "start_ms"), w, sizeof(w));
			if (cJSON_GetObjectItem(r, "duration_ms"))
				snprintf(d, sizeof(d), "%.1fs", cli_num(r, "duration_ms") / 1000);
			printf("%-28s %-16s %-11s %-19s %9s  %.0f/%.0f/%.0f\n", cli_str(r, "id"), cli_str(r, "pipeline"),
			       cli_str(r, "status"), w, d, cli_num(r, "jobs_success"), cli_num(r, "jobs_failed"),
			       cli_num(r, "jobs_skipped"));
		}
	}
	cJSON_Delete(runs);
	return 0;
}

int cmd_status(struct cli *g, int argc, char **argv)
{
	const char *id = NULL;
	bool json = false;
	struct cdx_error err = {0};
	cJSON *run, *j, *a;
	int i;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] == '-')
			return cli_usage_error("status", "unknown option %s", argv[i]);
		else if (!id)
			id = argv[i];
		else
			return cli_usage_error("status", "unexpected argument %s", argv[i]);
	}
	if (!id)
		return cli_usage_error("status", "name a run id (see cdx runs)");
	if (!cli_state(g))
		return CDX_EUSAGE;
	run = cdx_run_load(cli_state(g), id, &err);
	if (!run && err.code == CDX_EUSAGE && access(g->config, F_OK) == 0)
		return cli_deployment_status(g, id, json); /* a deployment id */
	if (!run)
		return fail_err("status", &err);
	if (json) {
		print_json(run);
	} else {
		char w[32];
		cli_when(cli_num(run, "start_ms"), w, sizeof(w));
		printf("run %s of %s: %s\nstarted %s by %s@%s (pid %.0f)", cli_str(run, "id"), cli_str(run, "pipeline"),
		       cli_str(run, "status"), w, cli_str(run, "user"), cli_str(run, "host"), cli_num(run, "pid"));
		if (cJSON_GetObjectItem(run, "duration_ms"))
			printf(", took %.1fs", cli_num(run, "duration_ms") / 1000);
		printf("\n");
		cJSON_ArrayForEach(j, cJSON_GetObjectItem(run, "jobs"))
		{
			printf("  %-10s %s", cli_str(j, "status"), cli_str(j, "id"));
			cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "attempts"))
			{
				printf("  [#%.0f %s %.2fs", cli_num(a, "attempt"), cli_str(a, "status"), cli_num(a, "wall_ms") / 1000);
				if (cJSON_GetObjectItem(a, "exit_code"))
					printf(" exit %.0f", cli_num(a, "exit_code"));
				printf("]");
			}
			printf("\n");
		}
	}
	cJSON_Delete(run);
	return 0;
}

int cmd_logs(struct cli *g, int argc, char **argv)
{
	const char *id = NULL, *job = NULL, *log = NULL;
	long want = 0;
	struct cdx_error err = {0};
	cJSON *run, *j, *a;
	char *buf;
	size_t len;
	int i;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--attempt") == 0 || strncmp(argv[i], "--attempt=", 10) == 0) {
			const char *v = cli_option_value("logs", argc, argv, &i, "--attempt");
			char *end;
			if (!v)
				return CDX_EUSAGE;
			want = strtol(v, &end, 10);
			if (*end || want < 1)
				return cli_usage_error("logs", "--attempt needs a number from 1, not '%s'", v);
		} else if (argv[i][0] == '-') {
			return cli_usage_error("logs", "unknown option %s", argv[i]);
		} else if (!id) {
			id = argv[i];
		} else if (!job) {
			job = argv[i];
		} else {
			return cli_usage_error("logs", "unexpected argument %s", argv[i]);
		}
	}
	if (!id || !job)
		return cli_usage_error("logs", "name a run id and a job STAGE/JOB");
	if (!cli_state(g))
		return CDX_EUSAGE;
	run = cdx_run_load(cli_state(g), id, &err);
	if (!run)
		return fail_err("logs", &err);
	cJSON_ArrayForEach(j, cJSON_GetObjectItem(run, "jobs"))
	{
		if (strcmp(cli_str(j, "id"), job) != 0)
			continue;
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "attempts"))
			if (!want || (long)cli_num(a, "attempt") == want)
				log = cJSON_GetStringValue(cJSON_GetObjectItem(a, "log"));
	}
	if (!log) {
		cli_error("logs: no log of %s%s in run %s", job, want ? " for that attempt" : "", id);
		cJSON_Delete(run);
		return CDX_EUSAGE;
	}
	if (cdx_read_file(log, (size_t)1 << 30, &buf, &len, &err) < 0) {
		cJSON_Delete(run);
		return fail_err("logs", &err);
	}
	fwrite(buf, 1, len, stdout);
	free(buf);
	cJSON_Delete(run);
	return 0;
}
