/* test_record.c — reading deployment records back (lib/deploy/record.c):
 * the outcome of each release (cdx_release_outcomes), which pruning and the
 * target of a rollback follow, from histories written as JSON here. */
#include "fixtures.h"

#include <cjson/cJSON.h>

#include "deploy/record.h"

/* "version:outcome ..." of OUTCOMES, oldest first, into BUF */
static const char *outcomes_str(const cJSON *outcomes, char *buf, size_t n)
{
	const cJSON *x;
	size_t l = 0;
	buf[0] = '\0';
	cJSON_ArrayForEach(x, outcomes)
	{
		l += (size_t)snprintf(buf + l, n - l, "%s%s:%s", l ? " " : "", cdx_jsn(x, "version"), cdx_jsn(x, "outcome"));
		if (l >= n)
			break;
	}
	return buf;
}

/* the outcomes of HIST (a JSON array of deployment summaries) as a string */
static void expect_outcomes(const char *hist, const char *want)
{
	cJSON *h = cJSON_Parse(hist), *o;
	char buf[512];
	assert_non_null(h);
	o = cdx_release_outcomes(h);
	assert_string_equal(outcomes_str(o, buf, sizeof(buf)), want);
	cJSON_Delete(o);
	cJSON_Delete(h);
}

/* record order, not time: a redeploy moves a version to the end */
static void test_record_order(void **state)
{
	(void)state;
	expect_outcomes("[{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"succeeded\"},"
			"{\"kind\":\"deploy\",\"version\":\"2\",\"state\":\"succeeded\"},"
			"{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"succeeded\"}]",
			"2:good 1:good");
	expect_outcomes("[]", "");
}

/* failed, rolled back, held and interrupted deployments */
static void test_failed_incomplete(void **state)
{
	(void)state;
	expect_outcomes("[{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"succeeded\"},"
			"{\"kind\":\"deploy\",\"version\":\"2\",\"state\":\"rolled_back\"},"
			"{\"kind\":\"deploy\",\"version\":\"3\",\"state\":\"failed\"},"
			"{\"kind\":\"deploy\",\"version\":\"4\",\"state\":\"promoting\"},"
			"{\"kind\":\"deploy\",\"version\":\"5\",\"state\":\"recovered\"},"
			"{\"kind\":\"deploy\",\"version\":\"6\",\"state\":\"rollback_failed\"}]",
			"1:good 2:failed 3:failed 4:incomplete 5:incomplete 6:failed");
	/* the latest deployment of a version decides */
	expect_outcomes("[{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"failed\"},"
			"{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"succeeded\"},"
			"{\"kind\":\"deploy\",\"version\":\"2\",\"state\":\"succeeded\"},"
			"{\"kind\":\"deploy\",\"version\":\"2\",\"state\":\"verifying\"}]",
			"1:good 2:incomplete");
}

/* a successful rollback makes its target good (and newest) and the
 * version it left failed; a failed one changes nothing */
static void test_rollbacks(void **state)
{
	(void)state;
	expect_outcomes("[{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"succeeded\"},"
			"{\"kind\":\"deploy\",\"version\":\"2\",\"state\":\"succeeded\"},"
			"{\"kind\":\"rollback\",\"version\":\"1\",\"previous\":\"2\",\"state\":\"succeeded\"}]",
			"2:failed 1:good");
	expect_outcomes("[{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"succeeded\"},"
			"{\"kind\":\"deploy\",\"version\":\"2\",\"state\":\"succeeded\"},"
			"{\"kind\":\"rollback\",\"version\":\"1\",\"previous\":\"2\",\"state\":\"rollback_failed\"}]",
			"1:good 2:good");
	expect_outcomes("[{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"succeeded\"},"
			"{\"kind\":\"rollback\",\"version\":\"1\",\"previous\":\"1\",\"state\":\"succeeded\"}]",
			"1:good");
}

static void test_outcome_lookup(void **state)
{
	cJSON *h = cJSON_Parse("[{\"kind\":\"deploy\",\"version\":\"1\",\"state\":\"failed\"}]"), *o;
	(void)state;
	o = cdx_release_outcomes(h);
	assert_string_equal(cdx_release_outcome(o, "1"), "failed");
	assert_null(cdx_release_outcome(o, "2"));
	cJSON_Delete(o);
	cJSON_Delete(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_order),
	    cmocka_unit_test(test_failed_incomplete),
	    cmocka_unit_test(test_rollbacks),
	    cmocka_unit_test(test_outcome_lookup),
	};
	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
