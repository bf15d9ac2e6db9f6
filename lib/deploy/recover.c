/* recover.c — crash recovery (recover.h): one interrupted environment
 * brought back, and cdx_recover's sweep over every environment.
 *
 * What a dead deployer left running.  A deployment's hooks, health and
 * analysis commands run with the deployment's id as their owner
 * (effects.c): their marker is CDX_ATTEMPT_KEY=keep.<deployer pid>.<token>.
 * <id>[/<target>] (runner.h), and every process they start inherits it.
 * The parent-death signal kills the hook's own shell with its cdx, but not
 * what that shell started: `sleep 4; start` in a subshell would run on and
 * start a version after the recovery, or the next deployment, decided
 * otherwise.  So recovery, which runs only while it holds the
 * environment's lock and only for a deployment whose last transition is
 * not final — one whose cdx died (or lost its lock) before it finished —
 * first kills every process on this machine whose marker names that
 * deployment (cdx_runner_kill_owned): the hook in flight and its children,
 * and what its hooks started for it, such as its new slot's service;
 * then it records what it killed.  Processes of earlier deployments carry
 * their own ids, and those deployments ended (their last transition is
 * final: recovery never looks at them), so what they started keeps
 * running, whether their cdx exited or was killed afterwards.  The
 * deployer's pid in the marker is not what identifies them: a pid is
 * reused, a deployment id is not; and the recovery of a deployment writes
 * under that deployment's id, so a recovery killed half way is cleaned up
 * by the next one in the same way.  Processes on another machine (a Redis
 * store shared by hosts) are out of reach.
 *
 * Then: a target whose deploy, start or stop hook had to be killed (its
 * owner was ID/TARGET) is in an unknown state and is stopped; the rollback
 * to the last version known good runs; and a slot that the interrupted
 * deployment changed and that does not serve now is stopped, so that the
 * new version it started (and which no record says serves) does not keep
 * running beside the old one.
 */
#include "deploy/recover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/effects.h"
#include "deploy/local.h"
#include "deploy/record.h"
#include "exec/runner.h"

/* what cdx_runner_kill_owned killed for a recovery */
struct killed {
	const struct cdx_env *e;
	bool *target; /* per target: a hook that starts or stops it was killed */
};

static void on_killed(void *ctx, const char *owner)
{
	struct killed *k = ctx;
	const char *slash = strchr(owner, '/');
	int t = slash ? cdx_env_target(k->e, slash + 1) : -1;
	if (t >= 0)
		k->target[t] = true;
}

/* kill what the dead deployer of D (D->id, DEP its record) left running
 * and record it; the targets whose hooks were killed are stopped.  0, or
 * -1 with ERR */
static int kill_leftovers(struct cdx_dctx *d, struct cdx_serving *sv, const cJSON *dep,
			  const struct cdx_strategy_io *io, struct cdx_error *err)
{
	struct killed k = {d->e, cdx_xcalloc(d->e->n_targets ? d->e->n_targets : 1, sizeof(bool))};
	struct cdx_buf msg = {0};
	size_t n, i;
	bool first = true;
	int rc = 0;
	n = cdx_runner_kill_owned(d->id, on_killed, &k);
	if (n) {
		cdx_buf_printf(&msg, "killed %zu process%s that its cdx (pid %d on %s) left running", n,
			       n == 1 ? "" : "es", (int)cJSON_GetNumberValue(cJSON_GetObjectItem(dep, "pid")),
			       cdx_jsn(dep, "host") ?: "?");
		for (i = 0; i < d->e->n_targets; i++) {
			if (!k.target[i])
				continue;
			cdx_buf_adds(&msg, first ? "; hooks of " : ", ");
			cdx_buf_adds(&msg, d->e->instances ? "instance " : "slot ");
			cdx_buf_adds(&msg, d->e->targets[i].name);
			first = false;
		}
		if (cdx_dctx_record(d, "rolling_back", msg.data, "interrupted") < 0)
			rc = cdx_error_set(err, CDX_ESTATE, "cannot record the recovery");
	}
	for (i = 0; i < d->e->n_targets && rc == 0; i++) {
		char stop[300];
		if (!k.target[i])
			continue;
		snprintf(stop, sizeof(stop), "stop %s %s: its hooks were killed half way",
			 d->e->instances ? "instance" : "slot", d->e->targets[i].name);
		if (cdx_dctx_record(d, "rolling_back", stop, NULL) < 0 || cdx_strategy_stop(sv, (int)i, io, err) != 0)
			rc = -1;
	}
	cdx_buf_free(&msg);
	free(k.target);
	return rc;
}

