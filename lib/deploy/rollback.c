/* rollback.c — rollbacks (SEED.md's RollbackManager and handle_rollback).
 *
 * A rollback is a deployment of kind "rollback": it takes the environment's
 * lock, is recorded like a deployment (so the history and the crash trace
 * are the same), and runs one of the rollback kinds of strategy.c —
 * immediate (no pauses, no analysis), gradual (steps with health between)
 * or blue_green (switch to the warm slot, reinstalled first if cold).  Its
 * target is --to, the previous version of --deployment, or else the newest
 * good release (record.h's cdx_release_outcomes) other than the one serving
 * now.  A rollback between slots leaves the slot that lost the traffic to
 * the same scale-down as a deployment (its result's scale_down).
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
#include "base/util.h"

/* ---- the plan --------------------------------------------------------------------- */

static bool served_ok(const cJSON *d)
{
	const char *state = cdx_jsn(d, "state");
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

/* a new plan of a rollback of E: app, env, problems, strategy; *KIND the
 * rollback kind in effect */
static cJSON *plan_new(const struct cdx_env *e, const struct cdx_rollback_options *opt, enum cdx_rollback_kind *kind)
{
	cJSON *plan = cJSON_CreateObject();
	cJSON_AddStringToObject(plan, "app", e->app->name);
	cJSON_AddStringToObject(plan, "env", e->name);
	cJSON_AddArrayToObject(plan, "problems");
	*kind = e->rollback;
	if (opt->strategy && cdx_rollback_parse(opt->strategy, kind) < 0)
		problem(plan, "unknown rollback strategy '%s' (use immediate, gradual or blue_green)", opt->strategy);
	if (*kind == CDX_ROLLBACK_BLUE_GREEN && e->instances)
		problem(plan, "rollback strategy blue_green needs slots; %s/%s has instances", e->app->name, e->name);
	cJSON_AddStringToObject(plan, "strategy", cdx_rollback_name(*kind));
	return plan;
}

/* whether VERSION is good on every host of E that the rollback touches
 * (ONLY: those flagged, or all): a `host` record says so (history's
 * "hosts", dctx.h); true for an environment without host records */
static bool good_on_hosts(const cJSON *hist, const struct cdx_env *e, const bool *only, const char *version)
{
	const cJSON *d;
	bool any = false;
	size_t i;
	cJSON_ArrayForEach(d, hist) if (cJSON_GetObjectItem(d, "hosts")) any = true;
	if (!e->n_hosts || !any)
		return true;
	for (i = 0; i < e->n_hosts; i++) {
		bool good = false;
		if (only && cdx_env_hosts_are_targets(e) && !only[i])
			continue;
		cJSON_ArrayForEach(d, hist)
		{
			const cJSON *h = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "hosts"), e->hosts[i].name);
			if (h && cdx_record_str_eq(h, "version", version) && cdx_record_str_eq(h, "outcome", "good"))
				good = true;
		}
		if (!good)
			return false;
	}
	return true;
}

/* the newest good release in HIST (cdx_release_outcomes, record.h) that is
 * not CURRENT and, with hosts, good on every host it touches (ONLY):
 * versions rolled back from, failed or interrupted are not good (no
 * flip-flopping); NULL: none.  Points into HIST. */
static const char *newest_good(const cJSON *hist, const struct cdx_env *e, const bool *only, const char *current)
{
	cJSON *outcomes = cdx_release_outcomes(hist);
	const char *target = NULL, *v;
	const cJSON *d;
	int i;
	for (i = cJSON_GetArraySize(outcomes) - 1; i >= 0 && !target; i--) {
		const cJSON *x = cJSON_GetArrayItem(outcomes, i);
		if (cdx_record_str_eq(x, "outcome", "good") && (!current || !cdx_record_str_eq(x, "version", current)) &&
		    good_on_hosts(hist, e, only, cdx_js(x, "version")))
			target = cdx_jsn(x, "version");
	}
	/* the version is a string of OUTCOMES: find the same one in HIST */
	v = target;
	target = NULL;
	cJSON_ArrayForEach(d, hist) if (v && cdx_record_str_eq(d, "version", v)) target = cdx_jsn(d, "version");
	cJSON_Delete(outcomes);
	return target;
}

/* the version to roll back to: --to, the version before --deployment, the
 * one before a failed deployment HELD for a person, or else newest_good;
 * NULL: none.  Points into HIST or OPT; problems go into PLAN. */
