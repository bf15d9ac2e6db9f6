/* ssh_conn.c — remote commands through OpenSSH (ssh_conn.h): the one
 * quoting function, the ssh argv, running it with the one spawner, and
 * telling a refused host key or an unreachable host from a failed
 * command. */
#include "deploy/ssh_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/hook.h"
#include "exec/runner.h"

/* between SIGTERM and SIGKILL of a remote command that ran too long */
#define SSH_GRACE_MS 5000
/* output of a remote command kept for its error message */
#define SSH_OUTMAX (64 * 1024)

void cdx_ssh_conn_init(struct cdx_ssh_conn *c, const struct cdx_host *h, size_t i, const char *config,
		       const char *dir)
{
	memset(c, 0, sizeof(*c));
	c->h = h;
	c->config = config;
	/* by index: a socket path has at most 107 bytes */
	c->control = cdx_xasprintf("%s/%zu", dir, i);
}

/* the options every ssh of C carries, into ARGV (N so far) */
static void common_opts(const struct cdx_ssh_conn *c, char **argv, size_t *n)
{
	argv[(*n)++] = cdx_xstrdup("ssh");
	if (c->config) {
		argv[(*n)++] = cdx_xstrdup("-F");
		argv[(*n)++] = cdx_xstrdup(c->config);
	}
	argv[(*n)++] = cdx_xstrdup("-o");
	argv[(*n)++] = cdx_xstrdup("BatchMode=yes");
	argv[(*n)++] = cdx_xstrdup("-o");
	argv[(*n)++] = cdx_xasprintf("ConnectTimeout=%d", CDX_SSH_CONNECT_TIMEOUT);
	argv[(*n)++] = cdx_xstrdup("-o");
	argv[(*n)++] = cdx_xstrdup("StrictHostKeyChecking=yes");
	argv[(*n)++] = cdx_xstrdup("-o");
	argv[(*n)++] = cdx_xasprintf("ControlPath=%s", c->control);
	if (c->h->port) {
		argv[(*n)++] = cdx_xstrdup("-p");
		argv[(*n)++] = cdx_xasprintf("%d", c->h->port);
	}
}

char **cdx_ssh_conn_argv(const struct cdx_ssh_conn *c, char *const *words)
{
	char **argv = cdx_xcalloc(32, sizeof(char *));
	size_t n = 0;
	common_opts(c, argv, &n);
	argv[n++] = cdx_xstrdup("-o");
	argv[n++] = cdx_xstrdup("ControlMaster=auto");
	argv[n++] = cdx_xstrdup("-o");
	argv[n++] = cdx_xstrdup("ControlPersist=300");
	argv[n++] = cdx_xstrdup("-T");
	argv[n++] = cdx_xstrdup("--");
	argv[n++] = cdx_xstrdup(c->h->ssh);
	argv[n++] = cdx_shq_words(words);
	return argv;
}

struct capture {
	struct cdx_buf b;
	bool echo; /* also to our stderr */
};

static void keep_output(void *ctx, uint64_t token, const char *data, size_t len)
{
	struct capture *c = ctx;
	(void)token;
	if (c->echo && fwrite(data, 1, len, stderr) != len)
		clearerr(stderr);
	if (c->b.len < SSH_OUTMAX)
		cdx_buf_add(&c->b, data, len < SSH_OUTMAX - c->b.len ? len : SSH_OUTMAX - c->b.len);
}

/* C's connection failed with ssh's output OUT: C is down, ERR says why */
static int conn_failed(struct cdx_ssh_conn *c, const char *out, struct cdx_error *err)
{
	const struct cdx_host *h = c->h;
	char port[16] = "";
	if (h->port)
		snprintf(port, sizeof(port), "-p %d ", h->port);
	if (strstr(out, "Host key verification failed") || strstr(out, "HOST IDENTIFICATION HAS CHANGED") ||
	    strstr(out, "No ED25519 host key is known") || strstr(out, "host key is known"))
		snprintf(c->why, sizeof(c->why),
			 "host %s (%s): its host key is unknown or changed, refused (StrictHostKeyChecking); to "
			 "trust it, check its fingerprint and add it to known_hosts: ssh-keyscan %s%s >> "
			 "~/.ssh/known_hosts (or the UserKnownHostsFile of your ssh_config)",
			 h->name, h->ssh, port, h->addr);
	else {
		const char *line = out;
		size_t l;
		/* the last non-empty line of ssh's output says why */
		while (*line) {
			const char *nl = strchr(line, '\n');
			if (!nl || !nl[1])
				break;
			line = nl + 1;
		}
		l = strcspn(line, "\r\n");
		snprintf(c->why, sizeof(c->why), "host %s (%s) is unreachable: %.*s", h->name, h->ssh,
			 (int)(l > 300 ? 300 : l), l ? line : "ssh failed");
	}
	c->down = true;
	return cdx_error_set(err, CDX_EFAILED, "%s", c->why);
}

