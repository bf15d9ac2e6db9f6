/* pipeline_jobs.c — stages and their jobs, from the stage nodes of every
 * file into the pipeline model (pipeline.h).
 *
 * A stage is {name, needs, timeout, environment, jobs}; a job is checked
 * against cdx_job_keys as written (a template's keys are checked with the
 * template), then its `extends:` merged in (pipeline_extends.c) and its
 * keys read: script, needs, retry, allow_failure, timeout, variables,
 * inputs, outputs, duration_hint, matrix (pipeline_matrix.c).  Names, ids,
 * scripts and needs live in the pipeline's pool; the rest is freed by
 * cdx_job_clear.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/loader.h"
#include "pipeline/rules.h"

const char *const cdx_job_keys[] = {"name",          "script",        "needs",     "retry",
				    "allow_failure", "timeout",       "variables", "inputs",
				    "outputs",       "duration_hint", "extends",   "matrix",
				    "before_script", "after_script",  "after_script_timeout",
				    "parallel",      "when",          "rules",     "tags",
				    "artifacts"};
const size_t cdx_n_job_keys = CDX_ARRAY_LEN(cdx_job_keys);
static const char *const stage_keys[] = {"name", "needs", "timeout", "environment", "jobs"};
static const char *const retry_keys[] = {"max", "exit_codes", "when"};
static const char *const retry_whens[] = {"always", "script_failure", "timeout"};
/* in enum cdx_when's order */
static const char *const job_whens[] = {"on_success", "on_failure", "always", "manual", "never"};

const char *cdx_when_name(enum cdx_when w)
{
	return (size_t)w < CDX_ARRAY_LEN(job_whens) ? job_whens[w] : "?";
}

bool cdx_loader_when(struct cdx_loader *l, const struct cdx_ynode *n, enum cdx_when *out)
{
	int w = cdx_cfg_choice(&l->c, n, "when", job_whens, CDX_ARRAY_LEN(job_whens));
	if (w < 0)
		return false;
	*out = (enum cdx_when)w;
	return true;
}

/* exit codes: one number or a list of numbers from 1 to 255 */
static bool get_codes(struct cdx_loader *l, const struct cdx_ynode *n, const char *what, int **codes,
		      size_t *count)
{
	size_t i, cap = 0;
	if (n->type == CDX_Y_SCALAR) {
		int c;
		if (!cdx_cfg_int(&l->c, n, what, 1, 255, &c))
			return false;
		CDX_PUSH(*codes, *count, cap, c);
		return true;
	}
	if (!cdx_cfg_want(&l->c, n, CDX_Y_SEQ, what))
		return false;
	for (i = 0; i < n->n; i++) {
		int c;
		if (cdx_cfg_int(&l->c, n->items[i], what, 1, 255, &c))
			CDX_PUSH(*codes, *count, cap, c);
	}
	return true;
}

static bool get_strlist(struct cdx_loader *l, const struct cdx_ynode *n, const char *what, char ***out,
			size_t *count)
{
	const struct cdx_ynode *const *items;
	size_t i, n_items, cap = 0;
	if (!cdx_cfg_items(&l->c, &n, what, &items, &n_items))
		return false;
	for (i = 0; i < n_items; i++)
		if (cdx_cfg_want(&l->c, items[i], CDX_Y_SCALAR, what))
			CDX_PUSH(*out, *count, cap, cdx_xstrdup(items[i]->str));
	return true;
}

/* the references of N into *OUT and *COUNT (in the pipeline's pool) */
static void parse_needs(struct cdx_loader *l, const struct cdx_ynode *n, const char *what,
			struct cdx_need **out, size_t *count)
{
	const struct cdx_ynode *const *items;
	size_t i, n_items;
	if (cdx_yaml_is_null(n) || !cdx_cfg_items(&l->c, &n, what, &items, &n_items))
		return;
	*out = cdx_arena_alloc(&l->p->pool, n_items * sizeof(**out));
	*count = 0;
	for (i = 0; i < n_items; i++) {
		struct cdx_need *need = &(*out)[*count];
		if (!cdx_cfg_want(&l->c, items[i], CDX_Y_SCALAR, what))
			continue;
		need->ref = cdx_arena_strndup(&l->p->pool, items[i]->str, items[i]->len);
		need->stage = need->job = CDX_NONE;
		need->file = cdx_loader_intern(l, items[i]->file);
		need->line = items[i]->line;
		need->col = items[i]->col;
		(*count)++;
	}
}

/* the script of N (WHAT: "script", "before_script", ...), its lines joined
 * (in the pipeline's pool) */
