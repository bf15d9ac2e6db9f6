/* optimize_yaml.c — the optimized pipeline file (optimize_int.h's
 * cdx_opt_yaml): the pipeline written back as YAML the loader reads, with
 * the changed jobs' new needs and a comment on every rewritten edge.
 *
 * Only what the loader kept is written: names, scripts, needs (resolved, so
 * that a matrix base name becomes the jobs it stands for), retry,
 * allow_failure, timeouts, variables, inputs, outputs and duration hints.
 * Strings are YAML double-quoted scalars (JSON's escapes are YAML's), so
 * nothing in a name or a script can change the file's structure.
 * cdx_optimize loads the result back before it returns it.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "observe/optimize_int.h"

/* S as a YAML double-quoted scalar (JSON's escapes are YAML's) */
static void yq(struct cdx_buf *b, const char *s)
{
	cJSON *x = cJSON_CreateString(s ? s : "");
	char *t = cJSON_PrintUnformatted(x);
	cdx_buf_adds(b, t);
	free(t);
	cJSON_Delete(x);
}

static void ydur(struct cdx_buf *b, int64_t ms)
{
	cdx_buf_printf(b, "%lldms", (long long)ms);
}

/* a comment line: TEXT with line breaks flattened */
static void ycomment(struct cdx_buf *b, const char *indent, const char *text)
{
	cdx_buf_printf(b, "%s# ", indent);
	for (; *text; text++)
		cdx_buf_addc(b, *text == '\n' || *text == '\r' ? ' ' : *text);
	cdx_buf_addc(b, '\n');
}

static void yvars(struct cdx_buf *b, const char *indent, const char *key, const struct cdx_vars *v)
{
	size_t i;
	if (!v->n)
		return;
	cdx_buf_printf(b, "%s%s:\n", indent, key);
	for (i = 0; i < v->n; i++) {
		const struct cdx_var *x = &v->v[i];
		cdx_buf_printf(b, "%s  %s: ", indent, x->name);
		if (x->from_env || x->secret) {
			bool comma = false;
			cdx_buf_adds(b, "{");
			if (x->value) {
				cdx_buf_adds(b, "value: ");
				yq(b, x->value);
				comma = true;
			}
			if (x->from_env) {
				cdx_buf_printf(b, "%sfrom_env: ", comma ? ", " : "");
				yq(b, x->from_env);
			}
			cdx_buf_printf(b, ", secret: %s}\n", x->secret ? "true" : "false");
		} else {
			yq(b, x->value ? x->value : "");
			cdx_buf_addc(b, '\n');
		}
	}
}

static void ystrs(struct cdx_buf *b, const char *indent, const char *key, char **s, size_t n)
{
	size_t i;
	cdx_buf_printf(b, "%s%s: [", indent, key);
	for (i = 0; i < n; i++) {
		if (i)
			cdx_buf_adds(b, ", ");
		yq(b, s[i]);
	}
	cdx_buf_adds(b, "]\n");
}

static void ycodes(struct cdx_buf *b, const int *c, size_t n)
{
	size_t i;
	cdx_buf_adds(b, "[");
	for (i = 0; i < n; i++)
		cdx_buf_printf(b, "%s%d", i ? ", " : "", c[i]);
	cdx_buf_adds(b, "]");
}

/* the written needs of job J: new ones when it changed, else as loaded */
static void yneeds(struct cdx_buf *b, const struct cdx_opt_rewrite *rw, size_t j)
{
	const struct cdx_pipeline *p = rw->p;
	const struct cdx_job *jb = &p->jobs[j];
	size_t k, m;
	bool first = true;
	if (rw->changed && rw->changed[j]) {
		const char *line = rw->needs[j].data;
		cdx_buf_adds(b, "        needs: [");
		while (line && *line) {
			const char *nl = strchr(line, '\n');
			char *ref = cdx_xstrndup(line, (size_t)(nl - line));
			cdx_buf_adds(b, first ? "" : ", ");
			yq(b, ref);
			free(ref);
			first = false;
			line = nl + 1;
		}
		cdx_buf_adds(b, "]\n");
		return;
	}
	if (!jb->has_needs)
		return;
	/* resolved, so that a matrix base name becomes the jobs it stands for */
	cdx_buf_adds(b, "        needs: [");
	for (k = 0; k < jb->n_needs; k++) {
		const struct cdx_need *nd = &jb->needs[k];
		if (nd->job == CDX_NONE) {
			cdx_buf_adds(b, first ? "" : ", ");
			yq(b, p->stages[nd->stage].name);
			first = false;
			continue;
		}
		for (m = 0; m < nd->njobs; m++) {
			cdx_buf_adds(b, first ? "" : ", ");
			yq(b, p->jobs[nd->job + m].id);
			first = false;
		}
	}
	cdx_buf_adds(b, "]\n");
}

