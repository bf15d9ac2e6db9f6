/* runner.h — the process runner: starts job attempts, hooks and commands
 * as real processes and supervises them (the one spawner of libcdx).
 *
 * The scheduler talks to a runner only through struct cdx_runner_ops, so
 * unit tests drive it with a fake that neither forks nor sleeps; the real
 * runner (cdx_runner_new) does this for every attempt:
 *
 *  - runs spec->argv directly when given (a one-command script without
 *    shell syntax, as make does), else `/bin/sh -e -c SCRIPT`;
 *  - in a new session (setsid), so the attempt is its own process group;
 *    stdin from /dev/null, or a pipe the runner feeds spec->input into
 *    (see there); stdout and stderr into one pipe that the runner reads;
 *    environment exactly spec->envp; working directory spec->cwd;
 *  - the output is passed through the secret mask (mask.h) and then both
 *    appended to the log file spec->log_path and handed to the output
 *    callback, so no secret reaches the terminal or the log, even when it
 *    is split across two reads;
 *  - timeout: at spec->timeout_ms SIGTERM to the group and to every
 *    descendant, after spec->grace_ms SIGKILL to all of them;
 *  - the runner makes its process a child subreaper
 *    (prctl PR_SET_CHILD_SUBREAPER), so a grandchild that escaped with
 *    setsid is re-parented to us; when an attempt ends (or is killed),
 *    every process still carrying its marker CDX_ATTEMPT_KEY=<key> in its
 *    environment, or descending from its leader, is killed too, and every
 *    child is reaped: no zombie, no orphan;
 *  - resource usage from wait4 (wall, user and system CPU, max RSS).
 *
 * A hook (hook.h) is a process that may leave processes running on
 * purpose (a deployment's start hook starts the service): with
 * CDX_PROC_KEEP nothing is swept after its leader ends, its output pipe
 * (if any) is read only for what is there, and its marker's value starts
 * with "keep." so that cdx_runner_kill_strays spares what it left (older
 * versions too: they read a pid there); a timeout or a
 * cancellation still signals its process group.  Such a process may name
 * its owner (spec->owner: a deployment, see cdx_runner_kill_owned), who
 * answers for what it leaves running.  cdx_runner_run_one runs
 * one such process to its end in a runner of its own, without disturbing
 * the children of the calling process (see there).
 *
 * The marker is CDX_ATTEMPT_KEY=<runner pid>.<token>, or for a
 * CDX_PROC_KEEP process keep.<runner pid>.<token>[.<owner>]; it replaces any
 * CDX_ATTEMPT_KEY already in spec->envp (a cdx run inside a job).  A failed
 * exec ends the attempt as EXITED with exit code 127 (not found) or 126
 * (not executable), as it would under /bin/sh, with "cdx: cannot run X:
 * REASON" in its output; a failure before exec (cwd, /dev/null) is
 * SPAWNFAIL.  The runner reaps every child of its process (wait4(-1), to
 * collect re-parented orphans), so use one runner per process at a time
 * and no other code that waits for children meanwhile (the runner of
 * cdx_runner_run_one waits for its own process only).  It installs no
 * signal handler (a pidfd tells it a leader ended); it only sets SIGCHLD
 * back to SIG_DFL if it was ignored, since then exit statuses are lost.
 */
#ifndef CDX_RUNNER_H
#define CDX_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

/* Where a process's stdout and stderr go (spec->output). */
enum cdx_proc_output {
	CDX_PROC_OUT_MERGED, /* both into one pipe: masked, logged, to the callback */
	CDX_PROC_OUT_STDOUT, /* stdout into the pipe (as above); stderr is ours */
	CDX_PROC_OUT_STDERR, /* no pipe: stdout and stderr both go to our stderr */
};

/* spec->flags */
#define CDX_PROC_KEEP 0x1u        /* leave what it starts running (see above) */
#define CDX_PROC_NO_ERREXIT 0x2u  /* a script runs as sh -c SCRIPT, not sh -e -c */

