/* pipeline.c — reading a loaded pipeline: accessors, SEED.md's to_dict as
 * JSON, and the execution plan (order, critical path, parallelism).
 * Loading lives in pipeline_load.c; the graph in dag.c. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dag.h"
#include "history.h"
#include "pipeline.h"

const char *cdx_pipeline_name(const struct cdx_pipeline *p)
{
	return p->name;
}

const char *cdx_pipeline_path(const struct cdx_pipeline *p)
{
	return p->path;
}

size_t cdx_pipeline_stage_count(const struct cdx_pipeline *p)
{
	return p->n_stages;
}

const char *cdx_pipeline_stage_name(const struct cdx_pipeline *p, size_t i)
{
	return i < p->n_stages ? p->stages[i].name : NULL;
}

size_t cdx_pipeline_job_count(const struct cdx_pipeline *p)
{
	return p->n_jobs;
}

const char *cdx_pipeline_job_id(const struct cdx_pipeline *p, size_t i)
{
	return i < p->n_jobs ? p->jobs[i].id : NULL;
}

const char *cdx_pipeline_job_script(const struct cdx_pipeline *p, size_t i)
{
	return i < p->n_jobs ? p->jobs[i].script : NULL;
}

double cdx_pipeline_weight_ms(const struct cdx_pipeline *p, size_t i)
{
	return p->jobs[i].hint_ms >= 0 ? (double)p->jobs[i].hint_ms : 1000.0;
}

static cJSON *vars_json(const struct cdx_vars *v)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;
	for (i = 0; i < v->n; i++) {
		const struct cdx_var *x = &v->v[i];
		if (x->from_env || x->secret) {
			cJSON *e = cJSON_AddObjectToObject(o, x->name);
			if (x->from_env)
				cJSON_AddStringToObject(e, "from_env", x->from_env);
			if (x->value)
				cJSON_AddStringToObject(e, "value", x->secret ? "***" : x->value);
			cJSON_AddBoolToObject(e, "secret", x->secret);
		} else {
			cJSON_AddStringToObject(o, x->name, x->value ? x->value : "");
		}
	}
	return o;
}

static cJSON *need_json(const struct cdx_need *n, size_t count)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;
	for (i = 0; i < count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(n[i].ref));
	return a;
}

static cJSON *codes_json(const int *c, size_t n)
{
	return cJSON_CreateIntArray(c, (int)n);
}

static cJSON *strs_json(char **s, size_t n)
{
	return cJSON_CreateStringArray((const char *const *)s, (int)n);
}

cJSON *cdx_pipeline_json(const struct cdx_pipeline *p)
{
	cJSON *o = cJSON_CreateObject(), *stages;
	size_t s, j;
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "path", p->path);
	cJSON_AddItemToObject(o, "variables", vars_json(&p->vars));
	if (p->timeout_ms)
		cJSON_AddNumberToObject(o, "timeout_s", (double)p->timeout_ms / 1000);
	if (p->concurrency.group) {
		cJSON *c = cJSON_AddObjectToObject(o, "concurrency");
		cJSON_AddStringToObject(c, "group", p->concurrency.group);
		cJSON_AddNumberToObject(c, "limit", p->concurrency.limit);
		cJSON_AddBoolToObject(c, "cancel_in_progress", p->concurrency.cancel_in_progress);
	}
	stages = cJSON_AddArrayToObject(o, "stages");
	for (s = 0; s < p->n_stages; s++) {
		const struct cdx_stage *st = &p->stages[s];
		cJSON *so = cJSON_CreateObject(), *jobs;
		cJSON_AddStringToObject(so, "name", st->name);
		if (st->has_needs)
			cJSON_AddItemToObject(so, "needs", need_json(st->needs, st->n_needs));
		cJSON_AddNumberToObject(so, "timeout_s", (double)st->timeout_ms / 1000);
		cJSON_AddItemToObject(so, "environment", vars_json(&st->env));
		jobs = cJSON_AddArrayToObject(so, "jobs");
		for (j = st->first_job; j < st->first_job + st->n_jobs; j++) {
			const struct cdx_job *jb = &p->jobs[j];
			cJSON *jo = cJSON_CreateObject(), *r;
			cJSON_AddStringToObject(jo, "name", jb->name);
			cJSON_AddStringToObject(jo, "id", jb->id);
			cJSON_AddStringToObject(jo, "script", jb->script);
			if (jb->has_needs)
				cJSON_AddItemToObject(jo, "needs", need_json(jb->needs, jb->n_needs));
			r = cJSON_AddObjectToObject(jo, "retry");
			cJSON_AddNumberToObject(r, "max", jb->retry_max);
			cJSON_AddItemToObject(r, "exit_codes", codes_json(jb->retry_codes, jb->n_retry_codes));
			cJSON_AddBoolToObject(r, "on_failure", (jb->retry_when & CDX_RETRY_ON_FAILURE) != 0);
			cJSON_AddBoolToObject(r, "on_timeout", (jb->retry_when & CDX_RETRY_ON_TIMEOUT) != 0);
			if (jb->n_allow_codes)
				cJSON_AddItemToObject(jo, "allow_failure", codes_json(jb->allow_codes, jb->n_allow_codes));
			else
				cJSON_AddBoolToObject(jo, "allow_failure", jb->allow_failure);
			cJSON_AddNumberToObject(jo, "timeout_s",
						(double)(jb->timeout_ms ? jb->timeout_ms : st->timeout_ms) / 1000);
			cJSON_AddItemToObject(jo, "variables", vars_json(&jb->vars));
			cJSON_AddItemToObject(jo, "inputs", strs_json(jb->inputs, jb->n_inputs));
			cJSON_AddItemToObject(jo, "outputs", strs_json(jb->outputs, jb->n_outputs));
			if (jb->hint_ms >= 0)
				cJSON_AddNumberToObject(jo, "duration_hint_s", (double)jb->hint_ms / 1000);
			if (jb->matrix_base)
				cJSON_AddStringToObject(jo, "matrix_of", jb->matrix_base);
			cJSON_AddItemToArray(jobs, jo);
		}
		cJSON_AddItemToArray(stages, so);
	}
	return o;
}

/* the jobs a job waits for, through stage nodes, as ids */
static cJSON *job_needs(const struct cdx_pipeline *p, uint32_t j)
{
	const struct cdx_dag *d = p->dag;
	cJSON *a = cJSON_CreateArray();
	uint32_t e;
	for (e = d->pred_off[j]; e < d->pred_off[j + 1]; e++) {
		uint32_t u = d->pred[e];
		cJSON_AddItemToArray(a, cJSON_CreateString(u < d->n_jobs ? p->jobs[u].id
								      : p->stages[u - d->n_jobs].name));
	}
	return a;
}

