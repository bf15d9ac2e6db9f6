/* test_store.c — one suite for every state store backend (lib/store.h):
 * the same cases run against the file store and, when $CDX_TEST_REDIS
 * names a server (make check starts a private one, see
 * tests/unit/with_redis.sh), against the Redis store.  Each case gets a
 * fresh store: a new directory, or a new key prefix.  A case whose
 * operation a backend does not have yet (a NULL op) is skipped, not
 * passed. */
#include "fixtures.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "base/json.h"
#include "state/store.h"

#ifdef CDX_WITH_REDIS
#include <hiredis/hiredis.h>
#endif

struct fx {
	struct cdx_store *s;
	char *url; /* URL of this case's store */
	char *dir; /* temporary directory (file store, redis local dir) */
};

static const char *g_backend; /* "file" or the redis URL base */
static unsigned g_case;

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cdx_error err = {0};
	f->dir = fx_tmpdir();
	if (strcmp(g_backend, "file") == 0)
		f->url = cdx_xasprintf("file:%s/state", f->dir);
	else
		f->url =
		    cdx_xasprintf("%s?prefix=t%d.%u:&local=%s", g_backend, (int)getpid(), ++g_case, f->dir);
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

static struct cdx_store *reopen(struct fx *f)
{
	struct cdx_store *s;
	struct cdx_error err = {0};
	if (cdx_store_open(f->url, &s, &err) < 0)
		fail_msg("cannot open %s: %s", f->url, err.msg);
	return s;
}

static cJSON *rec_attempt(const char *run, const char *pipeline, const char *job, int n)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "t", "attempt");
	cJSON_AddStringToObject(r, "run", run);
	cJSON_AddStringToObject(r, "pipeline", pipeline);
	cJSON_AddStringToObject(r, "job", job);
	cJSON_AddNumberToObject(r, "attempt", n);
	cJSON_AddStringToObject(r, "status", "success");
	cJSON_AddNumberToObject(r, "wall_ms", 12.5);
	return r;
}

static void put(struct cdx_store *s, cJSON *rec)
{
	struct cdx_error err = {0};
	assert_int_equal(s->ops->append(s, rec, &err), 0);
	cJSON_Delete(rec);
}

static void flush(struct cdx_store *s)
{
	struct cdx_error err = {0};
	if (s->ops->flush(s, &err) < 0)
		fail_msg("flush: %s", err.msg);
}

/* write the records of one whole run of PIPELINE with JOBS jobs */
static void put_run(struct cdx_store *s, const char *id, const char *pipeline, int64_t start, int jobs,
		    const char *status)
{
	cJSON *r = cJSON_CreateObject();
	int i;
	cJSON_AddStringToObject(r, "t", "run");
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "pipeline", pipeline);
	cJSON_AddNumberToObject(r, "start_ms", (double)start);
	put(s, r);
	for (i = 0; i < jobs; i++) {
		char job[32];
		snprintf(job, sizeof(job), "s/j%d", i);
		put(s, rec_attempt(id, pipeline, job, 1));
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "t", "job");
		cJSON_AddStringToObject(r, "run", id);
		cJSON_AddStringToObject(r, "pipeline", pipeline);
		cJSON_AddStringToObject(r, "job", job);
		cJSON_AddStringToObject(r, "status", "success");
		cJSON_AddNumberToObject(r, "duration_ms", 10 + i);
		put(s, r);
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "t", "run_end");
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "pipeline", pipeline);
	cJSON_AddStringToObject(r, "status", status);
	cJSON_AddNumberToObject(r, "end_ms", (double)start + 100);
	cJSON_AddNumberToObject(r, "duration_ms", 100);
	put(s, r);
}

struct seen {
	cJSON *all;     /* array of copies */
	size_t stop_at; /* stop after this many; 0 = never */
};

static int collect(void *ctx, const cJSON *rec)
{
	struct seen *sn = ctx;
	cJSON_AddItemToArray(sn->all, cJSON_Duplicate(rec, 1));
	return sn->stop_at && (size_t)cJSON_GetArraySize(sn->all) >= sn->stop_at;
}

static cJSON *scan_all(struct cdx_store *s)
{
	struct seen sn = {cJSON_CreateArray(), 0};
	struct cdx_error err = {0};
	if (s->ops->scan(s, collect, &sn, &err) < 0)
		fail_msg("scan: %s", err.msg);
	return sn.all;
}

