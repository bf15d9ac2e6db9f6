/* test_hook.c — hooks (lib/hook.c) and health checks (lib/probe.c) against
 * real processes and a real local HTTP server: a small one in a thread of
 * this test, on a loopback port the kernel picks, so no network is needed.
 *
 * (A child process, not a thread: lib/sched.h shadows <sched.h>, which
 * <pthread.h> needs.)  Paths of the server: /health answers 200 "status: ok", /bad 503, /nocontent
 * 204 with no body, anything else 404.
 */
#include "fixtures.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "exec/hook.h"
#include "exec/runner.h"
#include "state/store.h"
#include "deploy/probe.h"

static int64_t ms_now(void)
{
	return cdx_now_ns() / 1000000;
}

/* PID exists and is not a zombie */
static bool alive(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* wait up to MS for PID to be gone */
static bool gone_within(int pid, int ms)
{
	int64_t end = ms_now() + ms;
	while (alive(pid)) {
		struct timespec ts = {0, 20 * 1000000L};
		if (ms_now() > end)
			return false;
		nanosleep(&ts, NULL);
	}
	return true;
}

static int read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid;
}

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = fx_tmpdir();
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fx_rmrf(dir);
	free(dir);
	return 0;
}

/* run CMD in DIR with this environment; returns the status */
static int run(const char *cmd, int64_t timeout_ms, volatile sig_atomic_t *cancel, char **out, size_t outmax)
{
	struct cdx_error err = {0};
	int status = -1;
	assert_int_equal(cdx_hook_run(cmd, NULL, dir, timeout_ms, cancel, out, outmax, &status, &err), 0);
	return status;
}

/* ---- hooks ---------------------------------------------------------------------- */

/* start_owned: a hook for OWNER that leaves `sleep 30` running; its pid */
static int start_owned(const char *owner, const char *name)
{
	struct cdx_error err = {0};
	char *pidfile = cdx_xasprintf("%s/%s.pid", dir, name);
	char *cmd = cdx_xasprintf("(sleep 30 & echo $! > '%s') ; :", pidfile);
	int status = -1, pid;
	assert_int_equal(cdx_hook_run_tick(cmd, NULL, dir, 0, NULL, NULL, 0, &status, NULL, NULL, 0, owner, &err), 0);
	assert_int_equal(status, 0);
	pid = read_pid(pidfile);
	assert_true(pid > 0 && alive(pid));
	free(cmd);
	free(pidfile);
	return pid;
}

static void collect_owner(void *ctx, const char *owner)
{
	struct cdx_buf *b = ctx;
	cdx_buf_adds(b, owner);
	cdx_buf_addc(b, ' ');
}

/* what a hook of an owner left running carries the owner in its marker
 * and is killed by cdx_runner_kill_owned of that owner, or of the owner
 * it is a part of; other owners' are not (a prefix is not a part) */
static void test_kill_owned(void **state)
{
	char *dep = cdx_xasprintf("t%ld", (long)getpid()), *part = cdx_xasprintf("%s/green", dep);
	char *longer = cdx_xasprintf("%s0", dep), *other = cdx_xasprintf("%s-other", dep);
	struct cdx_buf b = {0};
	int p1, p2, p3, p4;
	(void)state;
	p1 = start_owned(dep, "p1");
	p2 = start_owned(part, "p2");
	p3 = start_owned(longer, "p3");
	p4 = start_owned(NULL, "p4");
	assert_int_equal(cdx_runner_kill_owned(other, NULL, NULL), 0);
	assert_int_equal(cdx_runner_kill_owned(dep, collect_owner, &b), 2);
	assert_true(gone_within(p1, 2000));
	assert_true(gone_within(p2, 2000));
	cdx_buf_addc(&b, '\0');
	assert_non_null(strstr(b.data, part));
	assert_true(alive(p3));
	assert_true(alive(p4));
	assert_int_equal(cdx_runner_kill_owned(dep, NULL, NULL), 0);
	assert_int_equal(cdx_runner_kill_owned(longer, NULL, NULL), 1);
	assert_true(gone_within(p3, 2000));
	kill(p4, SIGKILL);
	gone_within(p4, 2000);
	cdx_buf_free(&b);
	free(dep);
	free(part);
	free(longer);
	free(other);
}

