/* optimize_rewrite.c — the optimizer's rewritten graph (optimize_int.h's
 * cdx_opt_rewrite) and the declared paths it is decided by
 * (cdx_opt_paths_overlap, cdx_opt_conflict).
 *
 * optimize.c's header says what is rewritten and why it keeps the
 * pipeline's meaning.  Here: ancestor sets are bitsets indexed by
 * topological rank, one row per node of the graph, for the old graph
 * (anc) and the new one (nanc); R(k) is found from the latest rank down,
 * so an element not yet covered is a direct need of k and brings its own
 * ancestors.  A changed job's needs are kept as text (one ref a line) with
 * a note per rewritten edge, for optimize_yaml.c to write.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "observe/optimize_int.h"
#include "pipeline/dag.h"

/* ---- declared paths ------------------------------------------------------ */

/* the part of path S that names a file or directory: "./" prefixes and
 * trailing slashes dropped, a glob cut to the directory before its first
 * wildcard; into B */
static void path_key(const char *s, struct cdx_buf *b)
{
	size_t n, glob;
	cdx_buf_reset(b);
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	while (s[0] == '/' && s[1] == '/')
		s++;
	n = strlen(s);
	glob = strcspn(s, "*?[");
	if (glob < n) {
		n = glob;
		while (n > 0 && s[n - 1] != '/')
			n--;
	}
	while (n > 1 && s[n - 1] == '/')
		n--;
	if (n == 1 && s[0] == '.')
		n = 0;
	cdx_buf_add(b, s, n);
}

/* A is B, or a directory above it */
static bool path_under(const char *a, size_t na, const char *b, size_t nb)
{
	if (na == 0)
		return true;
	if (na > nb || memcmp(a, b, na) != 0)
		return false;
	return na == nb || b[na] == '/' || a[na - 1] == '/';
}

bool cdx_opt_paths_overlap(const char *a, const char *b)
{
	struct cdx_buf x = {0}, y = {0};
	bool r;
	path_key(a, &x);
	path_key(b, &y);
	r = path_under(x.data ? x.data : "", x.len, y.data ? y.data : "", y.len) ||
	    path_under(y.data ? y.data : "", y.len, x.data ? x.data : "", x.len);
	cdx_buf_free(&x);
	cdx_buf_free(&y);
	return r;
}

/* the first path of A that overlaps one of B; its partner in *WITH */
static const char *first_overlap(char **a, size_t na, char **b, size_t nb, const char **with)
{
	size_t i, k;
	for (i = 0; i < na; i++)
		for (k = 0; k < nb; k++)
			if (cdx_opt_paths_overlap(a[i], b[k])) {
				*with = b[k];
				return a[i];
			}
	return NULL;
}

/* whether job K (later) conflicts with job Y (earlier) by their declared
 * paths; the reason into WHY when it does (WHY may be NULL) */
bool cdx_opt_conflict(const struct cdx_job *k, const struct cdx_job *y, struct cdx_buf *why)
{
	const char *p, *q;
	p = first_overlap(k->inputs, k->n_inputs, y->outputs, y->n_outputs, &q);
	if (p) {
		if (why)
			cdx_buf_printf(why, "%s reads %s, which %s writes (%s)", k->id, p, y->id, q);
		return true;
	}
	p = first_overlap(k->outputs, k->n_outputs, y->inputs, y->n_inputs, &q);
	if (p) {
		if (why)
			cdx_buf_printf(why, "%s writes %s, which %s reads (%s)", k->id, p, y->id, q);
		return true;
	}
	p = first_overlap(k->outputs, k->n_outputs, y->outputs, y->n_outputs, &q);
	if (p) {
		if (why)
			cdx_buf_printf(why, "%s and %s both write %s", k->id, y->id, p);
		return true;
	}
	return false;
}

bool cdx_opt_evidence(const struct cdx_job *j)
{
	return j->has_inputs && j->has_outputs;
}

/* ---- rewriting ------------------------------------------------------------ */

#define ROW(set, v) ((set) + (size_t)(v) * rw->nw)

static bool bs_has(const uint64_t *b, size_t i)
{
	return (b[i / 64] >> (i % 64)) & 1;
}

static void bs_set(uint64_t *b, size_t i)
{
	b[i / 64] |= (uint64_t)1 << (i % 64);
}