static char *join_script(struct cdx_loader *l, const struct cdx_ynode *n, const char *what)
{
	struct cdx_buf b = {0};
	size_t i;
	char *s;
	if (n->type == CDX_Y_SCALAR && !cdx_yaml_is_null(n)) {
		for (i = 0; i < n->len; i++)
			if (n->str[i] != ' ' && n->str[i] != '\t' && n->str[i] != '\n' && n->str[i] != '\r')
				return cdx_arena_strndup(&l->p->pool, n->str, n->len);
	} else if (n->type == CDX_Y_SEQ) {
		for (i = 0; i < n->n; i++) {
			if (!cdx_cfg_want(&l->c, n->items[i], CDX_Y_SCALAR, "a script line"))
				continue;
			if (b.len)
				cdx_buf_addc(&b, '\n');
			cdx_buf_add(&b, n->items[i]->str, n->items[i]->len);
		}
	} else {
		cdx_cfg_problem(&l->c, n, "%s must be a string or a list of strings, not %s", what,
				cdx_yaml_typename(n));
		return NULL;
	}
	for (i = 0; i < b.len; i++)
		if (b.data[i] != ' ' && b.data[i] != '\t' && b.data[i] != '\n' && b.data[i] != '\r') {
			s = cdx_arena_strndup(&l->p->pool, b.data, b.len);
			cdx_buf_free(&b);
			return s;
		}
	cdx_cfg_problem(&l->c, n, "empty %s", what);
	cdx_buf_free(&b);
	return NULL;
}

void cdx_job_clear(struct cdx_job *j)
{
	size_t i;
	free(j->retry_codes);
	free(j->allow_codes);
	cdx_vars_free(&j->vars);
	for (i = 0; i < j->n_inputs; i++)
		free(j->inputs[i]);
	free(j->inputs);
	for (i = 0; i < j->n_outputs; i++)
		free(j->outputs[i]);
	free(j->outputs);
	cdx_rules_unref(j->rules);
	j->rules = NULL;
	for (i = 0; i < j->n_tags; i++)
		free(j->tags[i]);
	free(j->tags);
	cdx_job_artifacts_free(&j->artifacts);
}

/* retry when: always, script_failure, timeout, or a list of them */
static void parse_retry_when(struct cdx_loader *l, const struct cdx_ynode *v, struct cdx_job *j)
{
	static const unsigned bits[] = {CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT, CDX_RETRY_ON_FAILURE,
					CDX_RETRY_ON_TIMEOUT};
	const struct cdx_ynode *const *items = (const struct cdx_ynode *const *)v->items;
	size_t cnt = v->n, i;
	if (v->type == CDX_Y_SCALAR) {
		items = (const struct cdx_ynode *const *)&v;
		cnt = 1;
	} else if (!cdx_cfg_want(&l->c, v, CDX_Y_SEQ, "retry when")) {
		return;
	}
	j->retry_when = 0;
	for (i = 0; i < cnt; i++) {
		int w = cdx_cfg_choice(&l->c, items[i], "retry condition", retry_whens,
				       CDX_ARRAY_LEN(retry_whens));
		if (w >= 0)
			j->retry_when |= bits[w];
	}
}

static void parse_retry(struct cdx_loader *l, const struct cdx_ynode *n, struct cdx_job *j)
{
	const struct cdx_ynode *v;
	j->retry_when = CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT;
	if (n->type == CDX_Y_SCALAR) {
		cdx_cfg_int(&l->c, n, "retry", 0, 100, &j->retry_max);
		return;
	}
	if (!cdx_cfg_want(&l->c, n, CDX_Y_MAP, "retry"))
		return;
	cdx_cfg_keys(&l->c, n, retry_keys, CDX_ARRAY_LEN(retry_keys), "retry");
	v = cdx_cfg_need(&l->c, n, "max", "retry");
	if (v)
		cdx_cfg_int(&l->c, v, "retry max", 0, 100, &j->retry_max);
	v = cdx_yaml_get(n, "exit_codes");
	if (v)
		get_codes(l, v, "retry exit_codes", &j->retry_codes, &j->n_retry_codes);
	v = cdx_yaml_get(n, "when");
	if (v)
		parse_retry_when(l, v, j);
}

