/* deploy_query.c — reading deployments back: the list, one deployment with
 * its transitions and checks, the version serving an environment, an
 * environment's configuration and live health, and the promote/abort
 * controls.  Everything is derived from the records (record.h; deploy.c
 * explains them).  Below it in lib/deploy: record and probe only; rollback.c
 * reads the history through cdx_deployments_list. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/map.h"
#include "deploy/probe.h"
#include "deploy/record.h"


struct list_ctx {
	const char *app, *env;
	cJSON *arr;          /* summaries in start order */
	struct cdx_map index; /* id -> position in arr */
};

/* a promote or abort event (cdx_deploy_control) of deployment ID? */
static bool is_control(const cJSON *rec)
{
	const char *kind = cdx_jsn(rec, "kind") ?: "";
	return cdx_record_is(rec, "event") && cdx_jsn(rec, "deployment") &&
	       (strcmp(kind, "promote") == 0 || strcmp(kind, "abort") == 0);
}

/* who promoted or aborted: REC's summary appended to DEP's "controls" */
static void add_control(cJSON *dep, const cJSON *rec)
{
	cJSON *arr = cJSON_GetObjectItem(dep, "controls"), *c = cJSON_CreateObject();
	static const char *const keys[] = {"kind", "user", "claimed_user", "host", "via"};
	size_t i;
	if (!arr)
		arr = cJSON_AddArrayToObject(dep, "controls");
	for (i = 0; i < CDX_ARRAY_LEN(keys); i++)
		if (cdx_jsn(rec, keys[i]))
			cJSON_AddStringToObject(c, keys[i], cdx_jsn(rec, keys[i]));
	cJSON_AddItemToObject(c, "at_ms", cJSON_Duplicate(cJSON_GetObjectItem(rec, "at_ms"), 1));
	cJSON_AddItemToArray(arr, c);
}

static int list_one(void *ctx, const cJSON *rec)
{
	struct list_ctx *c = ctx;
	size_t pos;
	if (cdx_record_is(rec, "deployment")) {
		const char *id = cdx_jsn(rec, "id");
		cJSON *sum;
		if (!id || (c->app && strcmp(c->app, cdx_js(rec, "app")) != 0) ||
		    (c->env && strcmp(c->env, cdx_js(rec, "env")) != 0))
			return 0;
		sum = cJSON_Duplicate(rec, 1);
		cJSON_DeleteItemFromObject(sum, "t");
		cJSON_AddStringToObject(sum, "state", "pending");
		/* the map borrows its key: the copy's id lives as long as the list */
		cdx_map_set(&c->index, cdx_jsn(sum, "id"), (size_t)cJSON_GetArraySize(c->arr));
		cJSON_AddItemToArray(c->arr, sum);
	} else if (cdx_record_is(rec, "host") && cdx_jsn(rec, "host") && cdx_jsn(rec, "deployment") &&
		   cdx_map_get(&c->index, cdx_jsn(rec, "deployment"), &pos) == 1) {
		/* per host: the release it runs and how it went there */
		cJSON *sum = cJSON_GetArrayItem(c->arr, (int)pos), *hosts = cJSON_GetObjectItem(sum, "hosts"), *h;
		if (!hosts)
			hosts = cJSON_AddObjectToObject(sum, "hosts");
		cJSON_DeleteItemFromObject(hosts, cdx_js(rec, "host"));
		h = cJSON_AddObjectToObject(hosts, cdx_js(rec, "host"));
		cJSON_AddStringToObject(h, "version", cdx_js(rec, "version"));
		cJSON_AddStringToObject(h, "outcome", cdx_js(rec, "outcome"));
		if (cdx_jb(rec, "unreachable", false))
			cJSON_AddTrueToObject(h, "unreachable");
	} else if (is_control(rec) && cdx_map_get(&c->index, cdx_jsn(rec, "deployment"), &pos) == 1) {
		add_control(cJSON_GetArrayItem(c->arr, (int)pos), rec);
	} else if (cdx_record_is(rec, "transition") && cdx_jsn(rec, "deployment") &&
		   cdx_map_get(&c->index, cdx_jsn(rec, "deployment"), &pos) == 1) {
		cJSON *sum = cJSON_GetArrayItem(c->arr, (int)pos);
		const cJSON *at = cJSON_GetObjectItem(rec, "at_ms"), *st = cJSON_GetObjectItem(sum, "start_ms");
		cJSON_ReplaceItemInObject(sum, "state", cJSON_CreateString(cdx_jsn(rec, "state") ?: "?"));
		if (cdx_jsn(rec, "cause")) {
			cJSON_DeleteItemFromObject(sum, "cause");
			cJSON_AddStringToObject(sum, "cause", cdx_jsn(rec, "cause"));
		}
		/* the first final transition ends it (a later scale-down does not) */
		if (cdx_transition_final(rec) && cJSON_IsNumber(at) && cJSON_IsNumber(st) &&
		    !cJSON_GetObjectItem(sum, "end_ms")) {
			cJSON_AddNumberToObject(sum, "end_ms", at->valuedouble);
			cJSON_AddNumberToObject(sum, "duration_ms", at->valuedouble - st->valuedouble);
			cJSON_DeleteItemFromObject(sum, "serving");
			cJSON_AddItemToObject(sum, "serving",
					      cJSON_Duplicate(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "serving"),
										 "version"),
							      1));
		}
	}
	return 0;
}

