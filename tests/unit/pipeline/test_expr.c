/* test_expr.c — expr.c, the `rules: if:` language: a truth table of every
 * operator against set, empty and unset variables, precedence (&& over
 * ||) and parentheses, regexes and their flags, errors with their columns
 * (also on a later line), and hostile input: deep nesting, long chains,
 * huge and catastrophic regexes, long subjects — all bounded. */
#include "fixtures.h"

#include <time.h>

#include "base/diag.h"
#include "pipeline/expr.h"
#include "pipeline/rules.h"

/* variables: A=a, B=b, E= (empty), BR=main, RE=/^ma/, BADRE=nope; others unset */
static const char *lookup(void *ctx, const char *name)
{
	static const char *const vars[][2] = {{"A", "a"},     {"B", "b"},      {"E", ""},
					      {"BR", "main"}, {"RE", "/^ma/"}, {"BADRE", "nope"},
					      {"LONG", NULL}};
	size_t i;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (strcmp(vars[i][0], name) == 0)
			return vars[i][1] ? vars[i][1] : (const char *)ctx;
	return NULL;
}

static int ev(const char *src)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_expr *e = cdx_expr_parse(src, "t.yml", 1, 1, d);
	int r;
	if (!e) {
		struct cdx_buf b = {0};
		cdx_diag_format(cdx_diags_get(d, 0), &b);
		print_message("%s: %s\n", src, b.data);
		cdx_buf_free(&b);
		cdx_diags_free(d);
		fail_msg("did not parse: %s", src);
	}
	r = cdx_expr_eval(e, lookup, NULL, NULL, 0);
	cdx_expr_free(e);
	cdx_diags_free(d);
	return r;
}

/* the one problem SRC gives, as "LINE:COL: message" */
static char *err_of(const char *src, int line, int col)
{
	static char out[512];
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_expr *e = cdx_expr_parse(src, "t.yml", line, col, d);
	const struct cdx_diag *g;
	if (e) {
		cdx_expr_free(e);
		cdx_diags_free(d);
		fail_msg("parsed but should not: %s", src);
	}
	assert_int_equal(cdx_diags_count(d), 1);
	g = cdx_diags_get(d, 0);
	snprintf(out, sizeof(out), "%d:%d: %s", g->line, g->col, g->msg);
	cdx_diags_free(d);
	return out;
}

static void truth_table(void **state)
{
	(void)state;
	/* bare operands */
	assert_int_equal(ev("$A"), 1);
	assert_int_equal(ev("${A}"), 1);
	assert_int_equal(ev("$E"), 0);
	assert_int_equal(ev("$UNSET"), 0);
	assert_int_equal(ev("\"x\""), 1);
	assert_int_equal(ev("''"), 0);
	assert_int_equal(ev("null"), 0);
	/* == and != with set, empty and unset */
	assert_int_equal(ev("$A == \"a\""), 1);
	assert_int_equal(ev("$A == 'a'"), 1);
	assert_int_equal(ev("\"a\" == $A"), 1);
	assert_int_equal(ev("$A == \"b\""), 0);
	assert_int_equal(ev("$A != \"b\""), 1);
	assert_int_equal(ev("$A == $B"), 0);
	assert_int_equal(ev("$A != $B"), 1);
	assert_int_equal(ev("$E == \"\""), 1);
	assert_int_equal(ev("$E == null"), 0);
	assert_int_equal(ev("$UNSET == null"), 1);
	assert_int_equal(ev("$UNSET == \"\""), 0);
	assert_int_equal(ev("$UNSET != null"), 0);
	assert_int_equal(ev("$A != null"), 1);
	assert_int_equal(ev("null == null"), 1);
	assert_int_equal(ev("$UNSET == $NOPE"), 1);
	/* =~ and !~ */
	assert_int_equal(ev("$BR =~ /^ma/"), 1);
	assert_int_equal(ev("$BR =~ /^MA/"), 0);
	assert_int_equal(ev("$BR =~ /^MA/i"), 1);
	assert_int_equal(ev("$BR !~ /^ma/"), 0);
	assert_int_equal(ev("$BR !~ /x/"), 1);
	assert_int_equal(ev("$BR =~ /a.n$/"), 1);
	assert_int_equal(ev("$UNSET =~ /.*/"), 0);
	assert_int_equal(ev("$UNSET !~ /.*/"), 1);
	assert_int_equal(ev("\"a/b\" =~ /a\\/b/"), 1);
	assert_int_equal(ev("$BR =~ $RE"), 1);
	assert_int_equal(ev("$A =~ $RE"), 0);
	assert_int_equal(ev("$BR =~ $UNSET"), 0);
	assert_int_equal(ev("$BR =~ /(main|release-[0-9]+)/"), 1);
	/* a variable that holds no /regex/ cannot be matched */
	assert_int_equal(ev("$BR =~ $BADRE"), -1);
}

