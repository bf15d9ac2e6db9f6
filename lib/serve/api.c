/* api.c — cdx serve's JSON: /api/... and /metrics, and the actions.
 *
 * Every read answers with what the CLI's --json prints, built by the same
 * library function: /api/runs = cdx runs --json (cdx_runs_list),
 * /api/runs/RUN = cdx status RUN --json (cdx_run_load), /api/pipelines/NAME
 * = cdx health NAME --json without evaluating alerts (cdx_monitor_health),
 * /api/deployments = cdx deployments --json (cdx_deployments_list),
 * /api/deployments/APP/ENV = cdx history APP ENV --json
 * (cdx_rollback_history), /metrics = cdx metrics --prometheus
 * (cdx_monitor_metrics).  /api/alerts folds the store's alert events.
 *
 * Actions are POST only and need the token (auth.c); they call the
 * library functions the commands call (cdx_deploy_control for promote and
 * abort, cdx_rollback), one at a time, and each is logged with who did it.
 * Cancelling a run signals its cdx process (SIGTERM, what Ctrl-C does) when
 * that process runs on this host, and records an event of kind "cancel"
 * with who asked.
 */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "deploy/orchestrator.h"
#include "base/pack.h"
#include "exec/pool.h"
#include "state/artifacts.h"
#include "serve/http.h"
#include "serve/serve.h"
#include "state/store.h"

cJSON *srv_api_runs(struct srv *s, const char *pipeline, size_t limit, struct cdx_error *err)
{
	return cdx_runs_list(s->state, pipeline, limit, err);
}

cJSON *srv_api_run(struct srv *s, const char *run, struct cdx_error *err)
{
	return cdx_run_load(s->state, run, err);
}

cJSON *srv_api_pipeline(struct srv *s, const char *pipeline, struct cdx_error *err)
{
	struct cdx_project *pr = NULL;
	cJSON *h;
	if (access(s->config, F_OK) == 0) {
		struct cdx_diags *d = cdx_diags_new();
		pr = cdx_project_load(s->config, d);
		cdx_diags_free(d);
	}
	h = cdx_monitor_health(s->state, pipeline, pr, 0, err);
	cdx_project_free(pr);
	return h;
}

static struct cdx_orchestrator *orch(struct srv *s, struct cdx_error *err)
{
	struct cdx_orchestrator *o = NULL;
	if (access(s->config, F_OK) != 0) {
		cdx_error_set(err, CDX_EUSAGE, "no project file %s: no applications to deploy", s->config);
		return NULL;
	}
	if (cdx_orchestrator_open(s->config, s->state, &o, err) < 0)
		return NULL;
	return o;
}

cJSON *srv_api_deployments(struct srv *s, struct cdx_error *err)
{
	struct cdx_orchestrator *o = orch(s, err);
	cJSON *arr;
	if (!o)
		return NULL;
	arr = cdx_deployments_list(o, NULL, NULL, 200, err);
	cdx_orchestrator_free(o);
	return arr;
}

cJSON *srv_api_environment(struct srv *s, const char *app, const char *env, struct cdx_error *err)
{
	struct cdx_orchestrator *o = orch(s, err);
	cJSON *arr;
	if (!o)
		return NULL;
	arr = cdx_rollback_history(o, app, env, err);
	cdx_orchestrator_free(o);
	return arr;
}

/* ---- artifacts ------------------------------------------------------------ */

struct art_ctx {
	const char *want;  /* a file's path, or NULL: list them */
	cJSON *files;      /* the list */
	struct cdx_buf *out; /* the wanted file's bytes */
	bool found;
};

static int art_entry(void *ctx, const struct cdx_pack_entry *e, struct cdx_error *err)
{
	struct art_ctx *a = ctx;
	(void)err;
	if (a->want) {
		if (e->type == 'f' && strcmp(e->path, a->want) == 0) {
			cdx_buf_add(a->out, e->data, (size_t)e->size);
			a->found = true;
		}
		return 0;
	}
	if (e->type != 'd') {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", e->path);
		cJSON_AddStringToObject(o, "type", e->type == 'f' ? "file" : "symlink");
		cJSON_AddNumberToObject(o, "size", (double)e->size);
		cJSON_AddItemToArray(a->files, o);
	}
	return 0;
}

