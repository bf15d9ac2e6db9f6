/* sweep.c — what belongs to an attempt of the runner, and the signals sent
 * to it: the /proc scan, the attribution of every descendant to its
 * attempt, the cheap proof that nothing is left, and the sweep for strays
 * of a cdx that was killed.
 *
 * The runner's process is made a child subreaper, so every process an
 * attempt starts stays a descendant of the runner, also after its parent
 * died or it called setsid.  A process belongs to attempt A when it
 * descends from A's leader (while the leader lives), or else when it is in
 * A's process group or session, carries A's marker CDX_ATTEMPT_KEY in its
 * environment, holds A's output pipe, or descends from such a process.  The
 * runner finds them by a scan of /proc (stat of every process; environ and
 * fd of the few unattributed descendants only), and signals only its own
 * descendants.  An attempt that keeps what it starts (CDX_PROC_KEEP, a
 * hook) is signalled through its process group only, and its marker ends
 * with "keep.": neither a sweep nor cdx_runner_kill_strays touches what it
 * left behind.
 *
 * What a hook left is found again by its owner instead: a CDX_PROC_KEEP
 * process started for an owner (spec->owner, a deployment id, with
 * "/TARGET" for the hooks that start or stop a slot or instance) carries
 * the marker keep.<runner pid>.<token>.<owner>, and so does everything it
 * starts unless that clears its environment.  The parent-death signal
 * reaches the hook's leader only; when its cdx is SIGKILLed, a grandchild
 * (a script's subshell, `sleep 4; start-it`) lives on as an orphan.
 * cdx_runner_kill_owned kills every process of an owner, which recovery
 * (lib/deploy/recover.c) does for the deployment it recovers, and only for
 * that one: what earlier, finished deployments started carries their ids.
 *
 * Pid reuse: the kernel does not reuse a pid while it names a live process
 * group or session, and hands out pids cyclically, so signalling a group
 * or a scanned pid right after it was seen cannot reach an unrelated
 * process in practice.
 */
#include "exec/runner_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENVIRON_MAX (1 << 20) /* bytes of /proc/PID/environ looked at */
#define SCAN_DEPTH_MAX 4096   /* parent chain length in a /proc scan */

/* ---- /proc scan ---------------------------------------------------------- */

static int proc_cmp(const void *pa, const void *pb)
{
	const struct cdx_scanproc *a = pa, *b = pb;
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
static bool parse_stat(const char *buf, struct cdx_scanproc *p)
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
		struct cdx_scanproc p = {0};
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
		p.owner = CDX_OWNER_UNKNOWN;
		if (r->nprocs && r->procs[r->nprocs - 1].pid > p.pid)
			sorted = false;
		CDX_PUSH(r->procs, r->nprocs, r->capprocs, p);
	}
	closedir(d);
	if (!sorted)
		qsort(r->procs, r->nprocs, sizeof(*r->procs), proc_cmp);
}

static struct cdx_scanproc *proc_find(struct cdx_runner *r, pid_t pid)
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

int cdx_runner_live_leader(const struct cdx_runner *r, pid_t pid)
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
	static const char needle[] = "\0" CDX_MARKER_NAME "=";
	const char *p = memmem(s, (size_t)(end - s), needle, sizeof(needle) - 1);
	return p ? p + 1 : NULL;
}

/* environ_of: the environment of PID into B, after a leading NUL (so that
 * every entry follows one) and with a NUL at the end; false when it cannot
 * be read (gone, or another user's) */
static bool environ_of(pid_t pid, struct cdx_buf *b)
{
	char path[64], chunk[4096];
	ssize_t k;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return false;
	cdx_buf_reset(b);
	cdx_buf_addc(b, '\0');
	while (b->len < ENVIRON_MAX) {
		k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		cdx_buf_add(b, chunk, (size_t)k);
	}
	close(fd);
	cdx_buf_addc(b, '\0');
	b->len--; /* the NUL guards strlen, it is not part of the environment */
	return true;
}

/* marker_kept: whether the marker entry M (NUL-terminated) is that of a
 * CDX_PROC_KEEP process */
static bool marker_kept(const char *m)
{
	return strncmp(m + strlen(CDX_MARKER_NAME "="), CDX_MARKER_KEEP, strlen(CDX_MARKER_KEEP)) == 0;
}

bool cdx_sweep_kept(pid_t pid)
{
	struct cdx_buf env = {0};
	const char *m = NULL;
	bool kept = false;
	if (environ_of(pid, &env)) {
		m = find_marker(env.data, env.data + env.len);
		kept = m && marker_kept(m);
	}
	cdx_buf_free(&env);
	return kept;
}

