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
 */
#include "redis/store_redis.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "redis_lua.h"

#define BATCH_MAX 512           /* records per EVALSHA */
#define HOLD_MAX_DEFAULT 100000 /* records held while Redis is away */
#define CONNECT_TIMEOUT_MS 1500
#define COMMAND_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CLOSE_WAIT_MS 2000 /* last attempts before spilling */
#define WAITER_HEARTBEAT_MS 3000
#define PAGE 256       /* stream entries per XRANGE/XREAD */
#define MAX_INFLIGHT 4 /* pipelined batches awaiting replies */

enum { SCRIPT_APPEND, SCRIPT_LOCK, SCRIPT_RENEW, SCRIPT_SCAN_RUNS, SCRIPT_COUNT };

static const char *const script_src[SCRIPT_COUNT] = {cdx_lua_append, cdx_lua_lock, cdx_lua_renew,
						     cdx_lua_scan_runs};

/* the fields of a buffered record, in the order of append.lua's "other
 * records" tuples; REC_PAIRS is already in the protocol: NPAIRS field and
 * value arguments */
enum { REC_TYPE, REC_KEY, REC_PL, REC_JSON, REC_PAIRS, REC_JOB, REC_DUR, NFIELDS };

/* one buffered record: what append_cmd needs of it in one block */
struct rs_rec {
	char *buf;           /* the fields, each NUL-terminated */
	size_t off[NFIELDS]; /* where each field starts in buf */
	size_t len[NFIELDS]; /* its length in bytes */
	size_t npairs;       /* field/value pairs in REC_PAIRS */
	bool jobish;         /* an attempt or job record (no Lua work) */
};

/* a batch of records sent in one EVALSHA, identified so that sending it
 * again after a broken connection does not apply it twice */
struct rs_batch {
	size_t n;    /* records */
	char id[33]; /* random, hex */
};

/* a lock this handle holds: the secret that goes with its token */
struct rs_held {
	char *name;
	unsigned long long token;
	char secret[33];
};

struct redis_store {
	struct cdx_store base; /* first: a struct cdx_store * is a redis_store * */
	redisContext *c;       /* NULL while disconnected */
	char *host;
	int port;
	char *user, *pass; /* NULL when not given */
	int db;
	char *prefix;   /* key prefix, e.g. "cdx:" */
	char *local;    /* local directory: logs, spilled records */
	char addr[300]; /* "host:port" for messages */
	char sha[SCRIPT_COUNT][41];
	struct rs_rec *pend; /* buffered records, oldest first */
	size_t n_pend, cap_pend;
	size_t hold_max;         /* most records held while Redis is away */
	int64_t retry_ns;        /* no reconnect before this (monotonic) */
	int64_t backoff_ms;      /* next backoff, BACKOFF_MIN_MS..BACKOFF_MAX_MS */
	bool lost_warned;        /* "lost the connection" said once */
	struct cdx_store *spill; /* the file store records went to, or NULL */
	struct rs_batch *fl;     /* batches sent, not yet acknowledged, oldest
				    first; they cover pend[0..sent) */
	size_t n_fl, cap_fl;
	size_t sent;       /* records covered by fl */
	size_t fl_written; /* batches of fl written to this connection
			      (after a reconnect: 0, all go again) */
	struct rs_held *held;
	size_t n_held, cap_held;
	struct cdx_buf cmd; /* the last append.lua command formatted (its
			       memory kept from batch to batch) */
	struct cdx_buf scratch; /* a record's JSON while it is buffered */
};

/* ---- connection ---------------------------------------------------------- */

static void rs_drop(struct redis_store *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
	r->fl_written = 0; /* unacknowledged batches are sent again */
}

static int rs_drain(struct redis_store *r, struct cdx_error *err);

static struct timeval tv_ms(long long ms)
{
	struct timeval tv;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
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
	/* replies of pipelined batches come first */
	if (r->fl_written && rs_drain(r, err) < 0 && !r->c)
		return -1;
	rep = redisCommandArgv(r->c, argc, argv, lens);
	if (!rep) {
		cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr,
			      r->c->errstr[0] ? r->c->errstr : "connection closed");
		rs_drop(r);
		return -1;
	}
	*out = rep;
	return 0;
}

