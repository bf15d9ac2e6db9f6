/* store_file.c — the embedded file store: a directory holding one
 * append-only journal (journal.jsonl, framing and durability in journal.c)
 * and the attempt logs (logs/RUN/STAGE/JOB.N.log).  Records are written as
 * compact single-line JSON, so `jq -c .rec DIR/journal.jsonl` reads them.
 *
 * Tailing: a cursor is the journal seq of the last record seen, in
 * decimal.  The handle remembers where in the file the record after its
 * last cursor starts, so a follower that passes back the cursor it was
 * given reads only what was appended since; any other cursor costs one
 * scan from the beginning.  Waiting for records is polling with a short
 * sleep: the journal has no change notification, and a follower is a
 * person watching a terminal.
 *
 * Damage: a scan that skips damaged journal lines says so on stderr (how
 * many, where the first one starts, what to run), once per process for
 * the same damage, so that a command that scans twice warns once.  A
 * store opened for reading (cdx_store_open_read) opens the journal
 * read-only and creates nothing: reading never needs write access. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "state/journal.h"
#include "state/store.h"

/* a lock this process holds: its file stays open with the flock on it */
struct held_lock {
	char *name;
	int fd;
	unsigned long long token;
};

struct file_store {
	struct cdx_store base; /* first: a struct cdx_store * is a file_store * */
	struct cdx_journal *j;
	char *dir;             /* absolute state directory */
	char *journal;         /* its journal file */
	struct held_lock *held;
	size_t n_held, cap_held;
	bool ro;           /* opened for reading: the journal is read-only */
	uint64_t tail_seq; /* the cursor the last tail call returned */
	off_t tail_off;    /* where the records after tail_seq start */
};

/* how long tail sleeps between looks at the journal */
#define TAIL_POLL_MS 50

static int fs_append(struct cdx_store *s, const cJSON *rec, struct cdx_error *err)
{
	struct file_store *f = (struct file_store *)s;
	char *text = cJSON_PrintUnformatted(rec);
	int rc;
	if (!text)
		return cdx_error_set(err, CDX_ESTATE, "cannot serialise a record");
	rc = cdx_journal_append(f->j, text, strlen(text), err);
	free(text);
	return rc;
}

static int fs_flush(struct cdx_store *s, struct cdx_error *err)
{
	struct file_store *f = (struct file_store *)s;
	cdx_journal_set_lazy(f->j, s->lazy_sync);
	return cdx_journal_sync(f->j, err);
}

static size_t fs_pending(struct cdx_store *s)
{
	return cdx_journal_pending(((struct file_store *)s)->j);
}

struct scan_ctx {
	cdx_store_fn fn;
	void *ctx;
};

static int fs_one(void *ctx, uint64_t seq, const char *rec, size_t len)
{
	struct scan_ctx *sc = ctx;
	cJSON *o = cJSON_ParseWithLength(rec, len);
	int rc = 0;
	(void)seq;
	if (o && cJSON_IsObject(o))
		rc = sc->fn(sc->ctx, o);
	cJSON_Delete(o);
	return rc;
}

/* where the first damaged line of a scan starts */
static void first_bad(void *ctx, off_t at, size_t len)
{
	off_t *first = ctx;
	(void)len;
	if (*first < 0)
		*first = at;
}

/* warn_damage: tell (once per process for the same damage) that a scan of
 * journal PATH skipped N damaged lines, the first at byte FIRST.  The one
 * piece of process-wide state here: the last damage told. */
static void warn_damage(const char *path, size_t n, off_t first)
{
	static char told_path[4096];
	static size_t told_n;
	static off_t told_first = -1;
	if (n == told_n && first == told_first && strcmp(path, told_path) == 0)
		return;
	snprintf(told_path, sizeof(told_path), "%s", path);
	told_n = n;
	told_first = first;
	fprintf(stderr,
		"cdx: warning: skipped %zu damaged record%s in %s (the first at byte %lld); `cdx state check` "
		"shows %s, `cdx state check --repair` moves %s aside\n",
		n, n == 1 ? "" : "s", path, (long long)first, n == 1 ? "it" : "them", n == 1 ? "it" : "them");
}

