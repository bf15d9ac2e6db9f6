/* test_runner.c — the real runner with real processes: exit codes, output
 * to log and callback, environment, direct exec, spawn failures, timeouts,
 * leftover processes, masking, cancellation, resource usage, leaks, and
 * input on stdin (exact, large, unread, pending at a timeout).
 *
 * Time bounds are generous (seconds where the runner needs milliseconds)
 * so that a slow, busy machine does not fail them.  Leftover processes are
 * found by a unique argument (sleep 1000.<pid><n>) in /proc/PID/cmdline. */
#include "fixtures.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "base/mask.h"
#include "exec/runner.h"
#include "base/util.h"

extern char **environ;

/* ---- helpers ------------------------------------------------------------- */

struct capture {
	struct cdx_buf out; /* all output, in arrival order */
	uint64_t token;     /* token of the last output */
	size_t calls;
	size_t bytes[4]; /* output bytes by token, for tokens < 4 */
};

static void capture_fn(void *ctx, uint64_t token, const char *data, size_t len)
{
	struct capture *c = ctx;
	cdx_buf_add(&c->out, data, len);
	c->token = token;
	c->calls++;
	if (token < CDX_ARRAY_LEN(c->bytes))
		c->bytes[token] += len;
}

/* next_result: wait (in slices, up to LIMIT_MS) for an attempt to end */
static void next_result(struct cdx_runner *r, struct cdx_proc_result *res, int limit_ms)
{
	int64_t until = cdx_now_ns() + (int64_t)limit_ms * 1000000;
	while (cdx_now_ns() < until) {
		if (cdx_runner_ops()->wait(r, 100, res) == 1)
			return;
	}
	fail_msg("no attempt ended within %d ms", limit_ms);
}

static struct cdx_proc_spec script_spec(const char *script, uint64_t token)
{
	struct cdx_proc_spec s;
	memset(&s, 0, sizeof(s));
	s.token = token;
	s.script = script;
	s.envp = environ;
	return s;
}

/* run: start SPEC in a fresh runner and wait for its end */
static struct cdx_proc_result run(const struct cdx_proc_spec *spec, struct capture *cap)
{
	struct cdx_runner *r = cdx_runner_new(cap ? capture_fn : NULL, cap);
	struct cdx_error err = {0};
	struct cdx_proc_result res;

	assert_int_equal(cdx_runner_ops()->start(r, spec, &err), 0);
	assert_int_equal(cdx_runner_ops()->running(r), 1);
	next_result(r, &res, 30000);
	assert_int_equal(cdx_runner_ops()->running(r), 0);
	cdx_runner_free(r);
	return res;
}

/* unique: a number no other test (or test run) puts on a command line */
static const char *unique(void)
{
	static char buf[64];
	static int n;
	snprintf(buf, sizeof(buf), "1000.%ld%d", (long)getpid(), ++n);
	return buf;
}

/* count_cmdline: processes (other than this one) whose command line
 * contains NEEDLE */
static int count_cmdline(const char *needle)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc");

	assert_non_null(d);
	for (de = readdir(d); de; de = readdir(d)) {
		char path[300], buf[4096];
		size_t k, i;
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || atol(de->d_name) == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		k = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (i = 0; i < k; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[k] = '\0';
		if (strstr(buf, needle))
			n++;
	}
	closedir(d);
	return n;
}

/* count_children: processes whose parent is this one (zombies included) */
static int count_children(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc");

	assert_non_null(d);
	for (de = readdir(d); de; de = readdir(d)) {
		char path[300], buf[512], *s;
		FILE *f;
		size_t k;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		k = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[k] = '\0';
		s = strrchr(buf, ')');
		if (s && atol(s + 4) == (long)getpid())
			n++;
	}
	closedir(d);
	return n;
}

static int count_fds(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	assert_non_null(d);
	for (de = readdir(d); de; de = readdir(d))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own */
}

static char *read_all(const char *path)
{
	char *s = NULL;
	size_t len;
	struct cdx_error err;
	if (cdx_read_file(path, 1 << 20, &s, &len, &err) < 0)
		fail_msg("%s", err.msg);
	return s;
}

/* ---- tests --------------------------------------------------------------- */

static void test_exit_codes(void **state)
{
	struct cdx_proc_spec s;
	struct cdx_proc_result res;
	(void)state;

	s = script_spec("exit 3", 7);
	res = run(&s, NULL);
	assert_int_equal(res.token, 7);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 3);
	assert_string_equal(res.error, "");

	s = script_spec("true", 8);
	res = run(&s, NULL);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 0);

	s = script_spec("false; echo not reached", 9); /* sh -e */
	res = run(&s, NULL);
	assert_int_equal(res.exit_code, 1);

	s = script_spec("kill -9 $$", 10);
	res = run(&s, NULL);
	assert_int_equal(res.end, CDX_PROC_SIGNALED);
	assert_int_equal(res.term_signal, SIGKILL);
	assert_int_equal(count_children(), 0);
}