cJSON *cdx_deployments_list(struct cdx_orchestrator *o, const char *app, const char *env, size_t limit,
			    struct cdx_error *err)
{
	struct list_ctx c = {app, env, NULL, {0}};
	size_t i;
	/* an unknown name is a mistake, not an empty history */
	if (env && !cdx_apps_find(o->apps, app, env, err))
		return NULL;
	if (app && !env) {
		for (i = 0; i < o->apps->n && strcmp(o->apps->apps[i].name, app) != 0; i++)
			;
		if (i == o->apps->n) {
			cdx_error_set(err, CDX_EUSAGE, "unknown application '%s'", app);
			return NULL;
		}
	}
	c.arr = cJSON_CreateArray();
	if (o->store->ops->scan(o->store, list_one, &c, err) < 0) {
		cJSON_Delete(c.arr);
		cdx_map_free(&c.index);
		return NULL;
	}
	cdx_map_free(&c.index);
	while (limit && (size_t)cJSON_GetArraySize(c.arr) > limit)
		cJSON_DeleteItemFromArray(c.arr, 0);
	return c.arr;
}

struct status_ctx {
	const char *id;
	cJSON *dep, *transitions, *checks;
};

static int status_one(void *ctx, const cJSON *rec)
{
	struct status_ctx *c = ctx;
	cJSON *x;
	if (cdx_record_is(rec, "deployment") && strcmp(cdx_js(rec, "id"), c->id) == 0) {
		c->dep = cJSON_Duplicate(rec, 1);
		return 0;
	}
	if (!c->dep || strcmp(cdx_js(rec, "deployment"), c->id) != 0)
		return 0;
	if (is_control(rec))
		add_control(c->dep, rec);
	if (cdx_record_is(rec, "transition") || cdx_record_is(rec, "check")) {
		x = cJSON_Duplicate(rec, 1);
		cJSON_DeleteItemFromObject(x, "t");
		cJSON_DeleteItemFromObject(x, "deployment");
		cJSON_DeleteItemFromObject(x, "app");
		cJSON_DeleteItemFromObject(x, "env");
		cJSON_AddItemToArray(cdx_record_is(rec, "check") ? c->checks : c->transitions, x);
	}
	return 0;
}

cJSON *cdx_deployment_status(struct cdx_orchestrator *o, const char *id, struct cdx_error *err)
{
	struct status_ctx c = {id, NULL, cJSON_CreateArray(), cJSON_CreateArray()};
	cJSON *last;
	if (o->store->ops->scan(o->store, status_one, &c, err) < 0 ||
	    (!c.dep && cdx_error_set(err, CDX_EUSAGE, "no deployment or run with id '%s'", id) < 0)) {
		cJSON_Delete(c.dep);
		cJSON_Delete(c.transitions);
		cJSON_Delete(c.checks);
		return NULL;
	}
	cJSON_DeleteItemFromObject(c.dep, "t");
	last = cJSON_GetArrayItem(c.transitions, cJSON_GetArraySize(c.transitions) - 1);
	cJSON_AddStringToObject(c.dep, "state", last ? cdx_jsn(last, "state") ?: "?" : "pending");
	if (last && cdx_jsn(last, "cause"))
		cJSON_AddStringToObject(c.dep, "cause", cdx_jsn(last, "cause"));
	if (last)
		cJSON_AddItemToObject(c.dep, "serving", cJSON_Duplicate(cJSON_GetObjectItem(last, "serving"), 1));
	cJSON_AddItemToObject(c.dep, "transitions", c.transitions);
	cJSON_AddItemToObject(c.dep, "checks", c.checks);
	return c.dep;
}

char *cdx_current_version(struct cdx_orchestrator *o, const char *app, const char *env, struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	struct cdx_serving sv;
	char *v;
	if (!e)
		return NULL;
	if (cdx_env_replay(o, e, &sv, NULL, err) < 0) {
		cdx_serving_free(&sv);
		return NULL;
	}
	v = sv.version ? cdx_xstrdup(sv.version) : NULL;
	cdx_serving_free(&sv);
	return v;
}

