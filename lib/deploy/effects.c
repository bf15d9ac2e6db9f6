/* effects.c — the io table of a strategy run (effects.h): hooks with their
 * environment, health checks and analysis recorded as `check` records,
 * pauses (which watch the store for promote and abort records), and the
 * lock kept alive while they run. */
#include "deploy/effects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy/local.h"
#include "deploy/probe.h"
#include "deploy/ssh.h"

/* the variables of host I of E in CE: CDX_HOST (its address),
 * CDX_HOST_NAME, its variables, and the release paths as on the host */
static void host_env(const struct cdx_env *e, size_t i, const char *version, struct cdx_envv *ce)
{
	const struct cdx_host *h = &e->hosts[i];
	size_t k;
	cdx_envv_set(ce, "CDX_HOST", h->addr);
	cdx_envv_set(ce, "CDX_HOST_NAME", h->name);
	cdx_envv_set(ce, "CDX_DEPLOY_DIR", h->path);
	if (version) {
		char *rd = cdx_xasprintf("%s/releases/%s", h->path, version);
		cdx_envv_set(ce, "CDX_RELEASE_DIR", rd);
		free(rd);
	}
	for (k = 0; k < h->n_vars; k++)
		cdx_envv_set(ce, h->vars[k].key, h->vars[k].value);
}

/* the environment of a hook or check on target T */
static void hook_env(struct cdx_dctx *d, int t, const char *version, int weight, struct cdx_envv *ce)
{
	const struct cdx_env *e = d->e;
	const char *word = e->instances ? "INSTANCE" : "SLOT";
	size_t i, k;
	char buf[32];
	cdx_envv_from_environ(ce);
	for (i = 0; i < e->n_vars; i++)
		cdx_envv_set(ce, e->vars[i].key, e->vars[i].value);
	for (i = 0; i < e->n_targets; i++)
		for (k = 0; k < e->targets[i].n_vars; k++) {
			char *name = cdx_xasprintf("CDX_%s_%s_%s", word, e->targets[i].name, e->targets[i].vars[k].key);
			cdx_envv_set(ce, name, e->targets[i].vars[k].value);
			free(name);
		}
	cdx_envv_set(ce, "CDX_APP", e->app->name);
	cdx_envv_set(ce, "CDX_ENV", e->name);
	cdx_envv_set(ce, "CDX_VERSION", version ? version : "");
	cdx_envv_set(ce, "CDX_PREVIOUS_VERSION", d->previous ? d->previous : "");
	cdx_envv_set(ce, "CDX_DEPLOYMENT_ID", d->id);
	cdx_envv_set(ce, "CDX_STRATEGY", d->strategy ? d->strategy : cdx_strategy_name(e->strategy));
	cdx_envv_set(ce, "CDX_DEPLOY_DIR", e->deploy_to);
	if (version) {
		char *rd = cdx_local_release_dir(e, version);
		cdx_envv_set(ce, "CDX_RELEASE_DIR", rd);
		free(rd);
	}
	snprintf(buf, sizeof(buf), "%d", weight);
	cdx_envv_set(ce, "CDX_WEIGHT", buf);
	if (!e->instances && d->sv->active >= 0)
		cdx_envv_set(ce, "CDX_STABLE_SLOT", e->targets[d->sv->active].name);
	if (t >= 0) {
		cdx_envv_set(ce, e->instances ? "CDX_INSTANCE" : "CDX_SLOT", e->targets[t].name);
		for (k = 0; k < e->targets[t].n_vars; k++)
			cdx_envv_set(ce, e->targets[t].vars[k].key, e->targets[t].vars[k].value);
	}
	if (t >= 0 && cdx_env_hosts_are_targets(e))
		host_env(e, (size_t)t, version, ce);
	/* a hook that runs cdx again on this environment holds its lock already */
	if (d->token) {
		snprintf(buf, sizeof(buf), "%llu", d->token);
		cdx_envv_set(ce, "CDX_LOCK", d->lock);
		cdx_envv_set(ce, "CDX_LOCK_TOKEN", buf);
	}
}

