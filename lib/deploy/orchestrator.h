/* orchestrator.h — the handle every deployment operation works through:
 * the project file's applications and environments, the state store, and
 * who acts (user and host, recorded in every deployment and lock).  It is
 * opened and freed by cdx_orchestrator_open/_free (deploy.c, include/cdx.h);
 * the rest of lib/deploy reads its fields and never changes them. */
#ifndef CDX_ORCHESTRATOR_H
#define CDX_ORCHESTRATOR_H

#include "cdx.h"
#include "project/environment.h"
#include "state/store.h"

struct cdx_orchestrator {
	struct cdx_project *pr;      /* the loaded project file (owned) */
	const struct cdx_apps *apps; /* its applications, borrowed from pr */
	struct cdx_store *store;     /* the state store (owned) */
	char user[64], host[256];    /* who acts, as cdx_who() says */
	const char *via;             /* on whose behalf, when a server acts for
					a client (cdx serve: "session from ADDR"),
					recorded beside user; NULL: the user */
};

#endif /* CDX_ORCHESTRATOR_H */