static void bs_or(uint64_t *a, const uint64_t *b, size_t nw)
{
	size_t i;
	for (i = 0; i < nw; i++)
		a[i] |= b[i];
}

/* SET |= what waiting for node U means in the graph ANC: U itself when it
 * is a job, and everything before it */
static void add_node(const struct cdx_opt_rewrite *rw, uint64_t *set, const uint64_t *anc, uint32_t u)
{
	if (u < rw->n)
		bs_set(set, rw->rank[u]);
	bs_or(set, ROW(anc, u), rw->nw);
}

/* the old ancestors of every node, in topological order */
static void old_ancestors(struct cdx_opt_rewrite *rw)
{
	const struct cdx_dag *d = rw->d;
	size_t i;
	for (i = 0; i < d->n_nodes; i++) {
		uint32_t v = d->topo[i], e;
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
			add_node(rw, ROW(rw->anc, v), rw->anc, d->pred[e]);
	}
}

/* whether job K must still wait for its old ancestor Y (see the header) */
static bool required(const struct cdx_opt_rewrite *rw, size_t k, size_t y, const uint64_t *written)
{
	const struct cdx_job *jk = &rw->p->jobs[k], *jy = &rw->p->jobs[y];
	if (bs_has(written, rw->rank[y]))
		return true;
	if (cdx_opt_evidence(jk) && cdx_opt_evidence(jy))
		return cdx_opt_conflict(jk, jy, NULL);
	return rw->level == CDX_OPT_MODERATE;
}

/* the jobs named by K's written needs (its own, or its stage's), by rank */
static void written_needs(const struct cdx_opt_rewrite *rw, size_t k, uint64_t *set)
{
	const struct cdx_dag *d = rw->d;
	uint32_t e, f;
	memset(set, 0, rw->nw * sizeof(uint64_t));
	if (cdx_opt_implicit_barrier(rw->p, k))
		return;
	for (e = d->pred_off[k]; e < d->pred_off[k + 1]; e++) {
		uint32_t u = d->pred[e];
		if (u < rw->n)
			bs_set(set, rw->rank[u]);
		else
			for (f = d->pred_off[u]; f < d->pred_off[u + 1]; f++)
				bs_set(set, rw->rank[d->pred[f]]);
	}
}

static void add_edge(struct cdx_opt_rewrite *rw, size_t k, const char *need, const char *change, const char *reason,
		     bool unsafe)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "job", rw->p->jobs[k].id);
	cJSON_AddStringToObject(e, "need", need);
	cJSON_AddStringToObject(e, "change", change);
	cJSON_AddStringToObject(e, "reason", reason);
	cJSON_AddBoolToObject(e, "unsafe", unsafe);
	cJSON_AddItemToArray(rw->edges, e);
	cdx_buf_printf(&rw->notes[k], "%s %s: %s\n", change, need, reason);
}

/* why job K now waits for job Y (an added need) */
static void why_added(const struct cdx_opt_rewrite *rw, size_t k, size_t y, struct cdx_buf *why)
{
	const struct cdx_job *jk = &rw->p->jobs[k], *jy = &rw->p->jobs[y];
	cdx_buf_reset(why);
	if (cdx_opt_evidence(jk) && cdx_opt_evidence(jy) && cdx_opt_conflict(jk, jy, why))
		return;
	cdx_buf_printf(why, "%s declares no %s: %s keeps waiting for %s, as it did before",
		       !cdx_opt_evidence(jk) ? jk->id : jy->id,
		       !(cdx_opt_evidence(jk) ? jy : jk)->has_inputs ? "inputs" : "outputs", jk->id, jy->id);
}

/* the implicit barrier of job K was replaced: say why, and whether that was
 * without evidence.  DROPPED: the old ancestors it no longer waits for. */
