/* http.c — the HTTP server of cdx serve: libmicrohttpd set up, requests
 * read and checked, routed to the pages, the API, the event streams and
 * the login, and every answer given the same security headers.
 *
 * libmicrohttpd parses HTTP; this file never does.  It runs a thread per
 * connection (MHD_USE_THREAD_PER_CONNECTION): an event stream or a slow
 * client blocks only its own thread, and every connection is bounded:
 * at most SRV_CONNECTIONS at once, SRV_TIMEOUT_S of silence, 32 KiB of
 * memory for a request's headers, SRV_BODY_MAX bytes of body.  A path is
 * split on '/' and every segment must be a name (cdx_name_valid:
 * [A-Za-z0-9_.-], not "." or ".."), so that nothing in a path can reach
 * a file, a key or a page unchecked: anything else is a 404.
 */
#include <ctype.h>
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve/http.h"
#include "serve/serve.h"
#include "state/store.h"

#define SRV_CONNECTIONS 512
#define SRV_TIMEOUT_S 60

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
			  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

void srv_json(struct srv_reply *r, int status, cJSON *o)
{
	char *s = cJSON_Print(o);
	r->status = status;
	r->type = "application/json";
	cdx_buf_adds(&r->body, s ? s : "null");
	cdx_buf_addc(&r->body, '\n');
	free(s);
	cJSON_Delete(o);
}

void srv_error_json(struct srv_reply *r, int status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	cJSON *o = cJSON_CreateObject();
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(o, "error", msg);
	srv_json(r, status, o);
}

