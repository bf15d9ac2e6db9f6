/* runner.c — the real process runner (see runner.h): the life of an
 * attempt from start to its result — output capture with masking,
 * timeouts, reaping, the sweep of leftovers — and cdx_runner_run_one.
 *
 * A start spawns the child (spawn.c: vfork, a session of its own, the
 * death signal, the marker); its merged stdout/stderr is one O_CLOEXEC
 * pipe whose read end the runner polls.  The runner never installs a
 * signal handler and keeps no global state: the exit of a leader is seen
 * through a pidfd (pidfd_open) in the same poll() as the pipes, so a
 * signal that interrupts the wait is always the caller's own (poll fails
 * with EINTR and wait returns 0).  On kernels without pidfds the runner
 * falls back to a short poll tick.
 *
 * Whether exec worked is learnt from the report pipe (spawn.h), read once
 * the leader is reaped.  A failed exec ends as EXITED 127 (not found) or
 * 126 (not runnable), as it would under /bin/sh, with the message in the
 * output; a failure before exec (the working directory, /dev/null) is
 * SPAWNFAIL with the message in the result.
 *
 * A spec with input gets a second O_CLOEXEC pipe for its stdin: the child
 * has the read end as fd 0, the runner the write end, non-blocking and in
 * the same poll() (POLLOUT); every round writes what the pipe takes and the
 * end is closed after the last byte, so the command sees end of input.  A
 * write that fails (EPIPE: no reader is left) drops the rest; so does the
 * end of the leader, so that nothing waits for a process it left behind.
 * SIGPIPE is blocked across the writes and one they raised is taken back
 * with sigtimedwait, so it never reaches a handler or kills the process,
 * whatever its disposition (no global state changes).
 *
 * When a leader has been reaped, its attempt "sweeps" (sweep.c says what
 * belongs to it): it SIGKILLs every process that still belongs to it,
 * rescans with a growing tick until none is left (or SWEEP_LIMIT passes: a
 * process stuck in the kernel), then reads the pipe to EOF (or for at
 * most DRAIN_LIMIT more).  Only then is the attempt finished and returned
 * by wait.  An attempt that keeps what it starts (CDX_PROC_KEEP) skips the
 * sweep and reads only what is in its pipe when its leader has ended.
 *
 * Reaping uses wait4(-1): the runner owns every child of its process (one
 * runner per process at a time), which is how re-parented orphans are
 * reaped and why no zombie stays behind.  The runner of cdx_runner_run_one
 * ("solo") is the exception: it waits for its own leader by pid only and
 * is no subreaper, so it disturbs no other child of the process.
 */
#include "exec/runner_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS CDX_MS
#define READ_CHUNK 65536      /* bytes per read of an output pipe */
#define READS_PER_ROUND 4     /* reads of one pipe before the others get a turn */
#define REST_READS 16         /* reads of what a CDX_PROC_KEEP process left in its pipe */
#define SWEEP_TICK_MIN (2 * MS)
#define SWEEP_TICK_MAX (50 * MS)
#define SWEEP_LIMIT (5000 * MS) /* give up on leftovers that do not die */
#define DRAIN_LIMIT (2000 * MS) /* then wait this long at most for EOF */
#define NOPIDFD_TICK (10 * MS)  /* poll tick when a leader has no pidfd */
#define ORPHAN_TICK (1000 * MS) /* reap re-parented orphans at least this often */
#define SOLO_TICK_MS 100        /* cdx_runner_run_one looks at its cancel flag this often */

/* ---- small helpers ------------------------------------------------------- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd); /* not retried on EINTR: Linux has closed it anyway */
	*fd = -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* fd_high: FD moved to a descriptor >= 3 (close-on-exec), so that dup2 onto
 * 0, 1 and 2 in the child never meets itself; -1 on failure (FD closed). */
