/* loader.h — the pipeline loader's state, shared by its passes (inside the
 * pipeline layer only; the model is pipeline.h, the entry points cdx.h).
 *
 * Loading happens in passes over positioned YAML trees (ytree.h), each in
 * its own file:
 *   1. files (pipeline_load.c): the main file and, depth first, every
 *      `include:` (relative to the including file, each file once, cycles
 *      refused); the top-level keys;
 *   2. variables (pipeline_vars.c) and templates (pipeline_extends.c)
 *      gathered from all files (the including file wins over what it
 *      includes);
 *   3. stages and jobs (pipeline_jobs.c): `extends:` merged in (deep merge
 *      of mappings, the job's own keys win), keys checked against the
 *      schema, `matrix:` expanded into one job per combination
 *      (pipeline_matrix.c);
 *   4. names indexed, needs resolved, stage cycles found
 *      (pipeline_needs.c), then the job graph built (dag.c), which finds
 *      job cycles.
 * Every pass goes on after a problem, so that one run reports them all; a
 * pipeline is returned only when no problem was found.  Problems are
 * reported and counted through the config-tree toolkit (yaml/cfg.h).
 */
#ifndef CDX_LOADER_H
#define CDX_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/map.h"
#include "pipeline/pipeline.h"
#include "yaml/cfg.h"
#include "yaml/ytree.h"

#define CDX_MAX_INCLUDE_DEPTH 16
#define CDX_MAX_EXTENDS_DEPTH 16
#define CDX_MAX_MATRIX 1000
#define CDX_MAX_PARALLEL 200

struct cdx_loader {
	struct cdx_cfg c;         /* diagnostics and the problem count */
	struct cdx_ytree **trees; /* every file loaded, freed at the end */
	size_t n_trees, cap_trees;
	char **stack; /* include chain being loaded (canonical) */
	char **shown; /* the same chain as the user named it */
	size_t n_stack, cap_stack, cap_shown;
	char **seen; /* canonical paths already loaded */
	size_t n_seen, cap_seen;
	struct cdx_ynode **var_maps; /* `variables:` of each file, lowest precedence first */
	size_t n_var_maps, cap_var_maps;
	struct cdx_ynode **tpl_maps; /* `templates:` of each file, same order */
	size_t n_tpl_maps, cap_tpl_maps;
	struct cdx_ynode **stage_nodes; /* every stage, in pipeline order */
	size_t n_stage_nodes, cap_stage_nodes;
	struct cdx_ytree *scratch;             /* arena for merged nodes */
	struct cdx_map tpl_done;               /* template name -> index in tpl_resolved */
	const struct cdx_ynode **tpl_resolved; /* each template with its extends merged, once */
	size_t n_tpl_resolved, cap_tpl_resolved;
	const struct cdx_ynode *dflt;          /* `default:` of all files merged, or NULL */
	struct cdx_pipeline *p;
	size_t cap_stages, cap_jobs, cap_files;
	bool too_many; /* the job limit was passed */
	/* `rules:` read once per node (a template's, an alias's), shared by
	 * the jobs that use it: node address ("%p") -> index in rules_made */
	struct cdx_map rules_of;
	struct cdx_rules **rules_made; /* one reference each, dropped at the end */
	char **rules_keys;
	size_t n_rules_made, cap_rules_made, cap_rules_keys;
};

/* the keys a job (and so a template) may have */
extern const char *const cdx_job_keys[];
extern const size_t cdx_n_job_keys;

/* cdx_loader_intern: the pipeline's own copy of FILE, valid as long as the
 * pipeline */
const char *cdx_loader_intern(struct cdx_loader *l, const char *file);

/* pipeline_vars.c */
/* cdx_vars_set: set VAR in V (replacing one of its name); takes ownership
 * of the strings in VAR */
void cdx_vars_set(struct cdx_vars *v, struct cdx_var var);
/* cdx_loader_vars: the variables mapping MAP into OUT; ALLOW_SECRET lets a
 * variable be {value, from_env, secret} */
void cdx_loader_vars(struct cdx_loader *l, const struct cdx_ynode *map, const char *what, bool allow_secret,
		     struct cdx_vars *out);

/* cdx_loader_vars_size: report the pipeline variables VARS when the run
 * record could not hold them (CDX_VARS_RECORD_MAX), at the one that
 * passes the limit */
void cdx_loader_vars_size(struct cdx_loader *l, const struct cdx_vars *vars);

