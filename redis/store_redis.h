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

#endif /* CDX_STORE_REDIS_H */