static void test_output_log_and_callback(void **state)
{
	char *dir = fx_tmpdir(), *log = cdx_xasprintf("%s/job.log", dir), *text;
	struct capture cap = {0};
	struct cdx_proc_spec s = script_spec("echo out; echo err >&2; echo more", 42);
	struct cdx_proc_result res;
	(void)state;

	s.log_path = log;
	free(fx_write(dir, "job.log", "earlier\n")); /* the log is appended to */
	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(cap.out.data, "out\nerr\nmore\n");
	assert_int_equal(cap.token, 42);
	text = read_all(log);
	assert_string_equal(text, "earlier\nout\nerr\nmore\n");
	free(text);

	/* a log that cannot be opened fails the start; nothing runs */
	{
		struct cdx_runner *r = cdx_runner_new(NULL, NULL);
		struct cdx_error err = {0};
		char *bad = cdx_xasprintf("%s/no/such/dir/job.log", dir);
		s.log_path = bad;
		assert_int_equal(cdx_runner_ops()->start(r, &s, &err), -1);
		assert_non_null(strstr(err.msg, "cannot open log"));
		assert_int_equal(cdx_runner_ops()->running(r), 0);
		cdx_runner_free(r);
		free(bad);
	}
	cdx_buf_free(&cap.out);
	fx_rmrf(dir);
	free(log);
	free(dir);
}

static void test_env_and_cwd(void **state)
{
	char *dir = fx_tmpdir();
	char *const envp[] = {"CDX_X=1", "PATH=/usr/bin:/bin", "CDX_ATTEMPT_KEY=outer", NULL};
	struct capture cap = {0};
	struct cdx_proc_spec s =
	    script_spec("echo $CDX_X; echo $CDX_ATTEMPT_KEY; pwd; echo ${HOME-unset}", 5);
	struct cdx_proc_result res;
	char *want;
	(void)state;

	s.envp = envp;
	s.cwd = dir;
	res = run(&s, &cap);
	assert_int_equal(res.exit_code, 0);
	/* the environment is exactly the spec's, with our marker replacing
	 * an inherited one */
	want = cdx_xasprintf("1\n%ld.5\n%s\nunset\n", (long)getpid(), dir);
	assert_string_equal(cap.out.data, want);
	free(want);
	cdx_buf_free(&cap.out);
	fx_rmrf(dir);
	free(dir);
}

static void test_split_simple(void **state)
{
	static const char *const refused[] = {
	    "",        "   ",        "echo $HOME", "echo 'a'",  "a;b",       "a && b",   "a | b",
	    "a > f",   "a < f",      "(a)",        "echo *",    "echo a?",   "echo [a]", "echo ~",
	    "a # c",   "X=1 make",   "{ a; }",     "a\nb",      "echo `a`",  "echo \\a", "cd /tmp",
	    "exit 1",  "export A",   "set -x",     ". ./env",   "source f",  "eval a",   "exec a",
	    "if true", "while true", ": nothing",  "ulimit -n", "umask 022", "read x",   "trap x y",
	    "wait",    "echo \"a\"", "echo a\r",   "kill 1",    "pwd",       "! true",   "echo é",
	};
	char **argv;
	size_t i;
	(void)state;

	for (i = 0; i < CDX_ARRAY_LEN(refused); i++) {
		argv = cdx_runner_split_simple(refused[i]);
		if (argv)
			fail_msg("accepted: %s", refused[i]);
	}
	assert_null(cdx_runner_split_simple(NULL));

	argv = cdx_runner_split_simple("  make -j4\tall CC:gcc-12 a/b.c x,y+z@w%1^2!  \n");
	assert_non_null(argv);
	assert_string_equal(argv[0], "make");
	assert_string_equal(argv[1], "-j4");
	assert_string_equal(argv[2], "all");
	assert_string_equal(argv[3], "CC:gcc-12");
	assert_string_equal(argv[4], "a/b.c");
	assert_string_equal(argv[5], "x,y+z@w%1^2!");
	assert_null(argv[6]);
	cdx_argv_free(argv);

	argv = cdx_runner_split_simple("true");
	assert_non_null(argv);
	assert_string_equal(argv[0], "true");
	assert_null(argv[1]);
	cdx_argv_free(argv);
	cdx_argv_free(NULL);
}

