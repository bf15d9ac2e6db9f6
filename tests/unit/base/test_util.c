/* test_util.c — util.c and duration.c: names, typo suggestions, UTF-8
 * validation, CRC-32 and FNV-1a, buffers, file reading, durations. */
#include "fixtures.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "base/duration.h"
#include "base/util.h"

/* ---- cdx_name_valid ------------------------------------------------------ */

static void name_valid_accepts(void **state)
{
	char max[CDX_NAME_MAX + 1];
	(void)state;
	memset(max, 'x', CDX_NAME_MAX);
	max[CDX_NAME_MAX] = '\0';
	assert_true(cdx_name_valid("a"));
	assert_true(cdx_name_valid("build"));
	assert_true(cdx_name_valid("A-Za-z0-9_.-"));
	assert_true(cdx_name_valid("-leading-dash"));
	assert_true(cdx_name_valid("..."));
	assert_true(cdx_name_valid(".hidden"));
	assert_true(cdx_name_valid("compile-gcc-O2"));
	assert_true(cdx_name_valid(max));
}

static void name_valid_refuses(void **state)
{
	char over[CDX_NAME_MAX + 2];
	(void)state;
	memset(over, 'x', CDX_NAME_MAX + 1);
	over[CDX_NAME_MAX + 1] = '\0';
	assert_false(cdx_name_valid(NULL));
	assert_false(cdx_name_valid(""));
	assert_false(cdx_name_valid("."));
	assert_false(cdx_name_valid(".."));
	assert_false(cdx_name_valid("a b"));
	assert_false(cdx_name_valid("a/b"));
	assert_false(cdx_name_valid("../etc"));
	assert_false(cdx_name_valid("a:b"));
	assert_false(cdx_name_valid("a\tb"));
	assert_false(cdx_name_valid("caf\xc3\xa9"));
	assert_false(cdx_name_valid(over));
}

/* ---- cdx_closest --------------------------------------------------------- */

/* the suggestion for WORD, or "(none)", so that failures print, not crash */
static const char *near(const char *word, const char *const *cands, size_t n)
{
	const char *s = cdx_closest(word, cands, n);
	return s ? s : "(none)";
}

static void closest_suggests(void **state)
{
	static const char *const keys[] = {"name", "script", "needs", "retry", "allow_failure", "timeout",
					   "variables", "extends", "matrix"};
	size_t n = CDX_ARRAY_LEN(keys);
	(void)state;
	assert_string_equal(near("scrpit", keys, n), "script");
	assert_string_equal(near("retyr", keys, n), "retry");
	assert_string_equal(near("retries", keys, n), "(none)"); /* 3 edits for 7 letters */
	assert_string_equal(near("varibles", keys, n), "variables");
	assert_string_equal(near("allow_failures", keys, n), "allow_failure");
	assert_string_equal(near("nme", keys, n), "name");
	assert_string_equal(near("script", keys, n), "script"); /* exact */
	assert_string_equal(near("colour", keys, n), "(none)");
	assert_string_equal(near("zzzzzzzzzz", keys, n), "(none)");
	assert_string_equal(near("x", keys, 0), "(none)");
}

static void closest_limits(void **state)
{
	static const char *const two[] = {"ab", "cd"};
	static const char *const tie[] = {"bat", "cat"};
	(void)state;
	/* words under 4 characters allow one edit */
	assert_string_equal(near("ax", two, 2), "ab");
	assert_string_equal(near("xy", two, 2), "(none)");
	/* ties go to the first candidate */
	assert_string_equal(near("hat", tie, 2), "bat");
	/* 4 to 7 characters: two edits; 8 and more: three */
	{
		static const char *const c[] = {"stages"};
		assert_string_equal(near("stagse", c, 1), "stages");
		assert_string_equal(near("sxxges", c, 1), "stages");
		assert_string_equal(near("xxxxes", c, 1), "(none)");
	}
	{
		static const char *const c[] = {"variables"};
		assert_string_equal(near("vrables", c, 1), "variables");   /* 7: two edits */
		assert_string_equal(near("vrbles", c, 1), "(none)");      /* 6: three needed */
		assert_string_equal(near("vxxiabls", c, 1), "variables"); /* 8: three edits */
	}
}

/* ---- cdx_utf8_check ------------------------------------------------------ */

#define U8(s) cdx_utf8_check((s), sizeof(s) - 1)