static void removed_barrier(struct cdx_opt_rewrite *rw, size_t k, const uint64_t *dropped)
{
	const struct cdx_pipeline *p = rw->p;
	const struct cdx_job *jk = &p->jobs[k];
	struct cdx_buf why = {0}, safe = {0}, unsafe = {0};
	size_t r, n_safe = 0, n_unsafe = 0;
	const char *culprit = cdx_opt_evidence(jk) ? NULL : jk->id; /* who declares nothing */
	for (r = 0; r < rw->n; r++) {
		const struct cdx_job *jy;
		if (!bs_has(dropped, r))
			continue;
		jy = &p->jobs[rw->at[r]];
		if (cdx_opt_evidence(jk) && cdx_opt_evidence(jy)) {
			if (n_safe++ < 3)
				cdx_buf_printf(&safe, "%s%s", n_safe > 1 ? ", " : "", jy->id);
		} else {
			if (!culprit)
				culprit = jy->id;
			if (n_unsafe++ < 3)
				cdx_buf_printf(&unsafe, "%s%s", n_unsafe > 1 ? ", " : "", jy->id);
		}
	}
	if (n_unsafe)
		cdx_buf_printf(&why, "unsafe: implicit stage barrier dropped without evidence: %s no longer waits for %s%s "
				     "(%s declares no inputs or outputs)",
			       jk->id, unsafe.data, n_unsafe > 3 ? ", ..." : "", culprit);
	else if (n_safe)
		cdx_buf_printf(&why, "declared inputs and outputs: %s reads nothing that %s%s write%s, and writes "
				     "nothing they read or write",
			       jk->id, safe.data, n_safe > 3 ? ", ..." : "", n_safe == 1 ? "s" : "");
	else
		cdx_buf_printf(&why, "replaced by the job-level needs it implies");
	add_edge(rw, k, p->stages[jk->stage - 1].name, "removed", why.data, n_unsafe > 0);
	cdx_buf_free(&why);
	cdx_buf_free(&safe);
	cdx_buf_free(&unsafe);
}

/* the written needs of a changed job K: its written refs, then the direct
 * needs NEWD not implied by them; a stage whose every job is among them by
 * its name.  One ref a line into rw->needs[k]; added edges listed. */
static void write_needs(struct cdx_opt_rewrite *rw, size_t k, const uint64_t *newd)
{
	const struct cdx_pipeline *p = rw->p;
	const struct cdx_dag *d = rw->d;
	const struct cdx_job *jk = &p->jobs[k];
	struct cdx_buf *out = &rw->needs[k], why = {0};
	uint64_t *covered = rw->tmp;
	size_t i, s;
	uint32_t e;

	memset(covered, 0, rw->nw * sizeof(uint64_t));
	if (!cdx_opt_implicit_barrier(p, k)) {
		for (e = d->pred_off[k]; e < d->pred_off[k + 1]; e++) {
			uint32_t u = d->pred[e];
			add_node(rw, covered, rw->nanc, u);
			cdx_buf_printf(out, "%s\n", u < rw->n ? p->jobs[u].id : p->stages[u - rw->n].name);
		}
	}
	for (s = 0; s < p->n_stages; s++) {
		const struct cdx_stage *st = &p->stages[s];
		size_t want = 0;
		bool whole;
		for (i = st->first_job; i < st->first_job + st->n_jobs; i++)
			want += bs_has(newd, rw->rank[i]) && !bs_has(covered, rw->rank[i]);
		if (!want)
			continue;
		/* the stage by its name: a stage of several jobs, or the one
		 * whose barrier K had */
		whole = want == st->n_jobs && (st->n_jobs > 1 || (cdx_opt_implicit_barrier(p, k) && jk->stage == s + 1));
		if (whole) {
			/* the stage node: all its jobs */
			size_t first = st->first_job;
			cdx_buf_printf(out, "%s\n", st->name);
			if (cdx_opt_implicit_barrier(p, k) && jk->stage == s + 1)
				continue; /* the barrier it had, now written */
			why_added(rw, k, first, &why);
			add_edge(rw, k, st->name, "added", why.data, false);
			continue;
		}
		for (i = st->first_job; i < st->first_job + st->n_jobs; i++) {
			if (!bs_has(newd, rw->rank[i]) || bs_has(covered, rw->rank[i]))
				continue;
			cdx_buf_printf(out, "%s\n", p->jobs[i].id);
			why_added(rw, k, i, &why);
			add_edge(rw, k, p->jobs[i].id, "added", why.data, false);
		}
	}
	cdx_buf_free(&why);
	if (!out->data)
		cdx_buf_adds(out, ""); /* changed, and waits for nothing */
}

