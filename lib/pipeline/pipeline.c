/* pipeline.c — reading a loaded pipeline: accessors, SEED.md's to_dict as
 * JSON, and the execution plan (order, critical path, parallelism).
 * Loading lives in pipeline_load.c; the graph in dag.c. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/dag.h"
#include "pipeline/pipeline.h"
#include "pipeline/rules.h"

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
			if (jb->after_script) {
				cJSON_AddStringToObject(jo, "after_script", jb->after_script);
				cJSON_AddNumberToObject(jo, "after_script_timeout_s",
							(double)(jb->after_timeout_ms ? jb->after_timeout_ms
										      : CDX_AFTER_SCRIPT_TIMEOUT_DEFAULT_MS) /
							    1000);
			}
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
			if (jb->n_tags)
				cJSON_AddItemToObject(jo, "tags", strs_json(jb->tags, jb->n_tags));
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


cJSON *cdx_pipeline_plan(const struct cdx_pipeline *p, unsigned workers)
{
	return cdx_pipeline_plan_weighted(p, workers, cdx_pipeline_weights(p));
}

double *cdx_pipeline_weights(const struct cdx_pipeline *p)
{
	double *w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		w[i] = cdx_pipeline_weight_ms(p, i);
	return w;
}

cJSON *cdx_pipeline_plan_weighted(const struct cdx_pipeline *p, unsigned workers, double *w)
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

/* The spec is written straight into text (no cJSON tree: the module
 * writes one per job, and building, printing and freeing a tree was a third
 * of make's time reading a 2,000-job pipeline).  Strings are JSON-escaped,
 * and '#' and '$' become \u escapes, so the text means nothing to make and
 * can stand in a make assignment as it is. */

static void spec_str(struct cdx_buf *b, const char *s)
{
	const char *run = s;
	cdx_buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != '#' && ch != '$')
			continue;
		cdx_buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		switch (ch) {
		case '"': cdx_buf_adds(b, "\\\""); break;
		case '\\': cdx_buf_adds(b, "\\\\"); break;
		case '\n': cdx_buf_adds(b, "\\n"); break;
		case '\t': cdx_buf_adds(b, "\\t"); break;
		case '\r': cdx_buf_adds(b, "\\r"); break;
		default: cdx_buf_printf(b, "\\u%04x", ch); break;
		}
	}
	cdx_buf_add(b, run, (size_t)(s - run));
	cdx_buf_addc(b, '"');
}

static void spec_key(struct cdx_buf *b, bool *first, const char *key)
{
	if (!*first)
		cdx_buf_addc(b, ',');
	*first = false;
	spec_str(b, key);
	cdx_buf_addc(b, ':');
}

static void spec_duration(struct cdx_buf *b, bool *first, const char *key, int64_t ms)
{
	spec_key(b, first, key);
	cdx_buf_printf(b, "\"%lldms\"", (long long)ms);
}

static void spec_vars(struct cdx_buf *b, const struct cdx_vars *v, bool full)
{
	size_t i;
	bool first = true;
	cdx_buf_addc(b, '{');
	for (i = 0; i < v->n; i++) {
		const struct cdx_var *x = &v->v[i];
		spec_key(b, &first, x->name);
		if (full && (x->from_env || x->secret)) {
			bool f2 = true;
			cdx_buf_addc(b, '{');
			if (x->value) {
				spec_key(b, &f2, "value");
				spec_str(b, x->value);
			}
			if (x->from_env) {
				spec_key(b, &f2, "from_env");
				spec_str(b, x->from_env);
			}
			spec_key(b, &f2, "secret");
			cdx_buf_adds(b, x->secret ? "true" : "false");
			cdx_buf_addc(b, '}');
		} else {
			spec_str(b, x->value ? x->value : "");
		}
	}
	cdx_buf_addc(b, '}');
}

static void spec_ints(struct cdx_buf *b, const int *v, size_t n)
{
	size_t i;
	cdx_buf_addc(b, '[');
	for (i = 0; i < n; i++)
		cdx_buf_printf(b, i ? ",%d" : "%d", v[i]);
	cdx_buf_addc(b, ']');
}

/* `rules:` of a job spec: `cdx job` decides again with what make decided */
static void spec_rules(struct cdx_buf *b, bool *first, const struct cdx_rules *rs)
{
	size_t k, g;
	spec_key(b, first, "rules");
	cdx_buf_addc(b, '[');
	for (k = 0; k < rs->n; k++) {
		const struct cdx_rule *r = &rs->r[k];
		bool rf = true;
		cdx_buf_adds(b, k ? ",{" : "{");
		if (r->if_src) {
			spec_key(b, &rf, "if");
			spec_str(b, r->if_src);
		}
		if (r->has_changes) {
			spec_key(b, &rf, "changes");
			cdx_buf_addc(b, '[');
			for (g = 0; g < r->n_changes; g++) {
				if (g)
					cdx_buf_addc(b, ',');
				spec_str(b, r->changes[g]);
			}
			cdx_buf_addc(b, ']');
		}
		if (r->has_when) {
			spec_key(b, &rf, "when");
			spec_str(b, cdx_when_name(r->when));
		}
		if (r->vars.n) {
			spec_key(b, &rf, "variables");
			spec_vars(b, &r->vars, false);
		}
		if (r->allow_failure >= 0) {
			spec_key(b, &rf, "allow_failure");
			cdx_buf_adds(b, r->allow_failure ? "true" : "false");
		}
		cdx_buf_addc(b, '}');
	}
	cdx_buf_addc(b, ']');
}