static void utf8_valid(void **state)
{
	(void)state;
	assert_int_equal(cdx_utf8_check("", 0), 0);
	assert_int_equal(U8("plain ascii\n"), 0);
	assert_int_equal(U8("caf\xc3\xa9"), 0);                 /* U+00E9 */
	assert_int_equal(U8("\xc2\x80"), 0);                    /* U+0080, smallest 2-byte */
	assert_int_equal(U8("\xdf\xbf"), 0);                    /* U+07FF */
	assert_int_equal(U8("\xe0\xa0\x80"), 0);                /* U+0800, smallest 3-byte */
	assert_int_equal(U8("\xe6\x97\xa5\xe6\x9c\xac"), 0);    /* 日本 */
	assert_int_equal(U8("\xed\x9f\xbf"), 0);                /* U+D7FF, below surrogates */
	assert_int_equal(U8("\xee\x80\x80"), 0);                /* U+E000, above surrogates */
	assert_int_equal(U8("\xef\xbf\xbf"), 0);                /* U+FFFF */
	assert_int_equal(U8("\xf0\x90\x80\x80"), 0);            /* U+10000, smallest 4-byte */
	assert_int_equal(U8("\xf0\x9f\x9a\x80"), 0);            /* U+1F680 rocket */
	assert_int_equal(U8("\xf4\x8f\xbf\xbf"), 0);            /* U+10FFFF, the largest */
}

static void utf8_invalid(void **state)
{
	(void)state;
	/* the result is the offset of the bad sequence plus one */
	assert_int_equal(U8("\x80"), 1);                 /* lone continuation byte */
	assert_int_equal(U8("ab\xff"), 3);               /* never valid */
	assert_int_equal(U8("ab\xfe"), 3);
	/* overlongs */
	assert_int_equal(U8("\xc0\x80"), 1);             /* NUL in 2 bytes */
	assert_int_equal(U8("\xc1\xbf"), 1);
	assert_int_equal(U8("x\xe0\x80\x80"), 2);        /* 3-byte overlong */
	assert_int_equal(U8("\xe0\x9f\xbf"), 1);         /* U+07FF in 3 bytes */
	assert_int_equal(U8("\xf0\x80\x80\x80"), 1);     /* 4-byte overlong */
	assert_int_equal(U8("\xf0\x8f\xbf\xbf"), 1);     /* U+FFFF in 4 bytes */
	/* UTF-16 surrogates */
	assert_int_equal(U8("\xed\xa0\x80"), 1);         /* U+D800 */
	assert_int_equal(U8("ok \xed\xbf\xbf"), 4);      /* U+DFFF */
	/* beyond U+10FFFF */
	assert_int_equal(U8("\xf4\x90\x80\x80"), 1);     /* U+110000 */
	assert_int_equal(U8("\xf5\x80\x80\x80"), 1);
	assert_int_equal(U8("\xf8\x88\x80\x80\x80"), 1); /* old 5-byte form */
	/* truncated sequences, at the end and in the middle */
	assert_int_equal(U8("abc\xc3"), 4);
	assert_int_equal(U8("\xe2\x82"), 1);
	assert_int_equal(U8("\xf0\x9f\x9a"), 1);
	assert_int_equal(U8("\xe2\x82x"), 1);
	assert_int_equal(U8("\xc3\xa9\xc3 "), 3);
	/* the length bounds the check: a valid prefix of an invalid buffer */
	assert_int_equal(cdx_utf8_check("ab\xff", 2), 0);
}

/* ---- checksums ----------------------------------------------------------- */

