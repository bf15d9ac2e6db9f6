/* sched.c — the scheduler (see sched.h).
 *
 * Invariants: `left[v]` counts the needs of node v not yet done; a job
 * enters the ready queue exactly when it reaches zero and nothing it needs
 * failed.  A failed (not allowed) job marks its successors `blocked`; a
 * blocked job that reaches zero is skipped and passes the block on, so that
 * with keep_going exactly the jobs that depend on a failure are skipped.
 * Stage nodes finish the moment their last job does.  Without keep_going a
 * failure sets `stopping`: nothing new starts, running attempts finish.
 */
#include "exec/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/dag.h"

const char *cdx_job_state_name(enum cdx_job_state s)
{
	static const char *const names[] = {"waiting", "ready",	  "running",   "success",  "allowed_failure",
					    "failed",  "skipped", "cancelled", "unwanted", "manual"};
	return (unsigned)s < CDX_ARRAY_LEN(names) ? names[s] : "unknown";
}

const char *cdx_run_state_name(enum cdx_run_state s)
{
	static const char *const names[] = {"running", "success", "failed", "cancelled", "timeout"};
	return (unsigned)s < CDX_ARRAY_LEN(names) ? names[s] : "unknown";
}

static bool has_code(const int *codes, size_t n, int c)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (codes[i] == c)
			return true;
	return false;
}

enum cdx_job_state cdx_sched_outcome(const struct cdx_job *j, int attempt, const struct cdx_proc_result *r)
{
	bool can_retry = attempt <= j->retry_max;
	switch (r->end) {
	case CDX_PROC_EXITED:
		if (r->exit_code == 0)
			return CDX_JOB_SUCCESS;
		if (can_retry && (j->retry_when & CDX_RETRY_ON_FAILURE) &&
		    (!j->n_retry_codes || has_code(j->retry_codes, j->n_retry_codes, r->exit_code)))
			return CDX_JOB_RUNNING;
		if (j->allow_failure || has_code(j->allow_codes, j->n_allow_codes, r->exit_code))
			return CDX_JOB_ALLOWED;
		return CDX_JOB_FAILED;
	case CDX_PROC_SIGNALED:
		if (can_retry && (j->retry_when & CDX_RETRY_ON_FAILURE) && !j->n_retry_codes)
			return CDX_JOB_RUNNING;
		return j->allow_failure ? CDX_JOB_ALLOWED : CDX_JOB_FAILED;
	case CDX_PROC_TIMEDOUT:
		if (can_retry && (j->retry_when & CDX_RETRY_ON_TIMEOUT))
			return CDX_JOB_RUNNING;
		return j->allow_failure ? CDX_JOB_ALLOWED : CDX_JOB_FAILED;
	case CDX_PROC_CANCELLED:
		return CDX_JOB_CANCELLED;
	case CDX_PROC_SPAWNFAIL:
	default:
		return j->allow_failure ? CDX_JOB_ALLOWED : CDX_JOB_FAILED;
	}
}

struct sched {
	const struct cdx_pipeline *p;
	const struct cdx_dag *d;
	const struct cdx_sched_opts *o;
	const struct cdx_runner_ops *ops;
	void *runner;
	const struct cdx_sched_hooks *h;
	enum cdx_job_state *states;
	uint32_t *left;    /* needs not yet done, per node */
	bool *blocked;     /* a need failed, per node */
	int *attempt;      /* attempts started, per job */
	int *lost;         /* of them, lost with a pool worker (CDX_PROC_LOST) */
	uint32_t *stack;   /* scratch for release() */
	struct cdx_ready q;
	size_t running;
	bool stopping;     /* start nothing new */
	bool cancelling;   /* stopping because of a cancel or the pipeline timeout */
	bool failed;       /* a job failed */
	bool killed;       /* a cancel kills at once: no after_script starts */
	struct cdx_proc_result *main_res; /* per job: how its script ended, while
					     its after_script runs (lazily) */
	uint32_t *manual;  /* manual jobs waiting to be played */
	size_t n_manual, n_manual_blocking;
	bool *early;       /* per job: released before it ran (a manual job that
			      holds nothing back) */
};

static enum cdx_when when_of(const struct sched *s, uint32_t j)
{
	return s->o->when ? s->o->when[j] : s->p->jobs[j].when;
}

/* ready: job J's needs are done (BLOCKED: one of them failed): queue it,
 * or hold it as a manual job, or tell whether it is to be skipped */
