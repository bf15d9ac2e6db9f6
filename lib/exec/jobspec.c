/* jobspec.c — the job specs that cdx.so hands to `cdx job` (see jobspec.h).
 *
 * Layout, in the byte order of the machine (writer and reader are the same
 * build on the same machine, parent and child):
 *   0   16 bytes  "cdx-job-specs 1\n"
 *   16  8 bytes   number of slots (a power of two)
 *   24  36 bytes  the run id, NUL-padded
 *   60  4 bytes   the fatal signal make received (cdx_jobspec_note_signal),
 *                 0 while none
 *   64  slots     16 bytes each: offset (8) and length (4) of a record,
 *                 length 0 = empty; 4 bytes unused
 *   then records  "STAGE/JOB\n" and the spec
 * A job's slot is the FNV-1a hash of its id, then the next ones in turn.
 */
#include "exec/jobspec.h"

#include "cdx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAGIC "cdx-job-specs 1\n"
#define HDR_SIZE 64u
#define RUN_MAX 36u
#define SIGNAL_AT 60u
#define SLOT_SIZE 16u
#define NAME_PREFIX "cdx-specs-"

static uint64_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* write (OUT) or read LEN bytes at OFF whole: 0, or -1 on an error or,
 * reading, a short file */
static int io_all(int fd, bool out, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	while (len) {
		ssize_t n = out ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	return io_all(fd, true, (void *)buf, len, off);
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return io_all(fd, false, buf, len, off);
}

/* an anonymous file named after the run, inherited by make's recipes */
static int open_store(const char *run_id)
{
	char name[sizeof(NAME_PREFIX) + RUN_MAX], *path;
	const char *tmp = getenv("TMPDIR");
	int fd;
	snprintf(name, sizeof(name), NAME_PREFIX "%s", run_id);
	fd = memfd_create(name, 0);
	if (fd >= 0)
		return fd;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	path = cdx_xasprintf("%s/%s-XXXXXX", tmp, name);
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	free(path);
	return fd;
}

int cdx_jobspec_create(struct cdx_jobspec_w *w, const char *run_id, size_t n_jobs, struct cdx_error *err)
{
	char hdr[HDR_SIZE];
	uint64_t n = 16;
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (strlen(run_id) >= RUN_MAX)
		return cdx_error_set(err, CDX_EUSAGE, "run id '%s' is too long", run_id);
	while (n < 2 * (uint64_t)n_jobs)
		n *= 2;
	w->fd = open_store(run_id);
	if (w->fd >= 0 && w->fd < 3) {
		/* never one of the standard descriptors make's recipes get */
		int hi = fcntl(w->fd, F_DUPFD, 3);
		close(w->fd);
		w->fd = hi;
	}
	if (w->fd < 0)
		return cdx_error_set(err, CDX_EUSAGE, "cannot create the job spec store: %s", strerror(errno));
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, MAGIC, 16);
	memcpy(hdr + 16, &n, sizeof(n));
	memcpy(hdr + 24, run_id, strlen(run_id));
	w->n_slots = n;
	w->end = HDR_SIZE + n * SLOT_SIZE;
	if (ftruncate(w->fd, (off_t)w->end) < 0 || pwrite_all(w->fd, hdr, sizeof(hdr), 0) < 0) {
		cdx_error_set(err, CDX_EUSAGE, "cannot write the job spec store: %s", strerror(errno));
		cdx_jobspec_close(w);
		return -1;
	}
	w->used = cdx_xcalloc((size_t)n, 1);
	return 0;
}

int cdx_jobspec_put(struct cdx_jobspec_w *w, const char *id, const char *spec, size_t len, struct cdx_error *err)
{
	uint64_t mask = w->n_slots - 1, k, rec_len;
	size_t idlen = strlen(id);
	unsigned char slot[SLOT_SIZE];
	uint32_t l32;
	char *rec;
	int rc;
	if (w->fd < 0 || !w->used)
		return cdx_error_set(err, CDX_EUSAGE, "the job spec store is closed");
	rec_len = (uint64_t)idlen + 1 + len;
	if (rec_len > CDX_JOBSPEC_MAX)
		return cdx_error_set(err, CDX_EUSAGE, "the spec of job %s is too large (%zu bytes)", id, len);
	for (k = hash_id(id) & mask; w->used[k]; k = (k + 1) & mask)
		;
	rec = cdx_xmalloc((size_t)rec_len);
	memcpy(rec, id, idlen);
	rec[idlen] = '\n';
	memcpy(rec + idlen + 1, spec, len);
	memset(slot, 0, sizeof(slot));
	memcpy(slot, &w->end, 8);
	l32 = (uint32_t)rec_len;
	memcpy(slot + 8, &l32, 4);
	/* the record first: a reader that sees the slot sees the record */
	rc = pwrite_all(w->fd, rec, (size_t)rec_len, w->end) < 0 ||
			     pwrite_all(w->fd, slot, sizeof(slot), HDR_SIZE + k * SLOT_SIZE) < 0
		     ? -1
		     : 0;
	free(rec);
	if (rc < 0)
		return cdx_error_set(err, CDX_EUSAGE, "cannot write the job spec store: %s", strerror(errno));
	w->used[k] = 1;
	w->end += rec_len;
	return 0;
}

