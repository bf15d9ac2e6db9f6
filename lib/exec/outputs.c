/* outputs.c — parsing a job's $CDX_OUTPUT file (see outputs.h).
 *
 * The parser reads the bytes as lines (a last line without a newline
 * counts); it never allocates more than the values it keeps, and stops at
 * the first problem so that a bad file cannot hand on half-guessed values
 * silently: the caller reports WHY.
 */
#include "exec/outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a name of cdx's own (CDX_JOB, CDX_OUTPUT, ...): no output may set one */
static bool reserved(const char *name, size_t nlen)
{
	return nlen >= 4 && memcmp(name, "CDX_", 4) == 0;
}

static void set(struct cdx_vars *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct cdx_var *old, v = {0};
	char *n = cdx_xstrndup(name, nlen);
	old = cdx_vars_find(out, n);
	if (old) {
		free(old->value);
		old->value = cdx_xstrndup(value, vlen);
		free(n);
		return;
	}
	v.name = n;
	v.value = cdx_xstrndup(value, vlen);
	CDX_PUSH(out->v, out->n, out->cap, v);
}

/* a variable name, as cdx_env_name_valid (util.h) says, of N bytes */
static bool name_ok(const char *s, size_t n)
{
	size_t i;
	if (!n || n > 256 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return false;
	return true;
}

int cdx_outputs_parse(const char *buf, size_t len, struct cdx_vars *out, char *why, size_t why_n)
{
	size_t pos = 0, line = 0;
	if (len > CDX_OUTPUTS_MAX_BYTES) {
		snprintf(why, why_n, "the file has %zu bytes, more than the %u it may have", len,
			 CDX_OUTPUTS_MAX_BYTES);
		return -1;
	}
	while (pos < len) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos), *eq, *lt;
		size_t ll = nl ? (size_t)(nl - l) : len - pos;
		pos += ll + (nl ? 1 : 0);
		line++;
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (!ll)
			continue;
		if (memchr(l, '\0', ll)) {
			snprintf(why, why_n, "line %zu holds a NUL byte", line);
			return -1;
		}
		eq = memchr(l, '=', ll);
		lt = ll > 2 ? memmem(l, ll, "<<", 2) : NULL;
		if (lt && (!eq || lt < eq)) {
			/* KEY<<DELIM, lines, DELIM */
			size_t nlen = (size_t)(lt - l), dlen = ll - nlen - 2, vstart = pos, vend = pos;
			const char *delim = lt + 2;
			bool closed = false;
			if (name_ok(l, nlen) && reserved(l, nlen)) {
				snprintf(why, why_n, "line %zu: %.*s: names starting with CDX_ are cdx's own", line,
					 (int)nlen, l);
				return -1;
			}
			if (!name_ok(l, nlen) || !dlen) {
				snprintf(why, why_n, "line %zu: not KEY=VALUE or KEY<<DELIMITER", line);
				return -1;
			}
			while (pos < len) {
				const char *b = buf + pos, *bnl = memchr(b, '\n', len - pos);
				size_t bl = bnl ? (size_t)(bnl - b) : len - pos, cmp = bl;
				line++;
				if (cmp && b[cmp - 1] == '\r')
					cmp--;
				if (cmp == dlen && memcmp(b, delim, dlen) == 0) {
					/* the value ends before the newline ahead of DELIM */
					vend = pos > vstart ? pos - 1 : vstart;
					if (vend > vstart && buf[vend - 1] == '\r')
						vend--;
					pos += bl + (bnl ? 1 : 0);
					closed = true;
					break;
				}
				pos += bl + (bnl ? 1 : 0);
			}
			if (!closed) {
				snprintf(why, why_n, "the block of %.*s has no closing line %.*s", (int)nlen, l,
					 (int)(dlen > 64 ? 64 : dlen), delim);
				return -1;
			}
			if (nlen + 1 + (vend - vstart) > CDX_VAR_ENTRY_MAX) {
				snprintf(why, why_n, "%.*s is too long for an environment variable", (int)nlen, l);
				return -1;
			}
			set(out, l, nlen, buf + vstart, vend - vstart);
		} else if (eq && name_ok(l, (size_t)(eq - l)) && reserved(l, (size_t)(eq - l))) {
			snprintf(why, why_n, "line %zu: %.*s: names starting with CDX_ are cdx's own", line,
				 (int)(eq - l), l);
			return -1;
		} else if (eq && name_ok(l, (size_t)(eq - l))) {
			if (ll > CDX_VAR_ENTRY_MAX) {
				snprintf(why, why_n, "line %zu is too long for an environment variable", line);
				return -1;
			}
			set(out, l, (size_t)(eq - l), eq + 1, ll - (size_t)(eq - l) - 1);
		} else {
			snprintf(why, why_n, "line %zu: not KEY=VALUE or KEY<<DELIMITER", line);
			return -1;
		}
		if (out->n > CDX_OUTPUTS_MAX_KEYS) {
			snprintf(why, why_n, "more than %d outputs", CDX_OUTPUTS_MAX_KEYS);
			return -1;
		}
	}
	return 0;
}