static int count_one(void *ctx, uint64_t seq, const char *rec, size_t len)
{
	(void)seq;
	(void)rec;
	(void)len;
	(*(size_t *)ctx)++;
	return 0;
}

static int fs_scan(struct cdx_store *s, cdx_store_fn fn, void *ctx, struct cdx_error *err)
{
	struct file_store *f = (struct file_store *)s;
	struct scan_ctx sc = {fn, ctx};
	off_t first = -1;
	size_t bad = 0;
	int rc = cdx_journal_scan_bad(f->j, fs_one, &sc, first_bad, &first, &bad, err);
	if (rc == 0 && bad)
		warn_damage(f->journal, bad, first);
	return rc;
}

struct tail_ctx {
	cdx_store_fn fn;
	void *ctx;
	uint64_t after; /* deliver records with a greater seq */
	uint64_t last;  /* seq of the last record delivered */
	size_t n;       /* records delivered */
	bool stopped;   /* FN asked to stop */
};

static int tail_one(void *ctx, uint64_t seq, const char *rec, size_t len)
{
	struct tail_ctx *tc = ctx;
	cJSON *o;
	int rc = 0;
	if (seq <= tc->after)
		return 0;
	o = cJSON_ParseWithLength(rec, len);
	tc->last = seq;
	tc->n++;
	if (o && cJSON_IsObject(o))
		rc = tc->fn(tc->ctx, o);
	cJSON_Delete(o);
	if (rc)
		tc->stopped = true;
	return rc;
}

static int parse_cursor(const char *c, uint64_t *seq)
{
	char *end;
	unsigned long long v;
	if (!*c) {
		*seq = 0;
		return 0;
	}
	if (*c < '0' || *c > '9')
		return -1;
	errno = 0;
	v = strtoull(c, &end, 10);
	if (*end || errno)
		return -1;
	*seq = v;
	return 0;
}

static int fs_tail(struct cdx_store *s, char cursor[64], long long wait_ms, cdx_store_fn fn, void *ctx,
		   struct cdx_error *err)
{
	struct file_store *f = (struct file_store *)s;
	struct tail_ctx tc = {fn, ctx, 0, 0, 0, false};
	int64_t deadline = cdx_now_ns() + (wait_ms > 0 ? wait_ms : 0) * 1000000;
	off_t end;
	if (strcmp(cursor, "$") == 0) {
		if (cdx_journal_tip(f->j, &tc.after, &end, err) < 0)
			return -1;
		f->tail_seq = tc.after;
		f->tail_off = end;
		snprintf(cursor, 64, "%llu", (unsigned long long)tc.after);
	} else if (parse_cursor(cursor, &tc.after) < 0) {
		return cdx_error_set(err, CDX_EUSAGE, "bad tail cursor '%.63s': a journal seq is expected", cursor);
	}
	for (;;) {
		off_t from = tc.after == f->tail_seq ? f->tail_off : 0;
		struct timespec ts;
		int64_t left;
		tc.last = tc.after;
		if (cdx_journal_scan_from(f->j, from, tail_one, &tc, NULL, &end, err) < 0)
			return -1;
		if (tc.n) {
			/* FN may have stopped early: resume after the last one seen */
			f->tail_seq = tc.last;
			f->tail_off = tc.stopped ? 0 : end;
			snprintf(cursor, 64, "%llu", (unsigned long long)tc.last);
			return 0;
		}
		f->tail_seq = tc.after;
		f->tail_off = end;
		left = (deadline - cdx_now_ns()) / 1000000;
		if (left <= 0)
			return 0;
		if (left > TAIL_POLL_MS)
			left = TAIL_POLL_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000;
		nanosleep(&ts, NULL);
	}
}