static void test_direct_exec(void **state)
{
	char **argv = cdx_runner_split_simple("echo hi there");
	struct capture cap = {0};
	struct cdx_proc_spec s = script_spec(NULL, 1);
	struct cdx_proc_result res;
	(void)state;

	assert_non_null(argv);
	s.argv = argv;
	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(cap.out.data, "hi there\n");
	cdx_argv_free(argv);
	cdx_buf_free(&cap.out);

	/* PATH is taken from the spec's environment */
	{
		char *const envp[] = {"PATH=/nonexistent:/usr/bin:/bin", NULL};
		char *const av[] = {"sh", "-c", "echo $0 $1", "x", "y", NULL};
		memset(&cap, 0, sizeof(cap));
		s.argv = av;
		s.envp = envp;
		res = run(&s, &cap);
		assert_int_equal(res.exit_code, 0);
		assert_string_equal(cap.out.data, "x y\n");
		cdx_buf_free(&cap.out);
	}
}

static void test_spawn_failures(void **state)
{
	char *const nosuch[] = {"cdx-no-such-command-xyz", "arg", NULL};
	char *const notexec[] = {"/dev/null", NULL};
	struct capture cap = {0};
	struct cdx_proc_spec s = script_spec(NULL, 2);
	struct cdx_proc_result res;
	(void)state;

	s.argv = nosuch;
	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 127);
	assert_string_equal(cap.out.data,
			    "cdx: cannot run cdx-no-such-command-xyz: No such file or directory\n");
	cdx_buf_free(&cap.out);

	memset(&cap, 0, sizeof(cap));
	s.argv = notexec;
	res = run(&s, &cap);
	assert_int_equal(res.exit_code, 126);
	assert_string_equal(cap.out.data, "cdx: cannot run /dev/null: Permission denied\n");
	cdx_buf_free(&cap.out);

	/* the shell reports a missing command in the same way */
	memset(&cap, 0, sizeof(cap));
	s = script_spec("cdx-no-such-command-xyz", 3);
	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 127);
	assert_non_null(strstr(cap.out.data, "not found"));
	cdx_buf_free(&cap.out);

	/* a missing working directory: the attempt could not start */
	memset(&cap, 0, sizeof(cap));
	s = script_spec("true", 4);
	s.cwd = "/nonexistent/cdx-dir";
	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_SPAWNFAIL);
	assert_string_equal(res.error,
			    "cannot change directory to /nonexistent/cdx-dir: No such file or directory");
	assert_non_null(strstr(cap.out.data, "cannot change directory"));
	cdx_buf_free(&cap.out);

	/* nothing to run */
	{
		struct cdx_runner *r = cdx_runner_new(NULL, NULL);
		struct cdx_error err = {0};
		s = script_spec(NULL, 5);
		assert_int_equal(cdx_runner_ops()->start(r, &s, &err), -1);
		assert_true(err.msg[0] != '\0');
		cdx_runner_free(r);
	}
	assert_int_equal(count_children(), 0);
}

static void test_timeout(void **state)
{
	const char *u = unique();
	char *script = cdx_xasprintf("echo begin; sleep %s", u);
	char *needle = cdx_xasprintf("sleep %s", u);
	struct capture cap = {0};
	struct cdx_proc_spec s = script_spec(script, 11);
	struct cdx_proc_result res;
	(void)state;

	s.timeout_ms = 200;
	s.grace_ms = 200;
	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_TIMEDOUT);
	assert_int_equal(res.term_signal, SIGTERM);
	assert_true(res.wall_us >= 200000);
	assert_true(res.wall_us < 5000000);
	assert_string_equal(cap.out.data, "begin\n");
	assert_int_equal(count_cmdline(needle), 0);
	assert_int_equal(count_children(), 0);
	cdx_buf_free(&cap.out);
	free(needle);
	free(script);
}

static void test_timeout_term_ignored(void **state)
{
	const char *u = unique();
	char *script = cdx_xasprintf("trap '' TERM; sleep %s & sleep %s & wait", u, u);
	char *needle = cdx_xasprintf("sleep %s", u);
	struct cdx_proc_spec s = script_spec(script, 12);
	struct cdx_proc_result res;
	(void)state;

	s.timeout_ms = 200;
	s.grace_ms = 200;
	res = run(&s, NULL);
	assert_int_equal(res.end, CDX_PROC_TIMEDOUT);
	assert_int_equal(res.term_signal, SIGKILL);
	assert_true(res.wall_us >= 400000);
	assert_true(res.wall_us < 6000000);
	assert_int_equal(count_cmdline(needle), 0);
	assert_int_equal(count_children(), 0);
	free(needle);
	free(script);
}

/* SCRIPT_FMT has one %s for the unique sleep argument; it leaves a process
 * behind that must be gone when the attempt ends */
