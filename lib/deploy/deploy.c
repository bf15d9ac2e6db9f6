/* deploy.c — the deployment orchestrator (SEED.md's DeploymentOrchestrator,
 * Deployment and Environment).
 *
 * A deployment is a sequence of records in the store: a `deployment`
 * record, then a `transition` before every action (pending, deploying,
 * verifying, promoting, then succeeded — or failed, rolling_back,
 * rolled_back | rollback_failed), each flushed with the environment's lock
 * token before the action it announces, so a crash leaves an exact trace.
 * Every transition carries a snapshot of what runs where (`serving`), and
 * the current state of an environment is the snapshot of its last
 * transition: no other state exists, on disk or in Redis.
 *
 * cdx_deploy goes in named steps: check the request (environment, version,
 * strategy, protection, the required pipeline run), take the lock, settle
 * what serves now (an interrupted deployment is recovered first), begin,
 * run the strategy, then record success — or the failure and, unless the
 * deployment is frozen or left for a person, the strategy's revert.
 *
 * The strategies (strategies/) only sequence; their effects are in
 * effects.c (hooks, checks, analysis, pauses), the built-in local hook set
 * in local.c, the records in dctx.c and record.c, recovery in recover.c.
 * Files below this one: record, dctx, local, effects, recover (lib/deploy)
 * and the strategies; nothing in lib/deploy calls into this file.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "deploy/dctx.h"
#include "deploy/effects.h"
#include "deploy/local.h"
#include "deploy/record.h"
#include "deploy/recover.h"
#include "deploy/ssh.h"
#include "base/util.h"

/* ---- orchestrator ---------------------------------------------------------- */

int cdx_orchestrator_open(const char *config, const char *state, struct cdx_orchestrator **out,
			  struct cdx_error *err)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_orchestrator *o;
	*out = NULL;
	o = cdx_xcalloc(1, sizeof(*o));
	o->pr = cdx_project_load(config ? config : "cdx.yml", d);
	if (!o->pr) {
		const struct cdx_diag *g = cdx_diags_count(d) ? cdx_diags_get(d, 0) : NULL;
		if (g && g->line)
			cdx_error_set(err, CDX_EUSAGE, "%s:%d:%d: %s", g->file, g->line, g->col, g->msg);
		else
			cdx_error_set(err, CDX_EUSAGE, "%s", g ? g->msg : "cannot load the project file");
		cdx_diags_free(d);
		free(o);
		return -1;
	}
	cdx_diags_free(d);
	o->apps = cdx_project_apps(o->pr);
	if (cdx_store_open(state ? state : cdx_project_state(o->pr), &o->store, err) < 0) {
		cdx_project_free(o->pr);
		free(o);
		return -1;
	}
	cdx_who(o->user, sizeof(o->user), o->host, sizeof(o->host));
	*out = o;
	return 0;
}

void cdx_orchestrator_free(struct cdx_orchestrator *o)
{
	if (!o)
		return;
	cdx_store_close(o->store);
	cdx_project_free(o->pr);
	free(o);
}

/* ---- gates ---------------------------------------------------------------------------- */

struct requires_ctx {
	const char *pipeline, *version;
	struct cdx_map runs; /* ids of runs of that pipeline for that version */
	cJSON *ids;          /* owns the ids the map borrows */
	bool ok;
};

static int requires_one(void *ctx, const cJSON *rec)
{
	struct requires_ctx *c = ctx;
	const char *id = cdx_jsn(rec, "id");
	size_t v;
	if (!id)
		return 0;
	if (cdx_record_is(rec, "run") && cdx_record_str_eq(rec, "pipeline", c->pipeline) &&
	    cdx_record_str_eq(rec, "version", c->version)) {
		cJSON *kept = cJSON_CreateString(id);
		cJSON_AddItemToArray(c->ids, kept);
		cdx_map_set(&c->runs, kept->valuestring, 1);
	} else if (cdx_record_is(rec, "run_end") && cdx_record_str_eq(rec, "status", "success") &&
		   cdx_map_get(&c->runs, id, &v) == 1) {
		c->ok = true;
	}
	return 0;
}

