/* test_report.c — report.c, report_text.c and report_html.c on records written into a
 * real file store: lanes derived from start and end times, the observed
 * critical path when the pipeline file is gone, what each type keeps in
 * JSON, escaping of hostile text in HTML, 80 columns in text, masking,
 * run selection and argument errors. */
#include "fixtures.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "state/runs.h"
#include "state/store.h"

struct fx {
	char *dir;
	char url[600];
	struct cdx_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cdx_error err = {0};
	f->dir = fx_tmpdir();
	assert_non_null(f->dir);
	snprintf(f->url, sizeof(f->url), "file:%s/st", f->dir);
	assert_int_equal(cdx_store_open(f->url, &f->s, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	cdx_store_close(f->s);
	fx_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void put(struct cdx_store *s, cJSON *o)
{
	struct cdx_error err = {0};
	assert_int_equal(s->ops->append(s, o, &err), 0);
	assert_int_equal(s->ops->flush(s, &err), 0);
	cJSON_Delete(o);
}

/* one attempt of JOB in RUN from START to START+WALL (ms after T0) */
static void attempt(struct fx *f, const char *run, const char *job, int n, const char *status, double start,
		    double wall, const char *log_text)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "t", "attempt");
	cJSON_AddStringToObject(a, "run", run);
	cJSON_AddStringToObject(a, "pipeline", "rp");
	cJSON_AddStringToObject(a, "job", job);
	cJSON_AddNumberToObject(a, "attempt", n);
	cJSON_AddStringToObject(a, "status", status);
	cJSON_AddNumberToObject(a, "exit_code", strcmp(status, "success") == 0 ? 0 : 3);
	cJSON_AddNumberToObject(a, "start_ms", 1e12 + start);
	cJSON_AddNumberToObject(a, "wall_ms", wall);
	cJSON_AddNumberToObject(a, "user_ms", wall / 2);
	cJSON_AddNumberToObject(a, "sys_ms", 1);
	cJSON_AddNumberToObject(a, "maxrss_kb", 2048);
	if (log_text) {
		char name[64];
		char *p;
		snprintf(name, sizeof(name), "log-%d-%d.log", (int)start, n);
		p = fx_write(f->dir, name, log_text);
		cJSON_AddStringToObject(a, "log", p);
		free(p);
	}
	put(f->s, a);
}

static void job(struct fx *f, const char *run, const char *id, const char *status, int attempts)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "t", "job");
	cJSON_AddStringToObject(j, "run", run);
	cJSON_AddStringToObject(j, "pipeline", "rp");
	cJSON_AddStringToObject(j, "job", id);
	cJSON_AddStringToObject(j, "status", status);
	cJSON_AddNumberToObject(j, "attempts", attempts);
	put(f->s, j);
}

static void run_start(struct fx *f, const char *id, const char *version, const char *hostile_var)
{
	cJSON *r = cJSON_CreateObject(), *v;
	cJSON_AddStringToObject(r, "t", "run");
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "pipeline", "rp");
	cJSON_AddStringToObject(r, "file", "/nonexistent/rp.yml");
	cJSON_AddNumberToObject(r, "start_ms", 1e12);
	cJSON_AddStringToObject(r, "host", "elsewhere");
	cJSON_AddStringToObject(r, "user", "u<u>");
	cJSON_AddNumberToObject(r, "workers", 2);
	if (version)
		cJSON_AddStringToObject(r, "version", version);
	v = cJSON_AddObjectToObject(r, "vars");
	cJSON_AddStringToObject(v, "HOSTILE", hostile_var);
	put(f->s, r);
}

static void run_end(struct fx *f, const char *id, const char *status, double dur)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "t", "run_end");
	cJSON_AddStringToObject(e, "id", id);
	cJSON_AddStringToObject(e, "status", status);
	cJSON_AddNumberToObject(e, "end_ms", 1e12 + dur);
	cJSON_AddNumberToObject(e, "duration_ms", dur);
	put(f->s, e);
}

/* a run: a/one 0-1000, a/two 0-500 (worker 2), b/three 1000-1500 after
 * a/one, b/four failed twice from 500 */
