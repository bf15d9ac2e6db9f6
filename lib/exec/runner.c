/* runner.c — the real process runner (see runner.h): vfork, exec, output
 * capture with masking, timeouts, leftover cleanup and reaping.
 *
 * Each attempt is a child started with vfork() in its own session; its
 * merged stdout/stderr is one O_CLOEXEC pipe whose read end the runner
 * polls.  The runner never installs a signal handler and keeps no global
 * state: the exit of a leader is seen through a pidfd (pidfd_open) in the
 * same poll() as the pipes, so a signal that interrupts the wait is always
 * the caller's own (poll fails with EINTR and wait returns 0).  On kernels
 * without pidfds the runner falls back to a short poll tick.
 *
 * vfork, not fork: the parent's memory is not copied (fork of a large
 * process costs milliseconds, and fails under strict overcommit), and the
 * calling thread resumes once the child has exec'd or exited, as with
 * posix_spawn (which cannot search the PATH of spec->envp or tell a failed
 * chdir from a failed exec).  The child shares the parent's memory until
 * then, so it only makes raw system calls, writes nothing but the plan it
 * was given, runs no handler (every signal is blocked across vfork and
 * reset to SIG_DFL in the child before it is unblocked) and never returns.
 *
 * Whether exec worked is learnt from a second O_CLOEXEC pipe: the child
 * writes a struct child_report into it when a step fails, and exec closes
 * it otherwise; the parent reads it once the leader is reaped.  A failed
 * exec ends as EXITED 127 (not found) or 126 (not runnable), as it would
 * under /bin/sh, with the message in the output; a failure before exec
 * (the working directory, /dev/null) is SPAWNFAIL with the message in the
 * result.
 *
 * The runner's process is made a child subreaper, so every process an
 * attempt starts stays a descendant of the runner, also after its parent
 * died or it called setsid.  A process belongs to attempt A when it
 * descends from A's leader (while the leader lives), or else when it is in
 * A's process group or session, carries A's marker CDX_ATTEMPT_KEY in its
 * environment, holds A's output pipe, or descends from such a process.  The
 * runner finds them by a scan of /proc (stat of every process; environ and
 * fd of the few unattributed descendants only), and signals only its own
 * descendants.  When a leader has been reaped, its attempt "sweeps": it
 * SIGKILLs every process that still belongs to it, rescans with a growing
 * tick until none is left (or SWEEP_LIMIT passes: a process stuck in the
 * kernel), then reads the pipe to EOF (or for at most DRAIN_LIMIT more).
 * Only then is the attempt finished and returned by wait.
 *
 * Reaping uses wait4(-1): the runner owns every child of its process (one
 * runner per process at a time), which is how re-parented orphans are
 * reaped and why no zombie stays behind.  Pid reuse: the kernel does not
 * reuse a pid while it names a live process group or session, and hands
 * out pids cyclically, so signalling a group or a scanned pid right after
 * it was seen cannot reach an unrelated process in practice.
 */
#include "exec/runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/mask.h"

extern char **environ;

#define MARKER_NAME "CDX_ATTEMPT_KEY"
#define SHELL_PATH "/bin/sh"
#define DEFAULT_PATH "/bin:/usr/bin" /* as execvp, when the environment has no PATH */

#define MS (INT64_C(1000000)) /* nanoseconds per millisecond */
#define READ_CHUNK 65536      /* bytes per read of an output pipe */
#define READS_PER_ROUND 4     /* reads of one pipe before the others get a turn */
#define SWEEP_TICK_MIN (2 * MS)
#define SWEEP_TICK_MAX (50 * MS)
#define SWEEP_LIMIT (5000 * MS) /* give up on leftovers that do not die */
#define DRAIN_LIMIT (2000 * MS) /* then wait this long at most for EOF */
#define NOPIDFD_TICK (10 * MS)  /* poll tick when a leader has no pidfd */
#define ORPHAN_TICK (1000 * MS) /* reap re-parented orphans at least this often */
#define ENVIRON_MAX (1 << 20)   /* bytes of /proc/PID/environ looked at */
#define SCAN_DEPTH_MAX 4096     /* parent chain length in a /proc scan */

/* What a child reports through the exec-report pipe when a step fails. */
enum child_stage {
	STAGE_DEVNULL = 1, /* open /dev/null for stdin */
	STAGE_OUTPUT,      /* dup2 of the output pipe */
	STAGE_CHDIR,       /* chdir(cwd) */
	STAGE_EXEC,        /* execve (every candidate of the PATH search) */
};

struct child_report {
	int stage; /* enum child_stage */
	int err;   /* errno */
};

/* Everything the child needs, prepared before vfork: the child only makes
 * async-signal-safe calls, never allocates, and writes to nothing else. */
struct child_plan {
	char **cands; /* paths to try, in PATH order */
	size_t ncands;
	char **argv;      /* argument vector */
	char **shargv;    /* SHELL_PATH, candidate, argv[1..]: for ENOEXEC */
	pid_t parent;     /* the runner's process, for the death signal's race */
	char **envp;      /* the spec's environment plus the marker */
	const char *cwd;  /* or NULL */
	const char *what; /* the command as named in messages */
	int out_w;        /* write end of the output pipe (>= 3, CLOEXEC) */
	int rep_w;        /* write end of the exec-report pipe (>= 3, CLOEXEC) */
	const void *keep; /* the attempt: keeps it reachable for leak checkers in a
			   * child that exits before exec (valgrind runs vfork as fork) */
};