cJSON *cdx_environment_config(struct cdx_orchestrator *o, const char *app, const char *env, struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	return e ? cdx_env_config(e) : NULL;
}

cJSON *cdx_environment_check_health(struct cdx_orchestrator *o, const char *app, const char *env,
				    struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	struct cdx_serving sv;
	cJSON *res, *arr;
	bool healthy = true;
	size_t t, k;
	if (!e)
		return NULL;
	if (cdx_env_replay(o, e, &sv, NULL, err) < 0) {
		cdx_serving_free(&sv);
		return NULL;
	}
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "app", app);
	cJSON_AddStringToObject(res, "env", env);
	if (sv.version)
		cJSON_AddStringToObject(res, "version", sv.version);
	else
		cJSON_AddNullToObject(res, "version");
	arr = cJSON_AddArrayToObject(res, "targets");
	for (t = 0; t < sv.n; t++) {
		struct cdx_envv ce;
		cJSON *x;
		if (!sv.installed[t])
			continue;
		cdx_envv_from_environ(&ce);
		for (k = 0; k < e->n_vars; k++)
			cdx_envv_set(&ce, e->vars[k].key, e->vars[k].value);
		for (k = 0; k < e->targets[t].n_vars; k++)
			cdx_envv_set(&ce, e->targets[t].vars[k].key, e->targets[t].vars[k].value);
		cdx_envv_set(&ce, "CDX_APP", app);
		cdx_envv_set(&ce, "CDX_ENV", env);
		cdx_envv_set(&ce, "CDX_VERSION", sv.installed[t]);
		cdx_envv_set(&ce, e->instances ? "CDX_INSTANCE" : "CDX_SLOT", e->targets[t].name);
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", e->targets[t].name);
		cJSON_AddStringToObject(x, "version", sv.installed[t]);
		cJSON_AddBoolToObject(x, "serving", e->instances || (int)t == sv.active || (int)t == sv.canary);
		for (k = 0; k < e->n_checks; k++) {
			struct cdx_probe_result r;
			cdx_probe(&e->checks[k], &ce, o->apps->dir, NULL, NULL, &r);
			if (!r.ok) {
				healthy = false;
				cJSON_AddStringToObject(x, "problem", r.detail);
				cJSON_AddStringToObject(x, "check", r.target);
			}
			free(r.target);
			if (!r.ok)
				break;
		}
		cJSON_AddBoolToObject(x, "healthy", k == e->n_checks);
		cJSON_AddItemToArray(arr, x);
		cdx_envv_free(&ce);
	}
	cJSON_AddBoolToObject(res, "healthy", healthy && sv.version);
	cdx_serving_free(&sv);
	return res;
}

int cdx_deploy_control(struct cdx_orchestrator *o, const char *app, const char *env, const char *action,
		       struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	cJSON *holder = NULL, *rec;
	char lock[200];
	const char *host;
	int pid, rc;
	if (!e)
		return CDX_EUSAGE;
	cdx_deploy_lock_name(lock, sizeof(lock), app, env);
	if (o->store->ops->holder(o->store, lock, &holder, err) < 0)
		return CDX_ESTATE;
	if (!holder) {
		cdx_error_set(err, CDX_EUSAGE, "no deployment of %s/%s is in progress", app, env);
		return CDX_EUSAGE;
	}
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "event");
	cJSON_AddStringToObject(rec, "kind", action);
	cJSON_AddStringToObject(rec, "deployment", cdx_jsn(holder, "deployment") ?: "?");
	cJSON_AddStringToObject(rec, "app", app);
	cJSON_AddStringToObject(rec, "env", env);
	cJSON_AddStringToObject(rec, "user", o->user);
	if (cdx_who_claimed(o->user))
		cJSON_AddStringToObject(rec, "claimed_user", cdx_who_claimed(o->user));
	cJSON_AddStringToObject(rec, "host", o->host);
	if (o->via)
		cJSON_AddStringToObject(rec, "via", o->via);
	cJSON_AddNumberToObject(rec, "at_ms", (double)cdx_wall_ms());
	rc = o->store->ops->append(o->store, rec, err);
	if (rc == 0)
		rc = o->store->ops->flush(o->store, err);
	cJSON_Delete(rec);
	host = cdx_jsn(holder, "host");
	pid = (int)cdx_jn(holder, "pid");
	/* the record reaches the holder through the store wherever it runs (its
	 * pauses watch it); on its host a signal is quicker */
	if (rc == 0 && host && strcmp(host, o->host) == 0 && pid > 0 &&
	    kill(pid, strcmp(action, "promote") == 0 ? SIGUSR1 : SIGUSR2) < 0)
		rc = cdx_error_set(err, CDX_EFAILED, "cannot signal the deployment (pid %d)", pid);
	cJSON_Delete(holder);
	return rc < 0 ? err->code : 0;
}
