/* cmd_deploy.c — deployments from the shell: `cdx deploy`, `cdx deployments`,
 * `cdx promote`, `cdx abort`, `cdx recover`, and `cdx status ID` for a
 * deployment id.  Progress goes to stderr, one line per transition; the
 * result to stdout (JSON with --json). */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/util.h"

int cli_open_orchestrator(struct cli *g, const char *cmd, struct cdx_orchestrator **o)
{
	struct cdx_error err = {0};
	if (access(g->config, F_OK) != 0) {
		cli_error("%s: no project file %s (applications are declared in cdx.yml; see cdx.yml(5))", cmd,
			  g->config);
		return CDX_EUSAGE;
	}
	if (cdx_orchestrator_open(g->config, g->state, o, &err) < 0) {
		cli_error("%s: %s", cmd, err.msg);
		return err.code;
	}
	return 0;
}

static bool confirm(const char *what)
{
	const char *c = getenv("CDX_CONFIRM");
	char line[16];
	if (c && strcmp(c, "1") == 0)
		return true;
	if (!isatty(0) || !isatty(2))
		return false;
	cdx_text_printf(stderr, "%s is protected. Go ahead? [y/N] ", what);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* the old slot after scale_down_delay: now, or by a detached `cdx
 * scale-down` that sleeps first (so that cdx deploy returns at once) */
void cli_schedule_scale_down(struct cli *g, struct cdx_orchestrator *o, const char *app, const char *env,
			     const struct cJSON *sd)
{
	struct cdx_error err = {0};
	char delay[32];
	pid_t pid;
	if (!sd)
		return;
	if (cdx_jn(sd, "delay_ms") <= 0) {
		if (cdx_scale_down(o, app, env, cdx_js(sd, "slot"), cdx_js(sd, "version"), &err) ==
		    CDX_SCALE_DOWN_ERROR)
			cli_error("cannot scale down slot %s: %s", cdx_js(sd, "slot"), err.msg);
		return;
	}
	snprintf(delay, sizeof(delay), "%.0f", cdx_jn(sd, "delay_ms"));
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		const char *state = g->state;
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		setsid();
		if (fork() != 0) /* not our child: nothing waits for it */
			_exit(0);
		if (state)
			execl("/proc/self/exe", "cdx", "--config", g->config, "--state", state, "scale-down", app, env,
			      cdx_js(sd, "slot"), cdx_js(sd, "version"), delay, (char *)NULL);
		else
			execl("/proc/self/exe", "cdx", "--config", g->config, "scale-down", app, env, cdx_js(sd, "slot"),
			      cdx_js(sd, "version"), delay, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int cmd_scale_down(struct cli *g, int argc, char **argv)
{
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	struct cli_opts p;
	struct timespec ts;
	long ms;
	int rc;
	cli_opts_begin(&p, g, "scale-down", argc, argv, "", NULL, SIZE_MAX);
	while (cli_opts_next(&p))
		;
	if (p.status)
		return p.status;
	if (p.n_pos != 5)
		return cli_usage_error("scale-down", "usage: cdx scale-down APP ENV SLOT VERSION DELAY_MS");
	ms = atol(argv[5]);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0)
		;
	if ((rc = cli_open_orchestrator(g, "scale-down", &o)))
		return rc;
	if (cdx_scale_down(o, argv[1], argv[2], argv[3], argv[4], &err) == CDX_SCALE_DOWN_ERROR) {
		cli_error("scale-down: %s", err.msg);
		rc = CDX_EFAILED;
	}
	cdx_orchestrator_free(o);
	return rc;
}

enum { OPT_WAIT = CLI_OPT_OWN, OPT_STRATEGY, OPT_REASON, OPT_HOSTS, OPT_DRY_RUN };

static const struct option deploy_longs[] = {
	CLI_OPTION_JSON,
	{"yes", no_argument, NULL, 'y'},
	{"wait", optional_argument, NULL, OPT_WAIT},
	{"strategy", required_argument, NULL, OPT_STRATEGY},
	{"reason", required_argument, NULL, OPT_REASON},
	{"hosts", required_argument, NULL, OPT_HOSTS},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{0},
};

int cmd_deploy(struct cli *g, int argc, char **argv)
{
	struct cdx_deploy_options opt = {0};
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	struct cli_opts p;
	const char **pos = (const char **)argv + 1;
	bool json = false, yes = false;
	cJSON *res = NULL;
	int rc;
	cli_opts_begin(&p, g, "deploy", argc, argv, "y", deploy_longs, 3);
	rc = 0;
	while (!rc && cli_opts_next(&p)) {
		if (p.opt == CLI_OPT_JSON)
			json = true;
		else if (p.opt == 'y')
			yes = true;
		else if (p.opt == OPT_WAIT)
			rc = cli_opts_wait(&p, &opt.wait_ms);
		else if (p.opt == OPT_STRATEGY)
			opt.strategy = p.arg;
		else if (p.opt == OPT_HOSTS)
			opt.hosts = p.arg;
		else if (p.opt == OPT_DRY_RUN)
			opt.dry_run = stdout;
		else
			opt.reason = p.arg;
	}
	if (rc || p.status)
		return rc ? rc : p.status;
	if (p.n_pos < 3)
		return cli_usage_error("deploy", "name an application, an environment and a version");
	if ((rc = cli_open_orchestrator(g, "deploy", &o)))
		return rc;
	if (opt.dry_run) { /* prints the steps and the remote commands; changes nothing */
		rc = cdx_deploy(o, pos[0], pos[1], pos[2], &opt, &res, &err);
		if (rc)
			cli_error("deploy: %s", err.msg);
		cdx_orchestrator_free(o);
		return rc;
	}
	opt.progress = stderr;
	opt.confirmed = yes;
	if (!yes) {
		/* ask only when the environment is protected */
		cJSON *cfg = cdx_environment_config(o, pos[0], pos[1], &err);
		if (cfg && cdx_jb(cfg, "protected", false)) {
			char what[200];
			snprintf(what, sizeof(what), "%s/%s", pos[0], pos[1]);
			opt.confirmed = confirm(what);
			if (!opt.confirmed && !isatty(0) && !getenv("CDX_CONFIRM")) {
				cli_error("deploy: %s is protected: confirm with --yes or CDX_CONFIRM=1 (no terminal "
					  "to ask on)",
					  what);
				cJSON_Delete(cfg);
				cdx_orchestrator_free(o);
				return CDX_EUSAGE;
			}
		}
		cJSON_Delete(cfg);
		memset(&err, 0, sizeof(err));
	}
	rc = cdx_deploy(o, pos[0], pos[1], pos[2], &opt, &res, &err);
	if (rc == 0 && res)
		cli_schedule_scale_down(g, o, pos[0], pos[1], cJSON_GetObjectItem(res, "scale_down"));
	if (json && res)
		cli_print_json(res);
	else if (res && rc == 0)
		cdx_text_printf(stdout, "%s/%s: %s deployed in %.1fs (was %s)\n", pos[0], pos[1], pos[2],
				cdx_jn(res, "duration_ms") / 1000,
				cdx_jsn(res, "previous") ?: "nothing");
	if (rc)
		cli_error("deploy: %s", err.msg);
	cJSON_Delete(res);
	cdx_orchestrator_free(o);
	cli_evaluate_alerts(g, NULL); /* a rollback or a freeze may alert (monitoring:) */
	return rc;
}

/* "promoted" or "aborted": what control C of a deployment did */
static const char *control_done(const cJSON *c)
{
	return strcmp(cdx_js(c, "kind"), "promote") == 0 ? "promoted" : "aborted";
}

/* one line per deployment (shared by `deployments` and `history`) */
void cli_print_deployments(const cJSON *arr, bool newest_first)
{
	int i, n = cJSON_GetArraySize(arr);
	if (!n)
		cdx_text_printf(stdout, "no deployments recorded\n");
	for (i = 0; i < n; i++) {
		const cJSON *d = cJSON_GetArrayItem(arr, newest_first ? n - 1 - i : i), *c;
		char w[32], who[400];
		cli_when(cdx_jn(d, "start_ms"), w, sizeof(w));
		cdx_text_printf(stdout, "%s  %-8s %s/%s %s -> %s  %-15s %s", w, cdx_js(d, "kind"),
				cdx_js(d, "app"), cdx_js(d, "env"),
				cdx_jsn(d, "previous") ?: "-",
				cdx_js(d, "version"), cdx_js(d, "state"), cli_who(d, who, sizeof(who)));
		if (cJSON_GetObjectItem(d, "duration_ms"))
			cdx_text_printf(stdout, "  %.1fs", cdx_jn(d, "duration_ms") / 1000);
		cdx_text_printf(stdout, "  %s", cdx_js(d, "id"));
		if (*cdx_js(d, "reason"))
			cdx_text_printf(stdout, "  reason: %s", cdx_js(d, "reason"));
		if (*cdx_js(d, "cause"))
			cdx_text_printf(stdout, "  cause: %s", cdx_js(d, "cause"));
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(d, "controls"))
			cdx_text_printf(stdout, "  %s by %s", control_done(c), cli_who(c, who, sizeof(who)));
		cdx_text_printf(stdout, "\n");
		/* an environment with hosts: each host's release and how it went there */
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(d, "hosts"))
			cdx_text_printf(stdout, "    host %s: %s %s%s\n", c->string, cdx_js(c, "version"),
					cdx_js(c, "outcome"), cdx_jb(c, "unreachable", false) ? " (unreachable)" : "");
	}
}

