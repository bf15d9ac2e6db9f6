/* util.c — checked allocation, growable buffers, error formatting, name
 * checks, typo suggestions and small file and clock helpers (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "cdx: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *cdx_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *cdx_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *cdx_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

void *cdx_xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	return cdx_xrealloc(p, n * size);
}

char *cdx_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = cdx_xmalloc(n);
	memcpy(d, s, n);
	return d;
}

char *cdx_xstrndup(const char *s, size_t n)
{
	char *d = cdx_xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *cdx_xasprintf(const char *fmt, ...)
{
	struct cdx_buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	cdx_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return cdx_buf_detach(&b);
}

void cdx_grow(void *arr, size_t *cap, size_t need, size_t size)
{
	void **a = arr;
	size_t c;
	if (need <= *cap)
		return;
	c = *cap ? *cap : 4;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			oom();
		c *= 2;
	}
	*a = cdx_xreallocarray(*a, c, size);
	*cap = c;
}

static void buf_reserve(struct cdx_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		oom();
	cdx_grow(&b->data, &b->cap, b->len + extra + 1, 1);
}

void cdx_buf_add(struct cdx_buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void cdx_buf_adds(struct cdx_buf *b, const char *s)
{
	cdx_buf_add(b, s, strlen(s));
}

void cdx_buf_addc(struct cdx_buf *b, char c)
{
	cdx_buf_add(b, &c, 1);
}

void cdx_buf_vprintf(struct cdx_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void cdx_buf_printf(struct cdx_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cdx_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void cdx_buf_reset(struct cdx_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void cdx_buf_free(struct cdx_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *cdx_buf_detach(struct cdx_buf *b)
{
	char *s = b->data ? b->data : cdx_xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

int cdx_error_set(struct cdx_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

const char *cdx_strstatus(int code)
{
	switch (code) {
	case CDX_OK: return "success";
	case CDX_EFAILED: return "failed";
	case CDX_EUSAGE: return "usage or configuration error";
	case CDX_EBUSY: return "busy";
	case CDX_ESTATE: return "state backend unreachable";
	case CDX_EINTR: return "interrupted";
	default: return "unknown status";
	}
}

bool cdx_name_valid(const char *s)
{
	size_t n = 0;
	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= CDX_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Levenshtein distance of A and B, giving up (returning LIMIT + 1) once it
 * cannot stay within LIMIT; words are short, one row suffices. */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[CDX_NAME_MAX + 2];
	if (la > CDX_NAME_MAX || lb > CDX_NAME_MAX)
		return limit + 1;
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0], best;
		row[0] = i;
		best = row[0];
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = diag + cost;
			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
			if (v < best)
				best = v;
		}
		if (best > limit)
			return limit + 1;
	}
	return row[lb];
}

const char *cdx_closest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word), limit = len < 4 ? 1 : len < 8 ? 2 : 3, best = limit + 1, i;
	const char *pick = NULL;
	for (i = 0; i < n; i++) {
		size_t d = edit_distance(word, cands[i], limit);
		if (d < best) {
			best = d;
			pick = cands[i];
		}
	}
	return pick;
}

size_t cdx_utf8_check(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n, k;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return i + 1;
		}
		for (k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return i + 1;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return i + 1;
		i += n + 1;
	}
	return 0;
}

int cdx_read_file(const char *path, size_t max, char **out, size_t *len, struct cdx_error *err)
{
	struct cdx_buf b = {0};
	char chunk[65536];
	struct stat st;
	int fd, rc = -1;
	/* O_NONBLOCK: opening a FIFO named by a hostile include must not hang */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return cdx_error_set(err, CDX_EUSAGE, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		cdx_error_set(err, CDX_EUSAGE, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		cdx_error_set(err, CDX_EUSAGE, "%s is not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		cdx_error_set(err, CDX_EUSAGE, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cdx_error_set(err, CDX_EUSAGE, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > max) {
			cdx_error_set(err, CDX_EUSAGE, "%s is larger than %zu bytes", path, max);
			goto out;
		}
		cdx_buf_add(&b, chunk, (size_t)r);
	}
	*len = b.len;
	*out = cdx_buf_detach(&b);
	rc = 0;
out:
	close(fd);
	cdx_buf_free(&b);
	return rc;
}

int64_t cdx_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cdx_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t cdx_hash32(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u;
	while (n--) {
		h ^= *s++;
		h *= 16777619u;
	}
	return h;
}

uint32_t cdx_crc32(uint32_t crc, const void *p, size_t n)
{
	/* nibble-wise CRC-32 (IEEE 802.3, reflected 0xedb88320): a constant
	 * 16-entry table, so no initialisation and no shared mutable state */
	static const uint32_t table[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
		0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
		0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	const unsigned char *s = p;
	crc = ~crc;
	while (n--) {
		crc ^= *s++;
		crc = table[crc & 0xf] ^ (crc >> 4);
		crc = table[crc & 0xf] ^ (crc >> 4);
	}
	return ~crc;
}

long long cdx_process_start_time(int pid)
{
	char path[64], buf[1024];
	const char *p;
	long long start = -1;
	ssize_t n;
	int fd, field;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* fields after ')' start with the 3rd (state); starttime is the 22nd */
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		start = strtoll(p, NULL, 10);
	return start;
}
