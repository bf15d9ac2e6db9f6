/* rs_conn.c — the connection of the Redis store (see rs.h and the design
 * in store_redis.c): commands as argument vectors, the Lua scripts loaded
 * and called by EVALSHA (again after NOSCRIPT), reconnecting with an
 * exponential backoff; and the small helpers the other files share. */
#include "redis/rs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "redis_lua.h"

static const char *const script_src[SCRIPT_COUNT] = {cdx_lua_append,	   cdx_lua_lock,       cdx_lua_renew,
						     cdx_lua_scan_runs,	   cdx_lua_pool_take, cdx_lua_pool_renew,
						     cdx_lua_pool_done};

/* drop the connection, if any; the batches sent and not acknowledged
 * will be sent again on the next one */
void cdx_rs_drop(struct redis_store *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
	r->fl_written = 0; /* unacknowledged batches are sent again */
	r->log_pending = 0; /* queued log pieces are lost (the local file has them) */
}

/* MS milliseconds as a struct timeval, for hiredis timeouts */
struct timeval cdx_rs_tv_ms(long long ms)
{
	struct timeval tv;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

void cdx_rs_set_timeout(struct redis_store *r, long long ms)
{
	r->timeout_ms = ms;
	if (r->c)
		redisSetTimeout(r->c, cdx_rs_tv_ms(ms));
}

const char *cdx_rs_errstr(const struct redis_store *r, char *buf, size_t n)
{
	const char *e = r->c && r->c->errstr[0] ? r->c->errstr : NULL;
	if (!e)
		return "connection closed";
	/* hiredis reports a socket timeout as the errno of the read
	 * (EAGAIN) or connect (ETIMEDOUT, EINPROGRESS) that ran out of time */
	if ((strcmp(e, strerror(EAGAIN)) == 0 || strcmp(e, strerror(EWOULDBLOCK)) == 0 ||
	     strcmp(e, strerror(ETIMEDOUT)) == 0 || strcmp(e, strerror(EINPROGRESS)) == 0 ||
	     strstr(e, "timeout")) &&
	    r->timeout_ms > 0) {
		snprintf(buf, n, "timed out: no answer within %.1f s", (double)r->timeout_ms / 1000);
		return buf;
	}
	return e;
}

/* a command on the open connection; *OUT (caller frees with
 * freeReplyObject) is the reply, which may be an error reply.  -1 with ERR
 * set when the connection failed (it is then dropped). */
static int rs_raw(struct redis_store *r, int argc, const char **argv, const size_t *lens, redisReply **out,
		  struct cdx_error *err)
{
	redisReply *rep;
	*out = NULL;
	if (!r->c)
		return cdx_error_set(err, CDX_ESTATE, "not connected to redis at %s", r->addr);
	if (r->log_pending && cdx_rs_log_settle(r, err) < 0)
		return -1;
	/* replies of pipelined batches come first */
	if (r->fl_written && cdx_rs_drain(r, err) < 0 && !r->c)
		return -1;
	rep = redisCommandArgv(r->c, argc, argv, lens);
	if (!rep) {
		char why[128];
		cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr, cdx_rs_errstr(r, why, sizeof(why)));
		cdx_rs_drop(r);
		return -1;
	}
	*out = rep;
	return 0;
}

