/* cdx.h — the public C API of libcdx: CI/CD automation for GNU Make users.
 *
 * libcdx loads pipeline files (YAML), validates them with precise
 * FILE:LINE:COL diagnostics, builds one job-level DAG and orders it by one
 * rule (longest remaining path first, ties by file order) that serves
 * `cdx run`, the make module and the optimizer alike.
 *
 * Conventions: every type is opaque and changed only through its routines.
 * Functions that can fail return 0 on success and -1 on failure (or a NULL
 * pointer), and describe the failure in a caller-supplied struct cdx_error
 * or, for file loading, in a struct cdx_diags that collects every problem
 * found in one pass. Every _new or _load has a _free that accepts NULL.
 * A "dict" result (SEED.md) is a cJSON tree the caller frees with
 * cJSON_Delete(). Strings returned as `const char *` belong to the object
 * they were read from and live as long as it does.
 */
#ifndef CDX_CDX_H
#define CDX_CDX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CDX_VERSION "0.1.0"

#if defined(__GNUC__)
#define CDX_API __attribute__((visibility("default")))
#else
#define CDX_API
#endif

struct cJSON;

/* Exit statuses of the cdx tool, and the codes of struct cdx_error. */
enum cdx_status {
	CDX_OK = 0,          /* success */
	CDX_EFAILED = 1,     /* the work failed: a job, a deployment */
	CDX_EUSAGE = 2,      /* usage or configuration error */
	CDX_EBUSY = 3,       /* another holder has the lock */
	CDX_ESTATE = 4,      /* state backend unreachable */
	CDX_EINTR = 130,     /* interrupted by a signal */
};

/* cdx_strstatus: a short lower-case description of CODE (static string). */
CDX_API const char *cdx_strstatus(int code);

#define CDX_ERRMAX 512

/* A single error: a code from enum cdx_status and a bounded message,
 * lower-case, problem first, no trailing full stop. */
struct cdx_error {
	int code;
	char msg[CDX_ERRMAX];
};

/* ---- diagnostics --------------------------------------------------------- */

/* One problem in a file. line and col are 1-based; 0 when unknown. */
struct cdx_diag {
	const char *file; /* the file as the user named it */
	int line;         /* 1-based line, 0 = whole file */
	int col;          /* 1-based column, 0 = whole line */
	const char *msg;  /* lower-case, problem first */
};

/* A list of problems, collected so that one pass reports them all. */
struct cdx_diags;

/* cdx_diags_new: an empty list; NULL when out of memory.
 * Free with cdx_diags_free(). */
CDX_API struct cdx_diags *cdx_diags_new(void);
CDX_API void cdx_diags_free(struct cdx_diags *d);
CDX_API size_t cdx_diags_count(const struct cdx_diags *d);
/* cdx_diags_get: the I-th problem in file and position order; the view
 * lives as long as D is neither freed nor added to. */
CDX_API const struct cdx_diag *cdx_diags_get(const struct cdx_diags *d, size_t i);

/* ---- pipelines ----------------------------------------------------------- */

struct cdx_pipeline;

/* cdx_pipeline_load: read, expand (includes, templates, matrices, YAML
 * merge keys) and validate the pipeline file PATH.  Returns the pipeline,
 * or NULL with every problem appended to DIAGS (which may be NULL if the
 * caller does not want them).  Free the result with cdx_pipeline_free(). */
CDX_API struct cdx_pipeline *cdx_pipeline_load(const char *path, struct cdx_diags *diags);

/* cdx_pipeline_load_mem: as cdx_pipeline_load, from LEN bytes at BUF that
 * claim to come from the file NAME (used in messages and to resolve
 * includes). */
CDX_API struct cdx_pipeline *cdx_pipeline_load_mem(const char *name, const char *buf, size_t len,
						   struct cdx_diags *diags);

CDX_API void cdx_pipeline_free(struct cdx_pipeline *p);

/* cdx_pipeline_validate: the number of problems in PATH (0 = valid), each
 * appended to DIAGS. */
CDX_API size_t cdx_pipeline_validate(const char *path, struct cdx_diags *diags);

CDX_API const char *cdx_pipeline_name(const struct cdx_pipeline *p);
CDX_API const char *cdx_pipeline_path(const struct cdx_pipeline *p);
CDX_API size_t cdx_pipeline_stage_count(const struct cdx_pipeline *p);
/* the I-th stage's name, in file order */
CDX_API const char *cdx_pipeline_stage_name(const struct cdx_pipeline *p, size_t i);
CDX_API size_t cdx_pipeline_job_count(const struct cdx_pipeline *p);
/* the I-th job's identity "STAGE/JOB", in file order (matrix jobs expanded) */
CDX_API const char *cdx_pipeline_job_id(const struct cdx_pipeline *p, size_t i);