static void test_exit_codes(void **state)
{
	char *out = NULL;
	(void)state;
	assert_int_equal(run("true", 0, NULL, NULL, 0), 0);
	assert_int_equal(run("exit 3", 0, NULL, NULL, 0), 3);
	assert_int_equal(run("kill -9 $$", 0, NULL, NULL, 0), 128 + 9);
	assert_int_equal(run("no-such-command-here 2>/dev/null", 0, NULL, NULL, 0), 127);
	/* it runs in DIR, with stdin from /dev/null */
	assert_int_equal(run("pwd -P; cat", 0, NULL, &out, 4096), 0);
	{
		char *real = realpath(dir, NULL);
		char *want = cdx_xasprintf("%s\n", real);
		assert_string_equal(out, want);
		free(want);
		free(real);
	}
	free(out);
}

/* a hook runs as sh -c (no -e), with the marker of a process that keeps
 * what it starts */
static void test_plain_sh_and_marker(void **state)
{
	char *out = NULL;
	(void)state;
	assert_int_equal(run("false; echo \"$CDX_ATTEMPT_KEY\"", 0, NULL, &out, 4096), 0);
	assert_true(strncmp(out, "keep.", 5) == 0);
	free(out);
}

static void test_cwd_missing(void **state)
{
	struct cdx_error err = {0};
	int status = -1;
	(void)state;
	assert_int_equal(cdx_hook_run("true", NULL, "/nonexistent/dir", 0, NULL, NULL, 0, &status, &err), 0);
	assert_int_equal(status, 126);
}

static void test_environment(void **state)
{
	struct cdx_envv e;
	struct cdx_error err = {0};
	char *out = NULL;
	int status = -1;
	(void)state;
	cdx_envv_from_environ(&e);
	cdx_envv_set(&e, "CDX_SLOT", "blue");
	cdx_envv_set(&e, "PORT", "8081");
	cdx_envv_set(&e, "PORT", "8082"); /* replaced, not doubled */
	assert_string_equal(cdx_envv_get(&e, "PORT"), "8082");
	assert_null(cdx_envv_get(&e, "POR"));
	assert_int_equal(cdx_hook_run("echo \"$CDX_SLOT:$PORT\"; env | grep -c '^PORT='", e.v, dir, 0, NULL, &out, 100,
				      &status, &err),
			 0);
	assert_int_equal(status, 0);
	assert_string_equal(out, "blue:8082\n1\n");
	free(out);
	cdx_envv_free(&e);
}

/* a hook (as a job) never gets the Redis password of CDX_STATE: the URL
 * loses its credentials, other URLs and variables stay as they are */
static void test_environment_no_state_password(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"CDX_STATE=redis://:pw@127.0.0.1:6390/2?prefix=x:",
	     "CDX_STATE=redis://127.0.0.1:6390/2?prefix=x:"},
	    {"CDX_STATE=redis://ci:p%40ss@h", "CDX_STATE=redis://h"},
	    {"CDX_STATE=redis://pw@h:1", "CDX_STATE=redis://h:1"},
	    {"CDX_STATE=redis://h:1?prefix=a@b", "CDX_STATE=redis://h:1?prefix=a@b"},
	    {"CDX_STATE=file:/tmp/a@b", "CDX_STATE=file:/tmp/a@b"},
	    {"CDX_STATEX=redis://:pw@h", "CDX_STATEX=redis://:pw@h"},
	    {"OTHER=redis://:pw@h", "OTHER=redis://:pw@h"},
	};
	struct cdx_envv e;
	char *s, *pw;
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = cdx_env_inherit(cases[i].in);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
	s = cdx_store_url_public("redis://ci:p%40ss@h:1/0", &pw);
	assert_string_equal(s, "redis://h:1/0");
	assert_string_equal(pw, "p%40ss");
	free(s);
	free(pw);
	s = cdx_store_url_public("redis://h:1", &pw);
	assert_string_equal(s, "redis://h:1");
	assert_null(pw);
	free(s);
	setenv("CDX_STATE", "redis://:hook-pw-9@127.0.0.1:6390", 1);
	cdx_envv_from_environ(&e);
	unsetenv("CDX_STATE");
	assert_string_equal(cdx_envv_get(&e, "CDX_STATE"), "redis://127.0.0.1:6390");
	cdx_envv_free(&e);
}

