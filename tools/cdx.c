/* cdx.c — the cdx command-line tool: global options, the command table
 * and help.  Each command lives in its own tools/cmd_*.c; the helpers they
 * share are in cli.c. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/diag.h"
#include "base/util.h"

const struct cli_command cli_commands[] = {
	{"validate", cmd_validate, "validate FILE... [--json]",
	 "usage: cdx validate FILE... [--json]\n"
	 "\n"
	 "Check pipeline files (and project files named cdx.yml, with every pipeline\n"
	 "they register) and report every problem as FILE:LINE:COL: message.\n"
	 "\n"
	 "  --json    print {\"valid\": BOOL, \"files\": [...]} with each problem\n"
	 "\n"
	 "Exit status: 0 all valid, 2 a problem was found.\n"},
	{"run", cmd_run,
	 "run FILE|NAME [-j N] [-k] [--var K=V]... [--only STAGE[/JOB]]... [--dry-run] [--json]\n"
	 "          [--play STAGE/JOB]... [--optimize LEVEL] [--shuffle SEED] [--workers]",
	 "usage: cdx run FILE|NAME [-j N] [-k] [--var K=V]... [--only STAGE[/JOB]]...\n"
	 "               [--output prefix|group|quiet] [--optimize LEVEL] [--shuffle SEED]\n"
	 "               [--dry-run] [--json]\n"
	 "\n"
	 "Run a pipeline, given as a file or as a name registered in cdx.yml. A job\n"
	 "starts as soon as its own needs are done; among ready jobs the one with the\n"
	 "longest remaining path (measured history, else duration_hint) goes first.\n"
	 "Every run, job and attempt is recorded in the state store.\n"
	 "\n"
	 "  -j N, --jobs N   run at most N jobs at once (default: number of CPUs)\n"
	 "  --workers        run every job on the worker pool (cdx worker) of the\n"
	 "                   redis:// state, as `executor: workers` does\n"
	 "  -k, --keep-going after a failure, go on with every job that does not\n"
	 "                   depend on it (default: start nothing new)\n"
	 "  --var K=V        set variable K for this run, over the file's (repeatable)\n"
	 "  --only SEL       run only stage SEL or job SEL=STAGE/JOB, with its needs\n"
	 "  --play STAGE/JOB start manual job STAGE/JOB without waiting for cdx play\n"
	 "  --output MODE    job output: prefix (default), group, or quiet\n"
	 "  --grace DURATION between SIGTERM and SIGKILL on timeout or cancel (5s)\n"
	 "  --optimize LEVEL run the pipeline as `cdx optimize --level LEVEL` rewrites\n"
	 "                   it (conservative, moderate or aggressive); the rewritten\n"
	 "                   edges are counted on standard error\n"
	 "  --shuffle SEED   start ready jobs in a random order drawn from SEED (a\n"
	 "                   whole number; the same seed, the same order), to expose\n"
	 "                   needs the pipeline forgot to declare\n"
	 "  --dry-run        print the plan and run nothing: start order, each job's\n"
	 "                   needs, the critical path and its length, the maximum\n"
	 "                   parallelism and the predicted makespan for N workers\n"
	 "  --json           one JSON event per line (with --dry-run: the plan)\n"
	 "\n"
	 "SIGINT or SIGTERM cancels: running jobs get SIGTERM, then SIGKILL after 5 s;\n"
	 "a second Ctrl-C kills at once.\n"
	 "\n"
	 "Exit status: 0 success, 1 a job failed or the pipeline timed out, 2 usage\n"
	 "or pipeline error, 4 state store unreachable, 130 interrupted.\n"},
	{"optimize", cmd_optimize, "optimize FILE|NAME [--level LEVEL] [--workers P] [-o OUT.yml] [--json]",
	 "usage: cdx optimize FILE|NAME [--level conservative|moderate|aggressive]\n"
	 "                    [--workers P] [-o OUT.yml] [--json]\n"
	 "\n"
	 "Analyse a pipeline's schedule with the weights cdx run uses (the median of\n"
	 "each job's recent successful attempts in the state store, else\n"
	 "duration_hint, else 1 s) and rewrite it to finish sooner: total work,\n"
	 "critical path, useful parallelism, idle worker time behind stage barriers,\n"
	 "the jobs that bound the makespan, the makespan predicted on P workers\n"
	 "before and after, every rewritten edge with its reason, suggestions, and\n"
	 "each job's CPU and memory from history.\n"
	 "\n"
	 "  --level LEVEL    conservative: the same graph, jobs listed in the order\n"
	 "                   cdx starts them; moderate (default): also replace\n"
	 "                   implicit stage barriers by job-level needs where the\n"
	 "                   jobs declare inputs: and outputs: and do not conflict;\n"
	 "                   aggressive: also drop implicit barriers without that\n"
	 "                   evidence (written needs stay; each such edge is unsafe)\n"
	 "  --workers P, -j P  predict for P workers (default: number of CPUs)\n"
	 "  -o OUT.yml       write the optimized pipeline (it validates and runs the\n"
	 "                   same jobs); -o - prints it and nothing else\n"
	 "  --json           print the whole result as JSON\n"
	 "\n"
	 "Exit status: 0 done, 2 usage or pipeline error (FILE:LINE:COL), or the\n"
	 "output cannot be written, 4 the state store cannot be read.\n"},
	{"runs", cmd_runs, "runs [PIPELINE] [-n N] [--json]",
	 "usage: cdx runs [PIPELINE] [-n N] [--json]\n"
	 "\n"
	 "List recorded runs, newest first (default: the last 20). A run whose owner\n"
	 "died before ending it reads 'interrupted'.\n"},
	{"status", cmd_status, "status RUN_ID [--json]",
	 "usage: cdx status RUN_ID [--json]\n"
	 "\n"
	 "Show one recorded run: its status and every job with its attempts.\n"},
	{"logs", cmd_logs, "logs RUN_ID STAGE/JOB [--attempt N] [--follow]",
	 "usage: cdx logs RUN_ID STAGE/JOB [--attempt N] [--follow]\n"
	 "\n"
	 "Print the log of a job's attempt (default: its last), secrets masked.\n"
	 "With a redis:// state the log is read from Redis, from any machine;\n"
	 "--follow, -f prints a running attempt's output as it comes, until the\n"
	 "attempt ends.\n"},
	{"worker", cmd_worker, "worker [--name NAME] [-j SLOTS] [--tags T,...] [--dir DIR]",
	 "usage: cdx worker [--name NAME] [-j SLOTS] [--tags T,...] [--dir DIR]\n"
	 "\n"
	 "Serve the worker pool of a redis:// state: take jobs of runs started with\n"
	 "cdx run --workers (or executor: workers) and run them in DIR (default: the\n"
	 "current directory), at most SLOTS at once (default 1); a job with tags:\n"
	 "goes only to a worker that has all of them.  Prints one line when ready.\n"
	 "SIGTERM drains (finishes the running jobs, takes no new ones, exits 0); a\n"
	 "second SIGTERM or SIGQUIT cancels its jobs, which go back to the pool.\n"
	 "A job whose pipeline file or git commit differs here from the run's is\n"
	 "refused, naming both.\n"
	 "\n"
	 "  --name NAME      its name in the pool (default HOST:PID)\n"
	 "  -j SLOTS         jobs at once\n"
	 "  --tags T,...     what it offers (names)\n"
	 "  --dir DIR        the workspace\n"
	 "\n"
	 "Exit status: 0 drained, 2 not a redis:// state or a bad option, 4 Redis\n"
	 "unreachable, 130 cancelled.\n"},
	{"workers", cmd_workers, "workers [--json]",
	 "usage: cdx workers [--json]\n"
	 "\n"
	 "List the pool's workers: name, host, tags, slots, busy, last heartbeat.\n"},
	{"artifacts", cmd_artifacts, "artifacts RUN_ID [STAGE/JOB] [-o DIR] [--list] [--json]",
	 "usage: cdx artifacts RUN_ID [STAGE/JOB] [-o DIR] [--list] [--json]\n"
	 "\n"
	 "Fetch the files a job kept with its run (its artifacts: key) into DIR\n"
	 "(default: the current directory); nothing is written outside DIR.\n"
	 "Without a job, list the run's jobs that kept artifacts.\n"
	 "\n"
	 "  -o, --output DIR  unpack into DIR (created when missing)\n"
	 "  --list            name the files instead of unpacking them\n"
	 "  --json            print the result as JSON\n"
	 "\n"
	 "Exit status: 0 done, 1 none kept (or expired, or damaged), 2 usage,\n"
	 "4 the state store cannot be read.\n"},
	{"play", cmd_play, "play RUN_ID STAGE/JOB",
	 "usage: cdx play RUN_ID STAGE/JOB\n"
	 "\n"
	 "Start a manual job (when: manual) of a run.  A run still going starts it and\n"
	 "cdx play waits for its result; in a run that has ended, the job runs now, here,\n"
	 "as a part of that run.  Exit status: the job's (0 passed, 1 failed).\n"},
	{"deploy", cmd_deploy, "deploy APP ENV VERSION [--strategy S] [--yes] [--wait [DUR]] [--hosts H] [--dry-run] [--json]",
	 "usage: cdx deploy APP ENV VERSION [options]\n"
	 "\n"
	 "Deploy VERSION of application APP to environment ENV (declared in cdx.yml)\n"
	 "with its strategy: blue_green, canary or rolling.  Hooks run in the\n"
	 "directory of cdx.yml; health checks verify each step; when verification\n"
	 "fails the previous version is put back (rollback: {on_failure: auto}).\n"
	 "Every transition is recorded before the action it announces.\n"
	 "\n"
	 "  --strategy S     blue_green, canary or rolling instead of the configured one\n"
	 "  --yes, -y        confirm a protected environment (or CDX_CONFIRM=1)\n"
	 "  --wait [DUR]     when another deployment holds the environment, queue\n"
	 "                   (oldest first) for DUR, or for ever; default: exit 3\n"
	 "  --reason TEXT    why, for the history\n"
	 "  --json           print the result as JSON\n"
	 "  --hosts H1,H2    only these hosts (rolling over hosts:); the others keep\n"
	 "                   what they run\n"
	 "  --dry-run        print the steps and, per host, the remote commands;\n"
	 "                   change nothing\n"
	 "\n"
	 "While a canary runs, `cdx promote APP ENV` skips its remaining pauses and\n"
	 "`cdx abort APP ENV` rolls it back; Ctrl-C also aborts and rolls back.\n"
	 "\n"
	 "Exit status: 0 deployed; 1 failed (rolled back, or left for a person; the\n"
	 "message says what serves); 2 usage, configuration, or a gate refused;\n"
	 "3 busy (the message names the holder); 4 state unreachable; 130\n"
	 "interrupted.\n"},
	{"deployments", cmd_deployments, "deployments [APP [ENV]] [-n N] [--json]",
	 "usage: cdx deployments [APP [ENV]] [-n N] [--json]\n"
	 "\n"
	 "List deployments and rollbacks, newest first: when, kind, from -> to,\n"
	 "state, who, duration, id, and the cause of a failure.\n"},
	{"promote", cmd_promote, "promote APP ENV",
	 "usage: cdx promote APP ENV\n"
	 "\n"
	 "Skip the remaining pauses of the canary in progress in APP/ENV (analysis\n"
	 "and health checks still run).\n"},
	{"abort", cmd_abort, "abort APP ENV",
	 "usage: cdx abort APP ENV\n"
	 "\n"
	 "Abort the deployment in progress in APP/ENV now: it rolls back.\n"},
	{"rollback", cmd_rollback,
	 "rollback APP ENV [--strategy immediate|gradual|blue_green] [--to VERSION] [--dry-run]",
	 "usage: cdx rollback APP ENV [options]\n"
	 "\n"
	 "Put an earlier version back: by default the newest version that succeeded\n"
	 "in APP/ENV before the one serving now.  The plan (what changes, from which\n"
	 "version to which, on which slots or instances) is validated first: the\n"
	 "target was deployed here and its release is present or can be reinstalled,\n"
	 "the lock is free, and the last deployment is not frozen after an\n"
	 "irreversible step.  Afterwards the health of what serves is checked.\n"
	 "\n"
	 "  --strategy S        immediate (everything at once, no pauses, no analysis;\n"
	 "                      the default unless rollback: {strategy:} says), gradual\n"
	 "                      (steps with health between), blue_green (switch to the\n"
	 "                      slot holding the version, reinstalled if not warm)\n"
	 "  --to VERSION        go back to this version\n"
	 "  --deployment ID     undo this deployment: back to the version before it\n"
	 "  --instances A,B     only these instances (rolling environments)\n"
	 "  --hosts A,B         the same, for a rolling environment over hosts:\n"
	 "  --dry-run, -n       print the plan and its problems; change nothing\n"
	 "  --force             roll back a deployment frozen after an irreversible step\n"
	 "  --reason TEXT       why, for the history\n"
	 "  --wait [DUR]        queue for the lock like cdx deploy --wait\n"
	 "  --json              the plan and result as JSON\n"
	 "\n"
	 "Exit status: 0 rolled back (or a valid dry run); 1 the rollback failed; 2 it\n"
	 "was refused (the message says why); 3 busy; 4 state unreachable.\n"},
	{"history", cmd_history, "history APP ENV [--json]",
	 "usage: cdx history APP ENV [--json]\n"
	 "\n"
	 "Every deployment and rollback of APP/ENV, oldest first: who (user@host),\n"
	 "when, from -> to, why (the reason given or the automatic cause), the\n"
	 "result and the duration.  The history is append-only.\n"},
	{"scale-down", cmd_scale_down, "scale-down APP ENV SLOT VERSION DELAY_MS",
	 "usage: cdx scale-down APP ENV SLOT VERSION DELAY_MS\n"
	 "\n"
	 "Wait DELAY_MS, then stop SLOT of APP/ENV if it still holds VERSION and\n"
	 "takes no traffic.  cdx deploy starts it, detached, when a blue-green or\n"
	 "canary deployment leaves the old slot warm for scale_down_delay.\n"},
	{"recover", cmd_recover, "recover [--json]",
	 "usage: cdx recover [--json]\n"
	 "\n"
	 "Find environments left mid-deployment by a process that died and bring\n"
	 "each back to its last version known good, or say what needs a person.\n"
	 "cdx deploy and cdx rollback do the same for their environment first.\n"
	 "Exit status: 0 all consistent, 1 one needs a person.\n"},
	{"health", cmd_health, "health PIPELINE [--window N] [--json] [--check] [--no-alerts]",
	 "usage: cdx health PIPELINE [--window N] [--json] [--check] [--no-alerts]\n"
	 "\n"
	 "Show how a pipeline is doing over its last N finished runs: healthy,\n"
	 "degraded, failing or unknown (thresholds in cdx.yml's monitoring:, see\n"
	 "cdx.yml(5)), with the reasons; runs and success rate, mean/p50/p95\n"
	 "duration and the trend against the N runs before; flaky jobs (passed only\n"
	 "on retry, or alternating) and the slowest jobs; the last failure with the\n"
	 "tail of its log; the alerts firing. The alerts of cdx.yml are evaluated\n"
	 "first (each incident is announced once, whoever evaluates).\n"
	 "\n"
	 "  --window N   runs to judge by (default: monitoring.window, else 20)\n"
	 "  --json       the health as JSON\n"
	 "  --check      exit 1 unless the pipeline is healthy\n"
	 "  --no-alerts  only read: do not evaluate the alerts\n"
	 "\n"
	 "Exit status: 0 (1 with --check when not healthy), 2 usage or configuration\n"
	 "error, 4 state store unreachable.\n"},
	{"monitor", cmd_monitor, "monitor PIPELINE [--follow] [--window N] [--json]",
	 "usage: cdx monitor PIPELINE [--follow] [--window N] [--json]\n"
	 "\n"
	 "Show the runs and job events of a pipeline: those of its last N runs\n"
	 "(default 5), and with --follow every new one as it is recorded, from this\n"
	 "or any other process using the same state store, until Ctrl-C. Alert and\n"
	 "deployment events are shown too; while following, alerts are evaluated\n"
	 "whenever a run or a deployment ends.\n"
	 "\n"
	 "  -f, --follow  keep watching\n"
	 "  --window N    how many recent runs to replay first\n"
	 "  --json        the records, one JSON object per line\n"},
	{"metrics", cmd_metrics, "metrics [--prometheus]",
	 "usage: cdx metrics [--prometheus]\n"
	 "\n"
	 "Print metrics of every pipeline and deployment in the state store: runs,\n"
	 "jobs and attempts by status, duration histograms, deployments and their\n"
	 "state changes, events, alerts firing.\n"
	 "\n"
	 "  --prometheus  the Prometheus text exposition format (0.0.4), with HELP\n"
	 "                and TYPE lines and histogram buckets, for a textfile\n"
	 "                collector or a scrape endpoint; without it, the samples\n"},
	{"serve", cmd_serve, "serve [--listen ADDR:PORT] [--token-file FILE]",
	 "usage: cdx serve [--listen ADDR:PORT] [--token-file FILE]\n"
	 "\n"
	 "Serve a live dashboard of the state store over HTTP: runs (/), a run\n"
	 "(/runs/RUN: its timeline and job logs as they are written), a pipeline's\n"
	 "health (/pipelines/NAME), deployments (/deployments, /deployments/APP/ENV),\n"
	 "workers (/workers), alerts (/alerts); the same as JSON under /api/ (what\n"
	 "the commands' --json print), /metrics (cdx metrics --prometheus) and\n"
	 "/events (server-sent events).  Actions (POST /api/runs/RUN/cancel,\n"
	 "/api/runs/RUN/jobs/STAGE/JOB/play, /api/deployments/APP/ENV/promote,\n"
	 "abort or rollback) need the token: \"Authorization: Bearer TOKEN\", or\n"
	 "log in at /login.  Without --token-file the server is read-only.\n"
	 "\n"
	 "  --listen ADDR:PORT  where to listen (default 127.0.0.1:8080; port 0:\n"
	 "                      any free one); an address other than loopback\n"
	 "                      needs --token-file\n"
	 "  --token-file FILE   the token (its first line, 16 characters or more)\n"
	 "\n"
	 "Runs until SIGINT or SIGTERM.  Exit status: 0 stopped, 1 cannot listen,\n"
	 "2 usage error, 4 state store unreachable.\n"},
	{"report", cmd_report,
	 "report PIPELINE [--run ID] [--type TYPE] [--format json|html|text] [-o FILE]",
	 "usage: cdx report PIPELINE [--run ID] [--type summary|detailed|performance]\n"
	 "                  [--format json|html|text] [-o FILE]\n"
	 "\n"
	 "Write a report on a pipeline's run (default: its latest) and its recent\n"
	 "history.\n"
	 "\n"
	 "  --type summary      status, duration, per-stage results (default)\n"
	 "  --type detailed     every job and attempt, exit codes, log tails, the\n"
	 "                      run's variables (secrets as ***)\n"
	 "  --type performance  critical path, parallel efficiency, queue wait, CPU\n"
	 "                      and max RSS per job, slowest jobs, duration trend\n"
	 "  --format json       JSON following docs/report.schema.json (default)\n"
	 "  --format html       one self-contained page: inline CSS and SVG, no\n"
	 "                      script, nothing from the network; a Gantt timeline\n"
	 "                      of jobs on their workers with the critical path\n"
	 "                      marked, and a duration trend chart\n"
	 "  --format text       plain text within 80 columns\n"
	 "  -o FILE             write FILE (atomically: a temporary file renamed)\n"
	 "                      instead of standard output\n"
	 "\n"
	 "Exit status: 0, 2 usage error or no such run, 4 state store unreachable.\n"},
	{"pipelines", cmd_pipelines, "pipelines [--json]",
	 "usage: cdx pipelines [--json]\n"
	 "\n"
	 "List the pipelines registered in the project file (cdx.yml, or --config),\n"
	 "with their files, stages and jobs.\n"},
	{"job", cmd_job, "job [--run ID --owner PID] [--override NAME]... STAGE/JOB",
	 "usage: cdx job [--run ID --owner PID] [--override NAME]... STAGE/JOB\n"
	 "\n"
	 "Run one job of a $(cdx-pipeline) rule: the recipes the make module writes\n"
	 "call this, with the job's definition in the spec store make holds for run ID\n"
	 "(see cdx-make(7)). The job runs through\n"
	 "the same runner as `cdx run` (timeouts, retries, logs, secret masking) and\n"
	 "is recorded as part of run ID, which make's process (--owner) owns: when\n"
	 "make exits, the run is closed with the status of its jobs.\n"
	 "\n"
	 "  --override NAME  take variable NAME from the environment (make passes\n"
	 "                   its command-line variables this way)\n"},
	{"plugin-path", cmd_plugin_path, "plugin-path",
	 "usage: cdx plugin-path\n"
	 "\n"
	 "Print the absolute path of the GNU Make module cdx.so, for\n"
	 "`load $(shell cdx plugin-path)` in a Makefile.\n"},
	{"state", cmd_state, "state copy SRC DST | state check [--repair] [STORE]",
	 "usage: cdx state copy SRC DST\n"
	 "       cdx state check [--repair] [STORE]\n"
	 "\n"
	 "copy: copy every record of state store SRC to DST, oldest first, e.g.\n"
	 "from file:.cdx to redis://host:6379 or back. Records DST holds already\n"
	 "are skipped, so a copy can be repeated; SRC is only read. Also loads\n"
	 "records that a run spilled to a local file store while Redis was\n"
	 "unreachable.\n"
	 "\n"
	 "check: read every record of a file store's journal (STORE, default the\n"
	 "--state one) and list the damaged ones (wrong checksum or framing) with\n"
	 "their byte offset; readers skip them with a warning. --repair moves them\n"
	 "to JOURNAL.damaged (never deleted) and leaves a journal that reads clean,\n"
	 "replaced crash-safely (written beside it, synced, renamed).\n"
	 "\n"
	 "Exit status: copy: 0 copied, 2 usage error or no SRC, 4 a store is\n"
	 "unreachable; check: 0 clean, 1 damage found (and with --repair moved\n"
	 "aside), 2 usage error, 4 the store cannot be read or repaired.\n"},
	{NULL, NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	const struct cli_command *c;
	fprintf(out, "usage: cdx [--config FILE] [--state URL] COMMAND [ARGS]\n\n"
		     "CI/CD automation for GNU Make users.\n\ncommands:\n");
	for (c = cli_commands; c->name; c++)
		fprintf(out, "  cdx %s\n", c->synopsis);
	fprintf(out, "  cdx help COMMAND\n  cdx --version\n\n"
		     "global options:\n"
		     "  --config FILE   project file (default: $CDX_CONFIG, else cdx.yml)\n"
		     "  --state URL     state store, file:DIR or redis://[USER:PASS@]HOST[:PORT][/DB]\n"
		     "                  (default: $CDX_STATE, else the project file's state:)\n\n"
		     "exit status: 0 success, 1 the work failed, 2 usage or configuration error,\n"
		     "3 busy, 4 state backend unreachable, 130 interrupted.\n"
		     "See cdx(1), cdx-pipeline(5), cdx-make(7).\n");
}

int cli_help_for(const char *name, FILE *out)
{
	const struct cli_command *c;
	for (c = cli_commands; c->name; c++) {
		if (strcmp(c->name, name) == 0) {
			fputs(c->help, out);
			return 0;
		}
	}
	cli_error("unknown command '%s' (see cdx --help)", name);
	return CDX_EUSAGE;
}


int cli_resolve_pipeline(struct cli *g, const char *cmd, const char *arg, char **path)
{
	struct cdx_project *pr;
	const char *found;
	if (access(arg, F_OK) == 0 || strchr(arg, '/') || strstr(arg, ".yml") || strstr(arg, ".yaml")) {
		*path = cdx_xstrdup(arg);
		return 0;
	}
	if (access(g->config, F_OK) != 0) {
		cli_error("%s: no file '%s' and no project file %s to look it up in", cmd, arg, g->config);
		return CDX_EUSAGE;
	}
	pr = cli_project(g);
	if (!pr)
		return CDX_EUSAGE;
	found = cdx_project_find(pr, arg);
	if (!found) {
		cli_error("%s: no file '%s' and no pipeline '%s' registered in %s", cmd, arg, arg, g->config);
		cdx_project_free(pr);
		return CDX_EUSAGE;
	}
	*path = cdx_xstrdup(found);
	cdx_project_free(pr);
	return 0;
}

/* the options before the command: --config, --state (which commands take
 * after their name too), --help, --version */