/* the I-th job's script, as run by /bin/sh -e -c */
CDX_API const char *cdx_pipeline_job_script(const struct cdx_pipeline *p, size_t i);

/* cdx_pipeline_json: SEED.md's Pipeline.to_dict — the expanded pipeline
 * with secret values replaced by "***".  Caller frees with cJSON_Delete. */
CDX_API struct cJSON *cdx_pipeline_json(const struct cdx_pipeline *p);

/* cdx_pipeline_plan: the execution plan for WORKERS parallel workers
 * (0 = number of CPUs): start order by the ordering rule, each job's needs,
 * critical path and its length, levels, maximum width, total work and the
 * makespan predicted by list scheduling.  Weights are duration_hint, else
 * one second.  Caller frees with cJSON_Delete; NULL when out of memory. */
CDX_API struct cJSON *cdx_pipeline_plan(const struct cdx_pipeline *p, unsigned workers);

/* cdx_pipeline_plan_history: the same plan with the weights `cdx run` uses:
 * the median of each job's recent successful attempts recorded in the
 * store STATE (NULL = file:.cdx), else duration_hint, else one second.
 * A store that does not exist or cannot be read gives cdx_pipeline_plan's
 * weights; nothing is created. */
CDX_API struct cJSON *cdx_pipeline_plan_history(const struct cdx_pipeline *p, unsigned workers,
						const char *state);

/* ---- runs (SEED.md's Pipeline.execute / cancel / get_status) ------------ */

#include <stdio.h>

enum cdx_output {
	CDX_OUTPUT_PREFIX, /* job output line by line, prefixed "[stage/job] " */
	CDX_OUTPUT_GROUP,  /* each job's output in one block when it ends */
	CDX_OUTPUT_QUIET,  /* no job output (it is still in the logs) */
	CDX_OUTPUT_RAW,    /* job output as it comes, as make shows recipes' */
};

struct cdx_run_options {
	unsigned jobs;             /* parallel jobs; 0 = number of CPUs */
	int keep_going;            /* go on with what does not depend on a failure */
	const char *const *vars;   /* "K=V" overrides, NULL-terminated, or NULL */
	const char *const *only;   /* "STAGE" or "STAGE/JOB" to run (with their
				      needs), NULL-terminated, or NULL = all */
	enum cdx_output output;    /* how job output is shown */
	int json;                  /* JSON events, one per line, instead of text */
	const char *state;         /* state URL; NULL = "file:.cdx" */
	long grace_ms;             /* SIGTERM to SIGKILL; < 0 = 5000 */
	FILE *out;                 /* progress and job output; NULL = stdout */
	int tty;                   /* show a live status line (out is a terminal) */
	int shuffle;               /* start ready jobs in a random order (to
				      expose needs a pipeline forgot) ... */
	unsigned long long shuffle_seed; /* ... drawn from this seed: the same
				      seed gives the same order */
	int pool;                  /* run every job on the pool's workers (a
				      redis:// state; also `executor: workers`) */
	const char *const *play;   /* "STAGE/JOB" manual jobs to start without
				      waiting for cdx play, NULL-terminated, or NULL */
};

struct cdx_run;

/* cdx_run_new: prepare a run of P (which must outlive it) with options O
 * (copied).  NULL with ERR set (CDX_EUSAGE: a bad --var or --only).
 * Free with cdx_run_free(). */
CDX_API struct cdx_run *cdx_run_new(const struct cdx_pipeline *p, const struct cdx_run_options *o,
				    struct cdx_error *err);
/* cdx_run_execute: run it to the end, recording it in the state store.
 * Returns the exit status (0 success, 1 a job failed or the pipeline timed
 * out, 130 cancelled), or -1 with ERR set when it could not run at all
 * (CDX_ESTATE: the store is unreachable; nothing was started). */
CDX_API int cdx_run_execute(struct cdx_run *r, struct cdx_error *err);
/* cdx_run_cancel: ask the run to stop: running jobs get SIGTERM, then
 * SIGKILL after the grace period; a second call kills at once.
 * Async-signal-safe: it may be called from a signal handler. */
