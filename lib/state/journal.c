/* journal.c — the append-only, checksummed journal (see journal.h).
 *
 * The file is a sequence of lines `{"seq":N,"crc":"X","rec":P}` + '\n'.
 * Payloads never contain a newline, so '\n' alone delimits records and a
 * line is judged without looking at its neighbours.  A line is a valid
 * record when the fixed prefix, the seq (decimal, 1..UINT64_MAX, no
 * leading zero), the crc (8 lower-case hex digits equal to the CRC-32 of
 * the payload), a payload of 1..CDX_JOURNAL_RECMAX bytes and the closing
 * '}' are all right.  The CRC covers the payload only (journal.h fixes the
 * format), so a flipped digit of a seq goes unnoticed.
 *
 * Invariant: every process appends only under an exclusive flock, and cuts
 * only what lies after the last valid record.  So the bytes before the end
 * of any valid record never change again.  Each handle remembers `end`,
 * the end of the last valid record it has seen (always a line boundary),
 * and `last_seq`, that record's seq.  To catch up with other writers it
 * looks only at [end, size), searching backwards from the end of the file
 * for the last valid line: the cost is what was appended, not the size of
 * the journal.  Opening is the same search from end = 0, so it reads the
 * tail only.
 *
 * Scanning holds a shared lock just long enough to catch up, then reads
 * [0, end) without a lock: that range is immutable, so writers are not
 * held up by a long scan and the callback runs with no lock held (it may
 * append and sync, even through another handle of the same file).
 *
 * Buffered records are kept framed except for the seq, as
 * `,"crc":"X","rec":P}\n`, so sync only copies bytes while it holds the
 * lock.  A failed write or fdatasync is undone with ftruncate (still under
 * the lock) and the records stay buffered.
 *
 * Repair (cdx_journal_repair) is the one exception to append-only: under
 * the exclusive lock it writes the valid lines to a new file, fsyncs it and
 * renames it over the journal.  So every lock is taken by lock_current,
 * which checks, once it holds the lock, that the path still names the file
 * it locked, and else opens the path again and learns it from offset 0.
 * A read-only handle (cdx_journal_open_ro) opens O_RDONLY, takes shared
 * locks only and never cuts a torn tail: the tail is just not read.
 *
 * A handle belongs to the process that opened it: flock locks belong to the
 * open file description, which fork shares, so a child must open its own
 * handle; sync refuses in another process, and close does not sync there.
 */
#include "state/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define PFX_SEQ "{\"seq\":"
#define PFX_CRC ",\"crc\":\""
#define PFX_REC "\",\"rec\":"
#define LIT_LEN(s) (sizeof(s) - 1)
#define SEQ_DIGITS_MAX 20 /* digits of UINT64_MAX */
#define CRC_DIGITS 8
/* longest valid line, newline excluded */
#define FRAME_MAX                                                                                            \
	(LIT_LEN(PFX_SEQ) + SEQ_DIGITS_MAX + LIT_LEN(PFX_CRC) + CRC_DIGITS + LIT_LEN(PFX_REC) +              \
	 CDX_JOURNAL_RECMAX + 1)
#define CHUNK 65536 /* bytes per read */
/* the first backward read of a catch_up: a record or two.  A process that
 * appends one record (a `cdx job` per job of make) then touches one page
 * of chunk, not sixteen; the reads double up to CHUNK, so a long torn tail
 * is still walked back in linear time. */
#define BACK_FIRST 4096

struct cdx_journal {
	char *path;          /* as given to cdx_journal_open, for messages */
	int fd;              /* O_RDWR | O_APPEND | O_CLOEXEC (O_RDONLY when ro); -1 when
			      * not open (ro only: there is no file yet) */
	bool ro;             /* opened for reading: never writes, cuts or creates */
	pid_t pid;           /* the process that opened it, the only one that syncs */
	off_t end;           /* end of the last valid record seen: a line boundary */
	uint64_t last_seq;   /* seq of that record; 0 when there is none */
	struct cdx_buf pend; /* buffered records, each framed from `,"crc"` on */
	size_t *pend_ends;   /* offset in pend.data just past each buffered record */
	size_t npend;        /* buffered records */
	size_t cap_ends;     /* capacity of pend_ends, in elements */
	char *chunk;         /* CHUNK bytes for the backward search */
	off_t win;           /* file offset of the bytes in chunk */
	size_t win_len;      /* bytes in chunk, valid during one catch_up only */
	size_t back;         /* bytes of the next backward read, BACK_FIRST..CHUNK */
	char *line;          /* one line being checked by catch_up */
	size_t cap_line;     /* bytes allocated for line */
	bool lazy;           /* sync writes but leaves fdatasync to a later sync */
};

