/* cmd_runs.c — reading recorded runs: `cdx runs`, `cdx status RUN_ID` and
 * `cdx logs RUN_ID STAGE/JOB`. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/json.h"
#include "base/util.h"
#include "state/store.h"

static int fail_err(const char *cmd, const struct cdx_error *err)
{
	cli_error("%s: %s", cmd, err->msg);
	return err->code;
}

static const struct option runs_longs[] = {CLI_OPTION_JSON, {"limit", required_argument, NULL, 'n'}, {0}};

int cmd_runs(struct cli *g, int argc, char **argv)
{
	const char *pipeline = NULL;
	bool json = false;
	long limit = 20;
	struct cdx_error err = {0};
	struct cli_opts p;
	cJSON *runs, *r;
	cli_opts_begin(&p, g, "runs", argc, argv, "n:", runs_longs, 1);
	while (cli_opts_next(&p)) {
		if (p.opt == CLI_OPT_JSON)
			json = true;
		else if (cli_number("runs", "-n needs a number", p.arg, 0, LONG_MAX, &limit))
			return CDX_EUSAGE;
	}
	if (p.status)
		return p.status;
	if (p.n_pos) {
		pipeline = argv[1];
		if (!cdx_name_valid(pipeline))
			return cli_usage_error("runs", "'%s' is not a pipeline name", pipeline);
	}
	if (!cli_state(g))
		return CDX_EUSAGE;
	runs = cdx_runs_list(cli_state(g), pipeline, (size_t)limit, &err);
	if (!runs)
		return fail_err("runs", &err);
	if (json) {
		cli_print_json(runs);
	} else {
		cdx_text_printf(stdout, "%-28s %-16s %-11s %-19s %9s  %s\n", "RUN", "PIPELINE", "STATUS",
				"STARTED", "DURATION", "JOBS ok/failed/skipped");
		cJSON_ArrayForEach(r, runs)
		{
			char w[32], d[32] = "-";
			cli_when(cdx_jn(r, "start_ms"), w, sizeof(w));
			if (cJSON_GetObjectItem(r, "duration_ms"))
				snprintf(d, sizeof(d), "%.1fs", cdx_jn(r, "duration_ms") / 1000);
			cdx_text_printf(stdout, "%-28s %-16s %-11s %-19s %9s  %.0f/%.0f/%.0f\n",
					cdx_js(r, "id"), cdx_js(r, "pipeline"), cdx_js(r, "status"), w, d,
					cdx_jn(r, "jobs_success"), cdx_jn(r, "jobs_failed"),
					cdx_jn(r, "jobs_skipped"));
		}
	}
	cJSON_Delete(runs);
	return 0;
}

static const struct option json_longs[] = {CLI_OPTION_JSON, {0}};

int cmd_status(struct cli *g, int argc, char **argv)
{
	const char *id = NULL;
	bool json = false;
	struct cdx_error err = {0};
	struct cli_opts p;
	cJSON *run, *j, *a;
	cli_opts_begin(&p, g, "status", argc, argv, "", json_longs, 1);
	while (cli_opts_next(&p))
		json = true; /* --json */
	if (p.status)
		return p.status;
	if (p.n_pos)
		id = argv[1];
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
		cli_print_json(run);
	} else {
		char w[32], who[400];
		cli_when(cdx_jn(run, "start_ms"), w, sizeof(w));
		cdx_text_printf(stdout, "run %s of %s: %s\nstarted %s by %s (pid %.0f)", cdx_js(run, "id"),
				cdx_js(run, "pipeline"), cdx_js(run, "status"), w,
				cli_who(run, who, sizeof(who)), cdx_jn(run, "pid"));
		if (cJSON_GetObjectItem(run, "duration_ms"))
			cdx_text_printf(stdout, ", took %.1fs", cdx_jn(run, "duration_ms") / 1000);
		cdx_text_printf(stdout, "\n");
		cJSON_ArrayForEach(j, cJSON_GetObjectItem(run, "jobs"))
		{
			cdx_text_printf(stdout, "  %-10s %s", cdx_js(j, "status"), cdx_js(j, "id"));
			cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "attempts"))
			{
				cdx_text_printf(stdout, "  [#%.0f %s %.2fs", cdx_jn(a, "attempt"),
						cdx_js(a, "status"), cdx_jn(a, "wall_ms") / 1000);
				if (cJSON_GetObjectItem(a, "exit_code"))
					cdx_text_printf(stdout, " exit %.0f", cdx_jn(a, "exit_code"));
				if (cdx_jb(a, "log_truncated", false))
					cdx_text_printf(stdout, " log truncated");
				if (*cdx_js(a, "worker"))
					cdx_text_printf(stdout, " on %s", cdx_js(a, "worker"));
				cdx_text_printf(stdout, "]");
			}
			if (cdx_jsn(j, "why"))
				cdx_text_printf(stdout, "  (%s)", cdx_jsn(j, "why"));
			a = cJSON_GetObjectItem(j, "artifacts");
			if (a && cJSON_GetObjectItem(a, "error"))
				cdx_text_printf(stdout, "  artifacts not kept: %s", cdx_js(a, "error"));
			else if (a)
				cdx_text_printf(stdout, "  artifacts: %.0f file%s, %.0f bytes", cdx_jn(a, "files"),
						cdx_jn(a, "files") == 1 ? "" : "s", cdx_jn(a, "bytes"));
			cdx_text_printf(stdout, "\n");
			{
				/* the outputs of its last attempt (masked when recorded) */
				const cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "attempts"),
								       cJSON_GetArraySize(cJSON_GetObjectItem(j, "attempts")) - 1);
				const cJSON *o;
				cJSON_ArrayForEach(o, cJSON_GetObjectItem(last, "outputs"))
					if (cJSON_IsString(o))
						cdx_text_printf(stdout, "             output %s=%s\n", o->string, o->valuestring);
			}
		}
	}
	cJSON_Delete(run);
	return 0;
}