static int check_requires(struct cdx_orchestrator *o, const struct cdx_env *e, const char *version,
			  struct cdx_error *err)
{
	struct requires_ctx c = {e->requires_pipeline, version, {0}, NULL, false};
	int rc;
	if (!e->requires_pipeline)
		return 0;
	c.ids = cJSON_CreateArray();
	rc = o->store->ops->scan(o->store, requires_one, &c, err);
	cdx_map_free(&c.runs);
	cJSON_Delete(c.ids);
	if (rc < 0)
		return -1;
	if (!c.ok)
		return cdx_error_set(err, CDX_EUSAGE,
				     "%s/%s requires a successful run of pipeline '%s' for version %s, and there is none "
				     "(cdx run PIPELINE --var VERSION=%s, or make PIPELINE VERSION=%s)",
				     e->app->name, e->name, e->requires_pipeline, version, version, version);
	return 0;
}

/* whether VERSION of APP may go to ENV as OPT asks: 0 with *E and *KIND, or
 * the status with ERR (nothing is locked or recorded) */
static int check_request(struct cdx_orchestrator *o, const char *app, const char *env, const char *version,
			 const struct cdx_deploy_options *opt, const struct cdx_env **e,
			 enum cdx_strategy_kind *kind, struct cdx_error *err)
{
	*e = cdx_apps_find(o->apps, app, env, err);
	if (!*e)
		return CDX_EUSAGE;
	if (!cdx_version_valid(version)) {
		cdx_error_set(err, CDX_EUSAGE,
			      "version '%s' is invalid: use 1 to 128 characters from A-Z a-z 0-9 _ . + -, not starting "
			      "with . or -",
			      version);
		return CDX_EUSAGE;
	}
	*kind = (*e)->strategy;
	if (opt->strategy && cdx_strategy_parse(opt->strategy, kind) < 0) {
		cdx_error_set(err, CDX_EUSAGE, "unknown strategy '%s' (use blue_green, canary or rolling)",
			      opt->strategy);
		return CDX_EUSAGE;
	}
	if ((*kind == CDX_STRATEGY_ROLLING) != (*e)->instances) {
		cdx_error_set(err, CDX_EUSAGE, "strategy %s cannot deploy %s/%s, which has %s", cdx_strategy_name(*kind),
			      app, env, (*e)->instances ? "instances" : "slots");
		return CDX_EUSAGE;
	}
	if ((*e)->protected && !opt->confirmed) {
		cdx_error_set(err, CDX_EUSAGE, "%s/%s is protected: confirm with --yes or CDX_CONFIRM=1", app, env);
		return CDX_EUSAGE;
	}
	if (check_requires(o, *e, version, err) < 0)
		return err->code;
	return 0;
}

/* ---- results and events ------------------------------------------------------------------ */

static cJSON *result_json(const struct cdx_dctx *d, const char *state, const char *cause)
{
	cJSON *o = cJSON_CreateObject();
	cdx_dctx_describe(d, o);
	cJSON_AddStringToObject(o, "state", state);
	if (cause)
		cJSON_AddStringToObject(o, "cause", cause);
	if (d->sv->version)
		cJSON_AddStringToObject(o, "serving", d->sv->version);
	else
		cJSON_AddNullToObject(o, "serving");
	cJSON_AddNumberToObject(o, "duration_ms", (double)(cdx_wall_ms() - d->start_ms));
	return o;
}