static void buf_add_u64(struct cdx_buf *b, uint64_t v)
{
	char d[SEQ_DIGITS_MAX];
	size_t i = sizeof(d);
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	cdx_buf_add(b, d + i, sizeof(d) - i);
}

static void buf_add_hex32(struct cdx_buf *b, uint32_t v)
{
	static const char hex[] = "0123456789abcdef";
	char d[CRC_DIGITS];
	int k;
	for (k = CRC_DIGITS - 1; k >= 0; k--) {
		d[k] = hex[v & 0xf];
		v >>= 4;
	}
	cdx_buf_add(b, d, sizeof(d));
}

/* frame_parse: whether LINE (N bytes, newline excluded) is a valid record;
 * if so, its seq in *SEQ and its payload at LINE + *OFF, *LEN bytes. */
static bool frame_parse(const char *line, size_t n, uint64_t *seq, size_t *off, size_t *len)
{
	size_t i = LIT_LEN(PFX_SEQ), digits, k;
	uint64_t s = 0;
	uint32_t crc = 0;
	if (n < i || memcmp(line, PFX_SEQ, i) != 0)
		return false;
	digits = i;
	while (i < n && line[i] >= '0' && line[i] <= '9') {
		unsigned v = (unsigned)(line[i] - '0');
		if (s > (UINT64_MAX - v) / 10)
			return false;
		s = s * 10 + v;
		i++;
	}
	if (i == digits || line[digits] == '0')
		return false;
	if (n - i < LIT_LEN(PFX_CRC) + CRC_DIGITS + LIT_LEN(PFX_REC) ||
	    memcmp(line + i, PFX_CRC, LIT_LEN(PFX_CRC)) != 0)
		return false;
	i += LIT_LEN(PFX_CRC);
	for (k = 0; k < CRC_DIGITS; k++) {
		char c = line[i + k];
		uint32_t v;
		if (c >= '0' && c <= '9')
			v = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (uint32_t)(c - 'a' + 10);
		else
			return false;
		crc = crc << 4 | v;
	}
	i += CRC_DIGITS;
	if (memcmp(line + i, PFX_REC, LIT_LEN(PFX_REC)) != 0)
		return false;
	i += LIT_LEN(PFX_REC);
	/* a payload of at least one byte, then the closing brace */
	if (n - i < 2 || n - i - 1 > CDX_JOURNAL_RECMAX || line[n - 1] != '}')
		return false;
	if (cdx_crc32(0, line + i, n - i - 1) != crc)
		return false;
	*seq = s;
	*off = i;
	*len = n - i - 1;
	return true;
}

static int lock_fd(struct cdx_journal *j, int op, struct cdx_error *err)
{
	while (flock(j->fd, op) < 0) {
		if (errno != EINTR)
			return cdx_error_set(err, CDX_ESTATE, "cannot lock journal %s: %s", j->path,
					     strerror(errno));
	}
	return 0;
}

static void unlock_fd(struct cdx_journal *j)
{
	/* fails only for a bad fd; the lock goes with the fd at close anyway */
	(void)flock(j->fd, LOCK_UN);
}

/* lock_current: take the flock OP on the file that j->path names now.
 * `cdx state check --repair` replaces the journal by rename (under an
 * exclusive lock of the old file), so a handle whose file is no longer
 * the path's opens the path again, under the lock, and learns it anew.
 * A read-only handle without a file (there was none) looks again; 1 when
 * there still is none (nothing locked). */