int cdx_ssh_conn_run(struct cdx_ssh_conn *c, char *const *words, const struct cdx_ssh_run *r,
		     struct cdx_error *err)
{
	struct capture cap = {{0}, r->out == NULL && r->echo};
	struct cdx_proc_spec spec = {0};
	struct cdx_proc_watch w = {0};
	struct cdx_proc_result res;
	struct cdx_error e = {0};
	char **argv;
	int status;
	if (c->down)
		return cdx_error_set(err, CDX_EFAILED, "%s", c->why);
	argv = cdx_ssh_conn_argv(c, words);
	spec.argv = argv;
	spec.input = r->input;
	spec.input_len = r->input_len;
	spec.timeout_ms = r->timeout_ms;
	spec.grace_ms = SSH_GRACE_MS;
	spec.output = CDX_PROC_OUT_MERGED;
	/* the master it may start outlives it, on purpose: -O exit ends it */
	spec.flags = CDX_PROC_KEEP;
	spec.owner = r->owner;
	w.cancel = r->cancel;
	w.tick = r->tick;
	w.tick_ctx = r->tick_ctx;
	w.tick_ms = r->tick_ms;
	w.out = keep_output;
	w.out_ctx = &cap;
	c->opened = true;
	if (cdx_runner_run_one(&spec, &w, &res, &e) < 0) {
		cdx_argv_free(argv);
		cdx_buf_free(&cap.b);
		return cdx_error_set(err, e.code, "cannot run ssh: %s", e.msg);
	}
	cdx_argv_free(argv);
	cdx_buf_addc(&cap.b, '\0');
	switch (res.end) {
	case CDX_PROC_TIMEDOUT: status = CDX_HOOK_TIMEDOUT; break;
	case CDX_PROC_CANCELLED: status = 128 + SIGTERM; break;
	default: status = res.exit_code; break;
	}
	if (res.end == CDX_PROC_EXITED && status == 255) { /* ssh's own failure */
		conn_failed(c, cap.b.data, err);
		cdx_buf_free(&cap.b);
		return -1;
	}
	if (res.end == CDX_PROC_EXITED && status == 127 && strstr(cap.b.data, "cdx: cannot run")) {
		cdx_error_set(err, CDX_EFAILED, "cannot run ssh: %s", cap.b.data);
		cdx_buf_free(&cap.b);
		return -1;
	}
	c->reached = true;
	if (status != 0 && !r->out && !r->echo && cap.b.len > 1) /* what it said about its failure */
		fputs(cap.b.data, stderr);
	if (r->out)
		*r->out = cdx_buf_detach(&cap.b);
	else
		cdx_buf_free(&cap.b);
	return status;
}

void cdx_ssh_conn_close(struct cdx_ssh_conn *c)
{
	if (c->opened && access(c->control, F_OK) == 0) {
		char **argv = cdx_xcalloc(32, sizeof(char *));
		struct cdx_proc_spec spec = {0};
		struct cdx_proc_result res;
		struct cdx_error e = {0};
		size_t n = 0;
		common_opts(c, argv, &n);
		argv[n++] = cdx_xstrdup("-O");
		argv[n++] = cdx_xstrdup("exit");
		argv[n++] = cdx_xstrdup("--");
		argv[n++] = cdx_xstrdup(c->h->ssh);
		spec.argv = argv;
		spec.timeout_ms = 10000;
		spec.grace_ms = 1000;
		spec.output = CDX_PROC_OUT_MERGED; /* "Exit request sent." goes nowhere */
		cdx_runner_run_one(&spec, NULL, &res, &e);
		cdx_argv_free(argv);
	}
	/* the master removes its socket as it exits, maybe after we looked */
	unlink(c->control);
	free(c->control);
	memset(c, 0, sizeof(*c));
}