/* keep the lock while a hook or analysis runs (a Redis lock has a TTL);
 * a lost lock is noticed here and the next record refuses to go on */
static void renew_tick(void *ctx)
{
	struct cdx_dctx *d = ctx;
	struct cdx_error err = {0};
	if (!d->lost &&
	    d->o->store->ops->renew(d->o->store, d->lock, d->token, CDX_LOCK_TTL_MS, &err) == CDX_RENEW_LOST)
		d->lost = true;
}

static int io_record(void *ctx, const struct cdx_serving *sv, const char *state, const char *msg)
{
	struct cdx_dctx *d = ctx;
	(void)sv;
	if (d->lost)
		return -1;
	cdx_dctx_controls(d, 0); /* an abort from another host */
	if (cdx_deploy_abort && strcmp(state, "rolling_back") != 0)
		return -1;
	if (cdx_deploy_cancel && strcmp(state, "rolling_back") != 0)
		return -1;
	return cdx_dctx_record(d, state, msg, NULL);
}

/* the owner of a command of D (runner.h): the deployment id, and for a
 * hook that starts or stops target T, "ID/T": recovery stops a target
 * whose such hooks it had to kill (recover.c) */
static void owner_of(const struct cdx_dctx *d, enum cdx_hook_id h, int t, char *buf, size_t n)
{
	if (t >= 0 && (h == CDX_HOOK_DEPLOY || h == CDX_HOOK_START || h == CDX_HOOK_STOP))
		snprintf(buf, n, "%s/%s", d->id, d->e->targets[t].name);
	else
		snprintf(buf, n, "%s", d->id);
}

/* ---- hooks on hosts (the SSH hook set) ------------------------------------------ */

/* whether the variable KV of a hook's environment goes to the host: the
 * deployment's CDX_* and the environment's, targets' and host's own
 * variables; nothing else of this machine's environment */
static bool remote_var(const struct cdx_env *e, size_t host, const char *kv)
{
	static const char *const ours[] = {"CDX_APP", "CDX_ENV", "CDX_VERSION", "CDX_PREVIOUS_VERSION",
					   "CDX_DEPLOYMENT_ID", "CDX_STRATEGY", "CDX_DEPLOY_DIR", "CDX_RELEASE_DIR",
					   "CDX_WEIGHT", "CDX_STABLE_SLOT", "CDX_SLOT", "CDX_INSTANCE", "CDX_HOST",
					   "CDX_HOST_NAME", "CDX_LOCK", "CDX_LOCK_TOKEN"};
	size_t i, l = strcspn(kv, "=");
	if (strncmp(kv, "CDX_", 4) == 0) {
		/* what the deployment says (hook_env), never the rest of cdx's own
		 * environment (CDX_STATE, the runner's marker, ...) */
		for (i = 0; i < CDX_ARRAY_LEN(ours); i++)
			if (strlen(ours[i]) == l && strncmp(ours[i], kv, l) == 0)
				return true;
		return strncmp(kv, "CDX_SLOT_", 9) == 0 || strncmp(kv, "CDX_INSTANCE_", 13) == 0;
	}
	for (i = 0; i < e->n_vars; i++)
		if (strlen(e->vars[i].key) == l && strncmp(e->vars[i].key, kv, l) == 0)
			return true;
	for (i = 0; i < e->n_targets; i++) {
		size_t k;
		for (k = 0; k < e->targets[i].n_vars; k++)
			if (strlen(e->targets[i].vars[k].key) == l && strncmp(e->targets[i].vars[k].key, kv, l) == 0)
				return true;
	}
	for (i = 0; i < e->hosts[host].n_vars; i++)
		if (strlen(e->hosts[host].vars[i].key) == l && strncmp(e->hosts[host].vars[i].key, kv, l) == 0)
			return true;
	return false;
}

