/* test_pack.c — the artifact archive (lib/base/pack.c): globs with "**",
 * packing a real directory and unpacking it elsewhere (files, modes,
 * directories, relative links), and hostile archives — "..", absolute
 * paths, links leading out, a link then a path through it, truncation,
 * damage, limits — refused before anything is written. */
#include "fixtures.h"

#include <sys/stat.h>

#include "base/pack.h"
#include "base/util.h"

/* ---- helpers ---------------------------------------------------------------- */

static int to_buf(void *ctx, const void *p, size_t n, struct cdx_error *err)
{
	(void)err;
	cdx_buf_add(ctx, p, n);
	return 0;
}

static void be(struct cdx_buf *b, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		cdx_buf_addc(b, (char)((v >> (8 * i)) & 0xff));
}

/* an archive built by hand, with a correct trailer (so that the checks
 * after the checksum are what refuses it) */
static void a_begin(struct cdx_buf *b)
{
	cdx_buf_reset(b);
	cdx_buf_add(b, "CDXPACK1", 8);
}

static void a_entry(struct cdx_buf *b, char type, unsigned mode, const char *path, const char *data,
		    size_t dlen)
{
	cdx_buf_addc(b, type);
	be(b, mode, 4);
	be(b, strlen(path), 2);
	be(b, dlen, 8);
	cdx_buf_adds(b, path);
	cdx_buf_add(b, data, dlen);
}

static void a_end(struct cdx_buf *b, uint64_t entries, uint64_t bytes)
{
	uint32_t crc;
	cdx_buf_addc(b, 'E');
	be(b, entries, 8);
	be(b, bytes, 8);
	crc = cdx_crc32(0, b->data, b->len);
	be(b, crc, 4);
}

static void mkfile(const char *dir, const char *rel, const char *text)
{
	char *p = cdx_xasprintf("%s/%s", dir, rel);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	char *cmd = cdx_xasprintf("mkdir -p '%s'", p);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	*slash = '/';
	free(fx_write(dir, rel, text));
	free(p);
}

static char *slurp(const char *dir, const char *rel)
{
	char *p = cdx_xasprintf("%s/%s", dir, rel), *out = NULL;
	size_t len;
	struct cdx_error err = {0};
	if (cdx_read_file(p, 1 << 20, &out, &len, &err) < 0)
		out = NULL;
	free(p);
	return out;
}

static bool exists(const char *dir, const char *rel)
{
	char *p = cdx_xasprintf("%s/%s", dir, rel);
	struct stat sb;
	bool r = lstat(p, &sb) == 0;
	free(p);
	return r;
}

/* ---- globs ------------------------------------------------------------------ */

static void test_glob(void **state)
{
	(void)state;
	assert_true(cdx_glob_match("build/*.o", "build/a.o", false));
	assert_false(cdx_glob_match("build/*.o", "build/x/a.o", false));
	assert_true(cdx_glob_match("build/**/*.o", "build/a.o", false));
	assert_true(cdx_glob_match("build/**/*.o", "build/x/y/a.o", false));
	assert_true(cdx_glob_match("**/*.log", "a/b/c.log", false));
	assert_true(cdx_glob_match("**/*.log", "c.log", false));
	assert_true(cdx_glob_match("build/", "build", false));
	assert_true(cdx_glob_match("./dist", "dist", false));
	assert_false(cdx_glob_match("dist", "dist2", false));
	/* prefix: directories on the way */
	assert_true(cdx_glob_match("build/**/*.o", "build", true));
	assert_true(cdx_glob_match("a/b/c", "a/b", true));
	assert_false(cdx_glob_match("a/b/c", "x", true));
	/* many ** stay bounded */
	assert_false(cdx_glob_match("**/**/**/**/**/**/**/**/**/**/**/**/x",
				    "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/y", false));
	struct cdx_error err = {0};
	assert_int_equal(cdx_glob_check("../x", &err), -1);
	assert_int_equal(cdx_glob_check("/etc", &err), -1);
	assert_int_equal(cdx_glob_check("a/../../b", &err), -1);
	assert_int_equal(cdx_glob_check("", &err), -1);
	assert_int_equal(cdx_glob_check(".", &err), -1);
	assert_int_equal(cdx_glob_check("dist/**", &err), 0);
}