static void precedence(void **state)
{
	(void)state;
	/* && binds tighter: 1 || (0 && 0) */
	assert_int_equal(ev("$A || $E && $UNSET"), 1);
	/* (1 || 0) && 0 */
	assert_int_equal(ev("($A || $E) && $UNSET"), 0);
	/* 0 && 1 || 1 = (0 && 1) || 1 */
	assert_int_equal(ev("$E && $A || $B"), 1);
	assert_int_equal(ev("$E && ($A || $B)"), 0);
	assert_int_equal(ev("$A == \"a\" && $B == \"b\" && $BR =~ /main/"), 1);
	assert_int_equal(ev("$A == \"x\" || $B == \"x\" || $BR == \"main\""), 1);
	assert_int_equal(ev("(((($A))))"), 1);
	assert_int_equal(ev("  $A\n&&\t$B  "), 1);
	/* short-circuit: the bad regex variable is not reached */
	assert_int_equal(ev("$A || $BR =~ $BADRE"), 1);
}

static void errors_with_columns(void **state)
{
	(void)state;
	assert_string_equal(err_of("$A == bar", 3, 10), "3:16: rules if: unexpected word 'bar' "
							"(a variable is written $bar, a string in quotes)");
	assert_string_equal(err_of("$A ==", 1, 1),
			    "1:6: rules if: expected a variable, a string or null after "
			    "'==', found the end");
	assert_string_equal(err_of("", 1, 5), "1:5: rules if: empty expression");
	assert_string_equal(err_of("($A", 1, 1), "1:4: rules if: expected ')' to close the '(' at column 1, "
						 "found the end");
	assert_string_equal(err_of("$A)", 1, 1), "1:3: rules if: expected '&&', '||' or the end, found ')'");
	assert_string_equal(err_of("$A && ", 1, 1),
			    "1:7: rules if: expected a variable, a string, null or '(', found the end");
	assert_string_equal(err_of("\"abc", 2, 4), "2:4: rules if: string is not closed with \"");
	assert_string_equal(err_of("$A =~ /x", 1, 1), "1:7: rules if: regex is not closed with '/'");
	assert_string_equal(err_of("$A =~ /x/g", 1, 1), "1:10: rules if: unknown regex flag 'g' (only 'i', "
							"ignore case)");
	assert_string_equal(err_of("$A =~ \"x\"", 1, 1),
			    "1:7: rules if: expected a regex /.../ or a variable "
			    "after '=~', found a string");
	assert_string_equal(err_of("$A == /x/", 1, 1), "1:7: rules if: a regex may only follow '=~' or '!~'");
	assert_string_equal(err_of("$ == 1", 1, 1), "1:1: rules if: '$' must be followed by a variable name");
	assert_string_equal(err_of("${A == 1", 1, 1), "1:4: rules if: '${' is not closed with '}'");
	assert_string_equal(err_of("$A & $B", 1, 1), "1:4: rules if: unexpected '&'");
	assert_string_equal(err_of("$A =~ /(x/", 1, 1) + 0, err_of("$A =~ /(x/", 1, 1));
	assert_non_null(strstr(err_of("$A =~ /(x/", 1, 1), "bad regex"));
	/* a newline moves to the next line, column 1 */
	assert_string_equal(err_of("$A &&\n  $B ==", 4, 9), "5:8: rules if: expected a variable, a string or "
							    "null after '==', found the end");
	/* UTF-8 counts as one column a character */
	assert_string_equal(err_of("\"é\" ?", 1, 1), "1:5: rules if: unexpected '?'");
}

static void hostile_nesting(void **state)
{
	char buf[CDX_EXPR_MAX + 16];
	size_t i, n = 0;
	(void)state;
	/* 64 levels parse, 65 do not */
	for (i = 0; i < CDX_EXPR_DEPTH; i++)
		buf[n++] = '(';
	memcpy(buf + n, "$A", 2);
	n += 2;
	for (i = 0; i < CDX_EXPR_DEPTH; i++)
		buf[n++] = ')';
	buf[n] = 0;
	assert_int_equal(ev(buf), 1);
	n = 0;
	for (i = 0; i < 2000; i++)
		buf[n++] = '(';
	buf[n] = 0;
	assert_string_equal(err_of(buf, 1, 1), "1:65: rules if: parentheses nest deeper than 64");
	/* a long chain is one n-ary node: no deep recursion */
	n = 0;
	while (n + 8 < CDX_EXPR_MAX)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "$E || ");
	snprintf(buf + n, sizeof(buf) - n, "$A");
	assert_int_equal(ev(buf), 1);
	/* too long */
	memset(buf, ' ', CDX_EXPR_MAX + 1);
	buf[0] = '$';
	buf[1] = 'A';
	buf[CDX_EXPR_MAX + 1] = 0;
	assert_string_equal(err_of(buf, 1, 1), "1:1: rules if: expression is longer than 4096 bytes");
}

