/* dctx.c — a deployment in progress (dctx.h): the signal flags, the
 * environment's lock, the promote and abort records read back from the
 * store, and the records it writes with the lock's token. */
#include "deploy/dctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/text.h"
#include "deploy/record.h"
#include "deploy/ssh.h"

volatile sig_atomic_t cdx_deploy_cancel, cdx_deploy_promote, cdx_deploy_abort;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		cdx_deploy_promote = 1;
	else if (sig == SIGUSR2)
		cdx_deploy_abort = 1;
	else
		cdx_deploy_cancel = 1;
}

void cdx_deploy_signals(bool on)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
	struct sigaction sa;
	size_t i;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on ? on_signal : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < CDX_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	/* a closed pipe on stdout (cdx deploy | head) must not kill a deployment half way */
	signal(SIGPIPE, on ? SIG_IGN : SIG_DFL);
	if (on)
		cdx_deploy_cancel = cdx_deploy_promote = cdx_deploy_abort = 0;
}

/* ---- the lock ------------------------------------------------------------------ */

/* the lock's holder record: who, which deployment, since when */
static cJSON *holder_json(const struct cdx_dctx *d)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "user", d->o->user);
	cJSON_AddStringToObject(h, "host", d->o->host);
	cJSON_AddNumberToObject(h, "pid", (double)getpid());
	cJSON_AddNumberToObject(h, "pid_start", (double)cdx_process_start_time((int)getpid()));
	cJSON_AddStringToObject(h, "deployment", d->id);
	cJSON_AddStringToObject(h, "kind", d->kind);
	cJSON_AddStringToObject(h, "version", d->version);
	cJSON_AddNumberToObject(h, "since_ms", (double)cdx_wall_ms());
	return h;
}

/* CDX_EBUSY with ERR naming holder CUR of D's environment */
static int busy(const struct cdx_dctx *d, const cJSON *cur, struct cdx_error *err)
{
	const cJSON *since = cJSON_GetObjectItem(cur, "since_ms");
	long long ago = cJSON_IsNumber(since) ? (cdx_wall_ms() - (long long)since->valuedouble) / 1000 : -1;
	cdx_error_set(err, CDX_EBUSY, "%s/%s is busy: %s of %s by %s@%s (pid %d, deployment %s) started %llds ago",
		      d->e->app->name, d->e->name, cdx_jsn(cur, "kind") ?: "a deployment", cdx_jsn(cur, "version") ?: "?",
		      cdx_jsn(cur, "user") ?: "?", cdx_jsn(cur, "host") ?: "?",
		      (int)cdx_jn(cur, "pid"), cdx_jsn(cur, "deployment") ?: "?", ago);
	return CDX_EBUSY;
}

static int ignore_record(void *ctx, const cJSON *rec)
{
	(void)ctx;
	(void)rec;
	return 0;
}

/* start watching the store: D's cursor at its end; whether it worked */
static bool watch_start(struct cdx_dctx *d)
{
	struct cdx_error err = {0};
	snprintf(d->watch, sizeof(d->watch), "$");
	return d->o->store->ops->tail(d->o->store, d->watch, 0, ignore_record, NULL, &err) == 0 &&
	       strcmp(d->watch, "$") != 0;
}

static int control_one(void *ctx, const cJSON *rec)
{
	const struct cdx_dctx *d = ctx;
	if (!cdx_record_is(rec, "event") || !cdx_record_str_eq(rec, "deployment", d->id))
		return 0;
	if (cdx_record_str_eq(rec, "kind", "promote"))
		cdx_deploy_promote = 1;
	else if (cdx_record_str_eq(rec, "kind", "abort"))
		cdx_deploy_abort = 1;
	return 0;
}

int cdx_dctx_controls(struct cdx_dctx *d, long long wait_ms)
{
	struct cdx_error err = {0};
	if (!d->watch[0])
		return -1;
	return d->o->store->ops->tail(d->o->store, d->watch, wait_ms, control_one, d, &err) < 0 ? -1 : 0;
}

/* whether this process runs inside a hook of the deployment that holds
 * D's lock now: CDX_LOCK and CDX_LOCK_TOKEN (effects.c) name that lock and
 * its current holder's fencing token.  Waiting for it would wait for
 * ourselves: refused at once instead (CDX_EBUSY with ERR). */