static void raise_event(struct cdx_dctx *d, const char *kind, const char *cause)
{
	struct cdx_error err = {0};
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "t", "event");
	cJSON_AddStringToObject(ev, "kind", kind);
	cJSON_AddStringToObject(ev, "deployment", d->id);
	cJSON_AddStringToObject(ev, "app", d->e->app->name);
	cJSON_AddStringToObject(ev, "env", d->e->name);
	cJSON_AddStringToObject(ev, "version", d->version);
	if (cause)
		cJSON_AddStringToObject(ev, "cause", cause);
	cJSON_AddNumberToObject(ev, "at_ms", (double)cdx_wall_ms());
	d->o->store->ops->append(d->o->store, ev, &err);
	d->o->store->ops->flush(d->o->store, &err);
	cJSON_Delete(ev);
}

/* ---- cdx_deploy ------------------------------------------------------------------------- */

/* what serves D's environment now into SV (always initialised): an
 * interrupted deployment, whose holder is gone since we hold the lock, is
 * put right first.  0, or the status with ERR. */
static int settle(struct cdx_dctx *d, struct cdx_serving *sv, struct cdx_error *err)
{
	cJSON *last = NULL;
	int status = 0;
	if (cdx_env_replay(d->o, d->e, sv, &last, err) < 0)
		return CDX_ESTATE;
	if (last && !cdx_transition_final(last) && cdx_recover_env(d, sv, last, err) != 0)
		status = CDX_EFAILED;
	cJSON_Delete(last);
	return status;
}

/* the strategy succeeded: `current`, old releases pruned, the cleanup hook,
 * the record; the slot that served before stays warm for scale_down_delay */
static int succeed(struct cdx_dctx *d, const struct cdx_strategy_io *io, const struct cdx_serving *before,
		   cJSON **result, struct cdx_error *err)
{
	const struct cdx_env *e = d->e;
	const struct cdx_serving *sv = d->sv;
	struct cdx_error perr = {0};
	cJSON *hist, *outcomes;
	cdx_local_current(e, sv->version);
	/* pruning follows the records; without them it removes nothing */
	hist = cdx_deployments_list(d->o, e->app->name, e->name, 0, &perr);
	if (hist) {
		outcomes = cdx_release_outcomes(hist);
		cdx_local_prune(e, sv, d->previous, outcomes);
		if (d->ssh)
			cdx_ssh_prune(d->ssh, d->only, sv, d->previous, outcomes);
		cJSON_Delete(outcomes);
		cJSON_Delete(hist);
	}
	if (e->hooks[CDX_HOOK_CLEANUP].cmd)
		io->hook(io->ctx, CDX_HOOK_CLEANUP, -1, d->version, 0, err);
	if (cdx_dctx_record(d, "succeeded", NULL, NULL) < 0)
		return CDX_ESTATE;
	cdx_dctx_record_hosts(d, NULL, "good");
	*result = result_json(d, "succeeded", NULL);
	if (!e->instances && before->active >= 0 && before->active != sv->active && before->installed[before->active]) {
		cJSON *sd = cJSON_AddObjectToObject(*result, "scale_down");
		cJSON_AddStringToObject(sd, "slot", e->targets[before->active].name);
		cJSON_AddStringToObject(sd, "version", before->installed[before->active]);
		cJSON_AddNumberToObject(sd, "delay_ms", (double)e->scale_down_delay_ms);
	}
	return CDX_OK;
}

