/* decide.c — each job's decision for one run (decide.h). */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "exec/changes.h"
#include "exec/decide.h"
#include "exec/gitinfo.h"
#include "pipeline/expr.h"
#include "pipeline/rules.h"
#include "state/store.h"

static void put(struct cdx_vars *vs, const char *name, const char *value)
{
	struct cdx_var *old = cdx_vars_find(vs, name), v = {0};
	if (old) {
		free(old->value);
		old->value = cdx_xstrdup(value);
		return;
	}
	v.name = cdx_xstrdup(name);
	v.value = cdx_xstrdup(value);
	CDX_PUSH(vs->v, vs->n, vs->cap, v);
}

void cdx_decide_git(const char *dir, struct cdx_vars *v)
{
	struct cdx_gitinfo g;
	if (cdx_gitinfo_read(dir, &g) < 0)
		return;
	if (g.branch[0])
		put(v, "CDX_BRANCH", g.branch);
	if (g.commit[0])
		put(v, "CDX_COMMIT", g.commit);
}

static const char *var_value(const struct cdx_var *v)
{
	if (v->from_env) {
		const char *e = getenv(v->from_env);
		if (e)
			return e;
	}
	return v->value ? v->value : "";
}

/* what a rule of one job sees */
struct scope {
	const struct cdx_vars *run, *job, *pipe, *own;
};

static const char *lookup(void *ctx, const char *name)
{
	const struct scope *s = ctx;
	const struct cdx_vars *order[4] = {s->run, s->job, s->pipe, s->own};
	size_t i;
	for (i = 0; i < 4; i++) {
		const struct cdx_var *v = order[i] ? cdx_vars_find(order[i], name) : NULL;
		if (v)
			return var_value(v);
	}
	return NULL;
}

static void copy_vars(struct cdx_vars *dst, const struct cdx_vars *src)
{
	size_t i;
	for (i = 0; i < src->n; i++)
		put(dst, src->v[i].name, var_value(&src->v[i]));
}

/* the `if:` of rule K for the why, cut to fit */
static void why_rule(struct cdx_job_decision *d, size_t k, const struct cdx_rule *r, const char *extra)
{
	char buf[400];
	size_t n;
	if (r->if_src)
		snprintf(buf, sizeof(buf), "rules: rule %zu matched (%.100s%s)%s", k + 1, r->if_src,
			 strlen(r->if_src) > 100 ? "..." : "", extra);
	else
		snprintf(buf, sizeof(buf), "rules: rule %zu matched%s", k + 1, extra);
	n = strlen(buf) < sizeof(d->why) ? strlen(buf) : sizeof(d->why) - 1;
	memcpy(d->why, buf, n);
	d->why[n] = 0;
}

/* the file store's directory relative to workspace DIR when it is inside
 * it (left out of `changes:`), or NULL; caller frees */
static char *state_inside(const char *dir, const char *state)
{
	char ws[PATH_MAX], st[PATH_MAX];
	size_t n;
	if (!state || strncmp(state, "file:", 5) != 0 || !realpath(dir, ws) || !realpath(state + 5, st))
		return NULL;
	n = strlen(ws);
	if (strncmp(st, ws, n) != 0 || st[n] != '/' || !st[n + 1])
		return NULL;
	return cdx_xstrdup(st + n + 1);
}

static int decide_rules(const struct cdx_job *job, struct cdx_job_decision *d, const struct scope *sc,
			const struct cdx_decide_ctx *ctx, const char *skip, const cJSON *last,
			struct cdx_error *err)
{
	const struct cdx_rules *rs = job->rules;
	const char *unchanged = NULL;
	size_t k;
	for (k = 0; k < rs->n; k++) {
		const struct cdx_rule *r = &rs->r[k];
		const char *extra = "";
		if (r->cond) {
			char why[160] = "";
			int v = cdx_expr_eval(r->cond, lookup, (void *)sc, why, sizeof(why));
			if (v < 0)
				return cdx_error_set(err, CDX_EUSAGE, "%s:%d:%d: job %s: rule %zu: %s",
						     r->file, r->line, r->col, job->id, k + 1, why);
			if (!v)
				continue;
		}
		if (r->has_changes) {
			char key[17], digest[17];
			const char *was;
			if (cdx_changes_digest(ctx->dir ? ctx->dir : ".", r, skip, key, digest, err) < 0) {
				char msg[sizeof(err->msg)];
				snprintf(msg, sizeof(msg), "%s", err->msg);
				return cdx_error_set(err, err->code, "%s:%d:%d: job %s: rule %zu: %s",
						     r->file, r->line, r->col, job->id, k + 1, msg);
			}
			if (!d->changes)
				d->changes = cJSON_CreateObject();
			if (!cJSON_GetObjectItemCaseSensitive(d->changes, key))
				cJSON_AddStringToObject(d->changes, key, digest);
			was = last ? cdx_jsn(last, key) : NULL;
			if (was && strcmp(was, digest) == 0) {
				if (!unchanged)
					unchanged = r->changes[0];
				continue; /* unchanged since its last success */
			}
			extra = was ? ", files changed" : ", no earlier success";
		}
		d->when = r->has_when ? r->when : job->when;
		if (r->allow_failure >= 0)
			d->allow_failure = r->allow_failure;
		copy_vars(&d->vars, &r->vars);
		why_rule(d, k, r, extra);
		if (d->when != CDX_WHEN_ON_SUCCESS && strlen(d->why) + 20 < sizeof(d->why))
			snprintf(d->why + strlen(d->why), sizeof(d->why) - strlen(d->why), ", when: %s",
				 cdx_when_name(d->when));
		return 0;
	}
	d->when = CDX_WHEN_NEVER;
	if (unchanged)
		snprintf(d->why, sizeof(d->why),
			 "rules: no rule matched (%.80s%s unchanged since its last success)", unchanged,
			 strlen(unchanged) > 80 ? "..." : "");
	else
		snprintf(d->why, sizeof(d->why), "rules: no rule matched");
	/* a job skipped as unchanged keeps nothing new to record */
	return 0;
}

