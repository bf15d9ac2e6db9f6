/* store_redis.c — the Redis state store: records, locks with fencing
 * tokens, events and health aggregates in one Redis server, under a key
 * prefix (store_redis.h; the keys are documented in redis/SCHEMA.md).
 *
 * Design.  Every command is sent as an argument vector (redisCommandArgv),
 * so names and record text are binary-safe and never reach a format
 * string.  Every update that touches more than one key runs in a Lua
 * script (redis/NAME.lua, embedded at build time by redis/lua2c.sh), called
 * with EVALSHA and loaded again when the server answers NOSCRIPT:
 *
 *  - append() only buffers (no system call); flush() sends the buffered
 *    records in batches of at most BATCH_MAX, one EVALSHA of append.lua per
 *    batch (formatted here straight into the protocol, each record's JSON
 *    once): one records stream entry per segment of a run's consecutive
 *    records (a JSON array), which is the only copy of a record, plus the
 *    structured keys.  A flush that returns 0 has every record acknowledged by the
 *    server (and on disk, with appendfsync always).
 *  - When the connection is lost, records stay buffered (at most
 *    HOLD_MAX) and later flushes reconnect, no more often than an
 *    exponential backoff (100 ms doubling to 5 s) allows.  When the buffer
 *    would overflow, or the store is closed while Redis is still away,
 *    the records are spilled, in order, to a file store in the local
 *    directory, with a warning on stderr that says how to load them back
 *    (`cdx state copy`); from then on this handle writes there, so that
 *    the spilled records keep their order.  Nothing is dropped silently.
 *  - Locks: lock.lua takes `SET NX PX` and the fencing counter (INCR) in
 *    one call; the lock's value is "TOKEN:SECRET" with a random secret
 *    that only the holder knows.  Renewal and release compare and then
 *    extend or delete (renew.lua); append_fenced runs append.lua with the
 *    comparison in the same script.  Waiters queue in a sorted set by
 *    arrival and keep a heartbeat; the oldest live waiter is served first.
 *    Lock operations never fall back: without the server they fail
 *    (closed).
 *  - scan() pages through the records stream (XRANGE, 256 entries a
 *    page); tail() is XREAD BLOCK on it; scan_runs() is one EVALSHA that
 *    reads the stream entries each run's entry list names.
 *
 * The handle is not thread-safe and belongs to the process that opened it.
 *
 * This file opens and closes the store; rs.h lists the others.
 */
#include "redis/store_redis.h"

#include "redis/rs.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- open and close ------------------------------------------------------ */

static void rs_free(struct redis_store *r)
{
	size_t i;
	cdx_rs_drop(r);
	for (i = 0; i < r->n_pend; i++)
		cdx_rs_rec_free(&r->pend[i]);
	free(r->pend);
	free(r->fl);
	for (i = 0; i < r->n_held; i++)
		free(r->held[i].name);
	free(r->held);
	cdx_buf_free(&r->cmd);
	cdx_buf_free(&r->scratch);
	cdx_store_close(r->spill);
	free(r->host);
	free(r->user);
	free(r->pass);
	free(r->prefix);
	free(r->local);
	free(r->base.url);
	free(r->base.log_dir);
	free(r);
}

/* rs_settle: the last flush of a writer: a few last attempts to send what
 * is held, then spill it to the local file store; -1 with ERR set when
 * records could be neither sent nor spilled (they are lost) */
static int rs_settle(struct cdx_store *s, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	struct cdx_error e = {0};
	int64_t until = cdx_now_ns() + CLOSE_WAIT_MS * 1000000LL;
	if (r->log_pending)
		cdx_rs_log_settle(r, &e); /* deferred log pieces: best effort */
	if (!r->spill && r->n_pend) {
		/* a few last attempts, then spill: never drop a record */
		while (cdx_rs_flush_held(r, true, &e) < 0 && r->n_pend && !r->c && cdx_now_ns() < until)
			cdx_rs_sleep_ms(200);
		if (r->n_pend && cdx_rs_spill(r, e.msg, &e) < 0)
			return cdx_error_set(err, CDX_ESTATE, "%zu records could not be spilled: %s", r->n_pend,
					     e.msg);
	}
	if (r->spill && r->spill->ops->flush(r->spill, &e) < 0)
		return cdx_error_set(err, CDX_ESTATE, "cannot write spilled records: %s", e.msg);
	return 0;
}

