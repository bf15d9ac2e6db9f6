/* rs_call.c — plain commands, stream reads and the pool's scripts on a
 * Redis store's connection (redis_call.h) */
#include "redis/redis_call.h"

#include "redis/rs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cdx_redis_prefix(struct cdx_store *s)
{
	if (!s || s->ops->log_read != cdx_rs_log_read)
		return NULL;
	return ((struct redis_store *)s)->prefix;
}

static cJSON *to_json(const redisReply *r)
{
	size_t i;
	cJSON *a;
	switch (r->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		return cJSON_CreateString(r->str ? r->str : "");
	case REDIS_REPLY_INTEGER:
		return cJSON_CreateNumber((double)r->integer);
	case REDIS_REPLY_ARRAY:
		a = cJSON_CreateArray();
		for (i = 0; i < r->elements; i++)
			cJSON_AddItemToArray(a, to_json(r->element[i]));
		return a;
	default:
		return cJSON_CreateNull();
	}
}

int cdx_redis_call(struct cdx_store *s, int argc, const char *const *argv, cJSON **out, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	size_t *lens = cdx_xcalloc((size_t)argc + 1, sizeof(size_t));
	redisReply *rep;
	int i, rc = -1;
	if (out)
		*out = NULL;
	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (cdx_rs_ensure(r, true, err) == 0 &&
	    cdx_rs_cmd(r, argc, (const char **)argv, lens, &rep, err) == 0) {
		if (out)
			*out = to_json(rep);
		freeReplyObject(rep);
		rc = 0;
	}
	free(lens);
	return rc;
}

int cdx_redis_script(struct cdx_store *s, enum cdx_pool_script i, int argc, const char *const *argv,
		     long long *out, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	size_t *lens = cdx_xcalloc((size_t)argc + 1, sizeof(size_t));
	redisReply *rep;
	int k, rc = -1;
	for (k = 0; k < argc; k++)
		lens[k] = strlen(argv[k]);
	if (cdx_rs_ensure(r, true, err) == 0 &&
	    cdx_rs_eval(r, SCRIPT_POOL_TAKE + (int)i, argc, (const char **)argv, lens, &rep, err) == 0) {
		*out = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
		freeReplyObject(rep);
		rc = 0;
	}
	free(lens);
	return rc;
}

long cdx_redis_xread(struct cdx_store *s, const char *group, const char *consumer, size_t count, size_t n,
		     const char *const *keys, char (*ids)[64], long block_ms, cdx_redis_entry_fn fn,
		     void *ctx, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	size_t argc = 0, i, k, cap = 2 * n + 10;
	const char **argv = cdx_xcalloc(cap, sizeof(char *));
	size_t *lens = cdx_xcalloc(cap, sizeof(size_t));
	char blk[32], cnt[32];
	redisReply *rep;
	long got = 0;
	long long saved = r->timeout_ms;
	if (group) {
		argv[argc++] = "XREADGROUP";
		argv[argc++] = "GROUP";
		argv[argc++] = group;
		argv[argc++] = consumer;
	} else {
		argv[argc++] = "XREAD";
	}
	if (count) {
		snprintf(cnt, sizeof(cnt), "%zu", count);
		argv[argc++] = "COUNT";
		argv[argc++] = cnt;
	}
	if (block_ms >= 0) {
		snprintf(blk, sizeof(blk), "%ld", block_ms);
		argv[argc++] = "BLOCK";
		argv[argc++] = blk;
	}
	argv[argc++] = "STREAMS";
	for (i = 0; i < n; i++)
		argv[argc++] = keys[i];
	for (i = 0; i < n; i++)
		argv[argc++] = ids[i];
	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (cdx_rs_ensure(r, true, err) < 0) {
		got = -1;
		goto out;
	}
	if (block_ms >= 0 && block_ms + 5000 > saved)
		cdx_rs_set_timeout(r, block_ms + 5000);
	if (cdx_rs_cmd(r, (int)argc, argv, lens, &rep, err) < 0) {
		got = -1;
		goto out;
	}
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		const redisReply *st = rep->element[i], *ents;
		size_t which = n;
		if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 || !st->element[0]->str)
			continue;
		for (k = 0; k < n; k++)
			if (strcmp(keys[k], st->element[0]->str) == 0)
				which = k;
		if (which == n)
			continue;
		ents = st->element[1];
		for (k = 0; ents->type == REDIS_REPLY_ARRAY && k < ents->elements; k++) {
			const redisReply *e = ents->element[k], *kv;
			const char *names[32], *vals[32];
			size_t vl[32], nf = 0, f;
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !e->element[0]->str)
				continue;
			if (!group || strcmp(ids[which], ">") != 0)
				snprintf(ids[which], 64, "%s", e->element[0]->str);
			kv = e->element[1];
			for (f = 0; kv->type == REDIS_REPLY_ARRAY && f + 1 < kv->elements && nf < 32;
			     f += 2) {
				names[nf] = kv->element[f]->str ? kv->element[f]->str : "";
				vals[nf] = kv->element[f + 1]->str ? kv->element[f + 1]->str : "";
				vl[nf] = kv->element[f + 1]->str ? kv->element[f + 1]->len : 0;
				nf++;
			}
			got++;
			fn(ctx, which, e->element[0]->str, nf, names, vals, vl);
		}
	}
	freeReplyObject(rep);
out:
	if (r->timeout_ms != saved)
		cdx_rs_set_timeout(r, saved);
	free(argv);
	free(lens);
	return got;
}