static void sample(struct fx *f, const char *id, const char *version, const char *hostile)
{
	run_start(f, id, version, hostile);
	attempt(f, id, "a/one", 1, "success", 0, 1000, "one\n");
	attempt(f, id, "a/two", 1, "success", 0, 500, NULL);
	attempt(f, id, "b/four", 1, "failed", 500, 200, hostile);
	attempt(f, id, "b/four", 2, "failed", 700, 200, hostile);
	attempt(f, id, "b/three", 1, "success", 1000, 500, NULL);
	job(f, id, "a/one", "success", 1);
	job(f, id, "a/two", "success", 1);
	job(f, id, "b/four", "failed", 2);
	job(f, id, "b/three", "success", 1);
	job(f, id, "b/five", "skipped", 0);
	run_end(f, id, "failed", 1500);
}

static char *gen(struct fx *f, const char *run, const char *type, const char *format)
{
	struct cdx_error err = {0};
	char *r = cdx_report_generate(f->url, "rp", run, type, format, &err);
	if (!r)
		fail_msg("report: %s", err.msg);
	return r;
}

static const cJSON *entry(const cJSON *tl, const char *job_id)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, tl)
		if (strcmp(cdx_js(e, "job"), job_id) == 0)
			return e;
	fail_msg("no %s in the timeline", job_id);
	return NULL;
}

static void test_performance_model(void **state)
{
	struct fx *f = *state;
	char *j;
	cJSON *m, *perf, *tl, *cp;
	sample(f, "r1", NULL, "plain");
	j = gen(f, NULL, "performance", "json");
	m = cJSON_Parse(j);
	perf = cJSON_GetObjectItem(m, "performance");
	tl = cJSON_GetObjectItem(perf, "timeline");
	cp = cJSON_GetObjectItem(perf, "critical_path");
	assert_non_null(m);
	assert_null(cJSON_GetObjectItem(m, "jobs"));
	assert_null(cJSON_GetObjectItem(m, "variables"));
	assert_int_equal((int)cdx_jn(perf, "lanes"), 2);
	assert_int_equal((int)cdx_jn(entry(tl, "a/one"), "lane"), 0);
	assert_int_equal((int)cdx_jn(entry(tl, "a/two"), "lane"), 1);
	assert_int_equal((int)cdx_jn(entry(tl, "b/four"), "lane"), 1); /* free again at 500 */
	assert_int_equal((int)cdx_jn(entry(tl, "b/three"), "lane"), 0);
	assert_int_equal((int)cdx_jn(entry(tl, "b/five"), "lane"), -1);
	assert_true(cdx_jn(entry(tl, "b/four"), "wall_ms") == 400);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(entry(tl, "a/one"), "queue_ms"))); /* no graph */
	/* observed: a/one then b/three, back to back */
	assert_string_equal(cdx_js(cp, "source"), "observed");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cp, "jobs")), 2);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(cp, "jobs"), 0)->valuestring, "a/one");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(cp, "jobs"), 1)->valuestring, "b/three");
	assert_true(cdx_jn(cp, "length_ms") == 1500);
	/* work 2400 over 1500 wall on 2 workers */
	assert_true(fabs(cdx_jn(perf, "parallel_efficiency") - 2400.0 / 3000) < 0.001);
	assert_string_equal(cdx_js(cJSON_GetArrayItem(cJSON_GetObjectItem(perf, "slowest_jobs"), 0), "job"), "a/one");
	cJSON_Delete(m);
	free(j);
}