struct attempt {
	uint64_t token;         /* spec->token */
	pid_t pid;              /* leader = its process group = its session */
	int pidfd;              /* leader's pidfd; -1 when reaped or unavailable */
	int out_fd;             /* read end of the output pipe (non-blocking); -1 after EOF */
	int rep_fd;             /* read end of the exec-report pipe; -1 once read */
	int log_fd;             /* log file, O_APPEND; -1 for none */
	ino_t pipe_ino;         /* inode of the output pipe, to spot holders in /proc */
	struct cdx_mask *mask;  /* secrets of this attempt */
	char *marker;           /* "CDX_ATTEMPT_KEY=<runner pid>.<token>" */
	char *what;             /* argv[0] or SHELL_PATH, for messages */
	char *cwd;              /* copy of spec->cwd, for messages; NULL = inherited */
	char *log_path;         /* copy of spec->log_path, for messages */
	bool log_failed;        /* a log write failed (reported once) */
	int64_t start_ns;       /* monotonic, at vfork */
	int64_t start_ms;       /* wall clock, at vfork */
	int64_t deadline_ns;    /* monotonic time of the timeout; 0 = none */
	int64_t grace_ns;       /* SIGTERM to SIGKILL */
	int64_t kill_ns;        /* monotonic time of the pending SIGKILL; 0 = none */
	int sent;               /* last signal the runner sent the leader: 0, SIGTERM, SIGKILL */
	bool timed_out;         /* the runner signalled it for its timeout */
	bool cancelled;         /* the runner signalled it for cancel_all */
	bool reaped;            /* the leader has been waited for */
	int status;             /* its wait status */
	struct rusage ru;       /* its resource usage (with reaped descendants) */
	int64_t end_ns;         /* monotonic, at reap */
	bool swept;             /* no process of it is left (or we gave up) */
	int64_t sweep_next_ns;  /* next sweep round */
	int64_t sweep_tick_ns;  /* current interval between rounds */
	int64_t sweep_limit_ns; /* when to give up sweeping */
	int64_t drain_limit_ns; /* when to stop waiting for EOF after the sweep */
	bool reported;          /* the child reported a failed step in report */
	struct child_report report;
	pid_t *signalled; /* every process the runner signalled for it */
	size_t nsignalled, capsignalled;
};

/* One process as seen in a /proc scan. */
struct proc {
	pid_t pid, ppid, pgrp, sid;
	char state; /* 'R', 'S', 'Z', ... */
	int desc;   /* 0 not yet known, 1 a descendant of the runner, 2 not */
	int owner;  /* index of its attempt, -1 none, OWNER_UNKNOWN */
};
#define OWNER_UNKNOWN (-2)

struct cdx_runner {
	cdx_output_fn out; /* output callback, or NULL */
	void *out_ctx;
	pid_t self;           /* the runner's process */
	bool no_pidfd;        /* pidfd_open is not supported */
	struct attempt **att; /* started and not yet returned, in start order */
	size_t natt, capatt;
	struct proc *procs; /* the last /proc scan, by pid */
	size_t nprocs, capprocs;
	bool scan_fresh;    /* procs is current for this round */
	struct pollfd *pfd; /* poll set of a wait round */
	size_t *pfd_att;    /* attempt index of each pfd entry */
	size_t cappfd, cappfd_att;
	struct cdx_buf masked;  /* masked output of one read */
	struct cdx_buf scratch; /* /proc reads */
	char *rbuf;             /* READ_CHUNK bytes */
	pid_t *host_kids;       /* children the process had before the runner: not ours */
	size_t nhost_kids, caphost_kids;
	char *found_path;       /* PATH the lookups below were made in */
	char **found;           /* "name\0/full/path" of commands found there */
	size_t nfound, capfound;
};

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

/* ---- the child ----------------------------------------------------------- */

/* stage_text: what failed at STAGE, for messages (CHDIR and EXEC are
 * followed by the directory and the command) */
static const char *stage_text(int stage)
{
	switch (stage) {
	case STAGE_DEVNULL:
		return "cannot open /dev/null";
	case STAGE_OUTPUT:
		return "cannot redirect output";
	case STAGE_CHDIR:
		return "cannot change directory to ";
	default:
		return "cannot run ";
	}
}

/* put: append S to the message MSG of capacity CAP at *LEN (truncating). */
static void put(char *msg, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;
	memcpy(msg + *len, s, n);
	*len += n;
	msg[*len] = '\0';
}

/* child_fail: tell the output and the parent that STAGE failed with E, and
 * exit with CODE. */
static void __attribute__((noreturn))
child_fail(const struct child_plan *pl, enum child_stage stage, int e, int code)
{
	struct child_report rep = {stage, e};
#ifdef __GLIBC__
	const char *desc = strerrordesc_np(e);
#else
	const char *desc = strerror(e); /* musl: a lookup in a table, safe here */
#endif
	char msg[1024];
	size_t len = 0;
	ssize_t k;

	msg[0] = '\0';
	put(msg, sizeof(msg), &len, "cdx: ");
	put(msg, sizeof(msg), &len, stage_text(stage));
	if (stage == STAGE_CHDIR)
		put(msg, sizeof(msg), &len, pl->cwd);
	else if (stage == STAGE_EXEC)
		put(msg, sizeof(msg), &len, pl->what);
	put(msg, sizeof(msg), &len, ": ");
	put(msg, sizeof(msg), &len, desc ? desc : "unknown error");
	put(msg, sizeof(msg), &len, "\n");
	do
		k = write(pl->out_w, msg, len);
	while (k < 0 && errno == EINTR);
	do
		k = write(pl->rep_w, &rep, sizeof(rep));
	while (k < 0 && errno == EINTR);
	_exit(code);
}

