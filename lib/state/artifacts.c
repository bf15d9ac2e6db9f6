/* artifacts.c — artifacts kept with a run (see artifacts.h for the layout
 * and the guarantees): packing into the store through an upload that is
 * either completed whole or dropped, reading back with the meta checked
 * (expiry), listing and pruning.  The file store's side is here; the
 * Redis side is redis/rs_artifacts.c, reached through store_redis.h. */
#include "state/artifacts.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"

#ifdef CDX_WITH_REDIS
#include "redis/store_redis.h"
#endif

#define META_MAX (64 * 1024)
#define PRUNE_EVERY_MS (10 * 60 * 1000)

int64_t cdx_artifacts_cap(struct cdx_error *err)
{
	const char *v = getenv("CDX_ARTIFACTS_MAX");
	char *end;
	unsigned long long n;
	if (!v || !*v)
		return CDX_ARTIFACTS_CAP;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (end == v || errno)
		goto bad;
	switch (*end) {
	case 'k':
	case 'K':
		n <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		n <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		n <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end || n == 0 || n > (1ull << 40))
		goto bad;
	return (int64_t)n;
bad:
	return cdx_error_set(err, CDX_EUSAGE, "CDX_ARTIFACTS_MAX=%s is not a size (bytes, or with K, M, G)",
			     v);
}

/* the job id as a file name: bytes outside [A-Za-z0-9_.-] %-encoded */
static char *enc_job(const char *job)
{
	struct cdx_buf b = {0};
	for (const unsigned char *p = (const unsigned char *)job; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '_' || *p == '-' || (*p == '.' && p != (const unsigned char *)job))
			cdx_buf_addc(&b, (char)*p);
		else
			cdx_buf_printf(&b, "%%%02X", *p);
	}
	return cdx_buf_detach(&b);
}

static int check_ids(const char *run, const char *job, struct cdx_error *err)
{
	if (!run || !cdx_name_valid(run))
		return cdx_error_set(err, CDX_EUSAGE, "invalid run id '%s'", run ? run : "");
	if (job && (!*job || strlen(job) >= sizeof(((struct cdx_artifact_info *)0)->job) ||
		    strchr(job, '\n') || cdx_utf8_check(job, strlen(job))))
		return cdx_error_set(err, CDX_EUSAGE, "invalid job id '%s'", job);
	return 0;
}

cJSON *cdx_artifact_info_json(const struct cdx_artifact_info *i)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "job", i->job);
	cJSON_AddNumberToObject(o, "attempt", i->attempt);
	cJSON_AddNumberToObject(o, "size", (double)i->size);
	cJSON_AddNumberToObject(o, "files", (double)i->files);
	cJSON_AddNumberToObject(o, "entries", (double)i->entries);
	cJSON_AddNumberToObject(o, "bytes", (double)i->bytes);
	cJSON_AddNumberToObject(o, "created_ms", (double)i->created_ms);
	cJSON_AddNumberToObject(o, "expire_at_ms", (double)i->expire_at_ms);
	return o;
}

/* INFO from meta JSON TEXT; -1 when it is not one */
static int info_parse(const char *text, struct cdx_artifact_info *i)
{
	cJSON *o = cJSON_Parse(text);
	const char *job;
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -1;
	}
	memset(i, 0, sizeof(*i));
	job = cdx_js(o, "job");
	snprintf(i->job, sizeof(i->job), "%s", job);
	i->attempt = (int)cdx_jn(o, "attempt");
	i->size = (uint64_t)cdx_jn(o, "size");
	i->files = (size_t)cdx_jn(o, "files");
	i->entries = (size_t)cdx_jn(o, "entries");
	i->bytes = (uint64_t)cdx_jn(o, "bytes");
	i->created_ms = (int64_t)cdx_jn(o, "created_ms");
	i->expire_at_ms = (int64_t)cdx_jn(o, "expire_at_ms");
	cJSON_Delete(o);
	return i->job[0] ? 0 : -1;
}

static bool expired(const struct cdx_artifact_info *i, int64_t now)
{
	return i->expire_at_ms > 0 && i->expire_at_ms <= now;
}

/* ---- the file store ----------------------------------------------------- */

