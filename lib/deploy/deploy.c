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
 * The strategies (strategies/) only sequence; this file gives them their
 * effects: hooks with the documented environment, the built-in local hook
 * set (releases/VERSION, slot links, an atomically switched `current`),
 * health checks (probe.c), analysis commands, pauses that `cdx promote`
 * and `cdx abort` interrupt (SIGUSR1, SIGUSR2 to the lock holder), and
 * cancellation by SIGINT/SIGTERM, which aborts and rolls back.
 */
#include "deploy/deploy.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state/history.h"
#include "base/map.h"
#include "deploy/probe.h"

/* a deployment's lock lives this long without renewal (Redis); renewed at
 * every pause step and a third of it into a running hook */
#define LOCK_TTL_MS 30000

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

/* ---- serving snapshots ------------------------------------------------------ */

static cJSON *serving_json(const struct cdx_env *e, const struct cdx_serving *sv)
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

static int target_index(const struct cdx_env *e, const char *name)
{
	size_t i;
	for (i = 0; name && i < e->n_targets; i++)
		if (strcmp(e->targets[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void serving_from_json(const struct cdx_env *e, const cJSON *o, struct cdx_serving *sv)
{
	const cJSON *t, *x;
	size_t i;
	cdx_serving_free(sv);
	cdx_serving_init(sv, e->n_targets);
	cdx_serving_set(&sv->version, cJSON_GetStringValue(cJSON_GetObjectItem(o, "version")));
	sv->active = target_index(e, cJSON_GetStringValue(cJSON_GetObjectItem(o, "slot")));
	sv->canary = target_index(e, cJSON_GetStringValue(cJSON_GetObjectItem(o, "canary")));
	x = cJSON_GetObjectItem(o, "weight");
	sv->weight = cJSON_IsNumber(x) ? (int)x->valuedouble : 0;
	t = cJSON_GetObjectItem(o, e->instances ? "instances" : "slots");
	for (i = 0; i < sv->n; i++)
		cdx_serving_set(&sv->installed[i],
				cJSON_GetStringValue(cJSON_GetObjectItem(t, e->targets[i].name)));
}

static bool rec_is(const cJSON *rec, const char *type)
{
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "t"));
	return t && strcmp(t, type) == 0;
}

static bool rec_str_eq(const cJSON *rec, const char *key, const char *want)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(rec, key));
	return v && want && strcmp(v, want) == 0;
}

struct replay_ctx {
	const struct cdx_env *e;
	cJSON *last; /* the last transition of the environment (a copy) */
};

static int replay_one(void *ctx, const cJSON *rec)
{
	struct replay_ctx *c = ctx;
	if (!rec_is(rec, "transition") || !rec_str_eq(rec, "app", c->e->app->name) ||
	    !rec_str_eq(rec, "env", c->e->name))
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
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(t, "state"));
	size_t i;
	if (!state)
		return true;
	/* failed is final only when it holds for a person (frozen, on_failure: manual) */
	if (strcmp(state, "failed") == 0)
		return cJSON_IsTrue(cJSON_GetObjectItem(t, "hold"));
	for (i = 0; i < CDX_ARRAY_LEN(finals); i++)
		if (strcmp(state, finals[i]) == 0)
			return true;
	return false;
}

/* ---- records ------------------------------------------------------------------ */

int cdx_dctx_record(struct cdx_dctx *d, const char *state, const char *msg, const char *cause)
{
	return cdx_dctx_record_hold(d, state, msg, cause, false);
}