static const struct option global_longs[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, CLI_OPT_OWN},
	{0},
};

/* run command C with the arguments ARGV[0..ARGC) (ARGV[0] is its name) */
static int run_command(struct cli *g, const struct cli_command *c, int argc, char **argv)
{
	int i, rc;
	/* every command answers -h and --help, and does nothing else */
	for (i = 1; i < argc; i++)
		if (cli_is_help(argv[i]))
			return cli_help_for(c->name, stdout);
	rc = c->run(g, argc, argv);
	free(g->state_owned);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli g;
	struct cli_opts p;
	const struct cli_command *c;

	cli_init(&g);
	cli_opts_begin(&p, &g, NULL, argc, argv, "+h", global_longs, SIZE_MAX);
	while (cli_opts_next(&p)) {
		if (p.opt == 'h') {
			usage(stdout);
			return 0;
		}
		printf("cdx %s\n", CDX_VERSION); /* --version */
		return 0;
	}
	if (p.status)
		return p.status;
	/* the command and its arguments are argv[1 .. p.n_pos] */
	argc = (int)p.n_pos + 1;
	argv[argc] = NULL;
	if (argc < 2) {
		usage(stderr);
		return CDX_EUSAGE;
	}
	if (strcmp(argv[1], "version") == 0) {
		printf("cdx %s\n", CDX_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		return cli_help_for(argv[2], stdout);
	}
	for (c = cli_commands; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return run_command(&g, c, argc - 1, argv + 1);
	cli_error("unknown command '%s' (see cdx --help)", argv[1]);
	return CDX_EUSAGE;
}

void cli_when(double ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}
