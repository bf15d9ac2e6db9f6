/* rollback.c — rollbacks (SEED.md's RollbackManager and handle_rollback).
 *
 * A rollback is a deployment of kind "rollback": it takes the environment's
 * lock, is recorded like a deployment (so the history and the crash trace
 * are the same), and runs one of the rollback kinds of strategy.c —
 * immediate (no pauses, no analysis), gradual (steps with health between)
 * or blue_green (switch to the warm slot, reinstalled first if cold).  Its
 * target is --to, the previous version of --deployment, or else the newest
 * version that succeeded here before the one serving now.
 *
 * Every rollback starts from a plan (make_plan): from, to, what happens to
 * each target, and the problems that refuse it; a dry run or a validation
 * stops there.  An interrupted deployment is recovered first (recover.c).
 * Files below this one: record, dctx, local, effects, recover and
 * deploy_query (the history); nothing in lib/deploy calls into this file.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/dctx.h"
#include "deploy/effects.h"
#include "deploy/local.h"
#include "deploy/record.h"
#include "deploy/recover.h"
#include "state/history.h"

/* ---- the plan --------------------------------------------------------------------- */

static bool served_ok(const cJSON *d)
{
	const char *state = str(d, "state");
	return state && (strcmp(state, "succeeded") == 0);
}

/* whether some slot or instance runs another version than VERSION */
static bool mixed(const struct cdx_serving *sv, const char *version)
{
	size_t i;
	for (i = 0; i < sv->n; i++)
		if (sv->installed[i] && strcmp(sv->installed[i], version) != 0)
			return true;
	return false;
}

static void problem(cJSON *plan, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(cJSON *plan, const char *fmt, ...)
{
	char buf[CDX_ERRMAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cJSON_AddItemToArray(cJSON_GetObjectItem(plan, "problems"), cJSON_CreateString(buf));
}

/* flags of the instances named in LIST ("a,b"), or NULL for all; problems
 * go into PLAN */
static bool *instance_subset(const struct cdx_env *e, const char *list, cJSON *plan)
{
	bool *only;
	char *copy, *tok, *save = NULL;
	if (!list)
		return NULL;
	only = cdx_xcalloc(e->n_targets ? e->n_targets : 1, sizeof(bool));
	if (!e->instances)
		problem(plan, "--instances applies to rolling environments; %s/%s has slots", e->app->name, e->name);
	copy = cdx_xstrdup(list);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < e->n_targets; i++)
			if (strcmp(e->targets[i].name, tok) == 0)
				break;
		if (i < e->n_targets)
			only[i] = true;
		else
			problem(plan, "unknown instance '%s' of %s/%s", tok, e->app->name, e->name);
	}
	free(copy);
	return only;
}

/* the plan of a rollback of E; *SV receives the state now, *LAST its last
 * transition; ONLY (may be NULL) the instance subset */
