/* store_redis.h — the Redis state store (store_redis.c and the rs_*.c
 * files rs.h lists), one backend of the store interface in state/store.h.
 * Built only with WITH_REDIS; the key schema it writes is documented in
 * redis/SCHEMA.md, a public interface. */
#ifndef CDX_STORE_REDIS_H
#define CDX_STORE_REDIS_H

#include "state/store.h"

/* cdx_store_redis_open: connect to the server named by URL,
 *
 *     redis://[[user]:password@]host[:port][/db][?prefix=P&local=DIR]
 *
 * (user and password may be %-encoded), authenticate, select the
 * database and load the scripts.  Nothing is written.  The key prefix is
 * P, else $CDX_REDIS_PREFIX, else "cdx:".  Attempt logs, and records
 * spilled while Redis is lost, live in the local directory DIR (default
 * $CDX_REDIS_LOCAL, else .cdx; made absolute).  -1 with ERR set:
 * CDX_EUSAGE for a malformed URL, CDX_ESTATE naming the address and the
 * error when the server cannot be reached, refuses the credentials or
 * the database.  Close with cdx_store_close(). */
int cdx_store_redis_open(const char *url, struct cdx_store **out, struct cdx_error *err);

/* ---- artifacts (redis/rs_artifacts.c; the layout is state/artifacts.h's
 * and redis/SCHEMA.md's) ---------------------------------------------------- */

/* cdx_store_is_redis: S is a Redis store */
bool cdx_store_is_redis(const struct cdx_store *s);

struct cdx_rs_upload;
/* cdx_rs_upload_begin: a new upload of an archive to a temporary key;
 * NULL with ERR set when S cannot be reached.  Free with
 * cdx_rs_upload_free, which deletes what was not committed. */
struct cdx_rs_upload *cdx_rs_upload_begin(struct cdx_store *s, struct cdx_error *err);
/* cdx_rs_upload_write: append N bytes (sent a chunk at a time); -1 with ERR */
int cdx_rs_upload_write(struct cdx_rs_upload *u, const void *p, size_t n, struct cdx_error *err);
/* cdx_rs_upload_commit: make the upload the artifact of JOB in run RUN,
 * with META (JSON) in the run's hash, expiring at EXPIRE_AT_MS (0:
 * never), atomically; -1 with ERR */
int cdx_rs_upload_commit(struct cdx_rs_upload *u, const char *run, const char *job, const char *meta,
			 long long expire_at_ms, struct cdx_error *err);
void cdx_rs_upload_free(struct cdx_rs_upload *u);
/* cdx_rs_artifact_meta: the meta JSON of JOB in run RUN in *META
 * (malloc'd): 1, or 0 when there is none, -1 with ERR */
int cdx_rs_artifact_meta(struct cdx_store *s, const char *run, const char *job, char **meta,
			 struct cdx_error *err);
/* cdx_rs_artifact_read: the archive of JOB in run RUN appended to OUT (at
 * most MAX bytes, else -1 with ERR); OUT stays empty (data NULL) when the
 * key is gone */
int cdx_rs_artifact_read(struct cdx_store *s, const char *run, const char *job, size_t max, struct cdx_buf *out,
			 struct cdx_error *err);
/* cdx_rs_artifact_metas: FN for the meta JSON of each artifact of run RUN */
int cdx_rs_artifact_metas(struct cdx_store *s, const char *run, int (*fn)(void *ctx, const char *meta),
			  void *ctx, struct cdx_error *err);

#endif /* CDX_STORE_REDIS_H */
