/* test_journal.c — unit tests of the append-only journal (lib/journal.c):
 * framing, seq numbers across handles and processes, torn tails, damaged
 * records, limits, failed syncs and a writer killed with SIGKILL. */
#include "fixtures.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "state/journal.h"

/* ---- helpers ------------------------------------------------------------ */

struct rec {
	uint64_t seq;
	char *data; /* NUL-terminated copy of the payload */
	size_t len;
};

struct seen {
	struct rec *r;
	size_t n, cap;
	size_t stop_after; /* stop the scan after this many; 0 = never */
};

static int collect(void *ctx, uint64_t seq, const char *rec, size_t len)
{
	struct seen *s = ctx;
	struct rec r;
	assert_int_equal(rec[len], '\0');
	r.seq = seq;
	r.len = len;
	r.data = malloc(len + 1);
	memcpy(r.data, rec, len + 1);
	CDX_PUSH(s->r, s->n, s->cap, r);
	return s->stop_after && s->n >= s->stop_after;
}

static void seen_free(struct seen *s)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		free(s->r[i].data);
	free(s->r);
	memset(s, 0, sizeof(*s));
}

/* scan J into S, asserting success; returns the damaged count */
static size_t scan(struct cdx_journal *j, struct seen *s)
{
	struct cdx_error err = {0};
	size_t damaged = 99;
	int rc = cdx_journal_scan(j, collect, s, &damaged, &err);
	if (rc != 0)
		fail_msg("scan: %s", err.msg);
	return damaged;
}

/* scan J into S, asserting success, DAMAGED damaged lines and N records */
static void scan_expect(struct cdx_journal *j, struct seen *s, size_t damaged, size_t n)
{
	assert_int_equal(scan(j, s), damaged);
	assert_int_equal(s->n, n);
}

static struct cdx_journal *jopen(const char *path)
{
	struct cdx_error err = {0};
	struct cdx_journal *j = NULL;
	if (cdx_journal_open(path, &j, &err) != 0)
		fail_msg("open %s: %s", path, err.msg);
	assert_non_null(j);
	return j;
}

static void append(struct cdx_journal *j, const char *rec)
{
	struct cdx_error err = {0};
	if (cdx_journal_append(j, rec, strlen(rec), &err) != 0)
		fail_msg("append: %s", err.msg);
}

static void sync_ok(struct cdx_journal *j)
{
	struct cdx_error err = {0};
	if (cdx_journal_sync(j, &err) != 0)
		fail_msg("sync: %s", err.msg);
	assert_int_equal(cdx_journal_pending(j), 0);
}

static off_t fsize(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static char *slurp(const char *path)
{
	struct cdx_error err = {0};
	char *s = NULL;
	size_t n;
	if (cdx_read_file(path, (size_t)1 << 30, &s, &n, &err) != 0)
		fail_msg("read %s: %s", path, err.msg);
	return s;
}

static void add_bytes(const char *path, const char *bytes, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, n), (ssize_t)n);
	close(fd);
}

/* the line the journal must write for SEQ and payload REC */
static char *frame(uint64_t seq, const char *rec)
{
	return cdx_xasprintf("{\"seq\":%llu,\"crc\":\"%08x\",\"rec\":%s}\n", (unsigned long long)seq,
			     cdx_crc32(0, rec, strlen(rec)), rec);
}

/* assert that S holds seqs FIRST, FIRST+1, ... in order */
static void assert_consecutive(const struct seen *s, uint64_t first)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		assert_int_equal(s->r[i].seq, first + i);
}

/* ---- tests -------------------------------------------------------------- */

