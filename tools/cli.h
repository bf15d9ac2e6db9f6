/* cli.h — what the cdx tool's commands share: global options, argument
 * parsing helpers, diagnostics output, and the command table. */
#ifndef CDX_CLI_H
#define CDX_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/json.h"
#include "base/text.h" /* cdx_text_printf: every text printer of the commands */
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

/* ---- options: getopt_long, the same way for every command -----------------
 *
 *	static const struct option longs[] = {CLI_OPTION_JSON, {"window", required_argument, NULL, 'w'}, {0}};
 *	struct cli_opts p;
 *	cli_opts_begin(&p, g, "health", argc, argv, "", longs, 1);
 *	while (cli_opts_next(&p)) {
 *		switch (p.opt) { case CLI_OPT_JSON: json = true; break; ... }
 *	}
 *	if (p.status)
 *		return p.status;
 *	pipeline = p.n_pos ? argv[1] : NULL;
 *
 * Options and positional arguments mix in any order ("--" ends the
 * options); a value goes as "--opt=V" or "--opt V" ("-oV" or "-o V" for a
 * short one).  Long names are matched whole, never abbreviated.  The global
 * --config FILE and --state URL are taken here too and set G, so that they
 * may follow the command.  -h and --help are answered by main before a
 * command runs.  Errors are printed in the tool's usage style ("cdx CMD:
 * unknown option --x", "option --var needs a value", "unexpected argument
 * X") and end the loop with STATUS = CDX_EUSAGE. */

/* the value of the --json option in a command's table */
#define CLI_OPT_JSON 0x100
/* clang-format off */
#define CLI_OPTION_JSON {"json", no_argument, NULL, CLI_OPT_JSON}
/* clang-format on */
/* the first value a command may give its own long-only options */
#define CLI_OPT_OWN 0x200
/* the long options a command's table may hold */
#define CLI_OPTS_MAX 24

struct cli_opts {
	int opt;         /* the option found: its short letter or its value */
	const char *arg; /* its value, or NULL */
	int status;      /* 0, or CDX_EUSAGE once an error was printed */
	size_t n_pos;    /* positional arguments so far: argv[1 .. n_pos] */
	/* private */
	struct cli *g;
	const char *cmd;
	int argc;
	char **argv;
	size_t max_pos;
	bool ended; /* "--" was seen */
	char shorts[40];
	struct option longs[CLI_OPTS_MAX + 3];
};

/* cli_opts_begin: parse ARGV (ARGV[0] is the command CMD) with the short
 * options SHORTS (getopt syntax: "n:k") and the long options LONGS (ended
 * by a zero entry; NULL for none); at most MAX_POS positional arguments
 * (SIZE_MAX: any number), which are gathered, in order, at ARGV[1..] */
void cli_opts_begin(struct cli_opts *p, struct cli *g, const char *cmd, int argc, char **argv,
		    const char *shorts, const struct option *longs, size_t max_pos);
/* cli_opts_next: the next option in P->opt and P->arg; false at the end of
 * the arguments, or after an error (P->status) */
bool cli_opts_next(struct cli_opts *p);
/* cli_opts_take: the argument after the current option when ACCEPT says
 * it is the option's value (for an optional value given as "--opt V"),
 * consumed; else NULL */
const char *cli_opts_take(struct cli_opts *p, bool (*accept)(const char *arg));
/* cli_opts_wait: the value of --wait [DURATION] as P found it: *WAIT_MS =
 * the duration, or -1 (for ever); 0, or CDX_EUSAGE with the message printed */
int cli_opts_wait(struct cli_opts *p, long long *wait_ms);
/* cli_number: V as a whole number from MIN to MAX in *N; 0, or CDX_EUSAGE
 * after "cdx CMD: WHAT, not 'V'" */
int cli_number(const char *cmd, const char *what, const char *v, long min, long max, long *n);

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
int cmd_worker(struct cli *g, int argc, char **argv);
int cmd_workers(struct cli *g, int argc, char **argv);
int cmd_artifacts(struct cli *g, int argc, char **argv);
int cmd_play(struct cli *g, int argc, char **argv);
struct cdx_pipeline;
/* cli_run_one_job: job K of P alone (what it needs ran already) as a part
 * of run RUN_ID of STATE, with the outputs of the jobs it needs, played
 * when it is manual, its output to OUT (cmd_play.c).  0 it passed (or was
 * allowed to fail), 1 it failed, else an exit status. */
int cli_run_one_job(const char *state, const struct cdx_pipeline *p, size_t k, const char *run_id, FILE *out);
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
/* cli_when: MS since the epoch as local "YYYY-MM-DD HH:MM:SS" */
void cli_when(double ms, char *buf, size_t n);
/* cli_who: who record O names, in BUF (N bytes): "USER@HOST", and
 * " (claims NAME)" after it when O has a claimed_user; print it with
 * cdx_text_printf, as every value of a record */
const char *cli_who(const struct cJSON *o, char *buf, size_t n);
/* cli_print_json: O, indented, on stdout (the one JSON printer of the
 * commands' --json) */
void cli_print_json(const struct cJSON *o);
/* cli_open_orchestrator: the project file and state of G; 0, or the exit
 * status with the problem printed */
int cli_open_orchestrator(struct cli *g, const char *cmd, struct cdx_orchestrator **o);
/* cli_schedule_scale_down: the slot a deployment or rollback of APP/ENV
 * took the traffic from (SD, the result's "scale_down": slot, version,
 * delay_ms; NULL: none) stopped after its delay: now, or by a detached
 * `cdx scale-down` that sleeps first, so the command returns at once */
void cli_schedule_scale_down(struct cli *g, struct cdx_orchestrator *o, const char *app, const char *env,
			     const struct cJSON *sd);
/* cli_deployment_status: `cdx status ID` for a deployment id */
int cli_deployment_status(struct cli *g, const char *id, bool json);
/* cli_list_deployments: `cdx deployments` (HISTORY false: newest first, at
 * most LIMIT, 0 = all) or `cdx history` (true: APP/ENV, oldest first) as
 * CMD; the exit status */
int cli_list_deployments(struct cli *g, const char *cmd, const char *app, const char *env, size_t limit,
			 bool history, bool json);
/* cli_print_deployments: one line per deployment of ARR */
void cli_print_deployments(const struct cJSON *arr, bool newest_first);
int cmd_health(struct cli *g, int argc, char **argv);
int cmd_monitor(struct cli *g, int argc, char **argv);
int cmd_metrics(struct cli *g, int argc, char **argv);
int cmd_report(struct cli *g, int argc, char **argv);
int cmd_serve(struct cli *g, int argc, char **argv);
/* cli_evaluate_alerts: the end of a run (cdx run: its PIPELINE) or of a
 * deployment (cdx deploy, cdx rollback: NULL, the deployment alerts):
 * evaluate cdx.yml's alerts, best effort */
void cli_evaluate_alerts(struct cli *g, const char *pipeline);

#endif /* CDX_CLI_H */