static void test_expand(void **state)
{
	struct cdx_envv e = {0};
	char *s;
	(void)state;
	cdx_envv_set(&e, "PORT", "8081");
	cdx_envv_set(&e, "HOST", "127.0.0.1");
	s = cdx_expand("http://${HOST}:${PORT}/health", &e);
	assert_string_equal(s, "http://127.0.0.1:8081/health");
	free(s);
	s = cdx_expand("[${UNSET}] $$PORT $PORT ${PORT", &e);
	assert_string_equal(s, "[] $PORT $PORT ${PORT");
	free(s);
	s = cdx_expand("", &e);
	assert_string_equal(s, "");
	free(s);
	s = cdx_expand("${PORT}${PORT}$$", &e);
	assert_string_equal(s, "80818081$");
	free(s);
	cdx_envv_free(&e);
}

static void test_timeout_kills_group(void **state)
{
	char *pidfile = cdx_xasprintf("%s/child.pid", dir);
	char *cmd = cdx_xasprintf("sleep 30 & echo $! > '%s'; sleep 30", pidfile);
	int64_t t0 = ms_now();
	int child;
	(void)state;
	assert_int_equal(run(cmd, 300, NULL, NULL, 0), CDX_HOOK_TIMEDOUT);
	assert_true(ms_now() - t0 < 3000);
	child = read_pid(pidfile);
	assert_true(child > 0);
	/* the hook's whole process group got the signal, not just sh */
	if (!gone_within(child, 2000)) {
		kill(child, SIGKILL);
		fail_msg("a process of the timed-out hook survived");
	}
	free(cmd);
	free(pidfile);
}

static void test_timeout_escalates(void **state)
{
	int64_t t0 = ms_now();
	(void)state;
	/* SIGTERM ignored: SIGKILL follows after the grace period */
	assert_int_equal(run("trap '' TERM; sleep 30 & wait; sleep 30", 200, NULL, NULL, 0), CDX_HOOK_TIMEDOUT);
	assert_true(ms_now() - t0 < 9000);
}

static volatile sig_atomic_t cancel_flag;

static void on_alarm(int sig)
{
	(void)sig;
	cancel_flag = 1;
}

static void test_cancel(void **state)
{
	struct sigaction sa;
	struct itimerval it = {{0, 0}, {0, 200000}};
	int64_t t0;
	(void)state;
	/* already set: killed at once */
	cancel_flag = 1;
	t0 = ms_now();
	assert_int_equal(run("sleep 30", 0, &cancel_flag, NULL, 0), 128 + SIGTERM);
	assert_true(ms_now() - t0 < 2000);
	/* set while it runs (from a signal handler, as cdx does) */
	cancel_flag = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = ms_now();
	assert_int_equal(run("sleep 30", 0, &cancel_flag, NULL, 0), 128 + SIGTERM);
	assert_true(ms_now() - t0 >= 150);
	assert_true(ms_now() - t0 < 2000);
	signal(SIGALRM, SIG_DFL);
}

static void test_capture_bounded(void **state)
{
	char *out = NULL;
	(void)state;
	assert_int_equal(run("printf 'hello\\n'; echo err >&2", 0, NULL, &out, 4096), 0);
	assert_string_equal(out, "hello\n");
	free(out);
	/* much more than the cap: kept to the cap, and the writer is not blocked */
	assert_int_equal(run("head -c 300000 /dev/zero | tr '\\0' x", 0, NULL, &out, 1000), 0);
	assert_int_equal(strlen(out), 1000);
	assert_int_equal(out[999], 'x');
	free(out);
	assert_int_equal(run("true", 0, NULL, &out, 10), 0);
	assert_string_equal(out, "");
	free(out);
}

/* input on stdin (cdx_hook_run_opts): delivered whole, in DIR; a command
 * that reads none or part of it ends normally; the timeout and the cancel
 * flag still end one that leaves it pending */