CDX_API void cdx_run_cancel(struct cdx_run *r);
CDX_API const char *cdx_run_id(const struct cdx_run *r);
/* "pending", "running", "success", "failed", "cancelled" or "timeout" */
CDX_API const char *cdx_run_status(const struct cdx_run *r);
/* SEED.md's get_results/to_dict: the run and every job with its attempts.
 * Caller frees with cJSON_Delete. */
CDX_API struct cJSON *cdx_run_json(const struct cdx_run *r);
CDX_API void cdx_run_free(struct cdx_run *r);
/* cdx_pipeline_run: new, execute and free in one call */
CDX_API int cdx_pipeline_run(const struct cdx_pipeline *p, const struct cdx_run_options *o,
			     struct cdx_error *err);

/* ---- recorded history ---------------------------------------------------- */

/* cdx_runs_list: the LIMIT most recent runs (0 = all) of PIPELINE (NULL =
 * every pipeline) in the store STATE, newest first, as a JSON array; a run
 * whose owner died without ending it reads "interrupted".  NULL with ERR
 * set (CDX_ESTATE) when the store cannot be read. */
CDX_API struct cJSON *cdx_runs_list(const char *state, const char *pipeline, size_t limit,
				    struct cdx_error *err);
/* cdx_run_load: one recorded run with its jobs and attempts; NULL with ERR
 * set (CDX_EUSAGE: no such run). */
CDX_API struct cJSON *cdx_run_load(const char *state, const char *run_id, struct cdx_error *err);

/* ---- the project file (cdx.yml) ----------------------------------------- */

/* SEED.md's PipelineManager: cdx.yml names the state store and registers
 * pipelines by name (`pipelines: {ci: ci.yml}`, paths relative to it). */
struct cdx_project;

/* cdx_project_load: read and validate the project file PATH.  NULL with
 * every problem appended to DIAGS.  Free with cdx_project_free(). */
CDX_API struct cdx_project *cdx_project_load(const char *path, struct cdx_diags *diags);
CDX_API void cdx_project_free(struct cdx_project *pr);
/* the state URL, "file:.cdx" resolved against the project's directory
 * when the file does not say */
CDX_API const char *cdx_project_state(const struct cdx_project *pr);
CDX_API size_t cdx_project_pipeline_count(const struct cdx_project *pr);
CDX_API const char *cdx_project_pipeline_name(const struct cdx_project *pr, size_t i);
/* the I-th pipeline's file, resolved against the project's directory */
CDX_API const char *cdx_project_pipeline_path(const struct cdx_project *pr, size_t i);
/* cdx_project_find: the file of the pipeline registered as NAME, or NULL */
CDX_API const char *cdx_project_find(const struct cdx_project *pr, const char *name);

/* ---- deployments (SEED.md's DeploymentOrchestrator, Deployment, Environment) */

/* An orchestrator: the project file's applications and the state store. */
struct cdx_orchestrator;

/* cdx_orchestrator_open: load project file CONFIG (NULL: cdx.yml) and open
 * STATE (NULL: the project's state).  -1 with ERR set: CDX_EUSAGE for an
 * invalid project file (its first problem as FILE:LINE:COL: message),
 * CDX_ESTATE when the store cannot be reached.  Free with
 * cdx_orchestrator_free(). */
CDX_API int cdx_orchestrator_open(const char *config, const char *state, struct cdx_orchestrator **out,
				  struct cdx_error *err);
CDX_API void cdx_orchestrator_free(struct cdx_orchestrator *o);

struct cdx_deploy_options {
	const char *strategy; /* override the environment's, or NULL */
	int confirmed;        /* a protected environment was confirmed (--yes) */
	long long wait_ms;    /* for the lock: 0 not at all, < 0 for ever */
	const char *reason;   /* why, for the history, or NULL */
	FILE *progress;       /* a line per transition, or NULL */
	const char *hosts;    /* "web1,web2": only these hosts (rolling over hosts:), or NULL: all */
	FILE *dry_run;        /* print the steps and, per host, the remote commands here instead;
			       * nothing is locked, recorded, run or changed; or NULL */
};

/* cdx_deploy: deploy VERSION of APP to ENV with its strategy; on failed
 * verification put the previous version back (on_failure: auto).  Returns
 * an enum cdx_status: 0 succeeded; 1 failed (ERR says what failed and what
 * now serves); 2 bad arguments or a gate refused; 3 busy (ERR names the
 * holder); 4 state unreachable; 130 interrupted (rolled back).  *RESULT
 * receives the deployment as JSON when one was started (caller frees with
 * cJSON_Delete), else NULL. */