static char *run_dir(struct cdx_store *s, const char *run)
{
	return cdx_xasprintf("%s/artifacts/%s", cdx_store_local_dir(s), run);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* put the written temporary file TMP (open as FD_TMP) in place as DIR/NAME:
 * fsync, rename; on failure TMP is removed */
static int file_put_atomic(const char *dir, const char *name, int fd_tmp, const char *tmp,
			   struct cdx_error *err)
{
	char *to = cdx_xasprintf("%s/%s", dir, name);
	int rc = 0;
	if (fsync(fd_tmp) < 0 || rename(tmp, to) < 0) {
		rc = cdx_error_set(err, CDX_ESTATE, "cannot store %s: %s", to, strerror(errno));
		unlink(tmp);
	}
	free(to);
	return rc;
}

/* ---- one upload: an archive being written, then made visible whole ---- */

struct upload {
	struct cdx_store *s;
	int64_t cap;
	uint64_t size;
	/* file store */
	int fd;
	char *tmp, *dir;
#ifdef CDX_WITH_REDIS
	struct cdx_rs_upload *rs;
#endif
};

static int up_write(void *ctx, const void *p, size_t n, struct cdx_error *err)
{
	struct upload *u = ctx;
	if (u->size + n > (uint64_t)u->cap) {
		char human[32] = "";
		if (u->cap >= 1024 * 1024 && u->cap % (1024 * 1024) == 0)
			snprintf(human, sizeof(human), ", %lld MiB", (long long)(u->cap >> 20));
		else if (u->cap >= 1024 && u->cap % 1024 == 0)
			snprintf(human, sizeof(human), ", %lld KiB", (long long)(u->cap >> 10));
		return cdx_error_set(
		    err, CDX_EFAILED,
		    "artifacts pass the cap of %lld bytes a job%s (set CDX_ARTIFACTS_MAX to change it)",
		    (long long)u->cap, human);
	}
	u->size += n;
#ifdef CDX_WITH_REDIS
	if (u->rs)
		return cdx_rs_upload_write(u->rs, p, n, err);
#endif
	if (write_all(u->fd, p, n) < 0)
		return cdx_error_set(err, CDX_ESTATE, "cannot write %s: %s", u->tmp, strerror(errno));
	return 0;
}

static int up_begin(struct upload *u, struct cdx_store *s, const char *run, int64_t cap,
		    struct cdx_error *err)
{
	memset(u, 0, sizeof(*u));
	u->s = s;
	u->cap = cap > 0 ? cap : CDX_ARTIFACTS_CAP;
	u->fd = -1;
	if (cdx_store_local_dir(s)) {
		u->dir = run_dir(s, run);
		if (cdx_mkdirs(u->dir) < 0)
			return cdx_error_set(err, CDX_ESTATE, "cannot create %s: %s", u->dir,
					     strerror(errno));
		u->tmp = cdx_xasprintf("%s/.tmp.%ld.%llx.pack", u->dir, (long)getpid(),
				       (unsigned long long)cdx_now_ns());
		u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (u->fd < 0)
			return cdx_error_set(err, CDX_ESTATE, "cannot create %s: %s", u->tmp,
					     strerror(errno));
		return 0;
	}
#ifdef CDX_WITH_REDIS
	if (cdx_store_is_redis(s)) {
		u->rs = cdx_rs_upload_begin(s, err);
		return u->rs ? 0 : -1;
	}
#endif
	return cdx_error_set(err, CDX_EUSAGE, "state %s keeps no artifacts", s->url);
}

/* make the upload visible as JOB's artifact with meta INFO */
static int up_commit(struct upload *u, const char *run, const struct cdx_artifact_info *info,
		     struct cdx_error *err)
{
	cJSON *o = cdx_artifact_info_json(info);
	char *meta;
	int rc = -1;
	cJSON_AddStringToObject(o, "run", run);
	meta = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
#ifdef CDX_WITH_REDIS
	if (u->rs) {
		rc = cdx_rs_upload_commit(u->rs, run, info->job, meta, info->expire_at_ms, err);
		free(meta);
		return rc;
	}
#endif
	{
		char *enc = enc_job(info->job);
		char *pack = cdx_xasprintf("%s.pack", enc);
		char *json = cdx_xasprintf("%s.json", enc);
		char *mtmp = cdx_xasprintf("%s/.tmp.%ld.%llx.json", u->dir, (long)getpid(),
					   (unsigned long long)cdx_now_ns());
		int mfd;
		if (file_put_atomic(u->dir, pack, u->fd, u->tmp, err) < 0)
			goto out;
		free(u->tmp);
		u->tmp = NULL;
		mfd = open(mtmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (mfd < 0 || write_all(mfd, meta, strlen(meta)) < 0 || write_all(mfd, "\n", 1) < 0) {
			cdx_error_set(err, CDX_ESTATE, "cannot write %s: %s", mtmp, strerror(errno));
			if (mfd >= 0)
				close(mfd);
			unlink(mtmp);
			goto out;
		}
		rc = file_put_atomic(u->dir, json, mfd, mtmp, err);
		close(mfd);
		if (rc == 0 && fsync_dir(u->dir) < 0)
			rc = cdx_error_set(err, CDX_ESTATE, "cannot sync %s: %s", u->dir, strerror(errno));
	out:
		free(enc);
		free(pack);
		free(json);
		free(mtmp);
	}
	free(meta);
	return rc;
}

/* drop what is left of the upload (all of it unless committed) */
static void up_end(struct upload *u)
{
#ifdef CDX_WITH_REDIS
	if (u->rs)
		cdx_rs_upload_free(u->rs);
#endif
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp)
		unlink(u->tmp);
	free(u->tmp);
	free(u->dir);
}

static void info_fill(struct cdx_artifact_info *i, const char *job, int attempt, uint64_t size,
		      const struct cdx_pack_stats *st, int64_t expire_ms)
{
	memset(i, 0, sizeof(*i));
	snprintf(i->job, sizeof(i->job), "%s", job);
	i->attempt = attempt;
	i->size = size;
	i->files = st->files;
	i->entries = st->entries;
	i->bytes = st->bytes;
	i->created_ms = cdx_wall_ms();
	i->expire_at_ms = expire_ms > 0 ? i->created_ms + expire_ms : 0;
}

/* prune the file store S when it was last pruned PRUNE_EVERY_MS ago or
 * more (the mtime of DIR/artifacts/.pruned), best effort: a prune reads
 * the meta of every artifact of every run, too much for every job */
static void prune_now_and_then(struct cdx_store *s)
{
	char *mark = cdx_xasprintf("%s/artifacts/.pruned", cdx_store_local_dir(s));
	struct stat sb;
	int64_t now = cdx_wall_ms();
	if (stat(mark, &sb) < 0 || now - (int64_t)sb.st_mtime * 1000 >= PRUNE_EVERY_MS) {
		struct cdx_error e2 = {0};
		int fd = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			futimens(fd, NULL);
			close(fd);
		}
		cdx_artifacts_prune(s, now, NULL, &e2);
	}
	free(mark);
}