/* Locks.  DIR/locks/NAME.lock carries an exclusive flock for as long as
 * its holder's process keeps it open (so a dead holder's lock is free at
 * once: the kernel drops the flock) and, as its content, the holder JSON.
 * NAME.fence counts fencing tokens.  Waiters queue in NAME.q/ as files
 * named by their arrival time and pid; only the oldest live waiter tries
 * the flock, so waiters are served oldest first.  Every descriptor is
 * close-on-exec: a service started by a hook must never inherit a lock. */

static char *lock_path(struct file_store *f, const char *name, const char *suffix)
{
	struct cdx_buf b = {0};
	const char *p;
	cdx_buf_printf(&b, "%s/locks/", f->dir);
	for (p = name; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		    ch == '-' || (ch == '.' && p != name))
			cdx_buf_addc(&b, (char)ch);
		else
			cdx_buf_printf(&b, "%%%02X", ch);
	}
	cdx_buf_adds(&b, suffix);
	cdx_buf_addc(&b, '\0');
	return cdx_buf_detach(&b);
}

static cJSON *read_holder(int fd)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	cJSON *h;
	if (n <= 0)
		return cJSON_CreateObject();
	buf[n] = '\0';
	h = cJSON_Parse(buf);
	return h ? h : cJSON_CreateObject();
}

/* the oldest live waiter in queue directory Q, or NULL (caller frees) */
static char *oldest_waiter(const char *q)
{
	DIR *d = opendir(q);
	struct dirent *de;
	char *best = NULL;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		const char *dash = strchr(de->d_name, '-');
		if (de->d_name[0] == '.' || !dash)
			continue;
		if (!cdx_process_alive(atoi(dash + 1))) {
			char *p = cdx_xasprintf("%s/%s", q, de->d_name);
			unlink(p);
			free(p);
			continue;
		}
		if (!best || strcmp(de->d_name, best) < 0) {
			free(best);
			best = cdx_xstrdup(de->d_name);
		}
	}
	closedir(d);
	return best;
}

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static unsigned long long next_token(struct file_store *f, const char *name)
{
	char *path = lock_path(f, name, ".fence"), buf[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	unsigned long long t = 0;
	ssize_t n;
	free(path);
	if (fd < 0)
		return 0;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		t = strtoull(buf, NULL, 10);
	}
	t++;
	n = snprintf(buf, sizeof(buf), "%llu\n", t);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n || fdatasync(fd) < 0)
		t = 0;
	close(fd);
	return t;
}