static const char *choose_target(const cJSON *hist, const struct cdx_env *e, const struct cdx_rollback_options *opt,
				 bool held, const char *current, const bool *only, cJSON *plan)
{
	const char *target = opt->to;
	const cJSON *d;
	if (opt->deployment) {
		cJSON_ArrayForEach(d, hist) if (strcmp(cdx_js(d, "id"), opt->deployment) == 0) break;
		if (!d)
			problem(plan, "no deployment %s of %s/%s", opt->deployment, e->app->name, e->name);
		else if (!target)
			target = cdx_jsn(d, "previous");
		if (d && !cdx_jsn(d, "previous") && !opt->to)
			problem(plan, "deployment %s was the first one of %s/%s: there is nothing before it", opt->deployment,
				e->app->name, e->name);
	}
	if (!target && !opt->deployment && held) {
		/* a failed deployment left for a person: back to what served before it */
		d = cJSON_GetArrayItem(hist, cJSON_GetArraySize(hist) - 1);
		target = d ? cdx_jsn(d, "previous") : NULL;
	}
	if (!target && !opt->deployment)
		target = newest_good(hist, e, only, current);
	return target;
}

/* the problems of rolling E from SV to TARGET, into PLAN */
static void check_target(struct cdx_orchestrator *o, const struct cdx_env *e, const struct cdx_rollback_options *opt,
			 const struct cdx_serving *sv, const cJSON *hist, const char *target, bool held, cJSON *plan)
{
	const char *current = sv->version;
	bool deployed = false;
	const cJSON *d;
	if (!target) {
		d = cJSON_GetArrayItem(hist, cJSON_GetArraySize(hist) - 1);
		if (opt->deployment)
			;
		else if (d && cdx_record_str_eq(d, "kind", "rollback") && served_ok(d) && cdx_jsn(d, "previous"))
			/* the one candidate is the version the last rollback left */
			problem(plan,
				"refusing to roll back again: %s -> %s -> %s would flip back to %s, the version just "
				"rolled back from; use --to VERSION",
				cdx_jsn(d, "version"), cdx_jsn(d, "previous"), cdx_jsn(d, "version"), cdx_jsn(d, "previous"));
		else
			problem(plan, "nothing to roll back to: no earlier version succeeded in %s/%s", e->app->name,
				e->name);
		return;
	}
	cJSON_ArrayForEach(d, hist) if (served_ok(d) && strcmp(cdx_js(d, "version"), target) == 0) deployed = true;
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

/* a deployment frozen after an irreversible step (LAST says so) is rolled
 * back only with --force */
static void check_frozen(const cJSON *hist, const cJSON *last, const struct cdx_rollback_options *opt, cJSON *plan)
{
	const cJSON *d = cJSON_GetArrayItem(hist, cJSON_GetArraySize(hist) - 1);
	if (!last || !cdx_jb(last, "frozen", false))
		return;
	cJSON_AddTrueToObject(plan, "irreversible");
	if (!opt->force)
		problem(plan,
			"deployment %s of %s failed after an irreversible step and is frozen: rolling back may not "
			"undo it (%s); check by hand, then use --force",
			cdx_jsn(last, "deployment"), d ? cdx_jsn(d, "version") : "?", cdx_js(last, "cause"));
}

/* a plan made without the lock (a dry run, HOLDING false) says who holds
 * it; an interrupted deployment (LAST not final) is noted */
static void check_lock(struct cdx_orchestrator *o, const struct cdx_env *e, bool holding, const cJSON *last,
		       cJSON *plan, struct cdx_error *err)
{
	cJSON *holder = NULL;
	char lock[200];
	if (!holding) {
		cdx_deploy_lock_name(lock, sizeof(lock), e->app->name, e->name);
		if (o->store->ops->holder(o->store, lock, &holder, err) == 0 && holder) {
			problem(plan, "%s/%s is locked by %s of %s by %s@%s (pid %.0f)", e->app->name, e->name,
				cdx_jsn(holder, "kind") ?: "a deployment", cdx_jsn(holder, "version") ?: "?",
				cdx_jsn(holder, "user") ?: "?", cdx_jsn(holder, "host") ?: "?",
				cdx_jn(holder, "pid"));
			cJSON_Delete(holder);
			return;
		}
		cJSON_Delete(holder);
	}
	if (last && !cdx_transition_final(last))
		cJSON_AddStringToObject(plan, "note", "an interrupted deployment is recovered first");
}

/* what happens to each slot or instance of E (from SV, to TARGET; ONLY the
 * instance subset or NULL), as PLAN's "targets" */
static void plan_targets(const struct cdx_env *e, const struct cdx_serving *sv, const char *target, const bool *only,
			 cJSON *plan)
{
	cJSON *targets = cJSON_AddArrayToObject(plan, "targets");
	size_t t;
	int warm = -1;
	if (!target)
		return;
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
			action = (only && !only[t])						     ? "untouched"
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

/* the plan of a rollback of E; *SV receives the state now (always
 * initialised), *LAST its last transition, *ONLY (may be NULL) the
 * instance subset, *KIND the rollback kind; the caller frees all four.
 * HOLDING: the caller holds the lock.  NULL with ERR when the store cannot
 * be read. */
static cJSON *make_plan(struct cdx_orchestrator *o, const struct cdx_env *e, const struct cdx_rollback_options *opt,
			bool holding, struct cdx_serving *sv, cJSON **last, bool **only, enum cdx_rollback_kind *kind,
			struct cdx_error *err)
{
	cJSON *plan, *hist;
	const char *target;
	bool held;
	*only = NULL;
	if (cdx_env_replay(o, e, sv, last, err) < 0)
		return NULL;
	hist = cdx_deployments_list(o, e->app->name, e->name, 0, err);
	if (!hist)
		return NULL;
	plan = plan_new(e, opt, kind);
	held = *last && cdx_jb(*last, "hold", false);
	*only = instance_subset(e, opt->instances, plan);
	target = choose_target(hist, e, opt, held, sv->version, *only, plan);
	if (sv->version)
		cJSON_AddStringToObject(plan, "from", sv->version);
	else
		cJSON_AddNullToObject(plan, "from");
	if (target)
		cJSON_AddStringToObject(plan, "to", target);
	else
		cJSON_AddNullToObject(plan, "to");
	check_target(o, e, opt, sv, hist, target, held, plan);
	check_frozen(hist, *last, opt, plan);
	check_lock(o, e, holding, *last, plan, err);
	plan_targets(e, sv, target, *only, plan);
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

/* slots that a failed deployment held for a person (LAST) left installed
 * beside TARGET stop; 0, or -1 with ERR */
static int stop_leftovers(struct cdx_dctx *d, const cJSON *last, const char *target,
			  const struct cdx_strategy_io *io, struct cdx_error *err)
{
	struct cdx_serving *sv = d->sv;
	size_t t;
	if (d->e->instances || !(last && cdx_jb(last, "hold", false)))
		return 0;
	for (t = 0; t < sv->n; t++) {
		char msg[200];
		if ((int)t == sv->active || !sv->installed[t] || strcmp(sv->installed[t], target) == 0)
			continue;
		snprintf(msg, sizeof(msg), "stop slot %s (%s, left by the failed deployment)", d->e->targets[t].name,
			 sv->installed[t]);
		if (cdx_dctx_record(d, "rolling_back", msg, NULL) < 0 || cdx_strategy_stop(sv, (int)t, io, err) != 0)
			return -1;
	}
	return 0;
}

/* validate afterwards: the health of what now serves (of ONLY, when not
 * NULL); 0, or non-zero with ERR */
static int verify(struct cdx_dctx *d, const bool *only, const struct cdx_strategy_io *io, struct cdx_error *err)
{
	const struct cdx_serving *sv = d->sv;
	size_t t;
	int rc = 0;
	cdx_dctx_record(d, "verifying", "health of what serves now", NULL);
	for (t = 0; t < sv->n && rc == 0; t++) {
		if (!sv->installed[t] || (!d->e->instances && (int)t != sv->active) || (only && !only[t]))
			continue;
		rc = io->health(io->ctx, (int)t, sv->installed[t], err);
	}
	return rc;
}

/* D holds the lock and has begun: roll back to D->version with KIND, stop
 * what a held failed deployment (LAST) left, verify, record the end */
static int roll_back(struct cdx_dctx *d, enum cdx_rollback_kind kind, const cJSON *last, const bool *only,
		     struct cdx_error *err)
{
	struct cdx_strategy_io io;
	bool interrupted;
	int rc;
	cdx_dctx_io(d, &io);
	rc = cdx_rollback_run(d->e, kind, d->sv, d->version, only, &io, err);
	if (rc == 0)
		rc = stop_leftovers(d, last, d->version, &io, err);
	if (rc == 0)
		rc = verify(d, only, &io, err);
	interrupted = cdx_deploy_cancel;
	if (rc == 0) {
		cdx_local_current(d->e, d->sv->version);
		cdx_dctx_record(d, "succeeded", d->sv->version ? d->sv->version : d->version, NULL);
		cdx_dctx_record_hosts(d, d->version, "good");
		return CDX_OK;
	} else {
		char why[CDX_ERRMAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		cdx_dctx_record_hold(d, "rollback_failed", "a person is needed", why, true);
		cdx_error_set(err, CDX_EFAILED, "rollback of %s/%s to %s failed: %s", d->e->app->name, d->e->name,
			      d->version, why);
		return interrupted ? CDX_EINTR : CDX_EFAILED;
	}
}

/* a dry run, or a plan with problems: PLAN is the result; the status */
static int refuse_or_preview(const struct cdx_env *e, cJSON *plan, cJSON **result, struct cdx_error *err)
{
	const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "problems"), 0);
	if (p)
		cdx_error_set(err, CDX_EUSAGE, "cannot roll back %s/%s: %s", e->app->name, e->name, p->valuestring);
	*result = plan;
	return p ? CDX_EUSAGE : CDX_OK;
}

/* PLAN (owned) made for D (D->sv what serves, LAST its last transition):
 * previewed, refused, or carried out: recover first, begin, roll back */
static int carry_out(struct cdx_dctx *d, const struct cdx_rollback_options *opt, enum cdx_rollback_kind kind,
		     cJSON *plan, const cJSON *last, const bool *only, cJSON **result, struct cdx_error *err)
{
	char target[160], previous[160], was_version[160];
	int status, was;
	if (opt->dry_run || !cdx_jb(plan, "ok", false)) {
		status = refuse_or_preview(d->e, plan, result, err);
		cdx_deploy_signals(false);
		return status;
	}
	snprintf(target, sizeof(target), "%s", cdx_jsn(plan, "to"));
	snprintf(previous, sizeof(previous), "%s", cdx_js(plan, "from"));
	d->version = target;
	d->previous = previous[0] ? previous : NULL;
	d->strategy = cdx_rollback_name(kind);
	d->start_ms = cdx_wall_ms();
	cdx_deploy_signals(true);
	if (last && !cdx_transition_final(last) && cdx_recover_env(d, d->sv, last, err) != 0) {
		status = CDX_EFAILED;
		goto out;
	}
	cdx_run_id_new(d->id, sizeof(d->id)); /* the recovery wrote under the interrupted id */
	if (cdx_deployment_begin(d, cdx_rollback_name(kind), opt->reason, err) < 0) {
		status = err->code;
		goto out;
	}
	if (cdx_dctx_record(d, "pending", opt->reason ? opt->reason : "rollback requested", NULL) < 0) {
		/* said on stderr; ERR gets the kind too */
		status = CDX_ESTATE;
		cdx_error_set(err, status, "cannot record rollback %s", d->id);
		goto out;
	}
	was = d->sv->active;
	snprintf(was_version, sizeof(was_version), "%s", was >= 0 && d->sv->installed[was] ? d->sv->installed[was] : "");
	status = roll_back(d, kind, last, only, err);
	*result = plan;
	plan = NULL;
	cJSON_AddStringToObject(*result, "id", d->id);
	cJSON_AddStringToObject(*result, "state", status == CDX_OK ? "succeeded" : "rollback_failed");
	/* the slot that lost the traffic is scaled down like after a deployment */
	if (status == CDX_OK && !d->e->instances && was >= 0 && was != d->sv->active && was != d->sv->canary &&
	    was_version[0] && d->sv->installed[was] && strcmp(d->sv->installed[was], was_version) == 0) {
		cJSON *sd = cJSON_AddObjectToObject(*result, "scale_down");
		cJSON_AddStringToObject(sd, "slot", d->e->targets[was].name);
		cJSON_AddStringToObject(sd, "version", was_version);
		cJSON_AddNumberToObject(sd, "delay_ms", (double)d->e->scale_down_delay_ms);
	}
	cJSON_AddNumberToObject(*result, "duration_ms", (double)(cdx_wall_ms() - d->start_ms));
	if (d->sv->version)
		cJSON_AddStringToObject(*result, "serving", d->sv->version);
	else
		cJSON_AddNullToObject(*result, "serving");
out:
	cJSON_Delete(plan);
	cdx_deploy_signals(false);
	d->version = "?"; /* the buffers end here */
	d->previous = NULL;
	return status;
}

int cdx_rollback(struct cdx_orchestrator *o, const char *app, const char *env, const struct cdx_rollback_options *opt,
		 cJSON **result, struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	struct cdx_serving sv;
	struct cdx_dctx d;
	enum cdx_rollback_kind kind;
	cJSON *last = NULL, *plan;
	bool *only = NULL;
	int status;

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
	d.sv = &sv;
	if (!opt->dry_run) {
		status = cdx_dctx_lock(&d, opt->wait_ms, err);
		if (status)
			return status;
	}
	plan = make_plan(o, e, opt, !opt->dry_run, &sv, &last, &only, &kind, err);
	if (plan)
		status = carry_out(&d, opt, kind, plan, last, only, result, err);
	else
		status = err->code;
	cdx_dctx_unlock(&d);
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
	if (!dep)
		return NULL;
	opt.strategy = strategy;
	opt.deployment = deployment_id;
	rc = cdx_rollback(o, cdx_jsn(dep, "app"), cdx_jsn(dep, "env"), &opt, &res, err);
	out = res ? res : cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "status", rc);
	if (rc)
		cJSON_AddStringToObject(out, "error", err->msg);
	cJSON_Delete(dep);
	return out;
}