static cJSON *plan(const struct cdx_pipeline *p, unsigned workers, double *w);

cJSON *cdx_pipeline_plan(const struct cdx_pipeline *p, unsigned workers)
{
	double *w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		w[i] = cdx_pipeline_weight_ms(p, i);
	return plan(p, workers, w);
}

cJSON *cdx_pipeline_plan_history(const struct cdx_pipeline *p, unsigned workers, const char *state)
{
	double *w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		w[i] = cdx_pipeline_weight_ms(p, i);
	cdx_history_weights_at(state, p, w);
	return plan(p, workers, w);
}

/* the plan with weights W (ms per job; freed here) */
static cJSON *plan(const struct cdx_pipeline *p, unsigned workers, double *w)
{
	const struct cdx_dag *d = p->dag;
	size_t n = p->n_jobs, i, cp_n, nlevels, width = 0;
	double *prio = cdx_xcalloc(d->n_nodes + 1, sizeof(double));
	double *start = cdx_xcalloc(n + 1, sizeof(double));
	size_t *order = cdx_xcalloc(n + 1, sizeof(size_t));
	size_t *path = cdx_xcalloc(n + 1, sizeof(size_t));
	size_t *level = cdx_xcalloc(n + 1, sizeof(size_t));
	size_t *per_level;
	double total = 0, cp_len, makespan;
	cJSON *o = cJSON_CreateObject(), *a;

	if (!workers) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		workers = c > 0 ? (unsigned)c : 1;
	}
	for (i = 0; i < n; i++)
		total += w[i];
	cdx_dag_priority(d, w, prio);
	makespan = cdx_dag_simulate(d, w, prio, workers, start, order);
	cp_n = cdx_dag_critical_path(d, w, path, &cp_len);
	nlevels = cdx_dag_levels(d, level);
	per_level = cdx_xcalloc(nlevels + 1, sizeof(size_t));
	for (i = 0; i < n; i++)
		if (++per_level[level[i]] > width)
			width = per_level[level[i]];

	cJSON_AddStringToObject(o, "pipeline", p->name);
	cJSON_AddNumberToObject(o, "jobs", (double)n);
	cJSON_AddNumberToObject(o, "stages", (double)p->n_stages);
	cJSON_AddNumberToObject(o, "workers", workers);
	cJSON_AddNumberToObject(o, "levels", (double)nlevels);
	cJSON_AddNumberToObject(o, "max_parallelism", (double)width);
	cJSON_AddNumberToObject(o, "total_work_s", total / 1000);
	cJSON_AddNumberToObject(o, "critical_path_s", cp_len / 1000);
	a = cJSON_AddArrayToObject(o, "critical_path");
	for (i = 0; i < cp_n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(p->jobs[path[i]].id));
	cJSON_AddNumberToObject(o, "lower_bound_s",
				(cp_len > total / workers ? cp_len : total / workers) / 1000);
	cJSON_AddNumberToObject(o, "predicted_makespan_s", makespan / 1000);
	a = cJSON_AddArrayToObject(o, "order");
	for (i = 0; i < n; i++) {
		size_t j = order[i];
		cJSON *jo = cJSON_CreateObject();
		cJSON_AddStringToObject(jo, "job", p->jobs[j].id);
		cJSON_AddNumberToObject(jo, "level", (double)level[j]);
		cJSON_AddNumberToObject(jo, "weight_s", w[j] / 1000);
		cJSON_AddNumberToObject(jo, "priority_s", prio[j] / 1000);
		cJSON_AddNumberToObject(jo, "start_s", start[j] / 1000);
		cJSON_AddItemToObject(jo, "needs", job_needs(p, (uint32_t)j));
		cJSON_AddItemToArray(a, jo);
	}
	free(w);
	free(prio);
	free(start);
	free(order);
	free(path);
	free(level);
	free(per_level);
	return o;
}