int cdx_dctx_record_hold(struct cdx_dctx *d, const char *state, const char *msg, const char *cause, bool hold)
{
	struct cdx_error err = {0};
	cJSON *rec = cJSON_CreateObject();
	int rc;
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
	cJSON_AddItemToObject(rec, "serving", serving_json(d->e, d->sv));
	rc = d->o->store->ops->append_fenced(d->o->store, d->lock, d->token, rec, &err);
	cJSON_Delete(rec);
	if (rc == 1) {
		d->lost = true;
		fprintf(stderr, "cdx: %s/%s: the lock was lost; stopping before: %s\n", d->e->app->name, d->e->name,
			msg ? msg : state);
		return -1;
	}
	if (rc < 0) {
		fprintf(stderr, "cdx: cannot record the deployment: %s\n", err.msg);
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
		fprintf(d->progress, "cdx %s %s/%s %s: %s%s%s\n", d->kind, d->e->app->name, d->e->name, d->version,
			state, msg ? ": " : "", msg ? msg : "");
	return 0;
}

int cdx_dctx_lock(struct cdx_dctx *d, long long wait_ms, struct cdx_error *err)
{
	cJSON *h = cJSON_CreateObject(), *cur = NULL;
	int rc;
	snprintf(d->lock, sizeof(d->lock), "deploy:%s:%s", d->e->app->name, d->e->name);
	/* a promote or abort aimed at us as soon as we hold the lock must not
	 * kill us (SIGUSR1/2 terminate by default); SIGINT still stops a wait */
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	cJSON_AddStringToObject(h, "user", d->o->user);
	cJSON_AddStringToObject(h, "host", d->o->host);
	cJSON_AddNumberToObject(h, "pid", (double)getpid());
	cJSON_AddNumberToObject(h, "pid_start", (double)cdx_process_start_time((int)getpid()));
	cJSON_AddStringToObject(h, "deployment", d->id);
	cJSON_AddStringToObject(h, "kind", d->kind);
	cJSON_AddStringToObject(h, "version", d->version);
	cJSON_AddNumberToObject(h, "since_ms", (double)cdx_wall_ms());
	rc = d->o->store->ops->lock(d->o->store, d->lock, h, LOCK_TTL_MS, wait_ms, &d->token, &cur, err);
	if (rc == 1 && wait_ms == 0 && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cur, "kind")) ?: "", "scale_down") == 0) {
		/* housekeeping holds it for a moment: not a reason to say busy */
		cJSON_Delete(cur);
		cur = NULL;
		rc = d->o->store->ops->lock(d->o->store, d->lock, h, LOCK_TTL_MS, 30000, &d->token, &cur, err);
	}
	cJSON_Delete(h);
	if (rc == 1) {
		const cJSON *since = cJSON_GetObjectItem(cur, "since_ms");
		long long ago = cJSON_IsNumber(since) ? (cdx_wall_ms() - (long long)since->valuedouble) / 1000 : -1;
		cdx_error_set(err, CDX_EBUSY,
			      "%s/%s is busy: %s of %s by %s@%s (pid %d, deployment %s) started %llds ago",
			      d->e->app->name, d->e->name,
			      cJSON_GetStringValue(cJSON_GetObjectItem(cur, "kind")) ?: "a deployment",
			      cJSON_GetStringValue(cJSON_GetObjectItem(cur, "version")) ?: "?",
			      cJSON_GetStringValue(cJSON_GetObjectItem(cur, "user")) ?: "?",
			      cJSON_GetStringValue(cJSON_GetObjectItem(cur, "host")) ?: "?",
			      (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cur, "pid")),
			      cJSON_GetStringValue(cJSON_GetObjectItem(cur, "deployment")) ?: "?", ago);
		cJSON_Delete(cur);
		return CDX_EBUSY;
	}
	cJSON_Delete(cur);
	return rc < 0 ? (err->code ? err->code : CDX_ESTATE) : 0;
}

void cdx_dctx_unlock(struct cdx_dctx *d)
{
	struct cdx_error err = {0};
	if (d->token)
		d->o->store->ops->unlock(d->o->store, d->lock, d->token, &err);
	d->token = 0;
}

/* ---- the local hook set -------------------------------------------------------- */

static char *release_dir(const struct cdx_env *e, const char *version)
{
	return cdx_xasprintf("%s/releases/%s", e->deploy_to, version);
}

