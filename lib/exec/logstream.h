/* logstream.h — an attempt's log sent to the store as it is written (the
 * store's log_write: a Redis stream per attempt), by the run that runs the
 * attempt here or the worker that runs it for a pool.  Output arrives
 * masked (the runner masks); it is buffered and sent at most every
 * CDX_LOGSTREAM_EVERY_MS, and capped: past the cap ($CDX_LOG_MAX bytes,
 * default 16 MiB) nothing more is sent and the end is marked truncated. */
#ifndef CDX_LOGSTREAM_H
#define CDX_LOGSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "state/store.h"

#define CDX_LOGSTREAM_EVERY_MS 50
#define CDX_LOG_MAX_DEFAULT ((size_t)16 << 20)

struct cdx_logstream {
	struct cdx_store *s; /* NULL: inactive (the store keeps no logs) */
	char key[256];
	struct cdx_buf buf; /* not sent yet */
	size_t taken, cap;  /* bytes accepted so far, the cap */
	bool truncated, first_sent, failed;
	bool defer; /* the end (and what is left) may wait for the
		       store's next command (CDX_LOG_DEFER): a run,
		       which flushes its records within 50 ms */
	int64_t last_ns;
};

/* cdx_log_max: the cap of a log in bytes ($CDX_LOG_MAX: N, NK, NM or NG) */
size_t cdx_log_max(void);

/* cdx_logstream_begin: start attempt ATTEMPT of JOB in RUN on store S
 * (inactive when S has no log_write) */
void cdx_logstream_begin(struct cdx_logstream *ls, struct cdx_store *s, const char *run, const char *job,
			 int attempt);
void cdx_logstream_add(struct cdx_logstream *ls, const char *data, size_t len);
/* cdx_logstream_flush: send what waits when it is time (FORCE: now);
 * END: and mark the end, then the stream is inactive.  A failure is
 * warned about once on stderr; the local log file is unaffected. */
void cdx_logstream_flush(struct cdx_logstream *ls, bool force, bool end);
void cdx_logstream_free(struct cdx_logstream *ls);

#endif /* CDX_LOGSTREAM_H */