static void crc32_check_value(void **state)
{
	uint32_t c;
	(void)state;
	assert_int_equal(cdx_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(cdx_crc32(0, "", 0), 0);
	assert_int_equal(cdx_crc32(0, "a", 1), 0xe8b7be43u);
	assert_int_equal(cdx_crc32(0, "The quick brown fox jumps over the lazy dog", 43), 0x414fa339u);
	/* incremental: the running value continues */
	c = cdx_crc32(0, "1234", 4);
	assert_int_equal(cdx_crc32(c, "56789", 5), 0xcbf43926u);
}

static void fnv1a(void **state)
{
	(void)state;
	assert_int_equal(cdx_hash32("", 0), 0x811c9dc5u);
	assert_int_equal(cdx_hash32("a", 1), 0xe40c292cu);
	assert_int_equal(cdx_hash32("foobar", 6), 0xbf9cf968u);
}

/* ---- buffers, errors, files ---------------------------------------------- */

static void buf_grows(void **state)
{
	struct cdx_buf b = {0};
	char *s;
	int i;
	(void)state;
	cdx_buf_adds(&b, "ab");
	cdx_buf_addc(&b, 'c');
	cdx_buf_printf(&b, "-%d-%s", 42, "x");
	assert_string_equal(b.data, "abc-42-x");
	assert_int_equal(b.len, 8);
	for (i = 0; i < 1000; i++)
		cdx_buf_add(&b, "0123456789", 10);
	assert_int_equal(b.len, 10008);
	assert_int_equal(b.data[b.len], '\0');
	cdx_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	cdx_buf_adds(&b, "kept");
	s = cdx_buf_detach(&b);
	assert_string_equal(s, "kept");
	assert_null(b.data);
	free(s);
	s = cdx_buf_detach(&b); /* an empty buffer detaches to "" */
	assert_string_equal(s, "");
	free(s);
	cdx_buf_free(&b);
}

static void error_set(void **state)
{
	struct cdx_error e = {0};
	(void)state;
	assert_int_equal(cdx_error_set(&e, CDX_EUSAGE, "cannot open %s", "x.yml"), -1);
	assert_int_equal(e.code, CDX_EUSAGE);
	assert_string_equal(e.msg, "cannot open x.yml");
	assert_int_equal(cdx_error_set(NULL, CDX_EUSAGE, "ignored"), -1);
	assert_string_equal(cdx_strstatus(CDX_OK), "success");
	assert_string_equal(cdx_strstatus(CDX_EUSAGE), "usage or configuration error");
	assert_string_equal(cdx_strstatus(12345), "unknown status");
}

/* a failure must say its kind: code 0 aborts rather than leave callers to
 * guess */
static void error_set_refuses_ok(void **state)
{
	struct cdx_error e = {0};
	int st;
	pid_t pid;
	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		cdx_error_set(&e, CDX_OK, "no kind");
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
}

static void read_file(void **state)
{
	char *dir = fx_tmpdir(), *path, *out = NULL;
	size_t len = 0;
	struct cdx_error e = {0};
	(void)state;
	assert_non_null(dir);
	path = fx_write(dir, "f.txt", "hello\n");
	assert_int_equal(cdx_read_file(path, 100, &out, &len, &e), 0);
	assert_int_equal(len, 6);
	assert_string_equal(out, "hello\n");
	free(out);
	assert_int_equal(cdx_read_file(path, 5, &out, &len, &e), -1);
	assert_non_null(strstr(e.msg, "larger than 5 bytes"));
	assert_int_equal(cdx_read_file(dir, 100, &out, &len, &e), -1);
	assert_non_null(strstr(e.msg, "is a directory"));
	assert_int_equal(cdx_read_file("/nonexistent/cdx/x.yml", 100, &out, &len, &e), -1);
	assert_string_equal(e.msg, "cannot open /nonexistent/cdx/x.yml: No such file or directory");
	free(path);
	/* empty; exactly the limit */
	path = fx_write(dir, "empty", "");
	assert_int_equal(cdx_read_file(path, 100, &out, &len, &e), 0);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);
	free(path);
	path = fx_write(dir, "five", "12345");
	assert_int_equal(cdx_read_file(path, 5, &out, &len, &e), 0);
	assert_string_equal(out, "12345");
	free(out);
	free(path);
	fx_rmrf(dir);
	free(dir);
}

/* a file bigger than a huge page is read whole; a file whose size stat
 * does not tell (as in /proc) is read to its end */
static void read_file_sizes(void **state)
{
	char *dir = fx_tmpdir(), *path, *out = NULL, *big;
	size_t len = 0, n = (3u << 20) + 123, i;
	struct cdx_error e = {0};
	(void)state;
	assert_non_null(dir);
	big = malloc(n + 1);
	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	path = fx_write(dir, "big", big);
	assert_int_equal(cdx_read_file(path, n, &out, &len, &e), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, big, n + 1);
	free(out);
	assert_int_equal(cdx_read_file(path, n - 1, &out, &len, &e), -1);
	assert_non_null(strstr(e.msg, "larger than"));
	assert_int_equal(cdx_read_file("/proc/self/status", 1u << 20, &out, &len, &e), 0);
	assert_true(len > 0);
	assert_int_equal(strlen(out), len);
	assert_non_null(strstr(out, "Pid:"));
	free(out);
	fx_rmrf(dir);
	free(path);
	free(big);
	free(dir);
}

/* ---- durations ----------------------------------------------------------- */

static int64_t dur(const char *s)
{
	int64_t ms = -42;
	const char *why = NULL;
	if (cdx_duration_parse(s, &ms, &why) < 0) {
		print_error("duration '%s' refused: %s\n", s, why);
		fail();
	}
	return ms;
}

static const char *dur_err(const char *s)
{
	int64_t ms = -42;
	const char *why = NULL;
	if (cdx_duration_parse(s, &ms, &why) == 0) {
		print_error("duration '%s' accepted as %lld ms\n", s, (long long)ms);
		fail();
	}
	assert_non_null(why);
	return why;
}