static void check_leftover_killed(const char *script_fmt)
{
	const char *u = unique();
	char *script = cdx_xasprintf(script_fmt, u);
	char *needle = cdx_xasprintf("sleep %s", u);
	struct capture cap = {0};
	struct cdx_proc_spec s = script_spec(script, 13);
	struct cdx_proc_result res;

	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 0);
	assert_true(res.wall_us < 10000000); /* nobody waited for the sleep */
	assert_string_equal(cap.out.data, "started\n");
	if (count_cmdline(needle))
		fail_msg("left behind by: %s", script);
	assert_int_equal(count_children(), 0);
	cdx_buf_free(&cap.out);
	free(needle);
	free(script);
}

static void test_leftovers(void **state)
{
	(void)state;
	/* in the group */
	check_leftover_killed("sleep %s & sleep 0.3; echo started");
	/* escaped with setsid, holding the pipe */
	check_leftover_killed("setsid sleep %s & sleep 0.3; echo started");
	/* escaped, pipe closed: found by the marker */
	check_leftover_killed("setsid sleep %s >/dev/null 2>&1 & sleep 0.3; echo started");
	/* escaped without the marker, holding the pipe */
	check_leftover_killed("setsid env -i /bin/sleep %s & sleep 0.3; echo started");
	/* a double fork whose middle process is gone */
	check_leftover_killed("(setsid sleep %s &) ; sleep 0.3; echo started");
}

static void test_secret_split_writes(void **state)
{
	char *dir = fx_tmpdir(), *log = cdx_xasprintf("%s/job.log", dir), *text;
	const char *const secrets[] = {"secret", NULL};
	struct capture cap = {0};
	struct cdx_proc_spec s = script_spec("printf sec; sleep 0.2; printf ret; echo ' done'", 20);
	struct cdx_proc_result res;
	(void)state;

	s.log_path = log;
	s.secrets = secrets;
	res = run(&s, &cap);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(cap.out.data, "*** done\n");
	assert_true(cap.calls >= 1);
	text = read_all(log);
	assert_string_equal(text, "*** done\n");
	free(text);

	/* a cut-off prefix at the very end is released at the end */
	cdx_buf_free(&cap.out);
	memset(&cap, 0, sizeof(cap));
	s = script_spec("printf 'x secr'", 21);
	s.secrets = secrets;
	res = run(&s, &cap);
	assert_string_equal(cap.out.data, "x secr");
	cdx_buf_free(&cap.out);
	fx_rmrf(dir);
	free(log);
	free(dir);
}

static void test_cancel_all(void **state)
{
	const char *u = unique();
	char *needle = cdx_xasprintf("sleep %s", u);
	char *s1 = cdx_xasprintf("sleep %s", u);
	char *s2 = cdx_xasprintf("trap '' TERM; setsid sleep %s & sleep %s & wait", u, u);
	struct cdx_runner *r = cdx_runner_new(NULL, NULL);
	struct cdx_error err = {0};
	struct cdx_proc_spec a = script_spec(s1, 1), b = script_spec(s2, 2);
	struct cdx_proc_result res;
	int i, seen = 0;
	(void)state;

	a.grace_ms = b.grace_ms = 200;
	assert_int_equal(cdx_runner_ops()->start(r, &a, &err), 0);
	assert_int_equal(cdx_runner_ops()->start(r, &b, &err), 0);
	assert_int_equal(cdx_runner_ops()->wait(r, 300, &res), 0); /* both still run */
	assert_int_equal(cdx_runner_ops()->running(r), 2);
	cdx_runner_ops()->cancel_all(r, false);
	for (i = 0; i < 2; i++) {
		next_result(r, &res, 10000);
		assert_int_equal(res.end, CDX_PROC_CANCELLED);
		seen |= 1 << (int)res.token;
		if (res.token == 1)
			assert_int_equal(res.term_signal, SIGTERM);
		else
			assert_int_equal(res.term_signal, SIGKILL); /* after the grace */
	}
	assert_int_equal(seen, 6);
	assert_int_equal(count_cmdline(needle), 0);

	/* at once */
	assert_int_equal(cdx_runner_ops()->start(r, &b, &err), 0);
	assert_int_equal(cdx_runner_ops()->wait(r, 200, &res), 0);
	cdx_runner_ops()->cancel_all(r, true);
	next_result(r, &res, 10000);
	assert_int_equal(res.end, CDX_PROC_CANCELLED);
	assert_int_equal(res.term_signal, SIGKILL);
	assert_true(res.wall_us < 3000000);
	assert_int_equal(count_cmdline(needle), 0);
	assert_int_equal(count_children(), 0);

	/* free kills what still runs */
	assert_int_equal(cdx_runner_ops()->start(r, &b, &err), 0);
	assert_int_equal(cdx_runner_ops()->wait(r, 200, &res), 0);
	cdx_runner_free(r);
	assert_int_equal(count_cmdline(needle), 0);
	assert_int_equal(count_children(), 0);
	free(needle);
	free(s1);
	free(s2);
}

