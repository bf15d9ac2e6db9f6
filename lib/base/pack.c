/* pack.c — the archive of pack.h: packing a directory's selected files,
 * reading an archive back with every field checked, unpacking it through
 * directory descriptors so that nothing lands outside the destination.
 *
 * Packing walks DIR with openat(O_NOFOLLOW | O_DIRECTORY) and fstatat
 * (AT_SYMLINK_NOFOLLOW), names sorted for a reproducible archive, and only
 * descends into a directory some glob could match below.  Reading checks
 * the whole archive (framing, limits, paths, link targets, trailer count
 * and CRC) before the unpacker creates anything, so a damaged or hostile
 * archive leaves the destination untouched. */
#include "base/pack.h"

#include "base/map.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_ENTRIES 100000
#define DEFAULT_BYTES (1024ull * 1024 * 1024)
#define HDR_LEN (1 + 4 + 2 + 8)
#define TRAILER_LEN (1 + 8 + 8 + 4)
#define IO_CHUNK 65536

static size_t lim_entries(const struct cdx_pack_limits *l)
{
	return l && l->max_entries ? l->max_entries : DEFAULT_ENTRIES;
}

static uint64_t lim_bytes(const struct cdx_pack_limits *l)
{
	return l && l->max_bytes ? l->max_bytes : DEFAULT_BYTES;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* ---- globs ---------------------------------------------------------------- */

/* split S ('/'-separated, at most MAX components) into pointers into BUF
 * (a copy of S); empty and "." components are dropped; -1 past MAX */
static int split(const char *s, char *buf, size_t bufn, char **comp, int max)
{
	int n = 0;
	size_t l = strlen(s);
	if (l + 1 > bufn)
		return -1;
	memcpy(buf, s, l + 1);
	for (char *p = buf; *p;) {
		char *e = strchr(p, '/');
		if (e)
			*e = '\0';
		if (*p && strcmp(p, ".") != 0) {
			if (n == max)
				return -1;
			comp[n++] = p;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return n;
}

int cdx_glob_check(const char *glob, struct cdx_error *err)
{
	char buf[CDX_PACK_GLOB_MAX + 1], *comp[CDX_PACK_DEPTH_MAX];
	int n;
	if (!glob || !*glob)
		return cdx_error_set(err, CDX_EUSAGE, "empty artifact path");
	if (strlen(glob) > CDX_PACK_GLOB_MAX)
		return cdx_error_set(err, CDX_EUSAGE, "artifact path longer than %d bytes",
				     CDX_PACK_GLOB_MAX);
	if (glob[0] == '/')
		return cdx_error_set(err, CDX_EUSAGE,
				     "artifact path '%s' is absolute (paths are relative to the workspace)",
				     glob);
	n = split(glob, buf, sizeof(buf), comp, CDX_PACK_DEPTH_MAX);
	if (n < 0)
		return cdx_error_set(err, CDX_EUSAGE, "artifact path '%s' has more than %d components", glob,
				     CDX_PACK_DEPTH_MAX);
	if (n == 0)
		return cdx_error_set(err, CDX_EUSAGE,
				     "artifact path '%s' names the whole workspace (use '**')", glob);
	for (int i = 0; i < n; i++)
		if (strcmp(comp[i], "..") == 0)
			return cdx_error_set(err, CDX_EUSAGE,
					     "artifact path '%s' leaves the workspace ('..')", glob);
	return 0;
}

bool cdx_glob_match(const char *glob, const char *path, bool prefix)
{
	char gb[CDX_PACK_GLOB_MAX + 1], pb[CDX_PACK_PATH_MAX + 1];
	char *g[CDX_PACK_DEPTH_MAX], *p[CDX_PACK_DEPTH_MAX];
	bool reach[CDX_PACK_DEPTH_MAX + 1][CDX_PACK_DEPTH_MAX + 1];
	int ng = split(glob, gb, sizeof(gb), g, CDX_PACK_DEPTH_MAX);
	int np = split(path, pb, sizeof(pb), p, CDX_PACK_DEPTH_MAX);
	if (ng <= 0 || np < 0)
		return false;
	memset(reach, 0, sizeof(reach));
	reach[0][0] = true;
	for (int i = 0; i <= ng; i++)
		for (int j = 0; j <= np; j++) {
			if (!reach[i][j] || i == ng)
				continue;
			if (strcmp(g[i], "**") == 0) {
				reach[i + 1][j] = true;
				if (j < np)
					reach[i][j + 1] = true;
			} else if (j < np && fnmatch(g[i], p[j], 0) == 0) {
				reach[i + 1][j + 1] = true;
			}
		}
	if (reach[ng][np])
		return true;
	if (prefix)
		for (int i = 0; i < ng; i++)
			if (reach[i][np])
				return true;
	return false;
}

/* ---- paths and link targets ------------------------------------------------ */

/* PATH (LEN bytes) is a clean relative path: components non-empty, not "."
 * or "..", no NUL; returns its depth (components), or -1 */
static int path_depth(const char *path, size_t len)
{
	int depth = 0;
	size_t i = 0;
	if (len == 0 || len > CDX_PACK_PATH_MAX || memchr(path, '\0', len))
		return -1;
	while (i < len) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		if (j == i || (j - i == 1 && path[i] == '.') ||
		    (j - i == 2 && path[i] == '.' && path[i + 1] == '.'))
			return -1;
		if (++depth > CDX_PACK_DEPTH_MAX)
			return -1;
		i = j + 1;
		if (j + 1 == len) /* a trailing '/' */
			return -1;
	}
	return depth;
}

/* TARGET (LEN bytes) of a symlink at depth DEPTH (its path's components)
 * stays inside: relative, leading ".." at most DEPTH - 1 of them, then
 * plain components (none empty, "." or ".."), no NUL */
static bool target_ok(const char *t, size_t len, int depth)
{
	int up = 0;
	size_t i = 0;
	bool plain = false;
	if (len == 0 || len > CDX_PACK_PATH_MAX || memchr(t, '\0', len) || t[0] == '/')
		return false;
	while (i < len) {
		size_t j = i;
		while (j < len && t[j] != '/')
			j++;
		if (j == i)
			return false;
		if (j - i == 2 && t[i] == '.' && t[i + 1] == '.') {
			if (plain || ++up > depth - 1)
				return false;
		} else if (j - i == 1 && t[i] == '.') {
			return false;
		} else {
			plain = true;
		}
		if (j + 1 == len)
			return false;
		i = j + 1;
	}
	return true;
}

/* ---- packing ----------------------------------------------------------------- */

struct packer {
	char *const *globs;
	size_t n;
	size_t max_entries;
	uint64_t max_bytes;
	cdx_pack_write_fn w;
	void *ctx;
	uint32_t crc;
	struct cdx_pack_stats st;
	char path[CDX_PACK_PATH_MAX + 1];
	unsigned char *io;
};

static int emit(struct packer *k, const void *p, size_t n, struct cdx_error *err)
{
	k->crc = cdx_crc32(k->crc, p, n);
	return k->w(k->ctx, p, n, err);
}

static int emit_header(struct packer *k, char type, unsigned mode, size_t plen, uint64_t dlen,
		       struct cdx_error *err)
{
	unsigned char h[HDR_LEN];
	if (++k->st.entries > k->max_entries)
		return cdx_error_set(err, CDX_EFAILED, "more than %zu artifact entries (at %s)",
				     k->max_entries, k->path);
	if (type == 'f') {
		k->st.files++;
		k->st.bytes += dlen;
		if (k->st.bytes > k->max_bytes)
			return cdx_error_set(err, CDX_EFAILED, "artifact files pass %llu bytes (at %s)",
					     (unsigned long long)k->max_bytes, k->path);
	}
	h[0] = (unsigned char)type;
	put_be(h + 1, mode & 0777, 4);
	put_be(h + 5, plen, 2);
	put_be(h + 7, dlen, 8);
	if (emit(k, h, sizeof(h), err) < 0 || emit(k, k->path, plen, err) < 0)
		return -1;
	return 0;
}

static int pack_file(struct packer *k, int dirfd, const char *name, const struct stat *sb, size_t plen,
		     struct cdx_error *err)
{
	uint64_t left = (uint64_t)sb->st_size;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cdx_error_set(err, CDX_EFAILED, "cannot open %s: %s", k->path, strerror(errno));
	if (emit_header(k, 'f', sb->st_mode, plen, left, err) < 0)
		goto fail;
	while (left > 0) {
		ssize_t r = read(fd, k->io, left < IO_CHUNK ? (size_t)left : IO_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			cdx_error_set(err, CDX_EFAILED, "cannot read %s: %s", k->path,
				      r < 0 ? strerror(errno) : "it shrank while being packed");
			goto fail;
		}
		if (emit(k, k->io, (size_t)r, err) < 0)
			goto fail;
		left -= (uint64_t)r;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* walk directory DIRFD, whose path is k->path[0..plen) ("" at the top);
 * ALL: everything below is selected */
static int walk(struct packer *k, int dirfd, size_t plen, int depth, bool all, struct cdx_error *err)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t nn = 0, cap = 0;
	int rc = -1;
	int fd2 = dup(dirfd);
	if (fd2 < 0 || !(d = fdopendir(fd2))) {
		if (fd2 >= 0)
			close(fd2);
		return cdx_error_set(err, CDX_EFAILED, "cannot read directory %s: %s", plen ? k->path : ".",
				     strerror(errno));
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			CDX_PUSH(names, nn, cap, cdx_xstrdup(de->d_name));
	closedir(d);
	if (nn)
		qsort(names, nn, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nn; i++) {
		const char *name = names[i];
		size_t l = strlen(name), np = plen + (plen ? 1 : 0) + l;
		struct stat sb;
		bool hit = all;
		if (np > CDX_PACK_PATH_MAX) {
			k->path[plen] = '\0';
			cdx_error_set(err, CDX_EFAILED, "path under %s longer than %d bytes",
				      plen ? k->path : ".", CDX_PACK_PATH_MAX);
			goto out;
		}
		if (plen)
			k->path[plen] = '/';
		memcpy(k->path + plen + (plen ? 1 : 0), name, l + 1);
		if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			cdx_error_set(err, CDX_EFAILED, "cannot stat %s: %s", k->path, strerror(errno));
			goto out;
		}
		for (size_t g = 0; !hit && g < k->n; g++)
			hit = cdx_glob_match(k->globs[g], k->path, false);
		if (S_ISDIR(sb.st_mode)) {
			bool below = hit;
			for (size_t g = 0; !below && g < k->n; g++)
				below = cdx_glob_match(k->globs[g], k->path, true);
			if (!below)
				continue;
			if (depth + 1 >= CDX_PACK_DEPTH_MAX) {
				cdx_error_set(err, CDX_EFAILED, "%s is nested deeper than %d directories",
					      k->path, CDX_PACK_DEPTH_MAX);
				goto out;
			}
			if (hit && emit_header(k, 'd', sb.st_mode, np, 0, err) < 0)
				goto out;
			int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				cdx_error_set(err, CDX_EFAILED, "cannot open directory %s: %s", k->path,
					      strerror(errno));
				goto out;
			}
			int r = walk(k, sub, np, depth + 1, hit, err);
			close(sub);
			if (r < 0)
				goto out;
		} else if (!hit) {
			continue;
		} else if (S_ISREG(sb.st_mode)) {
			if (pack_file(k, dirfd, name, &sb, np, err) < 0)
				goto out;
		} else if (S_ISLNK(sb.st_mode)) {
			char t[CDX_PACK_PATH_MAX + 1];
			ssize_t tl = readlinkat(dirfd, name, t, sizeof(t));
			if (tl < 0 || (size_t)tl >= sizeof(t)) {
				cdx_error_set(err, CDX_EFAILED, "cannot read symlink %s: %s", k->path,
					      tl < 0 ? strerror(errno) : "target too long");
				goto out;
			}
			if (!target_ok(t, (size_t)tl, depth + 1)) {
				t[tl] = '\0';
				cdx_error_set(err, CDX_EFAILED,
					      "symlink %s -> %s leads outside the workspace (only relative "
					      "links that stay inside are kept)",
					      k->path, t);
				goto out;
			}
			if (emit_header(k, 'l', 0777, np, (uint64_t)tl, err) < 0 ||
			    emit(k, t, (size_t)tl, err) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	k->path[plen] = '\0';
	return rc;
}

int cdx_pack(const char *dir, char *const *globs, size_t n, const struct cdx_pack_limits *lim,
	     cdx_pack_write_fn w, void *ctx, struct cdx_pack_stats *st, struct cdx_error *err)
{
	struct packer k;
	unsigned char tr[TRAILER_LEN];
	int fd, rc = -1;
	for (size_t i = 0; i < n; i++)
		if (cdx_glob_check(globs[i], err) < 0)
			return -1;
	memset(&k, 0, sizeof(k));
	k.globs = globs;
	k.n = n;
	k.max_entries = lim_entries(lim);
	k.max_bytes = lim_bytes(lim);
	k.w = w;
	k.ctx = ctx;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cdx_error_set(err, CDX_EFAILED, "cannot open directory %s: %s", dir, strerror(errno));
	k.io = cdx_xmalloc(IO_CHUNK);
	if (emit(&k, CDX_PACK_MAGIC, 8, err) < 0 || walk(&k, fd, 0, 0, false, err) < 0)
		goto out;
	tr[0] = 'E';
	put_be(tr + 1, k.st.entries, 8);
	put_be(tr + 9, k.st.bytes, 8);
	k.crc = cdx_crc32(k.crc, tr, TRAILER_LEN - 4);
	put_be(tr + 17, k.crc, 4);
	if (k.w(k.ctx, tr, sizeof(tr), err) < 0)
		goto out;
	if (st)
		*st = k.st;
	rc = 0;
out:
	free(k.io);
	close(fd);
	return rc;
}

/* ---- reading ------------------------------------------------------------------ */

/* no entry's path goes through a symlink of the archive ("x" -> "real",
 * then "x/f"): the unpacker would refuse it half-way (it never follows a
 * link), so the archive is refused whole, before anything is written.
 * Framing is known sound up to END where it is used (checked again by the
 * caller's pass). */
static int links_check(const unsigned char *p, size_t end, struct cdx_error *err)
{
	struct cdx_map links = {0};
	char **owned = NULL;
	size_t n_owned = 0, cap = 0, off = 8;
	int rc = 0;
	char path[CDX_PACK_PATH_MAX + 1];
	while (rc == 0 && off < end && end - off >= HDR_LEN) {
		unsigned char type = p[off];
		size_t plen = (size_t)get_be(p + off + 5, 2);
		uint64_t dlen = get_be(p + off + 7, 8);
		off += HDR_LEN;
		if (plen > end - off || plen > CDX_PACK_PATH_MAX || dlen > end - off - plen)
			break; /* the caller's pass says what is wrong */
		memcpy(path, p + off, plen);
		path[plen] = '\0';
		for (size_t i = 1; i < plen; i++) {
			if (path[i] != '/')
				continue;
			path[i] = '\0';
			if (links.n && cdx_map_get(&links, path, NULL)) {
				rc = cdx_error_set(err, CDX_EFAILED,
						   "artifact archive writes %s/%s through its own symlink %s",
						   path, path + i + 1, path);
				break;
			}
			path[i] = '/';
		}
		if (rc == 0 && type == 'l') {
			char *k = cdx_xstrdup(path);
			CDX_PUSH(owned, n_owned, cap, k);
			cdx_map_set(&links, k, 0);
		}
		off += plen + (size_t)dlen;
	}
	cdx_map_free(&links);
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
	return rc;
}

/* cdx_pack_read, and with CHECKED (the archive passed cdx_pack_read
 * already) without the checksum and the check pass: FN's pass alone */
static int pack_read(const void *data, size_t len, const struct cdx_pack_limits *lim, cdx_pack_entry_fn fn,
		     void *ctx, struct cdx_pack_stats *st, bool checked, struct cdx_error *err)
{
	const unsigned char *p = data;
	size_t off = 8, end;
	struct cdx_pack_stats s = {0, 0, 0};
	size_t max_e = lim_entries(lim);
	uint64_t max_b = lim_bytes(lim);
	char path[CDX_PACK_PATH_MAX + 1], target[CDX_PACK_PATH_MAX + 1];
	if (len < 8 + TRAILER_LEN || memcmp(p, CDX_PACK_MAGIC, 8) != 0)
		return cdx_error_set(err, CDX_EFAILED, "not an artifact archive (no %s header)",
				     CDX_PACK_MAGIC);
	end = len - TRAILER_LEN;
	if (p[end] != 'E')
		return cdx_error_set(err, CDX_EFAILED, "artifact archive truncated or damaged (no trailer)");
	if (!checked && get_be(p + end + 17, 4) != cdx_crc32(0, p, len - 4))
		return cdx_error_set(err, CDX_EFAILED, "artifact archive damaged (checksum mismatch)");
	/* two passes: the first checks everything, the second calls FN */
	for (int pass = checked && fn ? 1 : 0; pass < (fn ? 2 : 1); pass++) {
		if (pass == 0 && links_check(p, end, err) < 0)
			return -1;
		off = 8;
		memset(&s, 0, sizeof(s));
		while (off < end) {
			unsigned char type;
			unsigned mode;
			size_t plen;
			uint64_t dlen;
			int depth;
			struct cdx_pack_entry e;
			if (end - off < HDR_LEN)
				return cdx_error_set(err, CDX_EFAILED,
						     "artifact archive damaged at byte %zu (short header)",
						     off);
			type = p[off];
			mode = (unsigned)get_be(p + off + 1, 4);
			plen = (size_t)get_be(p + off + 5, 2);
			dlen = get_be(p + off + 7, 8);
			off += HDR_LEN;
			if (type != 'd' && type != 'f' && type != 'l')
				return cdx_error_set(err, CDX_EFAILED,
						     "artifact archive damaged at byte %zu (entry type %u)",
						     off - HDR_LEN, type);
			if (mode & ~0777u)
				return cdx_error_set(err, CDX_EFAILED,
						     "artifact archive damaged at byte %zu (mode %o)",
						     off - HDR_LEN, mode);
			if (plen > end - off || dlen > end - off - plen)
				return cdx_error_set(err, CDX_EFAILED,
						     "artifact archive truncated at byte %zu", off);
			depth = path_depth((const char *)p + off, plen);
			memcpy(path, p + off, plen < sizeof(path) ? plen : 0);
			path[plen < sizeof(path) ? plen : 0] = '\0';
			if (depth < 0)
				return cdx_error_set(err, CDX_EFAILED,
						     "artifact archive holds an unsafe path at byte %zu "
						     "(absolute, empty, '.', '..' or NUL)",
						     off);
			off += plen;
			if (++s.entries > max_e)
				return cdx_error_set(err, CDX_EFAILED,
						     "artifact archive holds more than %zu entries", max_e);
			memset(&e, 0, sizeof(e));
			e.type = (char)type;
			e.mode = mode;
			e.path = path;
			e.size = dlen;
			if (type == 'd' && dlen != 0)
				return cdx_error_set(err, CDX_EFAILED,
						     "artifact archive damaged: directory %s has data", path);
			if (type == 'l') {
				if (!target_ok((const char *)p + off, (size_t)dlen, depth))
					return cdx_error_set(err, CDX_EFAILED,
							     "artifact archive holds symlink %s leading "
							     "outside the destination",
							     path);
				memcpy(target, p + off, (size_t)dlen);
				target[dlen] = '\0';
				e.target = target;
			}
			if (type == 'f') {
				s.files++;
				s.bytes += dlen;
				if (s.bytes > max_b)
					return cdx_error_set(err, CDX_EFAILED,
							     "artifact archive holds more than %llu bytes",
							     (unsigned long long)max_b);
				e.data = p + off;
			}
			off += (size_t)dlen;
			if (pass == 1 && fn(ctx, &e, err) < 0)
				return -1;
		}
		if (get_be(p + end + 1, 8) != s.entries || get_be(p + end + 9, 8) != s.bytes)
			return cdx_error_set(err, CDX_EFAILED,
					     "artifact archive damaged (trailer counts differ)");
	}
	if (st)
		*st = s;
	return 0;
}

int cdx_pack_read(const void *data, size_t len, const struct cdx_pack_limits *lim, cdx_pack_entry_fn fn,
		  void *ctx, struct cdx_pack_stats *st, struct cdx_error *err)
{
	return pack_read(data, len, lim, fn, ctx, st, false, err);
}

/* ---- unpacking ---------------------------------------------------------------- */

struct unpacker {
	int root;
};

/* open (creating when missing) the directory holding PATH's last
 * component, walking from the root without following any link; *LAST
 * points at that component in PATH.  -1 with ERR. */
static int open_parent(int root, char *path, const char **last, struct cdx_error *err)
{
	int fd = dup(root);
	char *p = path;
	if (fd < 0)
		return cdx_error_set(err, CDX_EFAILED, "dup: %s", strerror(errno));
	for (;;) {
		char *s = strchr(p, '/');
		int sub;
		if (!s) {
			*last = p;
			return fd;
		}
		*s = '\0';
		if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
			cdx_error_set(err, CDX_EFAILED, "cannot create directory %s: %s", path,
				      strerror(errno));
			*s = '/';
			close(fd);
			return -1;
		}
		sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			cdx_error_set(err, CDX_EFAILED, "cannot enter %s: %s%s", path,
				      errno == ELOOP || errno == ENOTDIR
					  ? "not a directory (a symlink or a file is there)"
					  : strerror(errno),
				      "");
			*s = '/';
			close(fd);
			return -1;
		}
		*s = '/';
		close(fd);
		fd = sub;
		p = s + 1;
	}
}

static int write_all(int fd, const unsigned char *p, uint64_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n < (1u << 30) ? (size_t)n : (1u << 30));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (uint64_t)w;
	}
	return 0;
}

static int unpack_one(void *ctx, const struct cdx_pack_entry *e, struct cdx_error *err)
{
	struct unpacker *u = ctx;
	char *path = cdx_xstrdup(e->path);
	const char *name = NULL;
	char tmp[64];
	int dfd = open_parent(u->root, path, &name, err), rc = -1;
	if (dfd < 0) {
		free(path);
		return -1;
	}
	if (e->type == 'd') {
		struct stat sb;
		if (mkdirat(dfd, name, e->mode | 0700) < 0 && errno != EEXIST) {
			cdx_error_set(err, CDX_EFAILED, "cannot create directory %s: %s", e->path,
				      strerror(errno));
			goto out;
		}
		if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode)) {
			cdx_error_set(err, CDX_EFAILED, "cannot create directory %s: something else is there",
				      e->path);
			goto out;
		}
		rc = 0;
		goto out;
	}
	snprintf(tmp, sizeof(tmp), ".cdx-unpack.%ld.%lx", (long)getpid(), (unsigned long)cdx_now_ns());
	if (e->type == 'l') {
		if (symlinkat(e->target, dfd, tmp) < 0) {
			cdx_error_set(err, CDX_EFAILED, "cannot create symlink %s: %s", e->path,
				      strerror(errno));
			goto out;
		}
	} else {
		int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", e->path, strerror(errno));
			goto out;
		}
		if (write_all(fd, e->data, e->size) < 0 || fchmod(fd, e->mode) < 0) {
			cdx_error_set(err, CDX_EFAILED, "cannot write %s: %s", e->path, strerror(errno));
			close(fd);
			unlinkat(dfd, tmp, 0);
			goto out;
		}
		close(fd);
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		cdx_error_set(err, CDX_EFAILED, "cannot put %s in place: %s", e->path, strerror(errno));
		unlinkat(dfd, tmp, 0);
		goto out;
	}
	rc = 0;
out:
	close(dfd);
	free(path);
	return rc;
}

int cdx_unpack(const void *data, size_t len, const char *dest, const struct cdx_pack_limits *lim,
	       struct cdx_pack_stats *st, struct cdx_error *err)
{
	struct unpacker u;
	int rc;
	if (cdx_pack_read(data, len, lim, NULL, NULL, NULL, err) < 0)
		return -1;
	{ /* mkdir -p DEST */
		char *d = cdx_xstrdup(dest);
		int e = 0;
		for (char *q = d + 1; *q; q++)
			if (*q == '/') {
				*q = '\0';
				mkdir(d, 0755); /* what fails shows at the last one */
				*q = '/';
			}
		if (mkdir(d, 0755) < 0 && errno != EEXIST)
			e = errno;
		free(d);
		if (e)
			return cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", dest, strerror(e));
	}
	/* DEST itself as the caller names it (a link the user chose is
	 * followed); nothing below it is */
	u.root = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u.root < 0)
		return cdx_error_set(err, CDX_EFAILED, "cannot open directory %s: %s", dest, strerror(errno));
	rc = pack_read(data, len, lim, unpack_one, &u, st, true, err);
	close(u.root);
	return rc;
}