static cJSON *make_plan(struct cdx_orchestrator *o, const struct cdx_env *e, const struct cdx_rollback_options *opt,
			bool holding, struct cdx_serving *sv, cJSON **last, bool **only, enum cdx_rollback_kind *kind,
			struct cdx_error *err)
{
	cJSON *plan, *hist, *d, *targets;
	const char *target = opt->to, *current;
	bool held;
	int i;
	*only = NULL;
	if (cdx_env_replay(o, e, sv, last, err) < 0)
		return NULL;
	hist = cdx_deployments_list(o, e->app->name, e->name, 0, err);
	if (!hist)
		return NULL;
	current = sv->version;
	plan = cJSON_CreateObject();
	cJSON_AddStringToObject(plan, "app", e->app->name);
	cJSON_AddStringToObject(plan, "env", e->name);
	cJSON_AddArrayToObject(plan, "problems");
	*kind = e->rollback;
	if (opt->strategy && cdx_rollback_parse(opt->strategy, kind) < 0)
		problem(plan, "unknown rollback strategy '%s' (use immediate, gradual or blue_green)", opt->strategy);
	if (*kind == CDX_ROLLBACK_BLUE_GREEN && e->instances)
		problem(plan, "rollback strategy blue_green needs slots; %s/%s has instances", e->app->name, e->name);
	cJSON_AddStringToObject(plan, "strategy", cdx_rollback_name(*kind));
	if (opt->deployment) {
		cJSON_ArrayForEach(d, hist) if (strcmp(str(d, "id") ?: "", opt->deployment) == 0) break;
		if (!d)
			problem(plan, "no deployment %s of %s/%s", opt->deployment, e->app->name, e->name);
		else if (!target)
			target = str(d, "previous");
		if (d && !str(d, "previous") && !opt->to)
			problem(plan, "deployment %s was the first one of %s/%s: there is nothing before it", opt->deployment,
				e->app->name, e->name);
	}
	held = *last && cJSON_IsTrue(cJSON_GetObjectItem(*last, "hold"));
	if (!target && !opt->deployment && held) {
		/* a failed deployment left for a person: back to what served before it */
		d = cJSON_GetArrayItem(hist, cJSON_GetArraySize(hist) - 1);
		target = d ? str(d, "previous") : NULL;
	}
	if (!target && !opt->deployment) {
		/* the newest version that served well before this one, skipping
		 * versions that were rolled back or failed (no flip-flopping) */
		cJSON *bad = cJSON_CreateArray();
		cJSON_ArrayForEach(d, hist)
		{
			const char *state = str(d, "state") ?: "";
			if (strcmp(str(d, "kind") ?: "", "rollback") == 0 && served_ok(d) && str(d, "previous"))
				cJSON_AddItemToArray(bad, cJSON_CreateString(str(d, "previous")));
			else if (strcmp(str(d, "kind") ?: "", "deploy") == 0 && !served_ok(d) && strcmp(state, "pending"))
				cJSON_AddItemToArray(bad, cJSON_CreateString(str(d, "version") ?: ""));
		}
		for (i = cJSON_GetArraySize(hist) - 1; i >= 0 && !target; i--) {
			const cJSON *b;
			bool is_bad = false;
			d = cJSON_GetArrayItem(hist, i);
			cJSON_ArrayForEach(b, bad) if (strcmp(b->valuestring, str(d, "version") ?: "") == 0) is_bad = true;
			if (served_ok(d) && !is_bad && (!current || strcmp(str(d, "version") ?: "", current) != 0))
				target = str(d, "version");
		}
		cJSON_Delete(bad);
	}
	if (current)
		cJSON_AddStringToObject(plan, "from", current);
	else
		cJSON_AddNullToObject(plan, "from");
	if (target)
		cJSON_AddStringToObject(plan, "to", target);
	else
		cJSON_AddNullToObject(plan, "to");
	if (!target && !opt->deployment) {
		problem(plan, "nothing to roll back to: no earlier version succeeded in %s/%s", e->app->name, e->name);
	} else if (target) {
		bool deployed = false;
		cJSON_ArrayForEach(d, hist) if (served_ok(d) && strcmp(str(d, "version") ?: "", target) == 0) deployed =
			true;
		if (!cdx_version_valid(target))
			problem(plan, "version '%s' is invalid", target);
		else if (!deployed)
			problem(plan, "version %s was never deployed successfully to %s/%s", target, e->app->name, e->name);
		else if (!cdx_local_release_present(e, o->apps->dir, target))
			problem(plan, "release %s is gone from %s/releases and its artifact cannot be found to reinstall it",
				target, e->deploy_to);
		if (current && strcmp(current, target) == 0 && !opt->instances && !held &&
		    !(e->instances ? mixed(sv, target) : sv->canary >= 0))
			problem(plan, "%s already serves %s/%s", target, e->app->name, e->name);
	}
	/* a deployment frozen after an irreversible step */
	d = cJSON_GetArrayItem(hist, cJSON_GetArraySize(hist) - 1);
	if (*last && cJSON_IsTrue(cJSON_GetObjectItem(*last, "frozen"))) {
		cJSON_AddTrueToObject(plan, "irreversible");
		if (!opt->force)
			problem(plan,
				"deployment %s of %s failed after an irreversible step and is frozen: rolling back may not "
				"undo it (%s); check by hand, then use --force",
				str(*last, "deployment"), d ? str(d, "version") : "?", str(*last, "cause") ?: "");
	}
	if (!holding) {
		/* a plan made without the lock (a dry run) says who holds it */
		cJSON *holder = NULL;
		char lock[200];
		cdx_deploy_lock_name(lock, sizeof(lock), e->app->name, e->name);
		if (o->store->ops->holder(o->store, lock, &holder, err) == 0 && holder)
			problem(plan, "%s/%s is locked by %s of %s by %s@%s (pid %.0f)", e->app->name, e->name,
				str(holder, "kind") ?: "a deployment", str(holder, "version") ?: "?",
				str(holder, "user") ?: "?", str(holder, "host") ?: "?",
				cJSON_GetNumberValue(cJSON_GetObjectItem(holder, "pid")));
		else if (*last && !cdx_transition_final(*last))
			cJSON_AddStringToObject(plan, "note", "an interrupted deployment is recovered first");
		cJSON_Delete(holder);
	} else if (*last && !cdx_transition_final(*last)) {
		cJSON_AddStringToObject(plan, "note", "an interrupted deployment is recovered first");
	}
	*only = instance_subset(e, opt->instances, plan);
	targets = cJSON_AddArrayToObject(plan, "targets");
	if (target) {
		size_t t;
		int warm = -1;
		for (t = 0; t < sv->n && !e->instances; t++)
			if (sv->installed[t] && strcmp(sv->installed[t], target) == 0)
				warm = (int)t;
		for (t = 0; t < sv->n; t++) {
			cJSON *x = cJSON_CreateObject();
			const char *action;
			cJSON_AddStringToObject(x, "name", e->targets[t].name);
			if (sv->installed[t])
				cJSON_AddStringToObject(x, "version", sv->installed[t]);
			else
				cJSON_AddNullToObject(x, "version");
			if (e->instances)
				action = (*only && !(*only)[t]) ? "untouched"
					 : sv->installed[t] && strcmp(sv->installed[t], target) == 0 ? "already there"
												   : "restart with the target";
			else if (warm >= 0)
				action = (int)t == warm ? "takes all traffic (warm)" : "loses its traffic";
			else
				action = (int)t == (sv->active == 0 && sv->n > 1 ? 1 : 0) ? "reinstall, then takes all traffic"
											 : "loses its traffic";
			cJSON_AddStringToObject(x, "action", action);
			cJSON_AddItemToArray(targets, x);
		}
	}
	cJSON_AddBoolToObject(plan, "ok", cJSON_GetArraySize(cJSON_GetObjectItem(plan, "problems")) == 0);
	cJSON_AddBoolToObject(plan, "dry_run", opt->dry_run);
	cJSON_Delete(hist);
	return plan;
}

