/* effects.c — the io table of a strategy run (effects.h): hooks with their
 * environment (on hosts: effects_hosts.c), health checks and analysis
 * recorded as `check` records, pauses (which watch the store for promote
 * and abort records), the lock kept alive while they run, and the io
 * table of a dry run. */
#include "deploy/effects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy/local.h"
#include "deploy/probe.h"
#include "deploy/effects_hosts.h"

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
		cdx_host_env(e, (size_t)t, version, ce);
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
		rc = cdx_hosts_hook(d, h, t, version, &ce, renew_tick, err);
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
		cdx_host_env(d->e, hi, version, &ce);
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
	rc = cdx_hosts_hook(d, h, t, version, &ce, renew_tick, err);
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
