/* pipeline_extends.c — templates and `extends:`.
 *
 * A template is a job mapping without a name under `templates:`; a job or
 * template names one or a list of them in `extends:`.  The result is a deep
 * merge: the templates' keys, later ones in the list over earlier ones, the
 * node's own keys over all, mappings on both sides merged recursively.
 * Each template is resolved once (extends lists that repeat templates
 * cannot blow up exponentially), chains deeper than CDX_CDX_MAX_EXTENDS_DEPTH
 * and cycles are refused.  Merged nodes live in the loader's scratch tree.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline/loader.h"

void cdx_loader_templates(struct cdx_loader *l)
{
	size_t i, k;
	for (i = 0; i < l->n_tpl_maps; i++) {
		for (k = 0; k < l->tpl_maps[i]->n; k++) {
			const struct cdx_ypair *tp = &l->tpl_maps[i]->pairs[k];
			cdx_cfg_name(&l->c, tp->key, "template name");
			if (tp->val->type != CDX_Y_MAP)
				cdx_cfg_problem(&l->c, tp->val, "template '%s' must be a mapping, not %s",
						tp->key->str, cdx_yaml_typename(tp->val));
			else /* checked even when no job uses it */
				cdx_loader_keys(l, tp->val, cdx_job_keys, cdx_n_job_keys, "template",
						CDX_KEYS_JOB);
		}
	}
}

static const struct cdx_ynode *find_template(struct cdx_loader *l, const char *name)
{
	size_t i = l->n_tpl_maps;
	while (i-- > 0) {
		const struct cdx_ynode *t = cdx_yaml_get(l->tpl_maps[i], name);
		if (t)
			return t;
	}
	return NULL;
}

/* deep merge: BASE's keys, overridden by OVER's; mappings on both sides are
 * merged recursively.  The result lives in the scratch arena. */
struct cdx_ynode *cdx_loader_merge(struct cdx_loader *l, const struct cdx_ynode *base,
				   const struct cdx_ynode *over)
{
	struct cdx_ynode *m = cdx_yaml_new_map(l->scratch, over, base->n + over->n);
	size_t i;
	for (i = 0; i < base->n; i++) {
		const struct cdx_ynode *o = cdx_yaml_get(over, base->pairs[i].key->str);
		if (!o)
			cdx_yaml_map_add(l->scratch, m, base->pairs[i].key, base->pairs[i].val);
	}
	for (i = 0; i < over->n; i++) {
		const struct cdx_ynode *b = cdx_yaml_get(base, over->pairs[i].key->str);
		struct cdx_ynode *v = over->pairs[i].val;
		if (b && b->type == CDX_Y_MAP && v->type == CDX_Y_MAP)
			v = cdx_loader_merge(l, b, v);
		cdx_yaml_map_add(l->scratch, m, over->pairs[i].key, v);
	}
	return m;
}

const struct cdx_ynode *cdx_loader_extends(struct cdx_loader *l, const struct cdx_ynode *node,
					   const char **chain, size_t depth)
{
	const struct cdx_ynode *ext = cdx_yaml_get(node, "extends"), *result = node;
	const struct cdx_ynode *const *names;
	size_t n, i;
	if (!ext || !cdx_cfg_items(&l->c, &ext, "extends", &names, &n))
		return node;
	/* later templates in the list win over earlier ones; the node over all */
	for (i = n; i-- > 0;) {
		const struct cdx_ynode *tpl;
		size_t k;
		if (!cdx_cfg_want(&l->c, names[i], CDX_Y_SCALAR, "extends"))
			continue;
		for (k = 0; k < depth; k++) {
			if (strcmp(chain[k], names[i]->str) == 0) {
				struct cdx_buf cyc = {0};
				size_t j;
				for (j = k; j < depth; j++)
					cdx_buf_printf(&cyc, "%s -> ", chain[j]);
				cdx_buf_adds(&cyc, names[i]->str);
				cdx_cfg_problem(&l->c, names[i], "extends cycle: %s", cyc.data);
				cdx_buf_free(&cyc);
				return node;
			}
		}
		tpl = find_template(l, names[i]->str);
		if (!tpl) {
			const char **cands = NULL;
			size_t nc = 0, cap = 0, t, p;
			for (t = 0; t < l->n_tpl_maps; t++)
				for (p = 0; p < l->tpl_maps[t]->n; p++)
					CDX_PUSH(cands, nc, cap, l->tpl_maps[t]->pairs[p].key->str);
			cdx_cfg_unknown(&l->c, names[i], "template", names[i]->str, cands, nc);
			free(cands);
			continue;
		}
		if (tpl->type != CDX_Y_MAP)
			continue; /* reported once, where templates are checked */
		if (depth >= CDX_MAX_EXTENDS_DEPTH) {
			cdx_cfg_problem(&l->c, names[i], "extends nested deeper than %d templates",
					CDX_MAX_EXTENDS_DEPTH);
			continue;
		}
		if (cdx_yaml_get(tpl, "name"))
			cdx_cfg_problem(&l->c, cdx_yaml_get(tpl, "name"), "a template cannot set 'name'");
		{
			/* each template is resolved once: extends lists that repeat
			 * templates cannot blow up exponentially */
			size_t at;
			if (cdx_map_get(&l->tpl_done, names[i]->str, &at)) {
				tpl = l->tpl_resolved[at];
			} else {
				chain[depth] = names[i]->str;
				tpl = cdx_loader_extends(l, tpl, chain, depth + 1);
				CDX_PUSH(l->tpl_resolved, l->n_tpl_resolved, l->cap_tpl_resolved, tpl);
				cdx_map_put(&l->tpl_done, names[i]->str, l->n_tpl_resolved - 1, NULL);
			}
		}
		result = cdx_loader_merge(l, tpl, result);
	}
	return result;
}