static enum cdx_lock_result fs_lock(struct cdx_store *s, const char *name, const cJSON *holder,
				    long long ttl_ms, long long wait_ms, unsigned long long *token,
				    cJSON **current, struct cdx_error *err)
{
	struct file_store *f = (struct file_store *)s;
	char *path = lock_path(f, name, ".lock"), *qdir = lock_path(f, name, ".q"), *me = NULL, *mine = NULL;
	char *locks = cdx_xasprintf("%s/locks", f->dir), *text = NULL;
	int64_t deadline = cdx_now_ns() / 1000000 + wait_ms;
	int fd = -1;
	enum cdx_lock_result rc = CDX_LOCK_ERROR;
	(void)ttl_ms; /* a holder's process keeps the flock: no lease to expire */
	*token = 0;
	if (current)
		*current = NULL;
	if (cdx_mkdirs(locks) < 0 || cdx_mkdirs(qdir) < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot create %s: %s", qdir, strerror(errno));
		goto out;
	}
	if (wait_ms != 0) { /* take a place in the queue */
		struct timespec ts;
		int qfd;
		clock_gettime(CLOCK_REALTIME, &ts);
		mine = cdx_xasprintf("%020lld%09ld-%d", (long long)ts.tv_sec, ts.tv_nsec, (int)getpid());
		me = cdx_xasprintf("%s/%s", qdir, mine);
		qfd = open(me, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (qfd < 0) {
			cdx_error_set(err, CDX_ESTATE, "cannot queue for lock %s: %s", name, strerror(errno));
			goto out;
		}
		close(qfd);
	}
	for (;;) {
		char *first = oldest_waiter(qdir);
		bool my_turn = mine ? (first && strcmp(first, mine) == 0) : !first;
		free(first);
		if (my_turn) {
			fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0) {
				cdx_error_set(err, CDX_ESTATE, "cannot open %s: %s", path, strerror(errno));
				goto out;
			}
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				break;
			if (wait_ms == 0 || (wait_ms > 0 && cdx_now_ns() / 1000000 >= deadline)) {
				if (current)
					*current = read_holder(fd);
				close(fd);
				fd = -1;
				rc = CDX_LOCK_BUSY;
				goto out;
			}
			close(fd);
			fd = -1;
		} else if (wait_ms == 0 || (wait_ms > 0 && cdx_now_ns() / 1000000 >= deadline)) {
			int hfd = open(path, O_RDONLY | O_CLOEXEC);
			if (current)
				*current = hfd >= 0 ? read_holder(hfd) : cJSON_CreateObject();
			if (hfd >= 0)
				close(hfd);
			rc = CDX_LOCK_BUSY;
			goto out;
		}
		nap(20);
	}
	*token = next_token(f, name);
	if (!*token) {
		cdx_error_set(err, CDX_ESTATE, "cannot count fencing tokens for lock %s: %s", name, strerror(errno));
		close(fd);
		goto out;
	}
	{
		cJSON *h = cJSON_Duplicate(holder, 1);
		cJSON_AddNumberToObject(h, "token", (double)*token);
		text = cJSON_PrintUnformatted(h);
		cJSON_Delete(h);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text) || fdatasync(fd) < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot write lock %s: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	cdx_grow(&f->held, &f->cap_held, f->n_held + 1, sizeof(*f->held));
	f->held[f->n_held++] = (struct held_lock){cdx_xstrdup(name), fd, *token};
	rc = CDX_LOCK_TAKEN;
out:
	if (me)
		unlink(me);
	free(me);
	free(mine);
	free(text);
	free(path);
	free(qdir);
	free(locks);
	return rc;
}

static struct held_lock *find_held(struct file_store *f, const char *name, unsigned long long token)
{
	size_t i;
	for (i = 0; i < f->n_held; i++)
		if (strcmp(f->held[i].name, name) == 0 && f->held[i].token == token)
			return &f->held[i];
	return NULL;
}

static enum cdx_renew_result fs_renew(struct cdx_store *s, const char *name, unsigned long long token,
				      long long ttl_ms, struct cdx_error *err)
{
	(void)ttl_ms;
	(void)err;
	return find_held((struct file_store *)s, name, token) ? CDX_RENEW_HELD : CDX_RENEW_LOST;
}

static int fs_unlock(struct cdx_store *s, const char *name, unsigned long long token, struct cdx_error *err)
{
	struct file_store *f = (struct file_store *)s;
	struct held_lock *h = find_held(f, name, token);
	(void)err;
	if (!h)
		return 0;
	if (ftruncate(h->fd, 0) < 0) {
		/* the content is advisory; the flock goes with the close */
	}
	close(h->fd);
	free(h->name);
	*h = f->held[--f->n_held];
	return 0;
}

static int fs_holder(struct cdx_store *s, const char *name, cJSON **current, struct cdx_error *err)
{
	struct file_store *f = (struct file_store *)s;
	char *path = lock_path(f, name, ".lock");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	(void)err;
	*current = NULL;
	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		*current = read_holder(fd);
	close(fd);
	return 0;
}