int cdx_artifacts_put(struct cdx_store *s, const char *run, const char *job_id, int attempt, const char *dir,
		      char *const *globs, size_t n, int64_t expire_ms, int64_t cap,
		      struct cdx_artifact_info *info, struct cdx_error *err)
{
	struct upload u;
	struct cdx_pack_stats st;
	struct cdx_artifact_info i;
	int rc = -1;
	if (check_ids(run, job_id, err) < 0)
		return -1;
	for (size_t k = 0; k < n; k++)
		if (cdx_glob_check(globs[k], err) < 0)
			return -1;
	if (up_begin(&u, s, run, cap, err) < 0)
		goto out;
	if (cdx_pack(dir, globs, n, NULL, up_write, &u, &st, err) < 0)
		goto out;
	info_fill(&i, job_id, attempt, u.size, &st, expire_ms);
	if (up_commit(&u, run, &i, err) < 0)
		goto out;
	if (info)
		*info = i;
	rc = 0;
out:
	up_end(&u);
	if (rc == 0 && cdx_store_local_dir(s))
		prune_now_and_then(s);
	return rc;
}

int cdx_artifacts_put_archive(struct cdx_store *s, const char *run, const char *job_id, int attempt,
			      const void *data, size_t len, int64_t expire_ms, int64_t cap,
			      struct cdx_artifact_info *info, struct cdx_error *err)
{
	struct upload u;
	struct cdx_pack_stats st;
	struct cdx_artifact_info i;
	int rc = -1;
	if (check_ids(run, job_id, err) < 0 || cdx_pack_read(data, len, NULL, NULL, NULL, &st, err) < 0)
		return -1;
	if (up_begin(&u, s, run, cap, err) < 0)
		goto out;
	for (size_t off = 0; off < len; off += CDX_ARTIFACTS_CHUNK) {
		size_t k = len - off < CDX_ARTIFACTS_CHUNK ? len - off : CDX_ARTIFACTS_CHUNK;
		if (up_write(&u, (const char *)data + off, k, err) < 0)
			goto out;
	}
	info_fill(&i, job_id, attempt, u.size, &st, expire_ms);
	if (up_commit(&u, run, &i, err) < 0)
		goto out;
	if (info)
		*info = i;
	rc = 0;
out:
	up_end(&u);
	return rc;
}