/* as rs_raw, and an error reply is a failure too (the connection stays) */
int cdx_rs_cmd(struct redis_store *r, int argc, const char **argv, const size_t *lens, redisReply **out,
	       struct cdx_error *err)
{
	if (rs_raw(r, argc, argv, lens, out, err) < 0)
		return -1;
	if ((*out)->type == REDIS_REPLY_ERROR) {
		cdx_error_set(err, CDX_ESTATE, "redis at %s: %s %s", r->addr, argv[0], (*out)->str);
		freeReplyObject(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* SCRIPT LOAD script I and keep its SHA1; -1 with ERR set when the server
 * cannot be asked or answers otherwise */
int cdx_rs_load_script(struct redis_store *r, int i, struct cdx_error *err)
{
	const char *argv[3] = {"SCRIPT", "LOAD", script_src[i]};
	size_t lens[3] = {6, 4, strlen(script_src[i])};
	redisReply *rep;
	if (cdx_rs_cmd(r, 3, argv, lens, &rep, err) < 0)
		return -1;
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		freeReplyObject(rep);
		return cdx_error_set(err, CDX_ESTATE, "redis at %s: unexpected answer to SCRIPT LOAD",
				     r->addr);
	}
	memcpy(r->sha[i], rep->str, 40);
	r->sha[i][40] = '\0';
	freeReplyObject(rep);
	return 0;
}

/* connect, authenticate, select the database, load the scripts; on
 * failure nothing stays connected */
int cdx_rs_connect(struct redis_store *r, struct cdx_error *err)
{
	redisReply *rep;
	int i;
	cdx_rs_drop(r);
	r->timeout_ms = CONNECT_TIMEOUT_MS;
	r->c = redisConnectWithTimeout(r->host, r->port, cdx_rs_tv_ms(CONNECT_TIMEOUT_MS));
	if (!r->c || r->c->err) {
		char why[128];
		cdx_error_set(err, CDX_ESTATE, "cannot reach redis at %s: %s", r->addr,
			      r->c ? cdx_rs_errstr(r, why, sizeof(why)) : "out of memory");
		cdx_rs_drop(r);
		return -1;
	}
	cdx_rs_set_timeout(r, COMMAND_TIMEOUT_MS);
	redisEnableKeepAlive(r->c);
	if (r->pass) {
		const char *argv[3] = {"AUTH", r->user ? r->user : r->pass, r->pass};
		size_t lens[3] = {4, strlen(argv[1]), strlen(r->pass)};
		if (rs_raw(r, r->user ? 3 : 2, argv, lens, &rep, err) < 0)
			return -1;
		if (rep->type == REDIS_REPLY_ERROR) {
			cdx_error_set(err, CDX_ESTATE, "redis at %s refused the credentials: %s", r->addr,
				      rep->str);
			freeReplyObject(rep);
			cdx_rs_drop(r);
			return -1;
		}
		freeReplyObject(rep);
	}
	if (r->db) {
		char db[16];
		const char *argv[2] = {"SELECT", db};
		size_t lens[2] = {6, 0};
		lens[1] = (size_t)snprintf(db, sizeof(db), "%d", r->db);
		if (cdx_rs_cmd(r, 2, argv, lens, &rep, err) < 0) {
			cdx_rs_drop(r);
			return -1;
		}
		freeReplyObject(rep);
	}
	for (i = 0; i < SCRIPT_COUNT; i++) {
		if (cdx_rs_load_script(r, i, err) < 0) {
			/* NOAUTH and the like arrive here, the connection is useless */
			if (r->c && strstr(err->msg, "NOAUTH"))
				cdx_error_set(err, CDX_ESTATE, "redis at %s needs a password (NOAUTH)",
					      r->addr);
			cdx_rs_drop(r);
			return -1;
		}
	}
	r->backoff_ms = BACKOFF_MIN_MS;
	r->retry_ns = 0;
	if (r->lost_warned) {
		fprintf(stderr, "cdx: redis at %s is back; sending %zu held record%s\n", r->addr, r->n_pend,
			r->n_pend == 1 ? "" : "s");
		r->lost_warned = false;
	}
	return 0;
}

/* connected, or reconnect when the backoff allows; FORCE ignores it */
int cdx_rs_ensure(struct redis_store *r, bool force, struct cdx_error *err)
{
	int64_t now;
	if (r->c)
		return 0;
	now = cdx_now_ns();
	if (!force && now < r->retry_ns)
		return cdx_error_set(err, CDX_ESTATE, "redis at %s is unreachable; retrying in %lld ms",
				     r->addr, (long long)((r->retry_ns - now) / 1000000));
	if (cdx_rs_connect(r, err) == 0)
		return 0;
	r->retry_ns = now + r->backoff_ms * 1000000;
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
	return -1;
}

/* EVALSHA of script I with ARGC arguments (prefix first, added here);
 * loads the script again on NOSCRIPT.  Error replies are failures. */
int cdx_rs_eval(struct redis_store *r, int i, int argc, const char **argv, const size_t *lens,
		redisReply **out, struct cdx_error *err)
{
	const char **av = cdx_xcalloc((size_t)argc + 4, sizeof(char *));
	size_t *al = cdx_xcalloc((size_t)argc + 4, sizeof(size_t));
	int tries, rc = -1;
	av[0] = "EVALSHA";
	al[0] = 7;
	av[2] = "0";
	al[2] = 1;
	av[3] = r->prefix;
	al[3] = strlen(r->prefix);
	memcpy(av + 4, argv, (size_t)argc * sizeof(char *));
	memcpy(al + 4, lens, (size_t)argc * sizeof(size_t));
	for (tries = 0; tries < 2; tries++) {
		av[1] = r->sha[i];
		al[1] = 40;
		if (rs_raw(r, argc + 4, av, al, out, err) < 0)
			break;
		if ((*out)->type != REDIS_REPLY_ERROR) {
			rc = 0;
			break;
		}
		if (tries == 0 && strncmp((*out)->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(*out);
			*out = NULL;
			if (cdx_rs_load_script(r, i, err) < 0)
				break;
			continue;
		}
		cdx_error_set(err, CDX_ESTATE, "redis at %s: script failed: %s", r->addr, (*out)->str);
		freeReplyObject(*out);
		*out = NULL;
		break;
	}
	free(av);
	free(al);
	return rc;
}

/* BYTES (at most 32) random bytes as 2 * BYTES hex digits and a NUL at
 * OUT; from getrandom(), else (it failed) from the clock and the pid */
void cdx_rs_random_hex(char *out, size_t bytes)
{
	unsigned char b[32];
	size_t i;
	if (bytes > sizeof(b))
		bytes = sizeof(b);
	if (getrandom(b, bytes, 0) != (ssize_t)bytes) {
		uint64_t x = (uint64_t)cdx_now_ns() ^ ((uint64_t)getpid() << 32);
		for (i = 0; i < bytes; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			b[i] = (unsigned char)(x >> 56);
		}
	}
	for (i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* sleep MS milliseconds, resumed after a signal */
void cdx_rs_sleep_ms(long long ms)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
