/* redis_call.h — plain commands on a Redis store's connection, for the
 * worker pool (lib/exec/pool.c; keys in redis/SCHEMA.md, "Worker pool"):
 * replies as cJSON, stream reads with a callback per entry, and the
 * pool's scripts.  Every command is an argument vector.  Built only with
 * WITH_REDIS. */
#ifndef CDX_REDIS_CALL_H
#define CDX_REDIS_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include "state/store.h"

struct cJSON;

/* cdx_redis_prefix: the key prefix of S when it is a Redis store, else NULL */
const char *cdx_redis_prefix(struct cdx_store *s);

/* cdx_redis_call: the command ARGV[ARGC] (strings); *OUT (may be NULL; the
 * caller frees it) is its reply: a string, a number, an array, or null.
 * An error reply is a failure: -1 with ERR (CDX_ESTATE) */
int cdx_redis_call(struct cdx_store *s, int argc, const char *const *argv, struct cJSON **out,
		   struct cdx_error *err);

enum cdx_pool_script { CDX_POOL_TAKE, CDX_POOL_RENEW, CDX_POOL_DONE };
/* cdx_redis_script: the pool script I with ARGV (the prefix is added
 * first); its integer reply in *OUT.  -1 with ERR */
int cdx_redis_script(struct cdx_store *s, enum cdx_pool_script i, int argc, const char *const *argv,
		     long long *out, struct cdx_error *err);

/* one stream entry: ID and its fields */
typedef void (*cdx_redis_entry_fn)(void *ctx, size_t stream, const char *id, size_t nf,
				   const char *const *names, const char *const *vals, const size_t *lens);

/* cdx_redis_xread: XREAD (GROUP NULL) or XREADGROUP GROUP CONSUMER of the
 * N streams KEYS (full names) after IDS (each at most 63 bytes, advanced
 * to the last entry read, except with a group: ">" stays), at most COUNT
 * entries each (0: no limit), waiting up to BLOCK_MS (< 0: not at all)
 * for one; FN for each entry.  The number of entries, or -1 with ERR */
long cdx_redis_xread(struct cdx_store *s, const char *group, const char *consumer, size_t count, size_t n,
		     const char *const *keys, char (*ids)[64], long block_ms, cdx_redis_entry_fn fn,
		     void *ctx, struct cdx_error *err);

#endif /* CDX_REDIS_CALL_H */
