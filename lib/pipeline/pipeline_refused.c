/* pipeline_refused.c — the keys GitLab CI and GitHub Actions users write
 * that cdx does not do, refused by name with what to do instead.
 *
 * A pipeline written for GitLab or GitHub and read by cdx must never lose
 * a key silently: `image:` ignored would run the job on the host with the
 * host's tools and pass for the wrong reason.  So every mapping the loader
 * checks (the top level, jobs, templates, default:) goes through
 * cdx_loader_keys: a key of the table below gets its own message
 * ("image: jobs run on the host ..."), every other unknown key the
 * toolkit's "unknown key" with the closest known one (yaml/cfg.h).  A key
 * is refused only where the table says (a job's `environment:` is a GitLab
 * deployment, a stage's `environment:` is cdx's own).
 */
#include <string.h>

#include "pipeline/loader.h"

struct refused {
	const char *key;
	unsigned where; /* CDX_KEYS_* */
	const char *instead;
};

static const struct refused refused[] = {
    {"image", CDX_KEYS_JOB | CDX_KEYS_TOP,
     "jobs run on the host, cdx starts no containers; run `docker run IMAGE ...` in script, or use tags: to "
     "pick a worker of the pool that has the tools"},
    {"services", CDX_KEYS_JOB | CDX_KEYS_TOP,
     "cdx starts no service containers; start what the job needs in before_script and stop it in "
     "after_script"},
    {"cache", CDX_KEYS_JOB | CDX_KEYS_TOP,
     "cdx keeps no cache between runs; jobs run in the workspace, so make's up-to-date checks keep what "
     "was built; hand files on with artifacts:"},
    {"trigger", CDX_KEYS_JOB, "cdx triggers no downstream pipeline; run `cdx run OTHER.yml` in script"},
    {"environment", CDX_KEYS_JOB,
     "a job's environment is a GitLab deployment; deploy with `cdx deploy APP ENV VERSION` in script "
     "(environments live in cdx.yml); for environment variables use variables:"},
    {"runs-on", CDX_KEYS_JOB, "jobs run on the host; use tags: with the worker pool (cdx worker --tags)"},
    {"container", CDX_KEYS_JOB, "jobs run on the host, cdx starts no containers; run `docker run` in script"},
    {"uses", CDX_KEYS_JOB, "cdx runs no GitHub actions; write the commands under script:"},
    {"steps", CDX_KEYS_JOB, "cdx has no steps; write the commands as a list under script:"},
    {"with", CDX_KEYS_JOB, "cdx runs no GitHub actions; pass values with variables:"},
    {"env", CDX_KEYS_JOB | CDX_KEYS_TOP, "use variables:"},
    {"if", CDX_KEYS_JOB, "use rules: [{if: EXPR}] (GitLab's expressions)"},
    {"timeout-minutes", CDX_KEYS_JOB, "use timeout: (30m, 1h)"},
    {"continue-on-error", CDX_KEYS_JOB, "use allow_failure: true"},
    {"strategy", CDX_KEYS_JOB, "use matrix: {VAR: [values]} or parallel: N"},
    {"permissions", CDX_KEYS_JOB | CDX_KEYS_TOP, "cdx hands jobs no forge token; nothing to set"},
    {"concurrency", CDX_KEYS_JOB, "concurrency: is a key of the pipeline (the top level), not of a job"},
    {"stage", CDX_KEYS_JOB,
     "a job belongs to the stage it is listed under: stages: [{name: STAGE, jobs: [...]}]"},
    {"coverage", CDX_KEYS_JOB,
     "cdx reads no coverage from logs; compute it in script and hand it on by writing COVERAGE=... to "
     "$CDX_OUTPUT"},
    {"interruptible", CDX_KEYS_JOB,
     "a newer run cancels an older one with concurrency: {group: NAME, cancel_in_progress: true} at the "
     "top of the pipeline"},
    {"resource_group", CDX_KEYS_JOB,
     "one run at a time: concurrency: {group: NAME} at the top of the pipeline"},
    {"release", CDX_KEYS_JOB, "cdx makes no forge releases; call your forge's command line in script"},
    {"pages", CDX_KEYS_JOB | CDX_KEYS_TOP, "cdx publishes no GitLab Pages; copy the site in script"},
    {"dependencies", CDX_KEYS_JOB,
     "use needs: (a job gets the outputs of the jobs it needs); fetch files with cdx artifacts RUN "
     "STAGE/JOB"},
    {"hooks", CDX_KEYS_JOB, "cdx fetches no sources (jobs run in the workspace); use before_script"},
    {"id_tokens", CDX_KEYS_JOB,
     "cdx issues no OIDC tokens; pass a token as variables: {TOKEN: {from_env: TOKEN, secret: true}}"},
    {"secrets", CDX_KEYS_JOB,
     "cdx reads no secret store; pass secrets as variables: {NAME: {from_env: NAME, secret: true}} "
     "(masked in logs)"},
    {"inherit", CDX_KEYS_JOB, "a job takes the default: keys it does not set; set a key on the job to "
     "override it"},
    {"only", CDX_KEYS_JOB, "use rules: with if: and changes:"},
    {"except", CDX_KEYS_JOB, "use rules: with if: and changes: (when: never)"},
    {"identity", CDX_KEYS_JOB, "cdx issues no cloud identities; pass credentials as secret variables"},
    {"manual_confirmation", CDX_KEYS_JOB, "a manual job is started with cdx play RUN STAGE/JOB"},
    {"workflow", CDX_KEYS_TOP,
     "decide per job with rules:, or choose what runs with `cdx run --only STAGE/JOB`"},
    {"before_script", CDX_KEYS_TOP, "put it under default: (GitLab's global form is deprecated)"},
    {"after_script", CDX_KEYS_TOP, "put it under default: (GitLab's global form is deprecated)"},
    {"on", CDX_KEYS_TOP,
     "cdx runs when it is called (make, cron, a webhook calling cdx run); choose jobs with rules:"},
    {"jobs", CDX_KEYS_TOP, "list jobs under their stage: stages: [{name: STAGE, jobs: [...]}]"},
    {"defaults", CDX_KEYS_TOP, "use default:"},
    {"run-name", CDX_KEYS_TOP, "use name:"},
    {"spec", CDX_KEYS_TOP, "cdx has no pipeline inputs; use variables: and cdx run --var K=V"},
    {"remote", CDX_KEYS_INCLUDE,
     "cdx includes local files only (a run never depends on the network); download the file (curl -o) "
     "and include its path"},
    {"project", CDX_KEYS_INCLUDE, "cdx includes local files only; check the other project out and include "
     "the file by its path"},
    {"template", CDX_KEYS_INCLUDE, "cdx ships no GitLab templates; copy what you need into a local file"},
    {"component", CDX_KEYS_INCLUDE, "cdx has no CI/CD components; include a local file"},
    {"inputs", CDX_KEYS_INCLUDE, "cdx includes take no inputs; use variables:"},
    {"rules", CDX_KEYS_INCLUDE, "a cdx include is unconditional; use rules: on the jobs"},
};