int cli_list_deployments(struct cli *g, const char *cmd, const char *app, const char *env, size_t limit, bool history,
			 bool json)
{
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	cJSON *arr;
	int rc = cli_open_orchestrator(g, cmd, &o);
	if (rc)
		return rc;
	arr = history ? cdx_rollback_history(o, app, env, &err) : cdx_deployments_list(o, app, env, limit, &err);
	if (!arr) {
		cli_error("%s: %s", cmd, err.msg);
		cdx_orchestrator_free(o);
		return err.code;
	}
	if (json)
		cli_print_json(arr);
	else
		cli_print_deployments(arr, !history);
	cJSON_Delete(arr);
	cdx_orchestrator_free(o);
	return 0;
}

static const struct option json_longs[] = {CLI_OPTION_JSON, {0}};

int cmd_deployments(struct cli *g, int argc, char **argv)
{
	struct cli_opts p;
	bool json = false;
	long limit = 0;
	cli_opts_begin(&p, g, "deployments", argc, argv, "n:", json_longs, 2);
	while (cli_opts_next(&p)) {
		if (p.opt == CLI_OPT_JSON)
			json = true;
		else if (cli_number("deployments", "-n needs a number", p.arg, 0, LONG_MAX, &limit))
			return CDX_EUSAGE;
	}
	if (p.status)
		return p.status;
	return cli_list_deployments(g, "deployments", p.n_pos > 0 ? argv[1] : NULL, p.n_pos > 1 ? argv[2] : NULL,
				    (size_t)limit, false, json);
}