/* LINK -> TARGET, replaced atomically (a new link renamed over the old) */
static int swap_link(const char *target, const char *link, struct cdx_error *err)
{
	char *tmp = cdx_xasprintf("%s.new.%d", link, (int)getpid());
	int rc = 0;
	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
		rc = cdx_error_set(err, CDX_EFAILED, "cannot point %s at %s: %s", link, target, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

void cdx_local_current(const struct cdx_env *e, const char *version)
{
	struct cdx_error err = {0};
	char *link = cdx_xasprintf("%s/current", e->deploy_to), *rel;
	if (!version) {
		unlink(link);
		free(link);
		return;
	}
	rel = cdx_xasprintf("releases/%s", version);
	swap_link(rel, link, &err);
	free(rel);
	free(link);
}

/* releases/VERSION: a copy of the artifact, or a directory with a VERSION file */
static int local_release(struct cdx_dctx *d, const char *version, const struct cdx_envv *env,
			 struct cdx_error *err)
{
	char *dir = release_dir(d->e, version), *parent = cdx_xasprintf("%s/releases", d->e->deploy_to);
	char *tmp = cdx_xasprintf("%s.tmp.%d", dir, (int)getpid());
	struct stat st;
	int rc = 0;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		goto out; /* already there: a redeploy or a rollback */
	if (cdx_mkdirs(parent) < 0) {
		rc = cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", parent, strerror(errno));
		goto out;
	}
	if (d->e->artifact) {
		struct cdx_envv ce = {0};
		char *src = cdx_expand(d->e->artifact, env);
		int status = 0;
		cdx_envv_from_environ(&ce);
		/* paths travel as variables, never inside the command text */
		cdx_envv_set(&ce, "CDX_SRC", src);
		cdx_envv_set(&ce, "CDX_TMP", tmp);
		cdx_envv_set(&ce, "CDX_DST", dir);
		if (stat(src, &st) < 0) {
			char *abs = cdx_xasprintf("%s/%s", d->o->apps->dir, src);
			bool there = stat(abs, &st) == 0;
			free(abs);
			if (!there) {
				rc = cdx_error_set(err, CDX_EFAILED, "artifact %s of version %s does not exist", src,
						   version);
				free(src);
				cdx_envv_free(&ce);
				goto out;
			}
		}
		/* a directory's content, or a file, into releases/VERSION/ */
		if (cdx_hook_run("rm -rf \"$CDX_TMP\" && mkdir -p \"$CDX_TMP\" && if [ -d \"$CDX_SRC\" ]; then cp -R -- "
				 "\"$CDX_SRC/.\" \"$CDX_TMP/\"; else cp -- \"$CDX_SRC\" \"$CDX_TMP/\"; fi && mv -- "
				 "\"$CDX_TMP\" \"$CDX_DST\"",
				 ce.v, d->o->apps->dir, 0, NULL, NULL, 0, &status, err) < 0 ||
		    status != 0) {
			if (status)
				rc = cdx_error_set(err, CDX_EFAILED, "cannot copy artifact %s into %s (status %d)", src,
						   dir, status);
			else
				rc = -1;
		}
		free(src);
		cdx_envv_free(&ce);
	} else {
		char *vf = cdx_xasprintf("%s/VERSION", tmp);
		FILE *f;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
			rc = cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", tmp, strerror(errno));
		} else if (!(f = fopen(vf, "w")) || fprintf(f, "%s\n", version) < 0 || fclose(f) != 0) {
			rc = cdx_error_set(err, CDX_EFAILED, "cannot write %s", vf);
		} else if (rename(tmp, dir) < 0) {
			rc = cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", dir, strerror(errno));
		}
		free(vf);
	}
out:
	free(dir);
	free(parent);
	free(tmp);
	return rc;
}

/* keep the newest keep_releases releases, and every one a link points at */
static void local_prune(const struct cdx_dctx *d)
{
	char *parent = cdx_xasprintf("%s/releases", d->e->deploy_to);
	DIR *dir = opendir(parent);
	struct dirent *de;
	struct rel {
		char *name;
		time_t mtime;
	} *rels = NULL;
	size_t n = 0, cap = 0, i, j;
	if (!dir) {
		free(parent);
		return;
	}
	while ((de = readdir(dir))) {
		struct stat st;
		char *p;
		bool used = false;
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp."))
			continue;
		for (i = 0; i < d->sv->n; i++)
			if (d->sv->installed[i] && strcmp(d->sv->installed[i], de->d_name) == 0)
				used = true;
		if ((d->sv->version && strcmp(d->sv->version, de->d_name) == 0) ||
		    (d->previous && strcmp(d->previous, de->d_name) == 0))
			used = true;
		if (used)
			continue;
		p = cdx_xasprintf("%s/%s", parent, de->d_name);
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			cdx_grow(&rels, &cap, n + 1, sizeof(*rels));
			rels[n].name = cdx_xstrdup(de->d_name);
			rels[n++].mtime = st.st_mtime;
		}
		free(p);
	}
	closedir(dir);
	/* newest first */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && rels[j].mtime > rels[j - 1].mtime; j--) {
			struct rel t = rels[j];
			rels[j] = rels[j - 1];
			rels[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		/* the ones in use count towards keep_releases too */
		if (i + 2 >= (size_t)d->e->keep_releases) {
			struct cdx_error err = {0};
			int status;
			struct cdx_envv ce;
			char *p = cdx_xasprintf("%s/%s", parent, rels[i].name);
			cdx_envv_from_environ(&ce);
			cdx_envv_set(&ce, "CDX_OLD", p);
			cdx_hook_run("rm -rf -- \"$CDX_OLD\"", ce.v, NULL, 0, NULL, NULL, 0, &status, &err);
			cdx_envv_free(&ce);
			free(p);
		}
		free(rels[i].name);
	}
	free(rels);
	free(parent);
}

