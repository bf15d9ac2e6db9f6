/* cmd_rollback.c — `cdx rollback APP ENV` and `cdx history APP ENV`. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

static void print_plan(const cJSON *plan)
{
	const cJSON *x;
	cdx_text_printf(stdout, "rollback of %s/%s (%s): %s -> %s\n", cdx_js(plan, "app"),
			cdx_js(plan, "env"), cdx_js(plan, "strategy"),
			cdx_jsn(plan, "from") ?: "nothing",
			cdx_jsn(plan, "to") ?: "?");
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(plan, "targets"))
	{
		cdx_text_printf(stdout, "  %-12s %-12s %s\n", cdx_js(x, "name"),
				cdx_jsn(x, "version") ?: "-",
				cdx_js(x, "action"));
	}
	if (*cdx_js(plan, "note"))
		cdx_text_printf(stdout, "  note: %s\n", cdx_js(plan, "note"));
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(plan, "problems"))
		cdx_text_printf(stdout, "  problem: %s\n", x->valuestring);
}

enum { OPT_FORCE = CLI_OPT_OWN, OPT_STRATEGY, OPT_TO, OPT_DEPLOYMENT, OPT_INSTANCES, OPT_REASON, OPT_WAIT };

static const struct option rollback_longs[] = {
	CLI_OPTION_JSON,
	{"dry-run", no_argument, NULL, 'n'},
	{"force", no_argument, NULL, OPT_FORCE},
	{"strategy", required_argument, NULL, OPT_STRATEGY},
	{"to", required_argument, NULL, OPT_TO},
	{"deployment", required_argument, NULL, OPT_DEPLOYMENT},
	{"instances", required_argument, NULL, OPT_INSTANCES},
	{"hosts", required_argument, NULL, OPT_INSTANCES}, /* rolling over hosts: they are the instances */
	{"reason", required_argument, NULL, OPT_REASON},
	{"wait", optional_argument, NULL, OPT_WAIT},
	{0},
};

/* the options of `cdx rollback` into OPT and *JSON; 0 or the exit status */
static int parse(struct cli_opts *p, struct cdx_rollback_options *opt, bool *json)
{
	while (cli_opts_next(p)) {
		switch (p->opt) {
		case CLI_OPT_JSON:
			*json = true;
			break;
		case 'n':
			opt->dry_run = 1;
			break;
		case OPT_FORCE:
			opt->force = 1;
			break;
		case OPT_STRATEGY:
			opt->strategy = p->arg;
			break;
		case OPT_TO:
			opt->to = p->arg;
			break;
		case OPT_DEPLOYMENT:
			opt->deployment = p->arg;
			break;
		case OPT_INSTANCES:
			opt->instances = p->arg;
			break;
		case OPT_REASON:
			opt->reason = p->arg;
			break;
		default: /* OPT_WAIT */
			if (cli_opts_wait(p, &opt->wait_ms))
				return CDX_EUSAGE;
			break;
		}
	}
	return p->status;
}

int cmd_rollback(struct cli *g, int argc, char **argv)
{
	struct cdx_rollback_options opt = {0};
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	struct cli_opts p;
	const char **pos = (const char **)argv + 1;
	bool json = false;
	cJSON *res = NULL;
	int rc;
	cli_opts_begin(&p, g, "rollback", argc, argv, "n", rollback_longs, 2);
	rc = parse(&p, &opt, &json);
	if (rc)
		return rc;
	if (p.n_pos < 2)
		return cli_usage_error("rollback", "name an application and an environment");
	if ((rc = cli_open_orchestrator(g, "rollback", &o)))
		return rc;
	opt.progress = stderr;
	rc = cdx_rollback(o, pos[0], pos[1], &opt, &res, &err);
	if (rc == 0 && res && !opt.dry_run)
		cli_schedule_scale_down(g, o, pos[0], pos[1], cJSON_GetObjectItem(res, "scale_down"));
	if (json && res)
		cli_print_json(res);
	else if (res && (opt.dry_run || rc == CDX_EUSAGE))
		print_plan(res);
	else if (res && rc == 0 && opt.instances)
		cdx_text_printf(stdout, "%s/%s: instances %s rolled back to %s in %.1fs\n", pos[0], pos[1],
				opt.instances, cdx_js(res, "to"),
				cJSON_GetNumberValue(cJSON_GetObjectItem(res, "duration_ms")) / 1000);
	else if (res && rc == 0)
		cdx_text_printf(stdout, "%s/%s: rolled back to %s in %.1fs\n", pos[0], pos[1],
				cdx_js(res, "serving"),
				cJSON_GetNumberValue(cJSON_GetObjectItem(res, "duration_ms")) / 1000);
	if (rc)
		cli_error("rollback: %s", err.msg);
	cJSON_Delete(res);
	cdx_orchestrator_free(o);
	if (!opt.dry_run)
		cli_evaluate_alerts(g, NULL); /* monitoring: alerts on deployments */
	return rc;
}

static const struct option json_longs[] = {CLI_OPTION_JSON, {0}};

int cmd_history(struct cli *g, int argc, char **argv)
{
	struct cli_opts p;
	bool json = false;
	cli_opts_begin(&p, g, "history", argc, argv, "", json_longs, 2);
	while (cli_opts_next(&p))
		json = true; /* --json */
	if (p.status)
		return p.status;
	if (p.n_pos < 2)
		return cli_usage_error("history", "name an application and an environment");
	return cli_list_deployments(g, "history", argv[1], argv[2], 0, true, json);
}
