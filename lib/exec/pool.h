/* pool.h — a worker pool on Redis Streams (issue 19; keys in
 * redis/SCHEMA.md, "Worker pool").
 *
 * The owner of a run (`cdx run --workers`, `executor: workers`) keeps its
 * scheduler (sched.h) and hands it a pool runner instead of the process
 * runner: start() submits the attempt to the pool's queue stream (one per
 * set of tags, each with the consumer group "workers"), wait() reads the
 * run's event stream and the logs of its running attempts (XREAD BLOCK),
 * so that output shows live with the usual prefixes, and returns results
 * as the workers hand them in; an attempt whose worker's lease lapsed
 * (kill -9, a lost machine, a stopped process) ends as CDX_PROC_LOST
 * (`worker_lost`), which the scheduler retries apart from the job's own
 * retry; cancel_all() asks the workers to stop the run's attempts (TERM,
 * grace, KILL) and drops what no worker took yet.
 *
 * A worker (`cdx worker`) claims with a blocking XREADGROUP, takes the job
 * with a new fencing number and a lease (pool_take.lua), runs it with the
 * process runner in its directory, renews the lease while it runs
 * (pool_renew.lua), sends its log to the attempt's stream, and hands the
 * result in (pool_done.lua), which acknowledges the queue entry in the
 * same step; a result whose fence lost the lease is refused and recorded
 * as such.  A worker refuses a job whose pipeline file or git commit
 * differs from the run's (an infrastructure failure naming both).
 */
#ifndef CDX_POOL_H
#define CDX_POOL_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "exec/runner.h"
#include "pipeline/pipeline.h"

struct cJSON;
struct cdx_pool;

#define CDX_POOL_LEASE_MS_DEFAULT 5000

/* cdx_pool_lease_ms: the lease of a job ($CDX_POOL_LEASE_MS, default 5 s) */
long cdx_pool_lease_ms(void);

/* cdx_pool_new: the pool runner of run RUN_ID of P, on the Redis store
 * STATE (its own connection); OUT receives the attempts' output.  NULL
 * with ERR: CDX_EUSAGE when STATE is not redis://, CDX_ESTATE when it
 * cannot be reached */
struct cdx_pool *cdx_pool_new(const char *state, const struct cdx_pipeline *p, const char *run_id,
			      cdx_output_fn out, void *out_ctx, struct cdx_error *err);
void cdx_pool_free(struct cdx_pool *pl);
const struct cdx_runner_ops *cdx_pool_ops(void);

/* cdx_git_head: the commit checked out in the git work tree DIR (40 hex
 * digits in OUT), read from .git without running git; 0, or -1 when DIR
 * is no git checkout */
int cdx_git_head(const char *dir, char out[41]);

struct cdx_worker_opts {
	const char *state;       /* redis:// URL */
	const char *name;        /* NULL: host:pid */
	unsigned slots;          /* jobs at once, >= 1 */
	const char *const *tags; /* NULL-terminated, or NULL */
	const char *dir;         /* workspace, NULL: the current directory */
	FILE *out;               /* the ready line and notes */
};

/* cdx_pool_worker: serve the pool until *STOP: 1 drains (finish the
 * running jobs, take no new ones), 2 cancels the running jobs and hands
 * them back.  0 drained, CDX_EINTR after a cancel, or -1 with ERR
 * (CDX_EUSAGE: not a redis:// state, a bad name or tag) */
int cdx_pool_worker(const struct cdx_worker_opts *o, volatile sig_atomic_t *stop, struct cdx_error *err);

/* cdx_pool_workers: the workers of the pool on STATE as a JSON array of
 * {name, host, pid, tags, slots, busy, dir, heartbeat_ms, up}; NULL with ERR */
struct cJSON *cdx_pool_workers(const char *state, struct cdx_error *err);

/* cdx_pool_metrics: {workers_up, slots, slots_busy, queue_length,
 * reclaimed, refused, pickup: {buckets: [[le, count]...], sum_ms, count}};
 * NULL with ERR */
struct cJSON *cdx_pool_metrics(const char *state, struct cdx_error *err);

/* cdx_pool_prometheus: the pool's metrics in the Prometheus text format
 * (malloc'd), or NULL: STATE is no redis:// state, or with ERR set */
char *cdx_pool_prometheus(const char *state, struct cdx_error *err);

#endif /* CDX_POOL_H */
