/* test_cfg.c — cfg.c, the config-tree toolkit: each helper's wording (the
 * one every loader shares), its position, and that it counts the problem
 * and leaves the output alone on failure. */
#include "fixtures.h"

#include "base/diag.h"
#include "yaml/cfg.h"

struct fx {
	struct cdx_diags *d;
	struct cdx_ytree *t;
	struct cdx_cfg c;
};

/* the tree of TEXT ("t.yml"), its root a mapping */
static const struct cdx_ynode *tree(struct fx *f, const char *text)
{
	f->d = cdx_diags_new();
	f->t = cdx_yaml_parse("t.yml", text, strlen(text), f->d);
	assert_non_null(f->t);
	memset(&f->c, 0, sizeof(f->c));
	f->c.diags = f->d;
	f->c.file = "t.yml";
	return cdx_yaml_root(f->t);
}

/* the problems so far, "LINE:COL: message\n" each, in the order of their
 * positions (diagnostics are kept sorted); then the fixture is freed */
static void expect(struct fx *f, const char *want)
{
	struct cdx_buf b = {0};
	size_t i;
	for (i = 0; i < cdx_diags_count(f->d); i++) {
		const struct cdx_diag *g = cdx_diags_get(f->d, i);
		cdx_buf_printf(&b, "%d:%d: %s\n", g->line, g->col, g->msg);
	}
	assert_string_equal(b.data ? b.data : "", want);
	assert_int_equal(f->c.problems, (int)cdx_diags_count(f->d));
	cdx_buf_free(&b);
	cdx_yaml_free(f->t);
	cdx_diags_free(f->d);
}

static void test_keys(void **state)
{
	static const char *const keys[] = {"name", "script", "needs"};
	struct fx f;
	const struct cdx_ynode *r = tree(&f, "name: a\nscirpt: b\nzzzzzz: c\n.hidden: d\nx-anchor: e\n");
	(void)state;
	cdx_cfg_keys(&f.c, r, keys, 3, "job");
	expect(&f, "2:1: unknown key 'scirpt' in job (did you mean 'script'?)\n"
		   "3:1: unknown key 'zzzzzz' in job\n"
		   "4:1: unknown key '.hidden' in job\n"
		   "5:1: unknown key 'x-anchor' in job\n");
	r = tree(&f, "name: a\n.hidden: d\nx-anchor: e\nnedes: f\n");
	cdx_cfg_keys_hidden(&f.c, r, keys, 3, "pipeline");
	expect(&f, "4:1: unknown key 'nedes' in pipeline (did you mean 'needs'?)\n");
	r = tree(&f, "a: {b: 1}\n");
	assert_null(cdx_cfg_need(&f.c, cdx_yaml_get(r, "a"), "name", "stage"));
	assert_non_null(cdx_cfg_need(&f.c, cdx_yaml_get(r, "a"), "b", "stage"));
	expect(&f, "1:4: missing key 'name' in stage\n");
}

static void test_types_and_names(void **state)
{
	struct fx f;
	const struct cdx_ynode *r =
	    tree(&f, "a: [1]\nb: ~\nc: 'a b'\nd: ..\ne: ok.name\nf: 1X\ng: _X1\nh: \"\"\n");
	(void)state;
	assert_false(cdx_cfg_want(&f.c, cdx_yaml_get(r, "a"), CDX_Y_SCALAR, "timeout"));
	assert_false(cdx_cfg_want(&f.c, cdx_yaml_get(r, "b"), CDX_Y_SCALAR, "name"));
	assert_true(cdx_cfg_want(&f.c, cdx_yaml_get(r, "a"), CDX_Y_SEQ, "needs"));
	assert_false(cdx_cfg_name(&f.c, cdx_yaml_get(r, "c"), "job name"));
	assert_false(cdx_cfg_name(&f.c, cdx_yaml_get(r, "d"), "stage name"));
	assert_true(cdx_cfg_name(&f.c, cdx_yaml_get(r, "e"), "stage name"));
	assert_false(cdx_cfg_env_name(&f.c, cdx_yaml_get(r, "f"), "variable name"));
	assert_true(cdx_cfg_env_name(&f.c, cdx_yaml_get(r, "g"), "variable name"));
	assert_false(cdx_cfg_env_name(&f.c, cdx_yaml_get(r, "h"), "from_env"));
	expect(&f, "1:4: timeout must be a string, not a list\n"
		   "2:4: name must be a string, not null\n"
		   "3:4: job name 'a b' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -\n"
		   "4:4: stage name '..' is invalid: '.' and '..' cannot be names\n"
		   "6:4: variable name '1X' is invalid: use A-Z a-z 0-9 _, not starting with a digit\n"
		   "8:4: from_env '' is invalid: use A-Z a-z 0-9 _, not starting with a digit\n");
}