static int nested(struct cdx_dctx *d, struct cdx_error *err)
{
	const char *name = getenv("CDX_LOCK"), *tok = getenv("CDX_LOCK_TOKEN");
	struct cdx_error e = {0};
	cJSON *cur = NULL;
	int rc = 0;
	if (!name || !tok || !*tok || strcmp(name, d->lock) != 0 || !d->o->store->ops->holder)
		return 0;
	if (d->o->store->ops->holder(d->o->store, d->lock, &cur, &e) == 0 && cur &&
	    (unsigned long long)cdx_jn(cur, "token") == strtoull(tok, NULL, 10)) {
		cdx_error_set(err, CDX_EBUSY,
			      "%s/%s is locked by deployment %s, whose hook runs this command (CDX_LOCK_TOKEN %s): "
			      "it cannot wait for itself",
			      d->e->app->name, d->e->name, cdx_jsn(cur, "deployment") ?: "?", tok);
		rc = CDX_EBUSY;
	}
	cJSON_Delete(cur);
	return rc;
}

int cdx_dctx_lock(struct cdx_dctx *d, long long wait_ms, struct cdx_error *err)
{
	cJSON *h, *cur = NULL;
	enum cdx_lock_result got;
	int rc;
	cdx_deploy_lock_name(d->lock, sizeof(d->lock), d->e->app->name, d->e->name);
	if ((rc = nested(d, err)))
		return rc;
	/* a promote or abort aimed at us as soon as we hold the lock must not
	 * kill us (SIGUSR1/2 terminate by default); SIGINT still stops a wait */
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	/* promote and abort records aimed at us are read from here on */
	if (d->o->store->ops->tail && !watch_start(d))
		d->watch[0] = '\0';
	h = holder_json(d);
	got = d->o->store->ops->lock(d->o->store, d->lock, h, CDX_LOCK_TTL_MS, wait_ms, &d->token, &cur, err);
	if (got == CDX_LOCK_BUSY && wait_ms == 0 && strcmp(cdx_js(cur, "kind"), "scale_down") == 0) {
		/* housekeeping holds it for a moment: not a reason to say busy */
		cJSON_Delete(cur);
		cur = NULL;
		got = d->o->store->ops->lock(d->o->store, d->lock, h, CDX_LOCK_TTL_MS, 30000, &d->token, &cur,
					     err);
	}
	cJSON_Delete(h);
	if (got == CDX_LOCK_BUSY)
		rc = busy(d, cur, err);
	else
		rc = got == CDX_LOCK_ERROR ? err->code : 0;
	cJSON_Delete(cur);
	return rc;
}

void cdx_dctx_unlock(struct cdx_dctx *d)
{
	struct cdx_error err = {0};
	cdx_ssh_close(d->ssh);
	d->ssh = NULL;
	if (d->token)
		d->o->store->ops->unlock(d->o->store, d->lock, d->token, &err);
	d->token = 0;
}

/* ---- records ------------------------------------------------------------------ */

void cdx_dctx_describe(const struct cdx_dctx *d, cJSON *o)
{
	cJSON_AddStringToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "kind", d->kind);
	cJSON_AddStringToObject(o, "app", d->e->app->name);
	cJSON_AddStringToObject(o, "env", d->e->name);
	cJSON_AddStringToObject(o, "version", d->version);
	if (d->previous)
		cJSON_AddStringToObject(o, "previous", d->previous);
	else
		cJSON_AddNullToObject(o, "previous");
}

int cdx_deployment_begin(struct cdx_dctx *d, const char *strategy, const char *reason, struct cdx_error *err)
{
	cJSON *rec = cJSON_CreateObject();
	int rc;
	cJSON_AddStringToObject(rec, "t", "deployment");
	cdx_dctx_describe(d, rec);
	cJSON_AddStringToObject(rec, "strategy", strategy);
	cJSON_AddStringToObject(rec, "user", d->o->user);
	if (cdx_who_claimed(d->o->user))
		cJSON_AddStringToObject(rec, "claimed_user", cdx_who_claimed(d->o->user));
	cJSON_AddStringToObject(rec, "host", d->o->host);
	cJSON_AddNumberToObject(rec, "pid", (double)getpid());
	cJSON_AddNumberToObject(rec, "pid_start", (double)cdx_process_start_time((int)getpid()));
	cJSON_AddNumberToObject(rec, "start_ms", (double)d->start_ms);
	cJSON_AddNumberToObject(rec, "token", (double)d->token);
	if (reason)
		cJSON_AddStringToObject(rec, "reason", reason);
	rc = d->o->store->ops->append_fenced(d->o->store, d->lock, d->token, rec, err);
	cJSON_Delete(rec);
	if (rc == CDX_FENCED_REFUSED)
		return cdx_error_set(err, CDX_EBUSY, "lost the lock of %s/%s before starting", d->e->app->name,
				     d->e->name);
	return rc == CDX_FENCED_ERROR ? -1 : 0;
}