/* child_run: in the vfork'd child, on the parent's memory; never returns.
 * Signals are all blocked on entry (see runner_start). */
static void __attribute__((noreturn)) child_run(struct child_plan *pl)
{
	struct sigaction sa;
	sigset_t none;
	bool eacces = false;
	int fd, sig, e = ENOENT;
	size_t i;

	setsid(); /* cannot fail: a fresh child is no group leader */
	/* if cdx dies (even by SIGKILL) the attempt's leader dies with it;
	 * what the leader started is swept by the next cdx (cdx_runner_kill_strays) */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != pl->parent)
		_exit(126);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL); /* EINVAL for the libc-reserved ones */
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		child_fail(pl, STAGE_DEVNULL, errno, 126);
	if (fd != 0) {
		if (dup2(fd, 0) < 0)
			child_fail(pl, STAGE_DEVNULL, errno, 126);
		close(fd);
	}
	/* out_w and rep_w are >= 3 and close-on-exec; 1 and 2 are not */
	if (dup2(pl->out_w, 1) < 0 || dup2(pl->out_w, 2) < 0)
		child_fail(pl, STAGE_OUTPUT, errno, 126);
	if (pl->cwd && chdir(pl->cwd) < 0)
		child_fail(pl, STAGE_CHDIR, errno, 126);

	/* the search of execvpe(3), over the PATH of the spec's environment */
	for (i = 0; i < pl->ncands; i++) {
		execve(pl->cands[i], pl->argv, pl->envp);
		e = errno;
		if (e == ENOEXEC && pl->shargv) {
			/* not a binary and no #!: a shell script, as execvp does */
			pl->shargv[1] = pl->cands[i];
			execve(SHELL_PATH, pl->shargv, pl->envp);
			e = errno;
			break;
		}
		if (e == EACCES) {
			eacces = true;
			continue;
		}
		if (e != ENOENT && e != ENOTDIR && e != ESTALE && e != ENODEV && e != ETIMEDOUT)
			break;
	}
	if (i == pl->ncands && eacces)
		e = EACCES;
	child_fail(pl, STAGE_EXEC, e, e == ENOENT || e == ENOTDIR ? 127 : 126);
}

/* spawn: vfork a child that runs PL; the child's pid, or -1 (errno set).
 * Kept apart so that no variable of the caller lives across vfork. */
static pid_t __attribute__((noinline)) spawn(struct child_plan *pl)
{
	pid_t pid = vfork();
	if (pid == 0)
		child_run(pl);
	return pid;
}

/* ---- preparing a start --------------------------------------------------- */

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (; envp && *envp; envp++) {
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	}
	return NULL;
}

/* plan_prepare: fill PL for SPEC (everything malloc'd; plan_free frees). */
/* lookup: the executable NAME resolves to in PATH, remembered per runner
 * (jobs of one run share their PATH); NULL when there is none, and the
 * child then searches itself and reports the failure as execvp would */
static const char *lookup(struct cdx_runner *r, const char *path, const char *name)
{
	const char *p, *q;
	size_t i, nl = strlen(name);
	if (!r->found_path || strcmp(r->found_path, path) != 0) {
		for (i = 0; i < r->nfound; i++)
			free(r->found[i]);
		r->nfound = 0;
		free(r->found_path);
		r->found_path = cdx_xstrdup(path);
	}
	for (i = 0; i < r->nfound; i++)
		if (strcmp(r->found[i], name) == 0)
			return r->found[i] + nl + 1;
	for (p = path;; p = q + 1) {
		size_t dl;
		struct stat st;
		char *cand;
		q = strchr(p, ':');
		dl = q ? (size_t)(q - p) : strlen(p);
		if (dl && p[0] == '/') { /* relative entries depend on the cwd: not cached */
			cand = cdx_xasprintf("%.*s/%s", (int)dl, p, name);
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
				char *entry = cdx_xmalloc(nl + 1 + strlen(cand) + 1);
				memcpy(entry, name, nl + 1);
				memcpy(entry + nl + 1, cand, strlen(cand) + 1);
				free(cand);
				CDX_PUSH(r->found, r->nfound, r->capfound, entry);
				return entry + nl + 1;
			}
			free(cand);
		} else {
			return NULL;
		}
		if (!q)
			return NULL;
	}
}

