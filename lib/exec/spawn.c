/* spawn.c — starting one child process (see spawn.h): the plan, the vfork,
 * the child up to exec; and which scripts are simple commands that need no
 * shell.
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
 * Every child gets the same guarantees, job attempt or hook: a session of
 * its own (setsid: its own process group), the parent-death signal
 * (PR_SET_PDEATHSIG SIGKILL, so it dies with cdx even when cdx is
 * SIGKILLed), stdin from /dev/null (or the input pipe of a spec with
 * input), default signal dispositions and mask,
 * and the marker CDX_ATTEMPT_KEY in its environment (replacing an
 * inherited one).  A failed step before exec is written to the report
 * pipe and, as a message "cdx: REASON", to the output pipe (merged output)
 * or to our stderr; a failed exec exits 127 (not found) or 126 (not
 * runnable), as it would under /bin/sh.
 */
#include "exec/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_PATH "/bin:/usr/bin" /* as execvp, when the environment has no PATH */

/* ---- the child ----------------------------------------------------------- */

const char *cdx_spawn_stage_text(int stage)
{
	switch (stage) {
	case CDX_SPAWN_DEVNULL:
		return "cannot open /dev/null";
	case CDX_SPAWN_INPUT:
		return "cannot redirect input";
	case CDX_SPAWN_OUTPUT:
		return "cannot redirect output";
	case CDX_SPAWN_CHDIR:
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
child_fail(const struct cdx_spawn_plan *pl, enum cdx_spawn_stage stage, int e, int code)
{
	struct cdx_spawn_report rep = {stage, e};
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
	put(msg, sizeof(msg), &len, cdx_spawn_stage_text(stage));
	if (stage == CDX_SPAWN_CHDIR)
		put(msg, sizeof(msg), &len, pl->cwd);
	else if (stage == CDX_SPAWN_EXEC)
		put(msg, sizeof(msg), &len, pl->what);
	put(msg, sizeof(msg), &len, ": ");
	put(msg, sizeof(msg), &len, desc ? desc : "unknown error");
	put(msg, sizeof(msg), &len, "\n");
	do
		k = write(pl->msg_fd, msg, len);
	while (k < 0 && errno == EINTR);
	do
		k = write(pl->rep_w, &rep, sizeof(rep));
	while (k < 0 && errno == EINTR);
	_exit(code);
}

/* child_run: in the vfork'd child, on the parent's memory; never returns.
 * Signals are all blocked on entry (see cdx_spawn). */
static void __attribute__((noreturn)) child_run(struct cdx_spawn_plan *pl)
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

	if (pl->in_r >= 0) {
		/* in_r is >= 3 and close-on-exec; the copy on 0 is not */
		if (dup2(pl->in_r, 0) < 0)
			child_fail(pl, CDX_SPAWN_INPUT, errno, 126);
	} else {
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			child_fail(pl, CDX_SPAWN_DEVNULL, errno, 126);
		if (fd != 0) {
			if (dup2(fd, 0) < 0)
				child_fail(pl, CDX_SPAWN_DEVNULL, errno, 126);
			close(fd);
		}
	}
	/* out_w and rep_w are >= 3 and close-on-exec; 1 and 2 are not */
	switch (pl->output) {
	case CDX_PROC_OUT_MERGED:
		if (dup2(pl->out_w, 1) < 0 || dup2(pl->out_w, 2) < 0)
			child_fail(pl, CDX_SPAWN_OUTPUT, errno, 126);
		break;
	case CDX_PROC_OUT_STDOUT:
		if (dup2(pl->out_w, 1) < 0)
			child_fail(pl, CDX_SPAWN_OUTPUT, errno, 126);
		break;
	default:
		(void)dup2(2, 1); /* a closed stderr leaves stdout as it was */
		break;
	}
	if (pl->cwd && chdir(pl->cwd) < 0)
		child_fail(pl, CDX_SPAWN_CHDIR, errno, 126);

	/* the search of execvpe(3), over the PATH of the spec's environment */
	for (i = 0; i < pl->ncands; i++) {
		execve(pl->cands[i], pl->argv, pl->envp);
		e = errno;
		if (e == ENOEXEC && pl->shargv) {
			/* not a binary and no #!: a shell script, as execvp does */
			pl->shargv[1] = pl->cands[i];
			execve(CDX_SHELL_PATH, pl->shargv, pl->envp);
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
	child_fail(pl, CDX_SPAWN_EXEC, e, e == ENOENT || e == ENOTDIR ? 127 : 126);
}

/* vfork_run: vfork a child that runs PL; the child's pid, or -1 (errno
 * set).  Kept apart so that no variable of the caller lives across vfork. */
static pid_t __attribute__((noinline)) vfork_run(struct cdx_spawn_plan *pl)
{
	pid_t pid = vfork();
	if (pid == 0)
		child_run(pl);
	return pid;
}

pid_t cdx_spawn(struct cdx_spawn_plan *pl)
{
	sigset_t all, old;
	pid_t pid;
	int e;

	/* no handler may run in the child (on the parent's memory) before it
	 * has reset them all */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) < 0)
		return -1;
	pid = vfork_run(pl);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
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

void cdx_pathcache_free(struct cdx_pathcache *pc)
{
	size_t i;
	for (i = 0; i < pc->nfound; i++)
		free(pc->found[i]);
	free(pc->found);
	free(pc->path);
	memset(pc, 0, sizeof(*pc));
}

/* lookup: the executable NAME resolves to in PATH, remembered in R (jobs
 * of one run share their PATH); NULL when there is none, and the child
 * then searches itself and reports the failure as execvp would */
static const char *lookup(struct cdx_pathcache *r, const char *path, const char *name)
{
	const char *p, *q;
	size_t i, nl = strlen(name);
	if (!r->path || strcmp(r->path, path) != 0) {
		for (i = 0; i < r->nfound; i++)
			free(r->found[i]);
		r->nfound = 0;
		free(r->path);
		r->path = cdx_xstrdup(path);
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

void cdx_spawn_prepare(struct cdx_pathcache *pc, struct cdx_spawn_plan *pl, const struct cdx_proc_spec *spec,
		       const char *marker)
{
	char *const *envp = spec->envp ? spec->envp : environ;
	size_t n = 0, i, cap = 0, mlen = strlen(CDX_MARKER_NAME) + 1;

	pl->in_r = -1; /* /dev/null unless the caller sets an input pipe */
	/* environment: the spec's, any inherited marker replaced by ours */
	while (envp[n])
		n++;
	pl->envp = cdx_xcalloc(n + 2, sizeof(char *));
	for (i = 0, n = 0; envp[i]; i++) {
		if (strncmp(envp[i], CDX_MARKER_NAME "=", mlen) != 0)
			pl->envp[n++] = cdx_xstrdup(envp[i]);
	}
	pl->envp[n++] = cdx_xstrdup(marker);
	pl->envp[n] = NULL;

	if (!spec->argv) {
		/* sh -e -c SCRIPT; a hook's plain sh -c CMD */
		n = 0;
		pl->argv = cdx_xcalloc(5, sizeof(char *));
		pl->argv[n++] = cdx_xstrdup("sh");
		if (!(spec->flags & CDX_PROC_NO_ERREXIT))
			pl->argv[n++] = cdx_xstrdup("-e");
		pl->argv[n++] = cdx_xstrdup("-c");
		pl->argv[n++] = cdx_xstrdup(spec->script);
		pl->cands = cdx_xcalloc(1, sizeof(char *));
		pl->cands[pl->ncands++] = cdx_xstrdup(CDX_SHELL_PATH);
		pl->what = CDX_SHELL_PATH;
		return;
	}

	for (n = 0; spec->argv[n]; n++)
		;
	pl->argv = cdx_xcalloc(n + 1, sizeof(char *));
	pl->shargv = cdx_xcalloc(n + 2, sizeof(char *));
	for (i = 0; i < n; i++)
		pl->argv[i] = cdx_xstrdup(spec->argv[i]);
	pl->shargv[0] = CDX_SHELL_PATH;
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
		hit = pc ? lookup(pc, path, pl->argv[0]) : NULL;
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

void cdx_spawn_plan_free(struct cdx_spawn_plan *pl)
{
	size_t i;
	for (i = 0; i < pl->ncands; i++)
		free(pl->cands[i]);
	free(pl->cands);
	strv_free(pl->argv);
	free(pl->shargv); /* borrows from argv */
	strv_free(pl->envp);
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
