/* store_client.c — a test-only client of the store interface (lib/store.h)
 * for the integration tests that need several processes to lock and write:
 *
 *   store_client URL lock NAME TTL_MS WAIT_MS HOLD_MS
 *       take lock NAME (waiting WAIT_MS, < 0 for ever), print "token N",
 *       write a fenced record {"t":"event","kind":"enter",...}, hold it for
 *       HOLD_MS renewing every TTL_MS/3, then write a fenced "leave" record
 *       and release.  Exit 0 done, 3 busy, 4 store error, 5 the lock was
 *       lost and the "leave" write refused.
 *   store_client URL run PIPELINE ID
 *       record a one-job run of PIPELINE (any bytes) with run id ID.
 *   store_client URL deploy APP ENV VERSION
 *       record a deployment of VERSION to APP/ENV that succeeded.
 *
 * Output is line-buffered so that a test can wait for "token". */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state/store.h"

static void nap(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static cJSON *mark(const char *kind, const char *name, unsigned long long token)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "t", "event");
	cJSON_AddStringToObject(r, "kind", kind);
	cJSON_AddStringToObject(r, "lock", name);
	cJSON_AddNumberToObject(r, "token", (double)token);
	cJSON_AddNumberToObject(r, "pid", getpid());
	cJSON_AddNumberToObject(r, "at_ms", (double)cdx_wall_ms());
	return r;
}

static int do_lock(struct cdx_store *s, char **argv)
{
	const char *name = argv[0];
	long long ttl = atoll(argv[1]), wait = atoll(argv[2]), hold = atoll(argv[3]);
	struct cdx_error err = {0};
	unsigned long long token;
	cJSON *holder = cJSON_CreateObject(), *cur = NULL, *r;
	char host[256];
	int rc, w;
	int64_t end;
	bool lost = false;
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	cJSON_AddStringToObject(holder, "user", "store_client");
	cJSON_AddStringToObject(holder, "host", host);
	cJSON_AddNumberToObject(holder, "pid", getpid());
	cJSON_AddNumberToObject(holder, "pid_start", (double)cdx_process_start_time(getpid()));
	cJSON_AddNumberToObject(holder, "since_ms", (double)cdx_wall_ms());
	rc = s->ops->lock(s, name, holder, ttl, wait, &token, &cur, &err);
	cJSON_Delete(holder);
	if (rc < 0) {
		fprintf(stderr, "store_client: lock: %s\n", err.msg);
		return 4;
	}
	if (rc == 1) {
		char *c = cJSON_PrintUnformatted(cur);
		printf("busy %s\n", c ? c : "");
		free(c);
		cJSON_Delete(cur);
		return 3;
	}
	printf("token %llu\n", token);
	r = mark("enter", name, token);
	w = s->ops->append_fenced(s, name, token, r, &err);
	cJSON_Delete(r);
	if (w != 0) {
		fprintf(stderr, "store_client: enter write %s\n", w < 0 ? err.msg : "refused");
		return w < 0 ? 4 : 5;
	}
	end = cdx_now_ns() + hold * 1000000LL;
	while (cdx_now_ns() < end) {
		long long left = (end - cdx_now_ns()) / 1000000;
		nap(left < ttl / 3 ? left : ttl / 3);
		if (!lost && s->ops->renew(s, name, token, ttl, &err) != 0) {
			printf("lost\n");
			lost = true;
		}
	}
	r = mark("leave", name, token);
	w = s->ops->append_fenced(s, name, token, r, &err);
	cJSON_Delete(r);
	if (w == 1) {
		printf("refused\n");
		return 5;
	}
	if (w < 0) {
		fprintf(stderr, "store_client: leave write: %s\n", err.msg);
		return 4;
	}
	if (s->ops->unlock(s, name, token, &err) < 0) {
		fprintf(stderr, "store_client: unlock: %s\n", err.msg);
		return 4;
	}
	printf("done %llu\n", token);
	return 0;
}

