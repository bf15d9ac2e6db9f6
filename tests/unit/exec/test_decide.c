/* test_decide.c — decide.c: each job's decision from when: and rules:
 * (first matching rule wins, none matching is never, a rule's when, its
 * variables and allow_failure), the precedence of the variables rules see
 * (--var over the job's over the pipeline's over cdx's own), the why
 * sentences, jobs left out by selection, an expression that cannot be
 * evaluated (an error naming the job and rule), and changes: against a
 * real file store (a digest recorded with a successful attempt makes the
 * next decision skip the job until a file's content changes). */
#include "fixtures.h"

#include <cjson/cJSON.h>

#include "exec/changes.h"
#include "exec/decide.h"
#include "pipeline/pipeline.h"
#include "state/store.h"

static const char pipeline[] =
    "name: dp\n"
    "variables: {LEVEL: pipe, ONLY_PIPE: p}\n"
    "stages:\n"
    "  - name: s\n"
    "    jobs:\n"
    "      - name: plain\n"
    "        script: 'true'\n"
    "      - name: manual\n"
    "        script: 'true'\n"
    "        when: manual\n"
    "      - name: first\n"
    "        script: 'true'\n"
    "        variables: {LEVEL: job}\n"
    "        allow_failure: true\n"
    "        rules:\n"
    "          - if: '$LEVEL == \"pipe\"'\n"
    "            when: always\n"
    "          - if: '$LEVEL == \"job\" && $ONLY_PIPE == \"p\" && $CDX_PIPELINE == \"dp\"'\n"
    "            variables: {FROM_RULE: two}\n"
    "            allow_failure: false\n"
    "          - when: manual\n"
    "      - name: none\n"
    "        script: 'true'\n"
    "        rules:\n"
    "          - if: $NOPE\n"
    "          - if: '$CDX_RUN_ID == \"r1\"'\n"
    "            when: never\n"
    "      - name: bad\n"
    "        script: 'true'\n"
    "        rules:\n"
    "          - if: '$RE_VAR && \"x\" =~ $RE_VAR'\n";

static struct cdx_pipeline *load(const char *text)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem("dp.yml", text, strlen(text), d);
	assert_non_null(p);
	cdx_diags_free(d);
	return p;
}

static void put(struct cdx_vars *v, const char *name, const char *value)
{
	struct cdx_var x = {0};
	x.name = strdup(name);
	x.value = strdup(value);
	CDX_PUSH(v->v, v->n, v->cap, x);
}

static void decisions(void **state)
{
	struct cdx_pipeline *p = load(pipeline);
	struct cdx_decide_ctx dc;
	struct cdx_job_decision *d;
	struct cdx_error err = {0};
	struct cdx_vars rv = {0};
	bool wanted[5] = {true, true, true, true, false};
	(void)state;
	memset(&dc, 0, sizeof(dc));
	dc.run_id = "r1";
	dc.wanted = wanted;
	d = cdx_decide_jobs(p, &dc, &err);
	assert_non_null(d);
	assert_int_equal(d[0].when, CDX_WHEN_ON_SUCCESS);
	assert_string_equal(d[0].why, "");
	assert_int_equal(d[1].when, CDX_WHEN_MANUAL);
	assert_string_equal(d[1].why, "when: manual");
	/* the job's LEVEL hides the pipeline's: rule 2 */
	assert_int_equal(d[2].when, CDX_WHEN_ON_SUCCESS);
	assert_false(d[2].allow_failure);
	assert_int_equal(d[2].vars.n, 1);
	assert_string_equal(d[2].vars.v[0].name, "FROM_RULE");
	assert_string_equal(d[2].vars.v[0].value, "two");
	assert_non_null(strstr(d[2].why, "rules: rule 2 matched ($LEVEL == \"job\" && "));
	assert_int_equal(d[3].when, CDX_WHEN_NEVER);
	assert_string_equal(d[3].why, "rules: rule 2 matched ($CDX_RUN_ID == \"r1\"), when: never");
	assert_int_equal(d[4].when, CDX_WHEN_NEVER);
	assert_string_equal(d[4].why, "not selected");
	cdx_decisions_free(d, p->n_jobs);

	/* --var wins over the job's variables; no rule of `none` matches */
	put(&rv, "LEVEL", "pipe");
	dc.run_vars = &rv;
	dc.run_id = "r2";
	d = cdx_decide_jobs(p, &dc, &err);
	assert_non_null(d);
	assert_int_equal(d[2].when, CDX_WHEN_ALWAYS);
	assert_true(d[2].allow_failure); /* the job's own: the rule says nothing */
	assert_string_equal(d[2].why, "rules: rule 1 matched ($LEVEL == \"pipe\"), when: always");
	assert_int_equal(d[3].when, CDX_WHEN_NEVER);
	assert_string_equal(d[3].why, "rules: no rule matched");
	cdx_decisions_free(d, p->n_jobs);

	/* a variable holding no /regex/: an error naming the job and the rule */
	put(&rv, "RE_VAR", "plain");
	wanted[4] = true;
	d = cdx_decide_jobs(p, &dc, &err);
	assert_null(d);
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_string_equal(err.msg, "dp.yml:31:13: job s/bad: rule 1: $RE_VAR: the value is not a /regex/");
	cdx_vars_free(&rv);
	cdx_pipeline_free(p);
}