/* the meta of JOB in run RUN: 1 found, 0 none, -1 with ERR */
static int meta_get(struct cdx_store *s, const char *run, const char *job, struct cdx_artifact_info *i,
		    struct cdx_error *err)
{
	char *text = NULL;
	int rc;
	if (cdx_store_local_dir(s)) {
		char *dir = run_dir(s, run), *enc = enc_job(job);
		char *path = cdx_xasprintf("%s/%s.json", dir, enc);
		size_t len;
		struct cdx_error e2 = {0};
		rc = cdx_read_file(path, META_MAX, &text, &len, &e2) < 0 ? (errno == ENOENT ? 0 : -1) : 1;
		if (rc < 0)
			cdx_error_set(err, CDX_ESTATE, "%s", e2.msg);
		free(dir);
		free(enc);
		free(path);
	}
#ifdef CDX_WITH_REDIS
	else if (cdx_store_is_redis(s))
		rc = cdx_rs_artifact_meta(s, run, job, &text, err);
#endif
	else
		return cdx_error_set(err, CDX_EUSAGE, "state %s keeps no artifacts", s->url);
	if (rc == 1 && info_parse(text, i) < 0)
		rc = cdx_error_set(err, CDX_ESTATE, "the record of the artifacts of %s in run %s is damaged",
				   job, run);
	free(text);
	return rc;
}

int cdx_artifacts_fetch(struct cdx_store *s, const char *run, const char *job_id, int64_t cap, void **data,
			size_t *len, struct cdx_artifact_info *info, struct cdx_error *err)
{
	struct cdx_artifact_info i;
	int rc;
	*data = NULL;
	*len = 0;
	if (check_ids(run, job_id, err) < 0)
		return -1;
	if (cap <= 0)
		cap = CDX_ARTIFACTS_CAP;
	rc = meta_get(s, run, job_id, &i, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return cdx_error_set(err, CDX_EFAILED, "no artifacts of %s in run %s", job_id, run);
	if (expired(&i, cdx_wall_ms()))
		return cdx_error_set(err, CDX_EFAILED, "the artifacts of %s in run %s expired", job_id, run);
	if (i.size > (uint64_t)cap)
		cap = (int64_t)i.size; /* stored under a larger cap: read what the meta says, no more */
	if (cdx_store_local_dir(s)) {
		char *dir = run_dir(s, run), *enc = enc_job(job_id);
		char *path = cdx_xasprintf("%s/%s.pack", dir, enc);
		char *buf;
		rc = cdx_read_file(path, (size_t)cap, &buf, len, err);
		if (rc < 0)
			err->code = errno == ENOENT ? CDX_EFAILED : CDX_ESTATE;
		else
			*data = buf;
		free(dir);
		free(enc);
		free(path);
	}
#ifdef CDX_WITH_REDIS
	else {
		struct cdx_buf b = {0};
		rc = cdx_rs_artifact_read(s, run, job_id, (size_t)cap, &b, err);
		if (rc == 0 && !b.data) /* gone between the meta and the chunks: expired */
			rc = cdx_error_set(err, CDX_EFAILED, "the artifacts of %s in run %s expired", job_id,
					   run);
		if (rc == 0) {
			*len = b.len;
			*data = cdx_buf_detach(&b);
		}
		cdx_buf_free(&b);
	}
#endif
	if (rc == 0 && info)
		*info = i;
	return rc;
}

int cdx_artifacts_get(struct cdx_store *s, const char *run, const char *job_id, const char *dest,
		      struct cdx_error *err)
{
	void *data;
	size_t len;
	int rc;
	if (cdx_artifacts_fetch(s, run, job_id, 0, &data, &len, NULL, err) < 0)
		return -1;
	rc = cdx_unpack(data, len, dest, NULL, NULL, err);
	free(data);
	return rc;
}

struct listing {
	struct cdx_artifact_info *v;
	size_t n, cap;
};

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct cdx_artifact_info *)a)->job, ((const struct cdx_artifact_info *)b)->job);
}