/* ---- hooks and checks ----------------------------------------------------------- */

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
		char *rd = release_dir(e, version);
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
}

/* keep the lock while a hook or analysis runs (a Redis lock has a TTL);
 * a lost lock is noticed here and the next record refuses to go on */
static void renew_tick(void *ctx)
{
	struct cdx_dctx *d = ctx;
	struct cdx_error err = {0};
	if (!d->lost && d->o->store->ops->renew(d->o->store, d->lock, d->token, LOCK_TTL_MS, &err) == 1)
		d->lost = true;
}

static int io_record(void *ctx, const struct cdx_serving *sv, const char *state, const char *msg)
{
	struct cdx_dctx *d = ctx;
	(void)sv;
	if (d->lost)
		return -1;
	if (cdx_deploy_abort && strcmp(state, "rolling_back") != 0)
		return -1;
	if (cdx_deploy_cancel && strcmp(state, "rolling_back") != 0)
		return -1;
	return cdx_dctx_record(d, state, msg, NULL);
}

static int io_hook(void *ctx, enum cdx_hook_id h, int t, const char *version, int weight, struct cdx_error *err)
{
	struct cdx_dctx *d = ctx;
	const struct cdx_hook *hk = &d->e->hooks[h];
	struct cdx_envv ce;
	int status = 0, rc = 0;
	hook_env(d, t, version, weight, &ce);
	if (h == CDX_HOOK_DEPLOY && version && local_release(d, version, &ce, err) < 0) {
		cdx_envv_free(&ce);
		return -1;
	}
	if (hk->cmd) {
		if (cdx_hook_run_tick(hk->cmd, ce.v, d->o->apps->dir, hk->timeout_ms, &cdx_deploy_cancel, NULL, 0,
				      &status, renew_tick, d, LOCK_TTL_MS / 3, err) < 0) {
			rc = -1;
		} else if (status != 0) {
			rc = cdx_error_set(err, CDX_EFAILED, "%s hook%s%s failed: %s %d", cdx_hook_name(h),
					   t >= 0 ? " on " : "", t >= 0 ? d->e->targets[t].name : "",
					   status == CDX_HOOK_TIMEDOUT ? "timed out, status" : "exit status", status);
		} else if (hk->irreversible) {
			d->sv->irreversible_done = true;
		}
	}
	if (rc == 0 && t >= 0 && version && (h == CDX_HOOK_DEPLOY)) {
		char *link = cdx_xasprintf("%s/%s", d->e->deploy_to, d->e->instances ? "instances" : "slots");
		char *name = cdx_xasprintf("%s/%s", link, d->e->targets[t].name);
		char *to = cdx_xasprintf("../releases/%s", version);
		if (cdx_mkdirs(link) == 0)
			swap_link(to, name, err);
		free(link);
		free(name);
		free(to);
	}
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
	/* a canary's checks see the share of traffic it has */
	hook_env(d, t, version, t >= 0 && t == d->sv->canary ? d->sv->weight : 0, &ce);
	for (i = 0; i < d->e->n_checks && rc == 0; i++) {
		const struct cdx_check *ck = &d->e->checks[i];
		struct cdx_probe_result r;
		cdx_probe(ck, &ce, d->o->apps->dir, &cdx_deploy_cancel, &r);
		renew_tick(d);
		record_check(d, t, ck, &r);
		if (!r.ok)
			rc = cdx_error_set(err, CDX_EFAILED, "health check %s failed %d/%d on %s %s: %s", r.target,
					   r.attempts, ck->attempts, d->e->instances ? "instance" : "slot",
					   t >= 0 ? d->e->targets[t].name : "?", r.detail);
		free(r.target);
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
			      &status, renew_tick, d, LOCK_TTL_MS / 3, err) < 0) {
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
	record_check(d, t, NULL, &r);
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
		nanosleep(&ts, NULL);
		if (cdx_now_ns() / 1000000 - renewed >= LOCK_TTL_MS / 3) {
			renewed = cdx_now_ns() / 1000000;
			if (d->o->store->ops->renew(d->o->store, d->lock, d->token, LOCK_TTL_MS, &err) == 1) {
				d->lost = true;
				return CDX_PAUSE_ABORT;
			}
		}
	}
	return CDX_PAUSE_DONE;
}

