/* rs.h — the internals shared by the files of the Redis store: its
 * limits, the handle (struct redis_store) and the routines one file
 * calls in another.  Not a public interface: only the .c files of redis/ include it.
 *
 *   store_redis.c  open and close, the URL, the table of store ops
 *   rs_conn.c      the connection: commands, scripts, reconnecting
 *   rs_append.c    records: compact JSON, the append.lua command, flush
 *                  and spill
 *   rs_scan.c      reading: scan, tail, scan_runs
 *   rs_lock.c      locks with fencing tokens and waiter queues
 *   rs_stream.c    attempt logs as streams
 */
#ifndef CDX_RS_H
#define CDX_RS_H

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redis/store_redis.h"

#define BATCH_MAX 512           /* records per EVALSHA */
#define HOLD_MAX_DEFAULT 100000 /* records held while Redis is away */
#define CONNECT_TIMEOUT_MS 1500
#define COMMAND_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CLOSE_WAIT_MS 2000 /* last attempts before spilling */
#define WAITER_HEARTBEAT_MS 3000
#define PAGE 256       /* stream entries per XRANGE/XREAD */
#define MAX_INFLIGHT 4 /* pipelined batches awaiting replies */

enum {
	SCRIPT_APPEND,
	SCRIPT_LOCK,
	SCRIPT_RENEW,
	SCRIPT_SCAN_RUNS,
	SCRIPT_POOL_TAKE,
	SCRIPT_POOL_RENEW,
	SCRIPT_POOL_DONE,
	SCRIPT_COUNT
};

/* the fields of a buffered record, in the order of append.lua's "other
 * records" tuples; REC_PAIRS is already in the protocol: NPAIRS field and
 * value arguments */
enum { REC_TYPE, REC_KEY, REC_PL, REC_JSON, REC_PAIRS, REC_JOB, REC_DUR, NFIELDS };

/* one buffered record: what append_cmd needs of it in one block */
struct rs_rec {
	char *buf;           /* the fields, each NUL-terminated */
	size_t off[NFIELDS]; /* where each field starts in buf */
	size_t len[NFIELDS]; /* its length in bytes */
	size_t npairs;       /* field/value pairs in REC_PAIRS */
	bool jobish;         /* an attempt or job record (no Lua work) */
};

/* a batch of records sent in one EVALSHA, identified so that sending it
 * again after a broken connection does not apply it twice */
struct rs_batch {
	size_t n;    /* records */
	char id[33]; /* random, hex */
};

/* a lock this handle holds: the secret that goes with its token */
struct rs_held {
	char *name;
	unsigned long long token;
	char secret[33];
};

struct redis_store {
	struct cdx_store base; /* first: a struct cdx_store * is a redis_store * */
	redisContext *c;       /* NULL while disconnected */
	char *host;
	int port;
	char *user, *pass; /* NULL when not given */
	int db;
	char *prefix;   /* key prefix, e.g. "cdx:" */
	char *local;    /* local directory: logs, spilled records */
	char addr[300]; /* "host:port" for messages */
	char sha[SCRIPT_COUNT][41];
	struct rs_rec *pend; /* buffered records, oldest first */
	size_t n_pend, cap_pend;
	size_t hold_max;         /* most records held while Redis is away */
	int64_t retry_ns;        /* no reconnect before this (monotonic) */
	int64_t backoff_ms;      /* next backoff, BACKOFF_MIN_MS..BACKOFF_MAX_MS */
	bool lost_warned;        /* "lost the connection" said once */
	long long timeout_ms;    /* the connection's command timeout now (for
				    messages: a silent server "timed out") */
	struct cdx_store *spill; /* the file store records went to, or NULL */
	struct rs_batch *fl;     /* batches sent, not yet acknowledged, oldest
				    first; they cover pend[0..sent) */
	size_t n_fl, cap_fl;
	size_t sent;       /* records covered by fl */
	size_t log_pending; /* log commands queued in hiredis whose replies are
			       not read yet (rs_stream.c: cdx_rs_log_settle
			       before anything else is written) */
	size_t fl_written; /* batches of fl written to this connection
			      (after a reconnect: 0, all go again) */
	struct rs_held *held;
	size_t n_held, cap_held;
	struct cdx_buf cmd;     /* the last append.lua command formatted (its
				   memory kept from batch to batch) */
	struct cdx_buf scratch; /* a record's JSON while it is buffered */
};

/* Each routine says at its definition what it does on failure. */