static int fd_high(int fd)
{
	int n;
	if (fd < 0 || fd > 2)
		return fd;
	n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return n;
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static int64_t ns_from_ms(int64_t ms)
{
	if (ms <= 0)
		return 0;
	if (ms > INT64_MAX / MS / 2)
		return INT64_MAX / 2;
	return ms * MS;
}

static int64_t tv_us(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void attempt_free(struct cdx_attempt *a)
{
	if (!a)
		return;
	close_fd(&a->pidfd);
	close_fd(&a->out_fd);
	close_fd(&a->in_fd);
	free(a->in_buf);
	close_fd(&a->rep_fd);
	close_fd(&a->log_fd);
	cdx_mask_free(a->mask);
	free(a->marker);
	free(a->what);
	free(a->cwd);
	free(a->log_path);
	free(a->signalled);
	free(a);
}

/* ---- pipes --------------------------------------------------------------- */

/* open_pipes: the output pipe OUTP (unless SPEC's output goes to our
 * stderr), the report pipe REPP and the input pipe INP (when SPEC has
 * input), all close-on-exec at descriptors >= 3, our ends non-blocking;
 * A->pipe_ino set.  -1 with ERR set. */
static int open_pipes(struct cdx_attempt *a, const struct cdx_proc_spec *spec, int outp[2], int repp[2],
		      int inp[2], struct cdx_error *err)
{
	bool want_out = spec->output != CDX_PROC_OUT_STDERR, want_in = spec->input != NULL;
	struct stat st;
	int i;

	if ((want_out && pipe2(outp, O_CLOEXEC) < 0) || pipe2(repp, O_CLOEXEC) < 0 ||
	    (want_in && pipe2(inp, O_CLOEXEC) < 0))
		return cdx_error_set(err, CDX_EFAILED, "cannot create a pipe: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		if (want_out)
			outp[i] = fd_high(outp[i]);
		if (want_in)
			inp[i] = fd_high(inp[i]);
		repp[i] = fd_high(repp[i]);
	}
	if ((want_out && (outp[0] < 0 || outp[1] < 0)) || (want_in && (inp[0] < 0 || inp[1] < 0)) ||
	    repp[0] < 0 || repp[1] < 0)
		return cdx_error_set(err, CDX_EFAILED, "cannot move a pipe: %s", strerror(errno));
	if (fcntl(repp[0], F_SETFL, O_NONBLOCK) < 0 ||
	    (want_out && (fcntl(outp[0], F_SETFL, O_NONBLOCK) < 0 || fstat(outp[0], &st) < 0)))
		return cdx_error_set(err, CDX_EFAILED, "cannot set up the output pipe: %s", strerror(errno));
	if (want_in && fcntl(inp[1], F_SETFL, O_NONBLOCK) < 0)
		return cdx_error_set(err, CDX_EFAILED, "cannot set up the input pipe: %s", strerror(errno));
	if (want_out)
		a->pipe_ino = st.st_ino;
	return 0;
}

/* attempt_new: the attempt for SPEC before its start, its log open; NULL
 * with ERR set */
static struct cdx_attempt *attempt_new(struct cdx_runner *r, const struct cdx_proc_spec *spec,
				       struct cdx_error *err)
{
	struct cdx_attempt *a = cdx_xcalloc(1, sizeof(*a));
	a->pidfd = a->out_fd = a->rep_fd = a->log_fd = a->in_fd = -1;
	a->token = spec->token;
	a->keep = (spec->flags & CDX_PROC_KEEP) != 0;
	a->marker = cdx_xasprintf("%s=%s%ld.%" PRIu64 "%s%s", CDX_MARKER_NAME, a->keep ? CDX_MARKER_KEEP : "",
				  (long)r->self, spec->token, a->keep && spec->owner ? "." : "",
				  a->keep && spec->owner ? spec->owner : "");
	if (spec->log_path) {
		a->log_path = cdx_xstrdup(spec->log_path);
		do
			a->log_fd = open(spec->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		while (a->log_fd < 0 && errno == EINTR);
		if (a->log_fd < 0) {
			cdx_error_set(err, CDX_EFAILED, "cannot open log %s: %s", spec->log_path, strerror(errno));
			attempt_free(a);
			return NULL;
		}
	}
	return a;
}

/* ---- input --------------------------------------------------------------- */

/* input_end: A's input is all written, or the rest dropped: close its pipe,
 * so that the child reads end of input */
static void input_end(struct cdx_attempt *a)
{
	close_fd(&a->in_fd);
	free(a->in_buf);
	a->in_buf = NULL;
	a->in_len = a->in_off = 0;
}

/* write_input: write what A's input pipe takes now (never blocks), and end
 * the input after its last byte or at an error no retry will cure (EPIPE:
 * nobody reads).  SIGPIPE is blocked meanwhile and the one a write raised
 * is taken back, so it cannot end the process or reach its handler. */
static void write_input(struct cdx_attempt *a)
{
	static const struct timespec zero = {0, 0};
	sigset_t sigpipe, old, pending;
	bool was_pending;
	int e = 0;

	if (a->in_fd < 0)
		return;
	sigemptyset(&sigpipe);
	sigaddset(&sigpipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigpipe, &old);
	was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	while (a->in_off < a->in_len) {
		ssize_t k = write(a->in_fd, a->in_buf + a->in_off, a->in_len - a->in_off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break; /* full: the next POLLOUT */
		if (k <= 0) {
			e = k < 0 ? errno : EIO;
			break;
		}
		a->in_off += (size_t)k;
	}
	if (e == EPIPE && !was_pending) {
		/* ours (had one been pending before, ours merged into it: not ours to take) */
		while (sigtimedwait(&sigpipe, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	if (e || a->in_off == a->in_len)
		input_end(a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- start --------------------------------------------------------------- */

static int runner_start(void *self, const struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct cdx_runner *r = self;
	struct cdx_spawn_plan plan = {0};
	struct cdx_attempt *a = NULL;
	int outp[2] = {-1, -1}, repp[2] = {-1, -1}, inp[2] = {-1, -1};
	pid_t pid;
	int rc = -1, i;

	if ((!spec->argv && !spec->script) || (spec->argv && !spec->argv[0])) {
		cdx_error_set(err, CDX_EUSAGE, "nothing to run: neither argv nor script given");
		goto out;
	}
	a = attempt_new(r, spec, err);
	if (!a || open_pipes(a, spec, outp, repp, inp, err) < 0)
		goto out;

	cdx_spawn_prepare(&r->paths, &plan, spec, a->marker);
	plan.parent = r->self;
	plan.cwd = spec->cwd;
	plan.output = (int)spec->output;
	plan.in_r = inp[0];
	plan.out_w = outp[1];
	plan.msg_fd = spec->output == CDX_PROC_OUT_MERGED ? outp[1] : 2;
	plan.rep_w = repp[1];
	plan.keep = a;
	a->start_ms = cdx_wall_ms();
	a->start_ns = cdx_now_ns();
	pid = cdx_spawn(&plan);
	if (pid < 0) {
		cdx_error_set(err, CDX_EFAILED, "cannot fork: %s", strerror(errno));
		goto out;
	}

	a->pid = pid;
	if (!r->no_pidfd) {
		a->pidfd = pidfd_open_(pid);
		if (a->pidfd < 0 && errno == ENOSYS)
			r->no_pidfd = true; /* fall back to NOPIDFD_TICK */
	}
	a->out_fd = outp[0];
	a->rep_fd = repp[0];
	a->in_fd = inp[1];
	outp[0] = repp[0] = inp[1] = -1;
	if (spec->input) {
		a->in_len = spec->input_len;
		a->in_buf = cdx_xmalloc(a->in_len + 1);
		memcpy(a->in_buf, spec->input, a->in_len);
	}
	a->mask = cdx_mask_new(spec->secrets);
	a->what = cdx_xstrdup(plan.what);
	a->cwd = spec->cwd ? cdx_xstrdup(spec->cwd) : NULL;
	a->grace_ns = ns_from_ms(spec->grace_ms);
	if (spec->timeout_ms > 0)
		a->deadline_ns = a->start_ns + ns_from_ms(spec->timeout_ms);
	write_input(a); /* what the pipe takes now; an empty input ends here */
	CDX_PUSH(r->att, r->natt, r->capatt, a);
	a = NULL;
	rc = 0;
out:
	for (i = 0; i < 2; i++) {
		close_fd(&outp[i]);
		close_fd(&repp[i]);
		close_fd(&inp[i]);
	}
	cdx_spawn_plan_free(&plan);
	attempt_free(a);
	return rc;
}

/* ---- output -------------------------------------------------------------- */

/* emit: pass r->masked (A's output) to the log and the callback. */
static void emit(struct cdx_runner *r, struct cdx_attempt *a)
{
	if (!r->masked.len)
		return;
	if (a->log_fd >= 0 && !a->log_failed && write_all(a->log_fd, r->masked.data, r->masked.len) < 0) {
		int e = errno ? errno : EIO;
		char *msg = cdx_xasprintf("cdx: cannot write log %s: %s\n", a->log_path, strerror(e));
		a->log_failed = true;
		a->log_errno = e;
		if (r->out)
			r->out(r->out_ctx, a->token, msg, strlen(msg));
		free(msg);
	}
	if (r->out)
		r->out(r->out_ctx, a->token, r->masked.data, r->masked.len);
	cdx_buf_reset(&r->masked);
}

static void output_end(struct cdx_runner *r, struct cdx_attempt *a)
{
	close_fd(&a->out_fd);
	cdx_buf_reset(&r->masked);
	cdx_mask_flush(a->mask, &r->masked);
	emit(r, a);
}

/* read_output: read A's pipe until it is empty (at most READS_PER_ROUND
 * reads, so that one busy attempt does not starve the others), or to EOF;
 * true when it stopped at that limit (more may be there). */
static bool read_output(struct cdx_runner *r, struct cdx_attempt *a)
{
	int n;
	for (n = 0; a->out_fd >= 0 && n < READS_PER_ROUND; n++) {
		ssize_t k = read(a->out_fd, r->rbuf, READ_CHUNK);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (k <= 0) {
			output_end(r, a); /* EOF, or an error no retry will cure */
			return false;
		}
		cdx_buf_reset(&r->masked);
		cdx_mask_feed(a->mask, r->rbuf, (size_t)k, &r->masked);
		emit(r, a);
	}
	return a->out_fd >= 0;
}

/* output_rest: A keeps what it started and its leader ended: what is in the
 * pipe now is the rest of its output; a process it left running may hold
 * the pipe open, and is not waited for. */
static void output_rest(struct cdx_runner *r, struct cdx_attempt *a)
{
	int n;
	for (n = 0; n < REST_READS && read_output(r, a); n++)
		;
	if (a->out_fd >= 0)
		output_end(r, a);
}

/* ---- reaping and the life of an attempt ----------------------------------- */

static void read_report(struct cdx_attempt *a)
{
	ssize_t k;
	do
		k = read(a->rep_fd, &a->report, sizeof(a->report));
	while (k < 0 && errno == EINTR);
	a->reported = k == (ssize_t)sizeof(a->report);
	close_fd(&a->rep_fd);
}

static void leader_ended(struct cdx_attempt *a, int status, const struct rusage *ru, int64_t now)
{
	a->reaped = true;
	a->status = status;
	if (ru)
		a->ru = *ru;
	a->end_ns = now;
	close_fd(&a->pidfd);
	input_end(a); /* whatever it left running is not fed */
	read_report(a); /* the child is gone: the report is there or never comes */
	a->sweep_next_ns = now;
	a->sweep_tick_ns = SWEEP_TICK_MIN;
	a->sweep_limit_ns = now + SWEEP_LIMIT;
}

/* reap_solo: wait for the leaders of R's attempts by pid, nothing else. */
static void reap_solo(struct cdx_runner *r)
{
	size_t i;
	for (i = 0; i < r->natt; i++) {
		struct cdx_attempt *a = r->att[i];
		struct rusage ru;
		pid_t pid;
		int st;
		if (a->reaped)
			continue;
		do
			pid = wait4(a->pid, &st, WNOHANG, &ru);
		while (pid < 0 && errno == EINTR);
		if (pid == a->pid)
			leader_ended(a, st, &ru, cdx_now_ns());
	}
}

/* reap: wait for every child that has ended, leaders and orphans alike
 * (a solo runner: its own leaders only). */
static void reap(struct cdx_runner *r)
{
	if (r->solo) {
		reap_solo(r);
		return;
	}
	for (;;) {
		struct rusage ru;
		int st, i;
		pid_t pid = wait4(-1, &st, WNOHANG, &ru);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return; /* none has ended, or ECHILD */
		i = cdx_runner_live_leader(r, pid);
		if (i >= 0)
			leader_ended(r->att[i], st, &ru, cdx_now_ns());
		/* else a re-parented orphan: reaped, nothing more to do */
	}
}

/* check_lost: A's pidfd says its leader ended, yet reap() did not see it. */
static void check_lost(struct cdx_attempt *a)
{
	siginfo_t si;
	int rc;

	memset(&si, 0, sizeof(si));
	do
		rc = waitid(P_PID, (id_t)a->pid, &si, WEXITED | WNOHANG | WNOWAIT);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno == ECHILD) {
		/* someone else in this process reaped it: the status is lost */
		leader_ended(a, 255 << 8, NULL, cdx_now_ns());
		return;
	}
	if (rc < 0 || si.si_pid == 0)
		close_fd(&a->pidfd); /* not reapable yet: poll with NOPIDFD_TICK */
				     /* else it became reapable just after reap(): the next round takes it */
}

/* advance: timeouts, the SIGKILL after grace, sweeps and drain limits. */
static void advance(struct cdx_runner *r, int64_t now)
{
	size_t i;

	r->scan_fresh = false;
	for (i = 0; i < r->natt; i++) {
		struct cdx_attempt *a = r->att[i];
		if (!a->reaped) {
			if (a->deadline_ns && !a->sent && now >= a->deadline_ns) {
				a->timed_out = true;
				cdx_sweep_signal(r, i, SIGTERM);
				a->kill_ns = now + a->grace_ns;
			}
			if (a->kill_ns && now >= a->kill_ns) {
				cdx_sweep_signal(r, i, SIGKILL);
				a->kill_ns = 0;
			}
		} else if (!a->swept && a->keep) {
			a->swept = true; /* what it started is meant to live on */
			output_rest(r, a);
		} else if (!a->swept) {
			if (!a->sent && cdx_sweep_nothing_left(r, a)) {
				a->swept = true;
				a->drain_limit_ns = now + DRAIN_LIMIT;
			} else if (now >= a->sweep_next_ns) {
				size_t left = cdx_sweep_signal(r, i, SIGKILL);
				if (!left || now >= a->sweep_limit_ns) {
					a->swept = true;
					a->drain_limit_ns = now + DRAIN_LIMIT;
				} else {
					a->sweep_next_ns = now + a->sweep_tick_ns;
					if (a->sweep_tick_ns < SWEEP_TICK_MAX)
						a->sweep_tick_ns *= 2;
				}
			}
		} else if (a->out_fd >= 0 && now >= a->drain_limit_ns) {
			/* a holder we cannot find keeps the pipe open */
			read_output(r, a);
			if (a->out_fd >= 0)
				output_end(r, a);
		}
	}
}

static void fill_result(const struct cdx_attempt *a, struct cdx_proc_result *res)
{
	int st = a->status;

	memset(res, 0, sizeof(*res));
	res->token = a->token;
	res->start_ms = a->start_ms;
	res->wall_us = (a->end_ns - a->start_ns) / 1000;
	res->user_us = tv_us(a->ru.ru_utime);
	res->sys_us = tv_us(a->ru.ru_stime);
	res->maxrss_kb = a->ru.ru_maxrss;
	res->log_errno = a->log_errno;
	if (WIFEXITED(st)) {
		res->exit_code = WEXITSTATUS(st);
		res->term_signal = a->timed_out || a->cancelled ? a->sent : 0;
	} else {
		res->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : a->sent;
		res->exit_code = 128 + res->term_signal;
	}
	if (a->reported && a->report.stage != CDX_SPAWN_EXEC) {
		const char *dir = a->report.stage == CDX_SPAWN_CHDIR && a->cwd ? a->cwd : "";
		res->end = CDX_PROC_SPAWNFAIL;
		snprintf(res->error, sizeof(res->error), "%s%s: %s", cdx_spawn_stage_text(a->report.stage), dir,
			 strerror(a->report.err));
	} else if (a->cancelled) {
		res->end = CDX_PROC_CANCELLED;
	} else if (a->timed_out) {
		res->end = CDX_PROC_TIMEDOUT;
	} else if (WIFSIGNALED(st)) {
		res->end = CDX_PROC_SIGNALED;
	} else {
		res->end = CDX_PROC_EXITED;
	}
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* next_wake: the earliest time a timer of the runner is due, or UNTIL. */
static int64_t next_wake(const struct cdx_runner *r, int64_t now, int64_t until)
{
	int64_t t = min64(until, now + ORPHAN_TICK);
	size_t i;

	for (i = 0; i < r->natt; i++) {
		const struct cdx_attempt *a = r->att[i];
		if (!a->reaped) {
			if (a->deadline_ns && !a->sent)
				t = min64(t, a->deadline_ns);
			if (a->kill_ns)
				t = min64(t, a->kill_ns);
			if (a->pidfd < 0)
				t = min64(t, now + NOPIDFD_TICK);
		} else if (!a->swept) {
			t = min64(t, a->sweep_next_ns);
		} else if (a->out_fd >= 0) {
			t = min64(t, a->drain_limit_ns);
		}
	}
	return t;
}

static void pfd_add(struct cdx_runner *r, size_t *n, int fd, short events, size_t att)
{
	cdx_grow(&r->pfd, &r->cappfd, *n + 1, sizeof(*r->pfd));
	cdx_grow(&r->pfd_att, &r->cappfd_att, *n + 1, sizeof(*r->pfd_att));
	r->pfd[*n].fd = fd;
	r->pfd[*n].events = events;
	r->pfd[*n].revents = 0;
	r->pfd_att[*n] = att;
	(*n)++;
}

static int runner_wait(void *self, int timeout_ms, struct cdx_proc_result *res)
{
	struct cdx_runner *r = self;
	int64_t now = cdx_now_ns();
	int64_t until = timeout_ms < 0 ? INT64_MAX : now + (int64_t)timeout_ms * MS;
	bool polled = false; /* even wait(0) reads what is there */

	for (;;) {
		size_t i, n = 0;
		int64_t wake;
		int ms, k;

		reap(r);
		now = cdx_now_ns();
		advance(r, now);
		for (i = 0; i < r->natt; i++) {
			struct cdx_attempt *a = r->att[i];
			if (a->reaped && a->swept && a->out_fd < 0) {
				fill_result(a, res);
				memmove(&r->att[i], &r->att[i + 1], (r->natt - i - 1) * sizeof(*r->att));
				r->natt--;
				attempt_free(a);
				return 1;
			}
		}
		if (!r->natt || (polled && now >= until))
			return 0;

		for (i = 0; i < r->natt; i++) {
			if (r->att[i]->out_fd >= 0)
				pfd_add(r, &n, r->att[i]->out_fd, POLLIN, i);
			if (r->att[i]->in_fd >= 0)
				pfd_add(r, &n, r->att[i]->in_fd, POLLOUT, i);
			if (r->att[i]->pidfd >= 0)
				pfd_add(r, &n, r->att[i]->pidfd, POLLIN, i);
		}
		wake = next_wake(r, now, until);
		if (wake == INT64_MAX)
			ms = -1;
		else if (wake <= now)
			ms = 0;
		else
			ms = (int)min64((wake - now + MS - 1) / MS, INT_MAX);
		k = poll(r->pfd, n, ms);
		polled = true;
		if (k < 0)
			return 0; /* EINTR: the caller's signal; ENOMEM: try again later */
		for (i = 0; k > 0 && i < n; i++) {
			struct cdx_attempt *a = r->att[r->pfd_att[i]];
			if (!r->pfd[i].revents)
				continue;
			if (r->pfd[i].fd == a->out_fd)
				read_output(r, a);
			else if (r->pfd[i].fd == a->in_fd)
				write_input(a); /* POLLOUT, or POLLERR: no reader left */
			else if (r->pfd[i].fd == a->pidfd) {
				reap(r);
				if (!a->reaped)
					check_lost(a);
			}
		}
	}
}

/* ---- the rest of the ops ------------------------------------------------- */

/* cancel the attempts whose token is TOKEN, or all of them (ALL) */
static void cancel_some(struct cdx_runner *r, bool all, uint64_t token, bool now)
{
	int64_t t = cdx_now_ns();
	size_t i;

	r->scan_fresh = false;
	for (i = 0; i < r->natt; i++) {
		struct cdx_attempt *a = r->att[i];
		if (a->reaped || (!all && a->token != token))
			continue; /* it ended on its own: report how */
		if (!a->timed_out)
			a->cancelled = true;
		if (now) {
			cdx_sweep_signal(r, i, SIGKILL);
			a->kill_ns = 0;
		} else if (!a->sent) {
			cdx_sweep_signal(r, i, SIGTERM);
			a->kill_ns = t + a->grace_ns;
		}
	}
}

static void runner_cancel_all(void *self, bool now)
{
	cancel_some(self, true, 0, now);
}

void cdx_runner_cancel_one(struct cdx_runner *r, uint64_t token, bool now)
{
	cancel_some(r, false, token, now);
}

static size_t runner_running(void *self)
{
	const struct cdx_runner *r = self;
	return r->natt;
}

static const struct cdx_runner_ops ops = {
    .start = runner_start,
    .wait = runner_wait,
    .cancel_all = runner_cancel_all,
    .running = runner_running,
};

const struct cdx_runner_ops *cdx_runner_ops(void)
{
	return &ops;
}

/* host_kids: remember the children the process has now: what the host
 * process started itself is never ours to kill */
static void host_kids(struct cdx_runner *r)
{
	char path[64], buf[4096], *c, *end;
	ssize_t n;
	int fd;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)r->self);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (c = buf;; c = end) {
		long pid = strtol(c, &end, 10);
		if (end == c)
			break;
		CDX_PUSH(r->host_kids, r->nhost_kids, r->caphost_kids, (pid_t)pid);
	}
}

/* runner_alloc: a runner; SOLO: for cdx_runner_run_one (see runner_int.h) */
static struct cdx_runner *runner_alloc(cdx_output_fn out, void *out_ctx, bool solo)
{
	struct cdx_runner *r = cdx_xcalloc(1, sizeof(*r));
	struct sigaction sa;

	r->out = out;
	r->out_ctx = out_ctx;
	r->self = getpid();
	r->solo = solo;
	r->rbuf = cdx_xmalloc(READ_CHUNK);
	if (!solo) {
		host_kids(r);
		/* without it (Linux < 3.4) escaped processes go to init, out of
		 * reach of the scans; groups and sessions are still signalled */
		(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	}
	/* with SIGCHLD ignored the kernel reaps children itself and their
	 * status is lost: the runner needs the default */
	if (sigaction(SIGCHLD, NULL, &sa) == 0 &&
	    (sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT))) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGCHLD, &sa, NULL);
	}
	return r;
}

struct cdx_runner *cdx_runner_new(cdx_output_fn out, void *out_ctx)
{
	return runner_alloc(out, out_ctx, false);
}

/* kill_orphans: the runner is done: any child still ours is a process an
 * attempt left behind that could not be attributed to it (it left the
 * session, dropped the marker and closed the output), re-parented to us as
 * the subreaper.  Kill and reap them, so that none outlives cdx — except
 * what a CDX_PROC_KEEP process (a hook run in this process) started. */
static void kill_orphans(struct cdx_runner *r)
{
	char path[64], buf[4096], *c, *end;
	int round;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)r->self);
	for (round = 0; round < 50; round++) {
		ssize_t n;
		int fd = open(path, O_RDONLY | O_CLOEXEC), killed = 0;
		if (fd < 0)
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			break;
		buf[n] = '\0';
		for (c = buf;; c = end) {
			long pid = strtol(c, &end, 10);
			if (end == c)
				break;
			size_t h;
			bool host = false;
			for (h = 0; h < r->nhost_kids; h++)
				host = host || r->host_kids[h] == (pid_t)pid;
			if (pid > 0 && !host && !cdx_sweep_kept((pid_t)pid) && kill((pid_t)pid, SIGKILL) == 0)
				killed++;
		}
		if (!killed)
			break;
		poll(NULL, 0, 10);
		reap(r);
	}
	reap(r);
}

void cdx_runner_free(struct cdx_runner *r)
{
	int64_t limit;
	int tick = 2;
	size_t i;

	if (!r)
		return;
	limit = cdx_now_ns() + SWEEP_LIMIT;
	for (;;) {
		size_t left = 0;
		reap(r);
		r->scan_fresh = false;
		for (i = 0; i < r->natt; i++) {
			left += cdx_sweep_signal(r, i, SIGKILL);
			left += !r->att[i]->reaped;
		}
		if (!left || cdx_now_ns() >= limit)
			break;
		poll(NULL, 0, tick); /* an EINTR only shortens the nap */
		if (tick < 50)
			tick *= 2;
	}
	if (!r->solo)
		kill_orphans(r);
	for (i = 0; i < r->natt; i++)
		attempt_free(r->att[i]);
	free(r->att);
	free(r->procs);
	free(r->pfd);
	free(r->pfd_att);
	cdx_buf_free(&r->masked);
	cdx_buf_free(&r->scratch);
	free(r->rbuf);
	cdx_pathcache_free(&r->paths);
	free(r->host_kids);
	free(r);
}

/* ---- one process to its end ------------------------------------------------ */

int cdx_runner_run_one(const struct cdx_proc_spec *spec, const struct cdx_proc_watch *w,
		       struct cdx_proc_result *res, struct cdx_error *err)
{
	static const struct cdx_proc_watch none = {0};
	struct cdx_runner *r;
	int64_t tick_ns, next_tick;
	bool cancelled = false;

	if (!w)
		w = &none;
	r = runner_alloc(w->out, w->out_ctx, true);
	if (runner_start(r, spec, err) < 0) {
		cdx_runner_free(r);
		return -1;
	}
	tick_ns = (w->tick_ms > 0 ? w->tick_ms : SOLO_TICK_MS) * MS;
	next_tick = cdx_now_ns() + tick_ns;
	for (;;) {
		int64_t now = cdx_now_ns(), ms = SOLO_TICK_MS;
		if (w->cancel && *w->cancel && !cancelled) {
			runner_cancel_all(r, false);
			cancelled = true;
		}
		if (w->tick) {
			if (now >= next_tick) {
				w->tick(w->tick_ctx);
				next_tick = now + tick_ns;
			}
			ms = min64(ms, (next_tick - now + MS - 1) / MS);
		}
		/* a signal (the one that sets *cancel) ends the wait early */
		if (runner_wait(r, (int)ms, res) == 1)
			break;
	}
	cdx_runner_free(r);
	return 0;
}