static cJSON *holder_of(const char *who)
{
	char host[256];
	cJSON *h = cJSON_CreateObject();
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	cJSON_AddStringToObject(h, "user", who);
	cJSON_AddStringToObject(h, "host", host);
	cJSON_AddNumberToObject(h, "pid", getpid());
	cJSON_AddNumberToObject(h, "pid_start", (double)cdx_process_start_time(getpid()));
	cJSON_AddNumberToObject(h, "since_ms", (double)cdx_wall_ms());
	return h;
}

#define NEED(op)                                                                                             \
	do {                                                                                                 \
		if (!f->s->ops->op) {                                                                        \
			print_message("  (%s store has no " #op " yet: skipped)\n", g_backend);              \
			skip();                                                                              \
		}                                                                                            \
	} while (0)

/* ---- records ------------------------------------------------------------- */

static void test_append_scan_in_order(void **state)
{
	struct fx *f = *state;
	cJSON *all;
	int i;
	/* more than a Redis batch (512) and a stream page (256) */
	for (i = 0; i < 1300; i++)
		put(f->s, rec_attempt("r1", "p", "s/j", i));
	assert_true(f->s->ops->pending(f->s) > 0);
	flush(f->s);
	assert_int_equal(f->s->ops->pending(f->s), 0);
	all = scan_all(f->s);
	assert_int_equal(cJSON_GetArraySize(all), 1300);
	for (i = 0; i < 1300; i++) {
		cJSON *r = cJSON_GetArrayItem(all, i);
		assert_int_equal((int)cdx_jn(r, "attempt"), i);
		assert_string_equal(cdx_jsn(r, "t"), "attempt");
		assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "wall_ms")) == 12.5);
	}
	cJSON_Delete(all);
}

static void test_scan_stops_and_persists(void **state)
{
	struct fx *f = *state;
	struct seen sn = {cJSON_CreateArray(), 3};
	struct cdx_error err = {0};
	struct cdx_store *s2;
	cJSON *all;
	int i;
	for (i = 0; i < 10; i++)
		put(f->s, rec_attempt("r1", "p", "s/j", i));
	flush(f->s);
	assert_int_equal(f->s->ops->scan(f->s, collect, &sn, &err), 0);
	assert_int_equal(cJSON_GetArraySize(sn.all), 3);
	cJSON_Delete(sn.all);
	/* another handle sees what the first made durable */
	s2 = reopen(f);
	all = scan_all(s2);
	assert_int_equal(cJSON_GetArraySize(all), 10);
	cJSON_Delete(all);
	cdx_store_close(s2);
}

/* what is read back is what was written: numbers, escapes, nesting */
static void test_record_roundtrip(void **state)
{
	struct fx *f = *state;
	static const double nums[] = {
	    0,      -3, 0.1, 12.25, 1e300, -2.5e-7, 9007199254740993.0, 123456789012345678.0, 1795510205012.0,
	    1.0 / 3};
	char ctl[40];
	cJSON *r = cJSON_CreateObject(), *arr, *all;
	size_t i;
	for (i = 0; i < 31; i++)
		ctl[i] = (char)(i + 1);
	ctl[31] = '\0';
	cJSON_AddStringToObject(r, "t", "event");
	cJSON_AddStringToObject(r, "ctl", ctl);
	cJSON_AddStringToObject(r, "quote", "a\"b\\c/d \xc3\xa9\xe2\x82\xac");
	arr = cJSON_AddArrayToObject(r, "nums");
	for (i = 0; i < CDX_ARRAY_LEN(nums); i++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(nums[i]));
	cJSON_AddItemToObject(r, "nested", cJSON_Parse("{\"a\":[true,false,null,{\"b\":[]}],\"e\":{}}"));
	cJSON_AddStringToObject(r, "k\"ey\n", "");
	assert_int_equal(f->s->ops->append(f->s, r, NULL), 0);
	flush(f->s);
	all = scan_all(f->s);
	assert_int_equal(cJSON_GetArraySize(all), 1);
	assert_true(cJSON_Compare(r, cJSON_GetArrayItem(all, 0), true));
	cJSON_Delete(all);
	cJSON_Delete(r);
}