static void test_crc32_check_value(void **state)
{
	(void)state;
	assert_int_equal(cdx_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(cdx_crc32(0, "", 0), 0);
	/* incremental use gives the same result */
	assert_int_equal(cdx_crc32(cdx_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

static void test_round_trip(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	char *text, *want;
	const char *recs[] = {"{\"a\":1}", "[1,2,3]", "\"x\\ny\"", "42"};
	struct cdx_journal *j;
	struct seen s = {0};
	struct cdx_buf expect = {0};
	size_t i;

	j = jopen(path);
	assert_int_equal(fsize(path), 0);
	assert_int_equal(cdx_journal_pending(j), 0);
	for (i = 0; i < 3; i++)
		append(j, recs[i]);
	assert_int_equal(cdx_journal_pending(j), 3);
	/* append only buffers */
	assert_int_equal(fsize(path), 0);
	scan_expect(j, &s, 0, 0);
	sync_ok(j);
	scan_expect(j, &s, 0, 3);
	assert_consecutive(&s, 1);
	for (i = 0; i < 3; i++) {
		assert_string_equal(s.r[i].data, recs[i]);
		assert_int_equal(s.r[i].len, strlen(recs[i]));
	}
	seen_free(&s);
	/* sync with nothing buffered is a no-op */
	sync_ok(j);
	cdx_journal_close(j);

	/* the exact bytes, one jq-readable line per record */
	for (i = 0; i < 3; i++) {
		want = frame(i + 1, recs[i]);
		cdx_buf_adds(&expect, want);
		free(want);
	}
	text = slurp(path);
	assert_string_equal(text, expect.data);
	free(text);

	/* reopen: the records are there, and the next seq follows */
	j = jopen(path);
	append(j, recs[3]);
	sync_ok(j);
	scan_expect(j, &s, 0, 4);
	assert_consecutive(&s, 1);
	assert_string_equal(s.r[3].data, "42");
	seen_free(&s);
	cdx_journal_close(j);

	cdx_buf_free(&expect);
}

static void test_close_syncs(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	struct cdx_journal *j = jopen(path);
	struct seen s = {0};
	append(j, "{\"late\":true}");
	cdx_journal_close(j);
	cdx_journal_close(NULL);
	assert_int_equal(cdx_journal_pending(NULL), 0);
	j = jopen(path);
	scan_expect(j, &s, 0, 1);
	assert_int_equal(s.r[0].seq, 1);
	assert_string_equal(s.r[0].data, "{\"late\":true}");
	seen_free(&s);
	cdx_journal_close(j);
}

static void test_two_handles_one_process(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	struct cdx_journal *a = jopen(path), *b = jopen(path);
	struct seen s = {0};
	append(a, "\"a1\"");
	sync_ok(a);
	append(b, "\"b1\"");
	append(b, "\"b2\"");
	sync_ok(b);
	append(a, "\"a2\"");
	sync_ok(a);
	/* b learns a2 from the file at scan time */
	scan_expect(b, &s, 0, 4);
	assert_consecutive(&s, 1);
	assert_string_equal(s.r[0].data, "\"a1\"");
	assert_string_equal(s.r[1].data, "\"b1\"");
	assert_string_equal(s.r[2].data, "\"b2\"");
	assert_string_equal(s.r[3].data, "\"a2\"");
	seen_free(&s);
	append(b, "\"b3\"");
	sync_ok(b);
	scan_expect(a, &s, 0, 5);
	assert_consecutive(&s, 1);
	seen_free(&s);
	cdx_journal_close(a);
	cdx_journal_close(b);
}

#define NCHILD 4
#define PER_CHILD 200

static void child_writer(const char *path, int id)
{
	struct cdx_error err = {0};
	struct cdx_journal *j = NULL;
	int i, ok = 1;
	srand((unsigned)getpid());
	if (cdx_journal_open(path, &j, &err) != 0)
		_exit(2);
	for (i = 0; i < PER_CHILD && ok; i++) {
		char rec[64];
		snprintf(rec, sizeof(rec), "{\"c\":%d,\"i\":%d}", id, i);
		ok = cdx_journal_append(j, rec, strlen(rec), &err) == 0;
		/* batches of 1 to 8 records */
		if (ok && rand() % 8 == 0)
			ok = cdx_journal_sync(j, &err) == 0;
	}
	if (ok)
		ok = cdx_journal_sync(j, &err) == 0;
	cdx_journal_close(j);
	_exit(ok ? 0 : 3);
}

static void test_concurrent_processes(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	pid_t pids[NCHILD];
	int next[NCHILD] = {0};
	char hit[NCHILD * PER_CHILD + 1] = {0};
	struct cdx_journal *j;
	struct seen s = {0};
	size_t i;

	/* the file is created by the children, racing each other */
	for (i = 0; i < NCHILD; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			child_writer(path, (int)i);
	}
	for (i = 0; i < NCHILD; i++) {
		int st;
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	j = jopen(path);
	scan_expect(j, &s, 0, NCHILD * PER_CHILD);
	for (i = 0; i < s.n; i++) {
		int c, k;
		assert_true(s.r[i].seq >= 1 && s.r[i].seq <= NCHILD * PER_CHILD);
		assert_int_equal(hit[s.r[i].seq], 0);
		hit[s.r[i].seq] = 1;
		assert_int_equal(sscanf(s.r[i].data, "{\"c\":%d,\"i\":%d}", &c, &k), 2);
		assert_true(c >= 0 && c < NCHILD);
		/* each child's records in its own order */
		assert_int_equal(k, next[c]);
		next[c]++;
	}
	assert_consecutive(&s, 1);
	seen_free(&s);
	cdx_journal_close(j);
}

static void test_torn_tail(void **state)
{
	const struct fx_dir *x = *state;
	const char *dir = x->dir, *path = x->path;
	char *line;
	struct cdx_journal *j, *live;
	struct seen s = {0};
	off_t good;

	j = jopen(path);
	append(j, "{\"n\":1}");
	append(j, "{\"n\":2}");
	sync_ok(j);
	cdx_journal_close(j);
	good = fsize(path);

	/* half a line: cut at open */
	line = frame(3, "{\"n\":3}");
	add_bytes(path, line, strlen(line) / 2);
	j = jopen(path);
	assert_int_equal(fsize(path), good);
	append(j, "{\"n\":3}");
	sync_ok(j);
	scan_expect(j, &s, 0, 3);
	assert_consecutive(&s, 1);
	assert_string_equal(s.r[2].data, "{\"n\":3}");
	seen_free(&s);
	cdx_journal_close(j);
	free(line);
	good = fsize(path);

	/* complete last lines that are wrong (bad crc, then junk): cut too */
	add_bytes(path, "{\"seq\":4,\"crc\":\"00000000\",\"rec\":{}}\n", 36);
	add_bytes(path, "garbage\n\n", 9);
	j = jopen(path);
	assert_int_equal(fsize(path), good);
	scan_expect(j, &s, 0, 3);
	seen_free(&s);

	/* a torn tail left behind while a handle is open: cut before the
	 * next write, and that write gets the right seq */
	live = jopen(path);
	line = frame(4, "{\"n\":4}");
	add_bytes(path, line, strlen(line) - 1); /* no newline */
	append(live, "{\"n\":4}");
	sync_ok(live);
	scan_expect(j, &s, 0, 4);
	assert_consecutive(&s, 1);
	assert_string_equal(s.r[3].data, "{\"n\":4}");
	seen_free(&s);
	cdx_journal_close(live);
	cdx_journal_close(j);
	free(line);

	/* a file that is nothing but a torn line */
	fx_rmrf(dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	free(fx_write(dir, "journal.jsonl", "{\"seq\":1,\"crc\""));
	j = jopen(path);
	assert_int_equal(fsize(path), 0);
	append(j, "1");
	sync_ok(j);
	scan_expect(j, &s, 0, 1);
	assert_int_equal(s.r[0].seq, 1);
	seen_free(&s);
	cdx_journal_close(j);
}

/* a tail of many short junk lines after a record larger than one read:
 * the backward search must cross both, and stay linear */
static void test_long_torn_tail(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	char *big;
	size_t n = 200000, i;
	struct cdx_buf junk = {0};
	struct cdx_journal *j;
	struct seen s = {0};
	int64_t t0;
	off_t good;
	big = malloc(n);
	memset(big, 'z', n);
	big[0] = big[n - 1] = '"';
	j = jopen(path);
	append(j, "\"small\"");
	assert_int_equal(cdx_journal_append(j, big, n, NULL), 0);
	sync_ok(j);
	cdx_journal_close(j);
	good = fsize(path);
	for (i = 0; i < 100000; i++)
		cdx_buf_adds(&junk, i % 3 ? "x\n" : "{\"seq\":3}\n");
	/* and one junk line longer than a read, but short enough to check */
	for (i = 0; i < 100000; i++)
		cdx_buf_addc(&junk, 'y');
	cdx_buf_adds(&junk, "\n{\"seq\":4,\"cr");
	add_bytes(path, junk.data, junk.len);
	t0 = cdx_now_ns();
	j = jopen(path);
	assert_true(cdx_now_ns() - t0 < (int64_t)5000000000);
	assert_int_equal(fsize(path), good);
	append(j, "\"next\"");
	sync_ok(j);
	scan_expect(j, &s, 0, 3);
	assert_consecutive(&s, 1);
	assert_int_equal(s.r[1].len, n);
	assert_memory_equal(s.r[1].data, big, n);
	assert_string_equal(s.r[2].data, "\"next\"");
	seen_free(&s);
	cdx_journal_close(j);
	cdx_buf_free(&junk);
	free(big);
}

static void test_damaged_middle(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	char *text, *p;
	struct cdx_journal *j;
	struct seen s = {0};
	off_t size;
	FILE *f;

	j = jopen(path);
	append(j, "{\"k\":\"first\"}");
	append(j, "{\"k\":\"second\"}");
	append(j, "{\"k\":\"third\"}");
	sync_ok(j);
	cdx_journal_close(j);

	/* flip one payload byte of the middle record */
	text = slurp(path);
	p = strstr(text, "second");
	assert_non_null(p);
	*p = 'S';
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	free(text);
	size = fsize(path);

	j = jopen(path);
	assert_int_equal(fsize(path), size); /* not a tail: left alone */
	scan_expect(j, &s, 1, 2);
	assert_int_equal(s.r[0].seq, 1);
	assert_string_equal(s.r[0].data, "{\"k\":\"first\"}");
	assert_int_equal(s.r[1].seq, 3);
	assert_string_equal(s.r[1].data, "{\"k\":\"third\"}");
	seen_free(&s);
	append(j, "{\"k\":\"fourth\"}");
	sync_ok(j);
	scan_expect(j, &s, 1, 3);
	assert_int_equal(s.r[2].seq, 4);
	seen_free(&s);
	cdx_journal_close(j);
}

static void test_damaged_framing(void **state)
{
	const struct fx_dir *x = *state;
	const char *dir = x->dir, *path = x->path;
	char *good1 = frame(1, "1"), *good2 = frame(2, "2");
	const char *bad[] = {
	    "",                                                              /* empty line */
	    "{\"seq\":01,\"crc\":\"83dcefb7\",\"rec\":1}",                   /* leading zero */
	    "{\"seq\":0,\"crc\":\"83dcefb7\",\"rec\":1}",                    /* seq 0 */
	    "{\"seq\":1,\"crc\":\"83DCEFB7\",\"rec\":1}",                    /* upper-case hex */
	    "{\"seq\":1,\"crc\":\"83dcefb\",\"rec\":1}",                     /* 7 digits */
	    "{\"seq\":1,\"crc\":\"00000000\",\"rec\":}",                     /* empty payload */
	    "{\"seq\":1,\"crc\":\"83dcefb7\",\"rec\":1} ",                   /* after the brace */
	    "{\"seq\":1,\"crc\":\"83dcefb7\",\"rec\":1",                     /* no brace */
	    "{\"seq\":99999999999999999999,\"crc\":\"83dcefb7\",\"rec\":1}", /* > 2^64 */
	    " {\"seq\":1,\"crc\":\"83dcefb7\",\"rec\":1}",                   /* before the brace */
	};
	struct cdx_buf text = {0};
	struct cdx_journal *j;
	struct seen s = {0};
	size_t i;

	/* the reference line itself is valid */
	assert_string_equal(good1, "{\"seq\":1,\"crc\":\"83dcefb7\",\"rec\":1}\n");
	cdx_buf_adds(&text, good1);
	for (i = 0; i < CDX_ARRAY_LEN(bad); i++) {
		cdx_buf_adds(&text, bad[i]);
		cdx_buf_addc(&text, '\n');
	}
	cdx_buf_adds(&text, good2);
	free(fx_write(dir, "journal.jsonl", text.data));
	j = jopen(path);
	scan_expect(j, &s, CDX_ARRAY_LEN(bad), 2);
	assert_consecutive(&s, 1);
	seen_free(&s);
	cdx_journal_close(j);

	cdx_buf_free(&text);
	free(good1);
	free(good2);
}

static void test_overlong_line(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	char *junk, *line;
	size_t n = CDX_JOURNAL_RECMAX + 4096;
	struct cdx_journal *j;
	struct seen s = {0};
	j = jopen(path);
	append(j, "\"before\"");
	sync_ok(j);
	/* a line longer than any record could be, in the middle */
	junk = malloc(n);
	memset(junk, 'x', n);
	junk[n - 1] = '\n';
	add_bytes(path, junk, n);
	free(junk);
	/* (a valid record after it, or it would be a torn tail) */
	line = frame(2, "\"after\"");
	add_bytes(path, line, strlen(line));
	free(line);
	scan_expect(j, &s, 1, 2);
	assert_consecutive(&s, 1);
	assert_string_equal(s.r[1].data, "\"after\"");
	seen_free(&s);
	cdx_journal_close(j);
}

static void test_invalid_records(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	struct cdx_journal *j = jopen(path);
	struct cdx_error err = {0};
	assert_int_equal(cdx_journal_append(j, "{\"a\":\n1}", 8, &err), -1);
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_non_null(strstr(err.msg, "newline"));
	assert_int_equal(cdx_journal_append(j, "1\n", 2, &err), -1);
	assert_int_equal(cdx_journal_append(j, "", 0, &err), -1);
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_int_equal(cdx_journal_pending(j), 0);
	/* ERR may be NULL */
	assert_int_equal(cdx_journal_append(j, "\n", 1, NULL), -1);
	cdx_journal_close(j);
	assert_int_equal(fsize(path), 0);
}

static void test_large_payload(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	char *big;
	struct cdx_journal *j = jopen(path);
	struct cdx_error err = {0};
	struct seen s = {0};
	size_t n = CDX_JOURNAL_RECMAX, i;
	/* a JSON string of exactly the limit */
	big = malloc(n + 2);
	big[0] = '"';
	for (i = 1; i < n - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[n - 1] = '"';
	big[n] = '"';
	assert_int_equal(cdx_journal_append(j, big, n + 1, &err), -1);
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_int_equal(cdx_journal_append(j, big, n, &err), 0);
	append(j, "\"small\"");
	sync_ok(j);
	cdx_journal_close(j);

	j = jopen(path);
	scan_expect(j, &s, 0, 2);
	assert_int_equal(s.r[0].len, n);
	assert_memory_equal(s.r[0].data, big, n);
	assert_string_equal(s.r[1].data, "\"small\"");
	seen_free(&s);
	cdx_journal_close(j);
	free(big);
}

static int stop_and_write(void *ctx, uint64_t seq, const char *rec, size_t len)
{
	struct cdx_journal *other = ctx;
	struct cdx_error err = {0};
	(void)rec;
	(void)len;
	/* writing from inside a scan must not deadlock */
	assert_int_equal(cdx_journal_append(other, "\"from-scan\"", 11, &err), 0);
	assert_int_equal(cdx_journal_sync(other, &err), 0);
	return seq == 2;
}

static void test_scan_stop_and_reentry(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	struct cdx_journal *j = jopen(path), *other = jopen(path);
	struct seen s = {0};
	size_t damaged = 7;
	struct cdx_error err = {0};
	append(j, "1");
	append(j, "2");
	append(j, "3");
	sync_ok(j);
	s.stop_after = 2;
	scan_expect(j, &s, 0, 2);
	seen_free(&s);
	/* the callback writes through another handle and through J itself */
	assert_int_equal(cdx_journal_scan(j, stop_and_write, other, &damaged, &err), 0);
	assert_int_equal(damaged, 0);
	assert_int_equal(cdx_journal_scan(j, stop_and_write, j, NULL, &err), 0);
	scan_expect(other, &s, 0, 7);
	assert_consecutive(&s, 1);
	assert_string_equal(s.r[6].data, "\"from-scan\"");
	seen_free(&s);
	/* FN may be NULL: just count */
	assert_int_equal(cdx_journal_scan(j, NULL, NULL, &damaged, &err), 0);
	assert_int_equal(damaged, 0);
	cdx_journal_close(j);
	cdx_journal_close(other);
}

static void test_open_errors(void **state)
{
	const struct fx_dir *x = *state;
	const char *dir = x->dir;
	char *path = cdx_xasprintf("%s/no/such/journal", dir);
	struct cdx_journal *j = (struct cdx_journal *)1;
	struct cdx_error err = {0};
	assert_int_equal(cdx_journal_open(path, &j, &err), -1);
	assert_null(j);
	assert_int_equal(err.code, CDX_ESTATE);
	assert_non_null(strstr(err.msg, "cannot open journal"));
	assert_int_equal(cdx_journal_open(dir, &j, &err), -1);
	assert_int_equal(err.code, CDX_ESTATE);
	assert_int_equal(cdx_journal_open("/dev/null", &j, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
	free(path);
}

/* a relative path opens in the current directory */
static void test_relative_path(void **state)
{
	const struct fx_dir *x = *state;
	const char *dir = x->dir;
	char cwd[4096];
	struct cdx_journal *j;
	struct seen s = {0};
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	j = jopen("j");
	append(j, "true");
	sync_ok(j);
	scan_expect(j, &s, 0, 1);
	seen_free(&s);
	cdx_journal_close(j);
	assert_int_equal(chdir(cwd), 0);
}

static void test_sync_failure_keeps_records(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	char big[4000];
	struct cdx_journal *j = jopen(path);
	struct cdx_error err = {0};
	struct rlimit old, lim;
	struct seen s = {0};
	void (*oldsig)(int);
	off_t size;
	append(j, "\"one\"");
	sync_ok(j);
	size = fsize(path);

	/* a file size limit lets the write stop half-way */
	memset(big, 'b', sizeof(big));
	big[0] = big[sizeof(big) - 1] = '"';
	assert_int_equal(cdx_journal_append(j, big, sizeof(big), &err), 0);
	append(j, "\"three\"");
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)size + 100;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(cdx_journal_sync(j, &err), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);
	assert_int_equal(err.code, CDX_ESTATE);
	assert_non_null(strstr(err.msg, "cannot write journal"));
	assert_int_equal(cdx_journal_pending(j), 2);
	/* the partial write was undone */
	assert_int_equal(fsize(path), size);

	sync_ok(j);
	scan_expect(j, &s, 0, 3);
	assert_consecutive(&s, 1);
	assert_int_equal(s.r[1].len, sizeof(big));
	assert_string_equal(s.r[2].data, "\"three\"");
	seen_free(&s);
	cdx_journal_close(j);
}

static void test_handle_across_fork(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	struct cdx_journal *j = jopen(path);
	struct seen s = {0};
	pid_t pid;
	int st;
	append(j, "\"parent\"");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cdx_error err = {0};
		int ok = cdx_journal_sync(j, &err) == -1 && err.code == CDX_EUSAGE;
		cdx_journal_close(j); /* must not sync the parent's record */
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(fsize(path), 0);
	assert_int_equal(cdx_journal_pending(j), 1);
	sync_ok(j);
	scan_expect(j, &s, 0, 1);
	assert_int_equal(s.r[0].seq, 1);
	seen_free(&s);
	cdx_journal_close(j);
}

/* the child of test_kill9: append and sync batches until killed */
static void kill9_child(const char *path)
{
	struct cdx_error err = {0};
	struct cdx_journal *j = NULL;
	char *rec = malloc(70000);
	unsigned i = 0;
	srand((unsigned)getpid());
	if (cdx_journal_open(path, &j, &err) != 0)
		_exit(2);
	for (;;) {
		int k, batch = 1 + rand() % 16;
		for (k = 0; k < batch; k++) {
			/* sizes up to 64 KiB, so that writes span pages */
			size_t n = 8 + (size_t)rand() % 65536;
			memset(rec, 'a' + i % 26, n);
			rec[0] = rec[n - 1] = '"';
			i++;
			if (cdx_journal_append(j, rec, n, &err) != 0)
				_exit(3);
		}
		if (cdx_journal_sync(j, &err) != 0)
			_exit(4);
	}
}

static void test_kill9(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	uint64_t total = 0;
	int round, cuts = 0;
	srand(seed);
	print_message("kill9 seed %u\n", seed);
	for (round = 0; round < 6; round++) {
		struct cdx_journal *j;
		struct seen s = {0};
		struct timespec ts = {0, (long)(5 + rand() % 150) * 1000000L};
		size_t i;
		off_t before;
		pid_t pid;
		int st;
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			kill9_child(path);
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));

		before = fsize(path);
		j = jopen(path);
		cuts += fsize(path) != before;
		assert_int_equal(scan(j, &s), 0);
		/* only a tail can be torn, and open cut it */
		assert_true(s.n >= total);
		for (i = 0; i < s.n; i++) {
			size_t k;
			assert_int_equal(s.r[i].seq, i + 1);
			if (strcmp(s.r[i].data, "\"survivor\"") == 0)
				continue;
			assert_true(s.r[i].len >= 8);
			assert_int_equal(s.r[i].data[0], '"');
			assert_int_equal(s.r[i].data[s.r[i].len - 1], '"');
			for (k = 1; k + 1 < s.r[i].len; k++)
				if (s.r[i].data[k] != s.r[i].data[1])
					fail_msg("record %zu is mixed", i);
		}
		total = s.n;
		seen_free(&s);
		/* and the file takes the next record */
		append(j, "\"survivor\"");
		sync_ok(j);
		scan_expect(j, &s, 0, total + 1);
		assert_int_equal(s.r[total].seq, total + 1);
		total = s.n;
		seen_free(&s);
		cdx_journal_close(j);
	}
	print_message("kill9: %llu records after 6 kills, %d torn tails cut\n", (unsigned long long)total,
		      cuts);
}

/* JT: a test with a directory of its own, x->path its journal's path */
/* ---- reading only, damage, repair (issue 18) ------------------------------ */

/* a read-only handle creates nothing, cuts nothing and refuses to sync; it
 * finds a journal created after it was opened */
static void test_read_only(void **state)
{
	const struct fx_dir *x = *state;
	const char *path = x->path;
	struct cdx_journal *ro = NULL, *j;
	struct cdx_error err = {0};
	struct seen s = {0};
	off_t size;
	assert_int_equal(cdx_journal_open_ro(path, &ro, &err), 0);
	assert_non_null(ro);
	assert_int_equal(access(path, F_OK), -1); /* not created */
	scan_expect(ro, &s, 0, 0);
	append(ro, "1");
	assert_int_equal(cdx_journal_sync(ro, &err), -1);
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_non_null(strstr(err.msg, "opened for reading"));

	j = jopen(path);
	append(j, "{\"a\":1}");
	append(j, "{\"a\":2}");
	sync_ok(j);
	scan_expect(ro, &s, 0, 2); /* found now */
	seen_free(&s);
	add_bytes(path, "{\"seq\":3,\"cr", 13); /* a torn tail */
	size = fsize(path);
	cdx_journal_close(ro); /* buffered "1": not written */
	assert_int_equal(cdx_journal_open_ro(path, &ro, &err), 0);
	scan_expect(ro, &s, 0, 2);
	seen_free(&s);
	assert_int_equal(fsize(path), size); /* the torn tail was not cut */
	cdx_journal_close(ro);
	cdx_journal_close(j);
}

struct bad_seen {
	off_t at[8];
	size_t len[8];
	size_t n;
};

static void note_bad(void *ctx, off_t at, size_t len)
{
	struct bad_seen *b = ctx;
	if (b->n < 8) {
		b->at[b->n] = at;
		b->len[b->n] = len;
	}
	b->n++;
}

/* scan_bad says where each damaged line starts; repair moves them to the
 * side file and keeps the intact records byte for byte; a handle opened
 * before the repair appends to the new journal */
static void test_repair(void **state)
{
	const struct fx_dir *x = *state;
	const char *dir = x->dir, *path = x->path;
	char *l1 = frame(1, "1"), *l2 = frame(2, "\"two\""), *l4 = frame(4, "4"), *side, *text, *want;
	const char *bad1 = "{\"seq\":3,\"crc\":\"00000000\",\"rec\":3}", *bad2 = "garbage";
	struct cdx_buf b = {0};
	struct bad_seen bs = {{0}, {0}, 0};
	struct cdx_journal *j, *other;
	struct cdx_error err = {0};
	struct seen s = {0};
	size_t damaged = 0, moved = 0;

	cdx_buf_adds(&b, l1);
	cdx_buf_adds(&b, bad1);
	cdx_buf_addc(&b, '\n');
	cdx_buf_adds(&b, l2);
	cdx_buf_adds(&b, bad2);
	cdx_buf_addc(&b, '\n');
	cdx_buf_adds(&b, l4);
	free(fx_write(dir, "journal.jsonl", b.data));
	j = jopen(path);
	other = jopen(path);
	assert_int_equal(cdx_journal_scan_bad(j, collect, &s, note_bad, &bs, &damaged, &err), 0);
	assert_int_equal(damaged, 2);
	assert_int_equal(bs.n, 2);
	assert_int_equal(bs.at[0], (off_t)strlen(l1));
	assert_int_equal(bs.len[0], strlen(bad1));
	assert_int_equal(bs.at[1], (off_t)(strlen(l1) + strlen(bad1) + 1 + strlen(l2)));
	assert_int_equal(bs.len[1], strlen(bad2));
	assert_int_equal(s.n, 3);
	seen_free(&s);

	side = cdx_xasprintf("%s.damaged", path);
	assert_int_equal(cdx_journal_repair(j, side, &moved, &err), 0);
	assert_int_equal(moved, 2);
	text = slurp(side);
	want = cdx_xasprintf("%s\n%s\n", bad1, bad2);
	assert_string_equal(text, want);
	free(text);
	free(want);
	text = slurp(path);
	want = cdx_xasprintf("%s%s%s", l1, l2, l4);
	assert_string_equal(text, want);
	free(text);
	free(want);
	scan_expect(j, &s, 0, 3);
	seen_free(&s);

	/* OTHER still had the old file open: it writes into the new one */
	append(other, "5");
	sync_ok(other);
	scan_expect(j, &s, 0, 4);
	assert_int_equal(s.r[3].seq, 5);
	seen_free(&s);
	/* nothing left to move: nothing changes */
	assert_int_equal(cdx_journal_repair(j, side, &moved, &err), 0);
	assert_int_equal(moved, 0);
	text = slurp(side);
	want = cdx_xasprintf("%s\n%s\n", bad1, bad2);
	assert_string_equal(text, want);
	free(text);
	free(want);

	cdx_journal_close(j);
	cdx_journal_close(other);
	cdx_buf_free(&b);
	free(side);
	free(l1);
	free(l2);
	free(l4);
}

#define JT(f) cmocka_unit_test_prestate_setup_teardown(f, fx_dir_setup, fx_dir_teardown, "journal.jsonl")

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32_check_value),
	    JT(test_round_trip),
	    JT(test_close_syncs),
	    JT(test_two_handles_one_process),
	    JT(test_concurrent_processes),
	    JT(test_torn_tail),
	    JT(test_long_torn_tail),
	    JT(test_damaged_middle),
	    JT(test_damaged_framing),
	    JT(test_overlong_line),
	    JT(test_invalid_records),
	    JT(test_large_payload),
	    JT(test_scan_stop_and_reentry),
	    JT(test_open_errors),
	    JT(test_relative_path),
	    JT(test_sync_failure_keeps_records),
	    JT(test_handle_across_fork),
	    JT(test_kill9),
	    JT(test_read_only),
	    JT(test_repair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