/* the archive of JOB of RUN read through A; 0, or an enum cdx_status */
static int art_read(struct srv *s, const char *run, const char *job, struct art_ctx *a, struct cdx_error *err)
{
	struct cdx_store *st = NULL;
	void *data = NULL;
	size_t len = 0;
	int rc;
	enum cdx_open_result o = cdx_store_open_read(s->state, &st, err);
	if (o != CDX_OPEN_OK) {
		if (o != CDX_OPEN_ERROR)
			cdx_error_set(err, CDX_EFAILED, "no artifacts: the store is empty");
		return err->code;
	}
	rc = cdx_artifacts_fetch(st, run, job, 0, &data, &len, NULL, err) < 0 ||
			     cdx_pack_read(data, len, NULL, art_entry, a, NULL, err) < 0
		     ? err->code
		     : 0;
	free(data);
	cdx_store_close(st);
	return rc;
}

cJSON *srv_api_artifacts(struct srv *s, const char *run, const char *job, struct cdx_error *err)
{
	struct art_ctx a = {.files = cJSON_CreateArray()};
	if (art_read(s, run, job, &a, err)) {
		cJSON_Delete(a.files);
		return NULL;
	}
	return a.files;
}

/* GET /api/runs/RUN/artifacts/STAGE/JOB[?path=P]: the list, or file P */
static void artifacts_route(struct srv_req *q, struct srv_reply *r)
{
	struct cdx_error err = {0};
	char job[160];
	const char *path = srv_query(q, "path");
	snprintf(job, sizeof(job), "%s/%s", q->seg[4], q->seg[5]);
	if (!path) {
		cJSON *o = srv_api_artifacts(q->srv, q->seg[2], job, &err);
		if (o)
			srv_json(r, 200, o);
		else
			srv_error_json(r, err.code == CDX_ESTATE ? 503 : 404, "%s", err.msg);
		return;
	}
	{
		struct art_ctx a = {.want = path, .out = &r->body};
		const char *base = strrchr(path, '/');
		if (art_read(q->srv, q->seg[2], job, &a, &err)) {
			srv_error_json(r, err.code == CDX_ESTATE ? 503 : 404, "%s", err.msg);
			return;
		}
		if (!a.found) {
			srv_error_json(r, 404, "job %s of run %s kept no file %s", job, q->seg[2], path);
			return;
		}
		r->status = 200;
		r->type = "application/octet-stream";
		r->attachment = cdx_xstrdup(base ? base + 1 : path);
	}
}

/* srv_api_workers: what `cdx workers --json` prints (the pool's workers;
 * a state other than redis:// has no pool: CDX_EUSAGE, a 404) */
cJSON *srv_api_workers(struct srv *s, struct cdx_error *err)
{
	if (strncmp(s->state, "redis://", 8) != 0 && strncmp(s->state, "rediss://", 9) != 0) {
		cdx_error_set(err, CDX_EUSAGE, "no worker pool: the pool needs a redis:// state");
		return NULL;
	}
	return cdx_pool_workers(s->state, err);
}

/* ---- manual jobs --------------------------------------------------------
 * play_job: start manual job STAGE/JOB of RUN as `cdx play` does for a run
 * that goes on: a play record the run reads (exec/run.c) and then starts
 * the job.  A run that has ended needs its workspace to run the job in:
 * that is `cdx play` on a machine that has it (CDX_EBUSY, a 409); no such
 * job: CDX_EUSAGE, a 404.  0, or
 * the enum cdx_status with ERR set. */