static void parse_allow_failure(struct cdx_loader *l, const struct cdx_ynode *n, struct cdx_job *j)
{
	int b = cdx_yaml_bool(n);
	if (b >= 0) {
		j->allow_failure = b == 1;
		return;
	}
	if (n->type == CDX_Y_MAP) {
		static const char *const keys[] = {"exit_codes"};
		const struct cdx_ynode *codes;
		cdx_cfg_keys(&l->c, n, keys, 1, "allow_failure");
		codes = cdx_cfg_need(&l->c, n, "exit_codes", "allow_failure");
		if (codes)
			get_codes(l, codes, "allow_failure exit_codes", &j->allow_codes, &j->n_allow_codes);
		return;
	}
	if (n->type == CDX_Y_SCALAR && (!n->plain || strspn(n->str, "0123456789") != n->len)) {
		cdx_cfg_problem(&l->c, n, "allow_failure must be true, false or exit codes, not '%s'",
				n->str);
		return;
	}
	get_codes(l, n, "allow_failure", &j->allow_codes, &j->n_allow_codes);
}

/* parse one job mapping (extends already merged) into J */
static void parse_job(struct cdx_loader *l, const struct cdx_ynode *m, struct cdx_job *j)
{
	const struct cdx_ynode *v;
	j->line = m->line;
	j->col = m->col;
	j->hint_ms = -1;
	j->retry_when = CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT;
	v = cdx_cfg_need(&l->c, m, "script", "job");
	if (v)
		j->script = join_script(l, v, "script");
	/* an empty before_script or after_script ([] or null) means none: it
	 * takes back what default: gives */
	v = cdx_yaml_get(m, "before_script");
	if (v && (cdx_yaml_is_null(v) || (v->type == CDX_Y_SEQ && !v->n)))
		v = NULL;
	if (v && j->script) {
		/* GitLab: before_script and script run in one shell */
		const char *before = join_script(l, v, "before_script");
		if (before) {
			size_t nb = strlen(before), ns = strlen(j->script);
			char *both = cdx_arena_alloc(&l->p->pool, nb + 1 + ns + 1);
			memcpy(both, before, nb);
			both[nb] = '\n';
			memcpy(both + nb + 1, j->script, ns + 1);
			j->script = both;
		}
	}
	v = cdx_yaml_get(m, "after_script");
	if (v && !cdx_yaml_is_null(v) && !(v->type == CDX_Y_SEQ && !v->n))
		j->after_script = join_script(l, v, "after_script");
	v = cdx_yaml_get(m, "after_script_timeout");
	if (v)
		cdx_cfg_duration(&l->c, v, "after_script_timeout", false, &j->after_timeout_ms);
	v = cdx_yaml_get(m, "needs");
	if (v) {
		j->has_needs = true;
		parse_needs(l, v, "needs", &j->needs, &j->n_needs);
	}
	v = cdx_yaml_get(m, "retry");
	if (v)
		parse_retry(l, v, j);
	v = cdx_yaml_get(m, "allow_failure");
	if (v) {
		j->has_allow_failure = true;
		parse_allow_failure(l, v, j);
	}
	v = cdx_yaml_get(m, "timeout");
	if (v)
		cdx_cfg_duration(&l->c, v, "timeout", false, &j->timeout_ms);
	v = cdx_yaml_get(m, "variables");
	if (v)
		cdx_loader_vars(l, v, "variables", true, &j->vars);
	v = cdx_yaml_get(m, "inputs");
	if (v)
		j->has_inputs = get_strlist(l, v, "inputs", &j->inputs, &j->n_inputs);
	v = cdx_yaml_get(m, "outputs");
	if (v)
		j->has_outputs = get_strlist(l, v, "outputs", &j->outputs, &j->n_outputs);
	v = cdx_yaml_get(m, "duration_hint");
	if (v)
		cdx_cfg_duration(&l->c, v, "duration_hint", true, &j->hint_ms);
	v = cdx_yaml_get(m, "when");
	if (v)
		cdx_loader_when(l, v, &j->when);
	v = cdx_yaml_get(m, "rules");
	if (v)
		j->rules = cdx_loader_rules(l, v);
	v = cdx_yaml_get(m, "tags");
	if (v) {
		const struct cdx_ynode *const *items;
		size_t i, n_items, cap = 0;
		if (cdx_cfg_items(&l->c, &v, "tags", &items, &n_items))
			for (i = 0; i < n_items; i++)
				if (cdx_cfg_name(&l->c, items[i], "tag") && !strchr(items[i]->str, ','))
					CDX_PUSH(j->tags, j->n_tags, cap, cdx_xstrdup(items[i]->str));
	}
	v = cdx_yaml_get(m, "artifacts");
	if (v)
		cdx_loader_artifacts(l, v, j);
}