static int hosts_open(struct cdx_dctx *d, struct cdx_error *err)
{
	struct cdx_ssh_run base = {0};
	if (d->ssh)
		return 0;
	base.cancel = &cdx_deploy_cancel;
	base.tick = renew_tick;
	base.tick_ctx = d;
	base.tick_ms = CDX_LOCK_TTL_MS / 3;
	base.owner = d->id;
	d->ssh = cdx_ssh_open(d->e, &base, d->dry, err);
	return d->ssh ? 0 : -1;
}

/* the releases of VERSION on the hosts of T's batch (rolling over hosts:
 * the instances from T to the end of its batch), or on every host (T -1: a
 * slot), made in parallel before they are installed one by one */
static void prefetch(struct cdx_dctx *d, int t, const char *version, const struct cdx_envv *ce)
{
	const struct cdx_env *e = d->e;
	bool *which = cdx_xcalloc(e->n_hosts ? e->n_hosts : 1, sizeof(bool));
	size_t i, b = (size_t)(e->batch > 0 ? e->batch : 1), n = 0;
	for (i = 0; i < e->n_hosts; i++) {
		if (t >= 0 && (i < (size_t)t || i / b != (size_t)t / b))
			continue;
		if (d->only && t >= 0 && !d->only[i])
			continue;
		which[i] = true;
		n++;
	}
	if (n > 1)
		cdx_ssh_prefetch(d->ssh, which, d->o->apps->dir, version, ce);
	free(which);
}

/* hook H of target T on its hosts: T's host when the hosts are the
 * instances, every host for a slot (or no target).  A deploy makes the
 * release first and then points `current` (instances) or slots/NAME
 * (slots) at it; a switch points `current` at it on every host; a stop
 * of a host's instance leaves it serving nothing. */
