/* store.h — the state store: where runs, attempts and their history live.
 *
 * A store is a sequence of JSON records behind a small table of function
 * pointers, so that the file store (store_file.c: an append-only journal in
 * a directory) and later backends share every caller.  Records are plain
 * JSON objects with a "t" field naming their type:
 *
 *   run      a run started: id, pipeline, file, file_hash, vars (secret
 *            ones never included, the others masked by the run's secrets),
 *            version, start_ms, host, user, claimed_user, pid, pid_start,
 *            job_count, workers
 *   attempt  one attempt of a job ended: run, job, attempt, status,
 *            exit_code, signal, start_ms, wall_ms, user_ms, sys_ms,
 *            maxrss_kb, queued_ms, log, and log_truncated (true) with
 *            log_error when a write to the log failed (it stops there);
 *            changes ({KEY: DIGEST}) when the job has `changes:` rules
 *            (exec/changes.h); outputs ({KEY: VALUE}, masked) of what it
 *            wrote to $CDX_OUTPUT, outputs_error when that was refused
 *            (exec/outputs.h); after_script ({status, exit_code or
 *            signal, wall_ms, error}) when the job has one
 *   job      a job's final status: run, job, status, attempts, duration_ms;
 *            why when rules or when: decided it (skipped: attempts 0);
 *            status manual for a manual job never played
 *   play     cdx play asks run RUN to start manual job JOB: run, job, ms
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
 *               deployment, app, env, user, claimed_user, host, and via
 *               when cdx serve acted for a client ("session from ADDR")
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
#include "state/journal.h"

struct cJSON;
struct cdx_store;

typedef int (*cdx_store_fn)(void *ctx, const struct cJSON *rec);

/* the three-way results of the lock ops below (the values are kept: they
 * were the bare -1/0/1 before) */
enum cdx_lock_result { CDX_LOCK_ERROR = -1, CDX_LOCK_TAKEN = 0, CDX_LOCK_BUSY = 1 };
enum cdx_renew_result { CDX_RENEW_ERROR = -1, CDX_RENEW_HELD = 0, CDX_RENEW_LOST = 1 };
enum cdx_fenced_result { CDX_FENCED_ERROR = -1, CDX_FENCED_WRITTEN = 0, CDX_FENCED_REFUSED = 1 };
/* cdx_store_open_existing: opened, or there is no store to open */
enum cdx_open_result { CDX_OPEN_ERROR = -1, CDX_OPEN_OK = 0, CDX_OPEN_NONE = 1 };

struct cdx_store_ops {
	int (*append)(struct cdx_store *s, const struct cJSON *rec, struct cdx_error *err);
	int (*flush)(struct cdx_store *s, struct cdx_error *err);
	/* call FN for every record, oldest first; FN returning non-zero stops */
	int (*scan)(struct cdx_store *s, cdx_store_fn fn, void *ctx, struct cdx_error *err);
	size_t (*pending)(struct cdx_store *s);
	void (*close)(struct cdx_store *s);
	/* settle: a writer's last flush before close: every buffered record
	 * written, or put where it is kept for later (Redis: spilled to a
	 * local file store); -1 with ERR set when some cannot be (they will
	 * be lost).  NULL: flush (cdx_store_settle) */
	int (*settle)(struct cdx_store *s, struct cdx_error *err);

