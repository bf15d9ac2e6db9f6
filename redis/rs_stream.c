/* rs_stream.c — attempt logs in Redis streams (the log_write, log_read and
 * log_last store ops, state/store.h): one stream per attempt,
 * `P log:RUN:STAGE/JOB:ATTEMPT`, entries `d` (a piece of masked output)
 * and a last entry `end` (with `truncated` when the writer dropped bytes
 * past its cap); `P logs:RUN` maps STAGE/JOB to its last attempt.  Every
 * command is an argument vector (names are byte-exact). */
#include "redis/rs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOW_BLOCK_MS "1000"

/* the key of a run's last-attempt hash: P logs:RUN (RUN is KEY up to its first ':') */
static char *logs_key(const struct redis_store *r, const char *key)
{
	const char *c = strchr(key, ':');
	return cdx_xasprintf("%slogs:%.*s", r->prefix, (int)(c ? c - key : (long)strlen(key)), key);
}

int cdx_rs_log_write(struct cdx_store *s, const char *key, const char *data, size_t len, int flags,
		     struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *k = cdx_xasprintf("%slog:%s", r->prefix, key), *lk = NULL, *job = NULL;
	const char *a = strchr(key, ':'), *b = strrchr(key, ':');
	int rc = -1, sent = 0, i;
	if (cdx_rs_ensure(r, false, err) < 0)
		goto out;
	/* replies of the store's pipelined batches come first */
	if (r->fl_written && cdx_rs_drain(r, err) < 0)
		goto out;
	if (!r->c) {
		cdx_error_set(err, CDX_ESTATE, "not connected to redis at %s", r->addr);
		goto out;
	}
	/* the commands go together, one round trip */
	if (len) {
		const char *argv[5] = {"XADD", k, "*", "d", data};
		size_t lens[5] = {4, strlen(k), 1, 1, len};
		redisAppendCommandArgv(r->c, 5, argv, lens);
		sent++;
	}
	if (flags & CDX_LOG_FIRST) {
		/* the job's attempt: between the first and the last ':' */
		lk = logs_key(r, key);
		job = a && b > a ? cdx_xstrndup(a + 1, (size_t)(b - a - 1)) : cdx_xstrdup("");
		{
			const char *argv[4] = {"HSET", lk, job, b ? b + 1 : "0"};
			size_t lens[4] = {4, strlen(lk), strlen(job), strlen(argv[3])};
			redisAppendCommandArgv(r->c, 4, argv, lens);
			sent++;
		}
	}
	if (flags & CDX_LOG_END) {
		const char *argv[7] = {"XADD", k, "*", "end", "1", "truncated", "1"};
		size_t lens[7] = {4, strlen(k), 1, 3, 1, 9, 1};
		redisAppendCommandArgv(r->c, (flags & CDX_LOG_TRUNC) ? 7 : 5, argv, lens);
		sent++;
	}
	r->log_pending += (size_t)sent;
	/* deferred: they go with the store's next command (a flush of the
	 * records follows every attempt's end within 50 ms), one round trip
	 * for many; at most 256 wait */
	rc = (flags & CDX_LOG_DEFER) && r->log_pending < 256 ? 0 : cdx_rs_log_settle(r, err);
	(void)i;
out:
	free(k);
	free(lk);
	free(job);
	return rc;
}

int cdx_rs_log_settle(struct redis_store *r, struct cdx_error *err)
{
	int done = 0, rc = 0;
	size_t n = r->log_pending;
	if (!n || !r->c)
		return 0;
	r->log_pending = 0;
	while (!done)
		if (redisBufferWrite(r->c, &done) != REDIS_OK)
			break;
	while (done && n) {
		redisReply *rep = NULL;
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || !rep) {
			done = 0;
			break;
		}
		if (rep->type == REDIS_REPLY_ERROR && rc == 0)
			rc = cdx_error_set(err, CDX_ESTATE, "redis at %s: %s", r->addr, rep->str);
		freeReplyObject(rep);
		n--;
	}
	if (!done) {
		char why[128];
		cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr,
			      cdx_rs_errstr(r, why, sizeof(why)));
		cdx_rs_drop(r);
		return -1;
	}
	return rc;
}