static void test_resource_usage(void **state)
{
	char *const dd[] = {"dd", "if=/dev/zero", "of=/dev/null", "bs=50M", "count=1", NULL};
	struct cdx_proc_spec s = script_spec(NULL, 30);
	struct cdx_proc_result res;
	int64_t before = cdx_wall_ms();
	(void)state;

	s.argv = dd;
	res = run(&s, NULL);
	assert_int_equal(res.exit_code, 0);
	assert_true(res.maxrss_kb > 40000);
	assert_true(res.start_ms >= before && res.start_ms <= cdx_wall_ms());
	assert_true(res.wall_us > 0);

	/* the shell's children count: maxrss and CPU of reaped descendants */
	s = script_spec("dd if=/dev/zero of=/dev/null bs=50M count=1 2>/dev/null; i=0; "
			"while [ $i -lt 200000 ]; do i=$((i+1)); done",
			31);
	res = run(&s, NULL);
	assert_int_equal(res.exit_code, 0);
	assert_true(res.maxrss_kb > 40000);
	assert_true(res.user_us + res.sys_us > 20000);
	assert_true(res.user_us + res.sys_us < res.wall_us + 1000000);
}

/* 200 attempts, 2 at a time, half direct and half through the shell */
static void test_many(void **state)
{
	char *const argv[] = {"true", NULL};
	int fds = count_fds();
	struct cdx_runner *r = cdx_runner_new(NULL, NULL);
	struct cdx_error err = {0};
	struct cdx_proc_result res;
	int started = 0, ended = 0;
	(void)state;

	while (ended < 200) {
		while (started < 200 && cdx_runner_ops()->running(r) < 2) {
			struct cdx_proc_spec s =
			    script_spec(started % 2 ? "echo x" : NULL, (uint64_t)started);
			if (!s.script)
				s.argv = argv;
			assert_int_equal(cdx_runner_ops()->start(r, &s, &err), 0);
			started++;
		}
		next_result(r, &res, 30000);
		assert_int_equal(res.end, CDX_PROC_EXITED);
		assert_int_equal(res.exit_code, 0);
		ended++;
	}
	assert_int_equal(count_fds(), fds);
	cdx_runner_free(r);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(count_children(), 0);
}