	/* Locks: one holder per NAME ("deploy:APP:ENV"), for deployments and
	 * rollbacks.  HOLDER is an object saying who (user, host, pid,
	 * pid_start, deployment, since_ms).  lock() waits up to WAIT_MS
	 * (< 0: for ever, 0: not at all); waiters are served oldest first.
	 * CDX_LOCK_TAKEN: *TOKEN is its fencing token (strictly increasing
	 * per NAME across every holder); CDX_LOCK_BUSY: *CURRENT (caller
	 * frees with cJSON_Delete) says who holds it; CDX_LOCK_ERROR with
	 * ERR.  A holder that is gone (its process dead on this host, or its
	 * TTL_MS lapsed without renewal) loses the lock to the next taker. */
	enum cdx_lock_result (*lock)(struct cdx_store *s, const char *name, const struct cJSON *holder,
				     long long ttl_ms, long long wait_ms, unsigned long long *token,
				     struct cJSON **current, struct cdx_error *err);
	/* renew: extend a held lock by TTL_MS; CDX_RENEW_HELD, CDX_RENEW_LOST,
	 * or CDX_RENEW_ERROR with ERR */
	enum cdx_renew_result (*renew)(struct cdx_store *s, const char *name, unsigned long long token,
				       long long ttl_ms, struct cdx_error *err);
	/* unlock: release NAME if TOKEN still holds it; 0, or -1 on error */
	int (*unlock)(struct cdx_store *s, const char *name, unsigned long long token, struct cdx_error *err);
	/* holder: who holds NAME now; *CURRENT is NULL when nobody does */
	int (*holder)(struct cdx_store *s, const char *name, struct cJSON **current, struct cdx_error *err);
	/* append_fenced: append and flush REC only while TOKEN holds NAME
	 * (a write carrying an older token is refused); CDX_FENCED_WRITTEN,
	 * CDX_FENCED_REFUSED (the lock was lost), or CDX_FENCED_ERROR with ERR */
	enum cdx_fenced_result (*append_fenced)(struct cdx_store *s, const char *name,
						unsigned long long token, const struct cJSON *rec,
						struct cdx_error *err);
	/* tail: call FN for each record made durable after CURSOR (a string
	 * of at most 63 bytes, "" = the beginning, "$" = now), advancing it;
	 * when there are none, wait up to WAIT_MS for some.  0, or -1. */
	int (*tail)(struct cdx_store *s, char cursor[64], long long wait_ms, cdx_store_fn fn, void *ctx,
		    struct cdx_error *err);
	/* scan_runs: FN for the records (run, attempt, job, run_end) of the
	 * last N runs of PIPELINE (NULL: of every pipeline together, by start
	 * time), oldest run first; NULL: cdx_store_scan_runs filters a full
	 * scan */
	int (*scan_runs)(struct cdx_store *s, const char *pipeline, size_t n, cdx_store_fn fn, void *ctx,
			 struct cdx_error *err);
	/* local_dir: the directory of a store that lives on this machine only
	 * (the file store), where callers may keep files of their own (the
	 * flock'd slots of concurrency groups); NULL for a store shared
	 * between machines, whose locks above must be used instead */
	const char *(*local_dir)(struct cdx_store *s);
	/* log_write: append LEN bytes to the shared copy of an attempt's log
	 * KEY ("RUN:STAGE/JOB:ATTEMPT", cdx_log_key), already masked; FLAGS:
	 * CDX_LOG_FIRST on the attempt's first write (it becomes the job's
	 * last attempt, log_last), CDX_LOG_END marks its end, CDX_LOG_TRUNC
	 * with it says bytes were dropped past the cap.  NULL: logs are local
	 * files only (the file store).  0, or -1 with ERR. */
	int (*log_write)(struct cdx_store *s, const char *key, const char *data, size_t len, int flags,
			 struct cdx_error *err);
	/* log_read: FN with the pieces of log KEY in order; FOLLOW: wait for
	 * more until its end marker.  1 read (*ENDED: its end marker was
	 * seen, *TRUNCATED: it was capped), 0 no such log, -1 with ERR */
	int (*log_read)(struct cdx_store *s, const char *key, bool follow,
			void (*fn)(void *ctx, const char *data, size_t len), void *ctx, bool *ended,
			bool *truncated, struct cdx_error *err);
	/* log_last: the last attempt of JOB in RUN with a shared log, 0: none */
	int (*log_last)(struct cdx_store *s, const char *run, const char *job, struct cdx_error *err);
};

