/* spawn.h — starting one child process for the runner (runner.c): the plan
 * made before vfork, the vfork, and what the child does until exec.
 *
 * Everything the child needs is prepared (and allocated) in the parent by
 * cdx_spawn_prepare; the child, which shares the parent's memory until it
 * execs, only makes raw system calls on that plan (see spawn.c).  Whether
 * a step before exec failed is learnt from the report pipe REP_W: the
 * child writes a struct cdx_spawn_report into it, exec closes it otherwise.
 */
#ifndef CDX_SPAWN_H
#define CDX_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "exec/runner.h"

#define CDX_MARKER_NAME "CDX_ATTEMPT_KEY"
/* starts the marker's value for a CDX_PROC_KEEP process: no pid, so that
 * the sweep for strays of any cdx version (strtol of the value) spares it */
#define CDX_MARKER_KEEP "keep."
#define CDX_SHELL_PATH "/bin/sh"

/* the step of the child that failed, in a struct cdx_spawn_report */
enum cdx_spawn_stage {
	CDX_SPAWN_DEVNULL = 1, /* open /dev/null for stdin */
	CDX_SPAWN_INPUT,       /* dup2 of the input pipe onto stdin */
	CDX_SPAWN_OUTPUT,      /* dup2 of the output pipe */
	CDX_SPAWN_CHDIR,       /* chdir(cwd) */
	CDX_SPAWN_EXEC,        /* execve (every candidate of the PATH search) */
};

struct cdx_spawn_report {
	int stage; /* enum cdx_spawn_stage */
	int err;   /* errno */
};

/* Everything the child needs: it only makes async-signal-safe calls on
 * this, never allocates, and writes to nothing else. */
struct cdx_spawn_plan {
	char **cands; /* paths to try, in PATH order */
	size_t ncands;
	char **argv;      /* argument vector */
	char **shargv;    /* CDX_SHELL_PATH, candidate, argv[1..]: for ENOEXEC */
	pid_t parent;     /* the runner's process, for the death signal's race */
	char **envp;      /* the spec's environment plus the marker */
	const char *cwd;  /* or NULL */
	const char *what; /* the command as named in messages */
	int output;       /* enum cdx_proc_output: where stdout and stderr go */
	int in_r;         /* read end of the input pipe (>= 3, CLOEXEC) for stdin, or -1
			   * for /dev/null */
	int out_w;        /* write end of the output pipe (>= 3, CLOEXEC), or -1 */
	int msg_fd;       /* where the child's own failure message goes */
	int rep_w;        /* write end of the report pipe (>= 3, CLOEXEC) */
	const void *keep; /* keeps the caller's state reachable for leak checkers in
			   * a child that exits before exec (valgrind runs vfork as fork) */
};

/* Commands found in a PATH, remembered across starts (jobs of one run
 * share their PATH): "name\0/full/path" entries. */
struct cdx_pathcache {
	char *path; /* the PATH they were found in */
	char **found;
	size_t nfound, capfound;
};

/* cdx_spawn_prepare: fill PL (zeroed by the caller) for SPEC with the
 * marker MARKER ("CDX_ATTEMPT_KEY=..."); PC (may be NULL) caches PATH
 * lookups; it sets in_r to -1.  The caller sets parent, cwd, output,
 * out_w, msg_fd, rep_w, keep and, for a spec with input, in_r, and frees
 * PL with cdx_spawn_plan_free. */
void cdx_spawn_prepare(struct cdx_pathcache *pc, struct cdx_spawn_plan *pl, const struct cdx_proc_spec *spec,
		       const char *marker);
void cdx_spawn_plan_free(struct cdx_spawn_plan *pl);
void cdx_pathcache_free(struct cdx_pathcache *pc);

/* cdx_spawn: vfork a child that runs PL (every signal blocked across the
 * vfork); the child's pid, or -1 with errno set. */
pid_t cdx_spawn(struct cdx_spawn_plan *pl);

/* cdx_spawn_stage_text: what failed at STAGE, for messages (CHDIR and EXEC
 * are followed by the directory and the command) */
const char *cdx_spawn_stage_text(int stage);

#endif /* CDX_SPAWN_H */