static bool ready(struct sched *s, uint32_t j, bool blocked)
{
	enum cdx_when w = when_of(s, j);
	if (s->cancelling || (blocked ? w != CDX_WHEN_ON_FAILURE && w != CDX_WHEN_ALWAYS
				      : w == CDX_WHEN_ON_FAILURE))
		return false;
	if (w == CDX_WHEN_MANUAL) {
		s->states[j] = CDX_JOB_MANUAL;
		s->manual[s->n_manual++] = j;
		if (s->o->manual_blocks && s->o->manual_blocks[j])
			s->n_manual_blocking++;
		return true;
	}
	s->states[j] = CDX_JOB_READY;
	cdx_ready_push(&s->q, j);
	return true;
}

static void finish_job(struct sched *s, uint32_t j, enum cdx_job_state st)
{
	s->states[j] = st;
	if (s->h->job_done)
		s->h->job_done(s->h->ctx, j, st, s->attempt[j]);
}

/* node V is done (BAD: it failed): release what waits for it */
static void release(struct sched *s, uint32_t v, bool bad)
{
	const struct cdx_dag *d = s->d;
	size_t sp = 0;
	s->stack[sp++] = v;
	if (bad)
		s->blocked[v] = true;
	while (sp) {
		uint32_t u = s->stack[--sp], e;
		for (e = d->succ_off[u]; e < d->succ_off[u + 1]; e++) {
			uint32_t w = d->succ[e];
			if (s->blocked[u])
				s->blocked[w] = true;
			if (--s->left[w])
				continue;
			if (w >= d->n_jobs) {
				s->stack[sp++] = w; /* a stage is done with its last job */
			} else if (s->states[w] == CDX_JOB_UNWANTED) {
				s->stack[sp++] = w; /* not run, but not in the way */
			} else if (!ready(s, w, s->blocked[w])) {
				/* what a cancel stops is cancelled, whatever it waited for */
				finish_job(s, w, s->cancelling ? CDX_JOB_CANCELLED : CDX_JOB_SKIPPED);
				s->stack[sp++] = w;
			} else if (s->states[w] == CDX_JOB_MANUAL &&
				   !(s->o->manual_blocks && s->o->manual_blocks[w])) {
				s->early[w] = true; /* what needs it goes on */
				s->stack[sp++] = w;
			}
		}
	}
}

static void start_one(struct sched *s, uint32_t j)
{
	struct cdx_proc_spec spec;
	struct cdx_error err = {0};
	int attempt = ++s->attempt[j];
	memset(&spec, 0, sizeof(spec));
	spec.token = j;
	if (s->h->prepare(s->h->ctx, j, attempt, &spec, &err) < 0 || s->ops->start(s->runner, &spec, &err) < 0) {
		struct cdx_proc_result r;
		memset(&r, 0, sizeof(r));
		r.token = j;
		r.end = CDX_PROC_SPAWNFAIL;
		r.exit_code = 127;
		r.start_ms = cdx_wall_ms();
		snprintf(r.error, sizeof(r.error), "%.200s", err.msg);
		{
			enum cdx_job_state st = cdx_sched_outcome(&s->p->jobs[j], INT32_MAX, &r);
			if (s->h->attempt_done)
				s->h->attempt_done(s->h->ctx, j, attempt, &r, st);
			finish_job(s, j, st);
			if (st == CDX_JOB_FAILED) {
				s->failed = true;
				if (!s->o->keep_going)
					s->stopping = true;
			}
			if (!s->early[j])
				release(s, j, st == CDX_JOB_FAILED);
		}
		return;
	}
	s->states[j] = CDX_JOB_RUNNING;
	s->running++;
	if (s->h->started)
		s->h->started(s->h->ctx, j, attempt);
}

/* start_after: start job J's after_script when it has one, its script
 * having ended as R; true when it runs (the attempt goes on until it ends) */
static bool start_after(struct sched *s, uint32_t j, const struct cdx_proc_result *r)
{
	struct cdx_proc_spec spec;
	struct cdx_error err = {0};
	if (!s->p->jobs[j].after_script || !s->h->prepare_after || s->killed)
		return false;
	memset(&spec, 0, sizeof(spec));
	spec.token = j | CDX_SCHED_AFTER;
	if (s->h->prepare_after(s->h->ctx, j, s->attempt[j], r, &spec, &err) < 0)
		return false;
	if (s->ops->start(s->runner, &spec, &err) < 0) {
		struct cdx_proc_result fr;
		memset(&fr, 0, sizeof(fr));
		fr.token = j;
		fr.end = CDX_PROC_SPAWNFAIL;
		fr.exit_code = 127;
		fr.start_ms = cdx_wall_ms();
		snprintf(fr.error, sizeof(fr.error), "%.200s", err.msg);
		if (s->h->after_done)
			s->h->after_done(s->h->ctx, j, s->attempt[j], &fr);
		return false;
	}
	if (!s->main_res)
		s->main_res = cdx_xcalloc(s->p->n_jobs + 1, sizeof(*s->main_res));
	s->main_res[j] = *r;
	return true;
}

