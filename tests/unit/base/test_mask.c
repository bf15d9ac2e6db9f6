/* test_mask.c — the secret mask: whole and split secrets, overlaps, flush. */
#include "fixtures.h"

#include "base/mask.h"

/* mask_chunks: TEXT fed in pieces cut at CUTS[0..NCUTS), then flushed */
static char *mask_chunks(const char *const *secrets, const char *text, const size_t *cuts, size_t ncuts)
{
	struct cdx_mask *m = cdx_mask_new(secrets);
	struct cdx_buf out = {0};
	size_t len = strlen(text), at = 0, i;

	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		cdx_mask_feed(m, text + at, end - at, &out);
		at = end;
	}
	cdx_mask_flush(m, &out);
	cdx_mask_free(m);
	return cdx_buf_detach(&out);
}

static void check(const char *const *secrets, const char *text, const char *want)
{
	char *got = cdx_mask_string(secrets, text);
	assert_string_equal(got, want);
	free(got);
}

static void test_basic(void **state)
{
	const char *const sec[] = {"hunter2", NULL};
	(void)state;
	check(sec, "password is hunter2.", "password is ***.");
	check(sec, "hunter2hunter2", "******");
	check(sec, "hunter2", "***");
	check(sec, "hunter", "hunter");
	check(sec, "hhunter2h", "h***h");
	check(sec, "", "");
}

/* every text, cut once and twice at every position, masks as a whole */
static void test_split_everywhere(void **state)
{
	const char *const sec[] = {"secret", "s3", NULL};
	const char *text = "a secret, ss3 and secrsecret s";
	const char *want = "a ***, s*** and secr*** s";
	size_t len = strlen(text), i, j;
	(void)state;

	check(sec, text, want);
	for (i = 0; i <= len; i++) {
		size_t cut[2] = {i, 0};
		char *got = mask_chunks(sec, text, cut, 1);
		assert_string_equal(got, want);
		free(got);
		for (j = i; j <= len; j++) {
			cut[1] = j;
			got = mask_chunks(sec, text, cut, 2);
			assert_string_equal(got, want);
			free(got);
		}
	}
}

/* byte by byte: nothing is held back that cannot start a secret */
static void test_hold_back_bound(void **state)
{
	const char *const sec[] = {"abcdef", NULL};
	struct cdx_mask *m = cdx_mask_new(sec);
	struct cdx_buf out = {0};
	(void)state;

	cdx_mask_feed(m, "xyz", 3, &out);
	assert_int_equal(out.len, 3); /* no 'a': all released at once */
	cdx_mask_feed(m, "abc", 3, &out);
	assert_string_equal(out.data, "xyz"); /* "abc" may start the secret */
	cdx_mask_feed(m, "dx", 2, &out);
	assert_string_equal(out.data, "xyzabcdx");
	cdx_mask_feed(m, "abcde", 5, &out);
	assert_string_equal(out.data, "xyzabcdx"); /* 5 = longest - 1 held */
	cdx_mask_feed(m, "f!", 2, &out);
	assert_string_equal(out.data, "xyzabcdx***!");
	cdx_mask_free(m);
	cdx_buf_free(&out);
}

static void test_overlapping(void **state)
{
	const char *const sec[] = {"abc", "abcdef", "cde", NULL};
	const char *const sec2[] = {"aaa", NULL};
	size_t cut = 4; /* "xabc|def": the longer secret must still win */
	char *got;
	(void)state;

	check(sec, "abcdef", "***");
	check(sec, "abcdex", "***dex");
	check(sec, "xabcdefx", "x***x");
	check(sec, "abcde", "***de"); /* longest that matches at a position */
	check(sec, "xcdex", "x***x");
	got = mask_chunks(sec, "xabcdef", &cut, 1);
	assert_string_equal(got, "x***");
	free(got);
	/* the stream ends inside the longer one: the shorter still matches */
	got = mask_chunks(sec, "xabcd", &cut, 1);
	assert_string_equal(got, "x***d");
	free(got);
	check(sec2, "aaaaaaa", "******a");
}

static void test_passthrough(void **state)
{
	const char *const empty[] = {NULL};
	const char *const only_empty[] = {"", NULL};
	struct cdx_mask *m = cdx_mask_new(NULL);
	struct cdx_buf out = {0};
	char big[100000];
	char *got;
	(void)state;

	cdx_mask_feed(m, "a\0b", 3, &out);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "a\0b", 3);
	cdx_mask_flush(m, &out);
	assert_int_equal(out.len, 3);
	cdx_mask_free(m);
	cdx_buf_free(&out);

	check(empty, "nothing to hide", "nothing to hide");
	check(only_empty, "empty secrets are ignored", "empty secrets are ignored");

	/* a large output without secrets comes out unchanged */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[500] = 's';
	{
		const char *const sec[] = {"secret", "other", NULL};
		got = cdx_mask_string(sec, big);
		assert_string_equal(got, big);
		free(got);
	}
}

static void test_flush(void **state)
{
	const char *const sec[] = {"token123", NULL};
	struct cdx_mask *m = cdx_mask_new(sec);
	struct cdx_buf out = {0};
	(void)state;

	cdx_mask_feed(m, "see tok", 7, &out);
	assert_string_equal(out.data, "see ");
	cdx_mask_flush(m, &out);
	assert_string_equal(out.data, "see tok");
	cdx_mask_flush(m, &out); /* nothing left */
	assert_string_equal(out.data, "see tok");
	/* the mask is reusable after a flush */
	cdx_mask_feed(m, "token1", 6, &out);
	cdx_mask_feed(m, "23 done", 7, &out);
	cdx_mask_flush(m, &out);
	assert_string_equal(out.data, "see tok*** done");
	cdx_mask_free(m);
	cdx_buf_free(&out);
	cdx_mask_free(NULL);
}

static void test_empty_secret_among_others(void **state)
{
	const char *const sec[] = {"", "pw", "", NULL};
	(void)state;
	check(sec, "a pw b", "a *** b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_split_everywhere),
	    cmocka_unit_test(test_hold_back_bound),
	    cmocka_unit_test(test_overlapping),
	    cmocka_unit_test(test_passthrough),
	    cmocka_unit_test(test_flush),
	    cmocka_unit_test(test_empty_secret_among_others),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