static enum cdx_fenced_result fs_append_fenced(struct cdx_store *s, const char *name,
					       unsigned long long token, const cJSON *rec,
					       struct cdx_error *err)
{
	if (!find_held((struct file_store *)s, name, token))
		return CDX_FENCED_REFUSED;
	if (fs_append(s, rec, err) < 0 || fs_flush(s, err) < 0)
		return CDX_FENCED_ERROR;
	return CDX_FENCED_WRITTEN;
}

static void fs_close(struct cdx_store *s)
{
	struct file_store *f = (struct file_store *)s;
	while (f->n_held)
		fs_unlock(s, f->held[0].name, f->held[0].token, NULL);
	free(f->held);
	free(f->dir);
	free(f->journal);
	cdx_journal_close(f->j);
	free(f->base.url);
	free(f->base.log_dir);
	free(f);
}

static const char *fs_local_dir(struct cdx_store *s)
{
	return ((struct file_store *)s)->dir;
}

static const struct cdx_store_ops file_ops = {
	.append = fs_append,
	.flush = fs_flush,
	.scan = fs_scan,
	.pending = fs_pending,
	.close = fs_close,
	.lock = fs_lock,
	.renew = fs_renew,
	.unlock = fs_unlock,
	.holder = fs_holder,
	.append_fenced = fs_append_fenced,
	.tail = fs_tail,
	.local_dir = fs_local_dir,
};

static int file_open(const char *dir, bool ro, struct cdx_store **out, struct cdx_error *err)
{
	struct file_store *f;
	char *path, *abs;
	int rc;
	*out = NULL;
	if (!ro && cdx_mkdirs(dir) < 0)
		return cdx_error_set(err, CDX_ESTATE, "cannot create state directory %s: %s", dir, strerror(errno));
	f = cdx_xcalloc(1, sizeof(*f));
	/* absolute, so recorded log paths work from any directory */
	abs = realpath(dir, NULL);
	if (abs)
		dir = abs;
	path = cdx_xasprintf("%s/journal.jsonl", dir);
	rc = ro ? cdx_journal_open_ro(path, &f->j, err) : cdx_journal_open(path, &f->j, err);
	if (rc < 0) {
		free(path);
		free(abs);
		free(f);
		return -1;
	}
	f->journal = path;
	f->ro = ro;
	f->base.ops = &file_ops;
	f->base.url = cdx_xasprintf("file:%s", dir);
	f->dir = cdx_xstrdup(dir);
	f->base.log_dir = cdx_xasprintf("%s/logs", dir);
	free(abs);
	*out = &f->base;
	return 0;
}

int cdx_store_file_open(const char *dir, struct cdx_store **out, struct cdx_error *err)
{
	return file_open(dir, false, out, err);
}

int cdx_store_file_open_ro(const char *dir, struct cdx_store **out, struct cdx_error *err)
{
	return file_open(dir, true, out, err);
}

const char *cdx_store_file_journal(struct cdx_store *s)
{
	return s->ops == &file_ops ? ((struct file_store *)s)->journal : NULL;
}

int cdx_store_file_check(struct cdx_store *s, cdx_journal_bad_fn bad, void *ctx, size_t *records,
			 size_t *damaged, struct cdx_error *err)
{
	*records = 0;
	*damaged = 0;
	if (s->ops != &file_ops)
		return cdx_error_set(err, CDX_EUSAGE, "%s is not a file store", s->url);
	return cdx_journal_scan_bad(((struct file_store *)s)->j, count_one, records, bad, ctx, damaged, err);
}

int cdx_store_file_repair(struct cdx_store *s, size_t *moved, struct cdx_error *err)
{
	struct file_store *f = (struct file_store *)s;
	char *side;
	int rc;
	*moved = 0;
	if (s->ops != &file_ops)
		return cdx_error_set(err, CDX_EUSAGE, "%s is not a file store", s->url);
	side = cdx_xasprintf("%s.damaged", f->journal);
	rc = cdx_journal_repair(f->j, side, moved, err);
	free(side);
	return rc;
}
