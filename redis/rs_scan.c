/* rs_scan.c — reading the Redis store (see rs.h and the design in
 * store_redis.c): scan() pages through the records stream, tail() waits
 * on it with XREAD BLOCK, scan_runs() is one call of scan_runs.lua. */
#include "redis/rs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* call FN for the record, or each record of the array, that the JSON text
 * S of LEN bytes holds; 1 when FN stopped */
static int rs_records(const char *s, size_t len, cdx_store_fn fn, void *ctx)
{
	cJSON *o = cJSON_ParseWithLength(s, len), *one;
	int stop = 0;
	if (cJSON_IsArray(o)) {
		cJSON_ArrayForEach(one, o)
		{
			if (cJSON_IsObject(one) && fn(ctx, one)) {
				stop = 1;
				break;
			}
		}
	} else if (cJSON_IsObject(o)) {
		stop = fn(ctx, o);
	}
	cJSON_Delete(o);
	return stop;
}

/* call FN for each record of stream entry E: field "b" holds a batch (a
 * JSON array of records), field "r" one record; 1 when FN stopped */
static int rs_entry(const redisReply *e, cdx_store_fn fn, void *ctx)
{
	const redisReply *f;
	size_t k;
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY)
		return 0;
	f = e->element[1];
	for (k = 0; k + 1 < f->elements; k += 2) {
		const redisReply *v = f->element[k + 1];
		if (v->type == REDIS_REPLY_STRING && rs_records(v->str, v->len, fn, ctx))
			return 1;
	}
	return 0;
}

int cdx_rs_scan(struct cdx_store *s, cdx_store_fn fn, void *ctx, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *key = cdx_xjoin3(r->prefix, "", "records");
	char start[80] = "-", count[16];
	const char *argv[6] = {"XRANGE", key, start, "+", "COUNT", count};
	size_t lens[6], i;
	int rc = 0;
	snprintf(count, sizeof(count), "%d", PAGE);
	if (cdx_rs_ensure(r, true, err) < 0) {
		free(key);
		return -1;
	}
	for (;;) {
		redisReply *rep;
		for (i = 0; i < 6; i++)
			lens[i] = strlen(argv[i]);
		if (cdx_rs_cmd(r, 6, argv, lens, &rep, err) < 0) {
			rc = -1;
			break;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
			freeReplyObject(rep);
			break;
		}
		for (i = 0; i < rep->elements; i++) {
			if (rs_entry(rep->element[i], fn, ctx))
				break;
		}
		if (i < rep->elements || rep->elements < PAGE) {
			freeReplyObject(rep);
			break;
		}
		{
			const redisReply *last = rep->element[rep->elements - 1];
			if (last->type != REDIS_REPLY_ARRAY || last->elements < 1 ||
			    last->element[0]->type != REDIS_REPLY_STRING) {
				freeReplyObject(rep);
				break;
			}
			snprintf(start, sizeof(start), "(%s", last->element[0]->str);
		}
		freeReplyObject(rep);
	}
	free(key);
	return rc;
}

int cdx_rs_tail(struct cdx_store *s, char cursor[64], long long wait_ms, cdx_store_fn fn, void *ctx,
		struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *key = cdx_xjoin3(r->prefix, "", "records");
	char block[24], count[16];
	int rc = 0, round;
	snprintf(count, sizeof(count), "%d", PAGE);
	if (cdx_rs_ensure(r, true, err) < 0) {
		free(key);
		return -1;
	}
	if (!cursor[0])
		snprintf(cursor, 64, "0-0");
	if (strcmp(cursor, "$") == 0) {
		/* "now" as a concrete id, so nothing made durable later is missed */
		const char *argv[5] = {"XREVRANGE", key, "+", "-", "COUNT"};
		const char *av[6] = {argv[0], argv[1], argv[2], argv[3], argv[4], "1"};
		size_t lens[6] = {9, strlen(key), 1, 1, 5, 1};
		redisReply *rep;
		if (cdx_rs_cmd(r, 6, av, lens, &rep, err) < 0) {
			free(key);
			return -1;
		}
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
		    rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements >= 1 &&
		    rep->element[0]->element[0]->type == REDIS_REPLY_STRING)
			snprintf(cursor, 64, "%s", rep->element[0]->element[0]->str);
		else
			snprintf(cursor, 64, "0-0");
		freeReplyObject(rep);
	}
	for (round = 0;; round++) {
		const char *argv[8];
		size_t lens[8], i;
		int argc = 0;
		redisReply *rep;
		bool blocking = round == 0 && wait_ms != 0;
		argv[argc++] = "XREAD";
		argv[argc++] = "COUNT";
		argv[argc++] = count;
		if (blocking) {
			snprintf(block, sizeof(block), "%lld", wait_ms < 0 ? 0LL : wait_ms);
			argv[argc++] = "BLOCK";
			argv[argc++] = block;
			cdx_rs_set_timeout(r, wait_ms < 0 ? 0 : wait_ms + COMMAND_TIMEOUT_MS);
		}
		argv[argc++] = "STREAMS";
		argv[argc++] = key;
		argv[argc++] = cursor;
		for (i = 0; i < (size_t)argc; i++)
			lens[i] = strlen(argv[i]);
		rc = cdx_rs_cmd(r, argc, argv, lens, &rep, err);
		if (blocking)
			cdx_rs_set_timeout(r, COMMAND_TIMEOUT_MS);
		if (rc < 0)
			break;
		/* [[key, [entries]]] or nil */
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || rep->element[0]->elements < 2 ||
		    rep->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(rep);
			break;
		}
		{
			const redisReply *es = rep->element[0]->element[1];
			bool stopped = false;
			for (i = 0; i < es->elements && !stopped; i++) {
				const redisReply *e = es->element[i];
				if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 &&
				    e->element[0]->type == REDIS_REPLY_STRING)
					snprintf(cursor, 64, "%s", e->element[0]->str);
				stopped = rs_entry(e, fn, ctx) != 0;
			}
			if (stopped || es->elements < PAGE) {
				freeReplyObject(rep);
				break;
			}
		}
		freeReplyObject(rep);
	}
	free(key);
	return rc;
}

int cdx_rs_scan_runs(struct cdx_store *s, const char *pipeline, size_t n, cdx_store_fn fn, void *ctx,
		     struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char num[24];
	const char *argv[2] = {pipeline ? pipeline : "", num}; /* "": every pipeline's */
	size_t lens[2], i;
	redisReply *rep;
	snprintf(num, sizeof(num), "%zu", n);
	lens[0] = strlen(argv[0]);
	lens[1] = strlen(num);
	if (cdx_rs_ensure(r, true, err) < 0 || cdx_rs_eval(r, SCRIPT_SCAN_RUNS, 2, argv, lens, &rep, err) < 0)
		return -1;
	/* each element: a records stream segment (an array of one run's
	 * records), or one record of a run written before segments */
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		if (e->type == REDIS_REPLY_STRING && rs_records(e->str, e->len, fn, ctx))
			break;
	}
	freeReplyObject(rep);
	return 0;
}