static void test_input(void **state)
{
	size_t n = 1u << 20, i;
	char *big = malloc(n), *out = NULL, *real = realpath(dir, NULL), *want;
	struct cdx_hook_opts o = {0};
	struct cdx_error err = {0};
	int status = -1;
	int64_t t0;
	(void)state;
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	o.input = "{\"alert\":\"a1\"}";
	o.input_len = strlen(o.input);
	o.out = &out;
	o.outmax = 4096;
	assert_int_equal(cdx_hook_run_opts("pwd -P; cat", NULL, dir, &o, &status, &err), 0);
	assert_int_equal(status, 0);
	want = cdx_xasprintf("%s\n{\"alert\":\"a1\"}", real);
	assert_string_equal(out, want);
	free(want);
	free(out);
	o.input = big;
	o.input_len = n;
	assert_int_equal(cdx_hook_run_opts("head -c 10", NULL, dir, &o, &status, &err), 0);
	assert_int_equal(status, 0);
	assert_string_equal(out, "abcdefghij");
	free(out);
	assert_int_equal(cdx_hook_run_opts("wc -c", NULL, dir, &o, &status, &err), 0);
	assert_int_equal(status, 0);
	assert_int_equal(atol(out), (long)n);
	free(out);
	o.out = NULL;
	assert_int_equal(cdx_hook_run_opts("true", NULL, dir, &o, &status, &err), 0);
	assert_int_equal(status, 0);
	o.timeout_ms = 200;
	t0 = ms_now();
	assert_int_equal(cdx_hook_run_opts("sleep 30", NULL, dir, &o, &status, &err), 0);
	assert_int_equal(status, CDX_HOOK_TIMEDOUT);
	assert_true(ms_now() - t0 < 3000);
	o.timeout_ms = 0;
	cancel_flag = 1;
	o.cancel = &cancel_flag;
	t0 = ms_now();
	assert_int_equal(cdx_hook_run_opts("sleep 30", NULL, dir, &o, &status, &err), 0);
	assert_int_equal(status, 128 + SIGTERM);
	assert_true(ms_now() - t0 < 3000);
	cancel_flag = 0;
	free(real);
	free(big);
}

/* a start hook that leaves its service running returns at once */
static void test_daemon_does_not_block(void **state)
{
	char *pidfile = cdx_xasprintf("%s/daemon.pid", dir);
	char *cmd = cdx_xasprintf("sleep 30 >/dev/null 2>&1 & echo $! > '%s'; echo started", pidfile);
	char *out = NULL;
	int64_t t0 = ms_now();
	int d;
	(void)state;
	assert_int_equal(run(cmd, 10000, NULL, NULL, 0), 0);
	assert_true(ms_now() - t0 < 2000);
	d = read_pid(pidfile);
	assert_true(d > 0);
	assert_true(alive(d)); /* not swept: it is the service */
	kill(d, SIGKILL);
	gone_within(d, 2000);
	/* the same with the output captured */
	t0 = ms_now();
	assert_int_equal(run(cmd, 10000, NULL, &out, 100), 0);
	assert_true(ms_now() - t0 < 2000);
	assert_string_equal(out, "started\n");
	free(out);
	d = read_pid(pidfile);
	assert_true(alive(d));
	kill(d, SIGKILL);
	gone_within(d, 2000);
	free(cmd);
	/* and one that keeps our pipe open (not redirected) is not waited for either */
	cmd = cdx_xasprintf("sleep 30 & echo $! > '%s'; echo started", pidfile);
	t0 = ms_now();
	assert_int_equal(run(cmd, 10000, NULL, &out, 100), 0);
	assert_true(ms_now() - t0 < 2000);
	assert_string_equal(out, "started\n");
	free(out);
	d = read_pid(pidfile);
	kill(d, SIGKILL);
	gone_within(d, 2000);
	free(cmd);
	free(pidfile);
}

/* ---- a tiny HTTP server ----------------------------------------------------------- */

struct server {
	int fd, port;
	pid_t pid;
	int count[2]; /* the server writes a byte here per request */
};

static void serve(struct server *s)
{
	for (;;) {
		char req[2048], resp[512];
		const char *status = "404 Not Found", *body = "no";
		ssize_t n;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		n = recv(c, req, sizeof(req) - 1, 0);
		req[n > 0 ? n : 0] = '\0';
		if (write(s->count[1], "r", 1) < 0)
			_exit(1);
		if (strncmp(req, "GET /health ", 12) == 0) {
			status = "200 OK";
			body = "status: ok";
		} else if (strncmp(req, "GET /bad ", 9) == 0) {
			status = "503 Service Unavailable";
			body = "down";
		} else if (strncmp(req, "GET /nocontent ", 15) == 0) {
			status = "204 No Content";
			body = "";
		}
		n = snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			     status, strlen(body), body);
		if (send(c, resp, (size_t)n, MSG_NOSIGNAL) < 0) {
			/* the client went away: nothing to do */
		}
		close(c);
	}
}