static void plan_prepare(struct cdx_runner *r, struct child_plan *pl, const struct cdx_proc_spec *spec,
			 const char *marker)
{
	char *const *envp = spec->envp ? spec->envp : environ;
	size_t n = 0, i, cap = 0, mlen = strlen(MARKER_NAME) + 1;

	/* environment: the spec's, any inherited marker replaced by ours */
	while (envp[n])
		n++;
	pl->envp = cdx_xcalloc(n + 2, sizeof(char *));
	for (i = 0, n = 0; envp[i]; i++) {
		if (strncmp(envp[i], MARKER_NAME "=", mlen) != 0)
			pl->envp[n++] = cdx_xstrdup(envp[i]);
	}
	pl->envp[n++] = cdx_xstrdup(marker);
	pl->envp[n] = NULL;

	if (!spec->argv) {
		pl->argv = cdx_xcalloc(5, sizeof(char *));
		pl->argv[0] = cdx_xstrdup("sh");
		pl->argv[1] = cdx_xstrdup("-e");
		pl->argv[2] = cdx_xstrdup("-c");
		pl->argv[3] = cdx_xstrdup(spec->script);
		pl->cands = cdx_xcalloc(1, sizeof(char *));
		pl->cands[pl->ncands++] = cdx_xstrdup(SHELL_PATH);
		pl->what = SHELL_PATH;
		return;
	}

	for (n = 0; spec->argv[n]; n++)
		;
	pl->argv = cdx_xcalloc(n + 1, sizeof(char *));
	pl->shargv = cdx_xcalloc(n + 2, sizeof(char *));
	for (i = 0; i < n; i++)
		pl->argv[i] = cdx_xstrdup(spec->argv[i]);
	pl->shargv[0] = SHELL_PATH;
	for (i = 1; i < n; i++)
		pl->shargv[i + 1] = pl->argv[i];
	pl->what = pl->argv[0];

	if (strchr(pl->argv[0], '/')) {
		CDX_PUSH(pl->cands, pl->ncands, cap, cdx_xstrdup(pl->argv[0]));
	} else if (pl->argv[0][0]) {
		const char *path = env_get(envp, "PATH");
		const char *p, *q, *hit;
		if (!path)
			path = DEFAULT_PATH;
		hit = lookup(r, path, pl->argv[0]);
		if (hit) {
			/* one execve instead of one per PATH entry */
			CDX_PUSH(pl->cands, pl->ncands, cap, cdx_xstrdup(hit));
			return;
		}
		for (p = path;; p = q + 1) {
			size_t dl;
			q = strchr(p, ':');
			dl = q ? (size_t)(q - p) : strlen(p);
			/* an empty entry is the working directory */
			CDX_PUSH(pl->cands, pl->ncands, cap,
				 dl ? cdx_xasprintf("%.*s/%s", (int)dl, p, pl->argv[0])
				    : cdx_xstrdup(pl->argv[0]));
			if (!q)
				break;
		}
	}
}