static int lock_current(struct cdx_journal *j, int op, struct cdx_error *err)
{
	for (;;) {
		struct stat a, b;
		int fd;
		if (j->fd >= 0) {
			if (lock_fd(j, op, err) < 0)
				return -1;
			if (stat(j->path, &a) < 0 || (fstat(j->fd, &b) == 0 && a.st_ino == b.st_ino &&
						       a.st_dev == b.st_dev))
				return 0; /* the same file (or the path is gone: keep it) */
			unlock_fd(j);
		}
		do
			fd = open(j->path, (j->ro ? O_RDONLY : O_RDWR | O_APPEND) | O_CLOEXEC);
		while (fd < 0 && errno == EINTR);
		if (fd < 0 && j->fd < 0 && errno == ENOENT)
			return 1;
		if (fd < 0)
			return cdx_error_set(err, CDX_ESTATE, "cannot open journal %s: %s", j->path,
					     strerror(errno));
		if (j->fd >= 0)
			close(j->fd);
		j->fd = fd;
		j->end = 0;
		j->last_seq = 0;
		j->win_len = 0;
	}
}

/* read_exact: N bytes at OFF into BUF.  The caller knows they exist, so a
 * short read means the file shrank behind our back, which is an error. */
static int read_exact(struct cdx_journal *j, char *buf, size_t n, off_t off, struct cdx_error *err)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(j->fd, buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cdx_error_set(err, CDX_ESTATE, "cannot read journal %s: %s", j->path,
					     strerror(errno));
		if (r == 0)
			return cdx_error_set(err, CDX_ESTATE, "journal %s shrank while being read", j->path);
		got += (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static int truncate_to(int fd, off_t size)
{
	while (ftruncate(fd, size) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static int fsync_fd(int fd, bool data_only)
{
	while ((data_only ? fdatasync(fd) : fsync(fd)) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* find_prev_nl: the offset of the last '\n' in [LO, HI) in *AT, or -1 in
 * *AT when there is none.  Reads go through the window j->chunk, which
 * holds [j->win, j->win + j->win_len) of the file: catch_up walks back
 * line by line, and many short lines share one read. */
static int find_prev_nl(struct cdx_journal *j, off_t lo, off_t hi, off_t *at, struct cdx_error *err)
{
	while (hi > lo) {
		const char *p;
		off_t from;
		if (!(j->win_len && hi > j->win && hi <= j->win + (off_t)j->win_len)) {
			size_t want = j->back >= BACK_FIRST && j->back <= CHUNK ? j->back : BACK_FIRST;
			size_t n = hi - lo > (off_t)want ? want : (size_t)(hi - lo);
			j->win_len = 0;
			if (read_exact(j, j->chunk, n, hi - (off_t)n, err) < 0)
				return -1;
			j->back = want < CHUNK ? 2 * want : CHUNK;
			j->win = hi - (off_t)n;
			j->win_len = n;
		}
		from = lo > j->win ? lo : j->win;
		p = memrchr(j->chunk + (from - j->win), '\n', (size_t)(hi - from));
		if (p) {
			*at = j->win + (p - j->chunk);
			return 0;
		}
		hi = from;
	}
	*at = -1;
	return 0;
}

/* catch_up: learn the last valid record appended since j->end, by anyone,
 * and when CUT, cut off whatever follows it (a torn tail).  The caller
 * holds the lock: exclusive when CUT, at least shared otherwise. */
static int catch_up(struct cdx_journal *j, bool cut, struct cdx_error *err)
{
	struct stat st;
	off_t lo, nl, prev;
	if (fstat(j->fd, &st) < 0)
		return cdx_error_set(err, CDX_ESTATE, "cannot stat journal %s: %s", j->path, strerror(errno));
	if (st.st_size < j->end) {
		/* cut or replaced by something that is not a journal writer:
		 * nothing we knew can be trusted, learn it again */
		j->end = 0;
		j->last_seq = 0;
	}
	if (st.st_size == j->end)
		return 0;
	j->win_len = 0; /* the file may have changed since the last call */
	j->back = BACK_FIRST;
	lo = j->end;
	if (find_prev_nl(j, lo, st.st_size, &nl, err) < 0)
		return -1;
	while (nl >= 0) {
		off_t start;
		size_t n, off, len;
		uint64_t seq;
		if (find_prev_nl(j, lo, nl, &prev, err) < 0)
			return -1;
		start = prev >= 0 ? prev + 1 : lo;
		n = (size_t)(nl - start);
		if (n <= FRAME_MAX) {
			const char *l;
			if (j->win_len && start >= j->win && nl <= j->win + (off_t)j->win_len) {
				l = j->chunk + (start - j->win);
			} else {
				/* the line is longer than what the window holds of it */
				cdx_grow(&j->line, &j->cap_line, n + 1, 1);
				if (read_exact(j, j->line, n, start, err) < 0)
					return -1;
				l = j->line;
			}
			if (frame_parse(l, n, &seq, &off, &len)) {
				j->end = nl + 1;
				j->last_seq = seq;
				break;
			}
		}
		nl = prev;
	}
	if (cut && st.st_size > j->end && truncate_to(j->fd, j->end) < 0)
		return cdx_error_set(err, CDX_ESTATE, "cannot cut the torn tail of journal %s: %s", j->path,
				     strerror(errno));
	return 0;
}

static void journal_free(struct cdx_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	cdx_buf_free(&j->pend);
	free(j->pend_ends);
	free(j->chunk);
	free(j->line);
	free(j);
}

/* open_file: open j->path, creating it when missing; *CREATED says which */
static int open_file(struct cdx_journal *j, bool *created, struct cdx_error *err)
{
	const int flags = (j->ro ? O_RDONLY : O_RDWR | O_APPEND) | O_CLOEXEC;
	for (;;) {
		j->fd = open(j->path, flags);
		if (j->fd >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == ENOENT && j->ro)
			return 0; /* no journal yet: an empty one, looked for again later */
		if (errno != ENOENT)
			break;
		j->fd = open(j->path, flags | O_CREAT | O_EXCL, 0666);
		if (j->fd >= 0) {
			*created = true;
			return 0;
		}
		/* EEXIST: another process created it just now */
		if (errno != EINTR && errno != EEXIST)
			break;
	}
	return cdx_error_set(err, CDX_ESTATE, "cannot open journal %s: %s", j->path, strerror(errno));
}

/* sync_new: make a new file PATH open as FD durable, its directory entry
 * included */
static int sync_new(const char *path, int fd, struct cdx_error *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? cdx_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : cdx_xstrdup(".");
	int dfd = -1, ret = -1;
	if (fsync_fd(fd, false) < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot sync journal %s: %s", path, strerror(errno));
		goto out;
	}
	do
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (dfd < 0 && errno == EINTR);
	if (dfd < 0 || fsync_fd(dfd, false) < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot sync directory %s of journal %s: %s", dir, path,
			      strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return ret;
}

static int journal_open(const char *path, bool ro, struct cdx_journal **out, struct cdx_error *err)
{
	struct cdx_journal *j = cdx_xcalloc(1, sizeof(*j));
	bool created = false;
	struct stat st;
	int rc;
	*out = NULL;
	j->fd = -1;
	j->ro = ro;
	j->path = cdx_xstrdup(path);
	j->pid = getpid();
	j->chunk = cdx_xmalloc(CHUNK);
	if (open_file(j, &created, err) < 0)
		goto fail;
	if (j->fd < 0) {
		*out = j;
		return 0;
	}
	if (fstat(j->fd, &st) < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot stat journal %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		cdx_error_set(err, CDX_ESTATE, "journal %s is not a regular file", path);
		goto fail;
	}
	/* an empty file may be one that another process has just created and
	 * not yet made durable: syncing it again is cheap */
	if (!ro && (created || st.st_size == 0) && sync_new(j->path, j->fd, err) < 0)
		goto fail;
	rc = lock_current(j, ro ? LOCK_SH : LOCK_EX, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		rc = catch_up(j, !ro, err);
		unlock_fd(j);
		if (rc < 0)
			goto fail;
	}
	*out = j;
	return 0;
fail:
	journal_free(j);
	return -1;
}

int cdx_journal_open(const char *path, struct cdx_journal **out, struct cdx_error *err)
{
	return journal_open(path, false, out, err);
}

int cdx_journal_open_ro(const char *path, struct cdx_journal **out, struct cdx_error *err)
{
	return journal_open(path, true, out, err);
}

int cdx_journal_append(struct cdx_journal *j, const char *rec, size_t len, struct cdx_error *err)
{
	if (len == 0)
		return cdx_error_set(err, CDX_EUSAGE, "empty journal record");
	if (len > CDX_JOURNAL_RECMAX)
		return cdx_error_set(err, CDX_EUSAGE, "journal record too large: %zu bytes (limit %u)", len,
				     CDX_JOURNAL_RECMAX);
	if (memchr(rec, '\n', len))
		return cdx_error_set(err, CDX_EUSAGE, "newline in journal record");
	cdx_buf_add(&j->pend, PFX_CRC, LIT_LEN(PFX_CRC));
	buf_add_hex32(&j->pend, cdx_crc32(0, rec, len));
	cdx_buf_add(&j->pend, PFX_REC, LIT_LEN(PFX_REC));
	cdx_buf_add(&j->pend, rec, len);
	cdx_buf_add(&j->pend, "}\n", 2);
	CDX_PUSH(j->pend_ends, j->npend, j->cap_ends, j->pend.len);
	return 0;
}

size_t cdx_journal_pending(const struct cdx_journal *j)
{
	return j ? j->npend : 0;
}

int cdx_journal_sync(struct cdx_journal *j, struct cdx_error *err)
{
	struct cdx_buf out = {0};
	size_t i, start = 0;
	int ret = -1;
	if (j->npend == 0)
		return 0;
	if (getpid() != j->pid)
		return cdx_error_set(err, CDX_EUSAGE, "journal %s used across fork: open it in this process",
				     j->path);
	if (j->ro)
		return cdx_error_set(err, CDX_EUSAGE, "journal %s was opened for reading", j->path);
	if (lock_current(j, LOCK_EX, err) < 0)
		return -1;
	if (catch_up(j, true, err) < 0)
		goto out;
	if (j->last_seq > UINT64_MAX - j->npend) {
		cdx_error_set(err, CDX_ESTATE, "journal %s has run out of seq numbers", j->path);
		goto out;
	}
	for (i = 0; i < j->npend; i++) {
		cdx_buf_add(&out, PFX_SEQ, LIT_LEN(PFX_SEQ));
		buf_add_u64(&out, j->last_seq + 1 + i);
		cdx_buf_add(&out, j->pend.data + start, j->pend_ends[i] - start);
		start = j->pend_ends[i];
	}
	if (write_all(j->fd, out.data, out.len) < 0 || (!j->lazy && fsync_fd(j->fd, true) < 0)) {
		int e = errno;
		/* undo, so that the records are written once, by a later sync;
		 * should this fail too, the next catch_up cuts a torn tail or
		 * keeps complete records (the later sync then repeats them) */
		(void)truncate_to(j->fd, j->end);
		cdx_error_set(err, CDX_ESTATE, "cannot write journal %s: %s", j->path, strerror(e));
		goto out;
	}
	j->end += (off_t)out.len;
	j->last_seq += j->npend;
	j->npend = 0;
	cdx_buf_reset(&j->pend);
	ret = 0;
out:
	unlock_fd(j);
	cdx_buf_free(&out);
	return ret;
}

/* a scan's report of the lines it skipped */
struct bad_lines {
	size_t n;              /* lines skipped */
	cdx_journal_bad_fn fn; /* called for each, or NULL */
	void *ctx;
};

static void skip_line(struct bad_lines *b, off_t at, size_t n)
{
	b->n++;
	if (b->fn)
		b->fn(b->ctx, at, n);
}

/* deliver: check the line L of N bytes (writable, newline excluded) that
 * starts at file offset AT and hand its payload to FN, or skip it as
 * damaged into B; true when FN asks to stop */
static bool deliver(char *l, size_t n, off_t at, cdx_journal_fn fn, void *ctx, struct bad_lines *b)
{
	uint64_t seq;
	size_t off, len;
	if (!frame_parse(l, n, &seq, &off, &len)) {
		skip_line(b, at, n);
		return false;
	}
	l[off + len] = '\0'; /* over the closing brace */
	return fn && fn(ctx, seq, l + off, len) != 0;
}

int cdx_journal_scan(struct cdx_journal *j, cdx_journal_fn fn, void *ctx, size_t *damaged,
		     struct cdx_error *err)
{
	return cdx_journal_scan_from(j, 0, fn, ctx, damaged, NULL, err);
}

int cdx_journal_tip(struct cdx_journal *j, uint64_t *seq, off_t *end, struct cdx_error *err)
{
	int rc = lock_current(j, LOCK_SH, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		rc = catch_up(j, false, err);
		unlock_fd(j);
		if (rc < 0)
			return -1;
	}
	*seq = j->last_seq;
	if (end)
		*end = j->end;
	return 0;
}

/* scan_range: cdx_journal_scan_from, each skipped line reported to B */
static int scan_range(struct cdx_journal *j, off_t from, cdx_journal_fn fn, void *ctx, struct bad_lines *b,
		      bool held, off_t *end, struct cdx_error *err)
{
	struct cdx_buf line = {0}; /* a line that spans reads */
	bool overlong = false, stop = false;
	char *chunk = NULL;
	off_t off = 0, limit, lstart;
	size_t llen = 0; /* bytes of the current line so far */
	int ret = -1, rc;
	/* HELD: the caller holds the exclusive lock and has caught up */
	rc = held ? 1 : lock_current(j, LOCK_SH, err);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		rc = catch_up(j, false, err);
		unlock_fd(j);
		if (rc < 0)
			goto out;
	}
	/* [0, limit) ends with a valid record and never changes again */
	limit = j->end;
	if (end)
		*end = limit;
	/* FROM is an end this handle reported before; past LIMIT the file
	 * was cut or replaced since, and the whole of it is read again */
	off = from > 0 && from <= limit ? from : 0;
	lstart = off;
	/* not j->chunk: FN may sync, which uses it */
	chunk = cdx_xmalloc(CHUNK);
	while (off < limit && !stop) {
		size_t n = limit - off > CHUNK ? CHUNK : (size_t)(limit - off), rest = n;
		char *p = chunk;
		off_t base = off;
		if (read_exact(j, chunk, n, off, err) < 0)
			goto out;
		off += (off_t)n;
		while (rest > 0 && !stop) {
			char *nl = memchr(p, '\n', rest);
			size_t take = nl ? (size_t)(nl - p) : rest;
			llen += take;
			if (overlong || line.len + take > FRAME_MAX) {
				overlong = true;
				cdx_buf_reset(&line);
			} else if (!nl || line.len) {
				cdx_buf_add(&line, p, take);
			}
			if (!nl)
				break;
			if (overlong)
				skip_line(b, lstart, llen);
			else if (line.len)
				stop = deliver(line.data, line.len, lstart, fn, ctx, b);
			else
				stop = deliver(p, take, lstart, fn, ctx, b);
			overlong = false;
			cdx_buf_reset(&line);
			lstart = base + (nl - chunk) + 1;
			llen = 0;
			p = nl + 1;
			rest -= take + 1;
		}
	}
	ret = 0;
out:
	cdx_buf_free(&line);
	free(chunk);
	return ret;
}

int cdx_journal_scan_from(struct cdx_journal *j, off_t from, cdx_journal_fn fn, void *ctx, size_t *damaged,
			  off_t *end, struct cdx_error *err)
{
	struct bad_lines b = {0, NULL, NULL};
	int rc = scan_range(j, from, fn, ctx, &b, false, end, err);
	if (damaged)
		*damaged = b.n;
	return rc;
}

int cdx_journal_scan_bad(struct cdx_journal *j, cdx_journal_fn fn, void *ctx, cdx_journal_bad_fn bad,
			 void *bad_ctx, size_t *damaged, struct cdx_error *err)
{
	struct bad_lines b = {0, bad, bad_ctx};
	int rc = scan_range(j, 0, fn, ctx, &b, false, NULL, err);
	if (damaged)
		*damaged = b.n;
	return rc;
}

/* ---- repair -------------------------------------------------------------- */

struct repair {
	struct cdx_journal *j;
	struct cdx_buf good;  /* valid lines, as they were */
	struct cdx_buf bad;   /* damaged lines, raw, each with a newline */
	int tmp_fd;           /* the new journal */
	bool failed;          /* a read or write failed: errno_saved says why */
	int errno_saved;
};

/* flush_good: write what R holds of the new journal when FORCE or big */
static void flush_good(struct repair *r, bool force)
{
	if (r->failed || (!force && r->good.len < CHUNK))
		return;
	if (write_all(r->tmp_fd, r->good.data, r->good.len) < 0) {
		r->failed = true;
		r->errno_saved = errno;
	}
	cdx_buf_reset(&r->good);
}

static int repair_good(void *ctx, uint64_t seq, const char *rec, size_t len)
{
	struct repair *r = ctx;
	cdx_buf_add(&r->good, PFX_SEQ, LIT_LEN(PFX_SEQ));
	buf_add_u64(&r->good, seq);
	cdx_buf_add(&r->good, PFX_CRC, LIT_LEN(PFX_CRC));
	buf_add_hex32(&r->good, cdx_crc32(0, rec, len));
	cdx_buf_add(&r->good, PFX_REC, LIT_LEN(PFX_REC));
	cdx_buf_add(&r->good, rec, len);
	cdx_buf_add(&r->good, "}\n", 2);
	flush_good(r, false);
	return r->failed;
}

static void repair_bad(void *ctx, off_t at, size_t n)
{
	struct repair *r = ctx;
	struct cdx_error e = {0};
	char *raw;
	if (r->failed)
		return;
	raw = cdx_xmalloc(n + 1);
	if (read_exact(r->j, raw, n, at, &e) < 0) {
		r->failed = true;
		r->errno_saved = EIO;
	} else {
		cdx_buf_add(&r->bad, raw, n);
		cdx_buf_addc(&r->bad, '\n');
	}
	free(raw);
}

/* write_file_synced: append N bytes to PATH (created 0644 when missing)
 * and fsync it; -1 with errno set */
static int write_file_synced(const char *path, const char *data, size_t n)
{
	int fd, e;
	do
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, n) < 0 || fsync_fd(fd, false) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int cdx_journal_repair(struct cdx_journal *j, const char *side, size_t *moved, struct cdx_error *err)
{
	struct repair r;
	struct stat st;
	char *tmp = NULL;
	int ret = -1, rc;
	*moved = 0;
	memset(&r, 0, sizeof(r));
	r.j = j;
	r.tmp_fd = -1;
	if (j->ro)
		return cdx_error_set(err, CDX_EUSAGE, "journal %s was opened for reading", j->path);
	rc = lock_current(j, LOCK_EX, err);
	if (rc < 0)
		return -1;
	if (catch_up(j, true, err) < 0 || fstat(j->fd, &st) < 0)
		goto out;
	tmp = cdx_xasprintf("%s.repair.%d", j->path, (int)getpid());
	(void)unlink(tmp); /* a leftover of a repair that died: never renamed */
	do
		r.tmp_fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
	while (r.tmp_fd < 0 && errno == EINTR);
	if (r.tmp_fd < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	{
		struct bad_lines b = {0, repair_bad, &r};
		if (scan_range(j, 0, repair_good, &r, &b, true, NULL, err) < 0)
			goto out;
		*moved = b.n;
	}
	flush_good(&r, true);
	if (r.failed) {
		cdx_error_set(err, CDX_ESTATE, "cannot repair journal %s: %s", j->path, strerror(r.errno_saved));
		goto out;
	}
	if (*moved == 0) {
		ret = 0;
		goto out;
	}
	/* the damaged lines are kept first: a crash after this point leaves
	 * the journal as it was, and a second repair copies them again */
	if (write_file_synced(side, r.bad.data, r.bad.len) < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot write %s: %s", side, strerror(errno));
		goto out;
	}
	if (fsync_fd(r.tmp_fd, false) < 0 || rename(tmp, j->path) < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot replace journal %s: %s", j->path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* the new file's directory entry, durable; then this handle reads it */
	if (sync_new(j->path, r.tmp_fd, err) < 0)
		goto out;
	ret = 0;
out:
	unlock_fd(j); /* writers waiting for the old file see it replaced */
	if (r.tmp_fd >= 0)
		close(r.tmp_fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	cdx_buf_free(&r.good);
	cdx_buf_free(&r.bad);
	return ret;
}

void cdx_journal_close(struct cdx_journal *j)
{
	if (!j)
		return;
	if (j->npend && getpid() == j->pid)
		(void)cdx_journal_sync(j, NULL);
	journal_free(j);
}

void cdx_journal_set_lazy(struct cdx_journal *j, bool lazy)
{
	j->lazy = lazy;
}