CDX_API int cdx_deploy(struct cdx_orchestrator *o, const char *app, const char *env, const char *version,
		       const struct cdx_deploy_options *opt, struct cJSON **result, struct cdx_error *err);

/* cdx_deployments_list: deployments and rollbacks (newest last), of APP and
 * ENV when non-NULL, at most LIMIT (0: all) of the newest; a JSON array the
 * caller frees, or NULL with ERR set */
CDX_API struct cJSON *cdx_deployments_list(struct cdx_orchestrator *o, const char *app, const char *env,
					   size_t limit, struct cdx_error *err);
/* cdx_deployment_status: deployment ID with every transition and check, or
 * NULL with ERR set (CDX_EUSAGE: no such deployment) */
CDX_API struct cJSON *cdx_deployment_status(struct cdx_orchestrator *o, const char *id, struct cdx_error *err);
/* cdx_current_version: the version serving APP in ENV (caller frees), or
 * NULL: nothing deployed (ERR code 0) or an error (ERR code set) */
CDX_API char *cdx_current_version(struct cdx_orchestrator *o, const char *app, const char *env,
				  struct cdx_error *err);
/* cdx_environment_config: ENV of APP as JSON (get_config); NULL with ERR */
CDX_API struct cJSON *cdx_environment_config(struct cdx_orchestrator *o, const char *app, const char *env,
					     struct cdx_error *err);
/* cdx_environment_check_health: run ENV's health checks against every slot
 * or instance that runs a version; JSON {healthy, targets: [...]}; NULL
 * with ERR */
CDX_API struct cJSON *cdx_environment_check_health(struct cdx_orchestrator *o, const char *app, const char *env,
						   struct cdx_error *err);
/* cdx_deploy_control: ACTION "promote" (skip the remaining pauses) or
 * "abort" (roll back now) the deployment in progress in APP/ENV: recorded
 * in the store, where the deployment reads it from any host, and signalled
 * to its process too when it runs on this host.  0, or an enum
 * cdx_status with ERR set (CDX_EUSAGE: none in progress) */
CDX_API int cdx_deploy_control(struct cdx_orchestrator *o, const char *app, const char *env, const char *action,
			       struct cdx_error *err);

/* cdx_scale_down: stop SLOT of APP/ENV if it still holds VERSION and takes
 * no traffic (the end of scale_down_delay after a blue-green or canary
 * deployment, or a rollback between slots; cdx deploy and cdx rollback
 * schedule it).  CDX_SCALE_DOWN_STOPPED; CDX_SCALE_DOWN_NOTHING: nothing
 * to do (or a deployment holds the environment); CDX_SCALE_DOWN_ERROR with
 * ERR. */
enum cdx_scale_down_result {
	CDX_SCALE_DOWN_ERROR = -1,
	CDX_SCALE_DOWN_STOPPED = 0,
	CDX_SCALE_DOWN_NOTHING = 1,
};
CDX_API enum cdx_scale_down_result cdx_scale_down(struct cdx_orchestrator *o, const char *app,
						  const char *env, const char *slot, const char *version,
						  struct cdx_error *err);

/* cdx_recover: find every environment left mid-deployment by a process that
 * is gone and bring it back to its last version known good; one JSON entry
 * per environment {app, env, result: ok|recovered|in_progress|
 * needs_attention|error, serving, detail}.  *STATUS: 0, or 1 when one needs
 * a person.  NULL with ERR when the store fails. */
CDX_API struct cJSON *cdx_recover(struct cdx_orchestrator *o, FILE *progress, int *status, struct cdx_error *err);

/* ---- rollbacks (SEED.md's RollbackManager, RollbackStrategy, handle_rollback) */

struct cdx_rollback_options {
	const char *strategy;   /* immediate | gradual | blue_green; NULL: the environment's */
	const char *to;         /* the version to go back to; NULL: see below */
	const char *deployment; /* undo this deployment (back to its previous version) */
	const char *instances;  /* "a,b": only these instances (rolling), or NULL */
	int dry_run;            /* plan and validate only; change nothing */
	int force;              /* roll back a deployment frozen after an irreversible step */
	const char *reason;     /* why, for the history */
	long long wait_ms;      /* for the lock, as in cdx_deploy_options */
	FILE *progress;         /* a line per transition, or NULL */
};