/* slots that the interrupted deployment D changed (BEFORE: what they held
 * when it began) and that serve nothing now stop */
static int stop_changed(struct cdx_dctx *d, struct cdx_serving *sv, const struct cdx_serving *before,
			const struct cdx_strategy_io *io, struct cdx_error *err)
{
	size_t t;
	if (d->e->instances)
		return 0; /* the rollback put every instance back */
	for (t = 0; t < sv->n; t++) {
		char msg[300];
		if ((int)t == sv->active || (int)t == sv->canary || !sv->installed[t] ||
		    (t < before->n && before->installed[t] && strcmp(before->installed[t], sv->installed[t]) == 0))
			continue;
		snprintf(msg, sizeof(msg), "stop slot %s (%s, started by the interrupted deployment)",
			 d->e->targets[t].name, sv->installed[t]);
		if (cdx_dctx_record(d, "rolling_back", msg, NULL) < 0 || cdx_strategy_stop(sv, (int)t, io, err) != 0)
			return -1;
	}
	return 0;
}

/* nothing served before: stop what the interrupted deployment started, and
 * nothing serves */
static int stop_all(struct cdx_dctx *d, struct cdx_serving *sv, const struct cdx_strategy_io *io,
		    struct cdx_error *err)
{
	char msg[300];
	size_t i;
	for (i = 0; i < sv->n; i++) {
		if (!sv->installed[i])
			continue;
		snprintf(msg, sizeof(msg), "stop %s", d->e->targets[i].name);
		if (cdx_dctx_record(d, "rolling_back", msg, NULL) < 0 || cdx_strategy_stop(sv, (int)i, io, err) != 0)
			return -1;
	}
	sv->active = sv->canary = -1;
	sv->weight = 0;
	cdx_serving_set(&sv->version, NULL);
	return 0;
}

