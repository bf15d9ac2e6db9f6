/* cmd_rollback.c — `cdx rollback APP ENV` and `cdx history APP ENV`. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "base/duration.h"

static void print_plan(const cJSON *plan)
{
	const cJSON *x;
	printf("rollback of %s/%s (%s): %s -> %s\n", cli_str(plan, "app"), cli_str(plan, "env"), cli_str(plan, "strategy"),
	       cJSON_IsString(cJSON_GetObjectItem(plan, "from")) ? cli_str(plan, "from") : "nothing",
	       cJSON_IsString(cJSON_GetObjectItem(plan, "to")) ? cli_str(plan, "to") : "?");
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(plan, "targets"))
	{
		printf("  %-12s %-12s %s\n", cli_str(x, "name"),
		       cJSON_IsString(cJSON_GetObjectItem(x, "version")) ? cli_str(x, "version") : "-", cli_str(x, "action"));
	}
	if (*cli_str(plan, "note"))
		printf("  note: %s\n", cli_str(plan, "note"));
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(plan, "problems")) printf("  problem: %s\n", x->valuestring);
}

int cmd_rollback(struct cli *g, int argc, char **argv)
{
	struct cdx_rollback_options opt = {0};
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	const char *pos[2] = {0}, *v, *why;
	bool json = false;
	cJSON *res = NULL;
	int i, n = 0, rc;
	int64_t ms;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0)
			json = true;
		else if (strcmp(a, "--dry-run") == 0 || strcmp(a, "-n") == 0)
			opt.dry_run = 1;
		else if (strcmp(a, "--force") == 0)
			opt.force = 1;
		else if (strncmp(a, "--strategy", 10) == 0 && (!a[10] || a[10] == '='))
			opt.strategy = cli_option_value("rollback", argc, argv, &i, "--strategy");
		else if (strncmp(a, "--to", 4) == 0 && (!a[4] || a[4] == '='))
			opt.to = cli_option_value("rollback", argc, argv, &i, "--to");
		else if (strncmp(a, "--deployment", 12) == 0 && (!a[12] || a[12] == '='))
			opt.deployment = cli_option_value("rollback", argc, argv, &i, "--deployment");
		else if (strncmp(a, "--instances", 11) == 0 && (!a[11] || a[11] == '='))
			opt.instances = cli_option_value("rollback", argc, argv, &i, "--instances");
		else if (strncmp(a, "--reason", 8) == 0 && (!a[8] || a[8] == '='))
			opt.reason = cli_option_value("rollback", argc, argv, &i, "--reason");
		else if (strncmp(a, "--wait", 6) == 0 && (!a[6] || a[6] == '=')) {
			opt.wait_ms = -1;
			v = a[6] == '=' ? a + 7 : (i + 1 < argc && cdx_duration_parse(argv[i + 1], &ms, &why) == 0) ? argv[++i]
														 : NULL;
			if (v && cdx_duration_parse(v, &ms, &why) < 0)
				return cli_usage_error("rollback", "bad duration '%s' for --wait: %s", v, why);
			if (v)
				opt.wait_ms = ms;
			continue;
		} else if (a[0] == '-')
			return cli_usage_error("rollback", "unknown option %s", a);
		else if (n < 2)
			pos[n++] = a;
		else
			return cli_usage_error("rollback", "unexpected argument %s", a);
		if (a[0] == '-' && strcmp(a, "--json") && strcmp(a, "--dry-run") && strcmp(a, "-n") && strcmp(a, "--force") &&
		    !opt.strategy && !opt.to && !opt.deployment && !opt.instances && !opt.reason)
			return CDX_EUSAGE; /* cli_option_value printed why */
	}
	if (n < 2)
		return cli_usage_error("rollback", "name an application and an environment");
	if ((rc = cli_open_orchestrator(g, "rollback", &o)))
		return rc;
	opt.progress = stderr;
	rc = cdx_rollback(o, pos[0], pos[1], &opt, &res, &err);
	if (json && res)
		cli_print_json(res);
	else if (res && (opt.dry_run || rc == CDX_EUSAGE))
		print_plan(res);
	else if (res && rc == 0 && opt.instances)
		printf("%s/%s: instances %s rolled back to %s in %.1fs\n", pos[0], pos[1], opt.instances, cli_str(res, "to"),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(res, "duration_ms")) / 1000);
	else if (res && rc == 0)
		printf("%s/%s: rolled back to %s in %.1fs\n", pos[0], pos[1], cli_str(res, "serving"),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(res, "duration_ms")) / 1000);
	if (rc)
		cli_error("rollback: %s", err.msg);
	cJSON_Delete(res);
	cdx_orchestrator_free(o);
	if (!opt.dry_run)
		cli_evaluate_alerts(g, NULL); /* monitoring: alerts on deployments */
	return rc;
}

int cmd_history(struct cli *g, int argc, char **argv)
{
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	const char *pos[2] = {0};
	bool json = false;
	cJSON *arr;
	int i, n = 0, rc;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] == '-')
			return cli_usage_error("history", "unknown option %s", argv[i]);
		else if (n < 2)
			pos[n++] = argv[i];
		else
			return cli_usage_error("history", "unexpected argument %s", argv[i]);
	}
	if (n < 2)
		return cli_usage_error("history", "name an application and an environment");
	if ((rc = cli_open_orchestrator(g, "history", &o)))
		return rc;
	arr = cdx_rollback_history(o, pos[0], pos[1], &err);
	if (!arr) {
		cli_error("history: %s", err.msg);
		cdx_orchestrator_free(o);
		return err.code ? err.code : CDX_ESTATE;
	}
	if (json)
		cli_print_json(arr);
	else
		cli_print_deployments(arr, false);
	cJSON_Delete(arr);
	cdx_orchestrator_free(o);
	return 0;
}
