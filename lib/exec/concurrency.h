/* concurrency.h — concurrency groups of pipelines (`concurrency:` in a
 * pipeline file): at most LIMIT runs of a group at once, on one machine
 * with the file store, across machines with the Redis store. */
#ifndef CDX_CONCURRENCY_H
#define CDX_CONCURRENCY_H

#include <signal.h>
#include <stdio.h>

#include "pipeline/pipeline.h"
#include "state/store.h"

struct cdx_slot;

/* what cdx_concurrency_acquire did (the values are the bare -1/0/1 of old) */
enum cdx_slot_result { CDX_SLOT_ERROR = -1, CDX_SLOT_TAKEN = 0, CDX_SLOT_CANCELLED = 1 };

/* cdx_concurrency_acquire: a slot of P's concurrency group for run RUN_ID
 * in store S.  *SLOT is NULL when P names no group.  When every slot is
 * taken it waits, saying so once on ERRF — or, with cancel_in_progress,
 * cancels the oldest running run of the group and takes its slot.  Gives
 * up when *CANCEL becomes non-zero (CDX_SLOT_CANCELLED).  CDX_SLOT_TAKEN
 * (also when there is no group); CDX_SLOT_ERROR with ERR set (CDX_ESTATE)
 * when the store cannot hold slots.  Free with cdx_concurrency_release(). */
enum cdx_slot_result cdx_concurrency_acquire(struct cdx_store *s, const struct cdx_pipeline *p,
					     const char *run_id, volatile sig_atomic_t *cancel, FILE *errf,
					     struct cdx_slot **slot, struct cdx_error *err);

/* cdx_concurrency_keep: call now and then while the run works (renews a
 * slot held in Redis, at most every third of its TTL); 1 when the slot was
 * lost — a newer run with cancel_in_progress took it, or its TTL lapsed —
 * and the run must stop, else 0.  Accepts NULL. */
int cdx_concurrency_keep(struct cdx_slot *slot);

/* cdx_concurrency_release: give the slot back and free it; accepts NULL */
void cdx_concurrency_release(struct cdx_slot *slot);

#endif /* CDX_CONCURRENCY_H */