static void changes_against_store(void **state)
{
	char *dir = fx_tmpdir(), *url, *src_dir;
	struct cdx_pipeline *p = load("name: ch\n"
				      "stages:\n"
				      "  - name: s\n"
				      "    jobs:\n"
				      "      - name: c\n"
				      "        script: 'true'\n"
				      "        rules:\n"
				      "          - changes: [src/**/*.c]\n");
	struct cdx_decide_ctx dc;
	struct cdx_job_decision *d;
	struct cdx_error err = {0};
	struct cdx_store *s;
	cJSON *rec;
	(void)state;
	assert_non_null(dir);
	src_dir = cdx_xasprintf("%s/src/deep", dir);
	assert_int_equal(cdx_mkdirs(src_dir), 0);
	free(fx_write(src_dir, "a.c", "one\n"));
	free(fx_write(src_dir, "a.h", "not matched\n"));
	url = cdx_xasprintf("file:%s/state", dir);
	memset(&dc, 0, sizeof(dc));
	dc.dir = dir;
	dc.state = url;
	/* no store yet: everything changed */
	d = cdx_decide_jobs(p, &dc, &err);
	assert_non_null(d);
	assert_int_equal(d[0].when, CDX_WHEN_ON_SUCCESS);
	assert_string_equal(d[0].why, "rules: rule 1 matched, no earlier success");
	assert_non_null(d[0].changes);
	/* record a successful attempt with the digest */
	assert_int_equal(cdx_store_open(url, &s, &err), 0);
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "run");
	cJSON_AddStringToObject(rec, "id", "run1");
	cJSON_AddStringToObject(rec, "pipeline", "ch");
	assert_int_equal(s->ops->append(s, rec, &err), 0);
	cJSON_Delete(rec);
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "attempt");
	cJSON_AddStringToObject(rec, "run", "run1");
	cJSON_AddStringToObject(rec, "pipeline", "ch");
	cJSON_AddStringToObject(rec, "job", "s/c");
	cJSON_AddStringToObject(rec, "status", "success");
	cJSON_AddItemToObject(rec, "changes", cJSON_Duplicate(d[0].changes, 1));
	assert_int_equal(s->ops->append(s, rec, &err), 0);
	assert_int_equal(s->ops->flush(s, &err), 0);
	cJSON_Delete(rec);
	cdx_store_close(s);
	cdx_decisions_free(d, p->n_jobs);
	/* unchanged (a file the globs do not match changed): skipped */
	free(fx_write(src_dir, "a.h", "changed, but not matched\n"));
	d = cdx_decide_jobs(p, &dc, &err);
	assert_non_null(d);
	assert_int_equal(d[0].when, CDX_WHEN_NEVER);
	assert_string_equal(d[0].why, "rules: no rule matched (src/**/*.c unchanged since its last success)");
	cdx_decisions_free(d, p->n_jobs);
	/* a new matching file is a change */
	free(fx_write(src_dir, "b.c", "two\n"));
	d = cdx_decide_jobs(p, &dc, &err);
	assert_non_null(d);
	assert_int_equal(d[0].when, CDX_WHEN_ON_SUCCESS);
	assert_string_equal(d[0].why, "rules: rule 1 matched, files changed");
	cdx_decisions_free(d, p->n_jobs);
	cdx_pipeline_free(p);
	fx_rmrf(dir);
	free(dir);
	free(url);
	free(src_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(decisions),
	    cmocka_unit_test(changes_against_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