void cdx_dctx_io(struct cdx_dctx *d, struct cdx_strategy_io *io)
{
	io->ctx = d;
	io->record = io_record;
	io->hook = io_hook;
	io->health = io_health;
	io->analysis = io_analysis;
	io->pause = io_pause;
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
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "id"));
	size_t v;
	if (!id)
		return 0;
	if (rec_is(rec, "run") && rec_str_eq(rec, "pipeline", c->pipeline) && rec_str_eq(rec, "version", c->version)) {
		cJSON *kept = cJSON_CreateString(id);
		cJSON_AddItemToArray(c->ids, kept);
		cdx_map_set(&c->runs, kept->valuestring, 1);
	}
	else if (rec_is(rec, "run_end") && rec_str_eq(rec, "status", "success") && cdx_map_get(&c->runs, id, &v) == 1)
		c->ok = true;
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

/* ---- cdx_deploy ------------------------------------------------------------------------- */

static cJSON *deployment_record(const struct cdx_dctx *d, const char *strategy, const char *reason)
{
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "deployment");
	cJSON_AddStringToObject(rec, "id", d->id);
	cJSON_AddStringToObject(rec, "kind", d->kind);
	cJSON_AddStringToObject(rec, "app", d->e->app->name);
	cJSON_AddStringToObject(rec, "env", d->e->name);
	cJSON_AddStringToObject(rec, "version", d->version);
	if (d->previous)
		cJSON_AddStringToObject(rec, "previous", d->previous);
	else
		cJSON_AddNullToObject(rec, "previous");
	cJSON_AddStringToObject(rec, "strategy", strategy);
	cJSON_AddStringToObject(rec, "user", d->o->user);
	cJSON_AddStringToObject(rec, "host", d->o->host);
	cJSON_AddNumberToObject(rec, "pid", (double)getpid());
	cJSON_AddNumberToObject(rec, "pid_start", (double)cdx_process_start_time((int)getpid()));
	cJSON_AddNumberToObject(rec, "start_ms", (double)d->start_ms);
	cJSON_AddNumberToObject(rec, "token", (double)d->token);
	if (reason)
		cJSON_AddStringToObject(rec, "reason", reason);
	return rec;
}

