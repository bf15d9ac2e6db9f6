/* store_file.c — the embedded file store: a directory holding one
 * append-only journal (journal.jsonl, framing and durability in journal.c)
 * and the attempt logs (logs/RUN/STAGE/JOB.N.log).  Records are written as
 * compact single-line JSON, so `jq -c .rec DIR/journal.jsonl` reads them. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "store.h"

struct file_store {
	struct cdx_store base; /* first: a struct cdx_store * is a file_store * */
	struct cdx_journal *j;
};

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
