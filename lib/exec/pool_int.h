/* pool_int.h — what pool.c (the owner's runner, queries) and
 * pool_worker.c (the worker) share; not a public interface. */
#ifndef CDX_POOL_INT_H
#define CDX_POOL_INT_H

#include <cjson/cJSON.h>

#include "exec/pool.h"
#include "state/store.h"

#define POOL_GROUP "workers"
#define POOL_MAX_TAGS 8
#define POOL_UP_MS 15000 /* a worker without a heartbeat for this long is down */

/* the pickup latency histogram's upper bounds, ms (the last is +Inf) */
extern const double cdx_pool_buckets[];
extern const size_t cdx_pool_n_buckets;
/* the bucket label ("le") of a pickup of MS milliseconds */
const char *cdx_pool_bucket(double ms);

/* the queue stream of jobs that need tags TAGS ("" or sorted "a,b") */
char *cdx_pool_qkey(const char *prefix, const char *tags);

/* a result as JSON and back */
cJSON *cdx_pool_result_json(const struct cdx_proc_result *r);
void cdx_pool_result_from(const cJSON *j, struct cdx_proc_result *r);

/* cdx_pool_open: the Redis store STATE; CDX_EUSAGE naming WHO when it is
 * another kind of store */
int cdx_pool_open(const char *state, const char *who, struct cdx_store **out, struct cdx_error *err);

#endif /* CDX_POOL_INT_H */
