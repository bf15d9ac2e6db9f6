/* hook.c — running hooks and commands for deployments (see hook.h), and
 * the environments they get.
 *
 * A hook is one process of the runner (runner.h: cdx_runner_run_one), so
 * it gets what every child of cdx gets — a session of its own, the
 * parent-death signal, the marker, SIGTERM then SIGKILL to its group on a
 * timeout — with three differences from a job attempt: it runs as `sh -c
 * CMD` (no -e), it keeps what it starts (CDX_PROC_KEEP: no sweep, and
 * nothing waits for a pipe a service holds open), and its stdout and
 * stderr go to our stderr, stdout into a pipe only when it is captured.
 * cdx_hook_run_opts is the one way to run one; cdx_hook_run and
 * cdx_hook_run_tick fill its options for their callers.
 * A deployment's commands name it as their owner (cdx_hook_run_tick), so
 * that what they leave can be found when its cdx was killed.
 */
#include "exec/hook.h"

#include <stdlib.h>
#include <string.h>

#include "exec/runner.h"
#include "state/store.h"

extern char **environ;

#define GRACE_MS 5000

static size_t find(const struct cdx_envv *e, const char *name)
{
	size_t i, n = strlen(name);
	for (i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, n) == 0 && e->v[i][n] == '=')
			return i;
	return e->n;
}

void cdx_envv_set(struct cdx_envv *e, const char *name, const char *value)
{
	size_t i = find(e, name);
	char *s = cdx_xasprintf("%s=%s", name, value);
	if (i < e->n) {
		free(e->v[i]);
		e->v[i] = s;
		return;
	}
	cdx_grow(&e->v, &e->cap, e->n + 2, sizeof(char *));
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
}

char *cdx_env_inherit(const char *kv)
{
	static const char state[] = "CDX_STATE=";
	char *pub, *s;
	if (strncmp(kv, state, sizeof(state) - 1) != 0)
		return cdx_xstrdup(kv);
	pub = cdx_store_url_public(kv + sizeof(state) - 1, NULL);
	s = cdx_xjoin3(state, "", pub);
	free(pub);
	return s;
}

void cdx_envv_from_environ(struct cdx_envv *e)
{
	char **p;
	memset(e, 0, sizeof(*e));
	cdx_grow(&e->v, &e->cap, 1, sizeof(char *));
	e->v[0] = NULL;
	for (p = environ; *p; p++) {
		if (!strchr(*p, '='))
			continue;
		cdx_grow(&e->v, &e->cap, e->n + 2, sizeof(char *));
		e->v[e->n++] = cdx_env_inherit(*p);
		e->v[e->n] = NULL;
	}
}

const char *cdx_envv_get(const struct cdx_envv *e, const char *name)
{
	size_t i = find(e, name);
	return i < e->n ? e->v[i] + strlen(name) + 1 : NULL;
}

void cdx_envv_free(struct cdx_envv *e)
{
	size_t i;
	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

char *cdx_expand(const char *s, const struct cdx_envv *e)
{
	struct cdx_buf b = {0};
	while (*s) {
		const char *end;
		if (s[0] == '$' && s[1] == '$') {
			cdx_buf_addc(&b, '$');
			s += 2;
		} else if (s[0] == '$' && s[1] == '{' && (end = strchr(s + 2, '}'))) {
			char *name = cdx_xstrndup(s + 2, (size_t)(end - s - 2));
			const char *v = cdx_envv_get(e, name);
			if (v)
				cdx_buf_adds(&b, v);
			free(name);
			s = end + 1;
		} else {
			cdx_buf_addc(&b, *s++);
		}
	}
	cdx_buf_addc(&b, '\0');
	return cdx_buf_detach(&b);
}

/* capture: what cdx_hook_run keeps of a command's stdout */
struct capture {
	struct cdx_buf b;
	size_t max; /* bytes kept at most; the rest is read and dropped */
};

static void keep_output(void *ctx, uint64_t token, const char *data, size_t len)
{
	struct capture *c = ctx;
	(void)token;
	if (c->b.len < c->max)
		cdx_buf_add(&c->b, data, len < c->max - c->b.len ? len : c->max - c->b.len);
}

int cdx_hook_run_opts(const char *cmd, char *const *envp, const char *cwd, const struct cdx_hook_opts *o,
		      int *status, struct cdx_error *err)
{
	struct capture cap = {{0}, o->outmax};
	struct cdx_proc_spec spec = {0};
	struct cdx_proc_watch w = {0};
	struct cdx_proc_result res;
	struct cdx_error e = {0};

	spec.script = cmd;
	spec.envp = envp;
	spec.cwd = cwd;
	spec.input = o->input;
	spec.input_len = o->input_len;
	spec.timeout_ms = o->timeout_ms;
	spec.grace_ms = GRACE_MS;
	spec.output = o->out ? CDX_PROC_OUT_STDOUT : CDX_PROC_OUT_STDERR;
	spec.flags = CDX_PROC_KEEP | CDX_PROC_NO_ERREXIT;
	spec.owner = o->owner;
	w.cancel = o->cancel;
	w.tick = o->tick;
	w.tick_ctx = o->tick_ctx;
	w.tick_ms = o->tick_ms;
	w.out = o->out ? keep_output : NULL;
	w.out_ctx = &cap;
	if (cdx_runner_run_one(&spec, &w, &res, &e) < 0) {
		cdx_buf_free(&cap.b);
		return cdx_error_set(err, e.code, "cannot run '%s': %s", cmd, e.msg);
	}
	if (o->out) {
		cdx_buf_addc(&cap.b, '\0');
		*o->out = cdx_buf_detach(&cap.b);
	}
	switch (res.end) {
	case CDX_PROC_TIMEDOUT: *status = CDX_HOOK_TIMEDOUT; break;
	case CDX_PROC_CANCELLED: *status = 128 + SIGTERM; break;
	default: *status = res.exit_code; break; /* exit code, 128 + signal; 126 when it could not start */
	}
	return 0;
}

int cdx_hook_run(const char *cmd, char *const *envp, const char *cwd, int64_t timeout_ms,
		 volatile sig_atomic_t *cancel, char **out, size_t outmax, int *status, struct cdx_error *err)
{
	return cdx_hook_run_tick(cmd, envp, cwd, timeout_ms, cancel, out, outmax, status, NULL, NULL, 0, NULL, err);
}

int cdx_hook_run_tick(const char *cmd, char *const *envp, const char *cwd, int64_t timeout_ms,
		      volatile sig_atomic_t *cancel, char **out, size_t outmax, int *status, void (*tick)(void *),
		      void *tick_ctx, int64_t tick_ms, const char *owner, struct cdx_error *err)
{
	struct cdx_hook_opts o = {0};
	o.timeout_ms = timeout_ms;
	o.cancel = cancel;
	o.out = out;
	o.outmax = outmax;
	o.tick = tick;
	o.tick_ctx = tick_ctx;
	o.tick_ms = tick_ms;
	o.owner = owner;
	return cdx_hook_run_opts(cmd, envp, cwd, &o, status, err);
}