/* the outcome with allow_failure as a rule decided it (rules: allow_failure) */
static enum cdx_job_state outcome(const struct sched *s, uint32_t j, int attempt, const struct cdx_proc_result *r)
{
	const struct cdx_job *job = &s->p->jobs[j];
	enum cdx_job_state st = cdx_sched_outcome(job, attempt, r);
	if (s->o->allow_failure && st == CDX_JOB_FAILED && s->o->allow_failure[j])
		st = CDX_JOB_ALLOWED;
	else if (s->o->allow_failure && st == CDX_JOB_ALLOWED && !s->o->allow_failure[j] && job->allow_failure &&
		 !job->n_allow_codes)
		st = CDX_JOB_FAILED;
	return st;
}

static void ended(struct sched *s, const struct cdx_proc_result *r)
{
	uint32_t j = (uint32_t)r->token;
	enum cdx_job_state st;
	if (r->token & CDX_SCHED_AFTER) {
		struct cdx_proc_result ar = *r;
		ar.token = j;
		if (s->h->after_done)
			s->h->after_done(s->h->ctx, j, s->attempt[j], &ar);
		r = &s->main_res[j]; /* the attempt ends as its script did */
	} else if (r->end != CDX_PROC_LOST && start_after(s, j, r)) {
		return;
	}
	/* a lost worker is retried apart from the job's own retry */
	if (r->end == CDX_PROC_LOST)
		st = ++s->lost[j] <= CDX_SCHED_LOST_RETRIES ? CDX_JOB_RUNNING
							    : outcome(s, j, INT32_MAX, r);
	else
		st = outcome(s, j, s->attempt[j] - s->lost[j], r);
	s->running--;
	if (st == CDX_JOB_RUNNING && s->stopping)
		st = outcome(s, j, INT32_MAX, r); /* stopping: no retry */
	if (s->h->attempt_done)
		s->h->attempt_done(s->h->ctx, j, s->attempt[j], r, st);
	if (st == CDX_JOB_RUNNING) {
		/* retry at once, ahead of queued work: it already held a slot */
		s->states[j] = CDX_JOB_READY;
		start_one(s, j);
		return;
	}
	finish_job(s, j, st);
	if (st == CDX_JOB_FAILED) {
		s->failed = true;
		if (!s->o->keep_going)
			s->stopping = true;
	}
	if (!s->early[j])
		release(s, j, st == CDX_JOB_FAILED || st == CDX_JOB_CANCELLED);
}

/* play: start the waiting manual jobs that were played; WAIT_MS for the
 * first one asked when nothing else runs */
static void play(struct sched *s, int64_t wait_ms)
{
	size_t i = 0;
	while (i < s->n_manual) {
		uint32_t j = s->manual[i];
		if (!s->h->played || !s->h->played(s->h->ctx, j, wait_ms)) {
			wait_ms = 0;
			i++;
			continue;
		}
		wait_ms = 0;
		s->manual[i] = s->manual[--s->n_manual];
		if (s->o->manual_blocks && s->o->manual_blocks[j])
			s->n_manual_blocking--;
		s->states[j] = CDX_JOB_READY;
		cdx_ready_push(&s->q, j);
	}
}

enum cdx_run_state cdx_sched_run(const struct cdx_pipeline *p, const struct cdx_sched_opts *o,
				 const struct cdx_runner_ops *ops, void *runner, const struct cdx_sched_hooks *h,
				 enum cdx_job_state *states)
{
	struct sched s;
	const struct cdx_dag *d = p->dag;
	size_t v;
	int64_t deadline = o->timeout_ms > 0 ? cdx_now_ns() / 1000000 + o->timeout_ms : 0;
	bool cancelled = false, timed_out = false, killed = false;
	enum cdx_run_state result;