/* the failed deployment reverted by STRAT to BEFORE (auto rollback) */
static int revert(struct cdx_dctx *d, const struct cdx_strategy *strat, const struct cdx_strategy_io *io,
		  const struct cdx_serving *before, const char *cause, bool interrupted, cJSON **result,
		  struct cdx_error *err)
{
	const char *app = d->e->app->name, *env = d->e->name, *version = d->version;
	struct cdx_serving *sv = d->sv;
	struct cdx_error rerr = {0};
	if (cdx_dctx_record(d, "rolling_back", before->version ? before->version : "nothing served before", NULL) < 0 ||
	    strat->revert(d->e, sv, before, io, &rerr) != 0) {
		cdx_dctx_record(d, "rollback_failed", NULL, rerr.msg);
		raise_event(d, "rollback_failed", rerr.msg);
		cdx_error_set(err, CDX_EFAILED, "%s/%s %s failed (%s) and the rollback failed too: %s", app, env, version,
			      cause, rerr.msg);
		*result = result_json(d, "rollback_failed", cause);
		return CDX_EFAILED;
	}
	cdx_local_current(d->e, sv->version);
	cdx_dctx_record(d, "rolled_back", sv->version ? sv->version : "nothing serves", cause);
	raise_event(d, "rolled_back", cause);
	cdx_error_set(err, CDX_EFAILED, "%s/%s %s failed: %s; rolled back, %s", app, env, version, cause,
		      sv->version ? "now serving" : "nothing served before, nothing serves now");
	if (sv->version) {
		size_t l = strlen(err->msg);
		snprintf(err->msg + l, sizeof(err->msg) - l, " %s", sv->version);
	}
	*result = result_json(d, "rolled_back", cause);
	return interrupted ? CDX_EINTR : CDX_EFAILED;
}

/* the strategy failed with ERR: recorded as failed, then frozen (after an
 * irreversible step), left for a person (on_failure: manual) or reverted */
static int fail(struct cdx_dctx *d, const struct cdx_strategy *strat, const struct cdx_strategy_io *io,
		const struct cdx_serving *before, cJSON **result, struct cdx_error *err)
{
	const struct cdx_env *e = d->e;
	char cause[CDX_ERRMAX + 32];
	bool interrupted = cdx_deploy_cancel;
	if (d->lost) {
		/* fail closed: no further step, the next holder finds the trace */
		snprintf(cause, sizeof(cause), "lost the lock: %s", err->msg);
		*result = result_json(d, d->state ? d->state : "pending", cause);
		return CDX_EFAILED;
	}
	if (cdx_deploy_cancel)
		snprintf(cause, sizeof(cause), "interrupted: %s", err->msg);
	else if (cdx_deploy_abort)
		snprintf(cause, sizeof(cause), "aborted: %s", err->msg);
	else
		snprintf(cause, sizeof(cause), "%s", err->msg);
	cdx_deploy_cancel = cdx_deploy_abort = 0; /* the rollback itself must run */
	if (cdx_dctx_record_hold(d, "failed", NULL, cause, d->sv->irreversible_done || !e->auto_rollback) < 0)
		return CDX_ESTATE;
	cdx_dctx_record_hosts(d, d->version, "failed");
	if (d->sv->irreversible_done) {
		raise_event(d, "deployment_frozen", cause);
		cdx_error_set(err, CDX_EFAILED,
			      "%s/%s %s failed after an irreversible step and is frozen (not rolled back): %s",
			      e->app->name, e->name, d->version, cause);
		*result = result_json(d, "failed", cause);
		return CDX_EFAILED;
	}
	if (!e->auto_rollback) {
		cdx_error_set(err, CDX_EFAILED, "%s/%s %s failed: %s; left as it is (on_failure: manual)", e->app->name,
			      e->name, d->version, cause);
		*result = result_json(d, "failed", cause);
		return CDX_EFAILED;
	}
	return revert(d, strat, io, before, cause, interrupted, result, err);
}