/* as rs_raw, and an error reply is a failure too (the connection stays) */
static int rs_cmd(struct redis_store *r, int argc, const char **argv, const size_t *lens, redisReply **out,
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

static int rs_load_script(struct redis_store *r, int i, struct cdx_error *err)
{
	const char *argv[3] = {"SCRIPT", "LOAD", script_src[i]};
	size_t lens[3] = {6, 4, strlen(script_src[i])};
	redisReply *rep;
	if (rs_cmd(r, 3, argv, lens, &rep, err) < 0)
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
static int rs_connect(struct redis_store *r, struct cdx_error *err)
{
	redisReply *rep;
	int i;
	rs_drop(r);
	r->c = redisConnectWithTimeout(r->host, r->port, tv_ms(CONNECT_TIMEOUT_MS));
	if (!r->c || r->c->err) {
		cdx_error_set(err, CDX_ESTATE, "cannot reach redis at %s: %s", r->addr,
			      r->c ? r->c->errstr : "out of memory");
		rs_drop(r);
		return -1;
	}
	redisSetTimeout(r->c, tv_ms(COMMAND_TIMEOUT_MS));
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
			rs_drop(r);
			return -1;
		}
		freeReplyObject(rep);
	}
	if (r->db) {
		char db[16];
		const char *argv[2] = {"SELECT", db};
		size_t lens[2] = {6, 0};
		lens[1] = (size_t)snprintf(db, sizeof(db), "%d", r->db);
		if (rs_cmd(r, 2, argv, lens, &rep, err) < 0) {
			rs_drop(r);
			return -1;
		}
		freeReplyObject(rep);
	}
	for (i = 0; i < SCRIPT_COUNT; i++) {
		if (rs_load_script(r, i, err) < 0) {
			/* NOAUTH and the like arrive here, the connection is useless */
			if (r->c && strstr(err->msg, "NOAUTH"))
				cdx_error_set(err, CDX_ESTATE, "redis at %s needs a password (NOAUTH)",
					      r->addr);
			rs_drop(r);
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
static int rs_ensure(struct redis_store *r, bool force, struct cdx_error *err)
{
	int64_t now;
	if (r->c)
		return 0;
	now = cdx_now_ns();
	if (!force && now < r->retry_ns)
		return cdx_error_set(err, CDX_ESTATE, "redis at %s is unreachable; retrying in %lld ms",
				     r->addr, (long long)((r->retry_ns - now) / 1000000));
	if (rs_connect(r, err) == 0)
		return 0;
	r->retry_ns = now + r->backoff_ms * 1000000;
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
	return -1;
}

/* EVALSHA of script I with ARGC arguments (prefix first, added here);
 * loads the script again on NOSCRIPT.  Error replies are failures. */
static int rs_eval(struct redis_store *r, int i, int argc, const char **argv, const size_t *lens,
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
			if (rs_load_script(r, i, err) < 0)
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

/* ---- records --------------------------------------------------------------- */

static void rs_rec_free(struct rs_rec *x)
{
	free(x->buf);
}

/* ---- compact JSON --------------------------------------------------------
 * Records are serialised here rather than with cJSON_PrintUnformatted,
 * which prints every number with sprintf("%1.15g") and reads it back with
 * sscanf: more than half of the client's time per record.  The output is
 * the same JSON (whole numbers as integers, others with the shortest of 15
 * or 17 significant digits that reads back exactly). */

#define JSON_DEPTH_MAX 32

/* cdx_buf_add without a call when the room is there (the hot path) */
static inline void bput(struct cdx_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len > n) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
	} else {
		cdx_buf_add(b, p, n);
	}
}

static inline void bputc(struct cdx_buf *b, char c)
{
	bput(b, &c, 1);
}

/* the decimal digits of U, written backwards ending at E; the first */
static char *digits(char *e, unsigned long long u)
{
	do {
		*--e = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	return e;
}

static void json_number(struct cdx_buf *b, double d)
{
	char tmp[40];
	int n;
	if (!isfinite(d)) {
		bput(b, "null", 4);
		return;
	}
	if (d == (double)(long long)d && fabs(d) < 1e15) {
		long long v = (long long)d;
		char *e = tmp + sizeof(tmp), *p = digits(e, v < 0 ? (unsigned long long)-v : (unsigned long long)v);
		if (v < 0)
			*--p = '-';
		bput(b, p, (size_t)(e - p));
		return;
	}
	if (fabs(d) < 1e9) {
		/* milliseconds with up to 3 decimals (wall_ms 7.407): the
		 * nearest double to V/1000 prints as that decimal with %1.15g
		 * too, and reads back exactly */
		long long v = (long long)cdx_round(d * 1000);
		if ((double)v / 1000.0 == d) {
			unsigned long long u = v < 0 ? (unsigned long long)-v : (unsigned long long)v;
			unsigned f = (unsigned)(u % 1000);
			char *e = tmp + sizeof(tmp), *p;
			int fd = 3;
			while (f && f % 10 == 0) {
				f /= 10;
				fd--;
			}
			p = e;
			while (fd-- > 0) {
				*--p = (char)('0' + f % 10);
				f /= 10;
			}
			*--p = '.';
			p = digits(p, u / 1000);
			if (v < 0)
				*--p = '-';
			bput(b, p, (size_t)(e - p));
			return;
		}
	}
	n = snprintf(tmp, sizeof(tmp), "%1.15g", d);
	if (strtod(tmp, NULL) != d)
		n = snprintf(tmp, sizeof(tmp), "%1.17g", d);
	bput(b, tmp, (size_t)n);
}

/* whether the N bytes at S need no escape in a JSON string (no control
 * byte, '"' or '\\'), eight at a time: a byte below 0x20, or equal to
 * '"' or '\\' (zero after the XOR), sets its high bit in the test, bytes of
 * 0x80 and above never do */
static bool json_plain(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		if (((v - ones * 0x20) | ((v ^ (ones * '"')) - ones) | ((v ^ (ones * '\\')) - ones)) & ~v & high)
			return false;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* S as a JSON string: room for the worst case is made first; a string
 * without anything to escape (nearly all) is one copy */
static void json_string(struct cdx_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	char *o;
	if (n > (SIZE_MAX - 3) / 6)
		n = (SIZE_MAX - 3) / 6; /* unreachable: no such string fits in memory */
	if (b->cap - b->len <= 6 * n + 2)
		cdx_buf_reserve(b, 6 * n + 2);
	o = b->data + b->len;
	*o++ = '"';
	if (json_plain(s, n)) {
		memcpy(o, s, n);
		o += n;
		s += n;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->data);
}

/* 0, or -1 when the record nests deeper than JSON_DEPTH_MAX */
static int json_write(struct cdx_buf *b, const cJSON *o, int depth)
{
	const cJSON *c;
	bool obj;
	if (depth > JSON_DEPTH_MAX)
		return -1;
	/* the type tests of cJSON_IsString() and the like, inline */
	switch (o->type & 0xFF) {
	case cJSON_String:
		json_string(b, o->valuestring ? o->valuestring : "");
		break;
	case cJSON_Number:
		json_number(b, o->valuedouble);
		break;
	case cJSON_True:
		bput(b, "true", 4);
		break;
	case cJSON_False:
		bput(b, "false", 5);
		break;
	case cJSON_Array:
	case cJSON_Object:
		obj = (o->type & 0xFF) == cJSON_Object;
		bputc(b, obj ? '{' : '[');
		for (c = o->child; c; c = c->next) {
			if (c != o->child)
				bputc(b, ',');
			if (obj) {
				json_string(b, c->string ? c->string : "");
				bputc(b, ':');
			}
			if (json_write(b, c, depth + 1) < 0)
				return -1;
		}
		bputc(b, obj ? '}' : ']');
		break;
	case cJSON_Raw:
		if (o->valuestring) {
			cdx_buf_adds(b, o->valuestring);
			break;
		}
		/* fall through */
	default:
		bput(b, "null", 4);
	}
	return 0;
}

/* the string value of field F of a record, "" when absent or not a string */
static const char *sval(const cJSON *f)
{
	return f && cJSON_IsString(f) && f->valuestring ? f->valuestring : "";
}

/* a record field as append.lua's str() would write it after decoding:
 * strings as they are, whole numbers below 1e15 with %d, other numbers
 * with %.17g, booleans true/false; appended to B as two protocol
 * arguments (NAME, value).  false, nothing appended, for what the run hash
 * leaves out: null, nested values and numbers JSON cannot hold. */
static void resp_arg(struct cdx_buf *b, const char *s, size_t n);

static bool flat_value(struct cdx_buf *b, const cJSON *c, const char *name)
{
	char tmp[48];
	const char *v = tmp;
	size_t n;
	switch (c->type & 0xFF) {
	case cJSON_String:
		v = c->valuestring ? c->valuestring : "";
		n = strlen(v);
		break;
	case cJSON_Number:
		if (!isfinite(c->valuedouble))
			return false;
		if (c->valuedouble == floor(c->valuedouble) && fabs(c->valuedouble) < 1e15)
			n = (size_t)snprintf(tmp, sizeof(tmp), "%lld", (long long)c->valuedouble);
		else
			n = (size_t)snprintf(tmp, sizeof(tmp), "%.17g", c->valuedouble);
		break;
	case cJSON_True:
		v = "true";
		n = 4;
		break;
	case cJSON_False:
		v = "false";
		n = 5;
		break;
	default:
		return false;
	}
	resp_arg(b, name, strlen(name));
	resp_arg(b, v, n);
	return true;
}

/* REC buffered into X (free with rs_rec_free): its JSON, type, pipeline and
 * run key (only run, run_end, attempt and job records have one), picked up
 * in one pass over its fields (the first of a duplicated name counts, as
 * with cJSON_GetObjectItemCaseSensitive).  SCRATCH is a buffer of the
 * caller's, reused.  -1 with ERR set when REC cannot be serialised. */
static int rs_rec_make(const cJSON *rec, struct rs_rec *x, struct cdx_buf *scratch, struct cdx_error *err)
{
	const cJSON *c, *ft = NULL, *fid = NULL, *frun = NULL, *fpl = NULL, *fjob = NULL, *fst = NULL, *fdur = NULL;
	const char *t, *f[NFIELDS];
	char dur[24] = "";
	size_t total = 0, i, jlen;
	bool runish;
	cdx_buf_reset(scratch);
	if (json_write(scratch, rec, 0) < 0)
		return cdx_error_set(err, CDX_EUSAGE, "a record nests deeper than %d levels", JSON_DEPTH_MAX);
	for (c = cJSON_IsObject(rec) ? rec->child : NULL; c; c = c->next) {
		const char *k = c->string;
		const cJSON **slot = NULL;
		if (!k)
			continue;
		if (k[0] == 't' && k[1] == '\0')
			slot = &ft;
		else if (k[0] == 'i' && strcmp(k, "id") == 0)
			slot = &fid;
		else if (k[0] == 'r' && strcmp(k, "run") == 0)
			slot = &frun;
		else if (k[0] == 'p' && strcmp(k, "pipeline") == 0)
			slot = &fpl;
		else if (k[0] == 'j' && strcmp(k, "job") == 0)
			slot = &fjob;
		else if (k[0] == 's' && strcmp(k, "status") == 0)
			slot = &fst;
		else if (k[0] == 'd' && strcmp(k, "duration_ms") == 0)
			slot = &fdur;
		if (slot && !*slot)
			*slot = c;
	}
	t = sval(ft);
	runish = strcmp(t, "run") == 0 || strcmp(t, "run_end") == 0;
	x->jobish = strcmp(t, "attempt") == 0 || strcmp(t, "job") == 0;
	x->npairs = 0;
	jlen = scratch->len;
	if (runish) {
		/* its scalar fields for the run hash, after the JSON in SCRATCH */
		for (c = rec->child; c; c = c->next) {
			if (!c->string || strcmp(c->string, "t") == 0 || !flat_value(scratch, c, c->string))
				continue;
			x->npairs++;
		}
	}
	f[REC_TYPE] = t;
	f[REC_KEY] = runish ? sval(fid) : x->jobish ? sval(frun) : "";
	f[REC_PL] = sval(fpl);
	f[REC_JSON] = scratch->data;
	f[REC_PAIRS] = scratch->data + jlen;
	/* a successful job's duration, for the pipeline's job durations */
	if (strcmp(t, "job") == 0 && strcmp(sval(fst), "success") == 0 && *sval(fpl) && *sval(fjob) && fdur &&
	    cJSON_IsNumber(fdur) && isfinite(fdur->valuedouble) && fdur->valuedouble >= 0 && fdur->valuedouble < 1e15)
		snprintf(dur, sizeof(dur), "%lld", (long long)fdur->valuedouble);
	f[REC_JOB] = *dur ? sval(fjob) : "";
	f[REC_DUR] = dur;
	for (i = 0; i < NFIELDS; i++) {
		x->len[i] = i == REC_JSON ? jlen : i == REC_PAIRS ? scratch->len - jlen : strlen(f[i]);
		total += x->len[i] + 1;
	}
	x->buf = cdx_xmalloc(total);
	total = 0;
	for (i = 0; i < NFIELDS; i++) {
		x->off[i] = total;
		memcpy(x->buf + total, f[i], x->len[i]);
		x->buf[total + x->len[i]] = '\0';
		total += x->len[i] + 1;
	}
	return 0;
}

static void random_hex(char *out, size_t bytes);

/* ---- the append.lua command ------------------------------------------------
 * The EVALSHA of a batch is formatted here, straight into the protocol
 * (RESP), in one buffer of the handle that keeps its memory from batch to
 * batch: hiredis's argv formatting (a printf per argument) and a fresh
 * buffer per batch cost more than applying the batch does.  Each record's
 * JSON goes into it once, inside its segment (see append.lua). */

/* the records stream segment key of a record: its run (run and run_end by
 * id, attempt and job by run), "" for the others */
static const char *rec_key(const struct rs_rec *x)
{
	return x->buf + x->off[REC_KEY];
}

static const char *rec_field(const struct rs_rec *x, int k)
{
	return x->buf + x->off[k];
}

static void resp_len(struct cdx_buf *b, char kind, size_t n)
{
	char tmp[32], *e = tmp + sizeof(tmp), *p = e;
	*--p = '\n';
	*--p = '\r';
	do {
		*--p = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	*--p = kind;
	bput(b, p, (size_t)(e - p));
}

static void resp_arg(struct cdx_buf *b, const char *s, size_t n)
{
	resp_len(b, '$', n);
	bput(b, s, n);
	bput(b, "\r\n", 2);
}

static void resp_argz(struct cdx_buf *b, const char *s)
{
	resp_arg(b, s, strlen(s));
}

static void resp_count(struct cdx_buf *b, size_t n)
{
	char tmp[24];
	resp_arg(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%zu", n));
}

/* the EVALSHA of append.lua for RECS[0..N), fenced by lock NAME (NULL:
 * not fenced), into CMD (reset first) */
static void append_cmd(const struct redis_store *r, const struct rs_rec *recs, size_t n, const char *name,
		       const char *tok, const char *secret, const char *batch, struct cdx_buf *cmd)
{
	size_t nseg = 0, nk = 0, nother = 0, ndur = 0, npl = 0, cap_pl = 0, i, j, p;
	/* the pipelines with job durations in the batch, in order of first
	 * appearance (a batch rarely has more than one): their first record
	 * and how many they have */
	struct {
		size_t first, count;
	} *pls = NULL, np;
	for (i = 0; i < n; i++) {
		const struct rs_rec *x = &recs[i];
		if (i == 0 || strcmp(rec_key(x), rec_key(&recs[i - 1])) != 0)
			nseg++;
		if (!x->jobish) {
			nk++;
			nother += 5 + 2 * x->npairs;
		}
		if (!x->len[REC_DUR])
			continue;
		ndur++;
		for (p = 0; p < npl; p++)
			if (strcmp(rec_field(&recs[pls[p].first], REC_PL), rec_field(x, REC_PL)) == 0)
				break;
		if (p == npl) {
			np.first = i;
			np.count = 0;
			CDX_PUSH(pls, npl, cap_pl, np);
		}
		pls[p].count++;
	}
	cdx_buf_reset(cmd);
	resp_len(cmd, '*', 4 + 4 + 1 + 2 * nseg + 1 + 2 * npl + 2 * ndur + 1 + nother);
	resp_arg(cmd, "EVALSHA", 7);
	resp_arg(cmd, r->sha[SCRIPT_APPEND], 40);
	resp_arg(cmd, "0", 1);
	resp_argz(cmd, r->prefix);
	resp_argz(cmd, name ? name : "");
	resp_argz(cmd, tok);
	resp_argz(cmd, secret ? secret : "");
	resp_argz(cmd, batch);
	resp_count(cmd, nseg);
	for (i = 0; i < n; i = j) {
		size_t len = 1;
		for (j = i; j < n && (j == i || strcmp(rec_key(&recs[j]), rec_key(&recs[i])) == 0); j++)
			len += recs[j].len[REC_JSON] + 1;
		resp_arg(cmd, rec_key(&recs[i]), recs[i].len[REC_KEY]);
		resp_len(cmd, '$', len);
		for (size_t k = i; k < j; k++) {
			bputc(cmd, k == i ? '[' : ',');
			bput(cmd, rec_field(&recs[k], REC_JSON), recs[k].len[REC_JSON]);
		}
		bput(cmd, "]\r\n", 3);
	}
	resp_count(cmd, npl);
	for (p = 0; p < npl; p++) {
		const char *pl = rec_field(&recs[pls[p].first], REC_PL);
		resp_arg(cmd, pl, recs[pls[p].first].len[REC_PL]);
		resp_count(cmd, pls[p].count);
		for (i = pls[p].first; i < n; i++) {
			if (!recs[i].len[REC_DUR] || strcmp(rec_field(&recs[i], REC_PL), pl) != 0)
				continue;
			resp_arg(cmd, rec_field(&recs[i], REC_JOB), recs[i].len[REC_JOB]);
			resp_arg(cmd, rec_field(&recs[i], REC_DUR), recs[i].len[REC_DUR]);
		}
	}
	free(pls);
	resp_count(cmd, nk);
	for (i = 0; i < n; i++) {
		if (recs[i].jobish)
			continue;
		for (int k = REC_TYPE; k <= REC_JSON; k++)
			resp_arg(cmd, rec_field(&recs[i], k), recs[i].len[k]);
		resp_count(cmd, recs[i].npairs);
		bput(cmd, rec_field(&recs[i], REC_PAIRS), recs[i].len[REC_PAIRS]);
	}
}

/* write CMD (a formatted command) to the connection without waiting for
 * its reply; -1 with ERR set when the connection broke (it is dropped) */
static int rs_write_cmd(struct redis_store *r, const struct cdx_buf *cmd, struct cdx_error *err)
{
	int done = 0;
	if (r->c->obuf && r->c->obuf[0] == '\0') {
		/* nothing queued in hiredis (every command before was written
		 * whole): straight from CMD to the socket, as redisBufferWrite
		 * would, without copying a batch into hiredis's buffer first */
		size_t off = 0;
		while (off < cmd->len) {
			ssize_t w = write(r->c->fd, cmd->data + off, cmd->len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr,
					      w < 0 ? strerror(errno) : "connection closed");
				rs_drop(r);
				return -1;
			}
			off += (size_t)w;
		}
		return 0;
	}
	if (redisAppendFormattedCommand(r->c, cmd->data, cmd->len) == REDIS_OK) {
		while (!done)
			if (redisBufferWrite(r->c, &done) != REDIS_OK)
				break;
	}
	if (!done) {
		cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr,
			      r->c->errstr[0] ? r->c->errstr : "connection closed");
		rs_drop(r);
		return -1;
	}
	return 0;
}

/* one fenced record, synchronously: 0 written, 1 refused, -1 error */
static int rs_send_fenced(struct redis_store *r, const struct rs_rec *x, const char *name,
			  unsigned long long token, const char *secret, struct cdx_error *err)
{
	char tok[24], batch[33];
	redisReply *rep = NULL;
	int rc = -1, tries;
	snprintf(tok, sizeof(tok), "%llu", token);
	random_hex(batch, 16);
	append_cmd(r, x, 1, name, tok, secret, batch, &r->cmd);
	for (tries = 0; tries < 2; tries++) {
		void *v = NULL;
		if (!r->c) {
			cdx_error_set(err, CDX_ESTATE, "not connected to redis at %s", r->addr);
			break;
		}
		if (r->fl_written && rs_drain(r, err) < 0 && !r->c)
			break;
		if (rs_write_cmd(r, &r->cmd, err) < 0)
			break;
		if (redisGetReply(r->c, &v) != REDIS_OK || !v) {
			cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr,
				      r->c->errstr[0] ? r->c->errstr : "connection closed");
			rs_drop(r);
			break;
		}
		rep = v;
		if (rep->type != REDIS_REPLY_ERROR) {
			rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == -1 ? 1 : 0;
			break;
		}
		if (tries == 0 && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(rep);
			rep = NULL;
			if (rs_load_script(r, SCRIPT_APPEND, err) < 0)
				break;
			continue;
		}
		cdx_error_set(err, CDX_ESTATE, "redis at %s: script failed: %s", r->addr, rep->str);
		break;
	}
	freeReplyObject(rep);
	return rc;
}

/* write batch FL[I] (records from FROM) to the connection without waiting
 * for its reply; -1 when the connection broke */
static int rs_write_batch(struct redis_store *r, size_t i, size_t from, struct cdx_error *err)
{
	append_cmd(r, r->pend + from, r->fl[i].n, NULL, "0", NULL, r->fl[i].id, &r->cmd);
	if (rs_write_cmd(r, &r->cmd, err) < 0)
		return -1;
	r->fl_written = i + 1;
	return 0;
}

/* read the reply of the oldest written batch: acknowledged, its records
 * are done.  -1 when the connection broke (dropped) or the server answered
 * with an error (the batch and every later one will be sent again); -2
 * when that error was NOSCRIPT and the script is loaded again. */
static int rs_ack(struct redis_store *r, struct cdx_error *err)
{
	void *v = NULL;
	redisReply *rep;
	size_t i, n = r->fl[0].n;
	if (redisGetReply(r->c, &v) != REDIS_OK || !v) {
		cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr,
			      r->c->errstr[0] ? r->c->errstr : "connection closed");
		rs_drop(r);
		return -1;
	}
	rep = v;
	if (rep->type == REDIS_REPLY_ERROR) {
		bool noscript = strncmp(rep->str, "NOSCRIPT", 8) == 0;
		cdx_error_set(err, CDX_ESTATE, "redis at %s: script failed: %s", r->addr, rep->str);
		freeReplyObject(rep);
		/* what follows on the wire is read and forgotten: it will all go
		 * again, and the batch ids keep anything applied from doubling */
		for (i = 1; i < r->fl_written; i++) {
			v = NULL;
			if (redisGetReply(r->c, &v) != REDIS_OK || !v) {
				rs_drop(r);
				return -1;
			}
			freeReplyObject(v);
		}
		r->fl_written = 0;
		if (noscript && rs_load_script(r, SCRIPT_APPEND, err) == 0)
			return -2;
		return -1;
	}
	freeReplyObject(rep);
	for (i = 0; i < n; i++)
		rs_rec_free(&r->pend[i]);
	memmove(r->pend, r->pend + n, (r->n_pend - n) * sizeof(*r->pend));
	r->n_pend -= n;
	r->sent -= n;
	memmove(r->fl, r->fl + 1, (r->n_fl - 1) * sizeof(*r->fl));
	r->n_fl--;
	r->fl_written--;
	return 0;
}

/* read every outstanding reply */
static int rs_drain(struct redis_store *r, struct cdx_error *err)
{
	while (r->c && r->fl_written) {
		int rc = rs_ack(r, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* send what is due: batches not written to this connection first (as they
 * were), then new batches of BATCH_MAX records — and, with ALL, the last
 * partial one.  At most MAX_INFLIGHT batches wait for their replies. */
static int rs_pump(struct redis_store *r, bool all, struct cdx_error *err)
{
	size_t from = 0, i;
	for (i = 0; i < r->fl_written; i++)
		from += r->fl[i].n;
	while (r->c) {
		if (r->fl_written == r->n_fl) {
			size_t left = r->n_pend - r->sent;
			struct rs_batch b;
			if (!left || (!all && left < BATCH_MAX))
				break;
			b.n = left < BATCH_MAX ? left : BATCH_MAX;
			random_hex(b.id, 16);
			CDX_PUSH(r->fl, r->n_fl, r->cap_fl, b);
			r->sent += b.n;
		}
		if (r->fl_written >= MAX_INFLIGHT) {
			int rc = rs_ack(r, err);
			if (rc < 0)
				return rc;
		}
		if (r->fl_written >= MAX_INFLIGHT)
			continue;
		from = 0;
		for (i = 0; i < r->fl_written; i++)
			from += r->fl[i].n;
		if (rs_write_batch(r, r->fl_written, from, err) < 0)
			return -1;
	}
	return r->c ? 0 : -1;
}

static char *rs_spill_dir(const struct redis_store *r)
{
	return cdx_xasprintf("%s/spill", r->local);
}

/* move every held record, in order, to the spill file store */
static int rs_spill(struct redis_store *r, const char *why, struct cdx_error *err)
{
	size_t i;
	int rc = 0;
	if (!r->spill) {
		char *dir = rs_spill_dir(r);
		rc = cdx_store_file_open(dir, &r->spill, err);
		if (rc == 0)
			fprintf(
			    stderr,
			    "cdx: warning: redis at %s is unreachable (%s): records are spilled to file:%s; "
			    "load them with: cdx state copy file:%s %s\n",
			    r->addr, why, dir, dir, r->base.url);
		free(dir);
		if (rc < 0)
			return -1;
	}
	for (i = 0; i < r->n_pend; i++) {
		struct rs_rec *x = &r->pend[i];
		cJSON *o = cJSON_ParseWithLength(x->buf + x->off[REC_JSON], x->len[REC_JSON]);
		if (o && r->spill->ops->append(r->spill, o, err) < 0)
			rc = -1;
		cJSON_Delete(o);
		rs_rec_free(x);
	}
	r->n_pend = 0;
	r->n_fl = r->sent = r->fl_written = 0;
	if (rc == 0)
		rc = r->spill->ops->flush(r->spill, err);
	return rc;
}

static int rs_append(struct cdx_store *s, const cJSON *rec, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	struct rs_rec x;
	if (r->spill)
		return r->spill->ops->append(r->spill, rec, err);
	if (r->n_pend >= r->hold_max) {
		struct cdx_error e2 = {0};
		char why[64];
		snprintf(why, sizeof(why), "more than %zu records held", r->hold_max);
		/* one last try before giving up on the server for this run */
		if (s->ops->flush(s, &e2) < 0 && rs_spill(r, why, err) < 0)
			return -1;
		if (r->spill)
			return r->spill->ops->append(r->spill, rec, err);
	}
	if (rs_rec_make(rec, &x, &r->scratch, err) < 0)
		return -1;
	CDX_PUSH(r->pend, r->n_pend, r->cap_pend, x);
	/* a full batch goes now, without waiting for its reply (pipelined);
	 * a broken connection is left for flush to report and repair */
	if (r->c && r->n_pend - r->sent >= BATCH_MAX) {
		struct cdx_error e2 = {0};
		rs_pump(r, false, &e2);
	}
	return 0;
}

/* flush, reconnecting when allowed (FORCE: now) */
static int rs_flush_(struct redis_store *r, bool force, struct cdx_error *err)
{
	int tries;
	if (r->spill)
		return r->spill->ops->flush(r->spill, err);
	if (!r->n_pend)
		return 0;
	if (rs_ensure(r, force, err) < 0)
		goto lost;
	for (tries = 0; tries < 2; tries++) {
		int rc = rs_pump(r, true, err);
		if (rc == 0)
			rc = rs_drain(r, err);
		if (rc == 0 && r->n_pend == 0)
			return 0;
		if (rc != -2) /* after NOSCRIPT, the script is back: once more */
			break;
	}
	if (r->c) /* the server answered with an error: not a lost connection */
		return -1;
lost:
	if (!r->lost_warned) {
		fprintf(stderr, "cdx: warning: %s; holding %zu record%s until it is back\n", err->msg,
			r->n_pend, r->n_pend == 1 ? "" : "s");
		r->lost_warned = true;
	}
	cdx_error_set(err, CDX_ESTATE, "redis at %s is unreachable: %zu record%s held", r->addr, r->n_pend,
		      r->n_pend == 1 ? "" : "s");
	return -1;
}

static int rs_flush(struct cdx_store *s, struct cdx_error *err)
{
	return rs_flush_((struct redis_store *)s, false, err);
}

static size_t rs_pending(struct cdx_store *s)
{
	struct redis_store *r = (struct redis_store *)s;
	return r->spill ? r->spill->ops->pending(r->spill) : r->n_pend;
}

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

static int rs_scan(struct cdx_store *s, cdx_store_fn fn, void *ctx, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *key = cdx_xjoin3(r->prefix, "", "records");
	char start[80] = "-", count[16];
	const char *argv[6] = {"XRANGE", key, start, "+", "COUNT", count};
	size_t lens[6], i;
	int rc = 0;
	snprintf(count, sizeof(count), "%d", PAGE);
	if (rs_ensure(r, true, err) < 0) {
		free(key);
		return -1;
	}
	for (;;) {
		redisReply *rep;
		for (i = 0; i < 6; i++)
			lens[i] = strlen(argv[i]);
		if (rs_cmd(r, 6, argv, lens, &rep, err) < 0) {
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

static int rs_tail(struct cdx_store *s, char cursor[64], long long wait_ms, cdx_store_fn fn, void *ctx,
		   struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *key = cdx_xjoin3(r->prefix, "", "records");
	char block[24], count[16];
	int rc = 0, round;
	snprintf(count, sizeof(count), "%d", PAGE);
	if (rs_ensure(r, true, err) < 0) {
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
		if (rs_cmd(r, 6, av, lens, &rep, err) < 0) {
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
			redisSetTimeout(r->c, tv_ms(wait_ms < 0 ? 0 : wait_ms + COMMAND_TIMEOUT_MS));
		}
		argv[argc++] = "STREAMS";
		argv[argc++] = key;
		argv[argc++] = cursor;
		for (i = 0; i < (size_t)argc; i++)
			lens[i] = strlen(argv[i]);
		rc = rs_cmd(r, argc, argv, lens, &rep, err);
		if (blocking && r->c)
			redisSetTimeout(r->c, tv_ms(COMMAND_TIMEOUT_MS));
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

static int rs_scan_runs(struct cdx_store *s, const char *pipeline, size_t n, cdx_store_fn fn, void *ctx,
			struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char num[24];
	const char *argv[2] = {pipeline, num};
	size_t lens[2], i;
	redisReply *rep;
	snprintf(num, sizeof(num), "%zu", n);
	lens[0] = strlen(pipeline);
	lens[1] = strlen(num);
	if (rs_ensure(r, true, err) < 0 || rs_eval(r, SCRIPT_SCAN_RUNS, 2, argv, lens, &rep, err) < 0)
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

/* ---- locks --------------------------------------------------------------- */

static void random_hex(char *out, size_t bytes)
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

static void sleep_ms(long long ms)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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
	if (rs_ensure(r, true, err) < 0 || rs_eval(r, SCRIPT_RENEW, 4, argv, lens, &rep, err) < 0)
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
	if (rs_cmd(r, 3, a1, l1, &rep, &e2) == 0)
		freeReplyObject(rep);
	if (rs_cmd(r, 3, a2, l2, &rep, &e2) == 0)
		freeReplyObject(rep);
	free(q);
	free(hb);
}

static int rs_lock(struct cdx_store *s, const char *name, const cJSON *holder, long long ttl_ms,
		   long long wait_ms, unsigned long long *token, cJSON **current, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char secret[33], waiter[33] = "", ttl[24], hb[24], *hj;
	int64_t deadline = wait_ms > 0 ? cdx_now_ns() + wait_ms * 1000000LL : 0;
	long long nap = 5;
	int rc = -1;
	*token = 0;
	if (current)
		*current = NULL;
	if (ttl_ms <= 0)
		return cdx_error_set(err, CDX_EUSAGE, "lock %s: ttl must be positive", name);
	random_hex(secret, 16);
	if (wait_ms != 0)
		random_hex(waiter, 16);
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
		if (rs_ensure(r, true, err) < 0 || rs_eval(r, SCRIPT_LOCK, 6, argv, lens, &rep, err) < 0)
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
			rc = 0;
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
			rc = 1;
			break;
		}
		cJSON_Delete(cur);
		if (wait_ms > 0) {
			long long left = (deadline - cdx_now_ns()) / 1000000;
			sleep_ms(nap < left ? nap : left > 0 ? left : 1);
		} else {
			sleep_ms(nap);
		}
		nap = nap * 2 > 50 ? 50 : nap * 2;
	}
	free(hj);
	return rc;
}

static int rs_renew(struct cdx_store *s, const char *name, unsigned long long token, long long ttl_ms,
		    struct cdx_error *err)
{
	int rc;
	if (ttl_ms <= 0)
		return cdx_error_set(err, CDX_EUSAGE, "renew %s: ttl must be positive", name);
	rc = rs_renew_((struct redis_store *)s, name, token, ttl_ms, err);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

static int rs_unlock(struct cdx_store *s, const char *name, unsigned long long token, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	int rc = rs_renew_(r, name, token, 0, err);
	if (rc < 0)
		return -1;
	held_forget(r, held_find(r, name, token));
	return 0;
}

static int rs_holder(struct cdx_store *s, const char *name, cJSON **current, struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	char *key = cdx_xasprintf("%slockinfo:%s", r->prefix, name);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	redisReply *rep;
	int rc = -1;
	*current = NULL;
	if (rs_ensure(r, true, err) == 0 && rs_cmd(r, 2, argv, lens, &rep, err) == 0) {
		if (rep->type == REDIS_REPLY_STRING)
			*current = cJSON_ParseWithLength(rep->str, rep->len);
		freeReplyObject(rep);
		rc = 0;
	}
	free(key);
	return rc;
}

static int rs_append_fenced(struct cdx_store *s, const char *name, unsigned long long token, const cJSON *rec,
			    struct cdx_error *err)
{
	struct redis_store *r = (struct redis_store *)s;
	struct rs_held *h = held_find(r, name, token);
	struct rs_rec x;
	int rc;
	/* what came before it first, so that the order holds; a store that
	 * spilled cannot prove the lock: it fails closed */
	if (r->spill)
		return cdx_error_set(err, CDX_ESTATE,
				     "redis at %s is unreachable: cannot write under lock %s", r->addr, name);
	if (rs_flush_(r, true, err) < 0)
		return -1;
	if (rs_rec_make(rec, &x, &r->scratch, err) < 0)
		return -1;
	rc = rs_send_fenced(r, &x, name, token, h ? h->secret : "", err);
	rs_rec_free(&x);
	return rc;
}

/* ---- open and close ------------------------------------------------------ */

static void rs_free(struct redis_store *r)
{
	size_t i;
	rs_drop(r);
	for (i = 0; i < r->n_pend; i++)
		rs_rec_free(&r->pend[i]);
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

static void rs_close(struct cdx_store *s)
{
	struct redis_store *r = (struct redis_store *)s;
	struct cdx_error err = {0};
	int64_t until = cdx_now_ns() + CLOSE_WAIT_MS * 1000000LL;
	if (!r->spill && r->n_pend) {
		/* a few last attempts, then spill: never drop a record */
		while (rs_flush_(r, true, &err) < 0 && r->n_pend && !r->c && cdx_now_ns() < until)
			sleep_ms(200);
		if (r->n_pend && rs_spill(r, err.msg, &err) < 0)
			fprintf(stderr, "cdx: error: %zu records could not be spilled: %s\n", r->n_pend,
				err.msg);
	}
	if (r->spill && r->spill->ops->flush(r->spill, &err) < 0)
		fprintf(stderr, "cdx: error: cannot write spilled records: %s\n", err.msg);
	rs_free(r);
}

static const struct cdx_store_ops redis_ops = {
    .append = rs_append,
    .flush = rs_flush,
    .scan = rs_scan,
    .pending = rs_pending,
    .close = rs_close,
    .lock = rs_lock,
    .renew = rs_renew,
    .unlock = rs_unlock,
    .holder = rs_holder,
    .append_fenced = rs_append_fenced,
    .tail = rs_tail,
    .scan_runs = rs_scan_runs,
};

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
	if (rs_connect(r, err) < 0)
		goto fail;
	*out = &r->base;
	return 0;
fail:
	rs_free(r);
	return -1;
}
