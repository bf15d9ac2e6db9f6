/* recover.c — crash recovery (recover.h): one interrupted environment
 * brought back, and cdx_recover's sweep over every environment. */
#include "deploy/recover.h"

#include <stdio.h>
#include <string.h>

#include "deploy/effects.h"
#include "deploy/local.h"
#include "deploy/record.h"

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
		cJSON_Delete(dep);
		return cdx_error_set(err, CDX_ESTATE, "cannot record the recovery");
	}
	if (target)
		rc = cdx_rollback_run(holder->e, CDX_ROLLBACK_IMMEDIATE, sv, target, NULL, &io, err);
	else
		rc = stop_all(&d, sv, &io, err);
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