cJSON *cdx_rollback_plan(struct cdx_orchestrator *o, const char *app, const char *env,
			 const struct cdx_rollback_options *opt, struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	struct cdx_serving sv;
	cJSON *last = NULL, *plan;
	bool *only = NULL;
	enum cdx_rollback_kind kind;
	if (!e)
		return NULL;
	plan = make_plan(o, e, opt, false, &sv, &last, &only, &kind, err);
	cdx_serving_free(&sv);
	cJSON_Delete(last);
	free(only);
	return plan;
}

cJSON *cdx_rollback_validate(struct cdx_orchestrator *o, const char *app, const char *env,
			     const struct cdx_rollback_options *opt, struct cdx_error *err)
{
	cJSON *plan = cdx_rollback_plan(o, app, env, opt, err), *v;
	if (!plan)
		return NULL;
	v = cJSON_CreateObject();
	cJSON_AddItemToObject(v, "problems", cJSON_Duplicate(cJSON_GetObjectItem(plan, "problems"), 1));
	cJSON_AddBoolToObject(v, "ok", cJSON_GetArraySize(cJSON_GetObjectItem(v, "problems")) == 0);
	cJSON_AddItemToObject(v, "plan", plan);
	return v;
}

cJSON *cdx_rollback_history(struct cdx_orchestrator *o, const char *app, const char *env, struct cdx_error *err)
{
	if (app && env && !cdx_apps_find(o->apps, app, env, err))
		return NULL;
	return cdx_deployments_list(o, app, env, 0, err);
}

/* ---- cdx_rollback --------------------------------------------------------------------- */

