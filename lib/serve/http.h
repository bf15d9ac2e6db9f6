/* http.h — what the files of cdx serve share: the server, one request as
 * the routes see it, and the reply helpers (http.c).
 *
 * A route handler fills a struct srv_reply (status, content type, body,
 * extra headers); http.c turns it into a libmicrohttpd response and adds
 * the headers every answer carries (Content-Security-Policy,
 * X-Content-Type-Options, Referrer-Policy, Cache-Control).  Every handler
 * is called on its connection's own thread; what they share (the event
 * hub, the sessions) is behind a mutex.
 */
#ifndef CDX_SERVE_HTTP_H
#define CDX_SERVE_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"

struct cJSON;
struct MHD_Connection;
struct MHD_Response;
struct srv_hub;
struct srv_auth;

struct srv {
	const char *config;                  /* project file (cdx.yml) */
	const char *state;                   /* state URL */
	const char *log_dir;                 /* where the store keeps attempt logs */
	struct srv_auth *auth;               /* NULL: read-only (no --token-file) */
	struct srv_hub *hub;                 /* the store's records as they come */
	pthread_mutex_t act_mu;              /* one action at a time */
	FILE *log;                           /* actions done, or NULL */
	const struct cdx_serve_options *opt; /* as given to cdx_serve_run */
	volatile int stopping;               /* set once; event streams end */
};

#define SRV_MAX_SEGS 8

struct srv_req {
	struct srv *srv;
	struct MHD_Connection *conn;
	const char *method;      /* "GET", "HEAD", "POST" */
	const char *path;        /* as requested, decoded */
	char *seg[SRV_MAX_SEGS]; /* path split on '/', each a checked name */
	size_t n_seg;
	const char *body; /* a POST's body (at most SRV_BODY_MAX bytes), or "" */
	size_t body_len;
	char peer[64]; /* the client's address */
};

/* a request body larger than this is refused (413) */
#define SRV_BODY_MAX 4096

struct srv_reply {
	int status;                  /* HTTP status */
	const char *type;            /* Content-Type */
	struct cdx_buf body;         /* owned, freed after sending */
	char *set_cookie;            /* a Set-Cookie value (malloc'd), or NULL */
	const char *location;        /* a redirect target (static), or NULL */
	struct MHD_Response *stream; /* an event stream instead of BODY */
	char *attachment;            /* download as this file name (malloc'd), or NULL */
};

/* srv_json: REPLY is O (consumed) printed, with STATUS */
void srv_json(struct srv_reply *r, int status, struct cJSON *o);
/* srv_error_json: REPLY is {"error": MSG} with STATUS */
void srv_error_json(struct srv_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* srv_query: the query argument NAME of the request, or NULL */
const char *srv_query(const struct srv_req *q, const char *name);
/* srv_header: request header NAME, or NULL */
const char *srv_header(const struct srv_req *q, const char *name);
/* srv_cookie: cookie NAME, or NULL */
const char *srv_cookie(const struct srv_req *q, const char *name);

/* ---- api.c: JSON (NULL with ERR set; caller frees with cJSON_Delete) -- */
struct cJSON *srv_api_runs(struct srv *s, const char *pipeline, size_t limit, struct cdx_error *err);
struct cJSON *srv_api_run(struct srv *s, const char *run, struct cdx_error *err);
struct cJSON *srv_api_pipeline(struct srv *s, const char *pipeline, struct cdx_error *err);
struct cJSON *srv_api_deployments(struct srv *s, struct cdx_error *err);
struct cJSON *srv_api_environment(struct srv *s, const char *app, const char *env, struct cdx_error *err);
struct cJSON *srv_api_workers(struct srv *s, struct cdx_error *err);
struct cJSON *srv_api_alerts(struct srv *s, struct cdx_error *err);
/* srv_api_artifacts: the files job JOB (STAGE/JOB) of RUN kept (its
 * artifacts), [{path, type, size}]; NULL with ERR (CDX_EFAILED: none) */
struct cJSON *srv_api_artifacts(struct srv *s, const char *run, const char *job, struct cdx_error *err);
/* srv_api_route: the /api/... and /metrics routes; false when Q is not one */
bool srv_api_route(struct srv_req *q, struct srv_reply *r);

/* ---- pages.c ------------------------------------------------------------ */
/* srv_pages_route: the HTML pages, /login, /static/...; false when not one */
bool srv_pages_route(struct srv_req *q, struct srv_reply *r);

/* ---- events.c ----------------------------------------------------------- */
/* srv_hub_start: the thread that follows the store's tail; -1 with ERR */
int srv_hub_start(struct srv *s, struct cdx_error *err);
/* srv_hub_stop: end the thread (the streams end within a second);
 * srv_hub_free: the ring, once no stream is left (after MHD_stop_daemon) */
void srv_hub_stop(struct srv *s);
void srv_hub_free(struct srv *s);
/* srv_events_route: /events and /events/log/RUN/STAGE/JOB; false when not one */
bool srv_events_route(struct srv_req *q, struct srv_reply *r);

/* ---- auth.c ------------------------------------------------------------- */
/* srv_auth_new: the token of FILE (its first line); NULL with ERR */
struct srv_auth *srv_auth_new(const char *file, struct cdx_error *err);
void srv_auth_free(struct srv_auth *a);
/* srv_auth_check: whether request Q may act: a bearer token, or a session
 * cookie with its CSRF token (header X-CSRF-Token); *WHO says which, for
 * the record ("token from ADDR", "session from ADDR") */
bool srv_auth_check(struct srv_req *q, char *who, size_t n);
/* srv_auth_csrf: the CSRF token of Q's session, or NULL (no session) */
const char *srv_auth_csrf(struct srv_req *q, char *buf, size_t n);
/* srv_auth_route: POST /login, POST /logout; false when not one */
bool srv_auth_route(struct srv_req *q, struct srv_reply *r);
/* srv_ct_equal: A and B equal, in time that depends on their lengths only */
bool srv_ct_equal(const char *a, const char *b);

/* ---- assets.c ----------------------------------------------------------- */
extern const char srv_script[];
extern const char srv_style[];

#endif /* CDX_SERVE_HTTP_H */
