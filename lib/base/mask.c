/* mask.c — streaming replacement of secret values by "***" (see mask.h).
 *
 * The secrets are grouped by their first byte; within a group they are
 * sorted longest first.  Scanning a chunk skips to the next byte that can
 * start any secret (memchr when every secret starts with the same byte, a
 * 256-entry table otherwise), so output with no secret in it costs one pass
 * over the bytes and no comparisons.  At a candidate position the secrets of
 * that byte are tried longest first: the first one that matches in full is
 * replaced; but when a longer secret matches as far as the data goes and
 * needs more bytes to decide, everything from that position on is held back
 * until the next feed (or the flush), so the longest match wins also across
 * feeds.
 *
 * Invariant: the held-back tail is shorter than the longest secret, and it
 * starts with a proper prefix of some secret; bytes before it have been
 * appended to the caller's buffer, in order, exactly once.
 */
#include "base/mask.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MASK_TEXT "***"

struct mask_secret {
	char *s;    /* the value, NUL-terminated (never empty) */
	size_t len; /* strlen(s), >= 1 */
};

struct cdx_mask {
	struct mask_secret *sec; /* by first byte, longest first within a byte */
	size_t n;                /* number of secrets */
	size_t start[257];       /* secrets starting with byte b: sec[start[b] .. start[b + 1]) */
	unsigned char first;     /* the only first byte, when nfirst == 1 */
	size_t nfirst;           /* number of distinct first bytes */
	struct cdx_buf hold;     /* held-back tail, and the scratch of a feed */
};

static int secret_cmp(const void *pa, const void *pb)
{
	const struct mask_secret *a = pa, *b = pb;
	unsigned char ca = (unsigned char)a->s[0], cb = (unsigned char)b->s[0];
	if (ca != cb)
		return ca < cb ? -1 : 1;
	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;
	return 0;
}

struct cdx_mask *cdx_mask_new(const char *const *secrets)
{
	struct cdx_mask *m = cdx_xcalloc(1, sizeof(*m));
	size_t cap = 0, i, b;

	for (i = 0; secrets && secrets[i]; i++) {
		struct mask_secret s;
		if (!secrets[i][0])
			continue;
		s.s = cdx_xstrdup(secrets[i]);
		s.len = strlen(s.s);
		CDX_PUSH(m->sec, m->n, cap, s);
	}
	if (m->n)
		qsort(m->sec, m->n, sizeof(*m->sec), secret_cmp);
	/* start[b] = index of the first secret whose first byte is >= b */
	i = 0;
	for (b = 0; b <= 256; b++) {
		while (i < m->n && (unsigned char)m->sec[i].s[0] < b)
			i++;
		m->start[b] = i;
	}
	for (b = 0; b < 256; b++) {
		if (m->start[b + 1] > m->start[b]) {
			m->nfirst++;
			m->first = (unsigned char)b;
		}
	}
	return m;
}

void cdx_mask_free(struct cdx_mask *m)
{
	size_t i;
	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		free(m->sec[i].s);
	free(m->sec);
	cdx_buf_free(&m->hold);
	free(m);
}

/* next_candidate: the offset in P[0..N) of the first byte that starts some
 * secret, or N. */
static size_t next_candidate(const struct cdx_mask *m, const unsigned char *p, size_t n)
{
	size_t i;
	if (m->nfirst == 1) {
		const unsigned char *q = memchr(p, m->first, n);
		return q ? (size_t)(q - p) : n;
	}
	for (i = 0; i < n; i++) {
		if (m->start[p[i] + 1] > m->start[p[i]])
			break;
	}
	return i;
}

/* scan: mask the N bytes at P into OUT.  Unless FINAL, stop at a position
 * where a secret may begin but the data ends too soon to tell; return the
 * number of bytes consumed (the rest must be held back).  With FINAL, a
 * secret cut short by the end simply does not match, and all N bytes are
 * consumed. */
static size_t scan(const struct cdx_mask *m, const char *p, size_t n, bool final, struct cdx_buf *out)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t done = 0; /* bytes already appended to OUT (or replaced) */
	size_t i = 0;

	while (i < n) {
		size_t j = i + next_candidate(m, u + i, n - i);
		size_t k, end, avail;
		size_t match = 0;

		if (j >= n)
			break;
		avail = n - j;
		end = m->start[u[j] + 1];
		for (k = m->start[u[j]]; k < end; k++) {
			const struct mask_secret *s = &m->sec[k];
			if (s->len <= avail) {
				if (memcmp(p + j, s->s, s->len) == 0) {
					match = s->len;
					break;
				}
			} else if (!final && memcmp(p + j, s->s, avail) == 0) {
				/* a longer secret may still match: hold back */
				cdx_buf_add(out, p + done, j - done);
				return j;
			}
		}
		if (match) {
			cdx_buf_add(out, p + done, j - done);
			cdx_buf_add(out, MASK_TEXT, sizeof(MASK_TEXT) - 1);
			i = j + match;
			done = i;
		} else {
			i = j + 1;
		}
	}
	cdx_buf_add(out, p + done, n - done);
	return n;
}

void cdx_mask_feed(struct cdx_mask *m, const char *data, size_t len, struct cdx_buf *out)
{
	size_t used;

	if (!len)
		return;
	if (!m->n) {
		cdx_buf_add(out, data, len);
		return;
	}
	if (!m->hold.len) {
		/* the common case: no copy of the data */
		used = scan(m, data, len, false, out);
		if (used < len)
			cdx_buf_add(&m->hold, data + used, len - used);
		return;
	}
	cdx_buf_add(&m->hold, data, len);
	used = scan(m, m->hold.data, m->hold.len, false, out);
	memmove(m->hold.data, m->hold.data + used, m->hold.len - used);
	m->hold.len -= used;
	m->hold.data[m->hold.len] = '\0';
}

void cdx_mask_flush(struct cdx_mask *m, struct cdx_buf *out)
{
	if (!m->hold.len)
		return;
	scan(m, m->hold.data, m->hold.len, true, out);
	cdx_buf_reset(&m->hold);
}

char *cdx_mask_string(const char *const *secrets, const char *s)
{
	struct cdx_mask *m = cdx_mask_new(secrets);
	struct cdx_buf out = {0};

	cdx_mask_feed(m, s, strlen(s), &out);
	cdx_mask_flush(m, &out);
	cdx_mask_free(m);
	return cdx_buf_detach(&out);
}