static void test_values(void **state)
{
	struct fx f;
	const struct cdx_ynode *r =
	    tree(&f, "a: 10x\nb: 0\nc: 101\nd: '7'\ne: [1]\nf: 2.5e0\ng: nan\nh: yes\ni: true\nj: 30s\n");
	int64_t ms = 42;
	int n = 42;
	double x = 42;
	bool b = false;
	(void)state;
	assert_false(cdx_cfg_duration(&f.c, cdx_yaml_get(r, "a"), "timeout", false, &ms));
	assert_false(cdx_cfg_duration(&f.c, cdx_yaml_get(r, "b"), "timeout", false, &ms));
	assert_int_equal(ms, 42); /* left alone */
	assert_true(cdx_cfg_duration(&f.c, cdx_yaml_get(r, "b"), "pause", true, &ms));
	assert_int_equal(ms, 0);
	assert_true(cdx_cfg_duration(&f.c, cdx_yaml_get(r, "j"), "timeout", false, &ms));
	assert_int_equal(ms, 30000);
	assert_false(cdx_cfg_int(&f.c, cdx_yaml_get(r, "c"), "retry", 0, 100, &n));
	assert_int_equal(n, 42);
	assert_true(cdx_cfg_int(&f.c, cdx_yaml_get(r, "d"), "batch", 1, 10, &n)); /* quoted is fine here */
	assert_int_equal(n, 7);
	f.c.plain_numbers = true;
	assert_false(cdx_cfg_int(&f.c, cdx_yaml_get(r, "d"), "retry", 0, 100, &n));
	assert_false(cdx_cfg_int(&f.c, cdx_yaml_get(r, "e"), "retry", 0, 100, &n));
	assert_false(cdx_cfg_number(&f.c, cdx_yaml_get(r, "d"), "window", &x));
	f.c.plain_numbers = false;
	assert_true(cdx_cfg_number(&f.c, cdx_yaml_get(r, "f"), "analysis max", &x));
	assert_true(x == 2.5);
	assert_false(cdx_cfg_number(&f.c, cdx_yaml_get(r, "g"), "analysis max", &x));
	assert_false(cdx_cfg_number(&f.c, cdx_yaml_get(r, "e"), "analysis min", &x));
	assert_false(cdx_cfg_bool(&f.c, cdx_yaml_get(r, "h"), "secret", &b));
	assert_true(cdx_cfg_bool(&f.c, cdx_yaml_get(r, "i"), "secret", &b));
	assert_true(b);
	expect(&f, "1:4: bad duration '10x' for timeout: unknown duration unit (use ms, s, m or h)\n"
		   "2:4: timeout must be longer than zero\n"
		   "3:4: retry must be a whole number from 0 to 100, not '101'\n"
		   "4:4: retry must be a whole number from 0 to 100, not a quoted string\n"
		   "4:4: window must be a number, not a quoted string\n"
		   "5:4: retry must be a whole number from 0 to 100, not a list\n"
		   "5:4: analysis min must be a number, not a list\n"
		   "7:4: analysis max must be a number, not 'nan'\n"
		   "8:4: secret must be true or false, not 'yes'\n");
}

static void test_choice(void **state)
{
	static const char *const kinds[] = {"blue_green", "canary", "rolling"};
	struct fx f;
	const struct cdx_ynode *r = tree(&f, "a: canary\nb: blue_gren\nc: zzzzzzzz\nd: {}\n");
	(void)state;
	assert_int_equal(cdx_cfg_choice(&f.c, cdx_yaml_get(r, "a"), "strategy", kinds, 3), 1);
	assert_int_equal(cdx_cfg_choice(&f.c, cdx_yaml_get(r, "b"), "strategy", kinds, 3), -1);
	assert_int_equal(cdx_cfg_choice(&f.c, cdx_yaml_get(r, "c"), "strategy", kinds, 3), -1);
	assert_int_equal(cdx_cfg_choice(&f.c, cdx_yaml_get(r, "d"), "strategy", kinds, 3), -1);
	cdx_cfg_problem_at(&f.c, "t.yml", 9, 2, "stage cycle: %s", "a -> a");
	expect(&f, "2:4: unknown strategy 'blue_gren' (did you mean 'blue_green'?)\n"
		   "3:4: unknown strategy 'zzzzzzzz'\n"
		   "4:4: strategy must be a string, not a mapping\n"
		   "9:2: stage cycle: a -> a\n");
}

static void test_items(void **state)
{
	struct fx f;
	const struct cdx_ynode *r = tree(&f, "a: one\nb: [x, y]\nc: []\nd: {k: v}\ne: ~\n");
	const struct cdx_ynode *const *items;
	const struct cdx_ynode *n;
	size_t count;
	(void)state;
	n = cdx_yaml_get(r, "a");
	assert_true(cdx_cfg_items(&f.c, &n, "include", &items, &count));
	assert_int_equal(count, 1);
	assert_ptr_equal(items[0], n);
	n = cdx_yaml_get(r, "b");
	assert_true(cdx_cfg_items(&f.c, &n, "include", &items, &count));
	assert_int_equal(count, 2);
	assert_string_equal(items[1]->str, "y");
	n = cdx_yaml_get(r, "c");
	assert_true(cdx_cfg_items(&f.c, &n, "include", &items, &count));
	assert_int_equal(count, 0);
	n = cdx_yaml_get(r, "d");
	assert_false(cdx_cfg_items(&f.c, &n, "include", &items, &count));
	n = cdx_yaml_get(r, "e");
	assert_false(cdx_cfg_items(&f.c, &n, "extends", &items, &count));
	assert_int_equal(count, 0);
	expect(&f, "4:4: include must be a list, not a mapping\n"
		   "5:4: extends must be a list, not null\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_types_and_names),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_choice),
		cmocka_unit_test(test_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
