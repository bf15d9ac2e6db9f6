/* rs_artifacts.c — artifacts in Redis (state/artifacts.h; keys in
 * redis/SCHEMA.md): an archive is uploaded in chunks of
 * CDX_ARTIFACTS_CHUNK bytes to P artupload:RANDOM (RPUSH, one hour TTL, so
 * an upload whose writer died goes away by itself), and one script renames
 * it to P artifact:RUN:JOB and sets the job's meta in the hash
 * P artifacts:RUN, so readers see the old artifact or the new one whole.
 * The artifact expires by its key's TTL; the meta hash lives as long as
 * its longest-lived artifact (readers skip metas that expired). */
#include "redis/rs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/artifacts.h"

#define UPLOAD_TTL_MS "3600000"
#define READ_PAGE 8 /* chunks per LRANGE */

static const char commit_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('upload lost (expired)') end\n"
    "redis.call('RENAME', KEYS[1], KEYS[2])\n"
    "local at = tonumber(ARGV[3])\n"
    "if at > 0 then redis.call('PEXPIREAT', KEYS[2], at) else redis.call('PERSIST', KEYS[2]) end\n"
    "local had = redis.call('EXISTS', KEYS[3])\n"
    "local ttl = redis.call('PTTL', KEYS[3])\n"
    "redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])\n"
    "if at == 0 then redis.call('PERSIST', KEYS[3])\n"
    "elseif had == 0 then redis.call('PEXPIREAT', KEYS[3], at)\n"
    "elseif ttl >= 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl < at then\n"
    "    redis.call('PEXPIREAT', KEYS[3], at) end\n"
    "end\n"
    "return 1\n";

struct cdx_rs_upload {
	struct redis_store *r;
	char *key;          /* P artupload:HEX */
	struct cdx_buf buf; /* the chunk being filled */
	bool pushed;        /* the key exists (something was pushed) */
	bool committed;
};

static int cmdv(struct redis_store *r, int argc, const char **argv, const size_t *lens, redisReply **rep,
		struct cdx_error *err)
{
	size_t l[16];
	for (int i = 0; i < argc; i++)
		l[i] = lens && lens[i] != (size_t)-1 ? lens[i] : strlen(argv[i]);
	if (cdx_rs_ensure(r, true, err) < 0)
		return -1;
	return cdx_rs_cmd(r, argc, argv, l, rep, err);
}

struct cdx_rs_upload *cdx_rs_upload_begin(struct cdx_store *s, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	struct cdx_rs_upload *u;
	char hex[33];
	if (cdx_rs_ensure(r, true, err) < 0)
		return NULL;
	u = cdx_xcalloc(1, sizeof(*u));
	u->r = r;
	cdx_rs_random_hex(hex, 16);
	u->key = cdx_xasprintf("%sartupload:%s", r->prefix, hex);
	return u;
}

static int push(struct cdx_rs_upload *u, struct cdx_error *err)
{
	const char *av[3] = {"RPUSH", u->key, u->buf.data};
	size_t al[3] = {5, strlen(u->key), u->buf.len};
	redisReply *rep;
	if (cmdv(u->r, 3, av, al, &rep, err) < 0)
		return -1;
	freeReplyObject(rep);
	if (!u->pushed) {
		const char *ev[3] = {"PEXPIRE", u->key, UPLOAD_TTL_MS};
		u->pushed = true;
		if (cmdv(u->r, 3, ev, NULL, &rep, err) < 0)
			return -1;
		freeReplyObject(rep);
	}
	cdx_buf_reset(&u->buf);
	return 0;
}

int cdx_rs_upload_write(struct cdx_rs_upload *u, const void *p, size_t n, struct cdx_error *err)
{
	const char *c = p;
	while (n > 0) {
		size_t room = CDX_ARTIFACTS_CHUNK - u->buf.len, k = n < room ? n : room;
		cdx_buf_add(&u->buf, c, k);
		c += k;
		n -= k;
		if (u->buf.len == CDX_ARTIFACTS_CHUNK && push(u, err) < 0)
			return -1;
	}
	return 0;
}

