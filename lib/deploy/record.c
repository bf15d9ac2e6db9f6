/* record.c — reading an environment's deployment records back (record.h):
 * serving snapshots, the replay of what serves now, final transitions,
 * deployment records by id, the outcome of each release.  Every function here only reads the store. */
#include "deploy/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cdx_record_is(const cJSON *rec, const char *type)
{
	return strcmp(cdx_js(rec, "t"), type) == 0;
}

bool cdx_record_str_eq(const cJSON *rec, const char *key, const char *want)
{
	const char *v = cdx_jsn(rec, key);
	return v && want && strcmp(v, want) == 0;
}

void cdx_deploy_lock_name(char *buf, size_t n, const char *app, const char *env)
{
	snprintf(buf, n, "deploy:%s:%s", app, env);
}

int cdx_env_target(const struct cdx_env *e, const char *name)
{
	size_t i;
	for (i = 0; name && i < e->n_targets; i++)
		if (strcmp(e->targets[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- serving snapshots ------------------------------------------------------ */

cJSON *cdx_serving_json(const struct cdx_env *e, const struct cdx_serving *sv)
{
	cJSON *o = cJSON_CreateObject(), *t;
	size_t i;
	if (sv->version)
		cJSON_AddStringToObject(o, "version", sv->version);
	else
		cJSON_AddNullToObject(o, "version");
	if (!e->instances) {
		if (sv->active >= 0)
			cJSON_AddStringToObject(o, "slot", e->targets[sv->active].name);
		else
			cJSON_AddNullToObject(o, "slot");
		if (sv->canary >= 0) {
			cJSON_AddStringToObject(o, "canary", e->targets[sv->canary].name);
			cJSON_AddNumberToObject(o, "weight", sv->weight);
		}
	}
	t = cJSON_AddObjectToObject(o, e->instances ? "instances" : "slots");
	for (i = 0; i < sv->n; i++) {
		if (sv->installed[i])
			cJSON_AddStringToObject(t, e->targets[i].name, sv->installed[i]);
		else
			cJSON_AddNullToObject(t, e->targets[i].name);
	}
	return o;
}

static void serving_from_json(const struct cdx_env *e, const cJSON *o, struct cdx_serving *sv)
{
	const cJSON *t;
	size_t i;
	cdx_serving_free(sv);
	cdx_serving_init(sv, e->n_targets);
	cdx_serving_set(&sv->version, cdx_jsn(o, "version"));
	sv->active = cdx_env_target(e, cdx_jsn(o, "slot"));
	sv->canary = cdx_env_target(e, cdx_jsn(o, "canary"));
	sv->weight = (int)cdx_jn(o, "weight");
	t = cJSON_GetObjectItem(o, e->instances ? "instances" : "slots");
	for (i = 0; i < sv->n; i++)
		cdx_serving_set(&sv->installed[i], cdx_jsn(t, e->targets[i].name));
}

/* ---- replay ------------------------------------------------------------------- */

struct replay_ctx {
	const struct cdx_env *e;
	cJSON *last; /* the last transition of the environment (a copy) */
};

static int replay_one(void *ctx, const cJSON *rec)
{
	struct replay_ctx *c = ctx;
	if (!cdx_record_is(rec, "transition") || !cdx_record_str_eq(rec, "app", c->e->app->name) ||
	    !cdx_record_str_eq(rec, "env", c->e->name))
		return 0;
	cJSON_Delete(c->last);
	c->last = cJSON_Duplicate(rec, 1);
	return 0;
}

int cdx_env_replay(struct cdx_orchestrator *o, const struct cdx_env *e, struct cdx_serving *sv, cJSON **last,
		   struct cdx_error *err)
{
	struct replay_ctx c = {e, NULL};
	if (last)
		*last = NULL;
	cdx_serving_init(sv, e->n_targets);
	if (o->store->ops->scan(o->store, replay_one, &c, err) < 0)
		return -1;
	if (c.last)
		serving_from_json(e, cJSON_GetObjectItem(c.last, "serving"), sv);
	if (last)
		*last = c.last;
	else
		cJSON_Delete(c.last);
	return 0;
}

bool cdx_transition_final(const cJSON *t)
{
	static const char *const finals[] = {"succeeded", "rolled_back", "rollback_failed", "recovered"};
	const char *state = cdx_jsn(t, "state");
	size_t i;
	if (!state)
		return true;
	/* failed is final only when it holds for a person (frozen, on_failure: manual) */
	if (strcmp(state, "failed") == 0)
		return cdx_jb(t, "hold", false);
	for (i = 0; i < CDX_ARRAY_LEN(finals); i++)
		if (strcmp(state, finals[i]) == 0)
			return true;
	return false;
}

/* ---- deployment records ---------------------------------------------------------- */

struct find_ctx {
	const char *id;
	cJSON *dep;
};

static int find_one(void *ctx, const cJSON *rec)
{
	struct find_ctx *c = ctx;
	if (cdx_record_is(rec, "deployment") && strcmp(cdx_js(rec, "id"), c->id) == 0) {
		cJSON_Delete(c->dep);
		c->dep = cJSON_Duplicate(rec, 1);
	}
	return 0;
}

cJSON *cdx_deployment_find(struct cdx_orchestrator *o, const char *id, struct cdx_error *err)
{
	struct find_ctx c = {id, NULL};
	if (o->store->ops->scan(o->store, find_one, &c, err) < 0) {
		cJSON_Delete(c.dep);
		return NULL;
	}
	if (!c.dep)
		cdx_error_set(err, CDX_EUSAGE, "no deployment %s", id);
	return c.dep;
}

/* ---- release outcomes -------------------------------------------------------------- */

/* the entry of VERSION in OUT moved (or added) to the end, with OUTCOME */
static void outcome_set(cJSON *out, const char *version, const char *outcome, bool move)
{
	cJSON *x;
	int i = 0;
	cJSON_ArrayForEach(x, out)
	{
		if (cdx_record_str_eq(x, "version", version))
			break;
		i++;
	}
	if (x && move)
		x = cJSON_DetachItemFromArray(out, i);
	if (!x) {
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "version", version);
		cJSON_AddStringToObject(x, "outcome", outcome);
		cJSON_AddItemToArray(out, x);
		return;
	}
	cJSON_ReplaceItemInObject(x, "outcome", cJSON_CreateString(outcome));
	if (move)
		cJSON_AddItemToArray(out, x);
}

/* the outcome of a deployment whose last state is STATE */
static const char *deploy_outcome(const char *state)
{
	if (strcmp(state, "succeeded") == 0)
		return "good";
	if (strcmp(state, "failed") == 0 || strcmp(state, "rolled_back") == 0 || strcmp(state, "rollback_failed") == 0)
		return "failed";
	return "incomplete"; /* interrupted (recovered or not), or still running */
}

cJSON *cdx_release_outcomes(const cJSON *hist)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *d;
	cJSON_ArrayForEach(d, hist)
	{
		const char *state = cdx_jsn(d, "state") ?: "", *version = cdx_jsn(d, "version"), *previous = cdx_jsn(d, "previous");
		if (!version)
			continue;
		if (cdx_record_str_eq(d, "kind", "deploy")) {
			outcome_set(out, version, deploy_outcome(state), true);
		} else if (cdx_record_str_eq(d, "kind", "rollback") && strcmp(state, "succeeded") == 0) {
			/* the version rolled back from is not wanted back (no flip-flopping) */
			if (previous && strcmp(previous, version) != 0 && cdx_release_outcome(out, previous))
				outcome_set(out, previous, "failed", false);
			outcome_set(out, version, "good", true);
		}
	}
	return out;
}

const char *cdx_release_outcome(const cJSON *outcomes, const char *version)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, outcomes) if (cdx_record_str_eq(x, "version", version)) return cdx_jsn(x, "outcome");
	return NULL;
}