/* marker_owner: the attempt whose marker P's environment carries, or -1 */
static int marker_owner(struct cdx_runner *r, const struct cdx_scanproc *p)
{
	const char *s, *end;
	size_t i;
	int owner = -1;

	if (!environ_of(p->pid, &r->scratch))
		return -1;
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
static int pipe_owner(struct cdx_runner *r, const struct cdx_scanproc *p)
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
static int own_owner(struct cdx_runner *r, const struct cdx_scanproc *p)
{
	int pass, owner;
	size_t i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < r->natt; i++) {
			const struct cdx_attempt *a = r->att[i];
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
static void classify(struct cdx_runner *r, struct cdx_scanproc *p, int depth)
{
	struct cdx_scanproc *parent;
	int leader;

	if (p->desc)
		return;
	p->desc = 2; /* provisional: guards against a cycle in a torn snapshot */
	p->owner = -1;
	if (p->pid == r->self || depth > SCAN_DEPTH_MAX)
		return;
	if (p->ppid == r->self) {
		p->desc = 1;
		leader = cdx_runner_live_leader(r, p->pid);
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

static void remember(struct cdx_attempt *a, pid_t pid)
{
	size_t i;
	for (i = 0; i < a->nsignalled; i++) {
		if (a->signalled[i] == pid)
			return;
	}
	CDX_PUSH(a->signalled, a->nsignalled, a->capsignalled, pid);
}

/* A process that was signalled before counts for as long as it is a
 * descendant, attributable or not: a dying process loses its environment
 * and files before it becomes a zombie, and a zombie has neither. */
size_t cdx_sweep_signal(struct cdx_runner *r, size_t idx, int sig)
{
	struct cdx_attempt *a = r->att[idx];
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
	if (a->keep)
		return 0; /* what it started is left alone: its group only */
	if (!r->scan_fresh) {
		proc_scan(r);
		for (i = 0; i < r->nprocs; i++)
			classify(r, &r->procs[i], 0);
	}
	for (i = 0; i < r->nprocs; i++) {
		struct cdx_scanproc *p = &r->procs[i];
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
		const struct cdx_scanproc *p = proc_find(r, a->signalled[i]);
		if (p && p->desc == 1 && p->owner != (int)idx)
			n++;
	}
	return n;
}

/* The proof: A's process group is empty and
 * every child of ours is the leader of an attempt still running.  Any
 * process that escaped A's group descends from a process of A; with A's
 * leader and group gone its ancestors died, so it was re-parented to us
 * (the subreaper) and would show in our children.  When the kernel has no
 * children file, or anything is unclear, the answer is false: scan. */
bool cdx_sweep_nothing_left(const struct cdx_runner *r, const struct cdx_attempt *a)
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

size_t cdx_runner_kill_strays(void)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	struct cdx_buf env = {0};
	size_t killed = 0;
	long self = (long)getpid();
	if (!dir)
		return 0;
	for (de = readdir(dir); de; de = readdir(dir)) {
		char *endp;
		const char *m;
		long pid = strtol(de->d_name, &endp, 10), owner;
		if (*endp || pid <= 0 || pid == self)
			continue;
		if (!environ_of((pid_t)pid, &env))
			continue; /* gone, or another user's */
		m = find_marker(env.data, env.data + env.len);
		if (!m || marker_kept(m))
			continue; /* a hook's service is meant to outlive its cdx */
		owner = strtol(m + strlen(CDX_MARKER_NAME) + 1, NULL, 10);
		/* the runner that started it is gone: nobody will ever stop it */
		if (owner > 0 && owner != self && !cdx_process_alive((int)owner) && kill((pid_t)pid, SIGKILL) == 0)
			killed++;
	}
	closedir(dir);
	cdx_buf_free(&env);
	return killed;
}

/* owned_by: whether the marker entry M (NUL-terminated) is that of a
 * CDX_PROC_KEEP process of OWNER (or of an owner OWNER/...); *REST = its
 * owner */
static bool owned_by(const char *m, const char *owner, const char **rest)
{
	const char *p = m + strlen(CDX_MARKER_NAME "=");
	size_t n = strlen(owner);
	int dots;
	if (!marker_kept(m))
		return false;
	p += strlen(CDX_MARKER_KEEP);
	for (dots = 0; dots < 2; dots++) { /* <runner pid>.<token>. */
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p++ != '.')
			return false;
	}
	*rest = p;
	return strncmp(p, owner, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

size_t cdx_runner_kill_owned(const char *owner, void (*each)(void *ctx, const char *owner), void *ctx)
{
	struct cdx_buf env = {0};
	pid_t *seen = NULL; /* killed already: a dying process still shows for a moment */
	size_t killed = 0, capseen = 0, i;
	long self = (long)getpid();
	int round;

	if (!owner || !*owner)
		return 0;
	for (round = 0; round < 50; round++) {
		DIR *dir = opendir("/proc");
		struct dirent *de;
		size_t n = 0;
		if (!dir)
			break;
		for (de = readdir(dir); de; de = readdir(dir)) {
			char *endp;
			const char *m, *rest;
			long pid = strtol(de->d_name, &endp, 10);
			if (*endp || pid <= 0 || pid == self || !cdx_process_alive((int)pid))
				continue; /* a zombie is dead already */
			if (!environ_of((pid_t)pid, &env))
				continue; /* gone, or another user's */
			m = find_marker(env.data, env.data + env.len);
			if (!m || !owned_by(m, owner, &rest) || kill((pid_t)pid, SIGKILL) != 0)
				continue;
			for (i = 0; i < killed && seen[i] != (pid_t)pid; i++)
				;
			if (i < killed)
				continue;
			CDX_PUSH(seen, killed, capseen, (pid_t)pid);
			n++;
			if (each)
				each(ctx, rest);
		}
		closedir(dir);
		if (!n)
			break;
		poll(NULL, 0, 10); /* a fork that raced the scan shows in the next one */
	}
	cdx_buf_free(&env);
	free(seen);
	return killed;
}
