/* store.h — the state store: where runs, attempts and their history live.
 *
 * A store is a sequence of JSON records behind a small table of function
 * pointers, so that the file store (store_file.c: an append-only journal in
 * a directory) and later backends share every caller.  Records are plain
 * JSON objects with a "t" field naming their type:
 *
 *   run      a run started: id, pipeline, file, file_hash, vars (secrets
 *            never included), version, start_ms, host, user, pid, pid_start,
 *            job_count, workers
 *   attempt  one attempt of a job ended: run, job, attempt, status,
 *            exit_code, signal, start_ms, wall_ms, user_ms, sys_ms,
 *            maxrss_kb, queued_ms, log
 *   job      a job's final status: run, job, status, attempts, duration_ms
 *   run_end  a run ended: id, status, end_ms, counts
 *
 * append() buffers; flush() makes what was appended durable.  A reader
 * sees records in the order they were made durable.
 */
#ifndef CDX_STORE_H
#define CDX_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

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

/* cdx_store_file_open: the file store in directory DIR (created if needed) */
int cdx_store_file_open(const char *dir, struct cdx_store **out, struct cdx_error *err);

/* cdx_mkdirs: mkdir -p PATH with mode 0755; -1 with errno set */
int cdx_mkdirs(const char *path);

#endif /* CDX_STORE_H */