const char *srv_query(const struct srv_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(const struct srv_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

const char *srv_cookie(const struct srv_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_COOKIE_KIND, name);
}

/* a connection's request in progress: its body so far */
struct conn_state {
	struct cdx_buf body;
	bool too_big;
};

/* split PATH into Q's segments; false when a segment is not a name or
 * there are too many (the answer is then 404) */
static bool split_path(struct srv_req *q, char *copy)
{
	char *p = copy, *slash;
	q->n_seg = 0;
	if (*p != '/')
		return false;
	p++;
	while (*p) {
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (*p) {
			if (q->n_seg == SRV_MAX_SEGS || !cdx_name_valid(p))
				return false;
			q->seg[q->n_seg++] = p;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	return true;
}

static void peer_of(struct MHD_Connection *c, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(buf, n, "?");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
			  buf, (socklen_t)n);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
			  buf, (socklen_t)n);
}

static void add_common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct srv_reply *r, bool head)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	if (r->stream) {
		resp = r->stream;
	} else {
		size_t len = r->body.len;
		char *data = cdx_buf_detach(&r->body);
		resp = MHD_create_response_from_buffer(head ? 0 : len, data, MHD_RESPMEM_MUST_FREE);
		if (head)
			free(data);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Content-Type",
					r->type ? r->type : "text/plain; charset=utf-8");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	}
	add_common_headers(resp);
	if (r->set_cookie)
		MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
	if (r->location)
		MHD_add_response_header(resp, "Location", r->location);
	if (r->attachment) {
		/* the name as plain characters only: nothing of it is syntax */
		struct cdx_buf cd = {0};
		const char *ch;
		cdx_buf_adds(&cd, "attachment; filename=\"");
		for (ch = r->attachment; *ch; ch++)
			cdx_buf_addc(&cd, isalnum((unsigned char)*ch) || strchr("._-", *ch) ? *ch : '_');
		cdx_buf_addc(&cd, '"');
		MHD_add_response_header(resp, "Content-Disposition", cd.data);
		cdx_buf_free(&cd);
		free(r->attachment);
	}
	ret = MHD_queue_response(c, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	free(r->set_cookie);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size,
				  void **con_cls)
{
	struct srv *s = cls;
	struct conn_state *cs = *con_cls;
	struct srv_req q = {0};
	struct srv_reply r = {0};
	char *copy;
	bool head;
	enum MHD_Result ret;
	(void)version;
	if (!cs) { /* the headers are in: look at the body next */
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return MHD_NO;
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_size) {
		if (cs->body.len + *upload_size > SRV_BODY_MAX)
			cs->too_big = true;
		else
			cdx_buf_add(&cs->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	head = strcmp(method, "HEAD") == 0;
	q.srv = s;
	q.conn = c;
	q.method = head ? "GET" : method;
	q.path = url;
	q.body = cs->body.data ? cs->body.data : "";
	q.body_len = cs->body.len;
	peer_of(c, q.peer, sizeof(q.peer));
	copy = cdx_xstrdup(url);
	if (cs->too_big)
		srv_error_json(&r, 413, "request body over %d bytes", SRV_BODY_MAX);
	else if (strcmp(q.method, "GET") != 0 && strcmp(q.method, "POST") != 0)
		srv_error_json(&r, 405, "method %s not allowed", strlen(method) < 16 ? method : "?");
	else if (strlen(url) > 1024 || !split_path(&q, copy))
		srv_error_json(&r, 404, "no such page");
	else if (!srv_auth_route(&q, &r) && !srv_events_route(&q, &r) && !srv_api_route(&q, &r) &&
		 !srv_pages_route(&q, &r))
		srv_error_json(&r, 404, "no such page");
	ret = send_reply(c, &r, head);
	cdx_buf_free(&r.body);
	free(copy);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (cs) {
		cdx_buf_free(&cs->body);
		free(cs);
		*con_cls = NULL;
	}
}

/* parse "ADDR:PORT" / "[V6]:PORT" into *AI (freeaddrinfo) */
static int parse_listen(const char *listen, struct addrinfo **ai, struct cdx_error *err)
{
	char host[256];
	const char *port;
	struct addrinfo hints = {0};
	int rc;
	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof(host))
			goto bad;
		memcpy(host, listen + 1, (size_t)(end - listen - 1));
		host[end - listen - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(listen, ':');
		if (!colon || (size_t)(colon - listen) >= sizeof(host))
			goto bad;
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
		port = colon + 1;
	}
	if (!*host || !*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    atoi(port) > 65535)
		goto bad;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, ai);
	if (rc) {
		cdx_error_set(err, CDX_EUSAGE, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	return 0;
bad:
	cdx_error_set(err, CDX_EUSAGE, "'%s' is not ADDR:PORT", listen);
	return -1;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	FILE *f = cls;
	/* a client that left an event stream is no news */
	if (!f || strstr(fmt, "chunked response body"))
		return;
	fputs("cdx serve: ", f);
	vfprintf(f, fmt, ap);
	fflush(f);
}

int cdx_serve_run(const struct cdx_serve_options *o, const sigset_t *stop, struct cdx_error *err)
{
	struct srv s = {0};
	struct addrinfo *ai = NULL;
	struct cdx_store *st = NULL;
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *di;
	char host[INET6_ADDRSTRLEN] = "?";
	int rc = -1;
	unsigned flags;
	if (parse_listen(o->listen ? o->listen : "127.0.0.1:8080", &ai, err) < 0)
		return -1;
	if (!is_loopback(ai->ai_addr) && !o->token_file) {
		cdx_error_set(
		    err, CDX_EUSAGE,
		    "refusing to listen on %s, which is not a loopback address, without --token-file",
		    o->listen);
		goto out;
	}
	if (o->token_file) {
		s.auth = srv_auth_new(o->token_file, err);
		if (!s.auth)
			goto out;
	}
	if (cdx_store_open_read(o->state, &st, err) != CDX_OPEN_OK) {
		if (!st && !err->code)
			cdx_error_set(err, CDX_ESTATE, "nothing is recorded in %s yet", o->state);
		goto out;
	}
	s.config = o->config;
	s.state = o->state;
	s.log_dir = st->log_dir;
	s.log = o->log;
	s.opt = o;
	pthread_mutex_init(&s.act_mu, NULL);
	if (srv_hub_start(&s, err) < 0)
		goto out_mu;
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
		(ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
			     (void *)o->log, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
			     (unsigned)SRV_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned)SRV_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
			     MHD_OPTION_THREAD_STACK_SIZE, (size_t)262144, MHD_OPTION_NOTIFY_COMPLETED,
			     on_completed, &s, MHD_OPTION_END);
	if (!d) {
		cdx_error_set(err, CDX_EFAILED, "cannot listen on %s: %s",
			      o->listen ? o->listen : "127.0.0.1:8080", strerror(errno));
		goto out_hub;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (ai->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, host,
			  sizeof(host));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, host,
			  sizeof(host));
	if (o->log) {
		fprintf(o->log, "cdx serve: listening on http://%s%s%s:%u/ (%s)\n",
			ai->ai_family == AF_INET6 ? "[" : "", host, ai->ai_family == AF_INET6 ? "]" : "",
			di ? (unsigned)di->port : 0,
			s.auth ? "actions need the token" : "read-only: no --token-file");
		fflush(o->log);
	}
	{
		int sig;
		sigwait(stop, &sig);
		if (o->log)
			fprintf(o->log, "cdx serve: stopping (%s)\n", strsignal(sig));
	}
	rc = 0;
	s.stopping = 1;
	srv_hub_stop(&s); /* wakes the event streams, so that their threads end */
	MHD_stop_daemon(d);
	srv_hub_free(&s);
	goto out_mu;
out_hub:
	s.stopping = 1;
	srv_hub_stop(&s);
	srv_hub_free(&s);
out_mu:
	pthread_mutex_destroy(&s.act_mu);
out:
	srv_auth_free(s.auth);
	if (st)
		cdx_store_close(st);
	if (ai)
		freeaddrinfo(ai);
	return rc;
}