static void server_start(struct server *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	memset(s, 0, sizeof(*s));
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pipe2(s->count, O_CLOEXEC), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0)
		serve(s);
	close(s->count[1]);
	fcntl(s->count[0], F_SETFL, O_NONBLOCK);
}

/* requests served since the last call */
static int server_requests(struct server *s)
{
	char buf[256];
	ssize_t n;
	int total = 0;
	while ((n = read(s->count[0], buf, sizeof(buf))) > 0)
		total += (int)n;
	return total;
}

static void server_stop(struct server *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	close(s->fd);
	close(s->count[0]);
}

/* a loopback port nobody listens on */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static struct cdx_check check(enum cdx_check_kind k, const char *target)
{
	struct cdx_check c;
	memset(&c, 0, sizeof(c));
	c.kind = k;
	c.target = (char *)target;
	c.timeout_ms = 2000;
	c.interval_ms = 10;
	c.attempts = 1;
	return c;
}

static void probe(const struct cdx_check *c, struct cdx_envv *e, struct cdx_probe_result *r)
{
	cdx_probe(c, e, dir, NULL, NULL, r);
}

static void test_http(void **state)
{
	struct server s;
	struct cdx_envv e = {0};
	struct cdx_probe_result r;
	struct cdx_check c = check(CDX_CHECK_HTTP, "http://127.0.0.1:${PORT}/health");
	char port[16], *url;
	(void)state;
	server_start(&s);
	snprintf(port, sizeof(port), "%d", s.port);
	cdx_envv_set(&e, "PORT", port);

	probe(&c, &e, &r);
	url = cdx_xasprintf("http://127.0.0.1:%d/health", s.port);
	assert_string_equal(r.target, url); /* expanded */
	assert_true(r.ok);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(r.detail, "HTTP 200");
	free(r.target);

	c.body = "ok";
	probe(&c, &e, &r);
	assert_true(r.ok);
	free(r.target);
	c.body = "version 2";
	probe(&c, &e, &r);
	assert_false(r.ok);
	assert_string_equal(r.detail, "HTTP 200 without 'version 2' in the body");
	free(r.target);
	c.body = NULL;

	/* a status wanted exactly */
	c.status = 204;
	probe(&c, &e, &r);
	assert_false(r.ok);
	assert_string_equal(r.detail, "HTTP 200");
	free(r.target);
	c.target = "http://127.0.0.1:${PORT}/nocontent";
	probe(&c, &e, &r);
	assert_true(r.ok);
	free(r.target);
	c.status = 0;
	probe(&c, &e, &r); /* 204 is a 2xx */
	assert_true(r.ok);
	free(r.target);

	/* 503: tried `retries` times, INTERVAL apart */
	c.target = "http://127.0.0.1:${PORT}/bad";
	c.attempts = 3;
	c.interval_ms = 100;
	{
		int64_t t0 = ms_now();
		server_requests(&s);
		probe(&c, &e, &r);
		assert_true(ms_now() - t0 >= 200);
		assert_int_equal(server_requests(&s), 3);
	}
	assert_false(r.ok);
	assert_int_equal(r.attempts, 3);
	assert_string_equal(r.detail, "HTTP 503");
	free(r.target);
	c.status = 503;
	probe(&c, &e, &r);
	assert_true(r.ok);
	assert_int_equal(r.attempts, 1);
	free(r.target);
	c.status = 0;
	c.target = "http://127.0.0.1:${PORT}/missing";
	c.attempts = 1;
	probe(&c, &e, &r);
	assert_false(r.ok);
	assert_string_equal(r.detail, "HTTP 404");
	free(r.target);
	server_stop(&s);

	/* nobody listening */
	snprintf(port, sizeof(port), "%d", closed_port());
	cdx_envv_set(&e, "PORT", port);
	c.target = "http://127.0.0.1:${PORT}/health";
	probe(&c, &e, &r);
	assert_false(r.ok);
	assert_non_null(strstr(r.detail, "onnect")); /* curl: "Couldn't connect to server" */
	free(r.target);
	free(url);
	cdx_envv_free(&e);
}