/* the pool strings never change: a copy may share them */
void cdx_loader_copy_job(struct cdx_loader *l, struct cdx_job *dst, const struct cdx_job *src)
{
	size_t i;
	*dst = *src;
	dst->name = NULL;
	dst->id = NULL;
	if (src->n_needs) { /* resolved one by one later */
		dst->needs = cdx_arena_alloc(&l->p->pool, src->n_needs * sizeof(*dst->needs));
		memcpy(dst->needs, src->needs, src->n_needs * sizeof(*dst->needs));
	}
	dst->retry_codes = src->n_retry_codes ? cdx_xcalloc(src->n_retry_codes, sizeof(int)) : NULL;
	if (src->n_retry_codes)
		memcpy(dst->retry_codes, src->retry_codes, src->n_retry_codes * sizeof(int));
	dst->allow_codes = src->n_allow_codes ? cdx_xcalloc(src->n_allow_codes, sizeof(int)) : NULL;
	if (src->n_allow_codes)
		memcpy(dst->allow_codes, src->allow_codes, src->n_allow_codes * sizeof(int));
	memset(&dst->vars, 0, sizeof(dst->vars));
	for (i = 0; i < src->vars.n; i++) {
		struct cdx_var v = src->vars.v[i];
		v.name = cdx_xstrdup(v.name);
		v.value = v.value ? cdx_xstrdup(v.value) : NULL;
		v.from_env = v.from_env ? cdx_xstrdup(v.from_env) : NULL;
		CDX_PUSH(dst->vars.v, dst->vars.n, dst->vars.cap, v);
	}
	dst->inputs = src->n_inputs ? cdx_xcalloc(src->n_inputs, sizeof(char *)) : NULL;
	for (i = 0; i < src->n_inputs; i++)
		dst->inputs[i] = cdx_xstrdup(src->inputs[i]);
	dst->outputs = src->n_outputs ? cdx_xcalloc(src->n_outputs, sizeof(char *)) : NULL;
	for (i = 0; i < src->n_outputs; i++)
		dst->outputs[i] = cdx_xstrdup(src->outputs[i]);
	dst->tags = src->n_tags ? cdx_xcalloc(src->n_tags, sizeof(char *)) : NULL;
	for (i = 0; i < src->n_tags; i++)
		dst->tags[i] = cdx_xstrdup(src->tags[i]);
	cdx_job_artifacts_copy(&dst->artifacts, &src->artifacts);
	dst->matrix_base = NULL;
	dst->rules = cdx_rules_ref(src->rules);
}

void cdx_loader_add_job(struct cdx_loader *l, struct cdx_job *j)
{
	struct cdx_pipeline *p = l->p;
	if (p->n_jobs >= CDX_MAX_JOBS) {
		/* refuse as soon as the limit is passed, before expanding more */
		if (!l->too_many) {
			cdx_cfg_problem(&l->c, NULL, "pipeline has more than %d jobs", CDX_MAX_JOBS);
			l->too_many = true;
		}
		cdx_job_clear(j);
		return;
	}
	cdx_grow(&p->jobs, &l->cap_jobs, p->n_jobs + 1, sizeof(*p->jobs));
	p->jobs[p->n_jobs++] = *j;
}
static void parse_stage_jobs(struct cdx_loader *l, const struct cdx_ynode *jobs, size_t stage,
			     const char *sname)
{
	size_t i, first;
	const char *chain[CDX_MAX_EXTENDS_DEPTH + 1];
	struct cdx_map names = {0}; /* job names as written -> index in jobs */
	for (i = 0; i < jobs->n; i++) {
		const struct cdx_ynode *raw = jobs->items[i], *m, *name, *matrix, *par;
		struct cdx_job j = {0};
		if (!cdx_cfg_want(&l->c, raw, CDX_Y_MAP, "a job"))
			continue;
		/* the job's own keys; a template's keys are checked with the template */
		cdx_loader_keys(l, raw, cdx_job_keys, cdx_n_job_keys, "job", CDX_KEYS_JOB);
		m = cdx_loader_default(l, cdx_loader_extends(l, raw, chain, 0));
		name = cdx_cfg_need(&l->c, raw, "name", "job");
		if (!name)
			continue;
		parse_job(l, m, &j);
		j.file = cdx_loader_intern(l, name->file);
		j.line = name->line;
		j.col = name->col;
		j.stage = stage;
		if (!cdx_cfg_name(&l->c, name, "job name")) {
			cdx_job_clear(&j);
			continue;
		}
		if (!cdx_map_put(&names, name->str, i, &first)) {
			/* as written: two entries of one name clash even when their
			 * matrix expansions would not */
			cdx_cfg_problem(&l->c, name, "duplicate job '%s/%s' (first at line %d)", sname,
					name->str, cdx_yaml_get(jobs->items[first], "name")->line);
			cdx_job_clear(&j);
			continue;
		}
		j.name = cdx_arena_strndup(&l->p->pool, name->str, name->len);
		matrix = cdx_yaml_get(m, "matrix");
		par = cdx_yaml_get(m, "parallel");
		if (par && !cdx_yaml_is_null(par)) {
			if (matrix && !cdx_yaml_is_null(matrix))
				cdx_cfg_problem(&l->c, par, "a job has matrix: or parallel:, not both");
			else
				cdx_loader_parallel(l, par, &j, name);
			cdx_job_clear(&j);
			continue;
		}
		if (matrix && !cdx_yaml_is_null(matrix)) {
			cdx_loader_matrix(l, matrix, &j, name);
			cdx_job_clear(&j);
			continue;
		}
		cdx_loader_add_job(l, &j);
	}
	cdx_map_free(&names);
}