static const struct refused *find_refused(const char *key, unsigned where)
{
	size_t i;
	for (i = 0; i < CDX_ARRAY_LEN(refused); i++)
		if ((refused[i].where & where) && strcmp(refused[i].key, key) == 0)
			return &refused[i];
	return NULL;
}

static bool known(const char *key, const char *const *keys, size_t n)
{
	size_t k;
	for (k = 0; k < n; k++) /* the first byte first: a pipeline checks 100,000 jobs */
		if (key[0] == keys[k][0] && strcmp(key, keys[k]) == 0)
			return true;
	return false;
}

void cdx_loader_keys(struct cdx_loader *l, const struct cdx_ynode *map, const char *const *keys, size_t n,
		     const char *what, unsigned where)
{
	bool hidden = (where & CDX_KEYS_TOP) != 0;
	struct cdx_ynode *rest;
	size_t i, n_refused = 0;
	for (i = 0; i < map->n; i++) {
		const struct cdx_ynode *key = map->pairs[i].key, *val = map->pairs[i].val;
		const struct refused *r;
		if (known(key->str, keys, n))
			continue;
		r = find_refused(key->str, where);
		if (r) {
			cdx_cfg_problem(&l->c, key, "'%s' is not supported in %s: %s", key->str, what, r->instead);
			n_refused++;
		} else if ((where & CDX_KEYS_TOP) && val->type == CDX_Y_MAP && cdx_yaml_get(val, "script") &&
			   !(hidden && (key->str[0] == '.' || strncmp(key->str, "x-", 2) == 0))) {
			/* a GitLab job at the top level */
			cdx_cfg_problem(&l->c, key,
					"'%s' looks like a GitLab job at the top level: cdx lists jobs under "
					"their stage: stages: [{name: STAGE, jobs: [{name: %s, script: ...}]}]",
					key->str, key->str);
			n_refused++;
		}
	}
	if (!n_refused) {
		if (hidden)
			cdx_cfg_keys_hidden(&l->c, map, keys, n, what);
		else
			cdx_cfg_keys(&l->c, map, keys, n, what);
		return;
	}
	/* the rest as "unknown key", each problem reported once */
	rest = cdx_yaml_new_map(l->scratch, map, map->n);
	for (i = 0; i < map->n; i++) {
		const struct cdx_ynode *key = map->pairs[i].key, *val = map->pairs[i].val;
		if (known(key->str, keys, n) || find_refused(key->str, where))
			continue;
		if ((where & CDX_KEYS_TOP) && val->type == CDX_Y_MAP && cdx_yaml_get(val, "script"))
			continue;
		cdx_yaml_map_add(l->scratch, rest, map->pairs[i].key, map->pairs[i].val);
	}
	if (hidden)
		cdx_cfg_keys_hidden(&l->c, rest, keys, n, what);
	else
		cdx_cfg_keys(&l->c, rest, keys, n, what);
}
