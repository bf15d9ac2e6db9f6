/* concurrency.c — concurrency groups: slots that runs take at their start
 * (see concurrency.h).
 *
 * A group of LIMIT has slots 0..LIMIT-1 and a run holds one for its whole
 * life.  Two mechanisms, chosen by the store:
 *
 *  - a store on this machine only (the file store, whose cdx_store_local_dir
 *    is DIR): slot I is the file DIR/concurrency/GROUP.I.lock, held with
 *    flock(LOCK_EX) on a descriptor that children do not inherit, so the
 *    kernel frees it when the holder exits however it dies.  The file holds
 *    the holder as JSON (run, pid, host, since_ms).  cancel_in_progress
 *    sends SIGTERM to the oldest holder (cdx run treats it as a cancel)
 *    and waits for its slot.
 *  - any other store with locks (Redis): slot I is the lock
 *    "concurrency:GROUP:I" with a TTL of SLOT_TTL_MS, renewed by
 *    cdx_concurrency_keep.  cancel_in_progress releases the oldest
 *    holder's lock with its own token; that holder's next renewal finds
 *    the slot lost, and it cancels itself — on any machine.
 *
 * Waiting polls every POLL_MS and honours the caller's cancel flag. */
#include "exec/concurrency.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "base/text.h"

#define SLOT_TTL_MS 30000
#define POLL_MS 200
#define RENEW_MS 1000

struct cdx_slot {
	struct cdx_store *s;      /* lock-based slot: the store, else NULL */
	char *name;               /* lock name, or the slot file's path */
	unsigned long long token; /* lock token */
	int fd;                   /* flock'd slot file, or -1 */
	int64_t renewed_ns;       /* last successful renewal (monotonic) */
	int64_t tried_ns;         /* last attempt */
	bool lost;
};

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static cJSON *holder_json(const char *run_id)
{
	char host[256];
	cJSON *h = cJSON_CreateObject();
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	cJSON_AddStringToObject(h, "run", run_id);
	cJSON_AddStringToObject(h, "host", host);
	cJSON_AddNumberToObject(h, "pid", getpid());
	cJSON_AddNumberToObject(h, "pid_start", (double)cdx_process_start_time(getpid()));
	cJSON_AddNumberToObject(h, "since_ms", (double)cdx_wall_ms());
	return h;
}

static const char *holder_run(const cJSON *h)
{
	const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "run"));
	return r ? r : "?";
}

/* ---- file store: flock'd slot files -------------------------------------- */