static int do_run(struct cdx_store *s, const char *pipeline, const char *id)
{
	struct cdx_error err = {0};
	cJSON *r = cJSON_CreateObject();
	int rc = 0;
	cJSON_AddStringToObject(r, "t", "run");
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "pipeline", pipeline);
	cJSON_AddNumberToObject(r, "start_ms", (double)cdx_wall_ms());
	rc |= s->ops->append(s, r, &err);
	cJSON_Delete(r);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "t", "job");
	cJSON_AddStringToObject(r, "run", id);
	cJSON_AddStringToObject(r, "pipeline", pipeline);
	cJSON_AddStringToObject(r, "job", "s/j");
	cJSON_AddStringToObject(r, "status", "success");
	cJSON_AddNumberToObject(r, "duration_ms", 7);
	rc |= s->ops->append(s, r, &err);
	cJSON_Delete(r);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "t", "run_end");
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "pipeline", pipeline);
	cJSON_AddStringToObject(r, "status", "success");
	cJSON_AddNumberToObject(r, "end_ms", (double)cdx_wall_ms());
	cJSON_AddNumberToObject(r, "duration_ms", 7);
	rc |= s->ops->append(s, r, &err);
	cJSON_Delete(r);
	if (rc || s->ops->flush(s, &err) < 0) {
		fprintf(stderr, "store_client: run: %s\n", err.msg);
		return 4;
	}
	return 0;
}

static int do_deploy(struct cdx_store *s, const char *app, const char *env, const char *version)
{
	struct cdx_error err = {0};
	char id[64];
	cJSON *r = cJSON_CreateObject();
	int rc = 0;
	snprintf(id, sizeof(id), "d-%d-%lld", (int)getpid(), (long long)cdx_wall_ms());
	cJSON_AddStringToObject(r, "t", "deployment");
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "kind", "deploy");
	cJSON_AddStringToObject(r, "app", app);
	cJSON_AddStringToObject(r, "env", env);
	cJSON_AddStringToObject(r, "version", version);
	cJSON_AddStringToObject(r, "previous", "");
	cJSON_AddNumberToObject(r, "start_ms", (double)cdx_wall_ms());
	rc |= s->ops->append(s, r, &err);
	cJSON_Delete(r);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "t", "transition");
	cJSON_AddStringToObject(r, "deployment", id);
	cJSON_AddStringToObject(r, "state", "succeeded");
	cJSON_AddNumberToObject(r, "at_ms", (double)cdx_wall_ms());
	rc |= s->ops->append(s, r, &err);
	cJSON_Delete(r);
	if (rc || s->ops->flush(s, &err) < 0) {
		fprintf(stderr, "store_client: deploy: %s\n", err.msg);
		return 4;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cdx_store *s;
	struct cdx_error err = {0};
	int rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3 ||
	    !((strcmp(argv[2], "lock") == 0 && argc == 7) || (strcmp(argv[2], "run") == 0 && argc == 5) ||
	      (strcmp(argv[2], "deploy") == 0 && argc == 6))) {
		fprintf(stderr, "usage: store_client URL lock NAME TTL_MS WAIT_MS HOLD_MS\n"
				"       store_client URL run PIPELINE ID\n"
				"       store_client URL deploy APP ENV VERSION\n");
		return 2;
	}
	if (cdx_store_open(argv[1], &s, &err) < 0) {
		fprintf(stderr, "store_client: %s\n", err.msg);
		return 4;
	}
	if (!s->ops->lock && strcmp(argv[2], "lock") == 0) {
		fprintf(stderr, "store_client: %s has no locks\n", s->url);
		cdx_store_close(s);
		return 77;
	}
	if (strcmp(argv[2], "lock") == 0)
		rc = do_lock(s, argv + 3);
	else if (strcmp(argv[2], "run") == 0)
		rc = do_run(s, argv[3], argv[4]);
	else
		rc = do_deploy(s, argv[3], argv[4], argv[5]);
	cdx_store_close(s);
	return rc;
}
