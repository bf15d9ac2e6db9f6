/* pipeline_default.c — `default:`, the keys every job takes unless it sets
 * them itself (GitLab's default:).
 *
 * default: is a job mapping without the keys that make one job what it is
 * (name, script, needs, extends, matrix, parallel, inputs, outputs,
 * duration_hint, rules): before_script, after_script, retry, timeout,
 * variables, allow_failure, and whatever job keys the other passes add
 * (when, tags, artifacts, ...): a key is allowed in default: when it is a
 * job key and not one of the above, so a new job key is a default key too.
 * Each file may have one; an including file's default: is merged over those
 * of what it includes.  A job takes it after its extends: are merged, as
 * the lowest layer of the same deep merge (pipeline_extends.c): the job's
 * own and its templates' keys win, mappings (variables:) are merged key by
 * key.  Merged nodes live in the loader's scratch tree.
 */
#include <string.h>

#include "pipeline/loader.h"

/* job keys that only a job itself may set */
static const char *const job_only[] = {"name",	  "script",  "needs",   "extends",	 "matrix",
				       "parallel", "inputs",  "outputs", "duration_hint", "rules"};

void cdx_loader_default_add(struct cdx_loader *l, const struct cdx_ynode *n)
{
	const char *keys[64];
	size_t i, k, nk = 0;
	if (!cdx_cfg_want(&l->c, n, CDX_Y_MAP, "default"))
		return;
	for (i = 0; i < cdx_n_job_keys && nk < CDX_ARRAY_LEN(keys); i++) {
		for (k = 0; k < CDX_ARRAY_LEN(job_only); k++)
			if (strcmp(cdx_job_keys[i], job_only[k]) == 0)
				break;
		if (k == CDX_ARRAY_LEN(job_only))
			keys[nk++] = cdx_job_keys[i];
	}
	for (i = 0; i < n->n; i++) {
		const struct cdx_ynode *key = n->pairs[i].key;
		for (k = 0; k < CDX_ARRAY_LEN(job_only); k++)
			if (strcmp(key->str, job_only[k]) == 0)
				cdx_cfg_problem(&l->c, key, "'%s' cannot be in default: set it on each job",
						key->str);
	}
	{
		/* what is neither a default key nor a job-only key (reported above) */
		struct cdx_ynode *rest = cdx_yaml_new_map(l->scratch, n, n->n);
		for (i = 0; i < n->n; i++) {
			for (k = 0; k < CDX_ARRAY_LEN(job_only); k++)
				if (strcmp(n->pairs[i].key->str, job_only[k]) == 0)
					break;
			if (k == CDX_ARRAY_LEN(job_only))
				cdx_yaml_map_add(l->scratch, rest, n->pairs[i].key, n->pairs[i].val);
		}
		cdx_loader_keys(l, rest, keys, nk, "default", CDX_KEYS_JOB);
	}
	l->dflt = l->dflt ? cdx_loader_merge(l, l->dflt, n) : n;
}

const struct cdx_ynode *cdx_loader_default(struct cdx_loader *l, const struct cdx_ynode *m)
{
	if (!l->dflt || !l->dflt->n)
		return m;
	return cdx_loader_merge(l, l->dflt, m);
}
