/* store_bench.c — the state store under load, for bench/redis.sh:
 *
 *   store_bench record URL N      record N job results the way `cdx run`
 *                                 does (an attempt and a job record each,
 *                                 runs of 100 jobs with their run and
 *                                 run_end records, group commit: a flush
 *                                 every 50 ms, as run.c's tick does; the
 *                                 store sends full batches by itself);
 *                                 prints
 *                                 "job_results N seconds S per_s R"
 *   store_bench populate URL PIPELINE RUNS [JOBS]
 *                                 record RUNS runs of PIPELINE with JOBS
 *                                 jobs each (default 0: a run and a
 *                                 run_end record), one in 20 failed;
 *                                 prints "runs N seconds S per_s R"
 *   store_bench query URL PIPELINE ITER [LAST]
 *                                 ITER health queries: the records of the
 *                                 last LAST (default 10) runs through
 *                                 cdx_store_scan_runs (the file store's is
 *                                 two scans of its journal), and,
 *                                 for redis://, HGETALL of the health
 *                                 hash; prints "scan_runs p50_ms A p99_ms
 *                                 B" and "health_hash p50_ms C p99_ms D"
 *
 * Exit 0, or 1 with a message on stderr. */
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/store.h"

#define FLUSH_NS 50000000

static struct cdx_store *s;
static int64_t last_flush;

static void die(const char *what, const struct cdx_error *err)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, err ? err->msg : "failed");
	exit(1);
}

static void put(cJSON *rec)
{
	struct cdx_error err = {0};
	if (s->ops->append(s, rec, &err) < 0)
		die("append", &err);
	cJSON_Delete(rec);
	if (cdx_now_ns() - last_flush >= FLUSH_NS) {
		if (s->ops->flush(s, &err) < 0)
			die("flush", &err);
		last_flush = cdx_now_ns();
	}
}

static cJSON *rec(const char *t)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "t", t);
	return r;
}

static void run_start(const char *id, const char *pl, int64_t at, int jobs)
{
	cJSON *r = rec("run");
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "pipeline", pl);
	cJSON_AddStringToObject(r, "file", "bench.yml");
	cJSON_AddNumberToObject(r, "start_ms", (double)at);
	cJSON_AddStringToObject(r, "host", "bench");
	cJSON_AddStringToObject(r, "user", "bench");
	cJSON_AddNumberToObject(r, "pid", 1);
	cJSON_AddNumberToObject(r, "job_count", jobs);
	put(r);
}

static void run_end(const char *id, const char *pl, int64_t at, int ok)
{
	cJSON *r = rec("run_end");
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "pipeline", pl);
	cJSON_AddStringToObject(r, "status", ok ? "success" : "failed");
	cJSON_AddNumberToObject(r, "end_ms", (double)at + 1000 + at % 977);
	cJSON_AddNumberToObject(r, "duration_ms", (double)(1000 + at % 977));
	put(r);
}

static void job_result(const char *id, const char *pl, int j)
{
	char job[32];
	cJSON *r = rec("attempt");
	snprintf(job, sizeof(job), "test/unit-%d", j);
	cJSON_AddStringToObject(r, "run", id);
	cJSON_AddStringToObject(r, "pipeline", pl);
	cJSON_AddStringToObject(r, "job", job);
	cJSON_AddNumberToObject(r, "attempt", 1);
	cJSON_AddStringToObject(r, "status", "success");
	cJSON_AddNumberToObject(r, "exit_code", 0);
	cJSON_AddNumberToObject(r, "start_ms", (double)cdx_wall_ms());
	cJSON_AddNumberToObject(r, "wall_ms", 12.25 + j % 7);
	cJSON_AddNumberToObject(r, "user_ms", 3);
	cJSON_AddNumberToObject(r, "sys_ms", 1);
	cJSON_AddNumberToObject(r, "maxrss_kb", 2048);
	cJSON_AddStringToObject(r, "log", "/var/tmp/cdx/logs/run/test/unit.1.log");
	put(r);
	r = rec("job");
	cJSON_AddStringToObject(r, "run", id);
	cJSON_AddStringToObject(r, "pipeline", pl);
	cJSON_AddStringToObject(r, "job", job);
	cJSON_AddStringToObject(r, "status", "success");
	cJSON_AddNumberToObject(r, "attempts", 1);
	cJSON_AddNumberToObject(r, "duration_ms", 12 + j % 7);
	put(r);
}

