/* serve.h — cdx serve: a live dashboard and JSON API over the state store.
 *
 * cdx_serve_run listens on one address with libmicrohttpd (a thread per
 * connection, so that a slow client holds only its own thread), and
 * answers the routes of cdx(1)'s serve entry: HTML pages (pages.c), the
 * same data as JSON under /api/ (api.c, built by the functions behind the
 * CLI's --json), /metrics (cdx metrics --prometheus), /events (server-sent
 * events fed by the store's tail, events.c) and POST actions that need
 * the token (auth.c).  It returns when one of the signals STOP arrives.
 */
#ifndef CDX_SERVE_H
#define CDX_SERVE_H

#include <signal.h>
#include <stdio.h>

#include "base/util.h"

struct cJSON;
struct cdx_orchestrator;

struct cdx_serve_options {
	const char *listen;     /* "ADDR:PORT" ("[V6]:PORT"); NULL: 127.0.0.1:8080 */
	const char *token_file; /* the token for actions, or NULL: read-only */
	const char *config;     /* the project file (cdx.yml), for deployments */
	const char *state;      /* the state URL */
	FILE *log;              /* "listening on URL" and one line per action */
	/* after a rollback that took the traffic from a slot: SD is the
	 * result's "scale_down" {slot, version, delay_ms}; the tool stops that
	 * slot as cdx rollback does (cli_schedule_scale_down).  NULL: the slot
	 * stays until a `cdx scale-down` */
	void (*scale_down)(void *ctx, struct cdx_orchestrator *o, const char *app, const char *env,
			   const struct cJSON *sd);
	void *scale_down_ctx;
};

/* cdx_serve_run: serve until one of the signals of STOP arrives (sigwait):
 * the caller blocks them first, before any thread starts, so that they
 * reach nobody else (a rollback run by the server sets handlers of its
 * own for the time it runs).  0 then; -1 with ERR set: CDX_EUSAGE for a bad address, a token file
 * that cannot be read or is empty, or a non-loopback address without a
 * token; CDX_ESTATE when the store cannot be opened; CDX_EFAILED when the
 * address cannot be bound. */
int cdx_serve_run(const struct cdx_serve_options *o, const sigset_t *stop, struct cdx_error *err);

#endif /* CDX_SERVE_H */