/* ---- round trip --------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	struct fx_dir *d = *state;
	char *src = cdx_xasprintf("%s/src", d->dir), *dst = cdx_xasprintf("%s/dst", d->dir);
	char *globs[] = {"dist", "**/*.txt"};
	struct cdx_buf b = {0};
	struct cdx_pack_stats st, st2;
	struct cdx_error err = {0};
	char *s;
	struct stat sb;
	mkfile(src, "dist/app.bin", "binary");
	mkfile(src, "dist/sub/deep.dat", "deep");
	mkfile(src, "notes/a.txt", "note a");
	mkfile(src, "notes/b.md", "not me");
	mkfile(src, "top.txt", "top");
	char *p = cdx_xasprintf("%s/dist/app.bin", src);
	chmod(p, 0750);
	free(p);
	p = cdx_xasprintf("%s/dist/link", src);
	assert_int_equal(symlink("sub/deep.dat", p), 0);
	free(p);
	assert_int_equal(cdx_pack(src, globs, 2, NULL, to_buf, &b, &st, &err), 0);
	assert_int_equal(st.files, 4);
	assert_int_equal(cdx_unpack(b.data, b.len, dst, NULL, &st2, &err), 0);
	assert_int_equal(st2.files, 4);
	assert_int_equal(st2.entries, st.entries);
	s = slurp(dst, "dist/app.bin");
	assert_string_equal(s, "binary");
	free(s);
	s = slurp(dst, "dist/link"); /* through the unpacked link */
	assert_string_equal(s, "deep");
	free(s);
	s = slurp(dst, "notes/a.txt");
	assert_string_equal(s, "note a");
	free(s);
	assert_false(exists(dst, "notes/b.md"));
	p = cdx_xasprintf("%s/dist/app.bin", dst);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);
	free(p);
	/* unpacking again replaces */
	assert_int_equal(cdx_unpack(b.data, b.len, dst, NULL, NULL, &err), 0);
	/* a link that leads out is refused at packing */
	p = cdx_xasprintf("%s/dist/out", src);
	assert_int_equal(symlink("../../etc/passwd", p), 0);
	free(p);
	cdx_buf_reset(&b);
	assert_int_equal(cdx_pack(src, globs, 2, NULL, to_buf, &b, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "outside"));
	/* limits */
	struct cdx_pack_limits lim = {2, 0};
	char *g1[] = {"notes"};
	cdx_buf_reset(&b);
	assert_int_equal(cdx_pack(src, g1, 1, &lim, to_buf, &b, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "more than 2"));
	cdx_buf_free(&b);
	free(src);
	free(dst);
}

/* ---- hostile archives ------------------------------------------------------------ */

static void refused(struct fx_dir *d, struct cdx_buf *b, const char *what)
{
	char *dst = cdx_xasprintf("%s/out/dst", d->dir);
	struct cdx_error err = {0};
	assert_int_equal(cdx_unpack(b->data, b->len, dst, NULL, NULL, &err), -1);
	assert_int_equal(err.code, CDX_EFAILED);
	if (what)
		assert_non_null(strstr(err.msg, what));
	/* nothing written anywhere: not in the destination, not beside it */
	assert_false(exists(d->dir, "out/dst/x"));
	assert_false(exists(d->dir, "out/evil"));
	assert_false(exists(d->dir, "evil"));
	free(dst);
}