void cdx_jobspec_close(struct cdx_jobspec_w *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->used);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

/* the spec of ID in store FD of run RUN_ID (caller frees); NULL with ERR */
static char *read_spec(int fd, const char *run_id, const char *id, struct cdx_error *err)
{
	char hdr[HDR_SIZE];
	uint64_t n, k, probes;
	size_t idlen = strlen(id);
	if (pread_all(fd, hdr, sizeof(hdr), 0) < 0 || memcmp(hdr, MAGIC, 16) != 0 ||
	    strncmp(hdr + 24, run_id, RUN_MAX) != 0) {
		cdx_error_set(err, CDX_EUSAGE, "the job spec store of run %s is damaged", run_id);
		return NULL;
	}
	memcpy(&n, hdr + 16, sizeof(n));
	if (n < 16 || (n & (n - 1)) || n > ((uint64_t)1 << 32)) {
		cdx_error_set(err, CDX_EUSAGE, "the job spec store of run %s is damaged", run_id);
		return NULL;
	}
	for (k = hash_id(id) & (n - 1), probes = 0; probes < n; k = (k + 1) & (n - 1), probes++) {
		unsigned char slot[SLOT_SIZE];
		uint64_t off;
		uint32_t len;
		char *rec;
		if (pread_all(fd, slot, sizeof(slot), HDR_SIZE + k * SLOT_SIZE) < 0)
			break;
		memcpy(&off, slot, 8);
		memcpy(&len, slot + 8, 4);
		if (!len)
			break;
		if (len > CDX_JOBSPEC_MAX || len <= idlen) {
			if (len > CDX_JOBSPEC_MAX)
				break;
			continue;
		}
		rec = cdx_xmalloc((size_t)len + 1);
		if (pread_all(fd, rec, len, off) < 0) {
			free(rec);
			break;
		}
		rec[len] = '\0';
		if (memcmp(rec, id, idlen) == 0 && rec[idlen] == '\n') {
			memmove(rec, rec + idlen + 1, len - idlen);
			return rec;
		}
		free(rec);
	}
	cdx_error_set(err, CDX_EUSAGE, "make gave no spec for job %s of run %s", id, run_id);
	return NULL;
}

/* whether NAME, from NAME_PREFIX on, is the store of run RUN_ID: a memfd
 * shows as "memfd:cdx-specs-ID (deleted)", a temporary file as
 * ".../cdx-specs-ID-XXXXXX (deleted)" */
static bool names_run(const char *name, const char *run_id)
{
	size_t rl = strlen(run_id);
	name += sizeof(NAME_PREFIX) - 1;
	return strncmp(name, run_id, rl) == 0 && (name[rl] == '\0' || name[rl] == ' ' || name[rl] == '-');
}

char *cdx_jobspec_take(const char *run_id, const char *id, struct cdx_error *err)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int *fds = NULL, mine = -1;
	size_t n_fds = 0, cap = 0, i;
	char *spec = NULL;
	if (!dir) {
		cdx_error_set(err, CDX_EUSAGE, "cannot list /proc/self/fd: %s", strerror(errno));
		return NULL;
	}
	while ((de = readdir(dir)) != NULL) {
		char path[64], link[512], *name;
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		ssize_t n;
		if (*end || end == de->d_name || fd < 3 || fd == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		name = strstr(link, NAME_PREFIX);
		if (!name)
			continue;
		CDX_PUSH(fds, n_fds, cap, (int)fd);
		if (names_run(name, run_id))
			mine = (int)fd;
	}
	closedir(dir);
	if (mine >= 0)
		spec = read_spec(mine, run_id, id, err);
	else
		cdx_error_set(err, CDX_EUSAGE, "no job spec store of run %s: make did not pass one", run_id);
	for (i = 0; i < n_fds; i++)
		close(fds[i]);
	free(fds);
	return spec;
}

void cdx_jobspec_note_signal(int fd, int sig)
{
	uint32_t v = (uint32_t)sig;
	ssize_t n;
	do /* pwrite only: safe in a signal handler */
		n = pwrite(fd, &v, sizeof(v), SIGNAL_AT);
	while (n < 0 && errno == EINTR);
}

int cdx_jobspec_open_of(long pid, const char *run_id)
{
	char path[64];
	DIR *dir;
	struct dirent *de;
	int found = -1;
	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while (found < 0 && (de = readdir(dir)) != NULL) {
		char fdpath[64 + sizeof(de->d_name)], link[512], *name;
		ssize_t n;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd/%s", pid, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		name = strstr(link, NAME_PREFIX);
		if (name && names_run(name, run_id))
			found = open(fdpath, O_RDONLY | O_CLOEXEC);
	}
	closedir(dir);
	return found;
}

int cdx_jobspec_signal(int fd)
{
	uint32_t v = 0;
	if (fd < 0 || pread_all(fd, &v, sizeof(v), SIGNAL_AT) < 0)
		return 0;
	return v < 128 ? (int)v : 0;
}