static void rs_close(struct cdx_store *s)
{
	struct cdx_error err = {0};
	if (rs_settle(s, &err) < 0)
		fprintf(stderr, "cdx: error: %s\n", err.msg);
	rs_free((struct redis_store *)s);
}

static const struct cdx_store_ops redis_ops = {
    .append = cdx_rs_append,
    .flush = cdx_rs_flush,
    .scan = cdx_rs_scan,
    .pending = cdx_rs_pending,
    .close = rs_close,
    .settle = rs_settle,
    .lock = cdx_rs_lock,
    .renew = cdx_rs_renew,
    .unlock = cdx_rs_unlock,
    .holder = cdx_rs_holder,
    .append_fenced = cdx_rs_append_fenced,
    .tail = cdx_rs_tail,
    .scan_runs = cdx_rs_scan_runs,
    .log_write = cdx_rs_log_write,
    .log_read = cdx_rs_log_read,
    .log_last = cdx_rs_log_last,
};

bool cdx_store_is_redis(const struct cdx_store *s)
{
	return s && s->ops == &redis_ops;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* %-decode N bytes at S; NULL when an escape is malformed or decodes NUL */
static char *pct_decode(const char *s, size_t n)
{
	char *out = cdx_xmalloc(n + 1), *o = out;
	size_t i;
	for (i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
		lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

/* the value of query parameter NAME in Q (a&b=c form), %-decoded */
static int query_param(const char *q, const char *name, char **out)
{
	size_t nl = strlen(name);
	*out = NULL;
	while (q && *q) {
		const char *end = strchr(q, '&');
		size_t len = end ? (size_t)(end - q) : strlen(q);
		if (len > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
			*out = pct_decode(q + nl + 1, len - nl - 1);
			return *out ? 0 : -1;
		}
		q = end ? end + 1 : NULL;
	}
	return 0;
}

/* parse URL into R: host, port, user, pass, db, prefix, local */
static int parse_url(struct redis_store *r, const char *url, struct cdx_error *err)
{
	const char *p = url + 8, *at, *hostend, *end, *q;
	char *rest = NULL, *local = NULL;
	size_t i;
	q = strchr(p, '?');
	end = q ? q : p + strlen(p);
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (!colon) {
			r->pass = pct_decode(p, (size_t)(at - p)); /* redis://password@host */
		} else {
			if (colon > p)
				r->user = pct_decode(p, (size_t)(colon - p));
			r->pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
			if (colon > p && !r->user)
				goto bad;
		}
		if (!r->pass)
			goto bad;
		p = at + 1;
	}
	if (*p == '[') {
		hostend = memchr(p, ']', (size_t)(end - p));
		if (!hostend)
			goto bad;
		r->host = cdx_xstrndup(p + 1, (size_t)(hostend - p - 1));
		hostend++;
	} else {
		hostend = p;
		while (hostend < end && *hostend != ':' && *hostend != '/')
			hostend++;
		r->host = cdx_xstrndup(p, (size_t)(hostend - p));
	}
	if (!r->host[0]) {
		free(r->host);
		r->host = cdx_xstrdup("127.0.0.1");
	}
	r->port = 6379;
	if (hostend < end && *hostend == ':') {
		char *e;
		long v = strtol(hostend + 1, &e, 10);
		if (e == hostend + 1 || v < 1 || v > 65535 || (e < end && *e != '/'))
			goto bad;
		r->port = (int)v;
		hostend = e;
	}
	if (hostend < end && *hostend == '/') {
		if (hostend + 1 < end) {
			char *e;
			long v = strtol(hostend + 1, &e, 10);
			if (e == hostend + 1 || v < 0 || v > INT_MAX || e != end)
				goto bad;
			r->db = (int)v;
		}
	} else if (hostend != end) {
		goto bad;
	}
	for (i = 0; r->host[i]; i++)
		if (isspace((unsigned char)r->host[i]))
			goto bad;
	if (q) {
		const char *k = q + 1;
		while (*k) {
			const char *e = strchr(k, '&');
			size_t len = e ? (size_t)(e - k) : strlen(k);
			if (!(len > 7 && strncmp(k, "prefix=", 7) == 0) &&
			    !(len > 6 && strncmp(k, "local=", 6) == 0)) {
				cdx_error_set(err, CDX_EUSAGE,
					      "unknown parameter '%.*s' in state url (use prefix= or local=)",
					      (int)len, k);
				return -1;
			}
			k = e ? e + 1 : k + len;
		}
		if (query_param(q + 1, "prefix", &rest) < 0 || query_param(q + 1, "local", &local) < 0)
			goto bad;
	}
	if (rest)
		r->prefix = rest;
	else if (getenv("CDX_REDIS_PREFIX"))
		r->prefix = cdx_xstrdup(getenv("CDX_REDIS_PREFIX"));
	else
		r->prefix = cdx_xstrdup("cdx:");
	if (!local && getenv("CDX_REDIS_LOCAL") && *getenv("CDX_REDIS_LOCAL"))
		local = cdx_xstrdup(getenv("CDX_REDIS_LOCAL"));
	if (!local)
		local = cdx_xstrdup(".cdx");
	if (local[0] != '/') {
		char cwd[4096];
		if (getcwd(cwd, sizeof(cwd))) {
			char *abs = cdx_xasprintf("%s/%s", cwd, local);
			free(local);
			local = abs;
		}
	}
	r->local = local;
	return 0;
bad:
	free(rest);
	free(local);
	return cdx_error_set(
	    err, CDX_EUSAGE,
	    "malformed state url (want redis://[user:password@]host[:port][/db][?prefix=P])");
}

/* URL with the password replaced by *** (for messages and records) */
static char *masked_url(const char *url)
{
	const char *p = url + 8, *q = strchr(p, '?'), *end = q ? q : p + strlen(p);
	const char *at = memchr(p, '@', (size_t)(end - p)), *colon;
	if (!at)
		return cdx_xstrdup(url);
	colon = memchr(p, ':', (size_t)(at - p));
	if (!colon)
		return cdx_xasprintf("redis://***%s", at);
	return cdx_xasprintf("redis://%.*s:***%s", (int)(colon - p), p, at);
}

int cdx_store_redis_open(const char *url, struct cdx_store **out, struct cdx_error *err)
{
	struct redis_store *r;
	const char *hm;
	*out = NULL;
	if (strncmp(url, "redis://", 8) != 0)
		return cdx_error_set(err, CDX_EUSAGE, "'%s' is not a redis:// url", url);
	r = cdx_xcalloc(1, sizeof(*r));
	if (parse_url(r, url, err) < 0)
		goto fail;
	if (strchr(r->host, ':'))
		snprintf(r->addr, sizeof(r->addr), "[%s]:%d", r->host, r->port);
	else
		snprintf(r->addr, sizeof(r->addr), "%s:%d", r->host, r->port);
	r->backoff_ms = BACKOFF_MIN_MS;
	r->hold_max = HOLD_MAX_DEFAULT;
	hm = getenv("CDX_REDIS_HOLD_MAX");
	if (hm && atol(hm) > 0)
		r->hold_max = (size_t)atol(hm);
	r->base.ops = &redis_ops;
	r->base.url = masked_url(url);
	r->base.log_dir = cdx_xasprintf("%s/logs", r->local);
	if (cdx_rs_connect(r, err) < 0)
		goto fail;
	*out = &r->base;
	return 0;
fail:
	rs_free(r);
	return -1;
}