static void test_hostile(void **state)
{
	struct fx_dir *d = *state;
	struct cdx_buf b = {0};
	char *outdir = cdx_xasprintf("%s/out", d->dir);
	mkdir(outdir, 0755);

	a_begin(&b); /* .. */
	a_entry(&b, 'f', 0644, "../evil", "x", 1);
	a_end(&b, 1, 1);
	refused(d, &b, "unsafe path");

	a_begin(&b); /* inner .. */
	a_entry(&b, 'f', 0644, "x/../../evil", "x", 1);
	a_end(&b, 1, 1);
	refused(d, &b, "unsafe path");

	a_begin(&b); /* absolute */
	a_entry(&b, 'f', 0644, "/tmp/evil", "x", 1);
	a_end(&b, 1, 1);
	refused(d, &b, "unsafe path");

	a_begin(&b); /* NUL inside a path */
	a_entry(&b, 'f', 0644, "x", "", 0);
	b.data[8 + 15] = '\0';
	a_end(&b, 1, 0);
	refused(d, &b, "unsafe path");

	a_begin(&b); /* a link out, then a write through it */
	a_entry(&b, 'l', 0777, "x", "../evil", 7);
	a_entry(&b, 'f', 0644, "x/file", "x", 1);
	a_end(&b, 2, 1);
	refused(d, &b, "symlink");

	a_begin(&b); /* absolute link */
	a_entry(&b, 'l', 0777, "x", "/etc", 4);
	a_end(&b, 1, 0);
	refused(d, &b, "symlink");

	a_begin(&b); /* ".." after a plain component (chains through other links) */
	a_entry(&b, 'd', 0755, "d", "", 0);
	a_entry(&b, 'l', 0777, "d/y", "..", 2);
	a_entry(&b, 'l', 0777, "x", "d/y/..", 6);
	a_end(&b, 3, 0);
	refused(d, &b, "symlink");

	a_begin(&b); /* a link inside, then a path through it: refused whole */
	a_entry(&b, 'd', 0755, "real", "", 0);
	a_entry(&b, 'l', 0777, "x", "real", 4);
	a_entry(&b, 'f', 0644, "x/f", "x", 1);
	a_end(&b, 3, 1);
	refused(d, &b, "through its own symlink");
	assert_false(exists(d->dir, "out/dst/real"));

	/* a symlink already in the destination is never followed */
	a_begin(&b);
	a_entry(&b, 'f', 0644, "x/f", "x", 1);
	a_end(&b, 1, 1);
	{
		char *dst = cdx_xasprintf("%s/out/dst3", d->dir), *l = cdx_xasprintf("%s/x", dst);
		char *real = cdx_xasprintf("%s/out/elsewhere", d->dir);
		struct cdx_error err = {0};
		mkdir(dst, 0755);
		mkdir(real, 0755);
		assert_int_equal(symlink(real, l), 0);
		assert_int_equal(cdx_unpack(b.data, b.len, dst, NULL, NULL, &err), -1);
		assert_non_null(strstr(err.msg, "not a directory"));
		assert_false(exists(d->dir, "out/elsewhere/f"));
		free(dst);
		free(l);
		free(real);
	}

	a_begin(&b); /* truncated: the trailer cut */
	a_entry(&b, 'f', 0644, "x", "abc", 3);
	a_end(&b, 1, 3);
	b.len -= 5;
	refused(d, &b, NULL);

	a_begin(&b); /* data length past the end */
	a_entry(&b, 'f', 0644, "x", "abc", 3);
	b.data[8 + 7 + 7] = 0x7f;
	a_end(&b, 1, 3);
	refused(d, &b, "truncated");

	a_begin(&b); /* damaged: checksum */
	a_entry(&b, 'f', 0644, "x", "abc", 3);
	a_end(&b, 1, 3);
	b.data[b.len - 30] ^= 1;
	refused(d, &b, "checksum");

	a_begin(&b); /* trailer count lies */
	a_entry(&b, 'f', 0644, "x", "abc", 3);
	a_end(&b, 2, 3);
	refused(d, &b, "counts");

	a_begin(&b); /* bad type, bad mode */
	a_entry(&b, 'c', 0644, "x", "", 0);
	a_end(&b, 1, 0);
	refused(d, &b, "type");
	a_begin(&b);
	a_entry(&b, 'f', 04755, "x", "", 0);
	a_end(&b, 1, 0);
	refused(d, &b, "mode");

	a_begin(&b); /* oversized against the limits */
	a_entry(&b, 'f', 0644, "x", "abcdef", 6);
	a_end(&b, 1, 6);
	{
		struct cdx_pack_limits lim = {0, 4};
		struct cdx_error err = {0};
		char *dst = cdx_xasprintf("%s/out/dst", d->dir);
		assert_int_equal(cdx_unpack(b.data, b.len, dst, &lim, NULL, &err), -1);
		assert_non_null(strstr(err.msg, "more than 4 bytes"));
		assert_false(exists(d->dir, "out/dst/x"));
		free(dst);
	}

	a_begin(&b); /* an existing symlink in the destination is replaced, not written through */
	a_entry(&b, 'f', 0644, "x", "safe", 4);
	a_end(&b, 1, 4);
	{
		char *dst = cdx_xasprintf("%s/out/dst2", d->dir), *l = cdx_xasprintf("%s/x", dst);
		char *victim = cdx_xasprintf("%s/victim", d->dir);
		struct cdx_error err = {0};
		free(fx_write(d->dir, "victim", "orig"));
		mkdir(dst, 0755);
		assert_int_equal(symlink(victim, l), 0);
		assert_int_equal(cdx_unpack(b.data, b.len, dst, NULL, NULL, &err), 0);
		char *v = slurp(d->dir, "victim");
		assert_string_equal(v, "orig");
		free(v);
		v = slurp(dst, "x");
		assert_string_equal(v, "safe");
		free(v);
		free(dst);
		free(l);
		free(victim);
	}
	/* not an archive at all */
	cdx_buf_reset(&b);
	cdx_buf_adds(&b, "hello");
	refused(d, &b, "not an artifact archive");
	cdx_buf_free(&b);
	free(outdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_glob),
	    cmocka_unit_test_setup_teardown(test_roundtrip, fx_dir_setup, fx_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_hostile, fx_dir_setup, fx_dir_teardown),
	};
	return cmocka_run_group_tests_name("pack", tests, NULL, NULL);
}