static void test_tcp(void **state)
{
	struct server s;
	struct cdx_envv e = {0};
	struct cdx_probe_result r;
	struct cdx_check c = check(CDX_CHECK_TCP, "127.0.0.1:${PORT}");
	char port[16];
	(void)state;
	server_start(&s);
	snprintf(port, sizeof(port), "%d", s.port);
	cdx_envv_set(&e, "PORT", port);
	probe(&c, &e, &r);
	assert_true(r.ok);
	assert_string_equal(r.detail, "connected");
	free(r.target);
	server_stop(&s);

	snprintf(port, sizeof(port), "%d", closed_port());
	cdx_envv_set(&e, "PORT", port);
	c.attempts = 2;
	probe(&c, &e, &r);
	assert_false(r.ok);
	assert_int_equal(r.attempts, 2);
	assert_string_equal(r.detail, "Connection refused");
	free(r.target);

	c.target = "no-such-host.invalid:80";
	c.attempts = 1;
	probe(&c, &e, &r);
	assert_false(r.ok);
	assert_non_null(strstr(r.detail, "cannot resolve no-such-host.invalid"));
	free(r.target);
	cdx_envv_free(&e);
}

static void test_command(void **state)
{
	struct cdx_envv e;
	struct cdx_probe_result r;
	struct cdx_check c = check(CDX_CHECK_COMMAND, "test \"$CDX_SLOT\" = blue");
	int64_t t0;
	(void)state;
	cdx_envv_from_environ(&e);
	cdx_envv_set(&e, "CDX_SLOT", "blue");
	probe(&c, &e, &r);
	assert_true(r.ok);
	assert_string_equal(r.target, "test \"$CDX_SLOT\" = blue"); /* not expanded: the shell sees the variable */
	assert_string_equal(r.detail, "exit 0");
	free(r.target);
	cdx_envv_set(&e, "CDX_SLOT", "green");
	c.attempts = 3;
	probe(&c, &e, &r);
	assert_false(r.ok);
	assert_int_equal(r.attempts, 3);
	assert_string_equal(r.detail, "exit 1");
	free(r.target);

	/* passes on the third attempt: a file counts them */
	c.target = "n=$(cat n 2>/dev/null || echo 0); n=$((n + 1)); echo $n > n; [ $n -ge 3 ]";
	probe(&c, &e, &r);
	assert_true(r.ok);
	assert_int_equal(r.attempts, 3);
	free(r.target);

	/* the per-attempt timeout */
	c.target = "sleep 10";
	c.timeout_ms = 200;
	c.attempts = 1;
	t0 = ms_now();
	probe(&c, &e, &r);
	assert_true(ms_now() - t0 < 3000);
	assert_false(r.ok);
	assert_string_equal(r.detail, "timed out");
	free(r.target);
	cdx_envv_free(&e);
	assert_string_equal(cdx_check_kind_name(CDX_CHECK_TCP), "tcp");
}

static void test_probe_cancel(void **state)
{
	struct cdx_envv e;
	struct cdx_probe_result r;
	struct cdx_check c = check(CDX_CHECK_COMMAND, "false");
	volatile sig_atomic_t stop = 1;
	(void)state;
	cdx_envv_from_environ(&e);
	c.attempts = 100;
	c.interval_ms = 1000;
	cdx_probe(&c, &e, dir, &stop, NULL, &r);
	assert_false(r.ok);
	assert_int_equal(r.attempts, 0);
	assert_string_equal(r.detail, "cancelled");
	free(r.target);
	cdx_envv_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_codes),
	    cmocka_unit_test(test_plain_sh_and_marker),
	    cmocka_unit_test(test_cwd_missing),
	    cmocka_unit_test(test_environment),
	    cmocka_unit_test(test_environment_no_state_password),
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_timeout_kills_group),
	    cmocka_unit_test(test_timeout_escalates),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_capture_bounded),
	    cmocka_unit_test(test_input),
	    cmocka_unit_test(test_daemon_does_not_block),
	    cmocka_unit_test(test_kill_owned),
	    cmocka_unit_test(test_http),
	    cmocka_unit_test(test_tcp),
	    cmocka_unit_test(test_command),
	    cmocka_unit_test(test_probe_cancel),
	};
	return cmocka_run_group_tests_name("hook", tests, setup, teardown);
}
