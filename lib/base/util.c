/* util.c — checked allocation, growable buffers, error formatting, name
 * checks, typo suggestions and small file and clock helpers (see util.h). */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
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

#define HUGE_PAGE (2u << 20)

void *cdx_xmalloc_big(size_t n)
{
	void *p;
	size_t total;
	/* from half a huge page on: the rest of it is no more than the pages
	 * malloc would round to and the faults it saves are most of the cost */
	if (n < HUGE_PAGE / 2 || n > SIZE_MAX - HUGE_PAGE)
		return cdx_xmalloc(n);
	total = (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	p = aligned_alloc(HUGE_PAGE, total);
	if (!p)
		oom();
	madvise(p, total, MADV_HUGEPAGE); /* advice: failure is harmless */
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

char *cdx_xjoin3(const char *a, const char *sep, const char *b)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
	char *r = cdx_xmalloc(la + ls + lb + 1);
	memcpy(r, a, la);
	memcpy(r + la, sep, ls);
	memcpy(r + la + ls, b, lb + 1);
	return r;
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

void cdx_buf_reserve(struct cdx_buf *b, size_t extra)
{
	buf_reserve(b, extra);
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
	if (code == CDX_OK) {
		/* a failure without a code would leave every caller guessing
		 * what kind it was: a programming error, caught at its source */
		fprintf(stderr, "cdx: internal error: an error set with code 0: %s\n", fmt);
		abort();
	}
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
			/* ASCII runs are the common case: eight bytes at a time */
			while (i + 8 <= len) {
				uint64_t w;
				memcpy(&w, s + i, 8);
				if (w & 0x8080808080808080ull)
					break;
				i += 8;
			}
			if (i < len && s[i] < 0x80)
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
		cdx_error_set(err, CDX_EUSAGE, S_ISDIR(st.st_mode) ? "%s is a directory" : "%s is not a regular file",
			      path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		cdx_error_set(err, CDX_EUSAGE, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	/* the whole file in one buffer, read straight into it */
	b.cap = (size_t)st.st_size + 1;
	b.data = cdx_xmalloc_big(b.cap);
	b.data[0] = '\0';
	for (;;) {
		ssize_t r;
		if (b.cap - b.len < 2) /* the file grew since fstat */
			buf_reserve(&b, 65536);
		r = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cdx_error_set(err, CDX_EUSAGE, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
		b.data[b.len] = '\0';
		if (b.len > max) {
			cdx_error_set(err, CDX_EUSAGE, "%s is larger than %zu bytes", path, max);
			goto out;
		}
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

void cdx_run_id_new(char *buf, size_t n)
{
	int64_t ms = cdx_wall_ms();
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char when[32];
	uint32_t rnd;
	/* random, so that ids made in the same millisecond still differ */
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = cdx_hash32(&ms, sizeof(ms)) ^ (uint32_t)getpid() ^ (uint32_t)cdx_now_ns();
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%S", &tm);
	snprintf(buf, n, "%s.%03dZ-%08x", when, (int)(ms % 1000), (unsigned)rnd);
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
	/* CRC-32 (IEEE 802.3, reflected 0xedb88320), a byte at a time from a
	 * constant table: no initialisation, no shared mutable state */
	static const uint32_t table[256] = {
		0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f,
		0xe963a535, 0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
		0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2,
		0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
		0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9,
		0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
		0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
		0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
		0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423,
		0xcfba9599, 0xb8bda50f, 0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
		0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d, 0x76dc4190, 0x01db7106,
		0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
		0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d,
		0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
		0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950,
		0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
		0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7,
		0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
		0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9, 0x5005713c, 0x270241aa,
		0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
		0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
		0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
		0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84,
		0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
		0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb,
		0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
		0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8, 0xa1d1937e,
		0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
		0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55,
		0x316e8eef, 0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
		0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28,
		0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
		0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f,
		0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
		0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
		0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
		0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69,
		0x616bffd3, 0x166ccf45, 0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
		0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db, 0xaed16a4a, 0xd9d65adc,
		0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
		0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693,
		0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
		0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
	};
	const unsigned char *s = p;
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
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

bool cdx_process_alive(int pid)
{
	char path[64], buf[512];
	const char *p;
	ssize_t n;
	int fd;
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* a zombie has died; only its parent has not noticed yet */
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

bool cdx_process_owner_alive(const char *host, int pid, long long pid_start)
{
	char me[256];
	if (gethostname(me, sizeof(me)) < 0)
		return true;
	me[sizeof(me) - 1] = '\0';
	if (!host || strcmp(host, me) != 0)
		return true;
	if (!cdx_process_alive(pid))
		return false;
	return pid_start < 0 || cdx_process_start_time(pid) == pid_start;
}

bool cdx_env_name_valid(const char *s)
{
	size_t i;
	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return false;
	return i <= 256;
}

void cdx_who(char *user, size_t un, char *host, size_t hn)
{
	/* the identity the system vouches for: $USER is anyone's to set */
	struct passwd *pw = getpwuid(geteuid());
	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(user, un, "%s", pw->pw_name);
	else
		snprintf(user, un, "uid%lu", (unsigned long)geteuid());
	if (gethostname(host, hn) < 0)
		snprintf(host, hn, "localhost");
	host[hn - 1] = '\0';
}

const char *cdx_who_claimed(const char *user)
{
	const char *env = getenv("USER");
	return env && *env && strcmp(env, user) != 0 ? env : NULL;
}

double cdx_round(double x)
{
	double t;
	if (!(x > -4503599627370496.0 && x < 4503599627370496.0))
		return x; /* NaN, infinite, or |x| >= 2^52: integral already */
	t = (double)(long long)x; /* toward zero, exact */
	if (x - t >= 0.5)
		t += 1;
	else if (t - x >= 0.5)
		t -= 1;
	return t;
}