struct cdx_job_decision *cdx_decide_jobs(const struct cdx_pipeline *p, const struct cdx_decide_ctx *ctx,
					 struct cdx_error *err)
{
	struct cdx_job_decision *d = cdx_xcalloc(p->n_jobs + 1, sizeof(*d));
	struct cdx_vars own = {0};
	struct scope sc = {0};
	cJSON **last = NULL;
	char *skip = NULL;
	bool any_changes = false, git_read = false;
	size_t i, k;
	for (i = 0; i < p->n_jobs; i++) {
		const struct cdx_job *job = &p->jobs[i];
		if (ctx->wanted && !ctx->wanted[i])
			continue;
		for (k = 0; job->rules && k < job->rules->n; k++)
			any_changes |= job->rules->r[k].has_changes;
		if (job->rules && !git_read) {
			cdx_decide_git(ctx->dir ? ctx->dir : ".", &own);
			git_read = true;
		}
	}
	put(&own, "CDX_PIPELINE", ctx->pipeline ? ctx->pipeline : p->name);
	if (ctx->run_id)
		put(&own, "CDX_RUN_ID", ctx->run_id);
	if (any_changes) {
		const char **ids = cdx_xcalloc(p->n_jobs + 1, sizeof(*ids));
		last = cdx_xcalloc(p->n_jobs + 1, sizeof(*last));
		for (i = 0; i < p->n_jobs; i++)
			ids[i] = p->jobs[i].id;
		struct cdx_store *s = ctx->store;
		struct cdx_error e = {0};
		if (!s && ctx->state && cdx_store_open_read(ctx->state, &s, &e) != CDX_OPEN_OK)
			s = NULL;
		cdx_changes_last(s, p->name, ids, p->n_jobs, last);
		skip = state_inside(ctx->dir ? ctx->dir : ".", ctx->state);
		if (s && s != ctx->store)
			cdx_store_close(s);
		free(ids);
	}
	sc.run = ctx->run_vars;
	sc.pipe = &p->vars;
	sc.own = &own;
	for (i = 0; i < p->n_jobs; i++) {
		const struct cdx_job *job = &p->jobs[i];
		d[i].when = job->when;
		d[i].allow_failure = job->allow_failure;
		if (ctx->wanted && !ctx->wanted[i]) {
			d[i].when = CDX_WHEN_NEVER;
			snprintf(d[i].why, sizeof(d[i].why), "not selected");
			continue;
		}
		if (job->rules) {
			sc.job = &job->vars;
			if (decide_rules(job, &d[i], &sc, ctx, skip, last ? last[i] : NULL, err) < 0) {
				cdx_decisions_free(d, p->n_jobs);
				d = NULL;
				break;
			}
		} else if (job->when != CDX_WHEN_ON_SUCCESS) {
			snprintf(d[i].why, sizeof(d[i].why), "when: %s", cdx_when_name(job->when));
		}
	}
	if (last)
		for (i = 0; i < p->n_jobs; i++)
			cJSON_Delete(last[i]);
	free(last);
	free(skip);
	cdx_vars_free(&own);
	return d;
}

void cdx_decisions_free(struct cdx_job_decision *d, size_t n)
{
	size_t i;
	if (!d)
		return;
	for (i = 0; i < n; i++) {
		cdx_vars_free(&d[i].vars);
		cJSON_Delete(d[i].changes);
	}
	free(d);
}