static int play_job(struct srv *s, const char *run, const char *stage, const char *job, const char *who,
		    struct cdx_error *err)
{
	char id[160];
	cJSON *r = cdx_run_load(s->state, run, err), *rec;
	const cJSON *it;
	const char *st = NULL;
	struct cdx_store *store = NULL;
	int rc;
	if (!r)
		return err->code;
	snprintf(id, sizeof(id), "%s/%s", stage, job);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "jobs"))
		if (strcmp(cdx_js(it, "id"), id) == 0)
			st = cdx_js(it, "status");
	if (!st || strcmp(st, "manual") != 0) {
		cJSON_Delete(r);
		cdx_error_set(err, CDX_EUSAGE, "%s of run %s is no manual job waiting to be played", id, run);
		return CDX_EUSAGE;
	}
	if (strcmp(cdx_js(r, "status"), "running") != 0) {
		cJSON_Delete(r);
		cdx_error_set(err, CDX_EBUSY, /* 409 */
			      "run %s has ended: run 'cdx play %s %s' where its workspace is", run, run, id);
		return CDX_EBUSY;
	}
	cJSON_Delete(r);
	if (cdx_store_open(s->state, &store, err) < 0)
		return CDX_ESTATE;
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "play");
	cJSON_AddStringToObject(rec, "run", run);
	cJSON_AddStringToObject(rec, "job", id);
	cJSON_AddStringToObject(rec, "via", who);
	cJSON_AddNumberToObject(rec, "ms", (double)cdx_wall_ms());
	rc = store->ops->append(store, rec, err) < 0 || store->ops->flush(store, err) < 0 ? CDX_ESTATE : 0;
	cJSON_Delete(rec);
	cdx_store_close(store);
	return rc;
}

struct alerts_ctx {
	cJSON *last; /* alert/subject -> the newest alert or alert_resolved */
	cJSON *all;  /* every alert event, oldest first */
};

static int alerts_one(void *ctx, const cJSON *rec)
{
	struct alerts_ctx *c = ctx;
	const char *kind = cdx_jsn(rec, "kind");
	char key[300];
	if (strcmp(cdx_js(rec, "t"), "event") != 0 || !kind ||
	    (strcmp(kind, "alert") != 0 && strcmp(kind, "alert_resolved") != 0))
		return 0;
	snprintf(key, sizeof(key), "%s %s", cdx_js(rec, "alert"), cdx_js(rec, "subject"));
	cJSON_DeleteItemFromObject(c->last, key);
	cJSON_AddItemToObject(c->last, key, cJSON_Duplicate(rec, 1));
	if (cJSON_GetArraySize(c->all) >= 500)
		cJSON_DeleteItemFromArray(c->all, 0);
	cJSON_AddItemToArray(c->all, cJSON_Duplicate(rec, 1));
	return 0;
}

cJSON *srv_api_alerts(struct srv *s, struct cdx_error *err)
{
	struct cdx_store *st = NULL;
	struct alerts_ctx c = {cJSON_CreateObject(), cJSON_CreateArray()};
	cJSON *out = cJSON_CreateObject(), *open = cJSON_AddArrayToObject(out, "open"), *it;
	enum cdx_open_result rc = cdx_store_open_read(s->state, &st, err);
	if (rc == CDX_OPEN_ERROR || (rc == CDX_OPEN_OK && st->ops->scan(st, alerts_one, &c, err) < 0)) {
		if (st)
			cdx_store_close(st);
		cJSON_Delete(c.last);
		cJSON_Delete(c.all);
		cJSON_Delete(out);
		return NULL;
	}
	if (st)
		cdx_store_close(st);
	cJSON_ArrayForEach(it, c.last) if (strcmp(cdx_js(it, "kind"), "alert") == 0)
	    cJSON_AddItemToArray(open, cJSON_Duplicate(it, 1));
	cJSON_AddItemToObject(out, "events", c.all);
	cJSON_Delete(c.last);
	return out;
}

static int status_of(int code)
{
	switch (code) {
	case CDX_EUSAGE:
		return 404;
	case CDX_EBUSY:
		return 409;
	case CDX_ESTATE:
		return 503;
	default:
		return 500;
	}
}

static void reply_or_error(struct srv_reply *r, cJSON *o, const struct cdx_error *err)
{
	if (o)
		srv_json(r, 200, o);
	else
		srv_error_json(r, status_of(err->code), "%s", err->msg);
}

static void action_log(struct srv *s, const char *who, const char *what, int rc, const char *msg)
{
	if (!s->log)
		return;
	fprintf(s->log, "cdx serve: %s by %s: %s\n", what, who, rc ? msg : "done");
	fflush(s->log);
}