int cdx_rollback(struct cdx_orchestrator *o, const char *app, const char *env, const struct cdx_rollback_options *opt,
		 cJSON **result, struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	struct cdx_serving sv;
	struct cdx_strategy_io io;
	struct cdx_dctx d;
	enum cdx_rollback_kind kind;
	cJSON *last = NULL, *plan, *p;
	bool *only = NULL, interrupted;
	char target[160], previous[160];
	int rc, status = CDX_EFAILED;
	size_t t;

	*result = NULL;
	if (!e)
		return CDX_EUSAGE;
	memset(&d, 0, sizeof(d));
	d.o = o;
	d.e = e;
	d.kind = "rollback";
	d.progress = opt->progress;
	cdx_run_id_new(d.id, sizeof(d.id));
	d.version = "?";
	if (!opt->dry_run) {
		rc = cdx_dctx_lock(&d, opt->wait_ms, err);
		if (rc)
			return rc;
	}
	plan = make_plan(o, e, opt, !opt->dry_run, &sv, &last, &only, &kind, err);
	if (!plan) {
		cdx_dctx_unlock(&d);
		return err->code ? err->code : CDX_ESTATE;
	}
	if (opt->dry_run || !cJSON_IsTrue(cJSON_GetObjectItem(plan, "ok"))) {
		p = cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "problems"), 0);
		if (p)
			cdx_error_set(err, CDX_EUSAGE, "cannot roll back %s/%s: %s", app, env, p->valuestring);
		*result = plan;
		plan = NULL;
		status = p ? CDX_EUSAGE : CDX_OK;
		goto out;
	}
	snprintf(target, sizeof(target), "%s", str(plan, "to"));
	snprintf(previous, sizeof(previous), "%s", str(plan, "from") ?: "");
	d.version = target;
	d.previous = previous[0] ? previous : NULL;
	d.strategy = cdx_rollback_name(kind);
	d.sv = &sv;
	d.start_ms = cdx_wall_ms();
	cdx_deploy_signals(true);
	if (last && !cdx_transition_final(last) && cdx_recover_env(&d, &sv, last, err) != 0) {
		status = CDX_EFAILED;
		goto out;
	}
	cdx_run_id_new(d.id, sizeof(d.id)); /* the recovery wrote under the interrupted id */
	if (cdx_deployment_begin(&d, cdx_rollback_name(kind), opt->reason, err) < 0 ||
	    cdx_dctx_record(&d, "pending", opt->reason ? opt->reason : "rollback requested", NULL) < 0) {
		status = err->code ? err->code : CDX_ESTATE;
		goto out;
	}
	cdx_dctx_io(&d, &io);
	rc = cdx_rollback_run(e, kind, &sv, target, only, &io, err);
	/* slots a failed deployment left installed beside the target stop */
	for (t = 0; rc == 0 && !e->instances && t < sv.n; t++) {
		char msg[200];
		if ((int)t == sv.active || !sv.installed[t] || strcmp(sv.installed[t], target) == 0 ||
		    !(last && cJSON_IsTrue(cJSON_GetObjectItem(last, "hold"))))
			continue;
		snprintf(msg, sizeof(msg), "stop slot %s (%s, left by the failed deployment)", e->targets[t].name,
			 sv.installed[t]);
		if (cdx_dctx_record(&d, "rolling_back", msg, NULL) < 0 ||
		    cdx_strategy_stop(&sv, (int)t, &io, err) != 0)
			rc = -1;
	}
	if (rc == 0) {
		/* validate afterwards: the health of what now serves */
		cdx_dctx_record(&d, "verifying", "health of what serves now", NULL);
		for (t = 0; t < sv.n && rc == 0; t++) {
			if (!sv.installed[t] || (!e->instances && (int)t != sv.active) || (only && !only[t]))
				continue;
			rc = io.health(io.ctx, (int)t, sv.installed[t], err);
		}
	}
	interrupted = cdx_deploy_cancel;
	if (rc == 0) {
		cdx_local_current(e, sv.version);
		cdx_dctx_record(&d, "succeeded", sv.version ? sv.version : target, NULL);
		status = CDX_OK;
	} else {
		char why[CDX_ERRMAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		cdx_dctx_record_hold(&d, "rollback_failed", "a person is needed", why, true);
		cdx_error_set(err, CDX_EFAILED, "rollback of %s/%s to %s failed: %s", app, env, target, why);
		status = interrupted ? CDX_EINTR : CDX_EFAILED;
	}
	*result = plan;
	plan = NULL;
	cJSON_AddStringToObject(*result, "id", d.id);
	cJSON_AddStringToObject(*result, "state", status == CDX_OK ? "succeeded" : "rollback_failed");
	cJSON_AddNumberToObject(*result, "duration_ms", (double)(cdx_wall_ms() - d.start_ms));
	if (sv.version)
		cJSON_AddStringToObject(*result, "serving", sv.version);
	else
		cJSON_AddNullToObject(*result, "serving");
out:
	cdx_deploy_signals(false);
	cdx_dctx_unlock(&d);
	cJSON_Delete(plan);
	cJSON_Delete(last);
	cdx_serving_free(&sv);
	free(only);
	return status;
}

cJSON *cdx_handle_rollback(struct cdx_orchestrator *o, const char *deployment_id, const char *strategy,
			   struct cdx_error *err)
{
	struct cdx_rollback_options opt = {0};
	cJSON *dep = cdx_deployment_find(o, deployment_id, err), *res = NULL, *out;
	int rc;
	if (!dep) {
		if (!err->code)
			cdx_error_set(err, CDX_EUSAGE, "no deployment %s", deployment_id);
		return NULL;
	}
	opt.strategy = strategy;
	opt.deployment = deployment_id;
	rc = cdx_rollback(o, str(dep, "app"), str(dep, "env"), &opt, &res, err);
	out = res ? res : cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "status", rc);
	if (rc)
		cJSON_AddStringToObject(out, "error", err->msg);
	cJSON_Delete(dep);
	return out;
}