int cdx_deployment_begin(struct cdx_dctx *d, const char *strategy, const char *reason, struct cdx_error *err)
{
	cJSON *rec = deployment_record(d, strategy, reason);
	int rc = d->o->store->ops->append_fenced(d->o->store, d->lock, d->token, rec, err);
	cJSON_Delete(rec);
	if (rc == 1)
		return cdx_error_set(err, CDX_EBUSY, "lost the lock of %s/%s before starting", d->e->app->name,
				     d->e->name);
	return rc < 0 ? -1 : 0;
}

static cJSON *result_json(const struct cdx_dctx *d, const char *state, const char *cause)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "kind", d->kind);
	cJSON_AddStringToObject(o, "app", d->e->app->name);
	cJSON_AddStringToObject(o, "env", d->e->name);
	cJSON_AddStringToObject(o, "version", d->version);
	if (d->previous)
		cJSON_AddStringToObject(o, "previous", d->previous);
	else
		cJSON_AddNullToObject(o, "previous");
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

int cdx_deploy(struct cdx_orchestrator *o, const char *app, const char *env, const char *version,
	       const struct cdx_deploy_options *opt, cJSON **result, struct cdx_error *err)
{
	struct cdx_deploy_options none = {0};
	struct cdx_dctx d;
	struct cdx_serving sv, before;
	struct cdx_strategy_io io;
	const struct cdx_strategy *strat;
	enum cdx_strategy_kind kind;
	const struct cdx_env *e;
	cJSON *last = NULL;
	bool interrupted = false;
	int rc, status = CDX_EFAILED;
	char cause[CDX_ERRMAX + 32] = "";

	*result = NULL;
	if (!opt)
		opt = &none;
	e = cdx_apps_find(o->apps, app, env, err);
	if (!e)
		return CDX_EUSAGE;
	if (!cdx_version_valid(version)) {
		cdx_error_set(err, CDX_EUSAGE,
			      "version '%s' is invalid: use 1 to 128 characters from A-Z a-z 0-9 _ . + -, not starting "
			      "with . or -",
			      version);
		return CDX_EUSAGE;
	}
	kind = e->strategy;
	if (opt->strategy && cdx_strategy_parse(opt->strategy, &kind) < 0) {
		cdx_error_set(err, CDX_EUSAGE, "unknown strategy '%s' (use blue_green, canary or rolling)",
			      opt->strategy);
		return CDX_EUSAGE;
	}
	if ((kind == CDX_STRATEGY_ROLLING) != e->instances) {
		cdx_error_set(err, CDX_EUSAGE, "strategy %s cannot deploy %s/%s, which has %s", cdx_strategy_name(kind),
			      app, env, e->instances ? "instances" : "slots");
		return CDX_EUSAGE;
	}
	if (e->protected && !opt->confirmed) {
		cdx_error_set(err, CDX_EUSAGE, "%s/%s is protected: confirm with --yes or CDX_CONFIRM=1", app, env);
		return CDX_EUSAGE;
	}
	if (check_requires(o, e, version, err) < 0)
		return err->code ? err->code : CDX_ESTATE;
	strat = cdx_strategy_for(kind);

	memset(&d, 0, sizeof(d));
	d.o = o;
	d.e = e;
	d.kind = "deploy";
	d.strategy = cdx_strategy_name(kind);
	d.version = version;
	d.progress = opt->progress;
	cdx_run_id_new(d.id, sizeof(d.id));
	rc = cdx_dctx_lock(&d, opt->wait_ms, err);
	if (rc)
		return rc;
	cdx_deploy_signals(true);
	/* an interrupted deployment must be dealt with first */
	if (cdx_env_replay(o, e, &sv, &last, err) < 0) {
		cdx_deploy_signals(false);
		cdx_dctx_unlock(&d);
		return CDX_ESTATE;
	}
	if (last && !cdx_transition_final(last)) {
		/* its holder is gone (we hold the lock): put it right first */
		if (cdx_recover_env(&d, &sv, last, err) != 0) {
			cJSON_Delete(last);
			cdx_serving_free(&sv);
			cdx_deploy_signals(false);
			cdx_dctx_unlock(&d);
			return CDX_EFAILED;
		}
	}
	cJSON_Delete(last);
	d.sv = &sv;
	cdx_serving_copy(&before, &sv);
	d.previous = before.version; /* sv.version changes as the strategy goes */
	d.start_ms = cdx_wall_ms();
	if (cdx_deployment_begin(&d, cdx_strategy_name(kind), opt->reason, err) < 0 ||
	    cdx_dctx_record(&d, "pending", before.version ? "from the version serving now" : "first deployment",
			    NULL) < 0) {
		status = err->code ? err->code : CDX_ESTATE;
		goto out;
	}
	cdx_dctx_io(&d, &io);
	rc = strat->deploy(e, &sv, version, &io, err);
	if (rc == 0) {
		cdx_local_current(e, sv.version);
		local_prune(&d);
		if (e->hooks[CDX_HOOK_CLEANUP].cmd)
			io_hook(&d, CDX_HOOK_CLEANUP, -1, version, 0, err);
		if (cdx_dctx_record(&d, "succeeded", NULL, NULL) < 0) {
			status = CDX_ESTATE;
			goto out;
		}
		*result = result_json(&d, "succeeded", NULL);
		/* the slot that served before stays warm for scale_down_delay */
		if (!e->instances && before.active >= 0 && before.active != sv.active && before.installed[before.active]) {
			cJSON *sd = cJSON_AddObjectToObject(*result, "scale_down");
			cJSON_AddStringToObject(sd, "slot", e->targets[before.active].name);
			cJSON_AddStringToObject(sd, "version", before.installed[before.active]);
			cJSON_AddNumberToObject(sd, "delay_ms", (double)e->scale_down_delay_ms);
		}
		status = CDX_OK;
		goto out;
	}
	if (d.lost) {
		/* fail closed: no further step, the next holder finds the trace */
		snprintf(cause, sizeof(cause), "lost the lock: %s", err->msg);
		*result = result_json(&d, d.state ? d.state : "pending", cause);
		status = CDX_EFAILED;
		goto out;
	}
	interrupted = cdx_deploy_cancel;
	if (cdx_deploy_cancel)
		snprintf(cause, sizeof(cause), "interrupted: %s", err->msg);
	else if (cdx_deploy_abort)
		snprintf(cause, sizeof(cause), "aborted: %s", err->msg);
	else
		snprintf(cause, sizeof(cause), "%s", err->msg);
	cdx_deploy_cancel = cdx_deploy_abort = 0; /* the rollback itself must run */
	if (cdx_dctx_record_hold(&d, "failed", NULL, cause, sv.irreversible_done || !e->auto_rollback) < 0) {
		status = CDX_ESTATE;
		goto out;
	}
	if (sv.irreversible_done) {
		raise_event(&d, "deployment_frozen", cause);
		cdx_error_set(err, CDX_EFAILED,
			      "%s/%s %s failed after an irreversible step and is frozen (not rolled back): %s", app, env,
			      version, cause);
		*result = result_json(&d, "failed", cause);
		status = CDX_EFAILED;
		goto out;
	}
	if (!e->auto_rollback) {
		cdx_error_set(err, CDX_EFAILED, "%s/%s %s failed: %s; left as it is (on_failure: manual)", app, env,
			      version, cause);
		*result = result_json(&d, "failed", cause);
		status = CDX_EFAILED;
		goto out;
	}
	{
		struct cdx_error rerr = {0};
		if (cdx_dctx_record(&d, "rolling_back", before.version ? before.version : "nothing served before",
				    NULL) < 0 ||
		    strat->revert(e, &sv, &before, &io, &rerr) != 0) {
			cdx_dctx_record(&d, "rollback_failed", NULL, rerr.msg);
			raise_event(&d, "rollback_failed", rerr.msg);
			cdx_error_set(err, CDX_EFAILED, "%s/%s %s failed (%s) and the rollback failed too: %s", app, env,
				      version, cause, rerr.msg);
			*result = result_json(&d, "rollback_failed", cause);
			status = CDX_EFAILED;
			goto out;
		}
		cdx_local_current(e, sv.version);
		cdx_dctx_record(&d, "rolled_back", sv.version ? sv.version : "nothing serves", cause);
		raise_event(&d, "rolled_back", cause);
		cdx_error_set(err, CDX_EFAILED, "%s/%s %s failed: %s; rolled back, %s", app, env, version, cause,
			      sv.version ? "now serving" : "nothing served before, nothing serves now");
		if (sv.version) {
			size_t l = strlen(err->msg);
			snprintf(err->msg + l, sizeof(err->msg) - l, " %s", sv.version);
		}
		*result = result_json(&d, "rolled_back", cause);
		status = interrupted ? CDX_EINTR : CDX_EFAILED;
	}
out:
	cdx_deploy_signals(false);
	cdx_dctx_unlock(&d);
	cdx_serving_free(&before);
	cdx_serving_free(&sv);
	return status;
}