static void finish(void)
{
	struct cdx_error err = {0};
	if (s->ops->flush(s, &err) < 0)
		die("flush", &err);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, long long *ns, int n)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_ll);
	printf("%s p50_ms %.4f p99_ms %.4f max_ms %.4f\n", what, ns[n / 2] / 1e6, ns[(n * 99) / 100] / 1e6,
	       ns[n - 1] / 1e6);
}

struct filter {
	const char *pipeline;
	size_t n;
};

static int count_rec(void *ctx, const cJSON *r)
{
	((struct filter *)ctx)->n++;
	(void)r;
	return 0;
}

int main(int argc, char **argv)
{
	struct cdx_error err = {0};
	int64_t t0;
	double secs;
	if (argc < 4) {
		fprintf(stderr, "usage: store_bench record URL N | populate URL PIPELINE RUNS [JOBS] | "
				"query URL PIPELINE ITER [LAST]\n");
		return 2;
	}
	if (cdx_store_open(argv[2], &s, &err) < 0)
		die(argv[2], &err);
	last_flush = cdx_now_ns();
	t0 = cdx_now_ns();
	if (strcmp(argv[1], "record") == 0) {
		long n = atol(argv[3]), done = 0, r = 0;
		while (done < n) {
			char id[48];
			int j;
			snprintf(id, sizeof(id), "20261124T000000.000Z-%08lx", r++);
			run_start(id, "bench", cdx_wall_ms(), 100);
			for (j = 0; j < 100 && done < n; j++, done++)
				job_result(id, "bench", j);
			run_end(id, "bench", cdx_wall_ms(), 1);
		}
		finish();
		secs = (double)(cdx_now_ns() - t0) / 1e9;
		printf("job_results %ld seconds %.3f per_s %.0f\n", n, secs, (double)n / secs);
	} else if (strcmp(argv[1], "populate") == 0 && argc >= 5) {
		long n = atol(argv[4]), i;
		int jobs = argc > 5 ? atoi(argv[5]) : 0, j;
		int64_t at = 1700000000000LL;
		for (i = 0; i < n; i++) {
			char id[48];
			snprintf(id, sizeof(id), "20231114T221320.000Z-%08lx", i);
			run_start(id, argv[3], at + i * 1000, jobs);
			for (j = 0; j < jobs; j++)
				job_result(id, argv[3], j);
			run_end(id, argv[3], at + i * 1000, i % 20 != 0);
		}
		finish();
		secs = (double)(cdx_now_ns() - t0) / 1e9;
		printf("runs %ld seconds %.3f per_s %.0f\n", n, secs, (double)n / secs);
	} else if (strcmp(argv[1], "query") == 0 && argc >= 5) {
		int iter = atoi(argv[4]), i;
		size_t last = argc > 5 ? (size_t)atol(argv[5]) : 10;
		long long *ns = calloc((size_t)iter + 1, sizeof(long long));
		for (i = 0; i < iter; i++) {
			struct filter f = {argv[3], 0};
			int64_t q = cdx_now_ns();
			int rc = cdx_store_scan_runs(s, argv[3], last, count_rec, &f, &err);
			if (rc < 0)
				die("query", &err);
			ns[i] = cdx_now_ns() - q;
			if (!f.n)
				die("query found no records", NULL);
		}
		report("scan_runs", ns, iter);
		if (strncmp(argv[2], "redis://", 8) == 0) {
			/* what `redis-cli HGETALL cdx:health:P` costs a script */
			char *host = strdup(argv[2] + 8), *colon = strchr(host, ':');
			int port = colon ? atoi(colon + 1) : 6379;
			redisContext *c;
			char *key = cdx_xasprintf("cdx:health:%s", argv[3]);
			if (colon)
				*colon = '\0';
			c = redisConnect(host, port);
			if (!c || c->err)
				die("connect", NULL);
			for (i = 0; i < iter; i++) {
				const char *av[2] = {"HGETALL", key};
				size_t al[2] = {7, strlen(key)};
				int64_t q = cdx_now_ns();
				redisReply *rep = redisCommandArgv(c, 2, av, al);
				ns[i] = cdx_now_ns() - q;
				if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 16)
					die("HGETALL health", NULL);
				freeReplyObject(rep);
			}
			report("health_hash", ns, iter);
			redisFree(c);
			free(key);
			free(host);
		}
		free(ns);
	} else {
		fprintf(stderr, "store_bench: unknown mode %s\n", argv[1]);
		return 2;
	}
	cdx_store_close(s);
	return 0;
}