static void test_binary_safe_names(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {"with space", "star*", "co:lon", "crlf\r\nSET x y", "%3A"};
	size_t i;
	cJSON *all;
	for (i = 0; i < CDX_ARRAY_LEN(names); i++) {
		char id[32];
		snprintf(id, sizeof(id), "run%zu", i);
		put_run(f->s, id, names[i], 1000 + (int64_t)i, 1, "success");
	}
	flush(f->s);
	all = scan_all(f->s);
	assert_int_equal(cJSON_GetArraySize(all), (int)CDX_ARRAY_LEN(names) * 4);
	for (i = 0; i < CDX_ARRAY_LEN(names); i++)
		assert_string_equal(cdx_jsn(cJSON_GetArrayItem(all, (int)i * 4), "pipeline"), names[i]);
	cJSON_Delete(all);
	for (i = 0; i < CDX_ARRAY_LEN(names); i++) {
		struct seen sn = {cJSON_CreateArray(), 0};
		struct cdx_error err = {0};
		assert_int_equal(cdx_store_scan_runs(f->s, names[i], 5, collect, &sn, &err), 0);
		assert_int_equal(cJSON_GetArraySize(sn.all), 4);
		assert_string_equal(cdx_jsn(cJSON_GetArrayItem(sn.all, 0), "pipeline"), names[i]);
		cJSON_Delete(sn.all);
	}
}

static void test_scan_runs(void **state)
{
	struct fx *f = *state;
	struct seen sn = {cJSON_CreateArray(), 0};
	struct cdx_error err = {0};
	/* the backend's own query, else the generic one over scan() */
	put_run(f->s, "a1", "a", 1000, 2, "success");
	put_run(f->s, "b1", "b", 1001, 1, "success");
	put_run(f->s, "a2", "a", 1002, 1, "failed");
	put_run(f->s, "a3", "a", 1003, 3, "success");
	flush(f->s);
	assert_int_equal(cdx_store_scan_runs(f->s, "a", 2, collect, &sn, &err), 0);
	/* a2 (run, attempt, job, run_end) then a3 (run, 3 x 2, run_end) */
	assert_int_equal(cJSON_GetArraySize(sn.all), 4 + 8);
	assert_string_equal(cdx_jsn(cJSON_GetArrayItem(sn.all, 0), "id"), "a2");
	assert_string_equal(cdx_jsn(cJSON_GetArrayItem(sn.all, 3), "t"), "run_end");
	assert_string_equal(cdx_jsn(cJSON_GetArrayItem(sn.all, 4), "id"), "a3");
	cJSON_Delete(sn.all);
	sn.all = cJSON_CreateArray();
	assert_int_equal(cdx_store_scan_runs(f->s, "none", 5, collect, &sn, &err), 0);
	assert_int_equal(cJSON_GetArraySize(sn.all), 0);
	cJSON_Delete(sn.all);
}

static void test_tail(void **state)
{
	struct fx *f = *state;
	struct seen sn = {NULL, 0};
	struct cdx_error err = {0};
	char cur[64] = "", now[64] = "$";
	struct cdx_store *s2;
	int64_t t0;
	NEED(tail);
	sn.all = cJSON_CreateArray();
	put(f->s, rec_attempt("r", "p", "s/a", 1));
	put(f->s, rec_attempt("r", "p", "s/a", 2));
	flush(f->s);
	assert_int_equal(f->s->ops->tail(f->s, cur, 0, collect, &sn, &err), 0);
	assert_int_equal(cJSON_GetArraySize(sn.all), 2);
	/* "$": only what comes later; nothing yet, so the wait elapses */
	t0 = cdx_now_ns();
	assert_int_equal(f->s->ops->tail(f->s, now, 150, collect, &sn, &err), 0);
	assert_int_equal(cJSON_GetArraySize(sn.all), 2);
	assert_true(cdx_now_ns() - t0 >= 100 * 1000000LL);
	s2 = reopen(f);
	put(s2, rec_attempt("r", "p", "s/a", 3));
	flush(s2);
	cdx_store_close(s2);
	assert_int_equal(f->s->ops->tail(f->s, now, 1000, collect, &sn, &err), 0);
	assert_int_equal(cJSON_GetArraySize(sn.all), 3);
	assert_int_equal((int)cdx_jn(cJSON_GetArrayItem(sn.all, 2), "attempt"), 3);
	/* the first cursor moved on too */
	assert_int_equal(f->s->ops->tail(f->s, cur, 0, collect, &sn, &err), 0);
	assert_int_equal(cJSON_GetArraySize(sn.all), 4);
	cJSON_Delete(sn.all);
}

/* ---- locks --------------------------------------------------------------- */

