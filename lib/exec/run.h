/* run.h — internal pieces of a pipeline run (run.c) shared with the way it
 * is shown (run_show.c), and what the make module's `cdx job` sets.
 *
 * A run's fields are run.c's and run_show.c's; everyone else uses the
 * functions of include/cdx.h and the setter below.
 */
#ifndef CDX_RUN_H
#define CDX_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cdx.h"
#include "pipeline/pipeline.h"
#include "exec/decide.h"
#include "exec/logstream.h"
#include "exec/runner.h"
#include "exec/sched.h"

/* One job of a make-driven run: make runs each job as its own `cdx job`
 * process, all of them parts of one run that make owns. */
struct cdx_make_job {
	const char *run_id; /* join this run instead of starting one, or NULL */
	bool first;         /* this process writes the run record (the first job) */
	long owner_pid;     /* the run's owner (make), 0 = this process */
	size_t job_count;   /* jobs in the whole run, for its record; 0 = ours */
};

/* cdx_run_set_make_job: make R, before cdx_run_execute, one job of the
 * make-driven run MJ (borrowed; run_id copied): attempts and jobs are
 * recorded, the run's end is not (make's exit ends it) and no summary is
 * shown.  -1 with ERR set (CDX_EUSAGE) for a bad run id or a run that was
 * executed already; R is unchanged then. */
int cdx_run_set_make_job(struct cdx_run *r, const struct cdx_make_job *mj, struct cdx_error *err);

/* cdx_run_set_outputs_from: jobs (STAGE/JOB, NULL-terminated, borrowed
 * until R is freed) whose outputs the jobs of R get besides those of the
 * jobs they need in R's pipeline: a make job's needs (its spec lists them) */
void cdx_run_set_outputs_from(struct cdx_run *r, const char *const *ids);

/* cdx_run_set_played: job J of R, should rules or when: make it manual in
 * this run, is played from the start (a job run alone because it was
 * asked for by name: cdx play into an ended run, make NAME/STAGE/JOB) */
void cdx_run_set_played(struct cdx_run *r, size_t j);

struct job_run {
	int attempts;          /* attempts made */
	int64_t first_start_ms;/* wall clock of the first attempt */
	int64_t busy_ms;       /* sum of attempt wall times */
	struct cdx_buf out;    /* pending output: a partial line, or a group */
	cJSON *attempt_recs;   /* attempt records, for cdx_run_json */
	cJSON *after_rec;      /* how the current attempt's after_script ended, or NULL */
	bool manual_shown;     /* "start it with cdx play" was shown */
	char why[200];         /* why it ran or not, when not plainly (when:) */
	enum cdx_job_state state;
	int64_t ready_ns;      /* when it became ready (queue wait), 0 = unknown */
};

struct cdx_run {
	const struct cdx_pipeline *p;
	struct cdx_run_options o;
	char **argv_vars;       /* owned copies of o.vars */
	char id[64];
	volatile sig_atomic_t cancel;
	enum cdx_run_state state;
	bool executed;
	struct cdx_store *store;
	struct cdx_runner *runner;
	struct job_run *jobs;
	enum cdx_job_state *states;
	bool *wanted;
	size_t n_wanted, n_done;
	double *w, *prio;       /* per job weight (ms), per node priority */
	struct cdx_vars base;   /* pipeline variables resolved, then --var */
	struct cdx_vars over;   /* --var overrides (they win over job variables) */
	char **secrets;         /* NULL-terminated secret values */
	size_t n_secrets, cap_secrets;
	FILE *out;
	int64_t t0_ns, start_ms, end_ms, last_flush_ns;
	bool status_shown;      /* a live status line is on the terminal */
	/* scratch for prepare(): valid until the runner's start() returns */
	char **envp;
	size_t n_envp, cap_envp;
	char *log_path;
	char **argv;
	char *attempt_str;
	bool *log_dir_made;     /* per stage: its log directory exists */
	struct cdx_error store_err; /* first store failure, reported once */
	bool store_failed;
	size_t n_dropped;       /* records the store refused outright (not buffered) */
	struct cdx_slot *slot;  /* concurrency group slot, or NULL */
	/* one job of a make-driven run (cdx_run_set_make_job), else all zero */
	bool make_job;          /* record attempts and jobs only; no run end,
				   no summary (make's exit ends the run) */
	bool make_first;        /* with make_job: also write the run record */
	long owner_pid;         /* the run's owner (make), 0 = this process */
	size_t job_count;       /* jobs in the whole run, for its record; 0 = ours */
	/* when: and rules: decided at the start (decide.h); CDX_BRANCH and
	 * CDX_COMMIT for the jobs */
	struct cdx_job_decision *decide;
	struct cdx_vars own;
	bool *allow_failure;    /* per job, the decided allow_failure */
	struct cdx_logstream *logs; /* per job: its attempt's log sent to the store */
	struct cdx_pool *pool;  /* the jobs run on a pool's workers (pool.h), or NULL */
	bool artifacts_failed;  /* a job's artifacts could not be kept: the run fails */
	/* manual jobs (sched.h): the decided when: of each job, whether a
	 * manual one holds back what needs it, whether it was played (--play,
	 * or a play record of cdx play that the run found in the store) */
	enum cdx_when *when;
	bool *manual_blocks, *played;
	bool any_manual;
	char play_cursor[64];   /* store tail cursor for play records */
	int64_t play_poll_ns;   /* when the store was last asked */
	const char *const *outputs_from; /* cdx_run_set_outputs_from, or NULL */
	bool any_outputs;       /* a job of this process kept outputs ($CDX_OUTPUT) */
};

/* ---- run_show.c: how a run looks ---------------------------------------- */

/* the output callback of R's runner (CTX is R) */
void cdx_run_on_output(void *ctx, uint64_t token, const char *data, size_t len);
/* print what is left of job J's output when its attempt ends */
void cdx_run_flush_output(struct cdx_run *r, size_t j);
/* take the live status line off the terminal / draw it again */
void cdx_run_clear_status(struct cdx_run *r);
void cdx_run_show_status(struct cdx_run *r);
/* print EV as one line of JSON and free it */
void cdx_run_emit_json(struct cdx_run *r, struct cJSON *ev);
/* the line for attempt ATTEMPT of job J that ended as RES and is retried */
void cdx_run_show_retry(struct cdx_run *r, size_t j, int attempt, const struct cdx_proc_result *res);
/* the line for job J that ended in STATE after DUR_MS */
void cdx_run_show_job_end(struct cdx_run *r, size_t j, enum cdx_job_state state, int64_t dur_ms);
/* the summary line of a run that ended, with its critical path CP_MS */
void cdx_run_summary(struct cdx_run *r, double cp_ms);

/* ---- run_artifacts.c: a job's artifacts kept after its last attempt ------ */

/* keep job J's artifacts as its `artifacts:` says for a job that ended in
 * STATE after ATTEMPTS, and say so in its job record REC */
void cdx_run_artifacts(struct cdx_run *r, size_t j, enum cdx_job_state state, int attempts, struct cJSON *rec);

#endif /* CDX_RUN_H */