static void strv_free(char **v)
{
	size_t i;
	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void plan_free(struct child_plan *pl)
{
	size_t i;
	for (i = 0; i < pl->ncands; i++)
		free(pl->cands[i]);
	free(pl->cands);
	strv_free(pl->argv);
	free(pl->shargv); /* borrows from argv */
	strv_free(pl->envp);
}

static void attempt_free(struct attempt *a)
{
	if (!a)
		return;
	close_fd(&a->pidfd);
	close_fd(&a->out_fd);
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

/* ---- start --------------------------------------------------------------- */

static int runner_start(void *self, const struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct cdx_runner *r = self;
	struct child_plan plan = {0};
	struct attempt *a = NULL;
	int outp[2] = {-1, -1}, repp[2] = {-1, -1};
	sigset_t all, old;
	struct stat st;
	pid_t pid;
	int rc = -1, e, i;

	if ((!spec->argv && !spec->script) || (spec->argv && !spec->argv[0])) {
		cdx_error_set(err, CDX_EUSAGE, "nothing to run: neither argv nor script given");
		goto out;
	}
	a = cdx_xcalloc(1, sizeof(*a));
	a->pidfd = a->out_fd = a->rep_fd = a->log_fd = -1;
	a->token = spec->token;
	a->marker = cdx_xasprintf("%s=%ld.%" PRIu64, MARKER_NAME, (long)r->self, spec->token);

	if (spec->log_path) {
		a->log_path = cdx_xstrdup(spec->log_path);
		do
			a->log_fd = open(spec->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		while (a->log_fd < 0 && errno == EINTR);
		if (a->log_fd < 0) {
			cdx_error_set(err, CDX_EFAILED, "cannot open log %s: %s", spec->log_path,
				      strerror(errno));
			goto out;
		}
	}
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(repp, O_CLOEXEC) < 0) {
		cdx_error_set(err, CDX_EFAILED, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < 2; i++) {
		outp[i] = fd_high(outp[i]);
		repp[i] = fd_high(repp[i]);
	}
	if (outp[0] < 0 || outp[1] < 0 || repp[0] < 0 || repp[1] < 0) {
		cdx_error_set(err, CDX_EFAILED, "cannot move a pipe: %s", strerror(errno));
		goto out;
	}
	if (fcntl(outp[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(repp[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fstat(outp[0], &st) < 0) {
		cdx_error_set(err, CDX_EFAILED, "cannot set up the output pipe: %s", strerror(errno));
		goto out;
	}
	a->pipe_ino = st.st_ino;

	plan_prepare(r, &plan, spec, a->marker);
	plan.parent = r->self;
	plan.cwd = spec->cwd;
	plan.out_w = outp[1];
	plan.rep_w = repp[1];
	plan.keep = a;

	/* no handler may run in the child (on the parent's memory) before it
	 * has reset them all */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) < 0) {
		cdx_error_set(err, CDX_EFAILED, "cannot block signals: %s", strerror(errno));
		goto out;
	}
	a->start_ms = cdx_wall_ms();
	a->start_ns = cdx_now_ns();
	pid = spawn(&plan);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		cdx_error_set(err, CDX_EFAILED, "cannot fork: %s", strerror(e));
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
	outp[0] = repp[0] = -1;
	a->mask = cdx_mask_new(spec->secrets);
	a->what = cdx_xstrdup(plan.what);
	a->cwd = spec->cwd ? cdx_xstrdup(spec->cwd) : NULL;
	a->grace_ns = ns_from_ms(spec->grace_ms);
	if (spec->timeout_ms > 0)
		a->deadline_ns = a->start_ns + ns_from_ms(spec->timeout_ms);
	CDX_PUSH(r->att, r->natt, r->capatt, a);
	a = NULL;
	rc = 0;
out:
	for (i = 0; i < 2; i++) {
		close_fd(&outp[i]);
		close_fd(&repp[i]);
	}
	plan_free(&plan);
	attempt_free(a);
	return rc;
}

/* ---- /proc scan ---------------------------------------------------------- */

static int proc_cmp(const void *pa, const void *pb)
{
	const struct proc *a = pa, *b = pb;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

/* read_small: up to CAP - 1 bytes of the file PATH into BUF, NUL-terminated;
 * the length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	ssize_t k;
	int fd;
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	do
		k = read(fd, buf, cap - 1);
	while (k < 0 && errno == EINTR);
	close(fd);
	if (k < 0)
		return -1;
	buf[k] = '\0';
	return k;
}

/* parse_stat: pid, state, ppid, pgrp and session from /proc/PID/stat. */
static bool parse_stat(const char *buf, struct proc *p)
{
	const char *s = strrchr(buf, ')'); /* the command may contain ')' */
	char *e;
	long v[3];
	int i;

	if (!s || s[1] != ' ' || !s[2] || s[3] != ' ')
		return false;
	p->state = s[2];
	s += 4;
	for (i = 0; i < 3; i++) {
		v[i] = strtol(s, &e, 10);
		if (e == s)
			return false;
		s = e;
	}
	p->ppid = (pid_t)v[0];
	p->pgrp = (pid_t)v[1];
	p->sid = (pid_t)v[2];
	return true;
}

/* proc_scan: every process of the system into r->procs, sorted by pid.
 * Processes that vanish meanwhile are skipped; on failure the list is
 * empty (and the runner then relies on process groups alone). */
static void proc_scan(struct cdx_runner *r)
{
	struct dirent *de;
	char path[64], buf[512];
	bool sorted = true;
	DIR *d;

	r->nprocs = 0;
	r->scan_fresh = true;
	d = opendir("/proc");
	if (!d)
		return;
	for (de = readdir(d); de; de = readdir(d)) {
		struct proc p = {0};
		char *e;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &e, 10);
		if (*e || pid <= 0 || pid > INT_MAX)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (read_small(path, buf, sizeof(buf)) < 0 || !parse_stat(buf, &p))
			continue;
		p.pid = (pid_t)pid;
		p.owner = OWNER_UNKNOWN;
		if (r->nprocs && r->procs[r->nprocs - 1].pid > p.pid)
			sorted = false;
		CDX_PUSH(r->procs, r->nprocs, r->capprocs, p);
	}
	closedir(d);
	if (!sorted)
		qsort(r->procs, r->nprocs, sizeof(*r->procs), proc_cmp);
}

static struct proc *proc_find(struct cdx_runner *r, pid_t pid)
{
	size_t lo = 0, hi = r->nprocs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->procs[mid].pid == pid)
			return &r->procs[mid];
		if (r->procs[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* live_leader: the index of the attempt whose unreaped leader is PID, or -1 */
static int live_leader(const struct cdx_runner *r, pid_t pid)
{
	size_t i;
	for (i = 0; i < r->natt; i++) {
		if (!r->att[i]->reaped && r->att[i]->pid == pid)
			return (int)i;
	}
	return -1;
}

/* find_marker: the next entry "CDX_ATTEMPT_KEY=..." after S in the
 * NUL-separated environment S..END, or NULL. */
static const char *find_marker(const char *s, const char *end)
{
	static const char needle[] = "\0" MARKER_NAME "=";
	const char *p = memmem(s, (size_t)(end - s), needle, sizeof(needle) - 1);
	return p ? p + 1 : NULL;
}

/* marker_owner: the attempt whose marker P's environment carries, or -1 */
static int marker_owner(struct cdx_runner *r, const struct proc *p)
{
	char path[64], chunk[4096];
	const char *s, *end;
	ssize_t k;
	size_t i;
	int fd, owner = -1;

	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)p->pid);
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	cdx_buf_reset(&r->scratch);
	cdx_buf_addc(&r->scratch, '\0'); /* so every entry follows a NUL */
	while (r->scratch.len < ENVIRON_MAX) {
		k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		cdx_buf_add(&r->scratch, chunk, (size_t)k);
	}
	close(fd);
	end = r->scratch.data + r->scratch.len;
	for (s = find_marker(r->scratch.data, end); owner < 0 && s; s = find_marker(s, end)) {
		for (i = 0; i < r->natt; i++) {
			size_t ml = strlen(r->att[i]->marker) + 1; /* with its NUL */
			if ((size_t)(end - s) >= ml && memcmp(s, r->att[i]->marker, ml) == 0) {
				owner = (int)i;
				break;
			}
		}
	}
	return owner;
}

/* pipe_owner: the attempt whose output pipe P holds open, or -1 */
static int pipe_owner(struct cdx_runner *r, const struct proc *p)
{
	char path[64], link[64];
	struct dirent *de;
	int owner = -1;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)p->pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (de = readdir(d); owner < 0 && de; de = readdir(d)) {
		unsigned long long ino;
		ssize_t k;
		size_t i;

		if (de->d_name[0] == '.')
			continue;
		k = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = '\0';
		if (strncmp(link, "pipe:[", 6) != 0)
			continue;
		ino = strtoull(link + 6, NULL, 10);
		for (i = 0; i < r->natt; i++) {
			if (r->att[i]->out_fd >= 0 && (unsigned long long)r->att[i]->pipe_ino == ino) {
				owner = (int)i;
				break;
			}
		}
	}
	closedir(d);
	return owner;
}

/* own_owner: the attempt P belongs to by its own traits (group, session,
 * marker, pipe), or -1; live attempts first when pids collide. */
static int own_owner(struct cdx_runner *r, const struct proc *p)
{
	int pass, owner;
	size_t i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < r->natt; i++) {
			const struct attempt *a = r->att[i];
			if (a->reaped == (pass == 0))
				continue;
			if (p->pgrp == a->pid || p->sid == a->pid)
				return (int)i;
		}
	}
	if (p->state == 'Z')
		return -1; /* a zombie has neither environment nor files */
	owner = marker_owner(r, p);
	if (owner < 0)
		owner = pipe_owner(r, p);
	return owner;
}

/* classify: set P->desc and P->owner (see the file comment). */
static void classify(struct cdx_runner *r, struct proc *p, int depth)
{
	struct proc *parent;
	int leader;

	if (p->desc)
		return;
	p->desc = 2; /* provisional: guards against a cycle in a torn snapshot */
	p->owner = -1;
	if (p->pid == r->self || depth > SCAN_DEPTH_MAX)
		return;
	if (p->ppid == r->self) {
		p->desc = 1;
		leader = live_leader(r, p->pid);
		p->owner = leader >= 0 ? leader : own_owner(r, p);
		return;
	}
	parent = proc_find(r, p->ppid);
	if (!parent)
		return;
	classify(r, parent, depth + 1);
	if (parent->desc != 1)
		return;
	p->desc = 1;
	/* a live leader's subtree is its own; elsewhere a process's own traits
	 * come before its parent's */
	if (parent->owner >= 0 && !r->att[parent->owner]->reaped)
		p->owner = parent->owner;
	else {
		p->owner = own_owner(r, p);
		if (p->owner < 0)
			p->owner = parent->owner;
	}
}

static void remember(struct attempt *a, pid_t pid)
{
	size_t i;
	for (i = 0; i < a->nsignalled; i++) {
		if (a->signalled[i] == pid)
			return;
	}
	CDX_PUSH(a->signalled, a->nsignalled, a->capsignalled, pid);
}

/* signal_attempt: send SIG to the process group of A's leader (while it is
 * unreaped) and to every process the scan attributes to A; the number of
 * A's processes seen, zombies included.  A process that was signalled
 * before counts for as long as it is a descendant, attributable or not: a
 * dying process loses its environment and files before it becomes a
 * zombie, and a zombie has neither. */
static size_t signal_attempt(struct cdx_runner *r, size_t idx, int sig)
{
	struct attempt *a = r->att[idx];
	size_t i, n = 0;

	if (!a->reaped) {
		/* the group id is the leader's pid, which stays reserved until it
		 * is reaped; ESRCH (empty group) is no error */
		(void)killpg(a->pid, sig);
		if (sig == SIGTERM)
			killpg(a->pid, SIGCONT); /* a stopped process cannot act on SIGTERM */
		if (a->sent != SIGKILL)
			a->sent = sig;
	}
	if (!r->scan_fresh) {
		proc_scan(r);
		for (i = 0; i < r->nprocs; i++)
			classify(r, &r->procs[i], 0);
	}
	for (i = 0; i < r->nprocs; i++) {
		struct proc *p = &r->procs[i];
		if (p->owner != (int)idx || p->pid == r->self)
			continue;
		n++;
		if (p->state != 'Z') {
			kill(p->pid, sig);
			if (sig == SIGTERM)
				kill(p->pid, SIGCONT);
			remember(a, p->pid);
		}
	}
	for (i = 0; i < a->nsignalled; i++) {
		const struct proc *p = proc_find(r, a->signalled[i]);
		if (p && p->desc == 1 && p->owner != (int)idx)
			n++;
	}
	return n;
}

/* ---- output -------------------------------------------------------------- */

/* emit: pass r->masked (A's output) to the log and the callback. */
static void emit(struct cdx_runner *r, struct attempt *a)
{
	if (!r->masked.len)
		return;
	if (a->log_fd >= 0 && !a->log_failed && write_all(a->log_fd, r->masked.data, r->masked.len) < 0) {
		char *msg = cdx_xasprintf("cdx: cannot write log %s: %s\n", a->log_path, strerror(errno));
		a->log_failed = true;
		if (r->out)
			r->out(r->out_ctx, a->token, msg, strlen(msg));
		free(msg);
	}
	if (r->out)
		r->out(r->out_ctx, a->token, r->masked.data, r->masked.len);
	cdx_buf_reset(&r->masked);
}

static void output_end(struct cdx_runner *r, struct attempt *a)
{
	close_fd(&a->out_fd);
	cdx_buf_reset(&r->masked);
	cdx_mask_flush(a->mask, &r->masked);
	emit(r, a);
}

/* read_output: read A's pipe until it is empty (at most READS_PER_ROUND
 * reads, so that one busy attempt does not starve the others), or to EOF. */
static void read_output(struct cdx_runner *r, struct attempt *a)
{
	int n;
	for (n = 0; a->out_fd >= 0 && n < READS_PER_ROUND; n++) {
		ssize_t k = read(a->out_fd, r->rbuf, READ_CHUNK);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (k <= 0) {
			output_end(r, a); /* EOF, or an error no retry will cure */
			return;
		}
		cdx_buf_reset(&r->masked);
		cdx_mask_feed(a->mask, r->rbuf, (size_t)k, &r->masked);
		emit(r, a);
	}
}

/* ---- reaping and the life of an attempt ----------------------------------- */

static void read_report(struct attempt *a)
{
	ssize_t k;
	do
		k = read(a->rep_fd, &a->report, sizeof(a->report));
	while (k < 0 && errno == EINTR);
	a->reported = k == (ssize_t)sizeof(a->report);
	close_fd(&a->rep_fd);
}

static void leader_ended(struct attempt *a, int status, const struct rusage *ru, int64_t now)
{
	a->reaped = true;
	a->status = status;
	if (ru)
		a->ru = *ru;
	a->end_ns = now;
	close_fd(&a->pidfd);
	read_report(a); /* the child is gone: the report is there or never comes */
	a->sweep_next_ns = now;
	a->sweep_tick_ns = SWEEP_TICK_MIN;
	a->sweep_limit_ns = now + SWEEP_LIMIT;
}

/* reap: wait for every child that has ended, leaders and orphans alike. */
static void reap(struct cdx_runner *r)
{
	for (;;) {
		struct rusage ru;
		int st, i;
		pid_t pid = wait4(-1, &st, WNOHANG, &ru);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return; /* none has ended, or ECHILD */
		i = live_leader(r, pid);
		if (i >= 0)
			leader_ended(r->att[i], st, &ru, cdx_now_ns());
		/* else a re-parented orphan: reaped, nothing more to do */
	}
}

/* check_lost: A's pidfd says its leader ended, yet reap() did not see it. */
static void check_lost(struct attempt *a)
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
/* nothing_left: the cheap proof, without scanning /proc, that attempt A
 * (leader reaped) left no process behind: its process group is empty and
 * every child of ours is the leader of an attempt still running.  Any
 * process that escaped A's group descends from a process of A; with A's
 * leader and group gone its ancestors died, so it was re-parented to us
 * (the subreaper) and would show in our children.  When the kernel has no
 * children file, or anything is unclear, the answer is false: scan. */
static bool nothing_left(const struct cdx_runner *r, const struct attempt *a)
{
	char path[64], buf[4096], *c, *end;
	ssize_t n;
	int fd;
	if (a->nsignalled || killpg(a->pid, 0) == 0 || errno != ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)r->self);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || n >= (ssize_t)sizeof(buf) - 1)
		return false;
	buf[n] = '\0';
	for (c = buf; *c; c = end) {
		long pid = strtol(c, &end, 10);
		size_t i;
		bool leader = false;
		if (end == c)
			break;
		for (i = 0; i < r->natt && !leader; i++)
			leader = !r->att[i]->reaped && r->att[i]->pid == (pid_t)pid;
		if (!leader)
			return false;
		while (*end == ' ' || *end == '\n')
			end++;
	}
	return true;
}