static void test_lock_busy_and_tokens(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	struct cdx_store *s2;
	unsigned long long t1, t2, t3;
	cJSON *h1, *h2, *cur = NULL;
	NEED(lock);
	h1 = holder_of("one");
	h2 = holder_of("two");
	s2 = reopen(f);
	assert_int_equal(f->s->ops->lock(f->s, "deploy:web:prod", h1, 10000, 0, &t1, &cur, &err), 0);
	assert_null(cur);
	assert_true(t1 > 0);
	assert_int_equal(s2->ops->lock(s2, "deploy:web:prod", h2, 10000, 0, &t2, &cur, &err), 1);
	assert_non_null(cur);
	assert_string_equal(cdx_jsn(cur, "user"), "one");
	cJSON_Delete(cur);
	assert_int_equal(s2->ops->holder(s2, "deploy:web:prod", &cur, &err), 0);
	assert_non_null(cur);
	assert_string_equal(cdx_jsn(cur, "user"), "one");
	cJSON_Delete(cur);
	/* another name is independent */
	assert_int_equal(s2->ops->lock(s2, "deploy:web:staging", h2, 10000, 0, &t3, &cur, &err), 0);
	assert_int_equal(s2->ops->unlock(s2, "deploy:web:staging", t3, &err), 0);
	/* renew while held */
	assert_int_equal(f->s->ops->renew(f->s, "deploy:web:prod", t1, 10000, &err), 0);
	assert_int_equal(f->s->ops->unlock(f->s, "deploy:web:prod", t1, &err), 0);
	assert_int_equal(s2->ops->holder(s2, "deploy:web:prod", &cur, &err), 0);
	assert_null(cur);
	assert_int_equal(s2->ops->lock(s2, "deploy:web:prod", h2, 10000, 0, &t2, &cur, &err), 0);
	assert_true(t2 > t1);
	/* the old token releases nothing and renews nothing */
	assert_int_equal(f->s->ops->unlock(f->s, "deploy:web:prod", t1, &err), 0);
	assert_int_equal(f->s->ops->renew(f->s, "deploy:web:prod", t1, 10000, &err), 1);
	assert_int_equal(f->s->ops->lock(f->s, "deploy:web:prod", h1, 10000, 0, &t3, &cur, &err), 1);
	cJSON_Delete(cur);
	assert_int_equal(s2->ops->unlock(s2, "deploy:web:prod", t2, &err), 0);
	cdx_store_close(s2);
	cJSON_Delete(h1);
	cJSON_Delete(h2);
}

static void test_lock_ttl_lapse_and_fencing(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	struct cdx_store *s2;
	unsigned long long t1, t2;
	cJSON *h1, *h2, *cur = NULL, *rec, *all;
	int64_t t0;
	NEED(lock);
	NEED(append_fenced);
	if (strncmp(f->url, "file:", 5) == 0) {
		/* lib/store_file.c: a lock is its holder process's flock, without
		 * a lease; a holder is gone only when its process is (see
		 * test_lock_dead_holder) */
		print_message("  (file store locks have no TTL lease: skipped)\n");
		skip();
	}
	h1 = holder_of("one");
	h2 = holder_of("two");
	s2 = reopen(f);
	assert_int_equal(f->s->ops->lock(f->s, "L", h1, 200, 0, &t1, &cur, &err), 0);
	rec = rec_attempt("r", "p", "s/one", 1);
	assert_int_equal(f->s->ops->append_fenced(f->s, "L", t1, rec, &err), 0);
	cJSON_Delete(rec);
	/* the same process holds it, so only the TTL can free it: wait */
	t0 = cdx_now_ns();
	assert_int_equal(s2->ops->lock(s2, "L", h2, 10000, 3000, &t2, &cur, &err), 0);
	assert_true(cdx_now_ns() - t0 >= 100 * 1000000LL);
	assert_true(t2 > t1);
	/* the first holder lost it: renewal says so, its writes are refused */
	assert_int_equal(f->s->ops->renew(f->s, "L", t1, 200, &err), 1);
	rec = rec_attempt("r", "p", "s/late", 1);
	assert_int_equal(f->s->ops->append_fenced(f->s, "L", t1, rec, &err), 1);
	cJSON_Delete(rec);
	rec = rec_attempt("r", "p", "s/two", 1);
	assert_int_equal(s2->ops->append_fenced(s2, "L", t2, rec, &err), 0);
	cJSON_Delete(rec);
	all = scan_all(f->s);
	assert_int_equal(cJSON_GetArraySize(all), 2);
	assert_string_equal(cdx_jsn(cJSON_GetArrayItem(all, 0), "job"), "s/one");
	assert_string_equal(cdx_jsn(cJSON_GetArrayItem(all, 1), "job"), "s/two");
	cJSON_Delete(all);
	assert_int_equal(s2->ops->unlock(s2, "L", t2, &err), 0);
	cdx_store_close(s2);
	cJSON_Delete(h1);
	cJSON_Delete(h2);
}

