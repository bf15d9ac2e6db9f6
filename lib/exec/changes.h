/* changes.h — `changes:` of rules: did a file matching the globs change,
 * by content, since the last successful run of the job?
 *
 * The files under the workspace matching a rule's globs (rules.h,
 * cdx_glob_match; symbolic links are not followed, .git and the state
 * directory are left out, and SKIP, the file store's directory when it is
 * inside the workspace) are hashed, path and content, into one digest,
 * kept under a key made of the globs.  A job's attempt record carries the
 * digests its decision saw ("changes": {KEY: DIGEST}); the rule matches
 * when the job's last successful attempt in the store has no digest for
 * KEY or another one.  Records are plain store records, so both stores
 * keep them.  Bounded: at most CDX_CHANGES_FILES files a rule.
 */
#ifndef CDX_CHANGES_H
#define CDX_CHANGES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"
#include "pipeline/rules.h"

#define CDX_CHANGES_FILES 200000

struct cdx_store;
struct cJSON;

/* cdx_changes_digest: KEY (17 bytes: 16 hex + NUL) of rule R's globs and
 * DIGEST (17 bytes) of the files under DIR matching them; -1 with ERR
 * when DIR cannot be read or holds too many matching files */
int cdx_changes_digest(const char *dir, const struct cdx_rule *r, const char *skip, char key[17],
		       char digest[17], struct cdx_error *err);

/* cdx_changes_last: the "changes" object of the last successful attempt
 * of each job of PIPELINE in S: LAST[j] (a cJSON object the caller frees
 * with cJSON_Delete, or NULL) for job ids IDS[N].  Reading problems leave
 * every LAST[j] NULL (everything counts as changed). */
void cdx_changes_last(struct cdx_store *s, const char *pipeline, const char *const *ids, size_t n,
		      struct cJSON **last);

#endif /* CDX_CHANGES_H */