static int collect(void *ctx, const char *meta)
{
	struct listing *l = ctx;
	struct cdx_artifact_info i;
	if (info_parse(meta, &i) == 0)
		CDX_PUSH(l->v, l->n, l->cap, i);
	return 0;
}

int cdx_artifacts_list(struct cdx_store *s, const char *run, cdx_artifact_fn fn, void *ctx,
		       struct cdx_error *err)
{
	struct listing l = {0};
	int64_t now = cdx_wall_ms();
	int rc = 0;
	if (check_ids(run, NULL, err) < 0)
		return -1;
	if (cdx_store_local_dir(s)) {
		char *dir = run_dir(s, run);
		DIR *d = opendir(dir);
		struct dirent *de;
		if (!d && errno != ENOENT)
			rc = cdx_error_set(err, CDX_ESTATE, "cannot read %s: %s", dir, strerror(errno));
		while (d && (de = readdir(d))) {
			size_t n = strlen(de->d_name);
			char *path, *text;
			size_t len;
			struct cdx_error e2 = {0};
			if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
				continue;
			path = cdx_xasprintf("%s/%s", dir, de->d_name);
			if (cdx_read_file(path, META_MAX, &text, &len, &e2) == 0) {
				collect(&l, text);
				free(text);
			}
			free(path);
		}
		if (d)
			closedir(d);
		free(dir);
	}
#ifdef CDX_WITH_REDIS
	else if (cdx_store_is_redis(s))
		rc = cdx_rs_artifact_metas(s, run, collect, &l, err);
#endif
	else
		rc = cdx_error_set(err, CDX_EUSAGE, "state %s keeps no artifacts", s->url);
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_info);
	for (size_t k = 0; rc == 0 && k < l.n; k++)
		if (!expired(&l.v[k], now) && fn(ctx, &l.v[k]) != 0)
			break;
	free(l.v);
	return rc;
}

int cdx_artifacts_prune(struct cdx_store *s, int64_t now_ms, size_t *pruned, struct cdx_error *err)
{
	char *top;
	DIR *d;
	struct dirent *de;
	size_t n = 0;
	if (pruned)
		*pruned = 0;
	if (!cdx_store_local_dir(s))
		return 0; /* Redis: key TTLs */
	top = cdx_xasprintf("%s/artifacts", cdx_store_local_dir(s));
	d = opendir(top);
	if (!d) {
		int e = errno;
		free(top);
		return e == ENOENT ? 0
				   : cdx_error_set(err, CDX_ESTATE, "cannot read artifacts: %s", strerror(e));
	}
	while ((de = readdir(d))) {
		char *rd;
		DIR *r;
		struct dirent *f;
		if (de->d_name[0] == '.' || !cdx_name_valid(de->d_name))
			continue;
		rd = cdx_xasprintf("%s/%s", top, de->d_name);
		r = opendir(rd);
		while (r && (f = readdir(r))) {
			size_t l = strlen(f->d_name);
			char *path, *text;
			size_t len;
			struct cdx_artifact_info i;
			struct cdx_error e2 = {0};
			if (strcmp(f->d_name, ".") == 0 || strcmp(f->d_name, "..") == 0)
				continue;
			if (f->d_name[0] == '.' || l < 6 || strcmp(f->d_name + l - 5, ".json") != 0)
				continue;
			path = cdx_xasprintf("%s/%s", rd, f->d_name);
			if (cdx_read_file(path, META_MAX, &text, &len, &e2) == 0) {
				if (info_parse(text, &i) == 0 && expired(&i, now_ms)) {
					/* the meta first: a reader sees none, then the archive */
					char *pack =
					    cdx_xasprintf("%.*s.pack", (int)(strlen(path) - 5), path);
					if (unlink(path) == 0) {
						unlink(pack);
						n++;
					}
					free(pack);
				}
				free(text);
			}
			free(path);
		}
		if (r)
			closedir(r);
		rmdir(rd); /* when it is empty (nothing else left) */
		free(rd);
	}
	closedir(d);
	free(top);
	if (pruned)
		*pruned = n;
	return 0;
}