/* decide the new graph, in topological order */
static void decide(struct cdx_opt_rewrite *rw)
{
	const struct cdx_pipeline *p = rw->p;
	const struct cdx_dag *d = rw->d;
	size_t i, nw = rw->nw;
	uint64_t *written = cdx_xcalloc(nw + 1, sizeof(uint64_t));
	uint64_t *newd = cdx_xcalloc(nw + 1, sizeof(uint64_t));
	uint64_t *form = cdx_xcalloc(nw + 1, sizeof(uint64_t));
	uint64_t *dropped = cdx_xcalloc(nw + 1, sizeof(uint64_t));

	for (i = 0; i < d->n_nodes; i++) {
		uint32_t v = d->topo[i], e;
		uint64_t *na = ROW(rw->nanc, v);
		size_t r, q;
		if (v >= rw->n) {
			/* a stage node: all its jobs and what they wait for */
			for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
				add_node(rw, na, rw->nanc, d->pred[e]);
			continue;
		}
		written_needs(rw, v, written);
		memset(newd, 0, nw * sizeof(uint64_t));
		/* R(v) from the latest rank down: an element not yet covered is
		 * a direct need, and brings its own ancestors */
		for (r = rw->rank[v]; r-- > 0;) {
			if (!bs_has(ROW(rw->anc, v), r) || bs_has(na, r))
				continue;
			if (!required(rw, v, rw->at[r], written))
				continue;
			bs_set(newd, r);
			bs_set(na, r);
			bs_or(na, ROW(rw->nanc, rw->at[r]), nw);
		}
		/* what its written form gives in the new graph */
		memset(form, 0, nw * sizeof(uint64_t));
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
			add_node(rw, form, rw->nanc, d->pred[e]);
		if (memcmp(form, na, nw * sizeof(uint64_t)) == 0)
			continue;
		rw->changed[v] = true;
		for (q = 0; q < nw; q++)
			dropped[q] = ROW(rw->anc, v)[q] & ~na[q];
		write_needs(rw, v, newd);
		if (cdx_opt_implicit_barrier(p, v)) {
			/* the barrier edge is gone unless it was written back */
			const char *prev = p->stages[p->jobs[v].stage - 1].name;
			const char *s = rw->needs[v].data, *line;
			bool kept = false;
			size_t len = strlen(prev);
			for (line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
				if (strncmp(line, prev, len) == 0 && line[len] == '\n')
					kept = true;
			if (!kept)
				removed_barrier(rw, v, dropped);
		}
	}
	free(written);
	free(newd);
	free(form);
	free(dropped);
}

void cdx_opt_rewrite(struct cdx_opt_rewrite *rw, const struct cdx_pipeline *p, enum cdx_opt_level level)
{
	const struct cdx_dag *d = p->dag;
	size_t i, k;
	memset(rw, 0, sizeof(*rw));
	rw->p = p;
	rw->d = d;
	rw->level = level;
	rw->n = p->n_jobs;
	rw->nw = (p->n_jobs + 63) / 64;
	rw->edges = cJSON_CreateArray();
	if (level == CDX_OPT_CONSERVATIVE)
		return;
	rw->rank = cdx_xcalloc(rw->n + 1, sizeof(uint32_t));
	rw->at = cdx_xcalloc(rw->n + 1, sizeof(uint32_t));
	for (i = 0, k = 0; i < d->n_nodes; i++)
		if (d->topo[i] < rw->n) {
			rw->rank[d->topo[i]] = (uint32_t)k;
			rw->at[k++] = d->topo[i];
		}
	rw->anc = cdx_xcalloc(d->n_nodes * rw->nw + 1, sizeof(uint64_t));
	rw->nanc = cdx_xcalloc(d->n_nodes * rw->nw + 1, sizeof(uint64_t));
	rw->tmp = cdx_xcalloc(rw->nw + 1, sizeof(uint64_t));
	rw->changed = cdx_xcalloc(rw->n + 1, sizeof(bool));
	rw->needs = cdx_xcalloc(rw->n + 1, sizeof(struct cdx_buf));
	rw->notes = cdx_xcalloc(rw->n + 1, sizeof(struct cdx_buf));
	old_ancestors(rw);
	decide(rw);
}

void cdx_opt_rewrite_free(struct cdx_opt_rewrite *rw)
{
	size_t i;
	for (i = 0; i < rw->n; i++) {
		if (rw->needs)
			cdx_buf_free(&rw->needs[i]);
		if (rw->notes)
			cdx_buf_free(&rw->notes[i]);
	}
	free(rw->needs);
	free(rw->notes);
	free(rw->rank);
	free(rw->at);
	free(rw->anc);
	free(rw->nanc);
	free(rw->tmp);
	free(rw->changed);
	cJSON_Delete(rw->edges);
}