/* What to run.  All pointers are borrowed for the duration of start().
 *
 * input: when non-NULL, the child's stdin is a pipe and the runner writes
 * these INPUT_LEN bytes into it (a copy taken by start), without blocking,
 * as the child reads them, then closes it: the child sees end of input
 * after the last byte (at once for INPUT_LEN 0).  A child that does not
 * read them all (it exits, or closes its stdin) is no error: the rest is
 * dropped, and so is what is left when its leader ends; the write end never
 * reaches another child, and a SIGPIPE of a write is held back so that it
 * cannot end our process.  A timeout or a cancellation while input is
 * pending works as without. */
struct cdx_proc_spec {
	uint64_t token;               /* caller's id for this attempt, echoed back */
	const char *script;           /* shell script, used when argv is NULL */
	char *const *argv;            /* NULL-terminated argv to exec directly, or NULL */
	char *const *envp;            /* complete NULL-terminated environment (NULL = environ) */
	const char *cwd;              /* working directory, NULL = inherit */
	const char *log_path;         /* file the output is appended to, NULL = none */
	const char *const *secrets;   /* values to mask as ***, NULL-terminated, or NULL */
	const char *input;            /* bytes for its stdin (see above), NULL = /dev/null */
	size_t input_len;             /* how many bytes of input */
	int64_t timeout_ms;           /* kill after this long; <= 0 = no limit */
	int64_t grace_ms;             /* between SIGTERM and SIGKILL, >= 0 */
	enum cdx_proc_output output;  /* 0: merged into the pipe */
	unsigned flags;               /* CDX_PROC_*, 0 for a job attempt */
	const char *owner;            /* CDX_PROC_KEEP: who answers for what it leaves
				       * running (a deployment id, "ID/TARGET" for a
				       * part of it), the end of its marker; or NULL */
};

enum cdx_proc_end {
	CDX_PROC_EXITED,    /* exit_code is valid */
	CDX_PROC_SIGNALED,  /* term_signal is valid */
	CDX_PROC_TIMEDOUT,  /* killed by the runner after timeout_ms */
	CDX_PROC_CANCELLED, /* killed by cancel_all() */
	CDX_PROC_SPAWNFAIL, /* could not start; message in error */
	CDX_PROC_LOST,      /* a pool's worker was lost with it (worker_lost, in where):
			     * an infrastructure failure, retried apart from the job's retry */
};

struct cdx_proc_result {
	uint64_t token;        /* spec->token */
	enum cdx_proc_end end; /* how it ended */
	int exit_code;         /* 0..255 when EXITED; 127 when the command was not found;
				* 128 + signal when the leader was killed */
	int term_signal;       /* signal number when SIGNALED, TIMEDOUT or CANCELLED (for the
				* latter two: the signal that ended the leader, else the last
				* one the runner sent) */
	int64_t start_ms;      /* wall clock (ms since the epoch) at start */
	int64_t wall_us;       /* elapsed, microseconds */
	int64_t user_us;       /* user CPU of the attempt and its reaped descendants, us */
	int64_t sys_us;        /* system CPU, us */
	long maxrss_kb;        /* peak resident set size, KiB */
	char error[256];       /* SPAWNFAIL reason, else empty */
	int log_errno;         /* a write to spec->log_path failed with this errno (ENOSPC:
				* the disk is full) and the log stops there: it is truncated;
				* 0 when the log is whole */
	char where[64];        /* the pool worker that ran it, else empty */
};

/* Called with masked output of an attempt, as it arrives. */
typedef void (*cdx_output_fn)(void *ctx, uint64_t token, const char *data, size_t len);

struct cdx_runner_ops {
	/* start an attempt; -1 with ERR set when it cannot (nothing started) */
	int (*start)(void *self, const struct cdx_proc_spec *spec, struct cdx_error *err);
	/* wait up to TIMEOUT_MS (-1 = forever) for an attempt to end, handling
	 * output and timeouts meanwhile; 1 with *RES filled when one ended,
	 * 0 when the time passed or a signal interrupted the wait, and at
	 * once when nothing runs.  An attempt is returned only when its
	 * leader was reaped, its leftover processes are gone and its output
	 * was read to the end.  The output callback runs inside wait and may
	 * call start and cancel_all, not wait */
	int (*wait)(void *self, int timeout_ms, struct cdx_proc_result *res);
	/* SIGTERM every running attempt now and SIGKILL after its grace
	 * period (or at once when NOW is true); they end as CANCELLED */
	void (*cancel_all)(void *self, bool now);
	/* number of attempts started and not yet returned by wait */
	size_t (*running)(void *self);
};

