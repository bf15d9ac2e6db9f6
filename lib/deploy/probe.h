/* probe.h — health checks: http (libcurl), tcp (a connect), command (exit
 * status 0), each tried up to its `retries` attempts with `interval`
 * between them.  The target is expanded with ${VAR} from the environment
 * the hooks see, so one check serves every slot (`http://…:${PORT}/`). */
#ifndef CDX_PROBE_H
#define CDX_PROBE_H

#include <signal.h>

#include "project/environment.h"
#include "exec/hook.h"

struct cdx_probe_result {
	bool ok;          /* healthy */
	int attempts;     /* attempts made */
	char *target;     /* the expanded URL, address or command (caller frees) */
	char detail[256]; /* the last attempt: "HTTP 200", "connection refused", "exit 1" */
};

/* cdx_probe: run check CK with environment E in directory CWD until it
 * passes or its attempts are used up; CANCEL (may be NULL) stops early.
 * A command check runs for OWNER (may be NULL: cdx_hook_run_tick).
 * Always fills R; free R->target. */
void cdx_probe(const struct cdx_check *ck, const struct cdx_envv *e, const char *cwd,
	       volatile sig_atomic_t *cancel, const char *owner, struct cdx_probe_result *r);

/* cdx_check_kind_name: "http", "tcp" or "command" */
const char *cdx_check_kind_name(enum cdx_check_kind k);

#endif /* CDX_PROBE_H */