int cdx_recover_env(struct cdx_dctx *holder, struct cdx_serving *sv, const cJSON *last, struct cdx_error *err)
{
	struct cdx_dctx d = *holder;
	struct cdx_serving before;
	struct cdx_strategy_io io;
	const char *id = cdx_jsn(last, "deployment"), *was = cdx_jsn(last, "state");
	cJSON *dep = cdx_deployment_find(holder->o, id ? id : "", err);
	const char *kind, *target;
	char msg[300];
	int rc;
	if (!dep)
		return cdx_error_set(err, CDX_EFAILED, "%s/%s was interrupted by deployment %s, whose record is missing",
				     holder->e->app->name, holder->e->name, id ? id : "?");
	kind = cdx_jsn(dep, "kind");
	/* the last version known good */
	target = kind && strcmp(kind, "rollback") == 0 ? cdx_jsn(dep, "version") : cdx_jsn(dep, "previous");
	snprintf(d.id, sizeof(d.id), "%s", id);
	d.kind = "recover";
	d.version = target ? target : "(none)";
	d.previous = cdx_jsn(dep, "previous");
	d.sv = sv;
	d.state = was;
	cdx_dctx_io(&d, &io);
	snprintf(msg, sizeof(msg), "recovering: interrupted in state %s (%s), its process is gone; back to %s",
		 was ? was : "?", cdx_js(last, "msg"), target ? target : "nothing");
	if (cdx_dctx_record(&d, "rolling_back", msg, "interrupted") < 0) {
		holder->ssh = d.ssh; /* the holder closes what the recovery opened */
		cJSON_Delete(dep);
		return cdx_error_set(err, CDX_ESTATE, "cannot record the recovery");
	}
	if (cdx_deployment_before(holder->o, holder->e, id, &before, err) < 0)
		rc = -1;
	else
		rc = kill_leftovers(&d, sv, dep, &io, err);
	if (rc == 0 && target && cdx_env_hosts_are_targets(holder->e)) {
		/* what a killed cdx did on a host is not known (its record is
		 * written before a host is touched): every host gets TARGET again */
		size_t t;
		if (cdx_jsn(dep, "version"))
			cdx_dctx_record_hosts(&d, cdx_jsn(dep, "version"), "incomplete");
		for (t = 0; t < sv->n; t++)
			cdx_serving_set(&sv->installed[t], NULL);
	}
	if (rc == 0 && target) {
		rc = cdx_rollback_run(holder->e, CDX_ROLLBACK_IMMEDIATE, sv, target, NULL, &io, err);
		if (rc == 0)
			rc = stop_changed(&d, sv, &before, &io, err);
	} else if (rc == 0) {
		rc = stop_all(&d, sv, &io, err);
	}
	cdx_serving_free(&before);
	holder->ssh = d.ssh;
	if (rc != 0) {
		char why[CDX_ERRMAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		cdx_dctx_record_hold(&d, "rollback_failed", "recovery failed: a person is needed", why, true);
		cJSON_Delete(dep);
		return cdx_error_set(err, CDX_EFAILED,
				     "%s/%s: recovery of interrupted deployment %s failed (%s): a person is needed",
				     holder->e->app->name, holder->e->name, id, why);
	}
	cdx_local_current(holder->e, sv->version);
	cdx_dctx_record(&d, "recovered", sv->version ? sv->version : "nothing serves", "interrupted");
	if (sv->version)
		cdx_dctx_record_hosts(&d, sv->version, "good");
	cJSON_Delete(dep);
	return 0;
}

/* E, for cdx_recover: {app, env, result, ...} into OUT, and *STATUS set when
 * it needs attention; -1 with ERR and *STATUS when the store fails */
static int recover_one(struct cdx_orchestrator *o, const struct cdx_env *e, FILE *progress, cJSON *out,
		       int *status, struct cdx_error *err)
{
	struct cdx_dctx d;
	struct cdx_serving sv;
	struct cdx_error e2 = {0};
	cJSON *last = NULL, *x;
	int rc;
	memset(&d, 0, sizeof(d));
	d.o = o;
	d.e = e;
	d.kind = "recover";
	d.version = "";
	d.progress = progress;
	snprintf(d.id, sizeof(d.id), "recover");
	rc = cdx_dctx_lock(&d, 0, &e2);
	if (rc && rc != CDX_EBUSY) {
		*err = e2;
		*status = rc;
		return -1;
	}
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "app", e->app->name);
	cJSON_AddStringToObject(x, "env", e->name);
	cJSON_AddItemToArray(out, x);
	if (rc == CDX_EBUSY) {
		cJSON_AddStringToObject(x, "result", "in_progress");
		cJSON_AddStringToObject(x, "detail", e2.msg);
		return 0;
	}
	if (cdx_env_replay(o, e, &sv, &last, &e2) < 0) {
		cJSON_AddStringToObject(x, "result", "error");
		cJSON_AddStringToObject(x, "detail", e2.msg);
		*status = CDX_ESTATE;
	} else if (!last || cdx_transition_final(last)) {
		cJSON_AddStringToObject(x, "result", "ok");
	} else {
		d.version = cdx_jsn(last, "state");
		if (cdx_recover_env(&d, &sv, last, &e2) == 0) {
			cJSON_AddStringToObject(x, "result", "recovered");
			cJSON_AddStringToObject(x, "deployment", cdx_jsn(last, "deployment") ?: "?");
		} else {
			cJSON_AddStringToObject(x, "result", "needs_attention");
			cJSON_AddStringToObject(x, "detail", e2.msg);
			*status = CDX_EFAILED;
		}
	}
	if (sv.version)
		cJSON_AddStringToObject(x, "serving", sv.version);
	else
		cJSON_AddNullToObject(x, "serving");
	cJSON_Delete(last);
	cdx_serving_free(&sv);
	cdx_dctx_unlock(&d);
	return 0;
}

cJSON *cdx_recover(struct cdx_orchestrator *o, FILE *progress, int *status, struct cdx_error *err)
{
	cJSON *out = cJSON_CreateArray();
	size_t a, k;
	*status = CDX_OK;
	for (a = 0; a < o->apps->n; a++)
		for (k = 0; k < o->apps->apps[a].n_envs; k++)
			if (recover_one(o, &o->apps->apps[a].envs[k], progress, out, status, err) < 0) {
				cJSON_Delete(out);
				return NULL;
			}
	return out;
}
