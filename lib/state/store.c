/* store.c — opening a state store by URL (see store.h).  The URL schemes
 * are file:DIR (the embedded default) and redis:// (redis/store_redis.c).
 * A build without Redis (configure --without-redis) refuses a redis:// URL
 * with exit status 4 rather than silently falling back to files.
 *
 * cdx_store_scan_runs without a backend query is two scans: the first
 * lists the pipeline's runs by their run records and keeps the last N
 * ids, the second hands over every record (run, attempt, job, run_end) of
 * those runs, in store order.  Records of a run may come before its run
 * record (the jobs of a make run record themselves), which is why the
 * ids must be known before the second scan starts. */
#include "state/store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"

#ifdef CDX_WITH_REDIS
#include "redis/store_redis.h"
#endif

int cdx_mkdirs(const char *path)
{
	char *p, *c;
	int rc = 0;
	struct stat st0;
	/* the common case: it exists, or only the last component is missing */
	if (mkdir(path, 0755) == 0 || (errno == EEXIST && stat(path, &st0) == 0 && S_ISDIR(st0.st_mode)))
		return 0;
	p = cdx_xstrdup(path);
	for (c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*c = '/';
	}
	if (rc == 0 && mkdir(p, 0755) < 0 && errno != EEXIST)
		rc = -1;
	if (rc == 0) {
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			rc = -1;
		}
	}
	free(p);
	return rc;
}

int cdx_store_open(const char *url, struct cdx_store **out, struct cdx_error *err)
{
	*out = NULL;
	if (!url || !*url)
		return cdx_error_set(err, CDX_EUSAGE, "empty state url");
	if (strncmp(url, "file:", 5) == 0) {
		if (!url[5])
			return cdx_error_set(err, CDX_EUSAGE, "state url file: names no directory");
		return cdx_store_file_open(url + 5, out, err);
	}
	if (strncmp(url, "redis://", 8) == 0) {
#ifdef CDX_WITH_REDIS
		return cdx_store_redis_open(url, out, err);
#else
		return cdx_error_set(err, CDX_ESTATE,
				     "cannot use state %s: cdx was built without redis (configure --without-redis)",
				     url);
#endif
	}
	if (strstr(url, "://"))
		return cdx_error_set(err, CDX_EUSAGE, "unknown state url scheme in '%s' (use file:DIR or redis://)",
				     url);
	return cdx_store_file_open(url, out, err);
}

enum cdx_open_result cdx_store_open_existing(const char *url, struct cdx_store **out, struct cdx_error *err)
{
	struct stat st;
	*out = NULL;
	if (!url)
		url = "file:.cdx";
	if (!strstr(url, "://")) {
		const char *dir = strncmp(url, "file:", 5) == 0 ? url + 5 : url;
		if (stat(dir, &st) < 0 && errno == ENOENT)
			return CDX_OPEN_NONE;
	}
	return cdx_store_open(url, out, err) < 0 ? CDX_OPEN_ERROR : CDX_OPEN_OK;
}

enum cdx_open_result cdx_store_open_read(const char *url, struct cdx_store **out, struct cdx_error *err)
{
	struct stat st;
	const char *dir;
	*out = NULL;
	if (!url)
		url = "file:.cdx";
	if (strstr(url, "://"))
		return cdx_store_open(url, out, err);
	dir = strncmp(url, "file:", 5) == 0 ? url + 5 : url;
	if (!*dir)
		return cdx_error_set(err, CDX_EUSAGE, "state url file: names no directory");
	if (stat(dir, &st) < 0 && errno == ENOENT)
		return 1;
	return cdx_store_file_open_ro(dir, out, err);
}

int cdx_store_settle(struct cdx_store *s, struct cdx_error *err)
{
	return s->ops->settle ? s->ops->settle(s, err) : s->ops->flush(s, err);
}

void cdx_store_close(struct cdx_store *s)
{
	if (s)
		s->ops->close(s);
}