/* D holds the lock: settle, begin, run STRAT, record how it ended */
static int deploy_locked(struct cdx_dctx *d, const struct cdx_strategy *strat, const char *reason, cJSON **result,
			 struct cdx_error *err)
{
	struct cdx_serving sv, before;
	struct cdx_strategy_io io;
	int status = settle(d, &sv, err);
	if (status) {
		cdx_serving_free(&sv);
		return status;
	}
	d->sv = &sv;
	cdx_serving_copy(&before, &sv);
	d->previous = before.version; /* sv.version changes as the strategy goes */
	d->start_ms = cdx_wall_ms();
	if (cdx_deployment_begin(d, d->strategy, reason, err) < 0) {
		status = err->code;
	} else if (cdx_dctx_record(d, "pending",
				   before.version ? "from the version serving now" : "first deployment", NULL) < 0) {
		/* said on stderr; ERR gets the kind too */
		status = CDX_ESTATE;
		cdx_error_set(err, status, "cannot record deployment %s", d->id);
	} else {
		cdx_dctx_io(d, &io);
		if (strat->deploy(d->e, &sv, d->version, &io, err) == 0)
			status = succeed(d, &io, &before, result, err);
		else
			status = fail(d, strat, &io, &before, result, err);
	}
	d->sv = NULL;
	d->previous = NULL;
	cdx_serving_free(&before);
	cdx_serving_free(&sv);
	return status;
}

/* the hosts named in LIST ("web1,web2") of E as flags per instance into
 * *ONLY (caller frees): 0, or CDX_EUSAGE with ERR */
static int hosts_subset(const struct cdx_env *e, const char *list, bool **only, struct cdx_error *err)
{
	char *copy, *tok, *save = NULL;
	size_t n = 0;
	*only = NULL;
	if (!cdx_env_hosts_are_targets(e)) {
		cdx_error_set(err, CDX_EUSAGE, "--hosts applies to a rolling environment over hosts; %s/%s %s",
			      e->app->name, e->name, e->n_hosts ? "switches every host together (blue_green)" : "has no hosts");
		return CDX_EUSAGE;
	}
	*only = cdx_xcalloc(e->n_targets ? e->n_targets : 1, sizeof(bool));
	copy = cdx_xstrdup(list);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int t = cdx_env_target(e, tok);
		if (t < 0) {
			cdx_error_set(err, CDX_EUSAGE, "unknown host '%s' of %s/%s", tok, e->app->name, e->name);
			free(copy);
			free(*only);
			*only = NULL;
			return CDX_EUSAGE;
		}
		n += !(*only)[t];
		(*only)[t] = true;
	}
	free(copy);
	if (!n) {
		free(*only);
		*only = NULL;
		cdx_error_set(err, CDX_EUSAGE, "--hosts names no host");
		return CDX_EUSAGE;
	}
	return 0;
}

/* a dry run of STRAT in D: the steps, and per host the remote commands,
 * printed to D->dry; nothing locked, recorded or run */
static int deploy_dry(struct cdx_dctx *d, const struct cdx_strategy *strat, struct cdx_error *err)
{
	struct cdx_serving sv;
	struct cdx_strategy_io io;
	int rc;
	if (cdx_env_replay(d->o, d->e, &sv, NULL, err) < 0) {
		cdx_serving_free(&sv);
		return CDX_ESTATE;
	}
	snprintf(d->id, sizeof(d->id), "dry-run");
	d->sv = &sv;
	d->previous = sv.version;
	fprintf(d->dry, "# dry run: %s/%s %s with %s, from %s\n", d->e->app->name, d->e->name, d->version,
		d->strategy, sv.version ? sv.version : "nothing");
	cdx_dctx_io_dry(d, &io);
	rc = strat->deploy(d->e, &sv, d->version, &io, err);
	fprintf(d->dry, "# dry run: nothing was changed\n");
	cdx_ssh_close(d->ssh);
	d->ssh = NULL;
	d->sv = NULL;
	d->previous = NULL;
	cdx_serving_free(&sv);
	return rc ? CDX_EFAILED : 0;
}