static int control(struct cli *g, int argc, char **argv, const char *action)
{
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	struct cli_opts p;
	int rc;
	cli_opts_begin(&p, g, action, argc, argv, "", NULL, SIZE_MAX);
	while (cli_opts_next(&p))
		;
	if (p.status)
		return p.status;
	if (p.n_pos != 2)
		return cli_usage_error(action, "name an application and an environment");
	if ((rc = cli_open_orchestrator(g, action, &o)))
		return rc;
	rc = cdx_deploy_control(o, argv[1], argv[2], action, &err);
	if (rc)
		cli_error("%s: %s", action, err.msg);
	else
		cdx_text_printf(stdout, "%s/%s: %s sent\n", argv[1], argv[2], action);
	cdx_orchestrator_free(o);
	return rc;
}

int cmd_promote(struct cli *g, int argc, char **argv)
{
	return control(g, argc, argv, "promote");
}

int cmd_abort(struct cli *g, int argc, char **argv)
{
	return control(g, argc, argv, "abort");
}

int cmd_recover(struct cli *g, int argc, char **argv)
{
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	struct cli_opts p;
	bool json = false;
	cJSON *res, *x;
	int rc, status;
	cli_opts_begin(&p, g, "recover", argc, argv, "", json_longs, 0);
	while (cli_opts_next(&p))
		json = true; /* --json */
	if (p.status)
		return p.status;
	if ((rc = cli_open_orchestrator(g, "recover", &o)))
		return rc;
	res = cdx_recover(o, stderr, &status, &err);
	if (!res) {
		cli_error("recover: %s", err.msg);
		cdx_orchestrator_free(o);
		return status;
	}
	if (json) {
		cli_print_json(res);
	} else {
		cJSON_ArrayForEach(x, res)
		{
			cdx_text_printf(stdout, "%s/%s: %s", cdx_js(x, "app"), cdx_js(x, "env"),
					cdx_js(x, "result"));
			if (cJSON_IsString(cJSON_GetObjectItem(x, "serving")))
				cdx_text_printf(stdout, ", serving %s", cdx_js(x, "serving"));
			if (*cdx_js(x, "detail"))
				cdx_text_printf(stdout, ": %s", cdx_js(x, "detail"));
			cdx_text_printf(stdout, "\n");
		}
	}
	cJSON_Delete(res);
	cdx_orchestrator_free(o);
	return status;
}