/* pipeline_refused.c */
#define CDX_KEYS_JOB 1u /* a job, a template, default: */
#define CDX_KEYS_TOP 2u /* the top level of a file (hidden keys allowed) */
#define CDX_KEYS_INCLUDE 4u /* an include: item written as a mapping */
/* cdx_loader_keys: report the keys of MAP that are not among KEYS[N]: a
 * key GitLab CI or GitHub Actions users write where WHERE says is refused
 * by name with what to do instead, the others are unknown keys
 * (cdx_cfg_keys; with CDX_KEYS_TOP, cdx_cfg_keys_hidden) */
void cdx_loader_keys(struct cdx_loader *l, const struct cdx_ynode *map, const char *const *keys, size_t n,
		     const char *what, unsigned where);

/* pipeline_default.c */
/* cdx_loader_default_add: `default:` node N of a file, over those of the
 * files read before it (its includes) */
void cdx_loader_default_add(struct cdx_loader *l, const struct cdx_ynode *n);
/* cdx_loader_default: job mapping M (extends merged) with the default:
 * keys it does not set itself, or M when there are none */
const struct cdx_ynode *cdx_loader_default(struct cdx_loader *l, const struct cdx_ynode *m);

/* pipeline_extends.c */
/* cdx_loader_merge: deep merge, BASE's keys overridden by OVER's (in the
 * scratch arena) */
struct cdx_ynode *cdx_loader_merge(struct cdx_loader *l, const struct cdx_ynode *base,
				   const struct cdx_ynode *over);
/* cdx_loader_templates: check every template's name and keys, used or not */
void cdx_loader_templates(struct cdx_loader *l);
/* cdx_loader_extends: NODE (a job or template mapping) with its `extends:`
 * merged in (in the scratch arena), or NODE itself; CHAIN (room for
 * CDX_MAX_EXTENDS_DEPTH + 1) holds the templates being resolved */
const struct cdx_ynode *cdx_loader_extends(struct cdx_loader *l, const struct cdx_ynode *node,
					   const char **chain, size_t depth);

/* pipeline_jobs.c */
/* cdx_loader_stages: every stage node and its jobs into the pipeline */
void cdx_loader_stages(struct cdx_loader *l);
/* cdx_loader_add_job: append J (taken over) unless the job limit is passed */
void cdx_loader_add_job(struct cdx_loader *l, struct cdx_job *j);
/* cdx_loader_copy_job: a copy of SRC in DST sharing its pool strings */
void cdx_loader_copy_job(struct cdx_loader *l, struct cdx_job *dst, const struct cdx_job *src);
/* cdx_loader_when: a `when:` value N into *OUT (false, reported, when
 * it is none of on_success, on_failure, always, manual, never) */
bool cdx_loader_when(struct cdx_loader *l, const struct cdx_ynode *n, enum cdx_when *out);
/* cdx_job_clear: free what a job holds outside the pipeline's pool */
void cdx_job_clear(struct cdx_job *j);

/* pipeline_artifacts.c */
/* cdx_loader_artifacts: the `artifacts:` mapping N into J->artifacts */
void cdx_loader_artifacts(struct cdx_loader *l, const struct cdx_ynode *n, struct cdx_job *j);
/* cdx_job_artifacts_copy: DST a deep copy of SRC; cdx_job_artifacts_free:
 * free what A holds */
void cdx_job_artifacts_copy(struct cdx_job_artifacts *dst, const struct cdx_job_artifacts *src);
void cdx_job_artifacts_free(struct cdx_job_artifacts *a);

/* pipeline_matrix.c */
/* cdx_loader_matrix: expand `matrix:` node MATRIX of PROTO (named at
 * NAME_NODE) into jobs */
void cdx_loader_matrix(struct cdx_loader *l, const struct cdx_ynode *matrix, const struct cdx_job *proto,
		       const struct cdx_ynode *name_node);

/* cdx_loader_parallel: expand `parallel:` node PAR of PROTO into jobs */
void cdx_loader_parallel(struct cdx_loader *l, const struct cdx_ynode *par, const struct cdx_job *proto,
			 const struct cdx_ynode *name_node);

/* pipeline_needs.c */
/* cdx_loader_needs: index stages and jobs, resolve every `needs` */
void cdx_loader_needs(struct cdx_loader *l);
/* cdx_loader_stage_cycles: report the first cycle of stage needs */
void cdx_loader_stage_cycles(struct cdx_loader *l);

#endif /* CDX_LOADER_H */
