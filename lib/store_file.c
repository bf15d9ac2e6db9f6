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
 * person watching a terminal. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "store.h"

struct file_store {
	struct cdx_store base; /* first: a struct cdx_store * is a file_store * */
	struct cdx_journal *j;
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

static int fs_scan(struct cdx_store *s, cdx_store_fn fn, void *ctx, struct cdx_error *err)
{
	struct scan_ctx sc = {fn, ctx};
	return cdx_journal_scan(((struct file_store *)s)->j, fs_one, &sc, NULL, err);
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

static void fs_close(struct cdx_store *s)
{
	struct file_store *f = (struct file_store *)s;
	cdx_journal_close(f->j);
	free(f->base.url);
	free(f->base.log_dir);
	free(f);
}

static const struct cdx_store_ops file_ops = {
	.append = fs_append,
	.flush = fs_flush,
	.scan = fs_scan,
	.pending = fs_pending,
	.close = fs_close,
	.tail = fs_tail,
};

int cdx_store_file_open(const char *dir, struct cdx_store **out, struct cdx_error *err)
{
	struct file_store *f;
	char *path, *abs;
	*out = NULL;
	if (cdx_mkdirs(dir) < 0)
		return cdx_error_set(err, CDX_ESTATE, "cannot create state directory %s: %s", dir, strerror(errno));
	f = cdx_xcalloc(1, sizeof(*f));
	/* absolute, so recorded log paths work from any directory */
	abs = realpath(dir, NULL);
	if (abs)
		dir = abs;
	path = cdx_xasprintf("%s/journal.jsonl", dir);
	if (cdx_journal_open(path, &f->j, err) < 0) {
		free(path);
		free(abs);
		free(f);
		return -1;
	}
	free(path);
	f->base.ops = &file_ops;
	f->base.url = cdx_xasprintf("file:%s", dir);
	f->base.log_dir = cdx_xasprintf("%s/logs", dir);
	free(abs);
	*out = &f->base;
	return 0;
}
