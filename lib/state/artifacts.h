/* artifacts.h — files kept with a run in the store: a job's declared files
 * packed (base/pack.h) after it ran, fetched later by `cdx artifacts` or
 * unpacked into the workspace of a job that needs them (the worker pool).
 * One mechanism for both: the pipeline key `artifacts:` and the pool's
 * transfer of `outputs:`.
 *
 * Each (run, job) keeps one artifact, its last stored attempt's; storing
 * again replaces it whole.  Where it lives:
 *
 *   file store  DIR/artifacts/RUN/ENC.pack and ENC.json (ENC: the job id
 *               with bytes outside [A-Za-z0-9_.-] %-encoded, so "/" is
 *               "%2F"); each written to a temporary name, fsync'd and
 *               renamed, the .pack first, then the .json that makes it
 *               visible
 *   Redis       P artifact:RUN:JOB, a list of chunks of 512 KiB, and the
 *               field JOB of the hash P artifacts:RUN (its meta); the
 *               chunks are uploaded to P artupload:RANDOM (one hour TTL)
 *               and renamed into place with the meta in one script, so a
 *               reader sees the old artifact or the new, never a part
 *               (redis/SCHEMA.md)
 *
 * The meta of an artifact is a JSON object: run, job, attempt, size (the
 * archive's bytes), files, bytes (the files' data), created_ms and
 * expire_at_ms (0: kept until the run is deleted).  Expired artifacts:
 * Redis drops them itself (key TTL); the file store prunes them when an
 * artifact is stored (at most every 10 minutes: DIR/artifacts/.pruned
 * says when it last did) and at every `cdx artifacts`
 * (cdx_artifacts_prune), and a read refuses an expired one that is still
 * there.
 *
 * The cap bounds the archive of one job (default CDX_ARTIFACTS_CAP, or
 * $CDX_ARTIFACTS_MAX as read by cdx_artifacts_cap); past it the store
 * fails with CDX_EFAILED naming the cap, and nothing of it is kept. */
#ifndef CDX_ARTIFACTS_H
#define CDX_ARTIFACTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/pack.h"
#include "state/store.h"

#define CDX_ARTIFACTS_CAP (64ll * 1024 * 1024)
/* the worker pool keeps a job's declared `outputs:` apart from its
 * `artifacts:`: as the artifact of JOB_ID followed by this suffix
 * ("build/compile#outputs"), so that neither replaces the other */
#define CDX_ARTIFACTS_OUTPUTS_SUFFIX "#outputs"
#define CDX_ARTIFACTS_CHUNK (512 * 1024)

struct cdx_artifact_info {
	char job[256];        /* the job id, "STAGE/JOB" */
	int attempt;          /* the attempt whose files these are, 1.. */
	uint64_t size;        /* bytes of the archive */
	size_t files;         /* regular files in it */
	size_t entries;       /* files, directories and symlinks */
	uint64_t bytes;       /* the files' data */
	int64_t created_ms;   /* when it was stored (ms since the epoch) */
	int64_t expire_at_ms; /* when it expires, 0: never */
};

typedef int (*cdx_artifact_fn)(void *ctx, const struct cdx_artifact_info *info);

/* cdx_artifacts_cap: the cap of one job's archive: $CDX_ARTIFACTS_MAX
 * (bytes, or with a k/K, m/M or g/G suffix of 1024s) when set, else
 * CDX_ARTIFACTS_CAP; -1 with ERR (CDX_EUSAGE) when the variable is not a
 * size */
int64_t cdx_artifacts_cap(struct cdx_error *err);

/* cdx_artifacts_put: pack what GLOBS (N) select under directory DIR and
 * keep it in S as the artifact of JOB_ID of run RUN, attempt ATTEMPT,
 * expiring EXPIRE_MS from now (0: never), at most CAP bytes (0: the
 * default).  INFO (may be NULL) says what was stored.  -1 with ERR:
 * CDX_EUSAGE for a bad run id or glob, CDX_EFAILED when packing fails or
 * the cap is passed, CDX_ESTATE when the store cannot be written; nothing
 * of a failed store is visible. */
int cdx_artifacts_put(struct cdx_store *s, const char *run, const char *job_id, int attempt, const char *dir,
		      char *const *globs, size_t n, int64_t expire_ms, int64_t cap,
		      struct cdx_artifact_info *info, struct cdx_error *err);

/* cdx_artifacts_put_archive: keep the archive DATA (LEN bytes, already
 * packed; checked first) as above */
int cdx_artifacts_put_archive(struct cdx_store *s, const char *run, const char *job_id, int attempt,
			      const void *data, size_t len, int64_t expire_ms, int64_t cap,
			      struct cdx_artifact_info *info, struct cdx_error *err);

/* cdx_artifacts_fetch: the archive of JOB_ID in run RUN, malloc'd in *DATA
 * (caller frees) with its length in *LEN and its meta in INFO (may be
 * NULL); read at most CAP bytes (0: the default).  -1 with ERR: CDX_EFAILED
 * when there is none or it expired, CDX_ESTATE when the store cannot be
 * read. */
int cdx_artifacts_fetch(struct cdx_store *s, const char *run, const char *job_id, int64_t cap, void **data,
			size_t *len, struct cdx_artifact_info *info, struct cdx_error *err);

/* cdx_artifacts_get: fetch the archive of JOB_ID in run RUN and unpack it
 * into DEST (created when missing; see cdx_unpack: nothing is written
 * outside it, nothing at all when the archive is unsound) */
int cdx_artifacts_get(struct cdx_store *s, const char *run, const char *job_id, const char *dest,
		      struct cdx_error *err);

/* cdx_artifacts_list: FN for the artifact of each job of run RUN that has
 * one and has not expired, in job id order.  -1 with ERR. */
int cdx_artifacts_list(struct cdx_store *s, const char *run, cdx_artifact_fn fn, void *ctx,
		       struct cdx_error *err);

/* cdx_artifacts_prune: remove the artifacts that expired before NOW_MS
 * (the file store; Redis expires its keys itself: 0 pruned); *PRUNED (may
 * be NULL) how many.  -1 with ERR. */
int cdx_artifacts_prune(struct cdx_store *s, int64_t now_ms, size_t *pruned, struct cdx_error *err);

/* cdx_artifact_info_json: INFO as a cJSON object (caller frees) */
struct cJSON *cdx_artifact_info_json(const struct cdx_artifact_info *info);

#endif /* CDX_ARTIFACTS_H */