bool cdx_release_in_use(const struct cdx_serving *sv, const char *previous, const char *name)
{
	size_t i;
	for (i = 0; i < sv->n; i++)
		if (sv->installed[i] && strcmp(sv->installed[i], name) == 0)
			return true;
	return (sv->version && strcmp(sv->version, name) == 0) || (previous && strcmp(previous, name) == 0);
}

int cdx_release_rank(const cJSON *outcomes, const char *name)
{
	const cJSON *x;
	int i = 0, n = cJSON_GetArraySize(outcomes);
	cJSON_ArrayForEach(x, outcomes)
	{
		i++;
		if (cdx_record_str_eq(x, "version", name))
			return cdx_record_str_eq(x, "outcome", "good") ? n + i : i;
	}
	return 0;
}

const char **cdx_release_prune_pick(char *const *names, size_t n, const struct cdx_serving *sv,
				    const char *previous, const cJSON *outcomes, int keep_releases)
{
	const char **gone = cdx_xcalloc(n + 1, sizeof(char *));
	int *rank = cdx_xcalloc(n + 1, sizeof(int));
	size_t i, j, used = 0, m = 0, keep;
	for (i = 0; i < n; i++) {
		if (cdx_release_in_use(sv, previous, names[i])) {
			used++;
			continue;
		}
		/* insertion by rank, first to go first (stable) */
		rank[m] = cdx_release_rank(outcomes, names[i]);
		gone[m] = names[i];
		for (j = m++; j > 0 && rank[j] < rank[j - 1]; j--) {
			int r = rank[j];
			const char *g = gone[j];
			rank[j] = rank[j - 1];
			gone[j] = gone[j - 1];
			rank[j - 1] = r;
			gone[j - 1] = g;
		}
	}
	/* the ones in use count towards keep_releases too */
	keep = (size_t)keep_releases > used ? (size_t)keep_releases - used : 0;
	gone[m > keep ? m - keep : 0] = NULL;
	free(rank);
	return gone;
}

struct first_ctx {
	const char *id;
	cJSON *first; /* the first transition of deployment id (a copy) */
};

static int first_one(void *ctx, const cJSON *rec)
{
	struct first_ctx *c = ctx;
	if (!c->first && cdx_record_is(rec, "transition") && cdx_record_str_eq(rec, "deployment", c->id))
		c->first = cJSON_Duplicate(rec, 1);
	return 0;
}

int cdx_deployment_before(struct cdx_orchestrator *o, const struct cdx_env *e, const char *id,
			  struct cdx_serving *sv, struct cdx_error *err)
{
	struct first_ctx c = {id, NULL};
	int found;
	cdx_serving_init(sv, e->n_targets);
	if (o->store->ops->scan(o->store, first_one, &c, err) < 0) {
		cJSON_Delete(c.first);
		return -1;
	}
	found = c.first != NULL;
	if (found)
		serving_from_json(e, cJSON_GetObjectItem(c.first, "serving"), sv);
	cJSON_Delete(c.first);
	return found;
}
