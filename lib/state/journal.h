/* journal.h — the append-only, checksummed journal under the file store.
 *
 * A journal is one file of records, one per line, each line a JSON object
 * that `jq` reads directly:
 *
 *     {"seq":42,"crc":"1a2b3c4d","rec":<payload>}\n
 *
 * where <payload> is the caller's record (a single-line JSON text, no
 * newline) and crc is the CRC-32 (cdx_crc32) of exactly the payload bytes,
 * as 8 lower-case hex digits.  seq numbers grow by one per record across
 * every process that writes the file.
 *
 * Durability: a newly created file is fsync'd together with its directory;
 * cdx_journal_sync() writes every buffered record with one write(2) under
 * an exclusive flock and fdatasyncs, so several processes may append at
 * once (group commit: append is cheap, sync is where the cost is paid).
 * Opening (and every sync, under the lock) detects a torn tail — a last
 * line without its newline, or one whose checksum or framing is wrong — and
 * cuts it off with ftruncate.  A damaged record in the middle is never
 * accepted: the scan skips it and counts it, and cdx_journal_repair moves
 * such lines to a side file, replacing the journal by rename; every handle
 * notices the replacement at its next lock and reads the new file.
 *
 * A handle opened with cdx_journal_open_ro only reads: it needs no write
 * permission, creates nothing and cuts nothing (a torn tail is just not
 * read).
 */
#ifndef CDX_JOURNAL_H
#define CDX_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/util.h"

struct cdx_journal;

/* largest payload accepted by append, in bytes */
#define CDX_JOURNAL_RECMAX (1u << 20)

/* cdx_journal_open: open or create the journal at PATH (its directory must
 * exist), cutting off a torn tail.  It reads the file backwards from the
 * end only as far as the last valid record, not the whole journal.  -1
 * with ERR set (code CDX_ESTATE) and *OUT NULL when it cannot be opened.
 * The handle belongs to this process: after fork, open another one in the
 * child.  Close with cdx_journal_close(). */
int cdx_journal_open(const char *path, struct cdx_journal **out, struct cdx_error *err);

/* cdx_journal_open_ro: open the journal at PATH for reading only (O_RDONLY,
 * shared locks); a missing file is an empty journal, looked for again at
 * every scan.  sync refuses (CDX_EUSAGE).  Otherwise as cdx_journal_open. */
int cdx_journal_open_ro(const char *path, struct cdx_journal **out, struct cdx_error *err);

/* cdx_journal_append: buffer (copy) a record of LEN bytes: 1 to
 * CDX_JOURNAL_RECMAX bytes, no newline inside, otherwise opaque.  It
 * reaches the file at the next sync; no system call is made.  -1 with ERR
 * set (code CDX_EUSAGE) for an invalid record, which is not buffered. */
int cdx_journal_append(struct cdx_journal *j, const char *rec, size_t len, struct cdx_error *err);

/* cdx_journal_pending: how many records are buffered and not yet synced */
size_t cdx_journal_pending(const struct cdx_journal *j);

/* cdx_journal_sync: write the buffered records (seq numbers assigned under
 * the lock: the seq of the last valid record in the file plus one, plus
 * one more per record) and make them durable.  Nothing buffered: 0 at once.
 * On failure what was written is cut off again, the records stay buffered
 * and -1 is returned with ERR set (code CDX_ESTATE; CDX_EUSAGE when called
 * in a process other than the one that opened J). */
int cdx_journal_sync(struct cdx_journal *j, struct cdx_error *err);

/* Called by cdx_journal_scan for every valid record, in file order; the
 * payload is NUL-terminated and valid only during the call.  Returning
 * non-zero stops the scan.  No lock is held during the call, so it may
 * append and sync, through J or another handle. */
typedef int (*cdx_journal_fn)(void *ctx, uint64_t seq, const char *rec, size_t len);

/* cdx_journal_scan: call FN (may be NULL: just count) for every valid
 * record on disk, from the start up to the last valid record at the time
 * of the call (records written by other processes included; buffered ones
 * excluded).  It reads in 64 KiB pieces; only a record that spans them is
 * copied.  A torn tail not yet cut (its writer died) is not read.
 * *DAMAGED (may be NULL) receives the number of lines skipped because their
 * framing or checksum was wrong.  0 also when FN stopped the scan; -1 with
 * ERR set (code CDX_ESTATE) on I/O error. */
int cdx_journal_scan(struct cdx_journal *j, cdx_journal_fn fn, void *ctx, size_t *damaged,
		     struct cdx_error *err);

/* cdx_journal_scan_from: cdx_journal_scan starting at file offset FROM,
 * which must be 0 or an *END that an earlier call on J returned (a line
 * boundary; the bytes before it never change).  *END (may be NULL)
 * receives the offset up to which this call read, for the next call: so a
 * reader following the journal reads each record once (store_file's tail).
 * An offset past the end of the file (it was replaced) reads from 0. */
int cdx_journal_scan_from(struct cdx_journal *j, off_t from, cdx_journal_fn fn, void *ctx, size_t *damaged,
			  off_t *end, struct cdx_error *err);

/* Called by cdx_journal_scan_bad for every line skipped as damaged: the
 * file offset where it starts and its length, newline excluded. */
typedef void (*cdx_journal_bad_fn)(void *ctx, off_t at, size_t len);

/* cdx_journal_scan_bad: cdx_journal_scan, with BAD (may be NULL) called
 * for every damaged line in file order, interleaved with FN's calls. */
int cdx_journal_scan_bad(struct cdx_journal *j, cdx_journal_fn fn, void *ctx, cdx_journal_bad_fn bad,
			 void *bad_ctx, size_t *damaged, struct cdx_error *err);

/* cdx_journal_repair: move the damaged lines of J's file to the file SIDE
 * (appended, each line as it was plus a newline, fsync'd; never deleted)
 * and replace the journal by one that holds its valid records only, byte
 * for byte: written beside it, fsync'd, renamed over it, the directory
 * fsync'd, all under the exclusive lock, so that a crash leaves either
 * the old journal or the new one.  *MOVED: lines moved (0: nothing
 * changed).  -1 with ERR set (CDX_ESTATE; CDX_EUSAGE for a read-only
 * handle). */
int cdx_journal_repair(struct cdx_journal *j, const char *side, size_t *moved, struct cdx_error *err);

/* cdx_journal_tip: the seq of the last valid record on disk now (0 when
 * there is none) in *SEQ and the offset just past it in *END (may be
 * NULL).  -1 with ERR set on I/O error. */
int cdx_journal_tip(struct cdx_journal *j, uint64_t *seq, off_t *end, struct cdx_error *err);

/* cdx_journal_set_lazy: with LAZY, cdx_journal_sync writes the records
 * (other processes see them, a crash of this one loses none) but skips the
 * fdatasync; the next sync that is not lazy, by any process, makes them
 * durable against power loss too.  For many short-lived writers of one
 * run whose last writer syncs (the jobs of a make run). */
void cdx_journal_set_lazy(struct cdx_journal *j, bool lazy);

/* cdx_journal_close: sync what is buffered (best effort) and free J.
 * Accepts NULL. */
void cdx_journal_close(struct cdx_journal *j);

#endif /* CDX_JOURNAL_H */
