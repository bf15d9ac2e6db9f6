/* runner_int.h — the insides of the real runner, shared by runner.c (start,
 * wait, cancel: the life of an attempt) and sweep.c (the /proc scan that
 * finds what an attempt left behind, and the signals sent to it).  Nothing
 * outside those two files uses this header.
 */
#ifndef CDX_RUNNER_INT_H
#define CDX_RUNNER_INT_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "exec/runner.h"
#include "exec/spawn.h"
#include "base/mask.h"

#define CDX_MS (INT64_C(1000000)) /* nanoseconds per millisecond */

/* One process started by start() and not yet returned by wait. */
struct cdx_attempt {
	uint64_t token;         /* spec->token */
	pid_t pid;              /* leader = its process group = its session */
	int pidfd;              /* leader's pidfd; -1 when reaped or unavailable */
	int out_fd;             /* read end of the output pipe (non-blocking); -1 after EOF */
	int rep_fd;             /* read end of the exec-report pipe; -1 once read */
	int in_fd;              /* write end of the input pipe (non-blocking); -1 for none
				 * or once all of the input is written or dropped */
	char *in_buf;           /* copy of spec->input, NULL once in_fd is closed */
	size_t in_len, in_off;  /* its length; bytes of it written so far */
	int log_fd;             /* log file, O_APPEND; -1 for none */
	ino_t pipe_ino;         /* inode of the output pipe, to spot holders in /proc */
	struct cdx_mask *mask;  /* secrets of this attempt */
	char *marker;           /* "CDX_ATTEMPT_KEY=[keep.]<runner pid>.<token>[.<owner>]" */
	bool keep;              /* CDX_PROC_KEEP: no sweep, no wait for EOF */
	char *what;             /* argv[0] or CDX_SHELL_PATH, for messages */
	char *cwd;              /* copy of spec->cwd, for messages; NULL = inherited */
	char *log_path;         /* copy of spec->log_path, for messages */
	bool log_failed;        /* a log write failed (reported once) */
	int log_errno;          /* its errno: the log is truncated */
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
	struct cdx_spawn_report report;
	pid_t *signalled; /* every process the runner signalled for it */
	size_t nsignalled, capsignalled;
};

/* One process as seen in a /proc scan. */
struct cdx_scanproc {
	pid_t pid, ppid, pgrp, sid;
	char state; /* 'R', 'S', 'Z', ... */
	int desc;   /* 0 not yet known, 1 a descendant of the runner, 2 not */
	int owner;  /* index of its attempt, -1 none, CDX_OWNER_UNKNOWN */
};
#define CDX_OWNER_UNKNOWN (-2)

struct cdx_runner {
	cdx_output_fn out; /* output callback, or NULL */
	void *out_ctx;
	pid_t self;           /* the runner's process */
	bool solo;            /* made by cdx_runner_run_one: reaps its own leaders
			       * only, no subreaper, no host children, no orphans */
	bool no_pidfd;        /* pidfd_open is not supported */
	struct cdx_attempt **att; /* started and not yet returned, in start order */
	size_t natt, capatt;
	struct cdx_scanproc *procs; /* the last /proc scan, by pid */
	size_t nprocs, capprocs;
	bool scan_fresh;    /* procs is current for this round */
	struct pollfd *pfd; /* poll set of a wait round */
	size_t *pfd_att;    /* attempt index of each pfd entry */
	size_t cappfd, cappfd_att;
	struct cdx_buf masked;  /* masked output of one read */
	struct cdx_buf scratch; /* /proc reads */
	char *rbuf;             /* one read of an output pipe */
	pid_t *host_kids;       /* children the process had before the runner: not ours */
	size_t nhost_kids, caphost_kids;
	struct cdx_pathcache paths; /* commands found in the jobs' PATH */
};

/* ---- sweep.c ------------------------------------------------------------- */

/* cdx_sweep_signal: send SIG to the process group of attempt IDX's leader
 * (while it is unreaped) and, unless the attempt keeps what it starts, to
 * every process a /proc scan attributes to it; the number of its processes
 * seen, zombies included (0 for a CDX_PROC_KEEP attempt).  Scans /proc
 * unless r->scan_fresh. */
size_t cdx_sweep_signal(struct cdx_runner *r, size_t idx, int sig);

/* cdx_sweep_nothing_left: the cheap proof, without scanning /proc, that
 * attempt A (leader reaped) left no process behind; false means "scan". */
bool cdx_sweep_nothing_left(const struct cdx_runner *r, const struct cdx_attempt *a);

/* cdx_runner_live_leader: the index of the attempt whose unreaped leader
 * is PID, or -1 */
int cdx_runner_live_leader(const struct cdx_runner *r, pid_t pid);

/* cdx_sweep_kept: whether PID carries the marker of a CDX_PROC_KEEP process */
bool cdx_sweep_kept(pid_t pid);

#endif /* CDX_RUNNER_INT_H */