static const struct option logs_longs[] = {{"attempt", required_argument, NULL, CLI_OPT_OWN},
					  {"follow", no_argument, NULL, 'f'},
					  {0}};

static void write_out(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	fwrite(data, 1, len, stdout);
	fflush(stdout);
}

/* shared_log: print attempt ATTEMPT of JOB in RUN (0: its last one, as
 * the store knows it) from the store's shared copy (a Redis stream),
 * following it with FOLLOW; 1 printed, 0 the store has none, else an exit
 * status */
static int shared_log(struct cli *g, const char *run, const char *job, long attempt, bool follow)
{
	struct cdx_store *s = NULL;
	struct cdx_error err = {0};
	bool ended = false, truncated = false;
	char key[256];
	int rc;
	if (cdx_store_open_read(cli_state(g), &s, &err) != CDX_OPEN_OK || !s)
		return 0;
	if (!s->ops->log_read) {
		cdx_store_close(s);
		return 0;
	}
	if (!attempt) {
		rc = s->ops->log_last(s, run, job, &err);
		if (rc < 0) {
			cdx_store_close(s);
			return fail_err("logs", &err);
		}
		attempt = rc;
	}
	if (!attempt) {
		cdx_store_close(s);
		return 0;
	}
	cdx_log_key(key, sizeof(key), run, job, (int)attempt);
	rc = s->ops->log_read(s, key, follow, write_out, NULL, &ended, &truncated, &err);
	cdx_store_close(s);
	if (rc < 0)
		return fail_err("logs", &err);
	if (rc > 0 && truncated)
		fprintf(stderr, "cdx: logs: the log of %s (attempt %ld) is truncated: it reached its cap "
				"(CDX_LOG_MAX)\n",
			job, attempt);
	return rc > 0 ? 1 : 0;
}

int cmd_logs(struct cli *g, int argc, char **argv)
{
	const char *id = NULL, *job = NULL, *log = NULL;
	long want = 0;
	bool follow = false;
	struct cdx_error err = {0};
	struct cli_opts p;
	cJSON *run, *j, *a, *at = NULL;
	char *buf;
	size_t len;
	int shared;
	cli_opts_begin(&p, g, "logs", argc, argv, "f", logs_longs, 2);
	while (cli_opts_next(&p)) {
		if (p.opt == 'f')
			follow = true;
		else if (cli_number("logs", "--attempt needs a number from 1", p.arg, 1, LONG_MAX, &want))
			return CDX_EUSAGE;
	}
	if (p.status)
		return p.status;
	id = p.n_pos > 0 ? argv[1] : NULL;
	job = p.n_pos > 1 ? argv[2] : NULL;
	if (!id || !job)
		return cli_usage_error("logs", "name a run id and a job STAGE/JOB");
	if (!cli_state(g))
		return CDX_EUSAGE;
	if (!cdx_name_valid(id) || strlen(job) > 200)
		return cli_usage_error("logs", "not a run id and a job STAGE/JOB");
	run = cdx_run_load(cli_state(g), id, &err);
	if (!run)
		return fail_err("logs", &err);
	cJSON_ArrayForEach(j, cJSON_GetObjectItem(run, "jobs"))
	{
		if (strcmp(cdx_js(j, "id"), job) != 0)
			continue;
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "attempts"))
			if (!want || (long)cdx_jn(a, "attempt") == want) {
				log = cdx_jsn(a, "log");
				at = a;
			}
	}
	/* a store shared between machines keeps its own copy: read that,
	 * from any machine (following a running attempt with --follow) */
	shared = shared_log(g, id, job, want ? want : (at && !follow ? (long)cdx_jn(at, "attempt") : 0), follow);
	if (shared != 0) {
		cJSON_Delete(run);
		return shared == 1 ? 0 : shared;
	}
	if (!log) {
		cli_error("logs: no log of %s%s in run %s", job, want ? " for that attempt" : "", id);
		cJSON_Delete(run);
		return CDX_EUSAGE;
	}
	if (access(log, F_OK) != 0 && *cdx_js(run, "host")) {
		/* a log is a file of the host that ran the job */
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		if (strcmp(host, cdx_js(run, "host")) != 0) {
			cli_error("logs: the log of %s %s is on host %s (cdx logs reads the logs of this "
				  "host, %s, only)",
				  id, job, cdx_js(run, "host"), host);
			cJSON_Delete(run);
			return CDX_EUSAGE;
		}
	}
	if (cdx_read_file(log, (size_t)1 << 30, &buf, &len, &err) < 0) {
		cJSON_Delete(run);
		return fail_err("logs", &err);
	}
	fwrite(buf, 1, len, stdout);
	free(buf);
	if (cdx_jb(at, "log_truncated", false)) {
		/* after the log, so that it is the last thing a reader sees */
		fflush(stdout);
		fprintf(stderr, "cdx: logs: the log of %s (attempt %.0f) is truncated: it stops where a write failed (%s)\n",
			job, cdx_jn(at, "attempt"), cdx_js(at, "log_error"));
	}
	cJSON_Delete(run);
	return 0;
}