/* output larger than a pipe, from two attempts at once */
static void test_large_output(void **state)
{
	struct capture cap = {0};
	struct cdx_runner *r = cdx_runner_new(capture_fn, &cap);
	struct cdx_error err = {0};
	struct cdx_proc_spec s = script_spec("head -c 1000000 /dev/zero | tr '\\0' a", 1);
	struct cdx_proc_result res;
	size_t i, n = 0;
	(void)state;

	assert_int_equal(cdx_runner_ops()->start(r, &s, &err), 0);
	s.token = 2;
	assert_int_equal(cdx_runner_ops()->start(r, &s, &err), 0);
	next_result(r, &res, 30000);
	next_result(r, &res, 30000);
	assert_int_equal(cap.out.len, 2000000);
	assert_int_equal(cap.bytes[1], 1000000);
	assert_int_equal(cap.bytes[2], 1000000);
	for (i = 0; i < cap.out.len; i++)
		n += cap.out.data[i] == 'a';
	assert_int_equal(n, 2000000);
	cdx_runner_free(r);
	cdx_buf_free(&cap.out);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* a signal of the caller ends wait with 0, so it can check for a cancel */
static void test_wait_interrupted(void **state)
{
	const char *u = unique();
	char *script = cdx_xasprintf("sleep %s", u);
	struct cdx_runner *r = cdx_runner_new(NULL, NULL);
	struct cdx_proc_spec s = script_spec(script, 1);
	struct itimerval it = {{0, 0}, {0, 200000}};
	struct sigaction sa, old;
	struct cdx_proc_result res;
	struct cdx_error err;
	int64_t t0;
	(void)state;

	/* wait(0) makes progress: output is read while the job still runs */
	{
		struct capture cap = {0};
		struct cdx_runner *r0 = cdx_runner_new(capture_fn, &cap);
		struct cdx_proc_spec s0 = script_spec(script, 2);
		int64_t until = cdx_now_ns() + INT64_C(20000000000);
		s0.script = cdx_xasprintf("echo polled; %s", script);
		assert_int_equal(cdx_runner_ops()->start(r0, &s0, &err), 0);
		while (!cap.out.len && cdx_now_ns() < until) {
			assert_int_equal(cdx_runner_ops()->wait(r0, 0, &res), 0);
			poll(NULL, 0, 1);
		}
		assert_int_equal(cap.out.len, 7);
		assert_string_equal(cap.out.data, "polled\n");
		cdx_runner_free(r0);
		cdx_buf_free(&cap.out);
		free((char *)s0.script);
	}

	/* nothing runs: no wait at all */
	t0 = cdx_now_ns();
	assert_int_equal(cdx_runner_ops()->wait(r, 10000, &res), 0);
	assert_true(cdx_now_ns() - t0 < 1000000000);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(cdx_runner_ops()->start(r, &s, &err), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	t0 = cdx_now_ns();
	assert_int_equal(cdx_runner_ops()->wait(r, 20000, &res), 0);
	assert_true(cdx_now_ns() - t0 < 10000000000);
	assert_int_equal(cdx_runner_ops()->running(r), 1);
	sigaction(SIGALRM, &old, NULL);
	cdx_runner_ops()->cancel_all(r, true);
	next_result(r, &res, 10000);
	assert_int_equal(res.end, CDX_PROC_CANCELLED);
	cdx_runner_free(r);
	free(script);
}

/* a file without #! that exec refuses (ENOEXEC) runs under /bin/sh, as
 * with execvp */
static void test_script_without_interpreter(void **state)
{
	char *dir = fx_tmpdir(), *path = fx_write(dir, "job", "echo from-script $1\n");
	char *const argv[] = {path, "arg", NULL};
	struct capture cap = {0};
	struct cdx_proc_spec s = script_spec(NULL, 1);
	struct cdx_proc_result res;
	(void)state;

	assert_int_equal(chmod(path, 0755), 0);
	s.argv = argv;
	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(cap.out.data, "from-script arg\n");
	cdx_buf_free(&cap.out);
	fx_rmrf(dir);
	free(path);
	free(dir);
}

/* cdx_runner_run_one beside a job runner: it waits for its own process
 * only (the job's end is not stolen), and what a CDX_PROC_KEEP process
 * starts is neither swept nor killed when the job runner is freed */
static void test_run_one_keep(void **state)
{
	struct capture job = {0}, hook = {0};
	struct cdx_runner *r = cdx_runner_new(capture_fn, &job);
	struct cdx_proc_spec j = script_spec("sleep 0.3; exit 5", 1), h;
	struct cdx_proc_watch w = {0};
	struct cdx_proc_result res;
	struct cdx_error err = {0};
	const char *u = unique();
	char *script = cdx_xasprintf("sleep %s >/dev/null 2>&1 & echo $!; echo \"$CDX_ATTEMPT_KEY\"; false; exit 3", u);
	long pid;
	(void)state;
	assert_int_equal(cdx_runner_ops()->start(r, &j, &err), 0);
	h = script_spec(script, 7);
	h.flags = CDX_PROC_KEEP | CDX_PROC_NO_ERREXIT;
	h.output = CDX_PROC_OUT_STDOUT;
	w.out = capture_fn;
	w.out_ctx = &hook;
	assert_int_equal(cdx_runner_run_one(&h, &w, &res, &err), 0);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 3); /* no -e: `false` did not end it */
	assert_non_null(hook.out.data);
	pid = strtol(hook.out.data, NULL, 10);
	assert_true(pid > 0);
	assert_non_null(strstr(hook.out.data, "\nkeep."));
	assert_non_null(strstr(hook.out.data, ".7\n"));
	next_result(r, &res, 30000);
	assert_int_equal(res.token, 1);
	assert_int_equal(res.exit_code, 5);
	cdx_runner_free(r);
	assert_int_equal(count_cmdline(u), 1); /* the hook's service lives on */
	kill((pid_t)pid, SIGKILL);
	waitpid((pid_t)pid, NULL, 0); /* re-parented to us, the subreaper */
	cdx_buf_free(&job.out);
	cdx_buf_free(&hook.out);
	free(script);
}

/* ---- input ---------------------------------------------------------------- */

static int sigpipes; /* SIGPIPEs that reached the handler */

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* bytes: N bytes of every value, NULs included (caller frees) */
static char *bytes(size_t n)
{
	char *b = cdx_xmalloc(n + 1);
	size_t i;
	for (i = 0; i < n; i++)
		b[i] = (char)(i * 7 + i / 251);
	return b;
}

/* the input arrives exactly, through a pipe, ending with end of input; an
 * empty input is an empty pipe, none is /dev/null */
static void test_input_exact(void **state)
{
	char *const cat[] = {"cat", NULL};
	char *in = bytes(300000);
	struct capture cap = {0};
	struct cdx_proc_spec s = script_spec(NULL, 1);
	struct cdx_proc_result res;
	int fds = count_fds();
	(void)state;

	s.argv = cat;
	s.input = in;
	s.input_len = 300000;
	res = run(&s, &cap);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(cap.out.len, 300000);
	assert_memory_equal(cap.out.data, in, 300000);
	cdx_buf_free(&cap.out);

	memset(&cap, 0, sizeof(cap));
	s = script_spec("test -p /dev/stdin && echo pipe; wc -c", 2);
	s.input = "";
	res = run(&s, &cap);
	assert_int_equal(res.exit_code, 0);
	assert_non_null(cap.out.data);
	assert_string_equal(cap.out.data, "pipe\n0\n");
	cdx_buf_free(&cap.out);

	memset(&cap, 0, sizeof(cap));
	s = script_spec("test -p /dev/stdin || echo no-pipe; cat", 3);
	s.input_len = 5; /* no input: the length means nothing */
	res = run(&s, &cap);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(cap.out.data, "no-pipe\n");
	cdx_buf_free(&cap.out);

	/* through cdx_runner_run_one too, and the spec's buffer is copied */
	{
		struct cdx_proc_watch w = {0};
		struct cdx_error err = {0};
		char *mine = cdx_xstrdup("hello, stdin\n");
		memset(&cap, 0, sizeof(cap));
		s = script_spec("sleep 0.1; cat", 4);
		s.flags = CDX_PROC_KEEP | CDX_PROC_NO_ERREXIT;
		s.output = CDX_PROC_OUT_STDOUT;
		s.input = mine;
		s.input_len = strlen(mine);
		w.out = capture_fn;
		w.out_ctx = &cap;
		assert_int_equal(cdx_runner_run_one(&s, &w, &res, &err), 0);
		free(mine);
		assert_int_equal(res.exit_code, 0);
		assert_string_equal(cap.out.data, "hello, stdin\n");
		cdx_buf_free(&cap.out);
	}
	assert_int_equal(count_fds(), fds);
	assert_int_equal(count_children(), 0);
	free(in);
}

/* input much larger than a pipe, to two slow readers at once */
static void test_input_large(void **state)
{
	size_t n = 4u << 20;
	char *in = bytes(n);
	struct capture cap = {0};
	struct cdx_runner *r = cdx_runner_new(capture_fn, &cap);
	struct cdx_error err = {0};
	struct cdx_proc_spec s = script_spec("sleep 0.2; wc -c", 1);
	struct cdx_proc_result res;
	(void)state;

	s.input = in;
	s.input_len = n;
	assert_int_equal(cdx_runner_ops()->start(r, &s, &err), 0);
	s.token = 2;
	s.script = "head -c 1000 >/dev/null; sleep 0.2; cat | cksum";
	assert_int_equal(cdx_runner_ops()->start(r, &s, &err), 0);
	next_result(r, &res, 30000);
	assert_int_equal(res.exit_code, 0);
	next_result(r, &res, 30000);
	assert_int_equal(res.exit_code, 0);
	cdx_runner_free(r);
	assert_int_equal(cap.bytes[1], 8); /* "4194304\n" */
	assert_non_null(strstr(cap.out.data, "4194304\n"));
	assert_non_null(strstr(cap.out.data, " 4193304\n")); /* cksum: CRC and the count read */
	cdx_buf_free(&cap.out);
	free(in);
}

/* a command that does not read its input, or only part of it, ends
 * normally; the SIGPIPE of the writes never reaches our handler (nor kills
 * us with the default action), and none is left pending */
static void test_input_unread(void **state)
{
	size_t n = 1u << 20;
	char *in = bytes(n);
	const char *scripts[] = {"true", "exit 4", "head -c 10 >/dev/null", "exec 0<&-; sleep 0.2",
				 "head -c 70000 >/dev/null; echo read"};
	const int codes[] = {0, 4, 0, 0, 0};
	struct sigaction sa, old;
	sigset_t pending;
	size_t i;
	int round;
	(void)state;

	for (round = 0; round < 2; round++) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = round ? SIG_DFL : on_sigpipe;
		sigemptyset(&sa.sa_mask);
		assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);
		for (i = 0; i < CDX_ARRAY_LEN(scripts); i++) {
			struct cdx_proc_spec s = script_spec(scripts[i], i);
			struct cdx_proc_result res;
			s.input = in;
			s.input_len = n;
			res = run(&s, NULL);
			assert_int_equal(res.end, CDX_PROC_EXITED);
			assert_int_equal(res.exit_code, codes[i]);
			assert_true(res.wall_us < 5000000);
		}
		assert_int_equal(sigpipes, 0);
		assert_int_equal(sigpending(&pending), 0);
		assert_false(sigismember(&pending, SIGPIPE));
		sigaction(SIGPIPE, &old, NULL);
	}
	assert_int_equal(count_children(), 0);
	free(in);
}