/* room for the jobs as written (a matrix adds more) in one array, in huge
 * pages when big, rather than one that grows and is copied */
static void reserve_jobs(struct cdx_loader *l)
{
	struct cdx_pipeline *p = l->p;
	size_t i, want = 0;
	for (i = 0; i < l->n_stage_nodes; i++) {
		const struct cdx_ynode *v =
		    l->stage_nodes[i]->type == CDX_Y_MAP ? cdx_yaml_get(l->stage_nodes[i], "jobs") : NULL;
		want += v && v->type == CDX_Y_SEQ ? v->n : 0;
	}
	if (!p->jobs && want > 4 && want <= CDX_MAX_JOBS) {
		p->jobs = cdx_xmalloc_big(want * sizeof(*p->jobs));
		l->cap_jobs = want;
	}
	/* the pool's first chunk: room for a job's names, script and a few
	 * needs each, in huge pages from about 6,000 jobs on */
	if (want <= CDX_MAX_JOBS)
		p->pool.first = 65536 + want * 160;
}

/* stage node M and its jobs into the pipeline */
static void parse_stage(struct cdx_loader *l, const struct cdx_ynode *m)
{
	struct cdx_pipeline *p = l->p;
	const struct cdx_ynode *v, *name;
	struct cdx_stage s = {0};
	char what[CDX_NAME_MAX + 16];
	if (m->type == CDX_Y_SCALAR && !cdx_yaml_is_null(m)) {
		/* GitLab's stages: [build, test] */
		cdx_cfg_problem(&l->c, m,
				"a stage must be a mapping, not a string: cdx lists each stage's jobs under it: "
				"{name: %s, jobs: [{name: JOB, script: ...}]}",
				m->str);
		return;
	}
	if (!cdx_cfg_want(&l->c, m, CDX_Y_MAP, "a stage"))
		return;
	cdx_cfg_keys(&l->c, m, stage_keys, CDX_ARRAY_LEN(stage_keys), "stage");
	name = cdx_cfg_need(&l->c, m, "name", "stage");
	if (!name || !cdx_cfg_name(&l->c, name, "stage name"))
		return;
	s.name = cdx_xstrdup(name->str);
	s.file = cdx_loader_intern(l, name->file);
	s.line = name->line;
	s.col = name->col;
	s.timeout_ms = CDX_STAGE_TIMEOUT_DEFAULT_MS;
	v = cdx_yaml_get(m, "needs");
	if (v) {
		s.has_needs = true;
		parse_needs(l, v, "stage needs", &s.needs, &s.n_needs);
	}
	v = cdx_yaml_get(m, "timeout");
	if (v)
		cdx_cfg_duration(&l->c, v, "timeout", false, &s.timeout_ms);
	v = cdx_yaml_get(m, "environment");
	if (v)
		cdx_loader_vars(l, v, "environment", false, &s.env);
	cdx_grow(&p->stages, &l->cap_stages, p->n_stages + 1, sizeof(*p->stages));
	s.first_job = p->n_jobs;
	snprintf(what, sizeof(what), "stage '%s'", s.name);
	v = cdx_cfg_need(&l->c, m, "jobs", what);
	if (v && cdx_cfg_want(&l->c, v, CDX_Y_SEQ, "jobs"))
		parse_stage_jobs(l, v, p->n_stages, s.name);
	s.n_jobs = p->n_jobs - s.first_job;
	if (v && v->type == CDX_Y_SEQ && v->n == 0)
		cdx_cfg_problem(&l->c, v, "stage '%s' has no jobs", s.name);
	p->stages[p->n_stages++] = s;
}

void cdx_loader_stages(struct cdx_loader *l)
{
	size_t i;
	reserve_jobs(l);
	for (i = 0; i < l->n_stage_nodes; i++)
		parse_stage(l, l->stage_nodes[i]);
}