/* cdx_rollback: roll APP/ENV back to OPT->to, the previous version of
 * OPT->deployment, or else the newest good release there that is not the
 * one serving now; then check the health of what serves.  Returns an
 * enum cdx_status like cdx_deploy (2 also when validation refuses: ERR says
 * why).  *RESULT: the plan, with id, state, serving and duration_ms once
 * executed, and scale_down {slot, version, delay_ms} when a slot lost the
 * traffic (as for cdx_deploy; caller frees). */
CDX_API int cdx_rollback(struct cdx_orchestrator *o, const char *app, const char *env,
			 const struct cdx_rollback_options *opt, struct cJSON **result, struct cdx_error *err);
/* cdx_rollback_plan: what a rollback would change: {app, env, from, to,
 * strategy, targets: [{name, version, action}], problems: [...], ok};
 * caller frees; NULL with ERR */
CDX_API struct cJSON *cdx_rollback_plan(struct cdx_orchestrator *o, const char *app, const char *env,
					const struct cdx_rollback_options *opt, struct cdx_error *err);
/* cdx_rollback_validate: preconditions: {ok, problems, plan} (the lock
 * included); caller frees; NULL with ERR */
CDX_API struct cJSON *cdx_rollback_validate(struct cdx_orchestrator *o, const char *app, const char *env,
					    const struct cdx_rollback_options *opt, struct cdx_error *err);
/* cdx_rollback_history: every deployment and rollback of APP/ENV (both
 * NULL: all), oldest first, as cdx_deployments_list; caller frees */
CDX_API struct cJSON *cdx_rollback_history(struct cdx_orchestrator *o, const char *app, const char *env,
					   struct cdx_error *err);
/* cdx_handle_rollback: SEED.md's handle_rollback: undo DEPLOYMENT_ID with
 * STRATEGY (NULL: the environment's); the result as JSON with "status" (an
 * enum cdx_status) and "error" when it failed; NULL only when no such
 * deployment exists (ERR set).  Caller frees. */
CDX_API struct cJSON *cdx_handle_rollback(struct cdx_orchestrator *o, const char *deployment_id,
					  const char *strategy, struct cdx_error *err);

/* ---- the optimizer (SEED.md's PerformanceOptimizer) ---------------------- */

/* How far cdx_optimize may rewrite a pipeline:
 *  - CONSERVATIVE: the same graph; jobs are listed in each stage in the
 *    order the ordering rule starts them (no change of meaning);
 *  - MODERATE: also replaces implicit stage barriers (a stage without
 *    `needs:` waits for the one before) by job-level needs, where the jobs
 *    involved declare `inputs:` and `outputs:` and the declarations show
 *    that the job does not read, or write over, what an earlier job
 *    writes or reads — sound by declared evidence;
 *  - AGGRESSIVE: also drops implicit barriers without evidence (written
 *    needs stay), each such edge reported as unsafe. */
enum cdx_opt_level {
	CDX_OPT_CONSERVATIVE = 0,
	CDX_OPT_MODERATE = 1,
	CDX_OPT_AGGRESSIVE = 2,
};

/* cdx_opt_level_parse: "conservative", "moderate" or "aggressive" into
 * *LEVEL; 0, or -1 when S is none of them. */
CDX_API int cdx_opt_level_parse(const char *s, enum cdx_opt_level *level);
/* cdx_opt_level_name: the word for LEVEL (static string) */
CDX_API const char *cdx_opt_level_name(enum cdx_opt_level level);

struct cdx_optimize_options {
	enum cdx_opt_level level;
	unsigned workers;     /* workers to predict for; 0 = number of CPUs */
	const char *state;    /* history store; NULL = "file:.cdx"; never created */
	const char *out_name; /* the optimized file's name, for its header
				 comment and positions in messages (NULL =
				 the pipeline's path) */
};

/* cdx_optimize_analyze: SEED.md's analyze_pipeline_performance for WORKERS
 * workers (0 = CPUs), with the weights `cdx run` uses (the median of each
 * job's recent successful attempts in the store STATE, else
 * duration_hint, else 1 s): total work, critical path, useful parallelism
 * (work / critical path), lower bound max(critical path, work / workers),
 * the makespan predicted by list scheduling with the ordering rule, idle
 * worker time and the part of it caused by implicit stage barriers, the
 * jobs that bound the simulated makespan, the makespan for 1, 2, 4 ...
 * workers and the knee (the fewest workers within 5% of unlimited ones),
 * jobs worth splitting, each job's weight and its source, and each job's
 * CPU and memory from history ("resources", SEED.md's
 * monitor_resource_usage).  Caller frees with cJSON_Delete; NULL with ERR
 * set (CDX_ESTATE) when the store exists but cannot be read. */
