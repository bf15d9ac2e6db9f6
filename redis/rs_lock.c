/* rs_lock.c — locks of the Redis store (see rs.h and the design in
 * store_redis.c): lock.lua takes a lock and its fencing token, renew.lua
 * extends or releases it, waiters queue by arrival with a heartbeat, and
 * append_fenced writes only while the token holds. */
#include "redis/rs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- locks --------------------------------------------------------------- */

static struct rs_held *held_find(struct redis_store *r, const char *name, unsigned long long token)
{
	size_t i;
	for (i = 0; i < r->n_held; i++)
		if (r->held[i].token == token && strcmp(r->held[i].name, name) == 0)
			return &r->held[i];
	return NULL;
}

static void held_forget(struct redis_store *r, struct rs_held *h)
{
	if (!h)
		return;
	free(h->name);
	*h = r->held[--r->n_held];
}

/* renew.lua: TTL_MS > 0 extends, 0 releases; 1 held, 0 not, -1 error */
static int rs_renew_(struct redis_store *r, const char *name, unsigned long long token, long long ttl_ms,
		     struct cdx_error *err)
{
	struct rs_held *h = held_find(r, name, token);
	char tok[24], ttl[24];
	const char *argv[4] = {name, tok, h ? h->secret : "", ttl};
	size_t lens[4], i;
	redisReply *rep;
	int rc;
	snprintf(tok, sizeof(tok), "%llu", token);
	snprintf(ttl, sizeof(ttl), "%lld", ttl_ms);
	for (i = 0; i < 4; i++)
		lens[i] = strlen(argv[i]);
	if (cdx_rs_ensure(r, true, err) < 0 || cdx_rs_eval(r, SCRIPT_RENEW, 4, argv, lens, &rep, err) < 0)
		return -1;
	rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
	freeReplyObject(rep);
	return rc;
}

/* a holder recorded as running on this host whose process is gone */
static bool holder_dead(const cJSON *cur, unsigned long long *token)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(cur, "pid");
	const cJSON *start = cJSON_GetObjectItemCaseSensitive(cur, "pid_start");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(cur, "token");
	const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cur, "host"));
	if (!host || !cJSON_IsNumber(pid) || !cJSON_IsNumber(tok))
		return false;
	*token = (unsigned long long)tok->valuedouble;
	return !cdx_process_owner_alive(host, pid->valueint,
					cJSON_IsNumber(start) ? (long long)start->valuedouble : -1);
}

static void rs_unqueue(struct redis_store *r, const char *name, const char *waiter)
{
	struct cdx_error e2 = {0};
	char *q = cdx_xasprintf("%slockq:%s", r->prefix, name),
	     *hb = cdx_xasprintf("%slockhb:%s", r->prefix, name);
	const char *a1[3] = {"ZREM", q, waiter}, *a2[3] = {"HDEL", hb, waiter};
	size_t l1[3] = {4, strlen(q), strlen(waiter)}, l2[3] = {4, strlen(hb), strlen(waiter)};
	redisReply *rep;
	if (cdx_rs_cmd(r, 3, a1, l1, &rep, &e2) == 0)
		freeReplyObject(rep);
	if (cdx_rs_cmd(r, 3, a2, l2, &rep, &e2) == 0)
		freeReplyObject(rep);
	free(q);
	free(hb);
}