struct cdx_runner;

/* cdx_runner_new: the real runner.  OUT (may be NULL) receives output.
 * Makes the calling process a child subreaper (prctl).  Free with
 * cdx_runner_free(), which kills (SIGKILL) and reaps whatever still runs. */
struct cdx_runner *cdx_runner_new(cdx_output_fn out, void *out_ctx);
void cdx_runner_free(struct cdx_runner *r);
/* cdx_runner_cancel_one: cancel_all for the attempt started with TOKEN only */
void cdx_runner_cancel_one(struct cdx_runner *r, uint64_t token, bool now);
/* the ops table and self pointer to hand to the scheduler */
const struct cdx_runner_ops *cdx_runner_ops(void);

/* How cdx_runner_run_one watches its process. */
struct cdx_proc_watch {
	volatile sig_atomic_t *cancel; /* polled (and a signal wakes the wait):
					* non-zero cancels it, or NULL */
	void (*tick)(void *ctx);       /* called about every tick_ms while it runs, or NULL */
	void *tick_ctx;
	int64_t tick_ms;               /* <= 0: every 100 ms */
	cdx_output_fn out;             /* its output from the pipe, or NULL */
	void *out_ctx;
};

/* cdx_runner_run_one: start SPEC and wait for its end, as one attempt of
 * a runner that exists for this call only (W may be NULL); *RES says how
 * it ended.  That runner reaps only its own process (never wait(-1)) and
 * makes nothing a subreaper, so it can run while the calling process has
 * other children, and also while a job runner exists in it (from that
 * runner's callbacks too).  0 when it ran; -1 with ERR set when it could
 * not be started. */
int cdx_runner_run_one(const struct cdx_proc_spec *spec, const struct cdx_proc_watch *w,
		       struct cdx_proc_result *res, struct cdx_error *err);

/* cdx_runner_kill_strays: SIGKILL every process of this user that carries
 * the attempt marker of a runner process that no longer exists — what a
 * cdx killed by SIGKILL left behind — except those of a CDX_PROC_KEEP
 * process (a hook's service).  Returns how many were killed. */
size_t cdx_runner_kill_strays(void);

/* cdx_runner_kill_owned: SIGKILL every process of this user, other than
 * this one, whose marker is that of a CDX_PROC_KEEP process started for
 * OWNER (spec->owner), or for an owner that begins with OWNER and a '/'
 * (an owner's part: a deployment's hooks on one slot), whichever runner
 * process started it and whether or not that one still lives: a hook in
 * flight, its children and grandchildren, and what they left running on
 * purpose.  Scans again until a scan finds none (a process may fork as it
 * is killed).  EACH (may be NULL) is called with the owner of each process
 * killed.  Returns how many were killed.  The caller must start nothing
 * for OWNER in this process before it returns (it would not be spared). */
size_t cdx_runner_kill_owned(const char *owner, void (*each)(void *ctx, const char *owner), void *ctx);

/* cdx_runner_split_simple: when SCRIPT is one simple command without shell
 * syntax, return its words as a NULL-terminated argv (free with
 * cdx_argv_free); else NULL.  Words are separated by blanks and made of
 * ASCII letters, digits and - _ . / , + : @ % ^ ! only (so no quotes, $, `,
 * \, ;, &, |, <, >, (, ), *, ?, [, ~, #, =, {, } or newline, except
 * trailing blanks and newlines); the first word must not be a shell
 * keyword or a builtin that has no program or acts differently from it
 * (cd, export, :, kill, pwd, ...).  NULL for an empty script. */
char **cdx_runner_split_simple(const char *script);
void cdx_argv_free(char **argv);

#endif /* CDX_RUNNER_H */