int cdx_scale_down(struct cdx_orchestrator *o, const char *app, const char *env, const char *slot,
		   const char *version, struct cdx_error *err)
{
	const struct cdx_env *e = cdx_apps_find(o->apps, app, env, err);
	struct cdx_serving sv;
	struct cdx_dctx d;
	cJSON *last = NULL;
	char msg[200];
	int t, rc;
	if (!e)
		return -1;
	t = target_index(e, slot);
	if (t < 0 || e->instances)
		return cdx_error_set(err, CDX_EUSAGE, "%s/%s has no slot '%s'", app, env, slot);
	memset(&d, 0, sizeof(d));
	d.o = o;
	d.e = e;
	d.kind = "scale_down";
	d.version = version;
	snprintf(d.id, sizeof(d.id), "scale-down");
	rc = cdx_dctx_lock(&d, 60000, err);
	if (rc == CDX_EBUSY)
		return 1; /* a deployment runs: it owns the slots now */
	if (rc)
		return -1;
	if (cdx_env_replay(o, e, &sv, &last, err) < 0) {
		cdx_dctx_unlock(&d);
		return -1;
	}
	rc = 1;
	/* only if the slot still holds that version and takes no traffic */
	if (last && cdx_transition_final(last) && t != sv.active && t != sv.canary && sv.installed[t] &&
	    strcmp(sv.installed[t], version) == 0) {
		struct cdx_strategy_io io;
		snprintf(d.id, sizeof(d.id), "%s", cJSON_GetStringValue(cJSON_GetObjectItem(last, "deployment")) ?: "?");
		d.sv = &sv;
		cdx_dctx_io(&d, &io);
		if (io.hook(io.ctx, CDX_HOOK_STOP, t, version, 0, err) == 0) {
			cdx_serving_set(&sv.installed[t], NULL);
			snprintf(msg, sizeof(msg), "scaled down slot %s (%s) after scale_down_delay", slot, version);
			rc = cdx_dctx_record(&d, cJSON_GetStringValue(cJSON_GetObjectItem(last, "state")), msg, NULL) < 0
				     ? -1
				     : 0;
		} else {
			rc = -1;
		}
	}
	cJSON_Delete(last);
	cdx_serving_free(&sv);
	cdx_dctx_unlock(&d);
	return rc;
}
