/* test_text.c — the escaping of text output: controls, C1, invalid UTF-8,
 * and the printf wrapper that escapes its %s arguments only. */
#include "fixtures.h"

#include "base/text.h"

static void check(const char *in, const char *want)
{
	struct cdx_buf b = {0};
	cdx_text_escape(&b, in);
	assert_string_equal(b.data, want);
	cdx_buf_free(&b);
}

static void test_escape(void **state)
{
	(void)state;
	check("", "");
	check("plain text, a\\b", "plain text, a\\b");
	check("hotfix\n2026-12-05 23:59:59  rollback", "hotfix\\n2026-12-05 23:59:59  rollback");
	check("a\rb\tc", "a\\rb\\tc");
	check("\033[2J\x7f\x01", "\\x1b[2J\\x7f\\x01");
	check("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"); /* é and € stay */
	check("x\xc2\x85y", "x\\u0085y");                              /* NEL, a C1 control */
	check("\xe2\x80\xaeXyz", "\\u202eXyz");                        /* right-to-left override */
	check("\xe2\x80\xa8", "\\u2028");                              /* line separator */
	check("bad\xff\xc3", "bad\\xff\\xc3");                         /* invalid, truncated */
	check("\xc0\xaf", "\\xc0\\xaf");                               /* overlong */
	check(NULL, "(null)");
}

static void test_printf(void **state)
{
	struct cdx_buf b = {0};
	(void)state;
	cdx_text_bprintf(&b, "%s@%s %d%% %5.1f %-4s| %lld %zu %c %.*s\n", "ro\not", "vm", 7, 2.25, "a\tb",
			 -5LL, (size_t)9, 'x', 3, "abcdef");
	assert_string_equal(b.data, "ro\\not@vm 7%   2.2 a\\tb| -5 9 x abc\n");
	cdx_buf_reset(&b);
	cdx_text_bprintf(&b, "no conversions");
	assert_string_equal(b.data, "no conversions");
	cdx_buf_reset(&b);
	cdx_text_bprintf(&b, "%*s|%s", 6, "\x1b", "end");
	assert_string_equal(b.data, "  \\x1b|end");
	cdx_buf_free(&b);
}

static void test_html(void **state)
{
	struct cdx_buf b = {0};
	(void)state;
	cdx_text_html(&b, "<script>a=\"x\" & 'y'</script>\n\t\x01\x7f caf\xc3\xa9");
	assert_string_equal(b.data, "&lt;script&gt;a=&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;\n\t"
				    "\xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9");
	cdx_buf_reset(&b);
	cdx_text_html(&b, NULL);
	cdx_text_html(&b, "");
	assert_int_equal(b.len, 0);
	cdx_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_html),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