/* cancel RUN: SIGTERM to its cdx process when it runs here */
static int cancel_run(struct srv *s, const char *id, const char *who, struct cdx_error *err)
{
	cJSON *run = cdx_run_load(s->state, id, err), *rec;
	struct cdx_store *st = NULL;
	char user[128], host[256];
	int rc = 0;
	if (!run)
		return err->code;
	cdx_who(user, sizeof(user), host, sizeof(host));
	if (strcmp(cdx_js(run, "status"), "running") != 0) {
		cdx_error_set(err, CDX_EBUSY, "run %s is not running (%s)", id, cdx_js(run, "status"));
		rc = CDX_EBUSY;
	} else if (strcmp(cdx_js(run, "host"), host) != 0) {
		cdx_error_set(err, CDX_EBUSY, "run %s runs on %s, not here: cancel it there", id,
			      cdx_js(run, "host"));
		rc = CDX_EBUSY;
	} else if (!cdx_process_owner_alive(host, (int)cdx_jn(run, "pid"),
					    (long long)cdx_jn(run, "pid_start")) ||
		   kill((pid_t)cdx_jn(run, "pid"), SIGTERM) < 0) {
		cdx_error_set(err, CDX_EBUSY, "the process of run %s is gone", id);
		rc = CDX_EBUSY;
	}
	if (!rc && cdx_store_open(s->state, &st, err) == 0) {
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "t", "event");
		cJSON_AddStringToObject(rec, "kind", "cancel");
		cJSON_AddStringToObject(rec, "run", id);
		cJSON_AddStringToObject(rec, "user", user);
		cJSON_AddStringToObject(rec, "host", host);
		cJSON_AddStringToObject(rec, "via", who);
		cJSON_AddNumberToObject(rec, "at_ms", (double)cdx_wall_ms());
		if (st->ops->append(st, rec, err) < 0 || st->ops->flush(st, err) < 0)
			rc = CDX_ESTATE;
		cJSON_Delete(rec);
		cdx_store_close(st);
	} else if (!rc) {
		rc = CDX_ESTATE;
	}
	cJSON_Delete(run);
	return rc;
}

static int deploy_action(struct srv *s, const char *app, const char *env, const char *action, const char *who,
			 cJSON **res, struct cdx_error *err)
{
	struct cdx_orchestrator *o = orch(s, err);
	int rc;
	if (!o)
		return err->code;
	o->via = who; /* recorded with a promote or abort */
	if (strcmp(action, "rollback") == 0) {
		struct cdx_rollback_options opt = {0};
		char reason[200];
		snprintf(reason, sizeof(reason), "cdx serve: %s", who);
		opt.reason = reason;
		opt.wait_ms = 0;
		rc = cdx_rollback(o, app, env, &opt, res, err);
		if (rc == 0 && *res && s->opt->scale_down)
			s->opt->scale_down(s->opt->scale_down_ctx, o, app, env,
					   cJSON_GetObjectItem(*res, "scale_down"));
	} else {
		rc = cdx_deploy_control(o, app, env, action, err);
	}
	cdx_orchestrator_free(o);
	return rc;
}

