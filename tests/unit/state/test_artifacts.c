/* test_artifacts.c — artifacts kept with a run (lib/state/artifacts.c) on
 * the file store and, when $CDX_TEST_REDIS names a server, on Redis:
 * stored and fetched back, replaced by a later attempt, listed, the cap
 * (nothing of a refused store visible), expiry (pruned or refused), an
 * archive spanning several Redis chunks, a stored hostile archive that
 * cannot write outside the destination. */
#include "fixtures.h"

#include <sys/stat.h>

#include "base/pack.h"
#include "state/artifacts.h"

#ifdef CDX_WITH_REDIS
#include "redis/store_redis.h"
#endif

struct fx {
	struct cdx_store *s;
	char *dir, *ws, *out;
};

static const char *g_backend;
static unsigned g_case;

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cdx_error err = {0};
	char *url;
	f->dir = fx_tmpdir();
	if (strcmp(g_backend, "file") == 0)
		url = cdx_xasprintf("file:%s/state", f->dir);
	else
		url =
		    cdx_xasprintf("%s?prefix=ta%d.%u:&local=%s", g_backend, (int)getpid(), ++g_case, f->dir);
	if (cdx_store_open(url, &f->s, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		free(url);
		return -1;
	}
	free(url);
	f->ws = cdx_xasprintf("%s/ws", f->dir);
	f->out = cdx_xasprintf("%s/out", f->dir);
	mkdir(f->ws, 0755);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	cdx_store_close(f->s);
	fx_rmrf(f->dir);
	free(f->dir);
	free(f->ws);
	free(f->out);
	free(f);
	return 0;
}

static char *slurp(const char *dir, const char *rel)
{
	char *p = cdx_xasprintf("%s/%s", dir, rel), *out = NULL;
	size_t len;
	struct cdx_error err = {0};
	if (cdx_read_file(p, 64 << 20, &out, &len, &err) < 0)
		out = NULL;
	free(p);
	return out;
}

static int count(void *ctx, const struct cdx_artifact_info *i)
{
	(void)i;
	(*(int *)ctx)++;
	return 0;
}

static void test_put_get(void **state)
{
	struct fx *f = *state;
	char *g[] = {"dist/**", "*.log"};
	struct cdx_artifact_info info;
	struct cdx_error err = {0};
	char *s;
	int n = 0;
	char *dist = cdx_xasprintf("%s/dist", f->ws);
	mkdir(dist, 0755);
	free(dist);
	free(fx_write(f->ws, "dist/app", "v1"));
	free(fx_write(f->ws, "build.log", "log"));
	free(fx_write(f->ws, "other", "no"));
	assert_int_equal(cdx_artifacts_put(f->s, "R1", "build/compile", 1, f->ws, g, 2, 0, 0, &info, &err),
			 0);
	assert_int_equal(info.files, 2);
	assert_int_equal(cdx_artifacts_get(f->s, "R1", "build/compile", f->out, &err), 0);
	s = slurp(f->out, "dist/app");
	assert_string_equal(s, "v1");
	free(s);
	s = slurp(f->out, "other");
	assert_null(s);
	/* a later attempt replaces it */
	free(fx_write(f->ws, "dist/app", "v2"));
	assert_int_equal(cdx_artifacts_put(f->s, "R1", "build/compile", 2, f->ws, g, 2, 0, 0, &info, &err),
			 0);
	void *data;
	size_t len;
	assert_int_equal(cdx_artifacts_fetch(f->s, "R1", "build/compile", 0, &data, &len, &info, &err), 0);
	assert_int_equal(info.attempt, 2);
	free(data);
	assert_int_equal(cdx_artifacts_get(f->s, "R1", "build/compile", f->out, &err), 0);
	s = slurp(f->out, "dist/app");
	assert_string_equal(s, "v2");
	free(s);
	/* another job, listed */
	assert_int_equal(cdx_artifacts_put(f->s, "R1", "test/unit 1/2", 1, f->ws, g, 1, 0, 0, NULL, &err), 0);
	assert_int_equal(cdx_artifacts_list(f->s, "R1", count, &n, &err), 0);
	assert_int_equal(n, 2);
	/* none */
	assert_int_equal(cdx_artifacts_get(f->s, "R1", "nope/x", f->out, &err), -1);
	assert_int_equal(err.code, CDX_EFAILED);
	assert_int_equal(cdx_artifacts_get(f->s, "../x", "nope/x", f->out, &err), -1);
	assert_int_equal(err.code, CDX_EUSAGE);
}