static int hook_hosts(struct cdx_dctx *d, enum cdx_hook_id h, int t, const char *version, struct cdx_envv *ce,
		      struct cdx_error *err)
{
	const struct cdx_env *e = d->e;
	const struct cdx_hook *hk = &e->hooks[h];
	bool per_host = cdx_env_hosts_are_targets(e);
	size_t i, lo = 0, hi = e->n_hosts, k;
	if (hosts_open(d, err) < 0)
		return -1;
	if (h == CDX_HOOK_DEPLOY && version && !d->dry && !(d->state && strcmp(d->state, "rolling_back") == 0))
		prefetch(d, per_host ? t : -1, version, ce);
	if (per_host && t >= 0) {
		lo = (size_t)t;
		hi = lo + 1;
	}
	for (i = lo; i < hi; i++) {
		struct cdx_envv he = {0};
		char *link = NULL;
		int status = 0, rc = 0;
		if (d->state && strcmp(d->state, "rolling_back") == 0 && cdx_ssh_untouched(d->ssh, i)) {
			/* never reached in this deployment: nothing changed there */
			fprintf(stderr, "cdx: host %s was never reached: it runs what it ran before\n",
				e->hosts[i].name);
			continue;
		}
		if (h == CDX_HOOK_DEPLOY && version &&
		    cdx_ssh_release(d->ssh, i, d->o->apps->dir, version, ce, err) < 0)
			return -1;
		if (hk->cmd) {
			for (k = 0; ce->v[k]; k++)
				if (remote_var(e, i, ce->v[k]))
					CDX_PUSH(he.v, he.n, he.cap, cdx_xstrdup(ce->v[k]));
			CDX_PUSH(he.v, he.n, he.cap, NULL);
			he.n--;
			host_env(e, i, version, &he);
			if (cdx_ssh_hook(d->ssh, i, hk->cmd, he.v, hk->timeout_ms, &status, err) < 0)
				rc = -1;
			else if (status != 0)
				rc = cdx_error_set(err, CDX_EFAILED, "%s hook on host %s%s%s failed: %s %d",
						   cdx_hook_name(h), e->hosts[i].name, t >= 0 && !per_host ? ", slot " : "",
						   t >= 0 && !per_host ? e->targets[t].name : "",
						   status == CDX_HOOK_TIMEDOUT ? "timed out, status" : "exit status", status);
			else if (hk->irreversible)
				d->sv->irreversible_done = true;
			cdx_envv_free(&he);
			if (rc)
				return -1;
		}
		if (h == CDX_HOOK_DEPLOY && version && t >= 0)
			link = per_host ? cdx_xstrdup("current") : cdx_xasprintf("slots/%s", e->targets[t].name);
		else if ((h == CDX_HOOK_SWITCH && version) || (h == CDX_HOOK_STOP && per_host && t >= 0))
			link = cdx_xstrdup("current");
		if (link) {
			rc = cdx_ssh_link(d->ssh, i, link, h == CDX_HOOK_STOP ? NULL : version, err);
			free(link);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

static int io_hook(void *ctx, enum cdx_hook_id h, int t, const char *version, int weight, struct cdx_error *err)
{
	struct cdx_dctx *d = ctx;
	const struct cdx_hook *hk = &d->e->hooks[h];
	struct cdx_envv ce;
	char owner[256];
	int status = 0, rc = 0;
	owner_of(d, h, t, owner, sizeof(owner));
	hook_env(d, t, version, weight, &ce);
	if (d->e->n_hosts) {
		rc = hook_hosts(d, h, t, version, &ce, err);
		cdx_envv_free(&ce);
		return rc;
	}
	if (h == CDX_HOOK_DEPLOY && version && cdx_local_release(d->e, d->o->apps->dir, version, &ce, err) < 0) {
		cdx_envv_free(&ce);
		return -1;
	}
	if (hk->cmd) {
		if (cdx_hook_run_tick(hk->cmd, ce.v, d->o->apps->dir, hk->timeout_ms, &cdx_deploy_cancel, NULL, 0,
				      &status, renew_tick, d, CDX_LOCK_TTL_MS / 3, owner, err) < 0) {
			rc = -1;
		} else if (status != 0) {
			rc = cdx_error_set(err, CDX_EFAILED, "%s hook%s%s failed: %s %d", cdx_hook_name(h),
					   t >= 0 ? " on " : "", t >= 0 ? d->e->targets[t].name : "",
					   status == CDX_HOOK_TIMEDOUT ? "timed out, status" : "exit status", status);
		} else if (hk->irreversible) {
			d->sv->irreversible_done = true;
		}
	}
	/* a link that cannot be made leaves ERR said, and the hook succeeded */
	if (rc == 0 && t >= 0 && version && h == CDX_HOOK_DEPLOY)
		cdx_local_target_link(d->e, t, version, err);
	if (rc == 0 && h == CDX_HOOK_SWITCH && version)
		cdx_local_current(d->e, version);
	cdx_envv_free(&ce);
	return rc;
}

static void record_check(struct cdx_dctx *d, int t, const struct cdx_check *ck, const struct cdx_probe_result *r)
{
	struct cdx_error err = {0};
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "check");
	cJSON_AddStringToObject(rec, "deployment", d->id);
	cJSON_AddStringToObject(rec, "app", d->e->app->name);
	cJSON_AddStringToObject(rec, "env", d->e->name);
	if (t >= 0)
		cJSON_AddStringToObject(rec, "target", d->e->targets[t].name);
	cJSON_AddStringToObject(rec, "kind", ck ? cdx_check_kind_name(ck->kind) : "analysis");
	cJSON_AddStringToObject(rec, "check", r->target ? r->target : "");
	cJSON_AddBoolToObject(rec, "ok", r->ok);
	cJSON_AddNumberToObject(rec, "attempts", r->attempts);
	cJSON_AddStringToObject(rec, "detail", r->detail);
	cJSON_AddNumberToObject(rec, "at_ms", (double)cdx_wall_ms());
	d->o->store->ops->append_fenced(d->o->store, d->lock, d->token, rec, &err);
	cJSON_Delete(rec);
}

static int io_health(void *ctx, int t, const char *version, struct cdx_error *err)
{
	struct cdx_dctx *d = ctx;
	struct cdx_envv ce;
	size_t i;
	int rc = 0;
	size_t hi, hosts = d->e->n_hosts && !cdx_env_hosts_are_targets(d->e) ? d->e->n_hosts : 0;
	/* a canary's checks see the share of traffic it has */
	hook_env(d, t, version, t >= 0 && t == d->sv->canary ? d->sv->weight : 0, &ce);
	/* a slot over hosts: checked on every host */
	for (hi = 0; hi < (hosts ? hosts : 1) && rc == 0; hi++) {
	if (hosts)
		host_env(d->e, hi, version, &ce);
	for (i = 0; i < d->e->n_checks && rc == 0; i++) {
		const struct cdx_check *ck = &d->e->checks[i];
		struct cdx_probe_result r;
		cdx_probe(ck, &ce, d->o->apps->dir, &cdx_deploy_cancel, d->id, &r);
		renew_tick(d);
		record_check(d, t, ck, &r);
		if (!r.ok)
			rc = cdx_error_set(err, CDX_EFAILED, "health check %s failed %d/%d on %s %s: %s", r.target,
					   r.attempts, ck->attempts, d->e->instances ? "instance" : "slot",
					   t >= 0 ? d->e->targets[t].name : "?", r.detail);
		free(r.target);
	}
	}
	cdx_envv_free(&ce);
	return rc;
}

static int io_analysis(void *ctx, int t, const char *version, int weight, struct cdx_error *err)
{
	struct cdx_dctx *d = ctx;
	struct cdx_envv ce;
	struct cdx_probe_result r = {0};
	char *out = NULL, *end;
	int status = 0, rc;
	double v;
	hook_env(d, t, version, weight, &ce);
	r.target = d->e->analysis_cmd;
	if (cdx_hook_run_tick(d->e->analysis_cmd, ce.v, d->o->apps->dir, 60000, &cdx_deploy_cancel, &out, 4096,
			      &status, renew_tick, d, CDX_LOCK_TTL_MS / 3, d->id, err) < 0) {
		cdx_envv_free(&ce);
		return CDX_ANALYSIS_FAIL;
	}
	cdx_envv_free(&ce);
	while (out[0] && strchr(" \t\r\n", out[strlen(out) - 1]))
		out[strlen(out) - 1] = '\0';
	if (status != 0) {
		snprintf(r.detail, sizeof(r.detail), "analysis command failed: exit status %d", status);
		rc = CDX_ANALYSIS_FAIL;
	} else if (!out[0]) {
		snprintf(r.detail, sizeof(r.detail), "no data");
		rc = CDX_ANALYSIS_NODATA;
	} else {
		v = strtod(out, &end);
		while (*end && strchr(" \t\r\n", *end))
			end++;
		if (end == out || *end) {
			snprintf(r.detail, sizeof(r.detail), "analysis printed '%.64s', not a number", out);
			rc = CDX_ANALYSIS_FAIL;
		} else if (d->e->has_max && v > d->e->analysis_max) {
			snprintf(r.detail, sizeof(r.detail), "analysis %g above max %g at %d%%", v, d->e->analysis_max,
				 weight);
			rc = CDX_ANALYSIS_FAIL;
		} else if (d->e->has_min && v < d->e->analysis_min) {
			snprintf(r.detail, sizeof(r.detail), "analysis %g below min %g at %d%%", v, d->e->analysis_min,
				 weight);
			rc = CDX_ANALYSIS_FAIL;
		} else {
			snprintf(r.detail, sizeof(r.detail), "analysis %g at %d%%", v, weight);
			rc = CDX_ANALYSIS_PASS;
		}
	}
	r.ok = rc == CDX_ANALYSIS_PASS;
	r.attempts = 1;
	/* recorded when the result changes: an analysis repeated while it
	 * gives no data (no_data: pause) is not a record a second */
	{
		char key[sizeof(d->last_analysis)];
		snprintf(key, sizeof(key), "%d %s", weight, r.detail);
		if (strcmp(key, d->last_analysis) != 0) {
			record_check(d, t, NULL, &r);
			memcpy(d->last_analysis, key, sizeof(key));
		}
	}
	if (rc != CDX_ANALYSIS_PASS)
		cdx_error_set(err, CDX_EFAILED, "%s", r.detail);
	free(out);
	return rc;
}

static int io_pause(void *ctx, int64_t ms)
{
	struct cdx_dctx *d = ctx;
	int64_t end = cdx_now_ns() / 1000000 + ms, renewed = cdx_now_ns() / 1000000;
	struct cdx_error err = {0};
	while (cdx_now_ns() / 1000000 < end) {
		struct timespec ts = {0, 50 * 1000000L};
		if (cdx_deploy_abort || cdx_deploy_cancel)
			return CDX_PAUSE_ABORT;
		if (cdx_deploy_promote) {
			cdx_deploy_promote = 0;
			return CDX_PAUSE_PROMOTE;
		}
		/* wait for a promote or abort record (from any host), or sleep */
		if (cdx_dctx_controls(d, 50) < 0)
			nanosleep(&ts, NULL);
		if (cdx_now_ns() / 1000000 - renewed >= CDX_LOCK_TTL_MS / 3) {
			renewed = cdx_now_ns() / 1000000;
			if (d->o->store->ops->renew(d->o->store, d->lock, d->token, CDX_LOCK_TTL_MS, &err) ==
			    CDX_RENEW_LOST) {
				d->lost = true;
				return CDX_PAUSE_ABORT;
			}
		}
	}
	return CDX_PAUSE_DONE;
}

static bool io_skip(void *ctx, int t)
{
	struct cdx_dctx *d = ctx;
	return d->only && t >= 0 && !d->only[t];
}

/* ---- a dry run ------------------------------------------------------------------- */

static int dry_record(void *ctx, const struct cdx_serving *sv, const char *state, const char *msg)
{
	struct cdx_dctx *d = ctx;
	(void)sv;
	fprintf(d->dry, "# %s: %s\n", state, msg);
	return 0;
}

static int dry_hook(void *ctx, enum cdx_hook_id h, int t, const char *version, int weight, struct cdx_error *err)
{
	struct cdx_dctx *d = ctx;
	struct cdx_envv ce;
	int rc;
	if (!d->e->n_hosts) {
		fprintf(d->dry, "# %s hook%s%s%s\n", cdx_hook_name(h), t >= 0 ? " on " : "",
			t >= 0 ? d->e->targets[t].name : "", d->e->hooks[h].cmd ? "" : " (none)");
		return 0;
	}
	hook_env(d, t, version, weight, &ce);
	rc = hook_hosts(d, h, t, version, &ce, err);
	cdx_envv_free(&ce);
	return rc;
}

static int dry_health(void *ctx, int t, const char *version, struct cdx_error *err)
{
	struct cdx_dctx *d = ctx;
	size_t i;
	(void)version;
	(void)err;
	for (i = 0; i < d->e->n_checks; i++)
		fprintf(d->dry, "# health check %s on %s\n", d->e->checks[i].target, t >= 0 ? d->e->targets[t].name : "?");
	return 0;
}

static int dry_analysis(void *ctx, int t, const char *version, int weight, struct cdx_error *err)
{
	(void)ctx;
	(void)t;
	(void)version;
	(void)weight;
	(void)err;
	return CDX_ANALYSIS_PASS;
}

static int dry_pause(void *ctx, int64_t ms)
{
	struct cdx_dctx *d = ctx;
	fprintf(d->dry, "# pause %lld ms\n", (long long)ms);
	return CDX_PAUSE_DONE;
}

void cdx_dctx_io_dry(struct cdx_dctx *d, struct cdx_strategy_io *io)
{
	io->ctx = d;
	io->record = dry_record;
	io->hook = dry_hook;
	io->health = dry_health;
	io->analysis = dry_analysis;
	io->pause = dry_pause;
	io->skip = io_skip;
}

void cdx_dctx_io(struct cdx_dctx *d, struct cdx_strategy_io *io)
{
	io->skip = io_skip;
	io->ctx = d;
	io->record = io_record;
	io->hook = io_hook;
	io->health = io_health;
	io->analysis = io_analysis;
	io->pause = io_pause;
}
