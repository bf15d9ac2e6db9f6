/* jobspec.h — the job specs that cdx.so hands to `cdx job`.
 *
 * $(cdx-pipeline) gives every job the same recipe, `cdx job --run ID ...
 * STAGE/JOB`; the job's definition (a one-job pipeline as JSON, see
 * cdx_pipeline_job_spec) travels beside it, in a spec store: an anonymous
 * in-memory file (memfd "cdx-specs-ID", else an unlinked temporary file)
 * that make holds open without close-on-exec, so that every recipe
 * inherits it.  Nothing of it is on disk, in make's variables or in a
 * recipe: `make -n` and `make -p` show none of it, concurrent makes each
 * have their own, and it is gone when make and its recipes are.
 *
 * The store is a fixed header, an open-addressing hash table of job ids
 * (linear probing, a power-of-two number of slots, at least twice the
 * jobs) and the specs, each as "STAGE/JOB\n" followed by the JSON.  The
 * module writes a job's spec when make expands the job's recipe, just
 * before it starts it; `cdx job` finds the store among its open
 * descriptors by the run id, reads its own slot and spec, and closes
 * every spec store it inherited, so that the job itself holds none.
 */
#ifndef CDX_JOBSPEC_H
#define CDX_JOBSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

/* the largest spec accepted, so a damaged store cannot make a reader
 * allocate without bound */
#define CDX_JOBSPEC_MAX (16u << 20)

/* the writer of one store (cdx.so, one per pipeline of a make process) */
struct cdx_jobspec_w {
	int fd;              /* the store, -1 when closed */
	uint64_t n_slots;    /* slots of the id table, a power of two */
	unsigned char *used; /* n_slots flags: slot taken */
	uint64_t end;        /* offset where the next spec goes */
};

/* cdx_jobspec_create: a new store for run RUN_ID with room for N_JOBS
 * jobs, open without close-on-exec; 0, or -1 with ERR (W is then closed).
 * Release with cdx_jobspec_close. */
int cdx_jobspec_create(struct cdx_jobspec_w *w, const char *run_id, size_t n_jobs, struct cdx_error *err);
/* cdx_jobspec_put: store SPEC (LEN bytes) as the spec of job ID
 * ("STAGE/JOB"); 0, or -1 with ERR.  Each id is put at most once. */
int cdx_jobspec_put(struct cdx_jobspec_w *w, const char *id, const char *spec, size_t len, struct cdx_error *err);
/* cdx_jobspec_close: close the store and free W's memory (W may be zeroed
 * or closed already) */
void cdx_jobspec_close(struct cdx_jobspec_w *w);

/* cdx_jobspec_take: the spec of job ID in the store of run RUN_ID that this
 * process inherited (caller frees); NULL with ERR when there is no such
 * store or job.  Every inherited spec store is closed, found or not. */
char *cdx_jobspec_take(const char *run_id, const char *id, struct cdx_error *err);

/* The store also tells how make ended: the module notes the fatal signal
 * make received (SIGINT, SIGTERM, SIGHUP, SIGQUIT) in it, and the watcher
 * of the run, which opened the store through /proc while make ran, reads it
 * once make is gone: a run that make stopped on a signal is cancelled, even
 * when every job that ran succeeded (SIGINT to make alone lets the running
 * jobs finish, then make dies of it).
 *
 * cdx_jobspec_note_signal: note SIG in store FD; async-signal-safe (one
 * pwrite), for make's signal handler */
void cdx_jobspec_note_signal(int fd, int sig);
/* cdx_jobspec_open_of: the store of run RUN_ID that process PID holds,
 * opened read-only (close with close()); -1 when PID holds none or its
 * descriptors cannot be read */
int cdx_jobspec_open_of(long pid, const char *run_id);
/* cdx_jobspec_signal: the signal noted in store FD, 0 when none (or FD is
 * -1 or unreadable) */
int cdx_jobspec_signal(int fd);

#endif /* CDX_JOBSPEC_H */