CDX_API struct cJSON *cdx_optimize_analyze(const struct cdx_pipeline *p, unsigned workers, const char *state,
					   struct cdx_error *err);

/* cdx_optimize_suggest: SEED.md's suggest_improvements: from an analysis
 * (cdx_optimize_analyze, or the "before" of cdx_optimize) a JSON array of
 * sentences: jobs to split, the worker count past which more workers gain
 * under 5%, barriers that idle workers and the declarations that would
 * lift them, jobs heavy in memory or mostly waiting.  Never NULL for a
 * valid analysis; caller frees with cJSON_Delete. */
CDX_API struct cJSON *cdx_optimize_suggest(const struct cJSON *analysis);

/* cdx_optimize: SEED.md's optimize_pipeline_performance: the pipeline P
 * rewritten at level O->level as a pipeline file that cdx validate accepts
 * and that runs the same jobs ("yaml", a string), with "level",
 * "workers", "before" and "after" (analyses), "predicted_makespan_before_s",
 * "predicted_makespan_after_s", "speedup", "critical_path" (after),
 * "edges" (every rewritten edge: job, need, change "added" or "removed",
 * reason, unsafe), "suggestions" and "resources".  The text is checked by
 * loading it before it is returned.  Caller frees with cJSON_Delete; NULL
 * with ERR set when the store cannot be read (CDX_ESTATE) or the pipeline
 * is too large to rewrite (CDX_EUSAGE). */
CDX_API struct cJSON *cdx_optimize(const struct cdx_pipeline *p, const struct cdx_optimize_options *o,
				   struct cdx_error *err);
/* ---- monitoring and reports (SEED.md's PipelineMonitor, PipelineReport) -- */

/* cdx_monitor_health: the health of PIPELINE from the runs recorded in the
 * store STATE (NULL = file:.cdx), over its last WINDOW finished runs (0 =
 * the project's monitoring.window, else 20), with the thresholds of the
 * project PR (NULL = the defaults; see cdx.yml(5)): status "healthy",
 * "degraded", "failing" or "unknown" with the reasons, runs, success
 * rate, mean/p50/p95 duration, the trend against the window before, flaky
 * and slowest jobs, the last failure with the tail of its log, and the
 * alerts firing.  Caller frees with cJSON_Delete; NULL with ERR set
 * (CDX_EUSAGE: bad name, CDX_ESTATE: store unreadable).  Read only. */
CDX_API struct cJSON *cdx_monitor_health(const char *state, const char *pipeline, const struct cdx_project *pr,
					 size_t window, struct cdx_error *err);

/* cdx_monitor_alerts: evaluate the alerts of PR's `monitoring:` for
 * PIPELINE (NULL: the rules that name a pipeline) and for deployments:
 * an alert whose condition holds and that is not firing fires (its notify
 * command runs with the alert JSON on stdin; an event of kind "alert" is
 * recorded), one that fires and no longer holds resolves (kind
 * "alert_resolved").  Returns the events made, as an array (often empty;
 * caller frees with cJSON_Delete), or NULL with ERR set. */
CDX_API struct cJSON *cdx_monitor_alerts(const char *state, const struct cdx_project *pr, const char *pipeline,
					 struct cdx_error *err);

/* cdx_monitor_metrics: every pipeline and deployment in STATE as
 * Prometheus text exposition (version 0.0.4): counters of runs, jobs and
 * attempts by status, duration histograms, deployment counts, alerts
 * firing.  Caller frees with free(); NULL with ERR set. */
CDX_API char *cdx_monitor_metrics(const char *state, struct cdx_error *err);

/* cdx_report_generate: a report on PIPELINE's run RUN_ID (NULL = its
 * latest) and its recent history in STATE.  TYPE is "summary",
 * "detailed" or "performance" (NULL = summary), FORMAT "json", "html" or
 * "text" (NULL = json); see cdx(1) and docs/report.schema.json.  Returns
 * the report (caller frees with free()), or NULL with ERR set
 * (CDX_EUSAGE: bad type, format or name, or no such run). */
CDX_API char *cdx_report_generate(const char *state, const char *pipeline, const char *run_id, const char *type,
				  const char *format, struct cdx_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CDX_CDX_H */