	memset(&s, 0, sizeof(s));
	s.p = p;
	s.d = d;
	s.o = o;
	s.ops = ops;
	s.runner = runner;
	s.h = h;
	s.states = states;
	s.left = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	s.blocked = cdx_xcalloc(d->n_nodes + 1, sizeof(bool));
	s.attempt = cdx_xcalloc(d->n_jobs + 1, sizeof(int));
	s.lost = cdx_xcalloc(d->n_jobs + 1, sizeof(int));
	s.stack = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	s.manual = cdx_xcalloc(d->n_jobs + 1, sizeof(uint32_t));
	s.early = cdx_xcalloc(d->n_jobs + 1, sizeof(bool));
	cdx_ready_init(&s.q, o->prio);
	for (v = 0; v < d->n_jobs; v++)
		states[v] = o->wanted && !o->wanted[v] ? CDX_JOB_UNWANTED : CDX_JOB_WAITING;
	for (v = 0; v < d->n_nodes; v++)
		s.left[v] = d->pred_off[v + 1] - d->pred_off[v];
	for (v = 0; v < d->n_nodes; v++) {
		if (s.left[v])
			continue;
		if (v < d->n_jobs && states[v] == CDX_JOB_WAITING) {
			if (!ready(&s, (uint32_t)v, false)) {
				finish_job(&s, (uint32_t)v, CDX_JOB_SKIPPED);
				release(&s, (uint32_t)v, false);
			} else if (states[v] == CDX_JOB_MANUAL && !(o->manual_blocks && o->manual_blocks[v])) {
				s.early[v] = true;
				release(&s, (uint32_t)v, false);
			}
		} else {
			release(&s, (uint32_t)v, false);
		}
	}

	for (;;) {
		struct cdx_proc_result r;
		int got;
		if (o->cancel && *o->cancel > 0 && !cancelled) {
			cancelled = true;
			s.stopping = true;
			s.cancelling = true;
			ops->cancel_all(runner, *o->cancel > 1);
			killed = *o->cancel > 1;
			s.killed = killed;
		} else if (cancelled && !killed && o->cancel && *o->cancel > 1) {
			killed = true;
			s.killed = true;
			ops->cancel_all(runner, true); /* a second Ctrl-C kills at once */
		}
		if (deadline && !timed_out && cdx_now_ns() / 1000000 >= deadline) {
			timed_out = true;
			s.stopping = true;
			s.cancelling = true;
			ops->cancel_all(runner, false);
		}
		if (!s.stopping && s.n_manual)
			play(&s, 0);
		while (!s.cancelling && s.q.n && s.running < o->workers) {
			uint32_t j = cdx_ready_pop(&s.q);
			enum cdx_when w = when_of(&s, j);
			if (s.stopping && w != CDX_WHEN_ALWAYS && w != CDX_WHEN_ON_FAILURE) {
				/* after a failure (no keep_going) only what runs after
				 * failures starts: the rest is skipped, as failed */
				finish_job(&s, j, CDX_JOB_SKIPPED);
				release(&s, j, true);
				continue;
			}
			start_one(&s, j);
		}
		if (!s.running && (s.cancelling || !s.q.n)) {
			/* only manual jobs are left, if any: wait for a blocking
			 * one to be played when asked to, else end */
			if (s.cancelling || s.stopping || !s.n_manual_blocking || !o->manual_wait)
				break;
			play(&s, 500);
			if (h->tick)
				h->tick(h->ctx);
			continue;
		}
		got = ops->wait(runner, 100, &r);
		if (got > 0)
			ended(&s, &r);
		if (h->tick)
			h->tick(h->ctx);
	}
	/* manual jobs never played stay manual; whatever else never started */
	for (v = 0; v < d->n_jobs; v++)
		if (states[v] == CDX_JOB_MANUAL)
			finish_job(&s, (uint32_t)v, CDX_JOB_MANUAL);
	for (v = 0; v < d->n_jobs; v++)
		if (states[v] == CDX_JOB_READY || states[v] == CDX_JOB_WAITING)
			finish_job(&s, (uint32_t)v, cancelled || timed_out ? CDX_JOB_CANCELLED : CDX_JOB_SKIPPED);
	if (cancelled)
		result = CDX_RUN_CANCELLED;
	else if (timed_out)
		result = CDX_RUN_TIMEOUT;
	else
		result = s.failed ? CDX_RUN_FAILED : CDX_RUN_SUCCESS;
	cdx_ready_free(&s.q);
	free(s.left);
	free(s.blocked);
	free(s.attempt);
	free(s.lost);
	free(s.stack);
	free(s.main_res);
	free(s.manual);
	free(s.early);
	return result;
}
