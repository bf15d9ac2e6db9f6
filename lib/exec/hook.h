/* hook.h — running the user's deployment hooks, health-check commands and
 * analysis commands: `sh -c CMD` in a directory with a given environment.
 *
 * Unlike a job attempt (runner.h), a hook may leave processes behind on
 * purpose — a `start` hook starts the service — so nothing is swept after
 * it ends and no pipe is held open by what it starts: its stdout and
 * stderr are our stderr (a command's stdout is captured only when asked,
 * for analysis figures).  The hook is started by the runner (runner.h,
 * CDX_PROC_KEEP): in its own session, with the parent-death signal and the
 * marker CDX_ATTEMPT_KEY; a timeout or a cancellation sends SIGTERM to its
 * process group and SIGKILL five seconds later.
 */
#ifndef CDX_HOOK_H
#define CDX_HOOK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

/* an environment under construction: NAME=VALUE strings, NULL-terminated */
struct cdx_envv {
	char **v;
	size_t n, cap;
};

/* cdx_env_inherit: what a child of cdx (a job, a hook) gets of the entry
 * KV ("NAME=VALUE") of cdx's environment, malloc'd: a copy, except that
 * CDX_STATE loses the credentials of its URL (cdx_store_url_public), so
 * that no child sees the Redis password cdx connects with */
char *cdx_env_inherit(const char *kv);
/* cdx_envv_from_environ: E = a copy of this process's environment, as a
 * child gets it (cdx_env_inherit) */
void cdx_envv_from_environ(struct cdx_envv *e);
/* cdx_envv_set: set NAME to VALUE (replacing it) */
void cdx_envv_set(struct cdx_envv *e, const char *name, const char *value);
/* cdx_envv_get: the value of NAME, or NULL */
const char *cdx_envv_get(const struct cdx_envv *e, const char *name);
void cdx_envv_free(struct cdx_envv *e);

/* cdx_expand: S with ${NAME} replaced by NAME's value in E (unset: empty);
 * "$$" is a "$".  Caller frees. */
char *cdx_expand(const char *s, const struct cdx_envv *e);

/* the status of a hook that ran past its timeout */
#define CDX_HOOK_TIMEDOUT 124

/* How cdx_hook_run_opts runs a command: zero-initialized, a command with
 * no timeout, no cancel flag, no tick, its stdout to our stderr and
 * /dev/null for stdin. */
struct cdx_hook_opts {
	int64_t timeout_ms;            /* killed after this long; <= 0 = no limit */
	volatile sig_atomic_t *cancel; /* polled: non-zero kills it, or NULL */
	char **out;                    /* its stdout captured here, or NULL (see below) */
	size_t outmax;                 /* bytes of stdout kept at most */
	void (*tick)(void *);          /* called about every tick_ms while it runs, or NULL */
	void *tick_ctx;
	int64_t tick_ms;               /* <= 0: every 100 ms */
	const char *input;             /* bytes for its stdin, or NULL for /dev/null */
	size_t input_len;              /* how many bytes of input */
	const char *owner;             /* who answers for what it leaves running, or NULL
					* (cdx_hook_run_tick) */
};

/* cdx_hook_run_opts: run CMD as `sh -c CMD` in CWD (NULL: ours) with the
 * environment ENVP (NULL: ours), as O says, and wait for it; *STATUS = its
 * exit code, 128 + the signal that killed it, CDX_HOOK_TIMEDOUT when it
 * ran past o->timeout_ms, 128 + SIGTERM when *o->cancel became non-zero,
 * 126 when it could not start (its directory).  With o->out non-NULL, its
 * stdout (at most o->outmax bytes kept, NUL-terminated; caller frees
 * *o->out) is captured instead of going to stderr.  With o->input
 * non-NULL its stdin is a pipe that carries those bytes and then ends
 * (runner.h); a command that does not read them all is no error.  0 when
 * it ran; -1 with ERR set when it could not be started. */
int cdx_hook_run_opts(const char *cmd, char *const *envp, const char *cwd, const struct cdx_hook_opts *o,
		      int *status, struct cdx_error *err);

/* cdx_hook_run: cdx_hook_run_opts with the timeout, cancel flag and
 * capture given (no input, no tick) */
int cdx_hook_run(const char *cmd, char *const *envp, const char *cwd, int64_t timeout_ms,
		 volatile sig_atomic_t *cancel, char **out, size_t outmax, int *status, struct cdx_error *err);

/* cdx_hook_run_tick: cdx_hook_run, calling TICK(TICK_CTX) about every
 * TICK_MS while the command runs (a deployment renews its lock so), for
 * OWNER (may be NULL): the deployment that answers for the command and
 * what it leaves running, named in its marker so that recovery can kill
 * them when that deployment's cdx died (runner.h, cdx_runner_kill_owned) */
int cdx_hook_run_tick(const char *cmd, char *const *envp, const char *cwd, int64_t timeout_ms,
		      volatile sig_atomic_t *cancel, char **out, size_t outmax, int *status, void (*tick)(void *),
		      void *tick_ctx, int64_t tick_ms, const char *owner, struct cdx_error *err);

#endif /* CDX_HOOK_H */
