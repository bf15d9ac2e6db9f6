/* store.h — the state store: where runs, attempts and their history live.
 *
 * A store is a sequence of JSON records behind a small table of function
 * pointers, so that the file store (store_file.c: an append-only journal in
 * a directory) and later backends share every caller.  Records are plain
 * JSON objects with a "t" field naming their type:
 *
 *   run      a run started: id, pipeline, file, file_hash, vars (secrets
 *            never included), version, start_ms, host, user, claimed_user,
 *            pid, pid_start, job_count, workers
 *   attempt  one attempt of a job ended: run, job, attempt, status,
 *            exit_code, signal, start_ms, wall_ms, user_ms, sys_ms,
 *            maxrss_kb, queued_ms, log
 *   job      a job's final status: run, job, status, attempts, duration_ms
 *   run_end  a run ended: id, status, end_ms, counts; a run of make also
 *            driver "make", and signal when make was stopped by one (the
 *            run is then cancelled)
 *
 * and, for deployments and rollbacks (lib/deploy.c):
 *
 *   deployment  one started: id, kind ("deploy" | "rollback"), app, env,
 *               version, previous, strategy, user, claimed_user, host, pid,
 *               pid_start, start_ms, reason, token (the lock's fencing
 *               token)
 *   transition  its state changed: deployment, state, at_ms, msg, and what
 *               the state is about (slot, instances, weight)
 *   check       a health check or analysis ran: deployment, target (slot or
 *               instance), kind, ok, detail, at_ms
 *   event       something to tell people: kind (alert, alert_resolved,
 *               deployment_frozen, promote, abort, ...), at_ms, and fields
 *               of its kind; promote and abort (cdx promote, cdx abort):
 *               deployment, app, env, user, claimed_user, host
 *
 * user is the name of the process's effective uid (cdx_who), never $USER;
 * claimed_user is $USER when it is set and says otherwise (absent when it
 * agrees): a claim to show beside the recorded user, not an identity.
 *
 * append() buffers; flush() makes what was appended durable.  A reader
 * sees records in the order they were made durable.
 */
#ifndef CDX_STORE_H
#define CDX_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"

struct cJSON;
struct cdx_store;

typedef int (*cdx_store_fn)(void *ctx, const struct cJSON *rec);

struct cdx_store_ops {
	int (*append)(struct cdx_store *s, const struct cJSON *rec, struct cdx_error *err);
	int (*flush)(struct cdx_store *s, struct cdx_error *err);
	/* call FN for every record, oldest first; FN returning non-zero stops */
	int (*scan)(struct cdx_store *s, cdx_store_fn fn, void *ctx, struct cdx_error *err);
	size_t (*pending)(struct cdx_store *s);
	void (*close)(struct cdx_store *s);

	/* Locks: one holder per NAME ("deploy:APP:ENV"), for deployments and
	 * rollbacks.  HOLDER is an object saying who (user, host, pid,
	 * pid_start, deployment, since_ms).  lock() waits up to WAIT_MS
	 * (< 0: for ever, 0: not at all); waiters are served oldest first.
	 * 0: taken, *TOKEN is its fencing token (strictly increasing per
	 * NAME across every holder); 1: busy, *CURRENT (caller frees with
	 * cJSON_Delete) says who holds it; -1: error.  A holder that is gone
	 * (its process dead on this host, or its TTL_MS lapsed without
	 * renewal) loses the lock to the next taker. */
	int (*lock)(struct cdx_store *s, const char *name, const struct cJSON *holder, long long ttl_ms,
		    long long wait_ms, unsigned long long *token, struct cJSON **current, struct cdx_error *err);
	/* renew: extend a held lock by TTL_MS; 0 held, 1 lost, -1 error */
	int (*renew)(struct cdx_store *s, const char *name, unsigned long long token, long long ttl_ms,
		     struct cdx_error *err);
	/* unlock: release NAME if TOKEN still holds it; 0, or -1 on error */
	int (*unlock)(struct cdx_store *s, const char *name, unsigned long long token, struct cdx_error *err);
	/* holder: who holds NAME now; *CURRENT is NULL when nobody does */
	int (*holder)(struct cdx_store *s, const char *name, struct cJSON **current, struct cdx_error *err);
	/* append_fenced: append and flush REC only while TOKEN holds NAME
	 * (a write carrying an older token is refused); 0 written, 1 refused
	 * (the lock was lost), -1 error */
	int (*append_fenced)(struct cdx_store *s, const char *name, unsigned long long token,
			     const struct cJSON *rec, struct cdx_error *err);
	/* tail: call FN for each record made durable after CURSOR (a string
	 * of at most 63 bytes, "" = the beginning, "$" = now), advancing it;
	 * when there are none, wait up to WAIT_MS for some.  0, or -1. */
	int (*tail)(struct cdx_store *s, char cursor[64], long long wait_ms, cdx_store_fn fn, void *ctx,
		    struct cdx_error *err);
	/* scan_runs: FN for the records (run, attempt, job, run_end) of the
	 * last N runs of PIPELINE, oldest run first; NULL: cdx_store_scan_runs
	 * filters a full scan */
	int (*scan_runs)(struct cdx_store *s, const char *pipeline, size_t n, cdx_store_fn fn, void *ctx,
			 struct cdx_error *err);
	/* local_dir: the directory of a store that lives on this machine only
	 * (the file store), where callers may keep files of their own (the
	 * flock'd slots of concurrency groups); NULL for a store shared
	 * between machines, whose locks above must be used instead */
	const char *(*local_dir)(struct cdx_store *s);
};

struct cdx_store {
	const struct cdx_store_ops *ops;
	char *url;     /* as given, e.g. "file:.cdx" */
	char *log_dir; /* where attempt logs are written (a local directory) */
	bool lazy_sync; /* flush writes but may leave durability to a later flush */
};

/* cdx_store_open: open the store named by URL ("file:DIR"; a bare path is
 * a directory too).  -1 with ERR set: CDX_EUSAGE for a malformed URL,
 * CDX_ESTATE when the store cannot be reached or created.  Close with
 * cdx_store_close(). */
int cdx_store_open(const char *url, struct cdx_store **out, struct cdx_error *err);
void cdx_store_close(struct cdx_store *s);

/* cdx_store_open_existing: open the store named by URL (NULL: file:.cdx)
 * for reading, which never creates one: 1 with *OUT NULL when URL names a
 * file store whose directory does not exist (nothing is recorded there),
 * else as cdx_store_open (0, or -1 with ERR set). */
int cdx_store_open_existing(const char *url, struct cdx_store **out, struct cdx_error *err);

/* cdx_store_file_open: the file store in directory DIR (created if needed) */
int cdx_store_file_open(const char *dir, struct cdx_store **out, struct cdx_error *err);

/* cdx_store_scan_runs: the records of the last N runs of PIPELINE, through
 * the backend's own query when it has one (see scan_runs above) */
int cdx_store_scan_runs(struct cdx_store *s, const char *pipeline, size_t n, cdx_store_fn fn, void *ctx,
			struct cdx_error *err);

/* cdx_store_local_dir: S's local_dir, or NULL when it has none */
const char *cdx_store_local_dir(struct cdx_store *s);

/* cdx_mkdirs: mkdir -p PATH with mode 0755; -1 with errno set */
int cdx_mkdirs(const char *path);

#endif /* CDX_STORE_H */