static void test_cap(void **state)
{
	struct fx *f = *state;
	char *g[] = {"big"};
	char *big = malloc(3 << 20);
	struct cdx_error err = {0};
	FILE *fp;
	char *p = cdx_xasprintf("%s/big", f->ws);
	int n = 0;
	for (size_t i = 0; i < (3u << 20); i++)
		big[i] = (char)(i * 2654435761u >> 24); /* not compressible, not that it matters */
	fp = fopen(p, "w");
	fwrite(big, 1, 3 << 20, fp);
	fclose(fp);
	/* 2 MiB cap: refused, nothing visible */
	assert_int_equal(cdx_artifacts_put(f->s, "R2", "a/b", 1, f->ws, g, 1, 0, 2 << 20, NULL, &err), -1);
	assert_int_equal(err.code, CDX_EFAILED);
	assert_non_null(strstr(err.msg, "cap"));
	assert_int_equal(cdx_artifacts_list(f->s, "R2", count, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cdx_artifacts_get(f->s, "R2", "a/b", f->out, &err), -1);
	/* the default cap: several chunks, read back whole */
	assert_int_equal(cdx_artifacts_put(f->s, "R2", "a/b", 1, f->ws, g, 1, 0, 0, NULL, &err), 0);
	assert_int_equal(cdx_artifacts_get(f->s, "R2", "a/b", f->out, &err), 0);
	char *s = slurp(f->out, "big");
	assert_non_null(s);
	assert_memory_equal(s, big, 3 << 20);
	free(s);
	free(big);
	free(p);
}

static void test_expiry(void **state)
{
	struct fx *f = *state;
	char *g[] = {"x"};
	struct cdx_error err = {0};
	size_t pruned = 0;
	int n = 0;
	free(fx_write(f->ws, "x", "x"));
	/* the long one first: storing prunes what expired */
	assert_int_equal(cdx_artifacts_put(f->s, "R3", "a/long", 1, f->ws, g, 1, 3600000, 0, NULL, &err), 0);
	/* 1 s: long enough that storing it (which prunes) never sees it expired */
	struct cdx_artifact_info info;
	assert_int_equal(cdx_artifacts_put(f->s, "R3", "a/short", 1, f->ws, g, 1, 1000, 0, &info, &err), 0);
	/* wait for the clock to pass its expiry */
	while (cdx_wall_ms() <= info.expire_at_ms)
		usleep(20000);
	assert_int_equal(cdx_artifacts_get(f->s, "R3", "a/short", f->out, &err), -1);
	assert_non_null(strstr(err.msg, "expired"));
	assert_int_equal(cdx_artifacts_prune(f->s, cdx_wall_ms(), &pruned, &err), 0);
	if (cdx_store_local_dir(f->s)) {
		assert_int_equal(pruned, 1);
		char *p = cdx_xasprintf("%s/artifacts/R3/a%%2Fshort.pack", cdx_store_local_dir(f->s));
		struct stat sb;
		assert_int_equal(stat(p, &sb), -1);
		free(p);
	}
	assert_int_equal(cdx_artifacts_list(f->s, "R3", count, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cdx_artifacts_get(f->s, "R3", "a/long", f->out, &err), 0);
}

/* a hostile archive that reached the store cannot write outside */
static void test_hostile_stored(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	void *data;
	size_t len;
	char *g[] = {"x"};
	struct stat sb;
	free(fx_write(f->ws, "x", "x"));
	assert_int_equal(cdx_artifacts_put(f->s, "R4", "a/b", 1, f->ws, g, 1, 0, 0, NULL, &err), 0);
	assert_int_equal(cdx_artifacts_fetch(f->s, "R4", "a/b", 0, &data, &len, NULL, &err), 0);
	/* rewrite the path "x" as ".." keeping the archive otherwise sound is
	 * impossible (length), so forge one: "../e" with a fixed-up crc */
	{
		struct cdx_buf b = {0};
		const char *path = "../escaped";
		unsigned char h[15] = {'f', 0, 0, 1, 0xa4, 0, (unsigned char)strlen(path), 0, 0,
				       0,   0, 0, 0, 0,    1};
		unsigned char tr[21] = {'E', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
		uint32_t crc;
		cdx_buf_add(&b, "CDXPACK1", 8);
		cdx_buf_add(&b, h, 15);
		cdx_buf_adds(&b, path);
		cdx_buf_addc(&b, 'e');
		cdx_buf_add(&b, tr, 17);
		crc = cdx_crc32(0, b.data, b.len);
		for (int i = 3; i >= 0; i--)
			cdx_buf_addc(&b, (char)((crc >> (8 * i)) & 0xff));
		/* put_archive checks first: refused */
		assert_int_equal(
		    cdx_artifacts_put_archive(f->s, "R4", "a/b", 2, b.data, b.len, 0, 0, NULL, &err), -1);
		/* plant it behind the API's back, as a damaged or hostile store would */
		if (cdx_store_local_dir(f->s)) {
			char *p = cdx_xasprintf("%s/artifacts/R4/a%%2Fb.pack", cdx_store_local_dir(f->s));
			FILE *fp = fopen(p, "w");
			fwrite(b.data, 1, b.len, fp);
			fclose(fp);
			free(p);
			assert_int_equal(cdx_artifacts_get(f->s, "R4", "a/b", f->out, &err), -1);
			char *esc = cdx_xasprintf("%s/escaped", f->dir);
			assert_int_equal(stat(esc, &sb), -1);
			free(esc);
		}
		cdx_buf_free(&b);
	}
	free(data);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_put_get),
	    T(test_cap),
	    T(test_expiry),
	    T(test_hostile_stored),
	};
	const char *redis = getenv("CDX_TEST_REDIS");
	int failed;
	g_backend = "file";
	failed = cmocka_run_group_tests_name("artifacts (file)", tests, NULL, NULL);
#ifdef CDX_WITH_REDIS
	if (redis && *redis) {
		g_backend = redis;
		failed += cmocka_run_group_tests_name("artifacts (redis)", tests, NULL, NULL);
	} else {
		printf("artifacts (redis): skipped, CDX_TEST_REDIS is not set\n");
	}
#else
	(void)redis;
	printf("artifacts (redis): skipped, built without redis\n");
#endif
	return failed;
}