static void hostile_regexes(void **state)
{
	char buf[2048], subject[CDX_EXPR_SUBJECT_MAX + 2];
	struct cdx_diags *d;
	struct cdx_expr *e;
	struct timespec t0, t1;
	const char *catastrophic[] = {"$LONG =~ /^(a+)+$/", "$LONG =~ /^(a|aa)+$/", "$LONG =~ /^(a|a?)+b$/",
				      "$LONG =~ /(.*a){20}/", "$LONG =~ /^(([a-z])+.)+[A-Z]([a-z])+$/"};
	size_t i;
	(void)state;
	/* back-references, huge counts, expansion and length are refused */
	assert_string_equal(err_of("$A =~ /(a)\\1/", 1, 1),
			    "1:11: rules if: back-references are not supported");
	assert_string_equal(err_of("$A =~ /a{1000}/", 1, 1), "1:9: rules if: a repetition count is over 255");
	assert_non_null(strstr(err_of("$A =~ /((a{1,255}){1,255}){1,255}/", 1, 1), "too complex"));
	assert_non_null(strstr(err_of("$A =~ /(((((a{9}){9}){9}){9}){9})/", 1, 1), "too complex"));
	/* found by fuzz_expr: stacked repetitions made glibc's regcomp run for
	 * seconds (each + doubles what the closure covers) */
	assert_string_equal(
	    err_of("$A =~ /Q'^Z****!+++++#++++*+++/", 1, 1),
	    "1:13: rules if: a repetition of a repetition (like a** or a+{2}) is not supported");
	assert_non_null(strstr(err_of("$A =~ /((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)/", 1, 1), "too complex"));
	assert_string_equal(
	    err_of("$A =~ /(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))/", 1, 1),
	    "1:40: rules if: groups nest deeper than 32");
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "$A =~ /", 7);
	memset(buf + 7, 'a', CDX_EXPR_RE_MAX + 1);
	buf[7 + CDX_EXPR_RE_MAX + 1] = '/';
	assert_string_equal(err_of(buf, 1, 1), "1:8: rules if: regex is longer than 512 bytes");
	/* catastrophic patterns on a long subject end quickly (POSIX regex
	 * without back-references does not backtrack exponentially) */
	memset(subject, 'a', CDX_EXPR_SUBJECT_MAX - 1);
	subject[CDX_EXPR_SUBJECT_MAX - 1] = '!';
	subject[CDX_EXPR_SUBJECT_MAX] = 0;
	for (i = 0; i < sizeof(catastrophic) / sizeof(catastrophic[0]); i++) {
		d = cdx_diags_new();
		e = cdx_expr_parse(catastrophic[i], "t.yml", 1, 1, d);
		assert_non_null(e);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_true(cdx_expr_eval(e, lookup, subject, NULL, 0) >= 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		print_message("%-45s %.3f s on %u bytes\n", catastrophic[i],
			      (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
			      CDX_EXPR_SUBJECT_MAX);
		cdx_expr_free(e);
		cdx_diags_free(d);
	}
	/* a longer subject is not matched: an error, not a hang */
	memset(subject, 'a', CDX_EXPR_SUBJECT_MAX + 1);
	subject[CDX_EXPR_SUBJECT_MAX + 1] = 0;
	d = cdx_diags_new();
	e = cdx_expr_parse("$LONG =~ /b/", "t.yml", 1, 1, d);
	{
		char why[160];
		assert_int_equal(cdx_expr_eval(e, lookup, subject, why, sizeof(why)), -1);
		assert_non_null(strstr(why, "longer than"));
	}
	cdx_expr_free(e);
	cdx_diags_free(d);
}

static void globs(void **state)
{
	(void)state;
	assert_true(cdx_glob_match("src/**/*.c", "src/a.c"));
	assert_true(cdx_glob_match("src/**/*.c", "src/x/y/a.c"));
	assert_false(cdx_glob_match("src/**/*.c", "src/a.h"));
	assert_false(cdx_glob_match("src/*.c", "src/x/a.c"));
	assert_true(cdx_glob_match("**", "a/b/c"));
	assert_true(cdx_glob_match("docs/", "docs/x/y.md"));
	assert_false(cdx_glob_match("docs/", "doc/x"));
	assert_true(cdx_glob_match("**/Makefile", "Makefile"));
	assert_true(cdx_glob_match("**/Makefile", "a/b/Makefile"));
	assert_false(cdx_glob_match("*", ".hidden"));
	assert_true(cdx_glob_match("a/**/**/**/**/**/**/**/**/z", "a/b/c/d/e/f/g/h/i/j/k/z"));
	assert_true(cdx_glob_match("f?le.[ch]", "file.c"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(truth_table),         cmocka_unit_test(precedence),
	    cmocka_unit_test(errors_with_columns), cmocka_unit_test(hostile_nesting),
	    cmocka_unit_test(hostile_regexes),     cmocka_unit_test(globs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