/* ---- rs_conn.c: the connection and shared helpers ------------------------ */
void cdx_rs_random_hex(char *out, size_t bytes);
int cdx_rs_cmd(struct redis_store *r, int argc, const char **argv, const size_t *lens, redisReply **out,
	       struct cdx_error *err);
int cdx_rs_connect(struct redis_store *r, struct cdx_error *err);
void cdx_rs_drop(struct redis_store *r);
int cdx_rs_ensure(struct redis_store *r, bool force, struct cdx_error *err);
int cdx_rs_eval(struct redis_store *r, int i, int argc, const char **argv, const size_t *lens,
		redisReply **out, struct cdx_error *err);
int cdx_rs_load_script(struct redis_store *r, int i, struct cdx_error *err);
void cdx_rs_sleep_ms(long long ms);
struct timeval cdx_rs_tv_ms(long long ms);
/* cdx_rs_set_timeout: set the open connection's command timeout to MS
 * (0: none) and remember it for cdx_rs_errstr */
void cdx_rs_set_timeout(struct redis_store *r, long long ms);
/* cdx_rs_errstr: why the connection failed, for a message: hiredis's text,
 * except that a read or connect that ran out of time ("Resource
 * temporarily unavailable") says that it timed out and after how long
 * (BUF, N bytes, may be used); "connection closed" when hiredis says
 * nothing */
const char *cdx_rs_errstr(const struct redis_store *r, char *buf, size_t n);

/* ---- rs_append.c: records and flushing ----------------------------------
 * (append, flush and pending are the store ops of state/store.h) */
int cdx_rs_append(struct cdx_store *s, const cJSON *rec, struct cdx_error *err);
int cdx_rs_drain(struct redis_store *r, struct cdx_error *err);
int cdx_rs_flush(struct cdx_store *s, struct cdx_error *err);
int cdx_rs_flush_held(struct redis_store *r, bool force, struct cdx_error *err);
size_t cdx_rs_pending(struct cdx_store *s);
void cdx_rs_rec_free(struct rs_rec *x);
int cdx_rs_rec_make(const cJSON *rec, struct rs_rec *x, struct cdx_buf *scratch, struct cdx_error *err);
enum cdx_fenced_result cdx_rs_send_fenced(struct redis_store *r, const struct rs_rec *x, const char *name,
					  unsigned long long token, const char *secret,
					  struct cdx_error *err);
int cdx_rs_spill(struct redis_store *r, const char *why, struct cdx_error *err);

/* ---- rs_scan.c: the store ops that read (state/store.h) ----------------- */
int cdx_rs_scan(struct cdx_store *s, cdx_store_fn fn, void *ctx, struct cdx_error *err);
int cdx_rs_scan_runs(struct cdx_store *s, const char *pipeline, size_t n, cdx_store_fn fn, void *ctx,
		     struct cdx_error *err);
int cdx_rs_tail(struct cdx_store *s, char cursor[64], long long wait_ms, cdx_store_fn fn, void *ctx,
		struct cdx_error *err);

/* ---- rs_lock.c: the store ops of locks (state/store.h) ------------------ */
enum cdx_fenced_result cdx_rs_append_fenced(struct cdx_store *s, const char *name, unsigned long long token,
					    const cJSON *rec, struct cdx_error *err);
int cdx_rs_holder(struct cdx_store *s, const char *name, cJSON **current, struct cdx_error *err);
enum cdx_lock_result cdx_rs_lock(struct cdx_store *s, const char *name, const cJSON *holder, long long ttl_ms,
				 long long wait_ms, unsigned long long *token, cJSON **current,
				 struct cdx_error *err);
enum cdx_renew_result cdx_rs_renew(struct cdx_store *s, const char *name, unsigned long long token,
				   long long ttl_ms, struct cdx_error *err);
int cdx_rs_unlock(struct cdx_store *s, const char *name, unsigned long long token, struct cdx_error *err);

/* ---- rs_stream.c: attempt logs as streams (state/store.h) --------------- */
int cdx_rs_log_write(struct cdx_store *s, const char *key, const char *data, size_t len, int flags,
		     struct cdx_error *err);
int cdx_rs_log_read(struct cdx_store *s, const char *key, bool follow,
		    void (*fn)(void *ctx, const char *data, size_t len), void *ctx, bool *ended, bool *truncated,
		    struct cdx_error *err);
int cdx_rs_log_last(struct cdx_store *s, const char *run, const char *job, struct cdx_error *err);
/* cdx_rs_log_settle: write the log commands queued (CDX_LOG_DEFER) and
 * read their replies; -1 when the connection broke (dropped) */
int cdx_rs_log_settle(struct redis_store *r, struct cdx_error *err);

#endif /* CDX_RS_H */