int cdx_rs_upload_commit(struct cdx_rs_upload *u, const char *run, const char *job, const char *meta,
			 long long expire_at_ms, struct cdx_error *err)
{
	struct redis_store *r = u->r;
	char *key = cdx_xasprintf("%sartifact:%s:%s", r->prefix, run, job);
	char *hash = cdx_xasprintf("%sartifacts:%s", r->prefix, run);
	char at[32];
	const char *av[9] = {"EVAL", commit_lua, "3", u->key, key, hash, job, meta, at};
	redisReply *rep;
	int rc = -1;
	snprintf(at, sizeof(at), "%lld", expire_at_ms > 0 ? expire_at_ms : 0);
	if ((u->buf.len || !u->pushed) && push(u, err) < 0)
		goto out;
	if (cmdv(r, 9, av, NULL, &rep, err) < 0)
		goto out;
	freeReplyObject(rep);
	u->committed = true;
	rc = 0;
out:
	free(key);
	free(hash);
	return rc;
}

void cdx_rs_upload_free(struct cdx_rs_upload *u)
{
	if (!u)
		return;
	if (u->pushed && !u->committed && u->r->c) {
		const char *av[2] = {"DEL", u->key};
		redisReply *rep;
		struct cdx_error e = {0};
		if (cmdv(u->r, 2, av, NULL, &rep, &e) == 0)
			freeReplyObject(rep);
	}
	free(u->key);
	cdx_buf_free(&u->buf);
	free(u);
}

int cdx_rs_artifact_meta(struct cdx_store *s, const char *run, const char *job, char **meta,
			 struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *hash = cdx_xasprintf("%sartifacts:%s", r->prefix, run);
	const char *av[3] = {"HGET", hash, job};
	redisReply *rep;
	int rc = -1;
	*meta = NULL;
	if (cmdv(r, 3, av, NULL, &rep, err) == 0) {
		rc = 0;
		if (rep->type == REDIS_REPLY_STRING) {
			*meta = cdx_xstrndup(rep->str, rep->len);
			rc = 1;
		}
		freeReplyObject(rep);
	}
	free(hash);
	return rc;
}

int cdx_rs_artifact_read(struct cdx_store *s, const char *run, const char *job, size_t max,
			 struct cdx_buf *out, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *key = cdx_xasprintf("%sartifact:%s:%s", r->prefix, run, job);
	long long start = 0;
	int rc = -1;
	for (;;) {
		char a[32], b[32];
		const char *av[4] = {"LRANGE", key, a, b};
		redisReply *rep;
		snprintf(a, sizeof(a), "%lld", start);
		snprintf(b, sizeof(b), "%lld", start + READ_PAGE - 1);
		if (cmdv(r, 4, av, NULL, &rep, err) < 0)
			goto out;
		if (rep->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(rep);
			cdx_error_set(err, CDX_ESTATE, "redis at %s: unexpected answer to LRANGE", r->addr);
			goto out;
		}
		for (size_t i = 0; i < rep->elements; i++) {
			redisReply *e = rep->element[i];
			if (e->type != REDIS_REPLY_STRING || out->len + e->len > max) {
				freeReplyObject(rep);
				cdx_error_set(err, CDX_EFAILED,
					      "the artifacts of %s in run %s are larger than %zu bytes", job,
					      run, max);
				goto out;
			}
			cdx_buf_add(out, e->str, e->len);
		}
		if (rep->elements < READ_PAGE) {
			freeReplyObject(rep);
			break;
		}
		freeReplyObject(rep);
		start += READ_PAGE;
	}
	rc = 0;
out:
	free(key);
	return rc;
}

int cdx_rs_artifact_metas(struct cdx_store *s, const char *run, int (*fn)(void *ctx, const char *meta),
			  void *ctx, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *hash = cdx_xasprintf("%sartifacts:%s", r->prefix, run);
	const char *av[2] = {"HVALS", hash};
	redisReply *rep;
	int rc = -1;
	if (cmdv(r, 2, av, NULL, &rep, err) == 0) {
		for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
			if (rep->element[i]->type == REDIS_REPLY_STRING && fn(ctx, rep->element[i]->str) != 0)
				break;
		freeReplyObject(rep);
		rc = 0;
	}
	free(hash);
	return rc;
}