static void test_lock_renew_keeps_it(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	struct cdx_store *s2;
	unsigned long long t1, t2;
	cJSON *h, *cur = NULL;
	int i;
	NEED(lock);
	h = holder_of("one");
	s2 = reopen(f);
	assert_int_equal(f->s->ops->lock(f->s, "R", h, 300, 0, &t1, &cur, &err), 0);
	for (i = 0; i < 6; i++) {
		usleep(100 * 1000);
		assert_int_equal(f->s->ops->renew(f->s, "R", t1, 300, &err), 0);
	}
	assert_int_equal(s2->ops->lock(s2, "R", h, 300, 0, &t2, &cur, &err), 1);
	cJSON_Delete(cur);
	assert_int_equal(f->s->ops->unlock(f->s, "R", t1, &err), 0);
	cdx_store_close(s2);
	cJSON_Delete(h);
}

/* a holder whose process dies without releasing loses the lock to the
 * next taker; its token is then refused */
static void test_lock_dead_holder(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	unsigned long long t1 = 0, t2;
	cJSON *h, *cur = NULL, *rec;
	int fds[2];
	pid_t pid;
	NEED(lock);
	NEED(append_fenced);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		struct cdx_store *s;
		unsigned long long t;
		cJSON *me = holder_of("doomed");
		close(fds[0]);
		if (cdx_store_open(f->url, &s, &err) < 0 ||
		    s->ops->lock(s, "D", me, 60000, 0, &t, NULL, &err) != 0)
			_exit(1);
		if (write(fds[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
			_exit(1);
		_exit(0); /* dies holding it: no unlock, no close */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &t1, sizeof(t1)), (int)sizeof(t1));
	close(fds[0]);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	h = holder_of("next");
	assert_int_equal(f->s->ops->lock(f->s, "D", h, 60000, 2000, &t2, &cur, &err), 0);
	assert_true(t2 > t1);
	/* the dead holder's token counts for nothing now */
	assert_int_equal(f->s->ops->renew(f->s, "D", t1, 60000, &err), 1);
	rec = rec_attempt("r", "p", "s/ghost", 1);
	assert_int_equal(f->s->ops->append_fenced(f->s, "D", t1, rec, &err), 1);
	cJSON_Delete(rec);
	assert_int_equal(f->s->ops->unlock(f->s, "D", t2, &err), 0);
	cJSON_Delete(h);
}

static void test_lock_odd_names(void **state)
{
	struct fx *f = *state;
	struct cdx_error err = {0};
	static const char *const names[] = {"deploy:a b:c", "deploy:*:*", "x\r\ny", "deploy:a:b"};
	unsigned long long t[4];
	cJSON *h, *cur = NULL;
	size_t i;
	NEED(lock);
	h = holder_of("odd");
	/* each name is its own lock */
	for (i = 0; i < CDX_ARRAY_LEN(names); i++)
		assert_int_equal(f->s->ops->lock(f->s, names[i], h, 10000, 0, &t[i], &cur, &err), 0);
	for (i = 0; i < CDX_ARRAY_LEN(names); i++)
		assert_int_equal(f->s->ops->unlock(f->s, names[i], t[i], &err), 0);
	cJSON_Delete(h);
}

/* the server forgets the scripts (SCRIPT FLUSH, a restart) while batches
 * are pipelined: they are loaded again and nothing is lost or doubled */
static void test_redis_noscript(void **state)
{
#ifdef CDX_WITH_REDIS
	struct fx *f = *state;
	redisContext *c;
	redisReply *rep;
	char host[64];
	int port, i;
	cJSON *all;
	if (strncmp(f->url, "redis://", 8) != 0)
		skip();
	if (sscanf(f->url, "redis://%63[^:]:%d", host, &port) != 2)
		fail_msg("cannot parse %s", f->url);
	c = redisConnect(host, port);
	assert_true(c && !c->err);
	for (i = 0; i < 1500; i++) {
		put(f->s, rec_attempt("r1", "p", "s/j", i));
		if (i == 700) {
			rep = redisCommand(c, "SCRIPT FLUSH");
			freeReplyObject(rep);
		}
	}
	flush(f->s);
	rep = redisCommand(c, "SCRIPT FLUSH");
	freeReplyObject(rep);
	redisFree(c);
	put(f->s, rec_attempt("r1", "p", "s/j", 1500));
	flush(f->s);
	all = scan_all(f->s);
	assert_int_equal(cJSON_GetArraySize(all), 1501);
	for (i = 0; i < 1501; i++)
		assert_int_equal((int)cdx_jn(cJSON_GetArrayItem(all, i), "attempt"), i);
	cJSON_Delete(all);
#else
	(void)state;
	skip();
#endif
}

static cJSON *rec_job(const char *run, const char *pipeline, const char *job, const char *status, int ms)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "t", "job");
	cJSON_AddStringToObject(r, "run", run);
	cJSON_AddStringToObject(r, "pipeline", pipeline);
	cJSON_AddStringToObject(r, "job", job);
	cJSON_AddStringToObject(r, "status", status);
	cJSON_AddNumberToObject(r, "duration_ms", ms);
	return r;
}