static void yjob(struct cdx_buf *b, const struct cdx_opt_rewrite *rw, size_t j)
{
	const struct cdx_job *jb = &rw->p->jobs[j];
	cdx_buf_adds(b, "      - name: ");
	yq(b, jb->name);
	cdx_buf_adds(b, "\n        script: ");
	yq(b, jb->script);
	cdx_buf_addc(b, '\n');
	yneeds(b, rw, j);
	if (jb->retry_max || jb->n_retry_codes || jb->retry_when != (CDX_RETRY_ON_FAILURE | CDX_RETRY_ON_TIMEOUT)) {
		cdx_buf_printf(b, "        retry: {max: %d", jb->retry_max);
		if (jb->n_retry_codes) {
			cdx_buf_adds(b, ", exit_codes: ");
			ycodes(b, jb->retry_codes, jb->n_retry_codes);
		}
		cdx_buf_printf(b, ", when: [%s%s%s]}\n", jb->retry_when & CDX_RETRY_ON_FAILURE ? "script_failure" : "",
			       (jb->retry_when & CDX_RETRY_ON_FAILURE) && (jb->retry_when & CDX_RETRY_ON_TIMEOUT) ? ", "
														 : "",
			       jb->retry_when & CDX_RETRY_ON_TIMEOUT ? "timeout" : "");
	}
	if (jb->n_allow_codes) {
		cdx_buf_adds(b, "        allow_failure: {exit_codes: ");
		ycodes(b, jb->allow_codes, jb->n_allow_codes);
		cdx_buf_adds(b, "}\n");
	} else if (jb->allow_failure) {
		cdx_buf_adds(b, "        allow_failure: true\n");
	}
	if (jb->timeout_ms) {
		cdx_buf_adds(b, "        timeout: ");
		ydur(b, jb->timeout_ms);
		cdx_buf_addc(b, '\n');
	}
	yvars(b, "        ", "variables", &jb->vars);
	if (jb->has_inputs)
		ystrs(b, "        ", "inputs", jb->inputs, jb->n_inputs);
	if (jb->has_outputs)
		ystrs(b, "        ", "outputs", jb->outputs, jb->n_outputs);
	if (jb->hint_ms >= 0) {
		cdx_buf_adds(b, "        duration_hint: ");
		ydur(b, jb->hint_ms);
		cdx_buf_addc(b, '\n');
	}
}

struct by_prio {
	const double *prio;
	size_t j;
};

static int cmp_prio(const void *a, const void *b)
{
	const struct by_prio *x = a, *y = b;
	if (x->prio[x->j] != y->prio[y->j])
		return x->prio[x->j] > y->prio[y->j] ? -1 : 1;
	return x->j < y->j ? -1 : x->j > y->j;
}

/* the whole file: HEAD (comment lines) first, then the pipeline with each
 * stage's jobs in the order the ordering rule (PRIO) starts them.  The
 * caller frees it with free(). */
char *cdx_opt_yaml(const struct cdx_opt_rewrite *rw, const double *prio, const char *head)
{
	const struct cdx_pipeline *p = rw->p;
	struct cdx_buf b = {0};
	struct by_prio *ord = cdx_xcalloc(p->n_jobs + 1, sizeof(*ord));
	size_t s, i, k;
	const char *line = head;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *one = cdx_xstrndup(line, len);
		ycomment(&b, "", one);
		free(one);
		line = nl ? nl + 1 : NULL;
	}
	cdx_buf_adds(&b, "name: ");
	yq(&b, p->name);
	cdx_buf_addc(&b, '\n');
	yvars(&b, "", "variables", &p->vars);
	if (p->timeout_ms) {
		cdx_buf_adds(&b, "timeout: ");
		ydur(&b, p->timeout_ms);
		cdx_buf_addc(&b, '\n');
	}
	cdx_buf_adds(&b, "stages:\n");
	for (s = 0; s < p->n_stages; s++) {
		const struct cdx_stage *st = &p->stages[s];
		cdx_buf_adds(&b, "  - name: ");
		yq(&b, st->name);
		cdx_buf_addc(&b, '\n');
		if (st->has_needs) {
			cdx_buf_adds(&b, "    needs: [");
			for (k = 0; k < st->n_needs; k++) {
				cdx_buf_adds(&b, k ? ", " : "");
				yq(&b, p->stages[st->needs[k].stage].name);
			}
			cdx_buf_adds(&b, "]\n");
		}
		if (st->timeout_ms != CDX_STAGE_TIMEOUT_DEFAULT_MS) {
			cdx_buf_adds(&b, "    timeout: ");
			ydur(&b, st->timeout_ms);
			cdx_buf_addc(&b, '\n');
		}
		yvars(&b, "    ", "environment", &st->env);
		cdx_buf_adds(&b, "    jobs:\n");
		for (i = 0; i < st->n_jobs; i++)
			ord[i] = (struct by_prio){prio, st->first_job + i};
		qsort(ord, st->n_jobs, sizeof(*ord), cmp_prio);
		for (i = 0; i < st->n_jobs; i++) {
			const char *note = rw->notes ? rw->notes[ord[i].j].data : NULL;
			while (note && *note) {
				const char *nl = strchr(note, '\n');
				char *one = cdx_xstrndup(note, (size_t)(nl - note));
				ycomment(&b, "      ", one);
				free(one);
				note = nl + 1;
			}
			yjob(&b, rw, ord[i].j);
		}
	}
	free(ord);
	return cdx_buf_detach(&b);
}