static cJSON *read_holder(int fd)
{
	char buf[1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return cJSON_Parse(buf);
}

static enum cdx_slot_result file_acquire(const char *dir, const struct cdx_concurrency *c, const char *run_id,
					 volatile sig_atomic_t *cancel, FILE *errf, struct cdx_slot **out,
					 struct cdx_error *err)
{
	char *cdir = cdx_xasprintf("%s/concurrency", dir);
	int *fds = cdx_xcalloc((size_t)c->limit, sizeof(int));
	int i, got = -1, victim = -1;
	enum cdx_slot_result rc = CDX_SLOT_ERROR;
	bool said = false;
	if (cdx_mkdirs(cdir) < 0) {
		cdx_error_set(err, CDX_ESTATE, "cannot create %s: %s", cdir, strerror(errno));
		goto out;
	}
	for (i = 0; i < c->limit; i++)
		fds[i] = -1;
	for (i = 0; i < c->limit; i++) {
		char *path = cdx_xasprintf("%s/%s.%d.lock", cdir, c->group, i);
		fds[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fds[i] < 0) {
			cdx_error_set(err, CDX_ESTATE, "cannot open %s: %s", path, strerror(errno));
			free(path);
			goto out;
		}
		free(path);
	}
	for (;;) {
		for (i = 0; i < c->limit && got < 0; i++)
			if (flock(fds[i], LOCK_EX | LOCK_NB) == 0)
				got = i;
		if (got >= 0)
			break;
		if (cancel && *cancel) {
			rc = CDX_SLOT_CANCELLED;
			goto out;
		}
		if (c->cancel_in_progress && victim < 0) {
			/* the oldest holder is asked to stop; its slot is ours next */
			double oldest = 0;
			cJSON *vh = NULL;
			for (i = 0; i < c->limit; i++) {
				cJSON *h = read_holder(fds[i]);
				double since =
				    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "since_ms"));
				if (h && (victim < 0 || since < oldest)) {
					cJSON_Delete(vh);
					vh = h;
					victim = i;
					oldest = since;
				} else {
					cJSON_Delete(h);
				}
			}
			if (vh) {
				const cJSON *pid = cJSON_GetObjectItemCaseSensitive(vh, "pid");
				if (cJSON_IsNumber(pid) && pid->valueint > 0 && pid->valueint != getpid()) {
					fprintf(errf,
						"cdx: cancelling run %s (pid %d) of concurrency group %s\n",
						holder_run(vh), pid->valueint, c->group);
					kill((pid_t)pid->valueint, SIGTERM);
				}
				cJSON_Delete(vh);
			}
		} else if (!said) {
			cJSON *h = read_holder(fds[0]);
			fprintf(
			    errf,
			    "cdx: waiting for a slot of concurrency group %s (limit %d; run %s holds one)\n",
			    c->group, c->limit, h ? holder_run(h) : "?");
			cJSON_Delete(h);
			said = true;
		}
		nap_ms(POLL_MS / 2);
	}
	{
		cJSON *h = holder_json(run_id);
		char *text = cJSON_PrintUnformatted(h);
		ssize_t w;
		cJSON_Delete(h);
		if (ftruncate(fds[got], 0) == 0) {
			w = pwrite(fds[got], text, strlen(text), 0);
			(void)w;
		}
		free(text);
	}
	*out = cdx_xcalloc(1, sizeof(**out));
	(*out)->fd = fds[got];
	fds[got] = -1;
	rc = CDX_SLOT_TAKEN;
out:
	for (i = 0; i < c->limit; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(cdir);
	return rc;
}

/* ---- stores with locks (Redis) ------------------------------------------- */

static enum cdx_slot_result lock_acquire(struct cdx_store *s, const struct cdx_concurrency *c,
					 const char *run_id, volatile sig_atomic_t *cancel, FILE *errf,
					 struct cdx_slot **out, struct cdx_error *err)
{
	cJSON *me = holder_json(run_id);
	bool said = false, asked = false;
	int i;
	enum cdx_slot_result rc = CDX_SLOT_ERROR;
	for (;;) {
		cJSON *oldest = NULL;
		char *oldest_name = NULL;
		double oldest_since = 0;
		for (i = 0; i < c->limit; i++) {
			char *name = cdx_xasprintf("concurrency:%s:%d", c->group, i);
			unsigned long long token;
			cJSON *cur = NULL;
			enum cdx_lock_result got =
			    s->ops->lock(s, name, me, SLOT_TTL_MS, 0, &token, &cur, err);
			if (got == CDX_LOCK_TAKEN) {
				*out = cdx_xcalloc(1, sizeof(**out));
				(*out)->s = s;
				(*out)->name = name;
				(*out)->token = token;
				(*out)->fd = -1;
				(*out)->renewed_ns = (*out)->tried_ns = cdx_now_ns();
				cJSON_Delete(oldest);
				free(oldest_name);
				rc = CDX_SLOT_TAKEN;
				goto out;
			}
			if (got == CDX_LOCK_ERROR) {
				free(name);
				cJSON_Delete(oldest);
				free(oldest_name);
				goto out;
			}
			{
				double since =
				    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cur, "since_ms"));
				if (cJSON_GetObjectItemCaseSensitive(cur, "token") &&
				    (!oldest || since < oldest_since)) {
					cJSON_Delete(oldest);
					free(oldest_name);
					oldest = cur;
					oldest_name = name;
					oldest_since = since;
					cur = NULL;
					name = NULL;
				}
			}
			cJSON_Delete(cur);
			free(name);
		}
		if (cancel && *cancel) {
			cJSON_Delete(oldest);
			free(oldest_name);
			rc = CDX_SLOT_CANCELLED;
			goto out;
		}
		if (c->cancel_in_progress && oldest && !asked) {
			/* release the oldest holder's slot with its token: its next
			 * renewal finds it gone and it cancels itself */
			const cJSON *tok = cJSON_GetObjectItemCaseSensitive(oldest, "token");
			cdx_text_printf(errf, "cdx: cancelling run %s of concurrency group %s\n",
					holder_run(oldest), c->group);
			if (s->ops->unlock(s, oldest_name, (unsigned long long)cJSON_GetNumberValue(tok),
					   err) < 0) {
				cJSON_Delete(oldest);
				free(oldest_name);
				goto out;
			}
			asked = true;
		} else if (!said) {
			fprintf(
			    errf,
			    "cdx: waiting for a slot of concurrency group %s (limit %d; run %s holds one)\n",
			    c->group, c->limit, oldest ? holder_run(oldest) : "?");
			said = true;
		}
		cJSON_Delete(oldest);
		free(oldest_name);
		if (!asked || !c->cancel_in_progress)
			nap_ms(POLL_MS);
		asked = false;
	}