int cdx_dctx_record(struct cdx_dctx *d, const char *state, const char *msg, const char *cause)
{
	return cdx_dctx_record_hold(d, state, msg, cause, false);
}

static cJSON *transition_json(const struct cdx_dctx *d, const char *state, const char *msg, const char *cause,
			      bool hold)
{
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "transition");
	cJSON_AddStringToObject(rec, "deployment", d->id);
	cJSON_AddStringToObject(rec, "app", d->e->app->name);
	cJSON_AddStringToObject(rec, "env", d->e->name);
	cJSON_AddStringToObject(rec, "state", state);
	cJSON_AddNumberToObject(rec, "at_ms", (double)cdx_wall_ms());
	if (msg)
		cJSON_AddStringToObject(rec, "msg", msg);
	if (cause)
		cJSON_AddStringToObject(rec, "cause", cause);
	if (hold)
		cJSON_AddTrueToObject(rec, "hold");
	if (hold && d->sv->irreversible_done)
		cJSON_AddTrueToObject(rec, "frozen");
	cJSON_AddItemToObject(rec, "serving", cdx_serving_json(d->e, d->sv));
	return rec;
}

int cdx_dctx_record_hold(struct cdx_dctx *d, const char *state, const char *msg, const char *cause, bool hold)
{
	struct cdx_error err = {0};
	cJSON *rec = transition_json(d, state, msg, cause, hold);
	enum cdx_fenced_result rc =
	    d->o->store->ops->append_fenced(d->o->store, d->lock, d->token, rec, &err);
	cJSON_Delete(rec);
	if (rc == CDX_FENCED_REFUSED) {
		d->lost = true;
		cdx_text_printf(stderr, "cdx: %s/%s: the lock was lost; stopping before: %s\n",
				d->e->app->name, d->e->name, msg ? msg : state);
		return -1;
	}
	if (rc == CDX_FENCED_ERROR) {
		cdx_text_printf(stderr, "cdx: cannot record the deployment: %s\n", err.msg);
		return -1;
	}
	d->state = state;
	{
		/* tests only: die here, at the Nth transition of this process */
		static int seen;
		const char *at = getenv("CDX_TEST_CRASH_AT");
		if (at && ++seen == atoi(at))
			raise(SIGKILL);
	}
	if (d->progress)
		cdx_text_printf(d->progress, "cdx %s %s/%s %s: %s%s%s\n", d->kind, d->e->app->name,
				d->e->name, d->version, state, msg ? ": " : "", msg ? msg : "");
	return 0;
}

void cdx_dctx_record_hosts(struct cdx_dctx *d, const char *only_version, const char *outcome)
{
	const struct cdx_env *e = d->e;
	bool per_host = cdx_env_hosts_are_targets(e);
	size_t i;
	for (i = 0; i < e->n_hosts; i++) {
		struct cdx_error err = {0};
		const char *v = per_host ? (i < d->sv->n ? d->sv->installed[i] : NULL) : d->sv->version;
		cJSON *rec;
		if (!v || (only_version && strcmp(v, only_version) != 0))
			continue;
		if (per_host && d->only && !d->only[i] && strcmp(outcome, "good") != 0)
			continue;
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "t", "host");
		cJSON_AddStringToObject(rec, "deployment", d->id);
		cJSON_AddStringToObject(rec, "app", e->app->name);
		cJSON_AddStringToObject(rec, "env", e->name);
		cJSON_AddStringToObject(rec, "host", e->hosts[i].name);
		cJSON_AddStringToObject(rec, "version", v);
		cJSON_AddStringToObject(rec, "outcome", outcome);
		if (d->ssh && cdx_ssh_down(d->ssh, i))
			cJSON_AddTrueToObject(rec, "unreachable");
		cJSON_AddNumberToObject(rec, "at_ms", (double)cdx_wall_ms());
		d->o->store->ops->append_fenced(d->o->store, d->lock, d->token, rec, &err);
		cJSON_Delete(rec);
	}
}