/* the POST routes: 403 unless the request carries the token */
static void action(struct srv_req *q, struct srv_reply *r)
{
	struct srv *s = q->srv;
	struct cdx_error err = {0};
	char who[128], what[300];
	cJSON *res = NULL, *o;
	int rc;
	bool is_cancel = q->n_seg == 4 && strcmp(q->seg[1], "runs") == 0 && strcmp(q->seg[3], "cancel") == 0;
	bool is_play = q->n_seg == 7 && strcmp(q->seg[1], "runs") == 0 && strcmp(q->seg[3], "jobs") == 0 &&
		       strcmp(q->seg[6], "play") == 0;
	bool is_deploy = q->n_seg == 5 && strcmp(q->seg[1], "deployments") == 0 &&
			 (strcmp(q->seg[4], "promote") == 0 || strcmp(q->seg[4], "abort") == 0 ||
			  strcmp(q->seg[4], "rollback") == 0);
	if (!is_cancel && !is_play && !is_deploy) {
		srv_error_json(r, 404, "no such action");
		return;
	}
	if (!s->auth) {
		srv_error_json(r, 403, "read-only: cdx serve was started without --token-file");
		return;
	}
	if (!srv_auth_check(q, who, sizeof(who))) {
		srv_error_json(r, 403, "this action needs the token (Authorization: Bearer, or log in)");
		return;
	}
	pthread_mutex_lock(&s->act_mu);
	if (is_cancel) {
		snprintf(what, sizeof(what), "cancel run %s", q->seg[2]);
		rc = cancel_run(s, q->seg[2], who, &err);
	} else if (is_play) {
		snprintf(what, sizeof(what), "play %s/%s of run %s", q->seg[4], q->seg[5], q->seg[2]);
		rc = play_job(s, q->seg[2], q->seg[4], q->seg[5], who, &err);
	} else {
		snprintf(what, sizeof(what), "%s %s/%s", q->seg[4], q->seg[2], q->seg[3]);
		rc = deploy_action(s, q->seg[2], q->seg[3], q->seg[4], who, &res, &err);
	}
	pthread_mutex_unlock(&s->act_mu);
	action_log(s, who, what, rc, err.msg);
	if (rc) {
		cJSON_Delete(res);
		srv_error_json(r, rc == CDX_EUSAGE ? (is_play ? 404 : 409) : status_of(rc), "%s", err.msg);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "done", what);
	cJSON_AddStringToObject(o, "by", who);
	if (res)
		cJSON_AddItemToObject(o, "result", res);
	srv_json(r, 200, o);
}

bool srv_api_route(struct srv_req *q, struct srv_reply *r)
{
	struct srv *s = q->srv;
	struct cdx_error err = {0};
	size_t n = q->n_seg;
	if (n == 1 && strcmp(q->seg[0], "metrics") == 0) {
		char *text = cdx_monitor_metrics(s->state, &err);
		if (!text) {
			srv_error_json(r, status_of(err.code), "%s", err.msg);
			return true;
		}
		r->status = 200;
		r->type = "text/plain; version=0.0.4; charset=utf-8";
		cdx_buf_adds(&r->body, text);
		free(text);
		return true;
	}
	if (n < 1 || strcmp(q->seg[0], "api") != 0)
		return false;
	if (strcmp(q->method, "POST") == 0) {
		action(q, r);
		return true;
	}
	if (n == 2 && strcmp(q->seg[1], "runs") == 0) {
		const char *pl = srv_query(q, "pipeline"), *lim = srv_query(q, "limit");
		long limit = lim ? strtol(lim, NULL, 10) : 20;
		if (pl && !cdx_name_valid(pl)) {
			srv_error_json(r, 400, "not a pipeline name");
			return true;
		}
		if (limit < 1 || limit > 1000)
			limit = 20;
		reply_or_error(r, srv_api_runs(s, pl, (size_t)limit, &err), &err);
	} else if (n == 3 && strcmp(q->seg[1], "runs") == 0) {
		reply_or_error(r, srv_api_run(s, q->seg[2], &err), &err);
	} else if (n == 3 && strcmp(q->seg[1], "pipelines") == 0) {
		reply_or_error(r, srv_api_pipeline(s, q->seg[2], &err), &err);
	} else if (n == 2 && strcmp(q->seg[1], "deployments") == 0) {
		reply_or_error(r, srv_api_deployments(s, &err), &err);
	} else if (n == 4 && strcmp(q->seg[1], "deployments") == 0) {
		reply_or_error(r, srv_api_environment(s, q->seg[2], q->seg[3], &err), &err);
	} else if (n == 2 && strcmp(q->seg[1], "workers") == 0) {
		reply_or_error(r, srv_api_workers(s, &err), &err);
	} else if (n == 6 && strcmp(q->seg[1], "runs") == 0 && strcmp(q->seg[3], "artifacts") == 0) {
		artifacts_route(q, r);
	} else if (n == 2 && strcmp(q->seg[1], "alerts") == 0) {
		reply_or_error(r, srv_api_alerts(s, &err), &err);
	} else {
		srv_error_json(r, 404, "no such resource");
	}
	return true;
}