enum cdx_lock_result cdx_rs_lock(struct cdx_store *s, const char *name, const cJSON *holder, long long ttl_ms,
				 long long wait_ms, unsigned long long *token, cJSON **current,
				 struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char secret[33], waiter[33] = "", ttl[24], hb[24], *hj;
	int64_t deadline = wait_ms > 0 ? cdx_now_ns() + wait_ms * 1000000LL : 0;
	long long nap = 5;
	enum cdx_lock_result rc = CDX_LOCK_ERROR;
	*token = 0;
	if (current)
		*current = NULL;
	if (ttl_ms <= 0)
		return cdx_error_set(err, CDX_EUSAGE, "lock %s: ttl must be positive", name);
	cdx_rs_random_hex(secret, 16);
	if (wait_ms != 0)
		cdx_rs_random_hex(waiter, 16);
	snprintf(ttl, sizeof(ttl), "%lld", ttl_ms);
	snprintf(hb, sizeof(hb), "%d", WAITER_HEARTBEAT_MS);
	hj = holder && cJSON_IsObject(holder) ? cJSON_PrintUnformatted(holder) : cdx_xstrdup("{}");
	for (;;) {
		const char *argv[6] = {name, ttl, hj, secret, waiter, hb};
		size_t lens[6], i;
		redisReply *rep;
		cJSON *cur = NULL;
		unsigned long long dead_token;
		for (i = 0; i < 6; i++)
			lens[i] = strlen(argv[i]);
		if (cdx_rs_ensure(r, true, err) < 0 ||
		    cdx_rs_eval(r, SCRIPT_LOCK, 6, argv, lens, &rep, err) < 0)
			break;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_INTEGER) {
			freeReplyObject(rep);
			cdx_error_set(err, CDX_ESTATE, "redis at %s: unexpected answer from the lock script",
				      r->addr);
			break;
		}
		if (rep->element[0]->integer == 1) {
			struct rs_held h;
			*token = (unsigned long long)rep->element[1]->integer;
			freeReplyObject(rep);
			h.name = cdx_xstrdup(name);
			h.token = *token;
			memcpy(h.secret, secret, sizeof(h.secret));
			CDX_PUSH(r->held, r->n_held, r->cap_held, h);
			rc = CDX_LOCK_TAKEN;
			break;
		}
		if (rep->element[1]->type == REDIS_REPLY_STRING)
			cur = cJSON_ParseWithLength(rep->element[1]->str, rep->element[1]->len);
		freeReplyObject(rep);
		if (cur && holder_dead(cur, &dead_token)) {
			/* its owner died on this host: release it for the next taker */
			int gone = rs_renew_(r, name, dead_token, 0, err);
			cJSON_Delete(cur);
			if (gone < 0)
				break;
			continue;
		}
		if (wait_ms == 0 || (wait_ms > 0 && cdx_now_ns() >= deadline)) {
			if (waiter[0])
				rs_unqueue(r, name, waiter);
			if (current)
				*current = cur ? cur : cJSON_CreateObject();
			else
				cJSON_Delete(cur);
			rc = CDX_LOCK_BUSY;
			break;
		}
		cJSON_Delete(cur);
		if (wait_ms > 0) {
			long long left = (deadline - cdx_now_ns()) / 1000000;
			cdx_rs_sleep_ms(nap < left ? nap : left > 0 ? left : 1);
		} else {
			cdx_rs_sleep_ms(nap);
		}
		nap = nap * 2 > 50 ? 50 : nap * 2;
	}
	free(hj);
	return rc;
}

enum cdx_renew_result cdx_rs_renew(struct cdx_store *s, const char *name, unsigned long long token,
				   long long ttl_ms, struct cdx_error *err)
{
	int rc;
	if (ttl_ms <= 0)
		return cdx_error_set(err, CDX_EUSAGE, "renew %s: ttl must be positive", name);
	rc = rs_renew_((struct redis_store *)s, name, token, ttl_ms, err);
	return rc < 0 ? CDX_RENEW_ERROR : rc == 1 ? CDX_RENEW_HELD : CDX_RENEW_LOST;
}

int cdx_rs_unlock(struct cdx_store *s, const char *name, unsigned long long token, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	int rc = rs_renew_(r, name, token, 0, err);
	if (rc < 0)
		return -1;
	held_forget(r, held_find(r, name, token));
	return 0;
}

int cdx_rs_holder(struct cdx_store *s, const char *name, cJSON **current, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *key = cdx_xasprintf("%slockinfo:%s", r->prefix, name);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	redisReply *rep;
	int rc = -1;
	*current = NULL;
	if (cdx_rs_ensure(r, true, err) == 0 && cdx_rs_cmd(r, 2, argv, lens, &rep, err) == 0) {
		if (rep->type == REDIS_REPLY_STRING)
			*current = cJSON_ParseWithLength(rep->str, rep->len);
		freeReplyObject(rep);
		rc = 0;
	}
	free(key);
	return rc;
}

enum cdx_fenced_result cdx_rs_append_fenced(struct cdx_store *s, const char *name, unsigned long long token,
					    const cJSON *rec, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	struct rs_held *h = held_find(r, name, token);
	struct rs_rec x;
	enum cdx_fenced_result rc;
	/* what came before it first, so that the order holds; a store that
	 * spilled cannot prove the lock: it fails closed */
	if (r->spill)
		return cdx_error_set(err, CDX_ESTATE,
				     "redis at %s is unreachable: cannot write under lock %s", r->addr, name);
	if (cdx_rs_flush_held(r, true, err) < 0)
		return CDX_FENCED_ERROR;
	if (cdx_rs_rec_make(rec, &x, &r->scratch, err) < 0)
		return CDX_FENCED_ERROR;
	rc = cdx_rs_send_fenced(r, &x, name, token, h ? h->secret : "", err);
	cdx_rs_rec_free(&x);
	return rc;
}
