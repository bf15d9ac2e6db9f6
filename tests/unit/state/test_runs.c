/* test_runs.c — runs.c, the one fold of store records into runs, and the
 * store-level helpers readers use (cdx_store_open_existing,
 * cdx_store_local_dir), on the file store: records that come before their
 * run record, summaries and full runs, owners that died. */
#include "fixtures.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "state/runs.h"

/* append the record TEXT (JSON) to S */
static void put(struct cdx_store *s, const char *text)
{
	struct cdx_error err = {0};
	cJSON *rec = cJSON_Parse(text);
	assert_non_null(rec);
	assert_int_equal(s->ops->append(s, rec, &err), 0);
	cJSON_Delete(rec);
}

struct fx {
	char *dir;
	char *url; /* file:DIR/state */
	struct cdx_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cdx_error err = {0};
	f->dir = fx_tmpdir();
	f->url = cdx_xasprintf("file:%s/state", f->dir);
	if (cdx_store_open(f->url, &f->s, &err) < 0)
		fail_msg("cannot open %s: %s", f->url, err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	cdx_store_close(f->s);
	fx_rmrf(f->dir);
	free(f->dir);
	free(f->url);
	free(f);
	return 0;
}

/* run r1 of pipeline ci, recorded out of order as a make run may be: an
 * attempt and a job before the run record, attempts out of number order;
 * then run r2 (another pipeline) and r3 (ci, not ended, a foreign host) */
static void put_runs(struct cdx_store *s)
{
	struct cdx_error err = {0};
	put(s, "{\"t\":\"attempt\",\"run\":\"r1\",\"pipeline\":\"ci\",\"job\":\"b/late\",\"attempt\":1,"
	       "\"status\":\"success\",\"start_ms\":1050,\"wall_ms\":5}");
	put(s, "{\"t\":\"job\",\"run\":\"r1\",\"pipeline\":\"ci\",\"job\":\"b/late\",\"status\":\"success\","
	       "\"duration_ms\":5}");
	put(s, "{\"t\":\"run\",\"id\":\"r1\",\"pipeline\":\"ci\",\"start_ms\":1000,\"host\":\"h\"}");
	put(s, "{\"t\":\"attempt\",\"run\":\"r1\",\"pipeline\":\"ci\",\"job\":\"a/early\",\"attempt\":2,"
	       "\"status\":\"success\",\"start_ms\":1030,\"wall_ms\":4}");
	put(s, "{\"t\":\"attempt\",\"run\":\"r1\",\"pipeline\":\"ci\",\"job\":\"a/early\",\"attempt\":1,"
	       "\"status\":\"failed\",\"start_ms\":1010,\"wall_ms\":3}");
	put(s, "{\"t\":\"job\",\"run\":\"r1\",\"pipeline\":\"ci\",\"job\":\"a/early\",\"status\":\"success\","
	       "\"duration_ms\":24}");
	put(s, "{\"t\":\"run\",\"id\":\"r2\",\"pipeline\":\"other\",\"start_ms\":1100}");
	put(s, "{\"t\":\"run_end\",\"id\":\"r1\",\"status\":\"success\",\"end_ms\":1100,\"duration_ms\":100,"
	       "\"critical_path_ms\":60,\"driver\":\"make\"}");
	put(s, "{\"t\":\"run\",\"id\":\"r3\",\"pipeline\":\"ci\",\"start_ms\":1200,\"host\":\"elsewhere."
	       "invalid\","
	       "\"pid\":1}");
	assert_int_equal(s->ops->flush(s, &err), 0);
}

static void test_full_run(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	cJSON *r, *jobs, *a;
	put_runs(f->s);
	r = cdx_runs_get(f->s, "r1", &err);
	assert_non_null(r);
	assert_string_equal(cdx_js(r, "pipeline"), "ci");
	assert_string_equal(cdx_js(r, "status"), "success");
	assert_string_equal(cdx_js(r, "driver"), "make");
	assert_int_equal((int)cdx_jn(r, "critical_path_ms"), 60);
	jobs = cJSON_GetObjectItem(r, "jobs");
	assert_int_equal(cJSON_GetArraySize(jobs), 2);
	/* by first start: a/early (1010) before b/late (1050) */
	assert_string_equal(cdx_js(cJSON_GetArrayItem(jobs, 0), "id"), "a/early");
	a = cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 0), "attempts");
	assert_int_equal((int)cdx_jn(cJSON_GetArrayItem(a, 0), "attempt"), 1);
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "run"));
	assert_int_equal((int)cdx_jn(cJSON_GetArrayItem(jobs, 0), "duration_ms"), 24);
	cJSON_Delete(r);
	assert_null(cdx_runs_get(f->s, "nope", &err));
	assert_int_equal(err.code, CDX_EUSAGE);
}