/* a command that never reads: the timeout, cancel_all and a run_one's
 * cancel flag still end it while its input is pending */
static void test_input_timeout_cancel(void **state)
{
	size_t n = 1u << 20;
	char *in = bytes(n);
	const char *u = unique();
	char *script = cdx_xasprintf("sleep %s", u);
	struct cdx_proc_spec s = script_spec(script, 1);
	struct cdx_proc_result res;
	struct cdx_runner *r;
	struct cdx_error err = {0};
	(void)state;

	s.input = in;
	s.input_len = n;
	s.timeout_ms = 200;
	s.grace_ms = 200;
	res = run(&s, NULL);
	assert_int_equal(res.end, CDX_PROC_TIMEDOUT);
	assert_true(res.wall_us >= 200000 && res.wall_us < 5000000);

	s.timeout_ms = 0;
	r = cdx_runner_new(NULL, NULL);
	assert_int_equal(cdx_runner_ops()->start(r, &s, &err), 0);
	assert_int_equal(cdx_runner_ops()->wait(r, 200, &res), 0);
	cdx_runner_ops()->cancel_all(r, false);
	next_result(r, &res, 10000);
	assert_int_equal(res.end, CDX_PROC_CANCELLED);
	assert_true(res.wall_us < 5000000);
	cdx_runner_free(r);

	{
		volatile sig_atomic_t cancel = 1;
		struct cdx_proc_watch w = {0};
		s.flags = CDX_PROC_KEEP | CDX_PROC_NO_ERREXIT;
		w.cancel = &cancel;
		assert_int_equal(cdx_runner_run_one(&s, &w, &res, &err), 0);
		assert_int_equal(res.end, CDX_PROC_CANCELLED);
		assert_true(res.wall_us < 5000000);
	}
	{
		/* the sleep that sh forked got the SIGTERM too, but what a
		 * CDX_PROC_KEEP leader leaves is not waited for: it may still be
		 * dying, re-parented to us (the subreaper of the runner above) */
		int64_t until = cdx_now_ns() + INT64_C(5000000000);
		while ((count_cmdline(script) || count_children()) && cdx_now_ns() < until) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			poll(NULL, 0, 10);
		}
	}
	assert_int_equal(count_cmdline(script), 0);
	assert_int_equal(count_children(), 0);
	free(script);
	free(in);
}

