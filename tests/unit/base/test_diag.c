/* test_diag.c — diag.c: problems sorted by file, line and column (ties in
 * insertion order), exact duplicates removed, the size cap, formatting. */
#include "fixtures.h"

#include "base/diag.h"

static const char *fmt(const struct cdx_diags *d, size_t i, char *buf, size_t size)
{
	struct cdx_buf b = {0};
	const struct cdx_diag *g = cdx_diags_get(d, i);
	if (!g)
		return "(none)";
	cdx_diag_format(g, &b);
	snprintf(buf, size, "%s", b.data);
	cdx_buf_free(&b);
	return buf;
}

static void sorted_by_position(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	char buf[256];
	(void)state;
	cdx_diags_add(d, "b.yml", 1, 1, "b first");
	cdx_diags_add(d, "a.yml", 9, 2, "a 9:2");
	cdx_diags_add(d, "a.yml", 9, 1, "a 9:1");
	cdx_diags_add(d, "a.yml", 10, 1, "a 10:1");
	cdx_diags_add(d, "a.yml", 2, 5, "a 2:5 one");
	cdx_diags_add(d, "a.yml", 2, 5, "a 2:5 two"); /* same place: insertion order */
	cdx_diags_add(d, "a.yml", 0, 0, "whole file");
	assert_int_equal(cdx_diags_count(d), 7);
	assert_string_equal(fmt(d, 0, buf, sizeof(buf)), "a.yml: whole file");
	assert_string_equal(fmt(d, 1, buf, sizeof(buf)), "a.yml:2:5: a 2:5 one");
	assert_string_equal(fmt(d, 2, buf, sizeof(buf)), "a.yml:2:5: a 2:5 two");
	assert_string_equal(fmt(d, 3, buf, sizeof(buf)), "a.yml:9:1: a 9:1");
	assert_string_equal(fmt(d, 4, buf, sizeof(buf)), "a.yml:9:2: a 9:2");
	assert_string_equal(fmt(d, 5, buf, sizeof(buf)), "a.yml:10:1: a 10:1");
	assert_string_equal(fmt(d, 6, buf, sizeof(buf)), "b.yml:1:1: b first");
	assert_null(cdx_diags_get(d, 7));
	/* adding after reading sorts again */
	cdx_diags_add(d, "a.yml", 1, 1, "late");
	assert_string_equal(fmt(d, 1, buf, sizeof(buf)), "a.yml:1:1: late");
	cdx_diags_free(d);
}

static void formats(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	char buf[256];
	(void)state;
	cdx_diags_add(d, "f.yml", 3, 0, "line only %d", 42);
	cdx_diags_add(d, NULL, 0, 0, "no file");
	assert_string_equal(fmt(d, 0, buf, sizeof(buf)), "-: no file");
	assert_string_equal(fmt(d, 1, buf, sizeof(buf)), "f.yml:3: line only 42");
	assert_string_equal(cdx_diags_get(d, 1)->file, "f.yml");
	cdx_diags_free(d);
	/* no list: nothing happens */
	cdx_diags_add(NULL, "f.yml", 1, 1, "ignored");
	assert_int_equal(cdx_diags_count(NULL), 0);
	assert_null(cdx_diags_get(NULL, 0));
	cdx_diags_free(NULL);
}

static void capped(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	int i;
	(void)state;
	for (i = 0; i < CDX_DIAGS_MAX + 50; i++)
		cdx_diags_add(d, "f.yml", i + 1, 1, "problem %d", i);
	assert_int_equal(cdx_diags_count(d), CDX_DIAGS_MAX);
	assert_string_equal(cdx_diags_get(d, CDX_DIAGS_MAX - 1)->msg, "problem 999");
	cdx_diags_free(d);
}

static void duplicates_removed(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	size_t i, n;
	char buf[256];
	(void)state;
	cdx_diags_add(d, "f.yml", 2, 3, "same");
	cdx_diags_add(d, "f.yml", 1, 1, "other");
	cdx_diags_add(d, "f.yml", 2, 3, "same");
	cdx_diags_add(d, "f.yml", 2, 3, "same but different");
	/* the count is what cdx_diags_get() can return: duplicates excluded */
	n = cdx_diags_count(d);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++)
		assert_non_null(cdx_diags_get(d, i));
	assert_string_equal(fmt(d, 0, buf, sizeof(buf)), "f.yml:1:1: other");
	assert_string_equal(fmt(d, 1, buf, sizeof(buf)), "f.yml:2:3: same");
	assert_string_equal(fmt(d, 2, buf, sizeof(buf)), "f.yml:2:3: same but different");
	cdx_diags_free(d);
}

static void duplicates_after_reading(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	(void)state;
	cdx_diags_add(d, "f.yml", 2, 3, "same");
	cdx_diags_add(d, "f.yml", 2, 3, "same");
	assert_non_null(cdx_diags_get(d, 0)); /* sorts, removing the duplicate */
	assert_int_equal(cdx_diags_count(d), 1);
	assert_null(cdx_diags_get(d, 1));
	cdx_diags_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sorted_by_position), cmocka_unit_test(formats),
		cmocka_unit_test(capped),	      cmocka_unit_test(duplicates_removed),
		cmocka_unit_test(duplicates_after_reading),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