int cdx_deploy(struct cdx_orchestrator *o, const char *app, const char *env, const char *version,
	       const struct cdx_deploy_options *opt, cJSON **result, struct cdx_error *err)
{
	bool *only = NULL;
	struct cdx_deploy_options none = {0};
	struct cdx_dctx d;
	enum cdx_strategy_kind kind;
	const struct cdx_env *e;
	int status;

	*result = NULL;
	if (!opt)
		opt = &none;
	status = check_request(o, app, env, version, opt, &e, &kind, err);
	if (status)
		return status;
	if (opt->hosts && (status = hosts_subset(e, opt->hosts, &only, err)))
		return status;
	memset(&d, 0, sizeof(d));
	d.only = only;
	d.o = o;
	d.e = e;
	d.kind = "deploy";
	d.strategy = cdx_strategy_name(kind);
	d.version = version;
	d.progress = opt->progress;
	if (opt->dry_run) {
		d.dry = opt->dry_run;
		status = deploy_dry(&d, cdx_strategy_for(kind), err);
		free(only);
		return status;
	}
	cdx_run_id_new(d.id, sizeof(d.id));
	status = cdx_dctx_lock(&d, opt->wait_ms, err);
	if (status) {
		free(only);
		return status;
	}
	cdx_deploy_signals(true);
	status = deploy_locked(&d, cdx_strategy_for(kind), opt->reason, result, err);
	cdx_deploy_signals(false);
	cdx_dctx_unlock(&d);
	free(only);
	return status;
}

/* ---- scale down ------------------------------------------------------------------------- */

enum cdx_scale_down_result cdx_scale_down(struct cdx_orchestrator *o, const char *app, const char *env,
					  const char *slot, const char *version, struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	struct cdx_serving sv;
	struct cdx_dctx d;
	cJSON *last = NULL;
	char msg[200];
	enum cdx_scale_down_result res;
	int t, rc;
	if (!e)
		return CDX_SCALE_DOWN_ERROR;
	t = cdx_env_target(e, slot);
	if (t < 0 || e->instances) {
		cdx_error_set(err, CDX_EUSAGE, "%s/%s has no slot '%s'", app, env, slot);
		return CDX_SCALE_DOWN_ERROR;
	}
	memset(&d, 0, sizeof(d));
	d.o = o;
	d.e = e;
	d.kind = "scale_down";
	d.version = version;
	snprintf(d.id, sizeof(d.id), "scale-down");
	rc = cdx_dctx_lock(&d, 60000, err);
	if (rc == CDX_EBUSY)
		return CDX_SCALE_DOWN_NOTHING; /* a deployment runs: it owns the slots now */
	if (rc)
		return CDX_SCALE_DOWN_ERROR;
	if (cdx_env_replay(o, e, &sv, &last, err) < 0) {
		cdx_serving_free(&sv);
		cdx_dctx_unlock(&d);
		return CDX_SCALE_DOWN_ERROR;
	}
	res = CDX_SCALE_DOWN_NOTHING;
	/* only if the slot still holds that version and takes no traffic */
	if (last && cdx_transition_final(last) && t != sv.active && t != sv.canary && sv.installed[t] &&
	    strcmp(sv.installed[t], version) == 0) {
		struct cdx_strategy_io io;
		snprintf(d.id, sizeof(d.id), "%s", cdx_jsn(last, "deployment") ?: "?");
		d.sv = &sv;
		cdx_dctx_io(&d, &io);
		if (cdx_strategy_stop(&sv, t, &io, err) == 0) {
			snprintf(msg, sizeof(msg), "scaled down slot %s (%s) after scale_down_delay", slot, version);
			res = CDX_SCALE_DOWN_STOPPED;
			if (cdx_dctx_record(&d, cdx_jsn(last, "state"), msg, NULL) < 0) {
				/* said on stderr; ERR gets the kind too */
				cdx_error_set(err, CDX_ESTATE, "cannot record the scale-down of slot %s",
					      slot);
				res = CDX_SCALE_DOWN_ERROR;
			}
		} else {
			res = CDX_SCALE_DOWN_ERROR;
		}
	}
	cJSON_Delete(last);
	cdx_serving_free(&sv);
	cdx_dctx_unlock(&d);
	return res;
}
