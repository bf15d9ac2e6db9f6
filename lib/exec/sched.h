/* sched.h — the scheduler: runs a pipeline's job graph on a runner.
 *
 * One loop, in the shape of ninja's Plan: a ready queue ordered by the
 * ordering rule (dag.h), at most `workers` attempts running, a job started
 * as soon as its own needs are done (never level by level).  It decides
 * retries, allowed failures, what a failure stops (everything not yet
 * started, or with keep_going only what depends on it, as make -k does),
 * the pipeline timeout and cancellation.  Processes, output, records and
 * clocks are the caller's: the scheduler sees only struct cdx_runner_ops
 * and the hooks below, so unit tests drive it with a fake runner.
 */
#ifndef CDX_SCHED_H
#define CDX_SCHED_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "pipeline/pipeline.h"
#include "exec/runner.h"

enum cdx_job_state {
	CDX_JOB_WAITING,   /* needs not done yet */
	CDX_JOB_READY,     /* in the ready queue */
	CDX_JOB_RUNNING,   /* an attempt is running */
	CDX_JOB_SUCCESS,   /* done, it passed */
	CDX_JOB_ALLOWED,   /* done, failed but allowed to */
	CDX_JOB_FAILED,    /* done, failed */
	CDX_JOB_SKIPPED,   /* never started: a need failed, or the run stopped */
	CDX_JOB_CANCELLED, /* killed by cancellation or the pipeline timeout */
	CDX_JOB_UNWANTED,  /* not selected by --only */
	CDX_JOB_MANUAL,    /* a manual job waiting to be played, or never played */
};

/* the word used in output and records: "success", "failed", ... */
const char *cdx_job_state_name(enum cdx_job_state s);

enum cdx_run_state {
	CDX_RUN_RUNNING,
	CDX_RUN_SUCCESS,
	CDX_RUN_FAILED,
	CDX_RUN_CANCELLED,
	CDX_RUN_TIMEOUT, /* the pipeline timeout struck */
};
const char *cdx_run_state_name(enum cdx_run_state s);

/* attempts lost with a pool worker (CDX_PROC_LOST) retried, apart from
 * the job's own retry */
#define CDX_SCHED_LOST_RETRIES 2

struct cdx_sched_hooks {
	void *ctx;
	/* fill SPEC for attempt ATTEMPT (1-based) of JOB; strings must stay
	 * valid until start() returns.  -1 with ERR: the job fails unstarted */
	int (*prepare)(void *ctx, size_t job, int attempt, struct cdx_proc_spec *spec, struct cdx_error *err);
	/* an attempt started */
	void (*started)(void *ctx, size_t job, int attempt);
	/* an attempt ended as R; STATE is what it means for the job
	 * (RUNNING when it will be retried) */
	void (*attempt_done)(void *ctx, size_t job, int attempt, const struct cdx_proc_result *r,
			     enum cdx_job_state state);
	/* a job reached its final state (also skipped and cancelled ones) */
	void (*job_done)(void *ctx, size_t job, enum cdx_job_state state, int attempts);
	/* called at least every 100 ms while the run goes on */
	void (*tick)(void *ctx);
	/* a job with an after_script (pipeline.h): fill SPEC for the
	 * after_script of attempt ATTEMPT, whose script ended as MAIN.  Its
	 * process runs on the same runner with token JOB | CDX_SCHED_AFTER,
	 * holding the attempt's worker slot; the attempt ends (attempt_done)
	 * when it does, with MAIN's outcome: the after_script never changes
	 * it.  -1 (ERR set) or a NULL hook: no after_script for that attempt.
	 * It runs after every end but a cancel that kills at once. */
	int (*prepare_after)(void *ctx, size_t job, int attempt, const struct cdx_proc_result *main,
			     struct cdx_proc_spec *spec, struct cdx_error *err);
	/* the after_script of attempt ATTEMPT ended as R (token without the
	 * bit; SPAWNFAIL when it could not start), before attempt_done */
	void (*after_done)(void *ctx, size_t job, int attempt, const struct cdx_proc_result *r);
	/* a manual job waits: true when JOB was played (then it starts).
	 * WAIT_MS > 0 when nothing else runs: the hook may block that long
	 * for a play to come.  NULL: no manual job is ever played */
	bool (*played)(void *ctx, size_t job, int64_t wait_ms);
};

/* the token bit of an after_script's process */
#define CDX_SCHED_AFTER (1ull << 32)

struct cdx_sched_opts {
	unsigned workers;       /* at most this many attempts at once, >= 1 */
	bool keep_going;        /* -k: after a failure go on with what does not depend on it */
	int64_t timeout_ms;     /* whole run, 0 = none */
	const bool *wanted;     /* per job: selected (NULL = all) */
	const double *prio;     /* per DAG node: ordering rule priority */
	volatile sig_atomic_t *cancel; /* > 0: cancel; > 1: kill at once (may be NULL) */
	const bool *allow_failure; /* per job, allow_failure as rules decided (NULL: the job's) */
	/* when: as decided for this run (NULL: each job's own).  on_success
	 * runs when nothing it needs (directly or through stages) failed;
	 * on_failure only when something it needs failed; always in both
	 * cases; manual waits for the played hook once its needs are done as
	 * for on_success (never is left to the caller: not wanted).  After a
	 * failure without keep_going, on_failure and always jobs still run when
	 * their needs are done; what else never started is skipped. */
	const enum cdx_when *when;
	/* per job: a manual job holds back the jobs that need it until it is
	 * played and done (GitLab's allow_failure: false); else they go on at
	 * once (NULL: none holds back) */
	const bool *manual_blocks;
	/* when only blocking manual jobs are left: wait for them to be played
	 * (a terminal) rather than end the run with them manual */
	bool manual_wait;
};

/* cdx_sched_run: run P's jobs to the end.  STATES (n_jobs) receives each
 * job's final state.  Returns the run's final state. */
enum cdx_run_state cdx_sched_run(const struct cdx_pipeline *p, const struct cdx_sched_opts *o,
				 const struct cdx_runner_ops *ops, void *runner, const struct cdx_sched_hooks *h,
				 enum cdx_job_state *states);

/* cdx_sched_outcome: what result R of attempt ATTEMPT means for job J:
 * SUCCESS, ALLOWED, FAILED, CANCELLED, or RUNNING when a retry is due */
enum cdx_job_state cdx_sched_outcome(const struct cdx_job *j, int attempt, const struct cdx_proc_result *r);

#endif /* CDX_SCHED_H */