char *cdx_store_url_public(const char *url, char **password)
{
	/* the credentials as store_redis.c reads them: up to the first '@'
	 * before any '?' */
	const char *p = url + 8, *q, *end, *at, *colon;
	if (password)
		*password = NULL;
	if (strncmp(url, "redis://", 8) != 0)
		return cdx_xstrdup(url);
	q = strchr(p, '?');
	end = q ? q : p + strlen(p);
	at = memchr(p, '@', (size_t)(end - p));
	if (!at)
		return cdx_xstrdup(url);
	colon = memchr(p, ':', (size_t)(at - p));
	if (password) {
		const char *pw = colon ? colon + 1 : p;
		*password = cdx_xstrndup(pw, (size_t)(at - pw));
	}
	return cdx_xasprintf("redis://%s", at + 1);
}

const char *cdx_store_local_dir(struct cdx_store *s)
{
	return s->ops->local_dir ? s->ops->local_dir(s) : NULL;
}

/* ---- the last N runs of a pipeline, from a full scan --------------------- */

struct last_runs {
	const char *pipeline;
	size_t n;      /* how many to keep */
	char **ring;   /* the last n ids seen, oldest at ring[next % n] */
	size_t next;   /* run records seen */
	cdx_store_fn fn;
	void *ctx;
	char **keep;   /* the ids kept, sorted, for bsearch */
	size_t n_keep;
};

static int last_runs_one(void *ctx, const cJSON *rec)
{
	struct last_runs *l = ctx;
	const char *t = cdx_jsn(rec, "t");
	const char *id, *pl;
	size_t at;
	if (!t || strcmp(t, "run") != 0)
		return 0;
	id = cdx_jsn(rec, "id");
	pl = cdx_jsn(rec, "pipeline");
	if (!id || !pl || (l->pipeline && strcmp(pl, l->pipeline) != 0))
		return 0;
	at = l->next++ % l->n;
	free(l->ring[at]);
	l->ring[at] = cdx_xstrdup(id);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int records_one(void *ctx, const cJSON *rec)
{
	struct last_runs *l = ctx;
	const char *t = cdx_jsn(rec, "t");
	const char *id;
	if (!t)
		return 0;
	if (strcmp(t, "run") == 0 || strcmp(t, "run_end") == 0)
		id = cdx_jsn(rec, "id");
	else if (strcmp(t, "attempt") == 0 || strcmp(t, "job") == 0)
		id = cdx_jsn(rec, "run");
	else
		return 0;
	if (!id || !bsearch(&id, l->keep, l->n_keep, sizeof(char *), cmp_str))
		return 0;
	return l->fn(l->ctx, rec);
}

int cdx_store_scan_runs(struct cdx_store *s, const char *pipeline, size_t n, cdx_store_fn fn, void *ctx,
			struct cdx_error *err)
{
	struct last_runs l;
	size_t i;
	int rc = -1;
	if (s->ops->scan_runs)
		return s->ops->scan_runs(s, pipeline, n, fn, ctx, err);
	if (n == 0)
		return 0;
	memset(&l, 0, sizeof(l));
	l.pipeline = pipeline;
	l.n = n;
	l.ring = cdx_xcalloc(n, sizeof(char *));
	l.fn = fn;
	l.ctx = ctx;
	if (s->ops->scan(s, last_runs_one, &l, err) < 0)
		goto out;
	l.n_keep = l.next < n ? l.next : n;
	if (l.n_keep == 0) {
		rc = 0;
		goto out;
	}
	l.keep = cdx_xcalloc(l.n_keep, sizeof(char *));
	for (i = 0; i < l.n_keep; i++)
		l.keep[i] = l.ring[i];
	qsort(l.keep, l.n_keep, sizeof(char *), cmp_str);
	rc = s->ops->scan(s, records_one, &l, err);
out:
	for (i = 0; i < n; i++)
		free(l.ring[i]);
	free(l.ring);
	free(l.keep);
	return rc;
}

void cdx_log_key(char *buf, size_t n, const char *run, const char *job, int attempt)
{
	snprintf(buf, n, "%s:%s:%d", run, job, attempt);
}
