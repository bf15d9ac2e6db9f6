/* text.c — values made safe for a terminal (text.h says the rules).
 *
 * The printf wrapper walks the format once: literal text is copied, each
 * conversion is cut out as its own small format and handed to
 * cdx_buf_printf with its argument, fetched by the type its length
 * modifier names; a %s argument is escaped first.  A format that this
 * walker does not understand (an unknown conversion) is copied as text
 * from there on, so that the argument list is never read out of step. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

/* the length of the UTF-8 sequence at S (at most N bytes) when it is
 * valid, with its code point in *CP; 0 when it is not */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2, i;
	unsigned c = s[0] & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
	if (s[0] < 0xc2 || s[0] > 0xf4 || len > n || cdx_utf8_check((const char *)s, len) != 0)
		return 0;
	for (i = 1; i < len; i++)
		c = (c << 6) | (s[i] & 0x3f);
	*cp = c;
	return len;
}

static bool shown_as_code(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

void cdx_text_escape(struct cdx_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "(null)");
	size_t n = strlen((const char *)p), i = 0, run;
	while (i < n) {
		unsigned char c = p[i];
		unsigned cp;
		size_t len;
		for (run = i; run < n && p[run] >= 0x20 && p[run] < 0x7f; run++)
			;
		if (run > i) { /* plain ASCII: the common case, copied at once */
			cdx_buf_add(b, p + i, run - i);
			i = run;
			continue;
		}
		if (c == '\n' || c == '\r' || c == '\t') {
			cdx_buf_addc(b, '\\');
			cdx_buf_addc(b, c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
			i++;
		} else if (c < 0x80) {
			cdx_buf_printf(b, "\\x%02x", c);
			i++;
		} else if (!(len = utf8_seq(p + i, n - i, &cp))) {
			cdx_buf_printf(b, "\\x%02x", c);
			i++;
		} else {
			if (shown_as_code(cp))
				cdx_buf_printf(b, "\\u%04x", cp);
			else
				cdx_buf_add(b, p + i, len);
			i += len;
		}
	}
	if (!b->data)
		cdx_buf_add(b, "", 0);
}

/* plain: S is printable ASCII through and through, shown as it is (the
 * common case, without a copy) */
static bool plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

enum len_mod { LM_NONE, LM_HH, LM_H, LM_L, LM_LL, LM_J, LM_Z, LM_T, LM_BIG_L };

/* the formatted argument: SPEC with up to two "*" values in STAR */
#define CDX_PUT(b, spec, nstar, star, arg)                                                                   \
	do {                                                                                                 \
		if ((nstar) == 0)                                                                            \
			cdx_buf_printf((b), (spec), arg);                                                    \
		else if ((nstar) == 1)                                                                       \
			cdx_buf_printf((b), (spec), (star)[0], arg);                                         \
		else                                                                                         \
			cdx_buf_printf((b), (spec), (star)[0], (star)[1], arg);                              \
	} while (0)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
void cdx_text_vprintf(struct cdx_buf *b, const char *fmt, va_list ap)
{
	const char *p = fmt;
	va_list aq;
	va_copy(aq, ap);
	while (*p) {
		const char *pc = strchr(p, '%'), *q;
		char spec[32];
		size_t n = 0;
		int star[2], nstar = 0;
		enum len_mod lm = LM_NONE;
		if (!pc) {
			cdx_buf_adds(b, p);
			break;
		}
		cdx_buf_add(b, p, (size_t)(pc - p));
		q = pc + 1;
		spec[n++] = '%';
		while (*q && strchr("-+ #0'", *q) && n < 8)
			spec[n++] = *q++;
		if (*q == '*') {
			star[nstar++] = va_arg(aq, int);
			spec[n++] = *q++;
		}
		while (*q >= '0' && *q <= '9' && n < 16)
			spec[n++] = *q++;
		if (*q == '.') {
			spec[n++] = *q++;
			if (*q == '*') {
				star[nstar++] = va_arg(aq, int);
				spec[n++] = *q++;
			}
			while (*q >= '0' && *q <= '9' && n < 24)
				spec[n++] = *q++;
		}
		if (*q == 'h' || *q == 'l') {
			lm = *q == 'h' ? LM_H : LM_L;
			spec[n++] = *q++;
			if ((lm == LM_H && *q == 'h') || (lm == LM_L && *q == 'l')) {
				lm = lm == LM_H ? LM_HH : LM_LL;
				spec[n++] = *q++;
			}
		} else if (*q == 'j' || *q == 'z' || *q == 't' || *q == 'L') {
			lm = *q == 'j' ? LM_J : *q == 'z' ? LM_Z : *q == 't' ? LM_T : LM_BIG_L;
			spec[n++] = *q++;
		}
		spec[n++] = *q;
		spec[n] = '\0';
		switch (*q) {
		case '%':
			cdx_buf_addc(b, '%');
			break;
		case 's': {
			const char *v = va_arg(aq, const char *);
			struct cdx_buf e = {0};
			if (v && plain(v)) {
				CDX_PUT(b, spec, nstar, star, v);
				break;
			}
			cdx_text_escape(&e, v);
			CDX_PUT(b, spec, nstar, star, e.data);
			cdx_buf_free(&e);
			break;
		}
		case 'c':
			CDX_PUT(b, spec, nstar, star, va_arg(aq, int));
			break;
		case 'p':
			CDX_PUT(b, spec, nstar, star, va_arg(aq, void *));
			break;
		case 'd':
		case 'i':
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			switch (lm) {
			case LM_L:
				CDX_PUT(b, spec, nstar, star, va_arg(aq, long));
				break;
			case LM_LL:
				CDX_PUT(b, spec, nstar, star, va_arg(aq, long long));
				break;
			case LM_J:
				CDX_PUT(b, spec, nstar, star, va_arg(aq, intmax_t));
				break;
			case LM_Z:
				CDX_PUT(b, spec, nstar, star, va_arg(aq, size_t));
				break;
			case LM_T:
				CDX_PUT(b, spec, nstar, star, va_arg(aq, ptrdiff_t));
				break;
			default:
				CDX_PUT(b, spec, nstar, star, va_arg(aq, int));
				break;
			}
			break;
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
		case 'a':
		case 'A':
			if (lm == LM_BIG_L)
				CDX_PUT(b, spec, nstar, star, va_arg(aq, long double));
			else
				CDX_PUT(b, spec, nstar, star, va_arg(aq, double));
			break;
		default: /* not understood: the rest as text, never out of step */
			cdx_buf_adds(b, pc);
			va_end(aq);
			return;
		}
		p = q + 1;
	}
	va_end(aq);
	if (!b->data)
		cdx_buf_add(b, "", 0);
}
#pragma GCC diagnostic pop

void cdx_text_bprintf(struct cdx_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cdx_text_vprintf(b, fmt, ap);
	va_end(ap);
}

int cdx_text_printf(FILE *f, const char *fmt, ...)
{
	struct cdx_buf b = {0};
	va_list ap;
	int rc;
	va_start(ap, fmt);
	cdx_text_vprintf(&b, fmt, ap);
	va_end(ap);
	rc = fwrite(b.data, 1, b.len, f) == b.len ? (int)b.len : -1;
	cdx_buf_free(&b);
	return rc;
}

void cdx_text_html(struct cdx_buf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': cdx_buf_adds(b, "&amp;"); break;
		case '<': cdx_buf_adds(b, "&lt;"); break;
		case '>': cdx_buf_adds(b, "&gt;"); break;
		case '"': cdx_buf_adds(b, "&quot;"); break;
		case '\'': cdx_buf_adds(b, "&#39;"); break;
		default:
			if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
				cdx_buf_adds(b, "\xef\xbf\xbd");
			else
				cdx_buf_addc(b, (char)c);
		}
	}
}

void cdx_shq(struct cdx_buf *b, const char *s)
{
	cdx_buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			cdx_buf_adds(b, "'\\''");
		else
			cdx_buf_addc(b, *s);
	}
	cdx_buf_addc(b, '\'');
}

char *cdx_shq_words(char *const *words)
{
	struct cdx_buf b = {0};
	size_t i;
	for (i = 0; words[i]; i++) {
		if (i)
			cdx_buf_addc(&b, ' ');
		cdx_shq(&b, words[i]);
	}
	return cdx_buf_detach(&b);
}
