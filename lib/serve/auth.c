/* auth.c — who may act through cdx serve: the token, browser sessions and
 * their CSRF tokens.
 *
 * The token is the first line of --token-file.  A script sends it as
 * "Authorization: Bearer TOKEN".  A browser posts it once to /login and
 * gets a session: a random 256-bit id in a cookie (HttpOnly,
 * SameSite=Strict, Path=/) and a second random value, the CSRF token,
 * that the pages carry in a <meta> and the script sends back as the
 * X-CSRF-Token header with every action; the cookie alone never acts.
 * Every comparison of a secret is constant-time (srv_ct_equal).  Sessions
 * live in memory, at most SESSIONS of them for SESSION_MS each, the
 * oldest replaced first; a restart of the server logs everyone out.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "serve/http.h"

#define SESSIONS 64
#define SESSION_MS (12LL * 3600 * 1000)
#define TOKEN_MAX 512

struct session {
	char id[65];   /* hex of 32 random bytes; "" = free */
	char csrf[65]; /* hex of 32 random bytes */
	int64_t since_ms;
};

struct srv_auth {
	char token[TOKEN_MAX + 1];
	pthread_mutex_t mu;
	struct session s[SESSIONS];
};

bool srv_ct_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;
	for (i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0 && lb > 0;
}

struct srv_auth *srv_auth_new(const char *file, struct cdx_error *err)
{
	struct srv_auth *a;
	FILE *f = fopen(file, "r");
	size_t n;
	if (!f) {
		cdx_error_set(err, CDX_EUSAGE, "cannot read token file %s: %s", file, strerror(errno));
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !fgets(a->token, sizeof(a->token), f)) {
		fclose(f);
		free(a);
		cdx_error_set(err, CDX_EUSAGE, "token file %s is empty", file);
		return NULL;
	}
	fclose(f);
	n = strcspn(a->token, "\r\n");
	a->token[n] = '\0';
	if (n < 16) {
		free(a);
		cdx_error_set(err, CDX_EUSAGE, "the token of %s is shorter than 16 characters", file);
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	return a;
}

void srv_auth_free(struct srv_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	explicit_bzero(a, sizeof(*a));
	free(a);
}

static int random_hex(char out[65])
{
	unsigned char r[32];
	size_t i;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* the session of Q's cookie (copied into *OUT under the lock) */
static bool session_of(struct srv_req *q, struct session *out)
{
	struct srv_auth *a = q->srv->auth;
	const char *id = srv_cookie(q, "cdx_session");
	int64_t now = cdx_wall_ms();
	bool found = false;
	size_t i;
	if (!a || !id || strlen(id) != 64)
		return false;
	pthread_mutex_lock(&a->mu);
	for (i = 0; i < SESSIONS; i++) {
		/* every slot compared, so that the time says nothing of which */
		bool eq = a->s[i].id[0] && srv_ct_equal(a->s[i].id, id);
		if (eq && now - a->s[i].since_ms < SESSION_MS) {
			*out = a->s[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&a->mu);
	return found;
}

const char *srv_auth_csrf(struct srv_req *q, char *buf, size_t n)
{
	struct session se;
	if (!session_of(q, &se))
		return NULL;
	snprintf(buf, n, "%s", se.csrf);
	return buf;
}

bool srv_auth_check(struct srv_req *q, char *who, size_t n)
{
	struct srv_auth *a = q->srv->auth;
	const char *h, *csrf;
	struct session se;
	if (!a)
		return false;
	h = srv_header(q, "Authorization");
	if (h && strncmp(h, "Bearer ", 7) == 0) {
		if (!srv_ct_equal(a->token, h + 7))
			return false;
		snprintf(who, n, "token from %s", q->peer);
		return true;
	}
	csrf = srv_header(q, "X-CSRF-Token");
	if (!csrf || !session_of(q, &se) || !srv_ct_equal(se.csrf, csrf))
		return false;
	snprintf(who, n, "session from %s", q->peer);
	return true;
}

/* the value of field NAME in the urlencoded form BODY, decoded into BUF */
static bool form_field(const char *body, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);
	const char *p = body;
	while (*p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = len - nl - 1, i;
			if (vl >= n)
				return false;
			memcpy(buf, p + nl + 1, vl);
			buf[vl] = '\0';
			for (i = 0; buf[i]; i++)
				if (buf[i] == '+')
					buf[i] = ' ';
			MHD_http_unescape(buf);
			return true;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

static void login_page(struct srv_reply *r, int status, const char *msg)
{
	r->status = status;
	r->type = "text/html; charset=utf-8";
	cdx_buf_adds(&r->body,
		     "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cdx — log "
		     "in</title><link rel=\"stylesheet\" href=\"/static/cdx.css\"></head><body><main>"
		     "<h1>cdx serve — log in</h1>");
	if (msg)
		cdx_buf_printf(&r->body, "<p class=\"flash bad\">%s</p>", msg); /* static text only */
	cdx_buf_adds(&r->body,
		     "<form method=\"post\" action=\"/login\"><label>token <input type=\"password\" "
		     "name=\"token\" autocomplete=\"current-password\"></label> <button type=\"submit\">log "
		     "in</button></form><p><a href=\"/\">back</a></p></main></body></html>\n");
}

bool srv_auth_route(struct srv_req *q, struct srv_reply *r)
{
	struct srv_auth *a = q->srv->auth;
	char tok[TOKEN_MAX + 1];
	size_t i, old = 0;
	struct session se;
	if (q->n_seg != 1 || (strcmp(q->seg[0], "login") != 0 && strcmp(q->seg[0], "logout") != 0))
		return false;
	if (strcmp(q->seg[0], "logout") == 0) {
		if (strcmp(q->method, "POST") != 0) {
			srv_error_json(r, 405, "log out with POST");
			return true;
		}
		r->status = 303;
		r->location = "/";
		r->set_cookie = cdx_xstrdup("cdx_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict");
		return true;
	}
	if (!a) {
		login_page(r, 403, "read-only: cdx serve was started without --token-file");
		return true;
	}
	if (strcmp(q->method, "GET") == 0) {
		login_page(r, 200, NULL);
		return true;
	}
	if (!form_field(q->body, "token", tok, sizeof(tok)) || !srv_ct_equal(a->token, tok)) {
		explicit_bzero(tok, sizeof(tok));
		login_page(r, 403, "wrong token");
		if (q->srv->log)
			fprintf(q->srv->log, "cdx serve: a login from %s failed\n", q->peer);
		return true;
	}
	explicit_bzero(tok, sizeof(tok));
	if (random_hex(se.id) < 0 || random_hex(se.csrf) < 0) {
		srv_error_json(r, 500, "no randomness for a session");
		return true;
	}
	se.since_ms = cdx_wall_ms();
	pthread_mutex_lock(&a->mu);
	for (i = 0; i < SESSIONS; i++) {
		if (!a->s[i].id[0]) {
			old = i;
			break;
		}
		if (a->s[i].since_ms < a->s[old].since_ms)
			old = i;
	}
	a->s[old] = se;
	pthread_mutex_unlock(&a->mu);
	r->status = 303;
	r->location = "/";
	r->set_cookie = cdx_xasprintf("cdx_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld",
				      se.id, SESSION_MS / 1000);
	return true;
}
