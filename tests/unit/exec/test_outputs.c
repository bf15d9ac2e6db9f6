/* test_outputs.c — the $CDX_OUTPUT parser (exec/outputs.c): KEY=VALUE
 * lines, KEY<<DELIM blocks, CRLF, replacement, and the problems that drop
 * a file: bad lines, a block that never closes, NUL bytes, too many keys,
 * too many bytes. */
#include "fixtures.h"

#include "exec/outputs.h"

static const char *val(const struct cdx_vars *v, const char *name)
{
	const struct cdx_var *x = cdx_vars_find(v, name);
	return x ? x->value : NULL;
}

static int parse(const char *text, struct cdx_vars *v, char *why)
{
	return cdx_outputs_parse(text, strlen(text), v, why, 200);
}

static void test_lines(void **state)
{
	struct cdx_vars v = {0};
	char why[200] = "";
	(void)state;
	assert_int_equal(parse("A=1\n\nB=two words\r\nC=\nA=again\nD=x=y", &v, why), 0);
	assert_int_equal(v.n, 4);
	assert_string_equal(val(&v, "A"), "again");
	assert_string_equal(val(&v, "B"), "two words");
	assert_string_equal(val(&v, "C"), "");
	assert_string_equal(val(&v, "D"), "x=y");
	cdx_vars_free(&v);
}

static void test_blocks(void **state)
{
	struct cdx_vars v = {0};
	char why[200] = "";
	(void)state;
	assert_int_equal(parse("N<<EOF\nline 1\nline 2\nEOF\nE<<X\nX\nW<<EOF\r\na\r\nEOF\r\nZ=1\n", &v, why), 0);
	assert_string_equal(val(&v, "N"), "line 1\nline 2");
	assert_string_equal(val(&v, "E"), "");
	assert_string_equal(val(&v, "W"), "a");
	assert_string_equal(val(&v, "Z"), "1");
	cdx_vars_free(&v);
	/* a value holding '=' and "<<" after the '=' is a plain line */
	assert_int_equal(parse("Q=a<<b\n", &v, why), 0);
	assert_string_equal(val(&v, "Q"), "a<<b");
	cdx_vars_free(&v);
}

static void test_problems(void **state)
{
	struct cdx_vars v = {0};
	char why[200];
	struct cdx_buf b = {0};
	int i;
	(void)state;
	assert_int_equal(parse("A=1\nnot a line\n", &v, why), -1);
	assert_string_equal(why, "line 2: not KEY=VALUE or KEY<<DELIMITER");
	cdx_vars_free(&v);
	assert_int_equal(parse("1A=x\n", &v, why), -1);
	cdx_vars_free(&v);
	assert_int_equal(parse("CDX_JOB=x\n", &v, why), -1);
	assert_string_equal(why, "line 1: CDX_JOB: names starting with CDX_ are cdx's own");
	cdx_vars_free(&v);
	assert_int_equal(parse("CDX_OUTPUT<<E\nx\nE\n", &v, why), -1);
	cdx_vars_free(&v);
	assert_int_equal(parse("B<<EOF\nnever closed\n", &v, why), -1);
	assert_string_equal(why, "the block of B has no closing line EOF");
	cdx_vars_free(&v);
	assert_int_equal(parse("B<<\nx\n", &v, why), -1);
	cdx_vars_free(&v);
	assert_int_equal(cdx_outputs_parse("A=x\0y\n", 6, &v, why, sizeof(why)), -1);
	assert_string_equal(why, "line 1 holds a NUL byte");
	cdx_vars_free(&v);
	for (i = 0; i <= CDX_OUTPUTS_MAX_KEYS; i++)
		cdx_buf_printf(&b, "K%d=%d\n", i, i);
	assert_int_equal(cdx_outputs_parse(b.data, b.len, &v, why, sizeof(why)), -1);
	assert_string_equal(why, "more than 100 outputs");
	cdx_vars_free(&v);
	cdx_buf_reset(&b);
	cdx_buf_adds(&b, "BIG=");
	while (b.len <= CDX_OUTPUTS_MAX_BYTES)
		cdx_buf_adds(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	assert_int_equal(cdx_outputs_parse(b.data, b.len, &v, why, sizeof(why)), -1);
	assert_int_equal(v.n, 0);
	cdx_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_blocks),
	    cmocka_unit_test(test_problems),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