static void test_recent(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	cJSON *runs;
	put_runs(f->s);
	runs = cdx_runs_recent(f->s, "ci", 5, &err);
	assert_non_null(runs);
	assert_int_equal(cJSON_GetArraySize(runs), 2); /* oldest first */
	assert_string_equal(cdx_js(cJSON_GetArrayItem(runs, 0), "id"), "r1");
	/* not ended, owned on another host: cannot be checked, so running */
	assert_string_equal(cdx_js(cJSON_GetArrayItem(runs, 1), "status"), "running");
	assert_true(cdx_runs_ok(cJSON_GetArrayItem(runs, 0)));
	assert_true(cdx_runs_finished(cJSON_GetArrayItem(runs, 0)));
	assert_false(cdx_runs_finished(cJSON_GetArrayItem(runs, 1)));
	cJSON_Delete(runs);
}

static void test_list_and_load(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	cJSON *runs, *r, *jobs;
	put_runs(f->s);
	runs = cdx_runs_list(f->url, NULL, 0, &err);
	assert_non_null(runs);
	/* newest run record first */
	assert_int_equal(cJSON_GetArraySize(runs), 3);
	assert_string_equal(cdx_js(cJSON_GetArrayItem(runs, 0), "id"), "r3");
	r = cJSON_GetArrayItem(runs, 2);
	assert_string_equal(cdx_js(r, "id"), "r1");
	assert_int_equal((int)cdx_jn(r, "jobs_success"), 2);
	assert_int_equal((int)cdx_jn(r, "end_ms"), 1100);
	assert_null(cJSON_GetObjectItem(r, "t"));
	assert_null(cJSON_GetObjectItem(r, "jobs"));
	cJSON_Delete(runs);
	runs = cdx_runs_list(f->url, "ci", 1, &err);
	assert_int_equal(cJSON_GetArraySize(runs), 1);
	assert_string_equal(cdx_js(cJSON_GetArrayItem(runs, 0), "id"), "r3");
	cJSON_Delete(runs);
	r = cdx_run_load(f->url, "r1", &err);
	assert_non_null(r);
	jobs = cJSON_GetObjectItem(r, "jobs");
	/* in the order first recorded */
	assert_string_equal(cdx_js(cJSON_GetArrayItem(jobs, 0), "id"), "b/late");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 1), "attempts")), 2);
	cJSON_Delete(r);
	assert_null(cdx_run_load(f->url, "r9", &err));
	assert_int_equal(err.code, CDX_EUSAGE);
}

static void test_interrupted(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	char host[256], rec[512];
	pid_t pid = fork();
	cJSON *r;
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0); /* a pid of this host that no longer runs */
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(rec, sizeof(rec),
		 "{\"t\":\"run\",\"id\":\"d1\",\"pipeline\":\"ci\",\"host\":\"%s\",\"pid\":%d}", host,
		 (int)pid);
	put(f->s, rec);
	assert_int_equal(f->s->ops->flush(f->s, &err), 0);
	r = cdx_runs_get(f->s, "d1", &err);
	assert_string_equal(cdx_js(r, "status"), "interrupted");
	cJSON_Delete(r);
	r = cdx_run_load(f->url, "d1", &err);
	assert_string_equal(cdx_js(r, "status"), "interrupted");
	cJSON_Delete(r);
}

static void test_open_existing(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	struct cdx_store *s = NULL;
	char *missing = cdx_xasprintf("file:%s/none", f->dir);
	struct stat st;
	cJSON *runs;
	assert_int_equal(cdx_store_open_existing(missing, &s, &err), 1);
	assert_null(s);
	assert_int_equal(stat(missing + 5, &st), -1); /* nothing created */
	runs = cdx_runs_list(missing, NULL, 0, &err);
	assert_int_equal(cJSON_GetArraySize(runs), 0);
	cJSON_Delete(runs);
	assert_null(cdx_run_load(missing, "r1", &err));
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_int_equal(stat(missing + 5, &st), -1);
	assert_int_equal(cdx_store_open_existing(f->url, &s, &err), 0);
	assert_non_null(s);
	/* the file store lives here, so it has a local directory */
	assert_non_null(cdx_store_local_dir(s));
	assert_string_equal(cdx_store_local_dir(s), s->url + 5);
	cdx_store_close(s);
	free(missing);
}

static void test_json_getters(void **state)
{
	cJSON *o = cJSON_Parse("{\"s\":\"x\",\"n\":2.5,\"b\":true,\"z\":null}");
	(void)state;
	assert_string_equal(cdx_js(o, "s"), "x");
	assert_string_equal(cdx_js(o, "n"), "");
	assert_null(cdx_jsn(o, "missing"));
	assert_null(cdx_jsn(NULL, "s"));
	assert_true(cdx_jn(o, "n") == 2.5);
	assert_true(cdx_jn(o, "s") == 0);
	assert_true(cdx_jnd(o, "z", -1) == -1);
	assert_true(cdx_jb(o, "b", false));
	assert_false(cdx_jb(o, "s", false));
	cJSON_Delete(o);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_full_run),    T(test_recent),        T(test_list_and_load),
	    T(test_interrupted), T(test_open_existing), cmocka_unit_test(test_json_getters),
	};
	return cmocka_run_group_tests_name("runs", tests, NULL, NULL);
}