/* records of two runs interleaved in group commits: scan_runs gives each
 * run only its own records, in order */
static void test_redis_segments(void **state)
{
	struct fx *f = *state;
	struct seen sn = {NULL, 0};
	struct cdx_error err = {0};
	int i;
	if (strncmp(f->url, "redis://", 8) != 0)
		skip();
	sn.all = cJSON_CreateArray();
	put_run(f->s, "x1", "x", 1000, 0, "success");
	put_run(f->s, "y1", "y", 1001, 0, "success");
	for (i = 1; i <= 30; i++) {
		put(f->s, rec_job("x1", "x", "s/a", i % 7 ? "success" : "failed", i));
		put(f->s, rec_job("y1", "y", "s/a", "success", 100 + i));
		put(f->s, rec_job("x1", "x", "s/b", "success", 1000 + i));
		if (i == 25)
			flush(f->s);
	}
	flush(f->s);
	assert_int_equal(cdx_store_scan_runs(f->s, "x", 5, collect, &sn, &err), 0);
	assert_int_equal(cJSON_GetArraySize(sn.all), 2 + 60);
	for (i = 0; i < cJSON_GetArraySize(sn.all); i++) {
		const cJSON *r = cJSON_GetArrayItem(sn.all, i);
		const char *run = cdx_jsn(r, "run");
		assert_string_equal(run ? run : cdx_jsn(r, "id"), "x1");
		if (i >= 2)
			assert_int_equal((int)cdx_jn(r, "duration_ms"),
					 (i - 2) % 2 ? 1000 + 1 + (i - 2) / 2 : 1 + (i - 2) / 2);
	}
	assert_string_equal(cdx_jsn(cJSON_GetArrayItem(sn.all, 0), "t"), "run");
	assert_string_equal(cdx_jsn(cJSON_GetArrayItem(sn.all, 1), "t"), "run_end");
	cJSON_Delete(sn.all);
	sn.all = cJSON_CreateArray();
	assert_int_equal(cdx_store_scan_runs(f->s, "y", 5, collect, &sn, &err), 0);
	assert_int_equal(cJSON_GetArraySize(sn.all), 2 + 30);
	assert_int_equal((int)cdx_jn(cJSON_GetArrayItem(sn.all, 31), "duration_ms"), 130);
	cJSON_Delete(sn.all);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_append_scan_in_order),
	    T(test_record_roundtrip),
	    T(test_scan_stops_and_persists),
	    T(test_binary_safe_names),
	    T(test_scan_runs),
	    T(test_tail),
	    T(test_lock_busy_and_tokens),
	    T(test_lock_ttl_lapse_and_fencing),
	    T(test_lock_renew_keeps_it),
	    T(test_lock_dead_holder),
	    T(test_lock_odd_names),
	    T(test_redis_noscript),
	    T(test_redis_segments),
	};
	const char *redis = getenv("CDX_TEST_REDIS");
	int failed;
	g_backend = "file";
	failed = cmocka_run_group_tests_name("store (file)", tests, NULL, NULL);
#ifdef CDX_WITH_REDIS
	if (redis && *redis) {
		g_backend = redis;
		failed += cmocka_run_group_tests_name("store (redis)", tests, NULL, NULL);
	} else {
		printf("store (redis): skipped, CDX_TEST_REDIS is not set\n");
	}
#else
	(void)redis;
	printf("store (redis): skipped, built without redis\n");
#endif
	return failed;
}