out:
	cJSON_Delete(me);
	return rc;
}

enum cdx_slot_result cdx_concurrency_acquire(struct cdx_store *s, const struct cdx_pipeline *p,
					     const char *run_id, volatile sig_atomic_t *cancel, FILE *errf,
					     struct cdx_slot **slot, struct cdx_error *err)
{
	const struct cdx_concurrency *c = &p->concurrency;
	*slot = NULL;
	if (!c->group)
		return CDX_SLOT_TAKEN;
	if (cdx_store_local_dir(s))
		return file_acquire(cdx_store_local_dir(s), c, run_id, cancel, errf, slot, err);
	if (!s->ops->lock) {
		cdx_error_set(err, CDX_ESTATE, "state store %s cannot hold concurrency group %s", s->url,
			      c->group);
		return CDX_SLOT_ERROR;
	}
	return lock_acquire(s, c, run_id, cancel, errf, slot, err);
}

int cdx_concurrency_keep(struct cdx_slot *slot)
{
	struct cdx_error err = {0};
	int64_t now;
	if (!slot || !slot->s)
		return 0;
	if (slot->lost)
		return 1;
	now = cdx_now_ns();
	/* renewed every RENEW_MS, far more often than the TTL needs, so that
	 * a cancel is noticed within a second; a renewal that fails (store
	 * lost) is tried again until the TTL is gone, then the slot counts as
	 * lost: fail closed */
	if (now - slot->tried_ns < (int64_t)RENEW_MS * 1000000)
		return 0;
	slot->tried_ns = now;
	switch (slot->s->ops->renew(slot->s, slot->name, slot->token, SLOT_TTL_MS, &err)) {
	case CDX_RENEW_HELD:
		slot->renewed_ns = now;
		return 0;
	case CDX_RENEW_LOST:
		slot->lost = true;
		return 1;
	default:
		if (now - slot->renewed_ns >= (int64_t)SLOT_TTL_MS * 1000000) {
			slot->lost = true;
			return 1;
		}
		return 0;
	}
}

void cdx_concurrency_release(struct cdx_slot *slot)
{
	struct cdx_error err = {0};
	if (!slot)
		return;
	if (slot->s && !slot->lost)
		slot->s->ops->unlock(slot->s, slot->name, slot->token, &err);
	if (slot->fd >= 0)
		close(slot->fd); /* releases the flock */
	free(slot->name);
	free(slot);
}
