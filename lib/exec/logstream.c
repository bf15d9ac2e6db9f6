/* logstream.c — an attempt's log sent to the store (see logstream.h) */
#include "exec/logstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t cdx_log_max(void)
{
	const char *e = getenv("CDX_LOG_MAX");
	char *end;
	unsigned long long v;
	if (!e || !*e)
		return CDX_LOG_MAX_DEFAULT;
	v = strtoull(e, &end, 10);
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || end == e)
		return CDX_LOG_MAX_DEFAULT;
	return (size_t)v;
}

void cdx_logstream_begin(struct cdx_logstream *ls, struct cdx_store *s, const char *run, const char *job,
			 int attempt)
{
	cdx_buf_free(&ls->buf);
	memset(ls, 0, sizeof(*ls));
	if (!s || !s->ops->log_write)
		return;
	ls->s = s;
	cdx_log_key(ls->key, sizeof(ls->key), run, job, attempt);
	ls->cap = cdx_log_max();
	ls->last_ns = cdx_now_ns();
}

void cdx_logstream_add(struct cdx_logstream *ls, const char *data, size_t len)
{
	if (!ls->s)
		return;
	if (ls->taken + len > ls->cap) {
		len = ls->cap - ls->taken;
		ls->truncated = true;
	}
	cdx_buf_add(&ls->buf, data, len);
	ls->taken += len;
}

void cdx_logstream_flush(struct cdx_logstream *ls, bool force, bool end)
{
	struct cdx_error err = {0};
	int64_t now;
	int flags = 0;
	if (!ls->s)
		return;
	now = cdx_now_ns();
	if (!force && !end && (!ls->buf.len || now - ls->last_ns < CDX_LOGSTREAM_EVERY_MS * 1000000LL))
		return;
	if (!ls->first_sent && (ls->buf.len || end))
		flags |= CDX_LOG_FIRST;
	if (end)
		flags |= CDX_LOG_END | (ls->truncated ? CDX_LOG_TRUNC : 0);
	if (flags || ls->buf.len) {
		if (ls->s->ops->log_write(ls->s, ls->key, ls->buf.data ? ls->buf.data : "", ls->buf.len,
					  flags | (ls->defer && end ? CDX_LOG_DEFER : 0), &err) < 0) {
			if (!ls->failed)
				fprintf(stderr, "cdx: warning: cannot send the log %s: %s\n", ls->key,
					err.msg);
			ls->failed = true;
		} else if (flags & CDX_LOG_FIRST) {
			ls->first_sent = true;
		}
	}
	cdx_buf_reset(&ls->buf);
	ls->last_ns = now;
	if (end)
		ls->s = NULL;
}

void cdx_logstream_free(struct cdx_logstream *ls)
{
	cdx_buf_free(&ls->buf);
	ls->s = NULL;
}