#define CDX_LOG_FIRST 0x1
#define CDX_LOG_END 0x2
#define CDX_LOG_TRUNC 0x4
#define CDX_LOG_DEFER 0x8 /* may be sent with the store's next command (its
			     next flush at the latest), not now */

/* cdx_log_key: the key of a shared attempt log, "RUN:JOB:ATTEMPT" in BUF */
void cdx_log_key(char *buf, size_t n, const char *run, const char *job, int attempt);

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
 * for reading, which never creates one: CDX_OPEN_NONE with *OUT NULL when
 * URL names a file store whose directory does not exist (nothing is
 * recorded there), else as cdx_store_open (CDX_OPEN_OK, or CDX_OPEN_ERROR
 * with ERR set). */
enum cdx_open_result cdx_store_open_existing(const char *url, struct cdx_store **out, struct cdx_error *err);

/* cdx_store_settle: S's settle, else its flush (see settle above) */
int cdx_store_settle(struct cdx_store *s, struct cdx_error *err);

/* cdx_store_open_read: open the store named by URL (NULL: file:.cdx) for
 * reading only: as cdx_store_open_existing (CDX_OPEN_NONE with *OUT NULL when a file
 * store's directory does not exist), but a file store is opened read-only
 * (cdx_store_file_open_ro), so that reading never needs write access.
 * Appends to it fail at flush; locks fail. */
enum cdx_open_result cdx_store_open_read(const char *url, struct cdx_store **out, struct cdx_error *err);

/* cdx_store_file_open: the file store in directory DIR (created if needed) */
int cdx_store_file_open(const char *dir, struct cdx_store **out, struct cdx_error *err);
/* cdx_store_file_open_ro: the file store in directory DIR, for reading: it
 * creates nothing and writes nothing (its journal opened O_RDONLY) */
int cdx_store_file_open_ro(const char *dir, struct cdx_store **out, struct cdx_error *err);

/* cdx_store_file_journal: the journal file of file store S, NULL when S is
 * another kind of store (borrowed, valid while S is open) */
const char *cdx_store_file_journal(struct cdx_store *s);

/* cdx_store_file_check: read every line of file store S's journal: valid
 * records counted in *RECORDS, damaged lines (their framing or checksum is
 * wrong) in *DAMAGED and handed to BAD (may be NULL) with their offset and
 * length.  -1 with ERR set (CDX_EUSAGE when S is not a file store). */
int cdx_store_file_check(struct cdx_store *s, cdx_journal_bad_fn bad, void *ctx, size_t *records,
			 size_t *damaged, struct cdx_error *err);

/* cdx_store_file_repair: move the damaged lines of file store S's journal
 * to JOURNAL.damaged beside it (appended, never deleted) and leave a
 * journal that reads clean (cdx_journal_repair: crash-safe); *MOVED lines
 * moved.  -1 with ERR set (CDX_EUSAGE for another kind of store or one
 * opened for reading). */
int cdx_store_file_repair(struct cdx_store *s, size_t *moved, struct cdx_error *err);

/* cdx_store_scan_runs: the records of the last N runs of PIPELINE, through
 * the backend's own query when it has one (see scan_runs above) */
int cdx_store_scan_runs(struct cdx_store *s, const char *pipeline, size_t n, cdx_store_fn fn, void *ctx,
			struct cdx_error *err);

/* cdx_store_url_public: URL without its credentials, malloc'd (caller
 * frees): "redis://user:pw@host:6379/1" is "redis://host:6379/1", what a
 * child of cdx may see; any other URL is copied as it is.  With PASSWORD
 * non-NULL, *PASSWORD is the password as the URL spells it (malloc'd), or
 * NULL when there is none. */
char *cdx_store_url_public(const char *url, char **password);

/* cdx_store_local_dir: S's local_dir, or NULL when it has none */
const char *cdx_store_local_dir(struct cdx_store *s);

/* cdx_mkdirs: mkdir -p PATH with mode 0755; -1 with errno set */
int cdx_mkdirs(const char *path);

#endif /* CDX_STORE_H */