static void test_types_and_errors(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	char *j;
	cJSON *m, *st;
	sample(f, "r1", "1.0", "v");
	j = gen(f, NULL, "summary", "json");
	m = cJSON_Parse(j);
	assert_null(cJSON_GetObjectItem(m, "performance"));
	assert_null(cJSON_GetObjectItem(m, "jobs"));
	st = cJSON_GetObjectItem(m, "stages");
	assert_int_equal(cJSON_GetArraySize(st), 2);
	assert_string_equal(cdx_js(cJSON_GetArrayItem(st, 1), "status"), "failed");
	assert_int_equal((int)cdx_jn(cJSON_GetArrayItem(st, 1), "skipped"), 1);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "errors"), 0)->valuestring,
			    "b/four failed: exit code 3 (attempt 2 of 2)");
	cJSON_Delete(m);
	free(j);
	j = gen(f, "r1", "detailed", "json");
	m = cJSON_Parse(j);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "jobs")), 5);
	assert_non_null(cJSON_GetObjectItem(m, "variables"));
	cJSON_Delete(m);
	free(j);
	assert_null(cdx_report_generate(f->url, "rp", NULL, "fancy", "json", &err));
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_null(cdx_report_generate(f->url, "rp", NULL, "summary", "pdf", &err));
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_null(cdx_report_generate(f->url, "rp", "nosuch", NULL, NULL, &err));
	assert_int_equal(err.code, CDX_EUSAGE);
	assert_null(cdx_report_generate(f->url, "other", NULL, NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "no runs of other"));
	assert_null(cdx_report_generate(f->url, "../x", NULL, NULL, NULL, &err));
	/* a run of another pipeline, asked for by id */
	{
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "t", "run");
		cJSON_AddStringToObject(r, "id", "o1");
		cJSON_AddStringToObject(r, "pipeline", "other");
		put(f->s, r);
		assert_null(cdx_report_generate(f->url, "rp", "o1", NULL, NULL, &err));
		assert_non_null(strstr(err.msg, "run o1 is a run of other, not of rp"));
	}
}

static const char *const hostile = "<script>alert(1)</script> \"onmouseover=alert(2) x=' </style><b>&amp;\x01\n";

static void test_html_escapes_everything(void **state)
{
	struct fx *f = *state;
	const char *types[] = {"summary", "detailed", "performance"};
	size_t i;
	sample(f, "r1", "<img src=x onerror=alert(3)>", hostile);
	for (i = 0; i < 3; i++) {
		char *h = gen(f, NULL, types[i], "html");
		assert_null(strstr(h, "<script"));
		assert_null(strstr(h, "<img"));
		assert_null(strstr(h, "<b>&amp;"));
		assert_null(strstr(h, "\"onmouseover="));
		assert_null(strstr(h, "\x01"));
		assert_non_null(strstr(h, "&lt;img src=x onerror=alert(3)&gt;"));
		assert_non_null(strstr(h, "u&lt;u&gt;"));
		/* one style element, ours */
		assert_non_null(strstr(h, "</style>"));
		assert_null(strstr(strstr(h, "</style>") + 1, "</style>"));
		if (i == 1) {
			assert_non_null(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt; &quot;onmouseover=alert(2) x=&#39; "
						  "&lt;/style&gt;&lt;b&gt;&amp;amp;"));
		}
		if (i == 2)
			assert_non_null(strstr(h, "data-job=\"a/one\""));
		free(h);
	}
}

static void test_text_fits_80_columns(void **state)
{
	struct fx *f = *state;
	const char *types[] = {"summary", "detailed", "performance"};
	char longlog[4096], longjob[80];
	size_t i;
	memset(longlog, 'x', 300);
	memcpy(longlog + 300, "\t\x1b[31mred\n\xc3\xa9\xc3\xa9\n", 16);
	longlog[316] = '\0';
	memset(longjob, 0, sizeof(longjob));
	memcpy(longjob, "stage/", 6);
	memset(longjob + 6, 'j', 64);
	run_start(f, "r1", NULL, longlog);
	attempt(f, "r1", longjob, 1, "failed", 0, 100, longlog);
	job(f, "r1", longjob, "failed", 1);
	run_end(f, "r1", "failed", 100);
	for (i = 0; i < 3; i++) {
		char *t = gen(f, NULL, types[i], "text"), *line = t, *nl;
		for (; *line; line = nl + 1) {
			size_t cols = 0;
			const char *c;
			nl = strchr(line, '\n');
			assert_non_null(nl); /* every line ends */
			for (c = line; c < nl; c++)
				if (((unsigned char)*c & 0xc0) != 0x80)
					cols++;
			if (cols > 80)
				fail_msg("%s: %zu columns: %.*s", types[i], cols, (int)(nl - line), line);
			for (c = line; c < nl; c++)
				assert_true((unsigned char)*c >= 0x20 && *c != 0x7f); /* no escape sequences */
		}
		free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_performance_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_types_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html_escapes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_fits_80_columns, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