int cli_deployment_status(struct cli *g, const char *id, bool json)
{
	struct cdx_orchestrator *o = NULL;
	struct cdx_error err = {0};
	cJSON *d, *t;
	int rc;
	if ((rc = cli_open_orchestrator(g, "status", &o)))
		return rc;
	d = cdx_deployment_status(o, id, &err);
	if (!d) {
		cli_error("status: %s", err.msg);
		cdx_orchestrator_free(o);
		return err.code;
	}
	if (json) {
		cli_print_json(d);
	} else {
		char w[32], who[400];
		cli_when(cdx_jn(d, "start_ms"), w, sizeof(w));
		cdx_text_printf(stdout, "%s %s of %s/%s: %s -> %s, %s\nstarted %s by %s (pid %.0f)\n",
				cdx_js(d, "kind"), cdx_js(d, "id"), cdx_js(d, "app"), cdx_js(d, "env"),
				cdx_jsn(d, "previous") ?: "-",
				cdx_js(d, "version"), cdx_js(d, "state"), w, cli_who(d, who, sizeof(who)),
				cdx_jn(d, "pid"));
		if (*cdx_js(d, "reason"))
			cdx_text_printf(stdout, "reason: %s\n", cdx_js(d, "reason"));
		cJSON_ArrayForEach(t, cJSON_GetObjectItem(d, "controls"))
		{
			cli_when(cdx_jn(t, "at_ms"), w, sizeof(w));
			cdx_text_printf(stdout, "%s by %s at %s\n", control_done(t),
					cli_who(t, who, sizeof(who)), w);
		}
		cJSON_ArrayForEach(t, cJSON_GetObjectItem(d, "transitions"))
		{
			cli_when(cdx_jn(t, "at_ms"), w, sizeof(w));
			cdx_text_printf(stdout, "  %s  %-13s %s%s%s\n", w + 11, cdx_js(t, "state"),
					cdx_js(t, "msg"), *cdx_js(t, "cause") ? "  cause: " : "",
					cdx_js(t, "cause"));
		}
	}
	cJSON_Delete(d);
	cdx_orchestrator_free(o);
	return 0;
}
