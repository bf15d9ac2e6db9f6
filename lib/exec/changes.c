/* changes.c — content digests for `changes:` (changes.h). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/map.h"
#include "base/pack.h"
#include "exec/changes.h"
#include "state/history.h"
#include "state/store.h"

#define WALK_DEPTH 64

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;
	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#define FNV0 0xcbf29ce484222325ull

struct walk {
	const struct cdx_rule *r;
	const char *skip; /* a directory left out (relative), or NULL */
	char **paths;     /* matching files, relative */
	size_t n, cap;
	bool too_many;
};

/* REL matches a glob of the rule, or lies below a directory that does
 * (a matched directory brings everything below it, as in artifacts) */
static bool matches(const struct cdx_rule *r, const char *rel)
{
	char buf[4097];
	size_t i, len = strlen(rel);
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, rel, len + 1);
	for (;;) {
		char *slash;
		for (i = 0; i < r->n_changes; i++)
			if (cdx_glob_match(r->changes[i], buf, false))
				return true;
		slash = strrchr(buf, '/');
		if (!slash)
			return false;
		*slash = '\0';
	}
}

/* every file under DIR/REL (REL "" = DIR) matching the rule */
static void walk(struct walk *w, const char *dir, const char *rel, int depth)
{
	char *path = *rel ? cdx_xasprintf("%s/%s", dir, rel) : cdx_xstrdup(dir);
	DIR *d = opendir(path);
	struct dirent *e;
	if (!d) {
		free(path);
		return;
	}
	for (e = readdir(d); e && !w->too_many; e = readdir(d)) {
		struct stat st;
		char *sub, *full;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, ".git"))
			continue;
		if (!*rel && !strcmp(e->d_name, ".cdx"))
			continue;
		sub = *rel ? cdx_xasprintf("%s/%s", rel, e->d_name) : cdx_xstrdup(e->d_name);
		full = cdx_xasprintf("%s/%s", path, e->d_name);
		if (lstat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode) && w->skip && strcmp(sub, w->skip) == 0) {
				; /* the state directory */
			} else if (S_ISDIR(st.st_mode) && depth < WALK_DEPTH) {
				walk(w, dir, sub, depth + 1);
			} else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && matches(w->r, sub)) {
				if (w->n >= CDX_CHANGES_FILES) {
					w->too_many = true;
				} else {
					CDX_PUSH(w->paths, w->n, w->cap, sub);
					sub = NULL;
				}
			}
		}
		free(sub);
		free(full);
	}
	closedir(d);
	free(path);
}

/* the directory a glob's matches are all under: its components before
 * the first with a wildcard ("" = the workspace) */
static char *glob_root(const char *g)
{
	const char *s = g, *keep = g;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (!e || memchr(s, '*', n) || memchr(s, '?', n) || memchr(s, '[', n) || memchr(s, '\\', n))
			break;
		keep = e;
		s = e + 1;
	}
	return cdx_xstrndup(g, (size_t)(keep - g));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t file_hash(const char *full, uint64_t h)
{
	struct stat st;
	char buf[65536];
	ssize_t n;
	int fd;
	if (lstat(full, &st) < 0)
		return fnv(h, "?", 1);
	if (S_ISLNK(st.st_mode)) {
		n = readlink(full, buf, sizeof(buf));
		return fnv(fnv(h, "L", 1), buf, n > 0 ? (size_t)n : 0);
	}
	fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fnv(h, "?", 1);
	h = fnv(h, "F", 1);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		h = fnv(h, buf, (size_t)n);
	close(fd);
	return h;
}

int cdx_changes_digest(const char *dir, const struct cdx_rule *r, const char *skip, char key[17],
		       char digest[17], struct cdx_error *err)
{
	struct walk w = {0};
	uint64_t k = FNV0, h = FNV0;
	size_t i, n;
	w.r = r;
	w.skip = skip;
	for (i = 0; i < r->n_changes; i++) {
		char *root = glob_root(r->changes[i]);
		bool dup = false;
		size_t j;
		k = fnv(fnv(k, r->changes[i], strlen(r->changes[i])), "\n", 1);
		/* walk each root once: a root inside an earlier one is covered */
		for (j = 0; j < i && !dup; j++) {
			char *other = glob_root(r->changes[j]);
			size_t ol = strlen(other);
			dup = ol == 0 || (strncmp(root, other, ol) == 0 && (root[ol] == '/' || !root[ol]));
			free(other);
		}
		if (!dup)
			walk(&w, dir, root, 0);
		free(root);
	}
	if (w.too_many) {
		for (i = 0; i < w.n; i++)
			free(w.paths[i]);
		free(w.paths);
		return cdx_error_set(err, CDX_EUSAGE, "changes: more than %d files match %s",
				     CDX_CHANGES_FILES, r->changes[0]);
	}
	if (w.n) /* qsort of NULL is undefined, even of none */
		qsort(w.paths, w.n, sizeof(char *), cmp_str);
	for (i = n = 0; i < w.n; i++) {
		char *full;
		if (i && strcmp(w.paths[i], w.paths[i - 1]) == 0)
			continue;
		full = cdx_xasprintf("%s/%s", dir, w.paths[i]);
		h = fnv(h, w.paths[i], strlen(w.paths[i]) + 1);
		h = file_hash(full, h);
		free(full);
		n++;
	}
	h = fnv(h, &n, sizeof(n));
	for (i = 0; i < w.n; i++)
		free(w.paths[i]);
	free(w.paths);
	snprintf(key, 17, "%016llx", (unsigned long long)k);
	snprintf(digest, 17, "%016llx", (unsigned long long)h);
	return 0;
}

struct last_ctx {
	const char *pipeline;
	struct cdx_map ids;
	cJSON **last;
};

static int last_one(void *ctx, const cJSON *rec)
{
	struct last_ctx *c = ctx;
	const char *t = cdx_jsn(rec, "t"), *pl, *status, *job;
	const cJSON *ch;
	size_t idx;
	if (!t || strcmp(t, "attempt") != 0)
		return 0;
	pl = cdx_jsn(rec, "pipeline");
	status = cdx_jsn(rec, "status");
	job = cdx_jsn(rec, "job");
	ch = cJSON_GetObjectItemCaseSensitive(rec, "changes");
	if (!pl || !status || !job || !cJSON_IsObject(ch) || strcmp(pl, c->pipeline) != 0 ||
	    strcmp(status, "success") != 0 || !cdx_map_get(&c->ids, job, &idx))
		return 0;
	cJSON_Delete(c->last[idx]);
	c->last[idx] = cJSON_Duplicate(ch, 1);
	return 0;
}

void cdx_changes_last(struct cdx_store *s, const char *pipeline, const char *const *ids, size_t n,
		      cJSON **last)
{
	struct last_ctx c;
	struct cdx_error err = {0};
	size_t i;
	memset(&c, 0, sizeof(c));
	c.pipeline = pipeline;
	c.last = last;
	for (i = 0; i < n; i++) {
		last[i] = NULL;
		if (ids[i])
			cdx_map_put(&c.ids, ids[i], i, NULL);
	}
	if (s && cdx_store_scan_runs(s, pipeline, CDX_HISTORY_RUNS, last_one, &c, &err) < 0)
		for (i = 0; i < n; i++) {
			cJSON_Delete(last[i]);
			last[i] = NULL;
		}
	cdx_map_free(&c.ids);
}