/* ---- one job as a pipeline of its own (the make module's job spec) ------- */

static void duration_ms_json(cJSON *o, const char *key, int64_t ms)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lldms", (long long)ms);
	cJSON_AddStringToObject(o, key, buf);
}

static cJSON *spec_vars(const struct cdx_vars *v, bool full)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;
	for (i = 0; i < v->n; i++) {
		const struct cdx_var *x = &v->v[i];
		if (full && (x->from_env || x->secret)) {
			cJSON *e = cJSON_AddObjectToObject(o, x->name);
			if (x->value)
				cJSON_AddStringToObject(e, "value", x->value);
			if (x->from_env)
				cJSON_AddStringToObject(e, "from_env", x->from_env);
			cJSON_AddBoolToObject(e, "secret", x->secret);
		} else {
			cJSON_AddStringToObject(o, x->name, x->value ? x->value : "");
		}
	}
	return o;
}

char *cdx_pipeline_job_spec(const struct cdx_pipeline *p, size_t j, const cJSON *extra)
{
	const struct cdx_job *jb = &p->jobs[j];
	const struct cdx_stage *st = &p->stages[jb->stage];
	cJSON *o = cJSON_CreateObject(), *stages, *so, *jobs, *jo, *retry, *when;
	struct cdx_buf b = {0};
	char *text, *c;
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddItemToObject(o, "variables", spec_vars(&p->vars, true));
	if (extra)
		cJSON_AddItemToObject(o, "x-cdx", cJSON_Duplicate(extra, 1));
	stages = cJSON_AddArrayToObject(o, "stages");
	so = cJSON_CreateObject();
	cJSON_AddItemToArray(stages, so);
	cJSON_AddStringToObject(so, "name", st->name);
	cJSON_AddArrayToObject(so, "needs");
	duration_ms_json(so, "timeout", st->timeout_ms);
	cJSON_AddItemToObject(so, "environment", spec_vars(&st->env, false));
	jobs = cJSON_AddArrayToObject(so, "jobs");
	jo = cJSON_CreateObject();
	cJSON_AddItemToArray(jobs, jo);
	cJSON_AddStringToObject(jo, "name", jb->name);
	cJSON_AddStringToObject(jo, "script", jb->script);
	cJSON_AddArrayToObject(jo, "needs");
	retry = cJSON_AddObjectToObject(jo, "retry");
	cJSON_AddNumberToObject(retry, "max", jb->retry_max);
	if (jb->n_retry_codes)
		cJSON_AddItemToObject(retry, "exit_codes", cJSON_CreateIntArray(jb->retry_codes, (int)jb->n_retry_codes));
	when = cJSON_AddArrayToObject(retry, "when");
	if (jb->retry_when & CDX_RETRY_ON_FAILURE)
		cJSON_AddItemToArray(when, cJSON_CreateString("script_failure"));
	if (jb->retry_when & CDX_RETRY_ON_TIMEOUT)
		cJSON_AddItemToArray(when, cJSON_CreateString("timeout"));
	if (jb->n_allow_codes) {
		cJSON *af = cJSON_AddObjectToObject(jo, "allow_failure");
		cJSON_AddItemToObject(af, "exit_codes", cJSON_CreateIntArray(jb->allow_codes, (int)jb->n_allow_codes));
	} else {
		cJSON_AddBoolToObject(jo, "allow_failure", jb->allow_failure);
	}
	if (jb->timeout_ms)
		duration_ms_json(jo, "timeout", jb->timeout_ms);
	cJSON_AddItemToObject(jo, "variables", spec_vars(&jb->vars, true));
	if (jb->hint_ms >= 0)
		duration_ms_json(jo, "duration_hint", jb->hint_ms);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	/* '#' and '$' only occur inside JSON strings: as \u escapes they mean
	 * nothing to make, so the text can stand in a make assignment as is */
	for (c = text; *c; c++) {
		if (*c == '#')
			cdx_buf_adds(&b, "\\u0023");
		else if (*c == '$')
			cdx_buf_adds(&b, "\\u0024");
		else
			cdx_buf_addc(&b, *c);
	}
	free(text);
	return cdx_buf_detach(&b);
}
