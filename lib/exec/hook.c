/* hook.c — running hooks and commands for deployments (see hook.h). */
#include "exec/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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
		e->v[e->n++] = cdx_xstrdup(*p);
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

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int cdx_hook_run(const char *cmd, char *const *envp, const char *cwd, int64_t timeout_ms,
		 volatile sig_atomic_t *cancel, char **out, size_t outmax, int *status, struct cdx_error *err)
{
	return cdx_hook_run_tick(cmd, envp, cwd, timeout_ms, cancel, out, outmax, status, NULL, NULL, 0, err);
}

int cdx_hook_run_tick(const char *cmd, char *const *envp, const char *cwd, int64_t timeout_ms,
		      volatile sig_atomic_t *cancel, char **out, size_t outmax, int *status, void (*tick)(void *),
		      void *tick_ctx, int64_t tick_ms, struct cdx_error *err)
{
	int64_t last_tick;
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	int pipefd[2] = {-1, -1}, pfd, ws = 0, rc;
	pid_t pid;
	int64_t start = cdx_now_ns() / 1000000, killed_at = 0;
	struct cdx_buf ob = {0};
	bool timed_out = false, cancelled = false;

	if (out && pipe2(pipefd, O_CLOEXEC) < 0)
		return cdx_error_set(err, CDX_EFAILED, "cannot create a pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		int fd, sig;
		setsid();
		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		fd = open("/dev/null", O_RDONLY);
		if (fd > 0) {
			dup2(fd, 0);
			close(fd);
		}
		dup2(out ? pipefd[1] : 2, 1);
		if (cwd && chdir(cwd) < 0) {
			dprintf(2, "cdx: cannot enter %s: %s\n", cwd, strerror(errno));
			_exit(126);
		}
		execve("/bin/sh", argv, envp ? envp : environ);
		_exit(127);
	}
	rc = pid < 0 ? errno : 0;
	if (out)
		close(pipefd[1]);
	if (rc != 0) {
		if (out)
			close(pipefd[0]);
		return cdx_error_set(err, CDX_EFAILED, "cannot run '%s': %s", cmd, strerror(rc));
	}
	pfd = pidfd_of(pid);
	last_tick = start;
	for (;;) {
		struct pollfd p[2];
		int np = 0, wait_ms = 100;
		int64_t now = cdx_now_ns() / 1000000;
		if (tick && now - last_tick >= tick_ms) {
			tick(tick_ctx);
			last_tick = now;
		}
		if (!killed_at && ((timeout_ms > 0 && now - start >= timeout_ms) || (cancel && *cancel))) {
			timed_out = !(cancel && *cancel);
			cancelled = !timed_out;
			/* before the child's setsid() its group does not exist yet:
			 * the signal would be lost, so try again next round */
			if (kill(-pid, SIGTERM) == 0 || errno != ESRCH)
				killed_at = now;
		} else if (killed_at && now - killed_at >= GRACE_MS) {
			kill(-pid, SIGKILL);
		}
		if (pfd >= 0)
			p[np++] = (struct pollfd){.fd = pfd, .events = POLLIN};
		if (out && pipefd[0] >= 0)
			p[np++] = (struct pollfd){.fd = pipefd[0], .events = POLLIN};
		if (poll(p, (nfds_t)np, wait_ms) > 0 && out && pipefd[0] >= 0 && (p[np - 1].revents & (POLLIN | POLLHUP))) {
			char buf[4096];
			ssize_t r = read(pipefd[0], buf, sizeof(buf));
			if (r > 0 && ob.len < outmax)
				cdx_buf_add(&ob, buf, (size_t)r < outmax - ob.len ? (size_t)r : outmax - ob.len);
			if (r == 0) {
				close(pipefd[0]);
				pipefd[0] = -1;
			}
		}
		rc = (int)waitpid(pid, &ws, WNOHANG);
		if (rc == pid)
			break;
		if (rc < 0 && errno != EINTR)
			break;
	}
	if (pfd >= 0)
		close(pfd);
	if (out) {
		/* what is left in the pipe; a daemon holding it open is not waited for */
		if (pipefd[0] >= 0) {
			char buf[4096];
			ssize_t r;
			fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
			while ((r = read(pipefd[0], buf, sizeof(buf))) > 0 && ob.len < outmax)
				cdx_buf_add(&ob, buf, (size_t)r < outmax - ob.len ? (size_t)r : outmax - ob.len);
			close(pipefd[0]);
		}
		cdx_buf_addc(&ob, '\0');
		*out = cdx_buf_detach(&ob);
	}
	if (timed_out)
		*status = CDX_HOOK_TIMEDOUT;
	else if (cancelled)
		*status = 128 + SIGTERM;
	else if (WIFEXITED(ws))
		*status = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		*status = 128 + WTERMSIG(ws);
	else
		*status = 1;
	return 0;
}