void cdx_pipeline_job_spec_to(const struct cdx_pipeline *p, size_t j, const char *extra, struct cdx_buf *b)
{
	const struct cdx_job *jb = &p->jobs[j];
	const struct cdx_stage *st = &p->stages[jb->stage];
	bool top = true, so = true, jo = true, rf = true;
	cdx_buf_addc(b, '{');
	spec_key(b, &top, "name");
	spec_str(b, p->name);
	spec_key(b, &top, "variables");
	spec_vars(b, &p->vars, true);
	if (extra) {
		spec_key(b, &top, "x-cdx");
		cdx_buf_adds(b, extra);
	}
	{
		/* the jobs whose outputs it gets: those it needs, directly or
		 * through a stage (the spec itself has no needs) */
		const struct cdx_dag *d = p->dag;
		uint32_t e, f;
		bool first = true;
		spec_key(b, &top, "x-cdx-outputs-from");
		cdx_buf_addc(b, '[');
		for (e = d->pred_off[j]; e < d->pred_off[j + 1]; e++) {
			uint32_t u = d->pred[e];
			for (f = u < d->n_jobs ? 0 : d->pred_off[u]; u < d->n_jobs ? f < 1 : f < d->pred_off[u + 1];
			     f++) {
				uint32_t w = u < d->n_jobs ? u : d->pred[f];
				if (w >= d->n_jobs)
					continue;
				if (!first)
					cdx_buf_addc(b, ',');
				first = false;
				spec_str(b, p->jobs[w].id);
			}
		}
		cdx_buf_addc(b, ']');
	}
	spec_key(b, &top, "stages");
	cdx_buf_adds(b, "[{");
	spec_key(b, &so, "name");
	spec_str(b, st->name);
	spec_key(b, &so, "needs");
	cdx_buf_adds(b, "[]");
	spec_duration(b, &so, "timeout", st->timeout_ms);
	spec_key(b, &so, "environment");
	spec_vars(b, &st->env, false);
	spec_key(b, &so, "jobs");
	cdx_buf_adds(b, "[{");
	spec_key(b, &jo, "name");
	spec_str(b, jb->name);
	spec_key(b, &jo, "script");
	spec_str(b, jb->script);
	if (jb->after_script) {
		spec_key(b, &jo, "after_script");
		spec_str(b, jb->after_script);
	}
	if (jb->after_timeout_ms)
		spec_duration(b, &jo, "after_script_timeout", jb->after_timeout_ms);
	spec_key(b, &jo, "needs");
	cdx_buf_adds(b, "[]");
	spec_key(b, &jo, "retry");
	cdx_buf_addc(b, '{');
	spec_key(b, &rf, "max");
	cdx_buf_printf(b, "%d", jb->retry_max);
	if (jb->n_retry_codes) {
		spec_key(b, &rf, "exit_codes");
		spec_ints(b, jb->retry_codes, jb->n_retry_codes);
	}
	spec_key(b, &rf, "when");
	cdx_buf_addc(b, '[');
	if (jb->retry_when & CDX_RETRY_ON_FAILURE)
		cdx_buf_adds(b, "\"script_failure\"");
	if (jb->retry_when & CDX_RETRY_ON_TIMEOUT)
		cdx_buf_adds(b, jb->retry_when & CDX_RETRY_ON_FAILURE ? ",\"timeout\"" : "\"timeout\"");
	cdx_buf_adds(b, "]}");
	spec_key(b, &jo, "allow_failure");
	if (jb->n_allow_codes) {
		cdx_buf_adds(b, "{\"exit_codes\":");
		spec_ints(b, jb->allow_codes, jb->n_allow_codes);
		cdx_buf_addc(b, '}');
	} else {
		cdx_buf_adds(b, jb->allow_failure ? "true" : "false");
	}
	if (jb->timeout_ms)
		spec_duration(b, &jo, "timeout", jb->timeout_ms);
	spec_key(b, &jo, "variables");
	spec_vars(b, &jb->vars, true);
	if (jb->hint_ms >= 0)
		spec_duration(b, &jo, "duration_hint", jb->hint_ms);
	if (jb->when != CDX_WHEN_ON_SUCCESS) {
		spec_key(b, &jo, "when");
		spec_str(b, cdx_when_name(jb->when));
	}
	if (jb->rules)
		spec_rules(b, &jo, jb->rules);
	if (jb->n_tags) { /* the worker pool's (CDX_EXECUTOR=workers) */
		spec_key(b, &jo, "tags");
		cdx_buf_addc(b, '[');
		for (size_t i = 0; i < jb->n_tags; i++) {
			if (i)
				cdx_buf_addc(b, ',');
			spec_str(b, jb->tags[i]);
		}
		cdx_buf_addc(b, ']');
	}
	if (jb->artifacts.n) {
		static const char *const whens[] = {"on_success", "on_failure", "always"};
		spec_key(b, &jo, "artifacts");
		cdx_buf_adds(b, "{\"paths\":[");
		for (size_t i = 0; i < jb->artifacts.n; i++) {
			if (i)
				cdx_buf_addc(b, ',');
			spec_str(b, jb->artifacts.paths[i]);
		}
		cdx_buf_printf(b, "],\"when\":\"%s\",\"expire_in\":", whens[jb->artifacts.when]);
		if (jb->artifacts.expire_ms)
			cdx_buf_printf(b, "\"%lldms\"}", (long long)jb->artifacts.expire_ms);
		else
			cdx_buf_adds(b, "\"never\"}");
	}
	cdx_buf_adds(b, "}]}]}");
}

char *cdx_pipeline_job_spec(const struct cdx_pipeline *p, size_t j, const cJSON *extra)
{
	struct cdx_buf b = {0};
	char *x = extra ? cJSON_PrintUnformatted(extra) : NULL;
	cdx_pipeline_job_spec_to(p, j, x, &b);
	free(x);
	return cdx_buf_detach(&b);
}