/* the write end of one attempt's input reaches no other child: A sees end
 * of input while B, started while A's input was pending, still runs */
static void test_input_not_inherited(void **state)
{
	size_t n = 1u << 20;
	char *in = bytes(n);
	const char *u = unique();
	char *script = cdx_xasprintf("sleep %s", u);
	struct cdx_runner *r = cdx_runner_new(NULL, NULL);
	struct cdx_proc_spec a = script_spec("sleep 0.3; cat >/dev/null", 1), b = script_spec(script, 2);
	struct cdx_proc_result res;
	struct cdx_error err = {0};
	(void)state;

	a.input = in;
	a.input_len = n;
	b.input = "b"; /* another input pipe: it must not hold A's either */
	b.input_len = 1;
	assert_int_equal(cdx_runner_ops()->start(r, &a, &err), 0);
	assert_int_equal(cdx_runner_ops()->start(r, &b, &err), 0);
	next_result(r, &res, 10000);
	assert_int_equal(res.token, 1);
	assert_int_equal(res.end, CDX_PROC_EXITED);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(cdx_runner_ops()->running(r), 1);
	cdx_runner_ops()->cancel_all(r, true);
	next_result(r, &res, 10000);
	assert_int_equal(res.token, 2);
	cdx_runner_free(r);
	assert_int_equal(count_cmdline(script), 0);
	free(script);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_codes),
	    cmocka_unit_test(test_output_log_and_callback),
	    cmocka_unit_test(test_env_and_cwd),
	    cmocka_unit_test(test_split_simple),
	    cmocka_unit_test(test_direct_exec),
	    cmocka_unit_test(test_spawn_failures),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_timeout_term_ignored),
	    cmocka_unit_test(test_leftovers),
	    cmocka_unit_test(test_secret_split_writes),
	    cmocka_unit_test(test_cancel_all),
	    cmocka_unit_test(test_resource_usage),
	    cmocka_unit_test(test_wait_interrupted),
	    cmocka_unit_test(test_script_without_interpreter),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_large_output),
	    cmocka_unit_test(test_run_one_keep),
	    cmocka_unit_test(test_input_exact),
	    cmocka_unit_test(test_input_large),
	    cmocka_unit_test(test_input_unread),
	    cmocka_unit_test(test_input_timeout_cancel),
	    cmocka_unit_test(test_input_not_inherited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
