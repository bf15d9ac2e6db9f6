/* rs_append.c — records of the Redis store (see rs.h and the design in
 * store_redis.c): each record's compact JSON and fields buffered by
 * append(), sent by flush() in batches of append.lua commands written
 * straight into the protocol, pipelined and acknowledged; held while the
 * server is away and spilled to a local file store when they cannot be
 * held any longer. */
#include "redis/rs.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- records --------------------------------------------------------------- */

/* free what X holds (not X itself) */
void cdx_rs_rec_free(struct rs_rec *x)
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
		char *e = tmp + sizeof(tmp),
		     *p = digits(e, v < 0 ? (unsigned long long)-v : (unsigned long long)v);
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
		if (((v - ones * 0x20) | ((v ^ (ones * '"')) - ones) | ((v ^ (ones * '\\')) - ones)) & ~v &
		    high)
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

/* REC buffered into X (free with cdx_rs_rec_free): its JSON, type, pipeline and
 * run key (only run, run_end, attempt and job records have one), picked up
 * in one pass over its fields (the first of a duplicated name counts, as
 * with cJSON_GetObjectItemCaseSensitive).  SCRATCH is a buffer of the
 * caller's, reused.  -1 with ERR set when REC cannot be serialised. */
int cdx_rs_rec_make(const cJSON *rec, struct rs_rec *x, struct cdx_buf *scratch, struct cdx_error *err)
{
	const cJSON *c, *ft = NULL, *fid = NULL, *frun = NULL, *fpl = NULL, *fjob = NULL, *fst = NULL,
			*fdur = NULL;
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
	    cJSON_IsNumber(fdur) && isfinite(fdur->valuedouble) && fdur->valuedouble >= 0 &&
	    fdur->valuedouble < 1e15)
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
	if (r->log_pending && cdx_rs_log_settle(r, err) < 0)
		return -1; /* queued log pieces go first, and their replies are read */
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
				cdx_rs_drop(r);
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
		char why[128];
		cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr, cdx_rs_errstr(r, why, sizeof(why)));
		cdx_rs_drop(r);
		return -1;
	}
	return 0;
}

/* one fenced record, synchronously: 0 written, 1 refused, -1 error */
enum cdx_fenced_result cdx_rs_send_fenced(struct redis_store *r, const struct rs_rec *x, const char *name,
					  unsigned long long token, const char *secret, struct cdx_error *err)
{
	char tok[24], batch[33];
	redisReply *rep = NULL;
	enum cdx_fenced_result rc = CDX_FENCED_ERROR;
	int tries;
	snprintf(tok, sizeof(tok), "%llu", token);
	cdx_rs_random_hex(batch, 16);
	append_cmd(r, x, 1, name, tok, secret, batch, &r->cmd);
	for (tries = 0; tries < 2; tries++) {
		void *v = NULL;
		if (!r->c) {
			cdx_error_set(err, CDX_ESTATE, "not connected to redis at %s", r->addr);
			break;
		}
		if (r->fl_written && cdx_rs_drain(r, err) < 0 && !r->c)
			break;
		if (rs_write_cmd(r, &r->cmd, err) < 0)
			break;
		if (redisGetReply(r->c, &v) != REDIS_OK || !v) {
			char why[128];
			cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr,
				      cdx_rs_errstr(r, why, sizeof(why)));
			cdx_rs_drop(r);
			break;
		}
		rep = v;
		if (rep->type != REDIS_REPLY_ERROR) {
			rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == -1 ? CDX_FENCED_REFUSED
										    : CDX_FENCED_WRITTEN;
			break;
		}
		if (tries == 0 && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(rep);
			rep = NULL;
			if (cdx_rs_load_script(r, SCRIPT_APPEND, err) < 0)
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
		char why[128];
		cdx_error_set(err, CDX_ESTATE, "lost redis at %s: %s", r->addr, cdx_rs_errstr(r, why, sizeof(why)));
		cdx_rs_drop(r);
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
				cdx_rs_drop(r);
				return -1;
			}
			freeReplyObject(v);
		}
		r->fl_written = 0;
		if (noscript && cdx_rs_load_script(r, SCRIPT_APPEND, err) == 0)
			return -2;
		return -1;
	}
	freeReplyObject(rep);
	for (i = 0; i < n; i++)
		cdx_rs_rec_free(&r->pend[i]);
	memmove(r->pend, r->pend + n, (r->n_pend - n) * sizeof(*r->pend));
	r->n_pend -= n;
	r->sent -= n;
	memmove(r->fl, r->fl + 1, (r->n_fl - 1) * sizeof(*r->fl));
	r->n_fl--;
	r->fl_written--;
	return 0;
}

/* read every outstanding reply */
int cdx_rs_drain(struct redis_store *r, struct cdx_error *err)
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
			cdx_rs_random_hex(b.id, 16);
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
int cdx_rs_spill(struct redis_store *r, const char *why, struct cdx_error *err)
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
		cdx_rs_rec_free(x);
	}
	r->n_pend = 0;
	r->n_fl = r->sent = r->fl_written = 0;
	if (rc == 0)
		rc = r->spill->ops->flush(r->spill, err);
	return rc;
}

int cdx_rs_append(struct cdx_store *s, const cJSON *rec, struct cdx_error *err)
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
		if (s->ops->flush(s, &e2) < 0 && cdx_rs_spill(r, why, err) < 0)
			return -1;
		if (r->spill)
			return r->spill->ops->append(r->spill, rec, err);
	}
	if (cdx_rs_rec_make(rec, &x, &r->scratch, err) < 0)
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
int cdx_rs_flush_held(struct redis_store *r, bool force, struct cdx_error *err)
{
	int tries;
	if (r->spill)
		return r->spill->ops->flush(r->spill, err);
	if (!r->n_pend)
		return 0;
	if (cdx_rs_ensure(r, force, err) < 0)
		goto lost;
	for (tries = 0; tries < 2; tries++) {
		int rc = rs_pump(r, true, err);
		if (rc == 0)
			rc = cdx_rs_drain(r, err);
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

int cdx_rs_flush(struct cdx_store *s, struct cdx_error *err)
{
	return cdx_rs_flush_held((struct redis_store *)s, false, err);
}

size_t cdx_rs_pending(struct cdx_store *s)
{
	struct redis_store *r = (struct redis_store *)s;
	return r->spill ? r->spill->ops->pending(r->spill) : r->n_pend;
}