/* the entries of an XRANGE/XREAD reply's entry array E: FN for data, the
 * end marker noted; the id of the last one in LAST */
static void entries(const redisReply *e, void (*fn)(void *, const char *, size_t), void *ctx, bool *ended,
		    bool *truncated, char last[64])
{
	size_t i, f;
	for (i = 0; e && e->type == REDIS_REPLY_ARRAY && i < e->elements; i++) {
		const redisReply *ent = e->element[i], *kv;
		if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2)
			continue;
		snprintf(last, 64, "%s", ent->element[0]->str ? ent->element[0]->str : "0");
		kv = ent->element[1];
		for (f = 0; kv->type == REDIS_REPLY_ARRAY && f + 1 < kv->elements; f += 2) {
			const redisReply *n = kv->element[f], *v = kv->element[f + 1];
			if (!n->str || !v->str)
				continue;
			if (strcmp(n->str, "d") == 0)
				fn(ctx, v->str, v->len);
			else if (strcmp(n->str, "end") == 0)
				*ended = true;
			else if (strcmp(n->str, "truncated") == 0)
				*truncated = true;
		}
	}
}

int cdx_rs_log_read(struct cdx_store *s, const char *key, bool follow,
		    void (*fn)(void *ctx, const char *data, size_t len), void *ctx, bool *ended,
		    bool *truncated, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *k = cdx_xasprintf("%slog:%s", r->prefix, key), last[64] = "-", start[80];
	redisReply *rep;
	int rc = -1, found = 0;
	*ended = *truncated = false;
	if (cdx_rs_ensure(r, true, err) < 0)
		goto out;
	for (;;) { /* what is there, a page at a time */
		const char *argv[6] = {"XRANGE", k, start, "+", "COUNT", "256"};
		size_t lens[6];
		size_t got;
		int i;
		if (strcmp(last, "-") == 0)
			snprintf(start, sizeof(start), "-");
		else
			snprintf(start, sizeof(start), "(%s", last);
		for (i = 0; i < 6; i++)
			lens[i] = strlen(argv[i]);
		if (cdx_rs_cmd(r, 6, argv, lens, &rep, err) < 0)
			goto out;
		got = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
		if (got)
			found = 1;
		entries(rep, fn, ctx, ended, truncated, last);
		freeReplyObject(rep);
		if (got < 256)
			break;
	}
	while (follow && !*ended) {
		const char *argv[6] = {"XREAD",   "BLOCK", FOLLOW_BLOCK_MS,
				       "STREAMS", k,       strcmp(last, "-") == 0 ? "0-0" : last};
		size_t lens[6];
		int i;
		for (i = 0; i < 6; i++)
			lens[i] = strlen(argv[i]);
		if (cdx_rs_cmd(r, 6, argv, lens, &rep, err) < 0)
			goto out;
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->elements == 2) {
			found = 1;
			entries(rep->element[0]->element[1], fn, ctx, ended, truncated, last);
		}
		freeReplyObject(rep);
	}
	rc = found;
out:
	free(k);
	return rc;
}

int cdx_rs_log_last(struct cdx_store *s, const char *run, const char *job, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *lk = cdx_xasprintf("%slogs:%s", r->prefix, run);
	const char *argv[3] = {"HGET", lk, job};
	size_t lens[3] = {4, strlen(lk), strlen(job)};
	redisReply *rep;
	int n = -1;
	if (cdx_rs_ensure(r, true, err) == 0 && cdx_rs_cmd(r, 3, argv, lens, &rep, err) == 0) {
		n = rep->type == REDIS_REPLY_STRING ? atoi(rep->str) : 0;
		freeReplyObject(rep);
	}
	free(lk);
	return n;
}
