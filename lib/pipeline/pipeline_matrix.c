/* pipeline_matrix.c — `matrix:` expanded into jobs.
 *
 * A matrix is a mapping VAR -> value or [values], or a list of such
 * mappings; each mapping gives the product of its values, one job per
 * combination, named BASE-VALUE-VALUE (name_part) with the values as job
 * variables.  A matrix may not give more than CDX_CDX_MAX_MATRIX jobs; the
 * expansion stops as soon as the pipeline's job limit is passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/loader.h"

/* matrix value to a name part: [A-Za-z0-9_.] kept, other runs become one
 * '_', leading and trailing '_' dropped ("-O2" -> "O2", "x86 64" -> "x86_64") */
static void name_part(struct cdx_buf *b, const char *v)
{
	size_t start = b->len;
	for (; *v; v++) {
		char c = *v;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '.';
		if (ok)
			cdx_buf_addc(b, c);
		else if (b->len > start && b->data[b->len - 1] != '_')
			cdx_buf_addc(b, '_');
	}
	while (b->len > start && b->data[b->len - 1] == '_')
		b->data[--b->len] = '\0';
}

/* one mapping VAR -> value or [values]: expand the product into jobs */
static void expand_matrix_map(struct cdx_loader *l, const struct cdx_ynode *mm, const struct cdx_job *proto,
			      const struct cdx_ynode *name_node)
{
	size_t nvars = mm->n, i, total = 1;
	size_t *idx;
	if (!nvars) {
		cdx_cfg_problem(&l->c, mm, "matrix must name at least one variable");
		return;
	}
	for (i = 0; i < nvars; i++) {
		const struct cdx_ynode *k = mm->pairs[i].key, *v = mm->pairs[i].val;
		size_t cnt = v->type == CDX_Y_SEQ ? v->n : 1;
		if (!cdx_cfg_env_name(&l->c, k, "variable name"))
			return;
		if (v->type == CDX_Y_MAP || (v->type == CDX_Y_SEQ && v->n == 0)) {
			cdx_cfg_problem(
			    &l->c, v, "matrix values of '%s' must be a string or a non-empty list of strings",
			    k->str);
			return;
		}
		if (v->type == CDX_Y_SEQ)
			for (size_t q = 0; q < v->n; q++)
				if (!cdx_cfg_want(&l->c, v->items[q], CDX_Y_SCALAR, "a matrix value"))
					return;
		total *= cnt;
		if (total > CDX_MAX_MATRIX) {
			cdx_cfg_problem(&l->c, mm, "matrix expands to more than %d jobs", CDX_MAX_MATRIX);
			return;
		}
	}
	idx = cdx_xcalloc(nvars, sizeof(*idx));
	while (!l->too_many) {
		struct cdx_job j;
		struct cdx_buf name = {0};
		cdx_buf_adds(&name, proto->name);
		cdx_loader_copy_job(l, &j, proto);
		for (i = 0; i < nvars; i++) {
			const struct cdx_ynode *v = mm->pairs[i].val;
			const struct cdx_ynode *val = v->type == CDX_Y_SEQ ? v->items[idx[i]] : v;
			struct cdx_var var = {0};
			cdx_buf_addc(&name, '-');
			name_part(&name, val->str);
			var.name = cdx_xstrdup(mm->pairs[i].key->str);
			var.value = cdx_xstrdup(val->str);
			var.file = cdx_loader_intern(l, val->file);
			var.line = val->line;
			var.col = val->col;
			cdx_vars_set(&j.vars, var);
		}
		j.name = cdx_arena_strndup(&l->p->pool, name.data, name.len);
		cdx_buf_free(&name);
		j.matrix_base = proto->name;
		if (!cdx_name_valid(j.name)) {
			cdx_cfg_problem(
			    &l->c, name_node,
			    "matrix job name '%s' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -",
			    j.name);
			cdx_job_clear(&j);
		} else {
			cdx_loader_add_job(l, &j);
		}
		for (i = nvars; i-- > 0;) {
			const struct cdx_ynode *v = mm->pairs[i].val;
			size_t cnt = v->type == CDX_Y_SEQ ? v->n : 1;
			if (++idx[i] < cnt)
				break;
			idx[i] = 0;
		}
		if (i == (size_t)-1)
			break;
	}
	free(idx);
}

void cdx_loader_matrix(struct cdx_loader *l, const struct cdx_ynode *matrix, const struct cdx_job *proto,
		       const struct cdx_ynode *name_node)
{
	size_t k;
	if (matrix->type == CDX_Y_MAP) {
		expand_matrix_map(l, matrix, proto, name_node);
	} else if (matrix->type == CDX_Y_SEQ && matrix->n == 0) {
		cdx_cfg_problem(&l->c, matrix, "matrix must name at least one variable");
	} else if (matrix->type == CDX_Y_SEQ) {
		for (k = 0; k < matrix->n; k++)
			if (cdx_cfg_want(&l->c, matrix->items[k], CDX_Y_MAP, "a matrix entry"))
				expand_matrix_map(l, matrix->items[k], proto, name_node);
	} else {
		cdx_cfg_problem(&l->c, matrix, "matrix must be a mapping or a list of mappings, not %s",
				cdx_yaml_typename(matrix));
	}
}

/* `parallel: N` (2..CDX_MAX_PARALLEL): N copies of PROTO named NAME-IofN
 * (GitLab's "NAME I/N": a job name has no space or '/'), with
 * CDX_NODE_INDEX (1..N) and CDX_NODE_TOTAL; `parallel: {matrix: M}` is
 * matrix: M */
void cdx_loader_parallel(struct cdx_loader *l, const struct cdx_ynode *par, const struct cdx_job *proto,
			 const struct cdx_ynode *name_node)
{
	int n, i;
	if (par->type == CDX_Y_MAP) {
		static const char *const keys[] = {"matrix"};
		const struct cdx_ynode *m;
		cdx_loader_keys(l, par, keys, 1, "parallel", CDX_KEYS_JOB);
		m = cdx_cfg_need(&l->c, par, "matrix", "parallel");
		if (m)
			cdx_loader_matrix(l, m, proto, name_node);
		return;
	}
	if (!cdx_cfg_int(&l->c, par, "parallel", 2, CDX_MAX_PARALLEL, &n))
		return;
	for (i = 1; i <= n && !l->too_many; i++) {
		struct cdx_job j;
		struct cdx_var var = {0};
		char name[CDX_NAME_MAX + 32];
		cdx_loader_copy_job(l, &j, proto);
		snprintf(name, sizeof(name), "%s-%dof%d", proto->name, i, n);
		var.name = cdx_xstrdup("CDX_NODE_INDEX");
		var.value = cdx_xasprintf("%d", i);
		var.file = cdx_loader_intern(l, par->file);
		var.line = par->line;
		var.col = par->col;
		cdx_vars_set(&j.vars, var);
		var.name = cdx_xstrdup("CDX_NODE_TOTAL");
		var.value = cdx_xasprintf("%d", n);
		cdx_vars_set(&j.vars, var);
		j.name = cdx_arena_strdup(&l->p->pool, name);
		j.matrix_base = proto->name;
		if (!cdx_name_valid(j.name)) {
			cdx_cfg_problem(&l->c, name_node,
					"parallel job name '%s' is too long: use a base name of at most %d characters",
					j.name, CDX_NAME_MAX - (int)(strlen(name) - strlen(proto->name)));
			cdx_job_clear(&j);
			return;
		}
		cdx_loader_add_job(l, &j);
	}
}