static void advance(struct cdx_runner *r, int64_t now)
{
	size_t i;

	r->scan_fresh = false;
	for (i = 0; i < r->natt; i++) {
		struct attempt *a = r->att[i];
		if (!a->reaped) {
			if (a->deadline_ns && !a->sent && now >= a->deadline_ns) {
				a->timed_out = true;
				signal_attempt(r, i, SIGTERM);
				a->kill_ns = now + a->grace_ns;
			}
			if (a->kill_ns && now >= a->kill_ns) {
				signal_attempt(r, i, SIGKILL);
				a->kill_ns = 0;
			}
		} else if (!a->swept) {
			if (!a->sent && nothing_left(r, a)) {
				a->swept = true;
				a->drain_limit_ns = now + DRAIN_LIMIT;
			} else if (now >= a->sweep_next_ns) {
				size_t left = signal_attempt(r, i, SIGKILL);
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

static void fill_result(const struct attempt *a, struct cdx_proc_result *res)
{
	int st = a->status;

	memset(res, 0, sizeof(*res));
	res->token = a->token;
	res->start_ms = a->start_ms;
	res->wall_us = (a->end_ns - a->start_ns) / 1000;
	res->user_us = tv_us(a->ru.ru_utime);
	res->sys_us = tv_us(a->ru.ru_stime);
	res->maxrss_kb = a->ru.ru_maxrss;
	if (WIFEXITED(st)) {
		res->exit_code = WEXITSTATUS(st);
		res->term_signal = a->timed_out || a->cancelled ? a->sent : 0;
	} else {
		res->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : a->sent;
		res->exit_code = 128 + res->term_signal;
	}
	if (a->reported && a->report.stage != STAGE_EXEC) {
		const char *dir = a->report.stage == STAGE_CHDIR && a->cwd ? a->cwd : "";
		res->end = CDX_PROC_SPAWNFAIL;
		snprintf(res->error, sizeof(res->error), "%s%s: %s", stage_text(a->report.stage), dir,
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
		const struct attempt *a = r->att[i];
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

static void pfd_add(struct cdx_runner *r, size_t *n, int fd, size_t att)
{
	cdx_grow(&r->pfd, &r->cappfd, *n + 1, sizeof(*r->pfd));
	cdx_grow(&r->pfd_att, &r->cappfd_att, *n + 1, sizeof(*r->pfd_att));
	r->pfd[*n].fd = fd;
	r->pfd[*n].events = POLLIN;
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
			struct attempt *a = r->att[i];
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
				pfd_add(r, &n, r->att[i]->out_fd, i);
			if (r->att[i]->pidfd >= 0)
				pfd_add(r, &n, r->att[i]->pidfd, i);
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
			struct attempt *a = r->att[r->pfd_att[i]];
			if (!r->pfd[i].revents)
				continue;
			if (r->pfd[i].fd == a->out_fd)
				read_output(r, a);
			else if (r->pfd[i].fd == a->pidfd) {
				reap(r);
				if (!a->reaped)
					check_lost(a);
			}
		}
	}
}

/* ---- the rest of the ops ------------------------------------------------- */

static void runner_cancel_all(void *self, bool now)
{
	struct cdx_runner *r = self;
	int64_t t = cdx_now_ns();
	size_t i;

	r->scan_fresh = false;
	for (i = 0; i < r->natt; i++) {
		struct attempt *a = r->att[i];
		if (a->reaped)
			continue; /* it ended on its own: report how */
		if (!a->timed_out)
			a->cancelled = true;
		if (now) {
			signal_attempt(r, i, SIGKILL);
			a->kill_ns = 0;
		} else if (!a->sent) {
			signal_attempt(r, i, SIGTERM);
			a->kill_ns = t + a->grace_ns;
		}
	}
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

struct cdx_runner *cdx_runner_new(cdx_output_fn out, void *out_ctx)
{
	struct cdx_runner *r = cdx_xcalloc(1, sizeof(*r));
	struct sigaction sa;

	r->out = out;
	r->out_ctx = out_ctx;
	r->self = getpid();
	r->rbuf = cdx_xmalloc(READ_CHUNK);
	{
		/* what the host process started itself is never ours to kill */
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
	/* without it (Linux < 3.4) escaped processes go to init, out of reach
	 * of the scans; groups and sessions are still signalled */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
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

/* kill_orphans: the runner is done: any child still ours is a process an
 * attempt left behind that could not be attributed to it (it left the
 * session, dropped the marker and closed the output), re-parented to us as
 * the subreaper.  Kill and reap them, so that none outlives cdx. */
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
			if (pid > 0 && !host && kill((pid_t)pid, SIGKILL) == 0)
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
			left += signal_attempt(r, i, SIGKILL);
			left += !r->att[i]->reaped;
		}
		if (!left || cdx_now_ns() >= limit)
			break;
		poll(NULL, 0, tick); /* an EINTR only shortens the nap */
		if (tick < 50)
			tick *= 2;
	}
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
	for (i = 0; i < r->nfound; i++)
		free(r->found[i]);
	free(r->found);
	free(r->found_path);
	free(r->host_kids);
	free(r);
}

/* ---- simple commands ----------------------------------------------------- */

/* First words that mean something else to the shell than a program of that
 * name: keywords, and builtins that change the shell's state, have no
 * program, or behave differently from their program. */
static const char *const shell_words[] = {
    "!",       ".",        ":",       "alias",   "bg",    "break",    "builtin", "case",   "cd",
    "command", "continue", "declare", "do",      "done",  "elif",     "else",    "enable", "esac",
    "eval",    "exec",     "exit",    "export",  "fc",    "fg",       "fi",      "for",    "function",
    "getopts", "hash",     "history", "if",      "in",    "jobs",     "kill",    "let",    "local",
    "logout",  "popd",     "pushd",   "pwd",     "read",  "readonly", "return",  "select", "set",
    "shift",   "shopt",    "source",  "suspend", "then",  "time",     "times",   "trap",   "type",
    "typeset", "ulimit",   "umask",   "unalias", "unset", "until",    "wait",    "while",
};

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-_./,+:@%^!", c));
}

char **cdx_runner_split_simple(const char *script)
{
	char **argv = NULL;
	size_t n = 0, cap = 0, i, len;
	const char *p;

	if (!script)
		return NULL;
	len = strlen(script);
	while (len && (script[len - 1] == ' ' || script[len - 1] == '\t' || script[len - 1] == '\n'))
		len--; /* trailing blanks and newlines mean nothing */
	for (p = script; p < script + len;) {
		const char *w;
		if (*p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		if (!word_char(*p))
			goto fail;
		for (w = p; p < script + len && word_char(*p); p++)
			;
		if (p < script + len && *p != ' ' && *p != '\t')
			goto fail;
		CDX_PUSH(argv, n, cap, cdx_xstrndup(w, (size_t)(p - w)));
	}
	if (!n)
		goto fail;
	for (i = 0; i < CDX_ARRAY_LEN(shell_words); i++) {
		if (strcmp(argv[0], shell_words[i]) == 0)
			goto fail;
	}
	CDX_PUSH(argv, n, cap, NULL);
	return argv;
fail:
	while (n)
		free(argv[--n]);
	free(argv);
	return NULL;
}

void cdx_argv_free(char **argv)
{
	strv_free(argv);
}

size_t cdx_runner_kill_strays(void)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	struct cdx_buf env = {0};
	char chunk[4096];
	size_t killed = 0;
	long self = (long)getpid();
	if (!dir)
		return 0;
	for (de = readdir(dir); de; de = readdir(dir)) {
		char path[64], *endp;
		const char *m, *end;
		long pid = strtol(de->d_name, &endp, 10), owner;
		ssize_t k;
		int fd;
		if (*endp || pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* gone, or another user's */
		cdx_buf_reset(&env);
		cdx_buf_addc(&env, '\0');
		while (env.len < ENVIRON_MAX) {
			k = read(fd, chunk, sizeof(chunk));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			cdx_buf_add(&env, chunk, (size_t)k);
		}
		close(fd);
		end = env.data + env.len;
		m = find_marker(env.data, end);
		if (!m)
			continue;
		owner = strtol(m + strlen(MARKER_NAME) + 1, NULL, 10);
		/* the runner that started it is gone: nobody will ever stop it */
		if (owner > 0 && owner != self && !cdx_process_alive((int)owner) && kill((pid_t)pid, SIGKILL) == 0)
			killed++;
	}
	closedir(dir);
	cdx_buf_free(&env);
	return killed;
}
