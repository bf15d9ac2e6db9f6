/* cli.h — what the cdx tool's commands share: global options, argument
 * parsing helpers, diagnostics output, and the command table. */
#ifndef CDX_CLI_H
#define CDX_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "cdx.h"

struct cli {
	const char *config; /* --config FILE, CDX_CONFIG, default cdx.yml */
	const char *state;  /* --state URL, CDX_STATE, or NULL */
	bool config_given;  /* the user named the config explicitly */
	char *state_owned;  /* state URL read from the project file */
};

struct cli_command {
	const char *name;
	int (*run)(struct cli *g, int argc, char **argv); /* argv[0] is the command */
	const char *synopsis;
	const char *help; /* full text of `cdx help NAME` */
};

extern const struct cli_command cli_commands[];

/* cli_init: G from the environment: CDX_CONFIG (default cdx.yml) and
 * CDX_STATE (empty = unset); the command line may override both */
void cli_init(struct cli *g);
/* cli_usage_error: print "cdx CMD: MESSAGE" and a hint; returns CDX_EUSAGE */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_error: print "cdx: MESSAGE" to stderr */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_help_for: print the help of command NAME; 0, or 2 when unknown */
int cli_help_for(const char *name, FILE *out);
/* cli_print_diags: each problem as FILE:LINE:COL: message on stderr */
void cli_print_diags(const struct cdx_diags *d);
/* cli_is_help: argument is -h or --help */
bool cli_is_help(const char *arg);
/* cli_option_value: for "--opt=V" or "--opt V" forms; returns V and
 * advances *I, or NULL (with a usage message) when missing */
const char *cli_option_value(const char *cmd, int argc, char **argv, int *i, const char *name);
/* cli_resolve_pipeline: ARG as a file, else as a pipeline registered in the
 * project file; *PATH receives a malloc'd path.  0, or CDX_EUSAGE with a
 * message printed. */
int cli_resolve_pipeline(struct cli *g, const char *cmd, const char *arg, char **path);

/* cli_execute: execute run R with SIGINT/SIGTERM cancelling it (a second
 * one kills at once); the exit status, errors printed as "cdx CMD: ..." */
int cli_execute(const char *cmd, struct cdx_run *r);
/* cli_project: the project file G->config, loaded (free with
 * cdx_project_free), or NULL with its problems printed */
struct cdx_project *cli_project(struct cli *g);
/* cli_state: the state URL: --state, $CDX_STATE, the project file's
 * `state:`, else file:.cdx (static or owned by G); NULL, with the
 * problems printed, when the project file is invalid */
const char *cli_state(struct cli *g);

int cmd_validate(struct cli *g, int argc, char **argv);
int cmd_run(struct cli *g, int argc, char **argv);
int cmd_pipelines(struct cli *g, int argc, char **argv);
int cmd_plugin_path(struct cli *g, int argc, char **argv);
int cmd_runs(struct cli *g, int argc, char **argv);
int cmd_status(struct cli *g, int argc, char **argv);
int cmd_logs(struct cli *g, int argc, char **argv);
int cmd_job(struct cli *g, int argc, char **argv);
int cmd_state(struct cli *g, int argc, char **argv);
int cmd_optimize(struct cli *g, int argc, char **argv);
int cmd_deploy(struct cli *g, int argc, char **argv);
int cmd_deployments(struct cli *g, int argc, char **argv);
int cmd_promote(struct cli *g, int argc, char **argv);
int cmd_abort(struct cli *g, int argc, char **argv);
int cmd_recover(struct cli *g, int argc, char **argv);
int cmd_scale_down(struct cli *g, int argc, char **argv);
int cmd_rollback(struct cli *g, int argc, char **argv);
int cmd_history(struct cli *g, int argc, char **argv);

struct cJSON;
/* cli_str: the string K of O, "" when absent; cli_num: the number, 0 */
const char *cli_str(const struct cJSON *o, const char *k);
double cli_num(const struct cJSON *o, const char *k);
/* cli_when: MS since the epoch as local "YYYY-MM-DD HH:MM:SS" */
void cli_when(double ms, char *buf, size_t n);
/* cli_print_json: O, indented, on stdout */
void cli_print_json(const struct cJSON *o);
/* cli_open_orchestrator: the project file and state of G; 0, or the exit
 * status with the problem printed */
int cli_open_orchestrator(struct cli *g, const char *cmd, struct cdx_orchestrator **o);
/* cli_deployment_status: `cdx status ID` for a deployment id */
int cli_deployment_status(struct cli *g, const char *id, bool json);
/* cli_print_deployments: one line per deployment of ARR */
void cli_print_deployments(const struct cJSON *arr, bool newest_first);
int cmd_health(struct cli *g, int argc, char **argv);
int cmd_monitor(struct cli *g, int argc, char **argv);
int cmd_metrics(struct cli *g, int argc, char **argv);
int cmd_report(struct cli *g, int argc, char **argv);
/* cli_evaluate_alerts: the end of a run (cdx run: its PIPELINE) or of a
 * deployment (cdx deploy, cdx rollback: NULL, the deployment alerts):
 * evaluate cdx.yml's alerts, best effort */
void cli_evaluate_alerts(struct cli *g, const char *pipeline);

#endif /* CDX_CLI_H */