static void duration_forms(void **state)
{
	(void)state;
	assert_int_equal(dur("0"), 0);
	assert_int_equal(dur("90"), 90000);
	assert_int_equal(dur("0.5"), 500);
	assert_int_equal(dur(".5"), 500);
	assert_int_equal(dur("5."), 5000);
	assert_int_equal(dur("500ms"), 500);
	assert_int_equal(dur("30s"), 30000);
	assert_int_equal(dur("1.5s"), 1500);
	assert_int_equal(dur("10m"), 600000);
	assert_int_equal(dur("2.5m"), 150000);
	assert_int_equal(dur("1h"), 3600000);
	assert_int_equal(dur("0.25h"), 900000);
	assert_int_equal(dur("007s"), 7000);
	/* rounded to the nearest ms, never below 1 ms for a positive value */
	assert_int_equal(dur("0.0004"), 1);
	assert_int_equal(dur("0.4ms"), 1);
	assert_int_equal(dur("1.6ms"), 2);
	assert_int_equal(dur("0ms"), 0);
	/* the maximum, 30 days, in every unit */
	assert_int_equal(dur("720h"), CDX_DURATION_MAX_MS);
	assert_int_equal(dur("43200m"), CDX_DURATION_MAX_MS);
	assert_int_equal(dur("2592000"), CDX_DURATION_MAX_MS);
	assert_int_equal(dur("2592000000ms"), CDX_DURATION_MAX_MS);
}

static void duration_errors(void **state)
{
	const char *syntax = "expected a duration such as 90, 0.5, 500ms, 30s, 10m or 1h";
	const char *unit = "unknown duration unit (use ms, s, m or h)";
	const char *big = "duration is longer than 30 days";
	(void)state;
	assert_string_equal(dur_err(""), syntax);
	assert_string_equal(dur_err("."), syntax);
	assert_string_equal(dur_err("-5"), syntax);
	assert_string_equal(dur_err("+5"), syntax);
	assert_string_equal(dur_err(" 5"), syntax);
	assert_string_equal(dur_err("s"), syntax);
	assert_string_equal(dur_err("forever"), syntax);
	assert_string_equal(dur_err("10x"), unit);
	assert_string_equal(dur_err("1e9"), unit);
	assert_string_equal(dur_err("5 s"), unit);
	assert_string_equal(dur_err("5S"), unit);
	assert_string_equal(dur_err("1h30m"), unit);
	assert_string_equal(dur_err("10d"), unit);
	assert_string_equal(dur_err("5s "), unit);
	assert_string_equal(dur_err("721h"), big);
	assert_string_equal(dur_err("744h"), big); /* 31 days */
	assert_string_equal(dur_err("2592001"), big);
	assert_string_equal(dur_err("2592000001ms"), big);
	assert_string_equal(dur_err("99999999999999999999"), big);
}

static void duration_format(void **state)
{
	char buf[32];
	(void)state;
	cdx_duration_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0ms");
	cdx_duration_format(250, buf, sizeof(buf));
	assert_string_equal(buf, "250ms");
	cdx_duration_format(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1.5s");
	cdx_duration_format(600000, buf, sizeof(buf));
	assert_string_equal(buf, "10m00s");
	cdx_duration_format(90500, buf, sizeof(buf));
	assert_string_equal(buf, "1m30s");
	cdx_duration_format(7500000, buf, sizeof(buf));
	assert_string_equal(buf, "2h05m");
	cdx_duration_format(600000, buf, 4); /* truncated, still terminated */
	assert_int_equal(strlen(buf), 3);
}

static void round_half_away(void **state)
{
	(void)state;
	assert_true(cdx_round(2.5) == 3.0);
	assert_true(cdx_round(-2.5) == -3.0);
	assert_true(cdx_round(2.4999) == 2.0);
	assert_true(cdx_round(-0.4) == 0.0);
	assert_true(cdx_round(1234.5678 * 1000) / 1000 == 1234.568);
	assert_true(cdx_round(0.49999999999999994) == 0.0);
	assert_true(cdx_round(9007199254740993.0) == 9007199254740993.0);
	assert_true(cdx_round(1e300) == 1e300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_valid_accepts), cmocka_unit_test(name_valid_refuses),
		cmocka_unit_test(closest_suggests),   cmocka_unit_test(closest_limits),
		cmocka_unit_test(utf8_valid),         cmocka_unit_test(utf8_invalid),
		cmocka_unit_test(crc32_check_value),  cmocka_unit_test(fnv1a),
		cmocka_unit_test(buf_grows),          cmocka_unit_test(error_set),
		cmocka_unit_test(error_set_refuses_ok),
		cmocka_unit_test(read_file),          cmocka_unit_test(read_file_sizes),
		cmocka_unit_test(duration_forms),
		cmocka_unit_test(duration_errors),    cmocka_unit_test(duration_format),
		cmocka_unit_test(round_half_away),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
