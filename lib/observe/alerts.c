/* alerts.c — evaluating the alert rules of `monitoring:` and announcing
 * their incidents (cdx.h's cdx_monitor_alerts, monitor.h's
 * cdx_monitor_alerts_in).
 *
 * A rule is evaluated to "active" or not for a subject (the pipeline
 * "pipeline:NAME", or "deploy:APP:ENV" for the deployment rules); the
 * rule's state for that subject is the kind of the last alert /
 * alert_resolved event recorded for it.  Active and not firing: fire (run
 * the notify command with the alert JSON on stdin, then record an "alert"
 * event with the command's exit status).  Firing and no longer active:
 * resolve the same way ("alert_resolved").  So an incident is announced
 * once and resolved once, whoever evaluates, as long as evaluations do not
 * overlap: they run under the store's lock "monitor:alerts" (a backend
 * without locks: an flock on DIR/alerts.lock beside a file store).  The
 * notify command runs before the event is recorded: a crash in between
 * announces the incident again at the next evaluation (at least once,
 * never silently lost).
 *
 * The notify command is a child process like every other: it runs through
 * the one spawner for user commands, cdx_hook_run_opts (exec/hook.h), in the
 * project's directory, its stdout to our stderr, killed at
 * notify_timeout.  A webhook gets the same JSON, with a one-line `text`
 * (Slack's field), POSTed through libcurl (base/curl.h); an answer other
 * than 2xx, or none within notify_timeout, is a failure.
 *
 * Delivery: a notify command that exits non-zero or a webhook that fails
 * is tried again at once, up to DELIVER_ATTEMPTS times with a short pause
 * between (1 s, then 2 s).  Still failing, the event is recorded with
 * delivery "undelivered" and the channels that failed; cdx has no daemon,
 * so the later evaluations (the end of a run or deployment, cdx health,
 * cdx monitor) try those channels again, once each, when retry_backoff has
 * gone by since the last try (doubling at every try, at most an hour), and
 * record each try as an event of kind alert_delivery.  An undelivered
 * notification is given up when a newer one of the same alert and subject
 * is announced; it is not tried while its rule (or the failed channel) is
 * gone from cdx.yml.  cdx health lists the undelivered ones.
 *
 * Deployment rules read `deployment`, `transition` and `event` records
 * (lib/deploy/deploy.c): a transition to state rolled_back (or
 * rollback_failed), or an event of kind deployment_frozen, makes its
 * APP:ENV an incident; it resolves when a later deployment or rollback of
 * that APP:ENV reaches state succeeded (deploy.c's final success; success,
 * done, completed and live count too) or, for frozen, at an event of kind
 * deployment_unfrozen.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "base/curl.h"
#include "base/map.h"
#include "exec/hook.h"
#include "observe/monitor_int.h"
#include "state/runs.h"

/* ---- events: the recorded state of every alert --------------------------- */

struct deploy_state {
	char *key;        /* "APP:ENV" */
	bool rolled_back; /* an incident: the last final state was rolled_back */
	bool frozen;      /* an incident: frozen and not unfrozen since */
	cJSON *detail;    /* what made the incident (owned) */
};

struct events {
	cJSON *last;      /* "ALERT\nSUBJECT" -> the last alert/alert_resolved event */
	cJSON *deploys;   /* deployment id -> {app, env} */
	struct deploy_state *ds;
	size_t n_ds, cap_ds;
	struct cdx_map ds_index; /* key -> position in ds (keys owned by ds) */
};

static struct deploy_state *deploy_of(struct events *e, const char *app, const char *env)
{
	char *key = cdx_xasprintf("%s:%s", app, env);
	struct deploy_state z;
	size_t at;
	if (cdx_map_get(&e->ds_index, key, &at)) {
		free(key);
		return &e->ds[at];
	}
	memset(&z, 0, sizeof(z));
	z.key = key;
	CDX_PUSH(e->ds, e->n_ds, e->cap_ds, z);
	/* the map borrows keys: rebuild it when the array moved (rare) */
	cdx_map_free(&e->ds_index);
	memset(&e->ds_index, 0, sizeof(e->ds_index));
	for (at = 0; at < e->n_ds; at++)
		cdx_map_put(&e->ds_index, e->ds[at].key, at, NULL);
	return &e->ds[e->n_ds - 1];
}

static bool success_state(const char *st)
{
	static const char *const ok[] = {"succeeded", "success", "done", "completed", "live"};
	size_t i;
	for (i = 0; i < CDX_ARRAY_LEN(ok); i++)
		if (strcmp(st, ok[i]) == 0)
			return true;
	return false;
}

static void set_detail(struct deploy_state *d, const cJSON *rec)
{
	cJSON_Delete(d->detail);
	d->detail = cJSON_Duplicate(rec, 1);
	cJSON_DeleteItemFromObject(d->detail, "t");
}

static void set_field(cJSON *o, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key))
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
}

/* an alert_delivery event: a later try of the notification of the alert
 * event it names (by kind and at_ms); merged into that event, if it is
 * still the last one of its alert and subject */
static void delivery_one(struct events *e, const cJSON *rec)
{
	char *key = cdx_xasprintf("%s\n%s", cdx_js(rec, "alert"), cdx_js(rec, "subject"));
	cJSON *ev = cJSON_GetObjectItemCaseSensitive(e->last, key);
	const cJSON *und = cJSON_GetObjectItemCaseSensitive(rec, "undelivered");
	free(key);
	if (!ev || strcmp(cdx_js(ev, "kind"), cdx_js(rec, "of")) != 0 ||
	    cdx_jn(ev, "at_ms") != cdx_jn(rec, "event_at_ms"))
		return;
	set_field(ev, "delivery", cJSON_CreateString(cdx_js(rec, "delivery")));
	set_field(ev, "attempts", cJSON_CreateNumber(cdx_jn(rec, "attempts")));
	set_field(ev, "retries", cJSON_CreateNumber(cdx_jn(rec, "retries")));
	set_field(ev, "tried_ms", cJSON_CreateNumber(cdx_jn(rec, "at_ms")));
	set_field(ev, "error", cJSON_CreateString(cdx_js(rec, "error")));
	set_field(ev, "undelivered", und ? cJSON_Duplicate(und, 1) : cJSON_CreateArray());
}

static int events_one(void *ctx, const cJSON *rec)
{
	struct events *e = ctx;
	const char *t = cdx_jsn(rec, "t");
	if (!t)
		return 0;
	if (strcmp(t, "event") == 0) {
		const char *kind = cdx_js(rec, "kind");
		if (strcmp(kind, "alert") == 0 || strcmp(kind, "alert_resolved") == 0) {
			char *key = cdx_xasprintf("%s\n%s", cdx_js(rec, "alert"), cdx_js(rec, "subject"));
			cJSON *old = cJSON_GetObjectItemCaseSensitive(e->last, key);
			if (old)
				cJSON_ReplaceItemInObjectCaseSensitive(e->last, key, cJSON_Duplicate(rec, 1));
			else
				cJSON_AddItemToObject(e->last, key, cJSON_Duplicate(rec, 1));
			free(key);
		} else if (strcmp(kind, "alert_delivery") == 0) {
			delivery_one(e, rec);
		} else if (strcmp(kind, "deployment_frozen") == 0 || strcmp(kind, "deployment_unfrozen") == 0) {
			const char *app = cdx_js(rec, "app"), *env = cdx_js(rec, "env");
			struct deploy_state *d;
			if (!*app || !*env)
				return 0;
			d = deploy_of(e, app, env);
			d->frozen = strcmp(kind, "deployment_frozen") == 0;
			if (d->frozen)
				set_detail(d, rec);
		}
		return 0;
	}
	if (strcmp(t, "deployment") == 0) {
		const char *id = cdx_js(rec, "id");
		cJSON *o;
		if (!*id || cJSON_GetObjectItemCaseSensitive(e->deploys, id))
			return 0;
		o = cJSON_AddObjectToObject(e->deploys, id);
		cJSON_AddStringToObject(o, "app", cdx_js(rec, "app"));
		cJSON_AddStringToObject(o, "env", cdx_js(rec, "env"));
		cJSON_AddStringToObject(o, "version", cdx_js(rec, "version"));
		return 0;
	}
	if (strcmp(t, "transition") == 0) {
		const cJSON *dep = cJSON_GetObjectItemCaseSensitive(e->deploys, cdx_js(rec, "deployment"));
		const char *st = cdx_js(rec, "state");
		/* deploy.c writes app and env into every transition; else the
		 * deployment record says */
		const char *app = *cdx_js(rec, "app") ? cdx_js(rec, "app") : cdx_js(dep, "app");
		const char *env = *cdx_js(rec, "env") ? cdx_js(rec, "env") : cdx_js(dep, "env");
		struct deploy_state *d;
		if (!*app || !*env)
			return 0;
		d = deploy_of(e, app, env);
		if (strcmp(st, "rolled_back") == 0 || strcmp(st, "rollback_failed") == 0) {
			d->rolled_back = true;
			set_detail(d, rec);
			if (!cJSON_GetObjectItem(d->detail, "app"))
				cJSON_AddStringToObject(d->detail, "app", app);
			if (!cJSON_GetObjectItem(d->detail, "env"))
				cJSON_AddStringToObject(d->detail, "env", env);
			if (dep && !cJSON_GetObjectItem(d->detail, "version"))
				cJSON_AddStringToObject(d->detail, "version", cdx_js(dep, "version"));
		} else if (success_state(st)) {
			d->rolled_back = false;
			d->frozen = false;
		}
	}
	return 0;
}

static void events_free(struct events *e)
{
	size_t i;
	cJSON_Delete(e->last);
	cJSON_Delete(e->deploys);
	for (i = 0; i < e->n_ds; i++) {
		free(e->ds[i].key);
		cJSON_Delete(e->ds[i].detail);
	}
	free(e->ds);
	cdx_map_free(&e->ds_index);
}

static int events_load(struct cdx_store *s, struct events *e, struct cdx_error *err)
{
	memset(e, 0, sizeof(*e));
	e->last = cJSON_CreateObject();
	e->deploys = cJSON_CreateObject();
	return s->ops->scan(s, events_one, e, err);
}

static bool is_firing(const struct events *e, const char *alert, const char *subject)
{
	char *key = cdx_xasprintf("%s\n%s", alert, subject);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(e->last, key);
	free(key);
	return ev && strcmp(cdx_js(ev, "kind"), "alert") == 0;
}

cJSON *cdx_monitor_firing(struct cdx_store *s, const char *subject)
{
	struct events e;
	struct cdx_error err = {0};
	cJSON *out = cJSON_CreateArray(), *ev;
	size_t n = strlen(subject);
	if (events_load(s, &e, &err) == 0) {
		cJSON_ArrayForEach(ev, e.last)
		{
			const char *nl = strchr(ev->string, '\n');
			if (nl && strlen(nl + 1) == n && memcmp(nl + 1, subject, n) == 0 &&
			    strcmp(cdx_js(ev, "kind"), "alert") == 0)
				cJSON_AddItemToArray(out, cJSON_CreateString(cdx_js(ev, "alert")));
		}
	}
	events_free(&e);
	return out;
}

/* ---- alerts --------------------------------------------------------------- */

/* the alerts lock: the backend's, else an flock beside a file store */
struct alerts_lock {
	int fd;                   /* flock fallback, -1 when not used */
	unsigned long long token; /* backend lock, 0 when not held */
};

static int alerts_lock(struct cdx_store *s, struct alerts_lock *l, struct cdx_error *err)
{
	l->fd = -1;
	l->token = 0;
	if (s->ops->lock) {
		cJSON *holder = cJSON_CreateObject(), *cur = NULL;
		int rc;
		cJSON_AddStringToObject(holder, "what", "alerts");
		cJSON_AddNumberToObject(holder, "pid", (double)getpid());
		cJSON_AddNumberToObject(holder, "since_ms", (double)cdx_wall_ms());
		rc = s->ops->lock(s, "monitor:alerts", holder, 30000, 10000, &l->token, &cur, err);
		cJSON_Delete(holder);
		cJSON_Delete(cur);
		if (rc == CDX_LOCK_BUSY)
			return cdx_error_set(err, CDX_EBUSY, "alerts are being evaluated by another process");
		return rc == CDX_LOCK_TAKEN ? 0 : -1;
	}
	if (cdx_store_local_dir(s)) {
		char *path = cdx_xasprintf("%s/alerts.lock", cdx_store_local_dir(s));
		l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		free(path);
		if (l->fd < 0)
			return cdx_error_set(err, CDX_ESTATE, "cannot open the alerts lock in %s: %s", s->url,
					     strerror(errno));
		while (flock(l->fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				close(l->fd);
				l->fd = -1;
				return cdx_error_set(err, CDX_ESTATE, "cannot lock alerts: %s", strerror(errno));
			}
		}
	}
	return 0;
}

static void alerts_unlock(struct cdx_store *s, struct alerts_lock *l)
{
	if (l->token && s->ops->unlock)
		s->ops->unlock(s, "monitor:alerts", l->token, NULL);
	if (l->fd >= 0)
		close(l->fd); /* releases the flock */
}

/* ---- notify: the alert to the rule's command ----------------------------- */

/* run CMD through cdx_hook_run_opts (sh -c, in DIR, its stdout to our
 * stderr) with JSON on its stdin (cdx.1, cdx.yml.5) and CDX_ALERT=ALERT,
 * CDX_ALERT_STATE=STATE in its environment; killed after TIMEOUT_MS.  A
 * command need not read the JSON.  Its exit status, 128+N for signal N,
 * CDX_HOOK_TIMEDOUT when it was killed at the timeout; -1 with ERR set when
 * it could not run. */
static int notify(const char *cmd, const char *dir, const char *json, const char *alert, const char *state,
		  long long timeout_ms, struct cdx_error *err)
{
	struct cdx_hook_opts o = {0};
	struct cdx_envv env;
	int status = -1;
	o.timeout_ms = timeout_ms;
	o.input = json;
	o.input_len = strlen(json);
	cdx_envv_from_environ(&env);
	cdx_envv_set(&env, "CDX_ALERT", alert);
	cdx_envv_set(&env, "CDX_ALERT_STATE", state);
	if (cdx_hook_run_opts(cmd, env.v, dir, &o, &status, err) < 0)
		status = -1;
	cdx_envv_free(&env);
	return status;
}

/* ---- delivery: the notify command and the webhook, tried again ------------ */

#define DELIVER_ATTEMPTS 3                          /* tries within one evaluation */
static const int deliver_pause_ms[] = {1000, 2000}; /* between them */
#define RETRY_BACKOFF_MAX_MS (60LL * 60 * 1000)     /* the longest wait between later tries */

enum { CH_NOTIFY = 1, CH_WEBHOOK = 2 };

struct delivery {
	unsigned pending;    /* channels not delivered */
	int attempts;        /* tries made */
	int notify_status;   /* the last try's, as notify() returns it */
	long webhook_status; /* the last try's HTTP status, 0 for none */
	char error[256];     /* the last failure */
};

/* the scheme and host of URL, without user, password, path or query
 * (those may hold a token): what is recorded and shown.  Caller frees. */
static char *url_site(const char *url)
{
	const char *h = strstr(url, "://"), *end, *at;
	if (!h)
		return cdx_xstrdup("");
	h += 3;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	while (at) { /* the last @ of the authority */
		const char *next = memchr(at + 1, '@', (size_t)(end - at - 1));
		h = at + 1;
		at = next;
	}
	return cdx_xasprintf("%.*s%.*s", (int)(strstr(url, "://") + 3 - url), url, (int)(end - h), h);
}

static size_t discard_cb(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* POST JSON to URL: true for a 2xx answer within TIMEOUT_MS; else false
 * with the cause in ERRBUF.  *CODE: the HTTP status, 0 when none came. */
static bool webhook_post(const char *url, const char *json, long long timeout_ms, long *code, char *errbuf,
			 size_t en)
{
	const struct cdx_curl *curl = cdx_curl();
	struct curl_slist *hdr = NULL;
	CURL *h;
	CURLcode rc;
	bool ok = false;
	*code = 0;
	if (!curl) {
		snprintf(errbuf, en, "cannot load libcurl.so.4 for webhooks (Debian package libcurl4)");
		return false;
	}
	h = curl->init();
	if (!h) {
		snprintf(errbuf, en, "cannot start an http client");
		return false;
	}
	hdr = curl->slist_append(hdr, "Content-Type: application/json");
	curl->setopt(h, CURLOPT_URL, url);
	curl->setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl->setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl->setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl->setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl->setopt(h, CURLOPT_USERAGENT, "cdx-alert/" CDX_VERSION);
	curl->setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl->setopt(h, CURLOPT_POSTFIELDS, json);
	curl->setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	curl->setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
	rc = curl->perform(h);
	if (rc != CURLE_OK) {
		snprintf(errbuf, en, "%s", curl->strerror(rc));
	} else {
		curl->getinfo(h, CURLINFO_RESPONSE_CODE, code);
		ok = *code >= 200 && *code <= 299;
		if (!ok)
			snprintf(errbuf, en, "HTTP %ld", *code);
	}
	curl->cleanup(h);
	curl->slist_free_all(hdr);
	return ok;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* the fields of a recorded alert event that are about its delivery, not
 * the alert: left out of what is delivered */
static const char *const delivery_keys[] = {
    "t",        "notify",  "notify_status", "webhook", "webhook_status", "delivery",
    "attempts", "retries", "tried_ms",      "error",   "undelivered"};

/* deliver the alert event EV (as announced or recorded) to the channels
 * WANT of RULE: up to ATTEMPTS tries, pausing between them, each try
 * repeating the channels that failed.  The outcome in *DV. */
static void deliver(const struct cdx_monitor_config *c, const struct cdx_alert_rule *rule, const cJSON *ev,
		    unsigned want, int attempts, struct delivery *dv)
{
	cJSON *copy = cJSON_Duplicate(ev, 1);
	char *json, *hook_json = NULL;
	const char *state = cdx_js(ev, "state");
	size_t i;
	memset(dv, 0, sizeof(*dv));
	dv->pending = want;
	for (i = 0; i < CDX_ARRAY_LEN(delivery_keys); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(copy, delivery_keys[i]);
	json = cJSON_PrintUnformatted(copy);
	if (want & CH_WEBHOOK) {
		char *text = cdx_xasprintf("cdx: alert %s %s (%s): %s", rule->name, state,
					   cdx_js(ev, "subject"), cdx_js(ev, "message"));
		cJSON_AddStringToObject(copy, "text", text);
		free(text);
		hook_json = cJSON_PrintUnformatted(copy);
	}
	cJSON_Delete(copy);
	while (dv->pending && dv->attempts < attempts) {
		if (dv->attempts) {
			size_t k = (size_t)dv->attempts - 1;
			sleep_ms(deliver_pause_ms[k < CDX_ARRAY_LEN(deliver_pause_ms)
						      ? k
						      : CDX_ARRAY_LEN(deliver_pause_ms) - 1]);
		}
		dv->attempts++;
		if (dv->pending & CH_NOTIFY) {
			struct cdx_error nerr = {0};
			int st = notify(rule->notify, c->dir, json, rule->name, state, c->notify_timeout_ms,
					&nerr);
			dv->notify_status = st;
			if (st == 0) {
				dv->pending &= ~(unsigned)CH_NOTIFY;
			} else {
				if (st < 0)
					snprintf(dv->error, sizeof(dv->error),
						 "notify command could not run: %.200s", nerr.msg);
				else
					snprintf(dv->error, sizeof(dv->error),
						 "notify command exited with status %d", st);
				fprintf(stderr, "cdx: warning: alert %s: %s (try %d)\n", rule->name,
					dv->error, dv->attempts);
			}
		}
		if (dv->pending & CH_WEBHOOK) {
			char why[200];
			if (webhook_post(rule->webhook, hook_json, c->notify_timeout_ms, &dv->webhook_status,
					 why, sizeof(why))) {
				dv->pending &= ~(unsigned)CH_WEBHOOK;
			} else {
				char *site = url_site(rule->webhook);
				snprintf(dv->error, sizeof(dv->error), "webhook %s: %s", site, why);
				fprintf(stderr, "cdx: warning: alert %s: %s (try %d)\n", rule->name,
					dv->error, dv->attempts);
				free(site);
			}
		}
	}
	free(json);
	free(hook_json);
}

/* the delivery fields of a record from DV: ATTEMPTS tries in all, RETRIES
 * of them by later evaluations */
static void delivery_fields(cJSON *rec, const struct delivery *dv, int attempts, int retries)
{
	cJSON *und;
	cJSON_AddStringToObject(rec, "delivery", dv->pending ? "undelivered" : "delivered");
	cJSON_AddNumberToObject(rec, "attempts", attempts);
	if (retries)
		cJSON_AddNumberToObject(rec, "retries", retries);
	if (!dv->pending)
		return;
	und = cJSON_AddArrayToObject(rec, "undelivered");
	if (dv->pending & CH_NOTIFY)
		cJSON_AddItemToArray(und, cJSON_CreateString("notify"));
	if (dv->pending & CH_WEBHOOK)
		cJSON_AddItemToArray(und, cJSON_CreateString("webhook"));
	cJSON_AddStringToObject(rec, "error", dv->error);
}

/* cdx_alert_retry_due: whether a notification undelivered after RETRIES
 * later tries, the last at TRIED_MS, is to be tried again at NOW_MS:
 * BACKOFF_MS after the first try, doubling at each retry, at most an hour
 * (or BACKOFF_MS when that is longer) */
bool cdx_alert_retry_due(int64_t tried_ms, int retries, int64_t backoff_ms, int64_t now_ms)
{
	int64_t wait = backoff_ms,
		cap = backoff_ms > RETRY_BACKOFF_MAX_MS ? backoff_ms : RETRY_BACKOFF_MAX_MS;
	int i;
	for (i = 0; i < retries && wait < cap; i++)
		wait *= 2;
	if (wait > cap)
		wait = cap;
	return now_ms - tried_ms >= wait;
}

static const struct cdx_alert_rule *rule_named(const struct cdx_monitor_config *c, const char *name)
{
	size_t i;
	for (i = 0; i < c->n_alerts; i++)
		if (strcmp(c->alerts[i].name, name) == 0)
			return &c->alerts[i];
	return NULL;
}

/* the last events still undelivered whose turn has come: try their failed
 * channels again, once each, and record an alert_delivery event */
static int retry_undelivered(struct cdx_store *s, const struct cdx_monitor_config *c, const struct events *e,
			     cJSON *actions, struct cdx_error *err)
{
	const cJSON *ev;
	int64_t now = cdx_wall_ms();
	cJSON_ArrayForEach(ev, e->last)
	{
		const struct cdx_alert_rule *rule = rule_named(c, cdx_js(ev, "alert"));
		const cJSON *ch;
		unsigned want = 0;
		struct delivery dv;
		cJSON *rec;
		int retries = (int)cdx_jn(ev, "retries");
		double tried = cdx_jn(ev, "tried_ms") ? cdx_jn(ev, "tried_ms") : cdx_jn(ev, "at_ms");
		if (strcmp(cdx_js(ev, "delivery"), "undelivered") != 0 || !rule)
			continue;
		cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(ev, "undelivered"))
		{
			if (cJSON_IsString(ch) && strcmp(ch->valuestring, "notify") == 0 && rule->notify)
				want |= CH_NOTIFY;
			if (cJSON_IsString(ch) && strcmp(ch->valuestring, "webhook") == 0 && rule->webhook)
				want |= CH_WEBHOOK;
		}
		if (!want || !cdx_alert_retry_due((int64_t)tried, retries, c->retry_backoff_ms, now))
			continue;
		deliver(c, rule, ev, want, 1, &dv);
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "t", "event");
		cJSON_AddStringToObject(rec, "kind", "alert_delivery");
		cJSON_AddStringToObject(rec, "alert", rule->name);
		cJSON_AddStringToObject(rec, "subject", cdx_js(ev, "subject"));
		cJSON_AddStringToObject(rec, "of", cdx_js(ev, "kind"));
		cJSON_AddStringToObject(rec, "state", cdx_js(ev, "state"));
		cJSON_AddNumberToObject(rec, "event_at_ms", cdx_jn(ev, "at_ms"));
		if (want & CH_NOTIFY)
			cJSON_AddNumberToObject(rec, "notify_status", dv.notify_status);
		if (want & CH_WEBHOOK)
			cJSON_AddNumberToObject(rec, "webhook_status", (double)dv.webhook_status);
		delivery_fields(rec, &dv, (int)cdx_jn(ev, "attempts") + dv.attempts, retries + 1);
		cJSON_AddNumberToObject(rec, "at_ms", (double)cdx_wall_ms());
		if (s->ops->append(s, rec, err) < 0 || s->ops->flush(s, err) < 0) {
			cJSON_Delete(rec);
			return -1;
		}
		cJSON_DeleteItemFromObject(rec, "t");
		cJSON_AddItemToArray(actions, rec);
	}
	return 0;
}

cJSON *cdx_monitor_undelivered(struct cdx_store *s)
{
	struct events e;
	struct cdx_error err = {0};
	cJSON *out = cJSON_CreateArray(), *ev;
	if (events_load(s, &e, &err) == 0) {
		cJSON_ArrayForEach(ev, e.last)
		{
			cJSON *o;
			if (strcmp(cdx_js(ev, "delivery"), "undelivered") != 0)
				continue;
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "alert", cdx_js(ev, "alert"));
			cJSON_AddStringToObject(o, "subject", cdx_js(ev, "subject"));
			cJSON_AddStringToObject(o, "state", cdx_js(ev, "state"));
			cJSON_AddNumberToObject(o, "at_ms", cdx_jn(ev, "at_ms"));
			cJSON_AddNumberToObject(o, "attempts", cdx_jn(ev, "attempts"));
			cJSON_AddNumberToObject(o, "tried_ms",
						cdx_jn(ev, "tried_ms") ? cdx_jn(ev, "tried_ms")
								       : cdx_jn(ev, "at_ms"));
			cJSON_AddItemToObject(
			    o, "undelivered",
			    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "undelivered"), 1));
			cJSON_AddStringToObject(o, "error", cdx_js(ev, "error"));
			cJSON_AddItemToArray(out, o);
		}
	}
	events_free(&e);
	return out;
}

struct verdict {
	bool known;        /* the condition could be evaluated */
	bool active;       /* it holds */
	double value;      /* the measured value */
	char message[256]; /* what a person reads */
};

/* the alert event of KIND for RULE and SUBJECT: deliver, then record */
static int announce(struct cdx_store *s, const struct cdx_monitor_config *c, const struct cdx_alert_rule *rule,
		    const char *subject, const char *kind, const struct verdict *v, const cJSON *detail,
		    cJSON *actions, struct cdx_error *err)
{
	cJSON *ev = cJSON_CreateObject();
	int rc = 0;
	cJSON_AddStringToObject(ev, "t", "event");
	cJSON_AddStringToObject(ev, "kind", kind);
	cJSON_AddStringToObject(ev, "alert", rule->name);
	cJSON_AddStringToObject(ev, "subject", subject);
	cJSON_AddStringToObject(ev, "state", strcmp(kind, "alert") == 0 ? "firing" : "resolved");
	cJSON_AddStringToObject(ev, "when", rule->when);
	if (strncmp(subject, "pipeline:", 9) == 0)
		cJSON_AddStringToObject(ev, "pipeline", subject + 9);
	if (rule->kind != CDX_ALERT_ROLLED_BACK && rule->kind != CDX_ALERT_FROZEN) {
		cdx_monitor_add_num(ev, "value", v->value);
		cJSON_AddNumberToObject(ev, "threshold", rule->threshold);
	}
	cJSON_AddStringToObject(ev, "message", v->message);
	if (detail)
		cJSON_AddItemToObject(ev, "detail", cJSON_Duplicate(detail, 1));
	cJSON_AddNumberToObject(ev, "at_ms", (double)cdx_wall_ms());
	if (rule->notify || rule->webhook) {
		struct delivery dv;
		unsigned want = (rule->notify ? CH_NOTIFY : 0) | (rule->webhook ? CH_WEBHOOK : 0);
		deliver(c, rule, ev, want, DELIVER_ATTEMPTS, &dv);
		if (rule->notify) {
			cJSON_AddStringToObject(ev, "notify", rule->notify);
			cJSON_AddNumberToObject(ev, "notify_status", dv.notify_status);
		}
		if (rule->webhook) {
			char *site = url_site(rule->webhook);
			cJSON_AddStringToObject(ev, "webhook", site);
			cJSON_AddNumberToObject(ev, "webhook_status", (double)dv.webhook_status);
			free(site);
		}
		delivery_fields(ev, &dv, dv.attempts, 0);
		cJSON_AddNumberToObject(ev, "tried_ms",
					(double)cdx_wall_ms()); /* retry_backoff counts from here */
	}
	if (s->ops->append(s, ev, err) < 0 || s->ops->flush(s, err) < 0)
		rc = -1;
	cJSON_DeleteItemFromObject(ev, "t");
	cJSON_AddItemToArray(actions, ev);
	return rc;
}

static void pipeline_verdict(const struct cdx_alert_rule *r, const struct cdx_monitor_config *c, cJSON **fin,
			     size_t n_fin, struct verdict *v)
{
	size_t w = r->window ? r->window : c->window;
	struct cdx_wstats cur, prev;
	memset(v, 0, sizeof(*v));
	cdx_monitor_wstats(fin, n_fin, 0, w, &cur);
	switch (r->kind) {
	case CDX_ALERT_CONSECUTIVE_FAILURES:
		v->known = cur.runs > 0;
		v->value = cur.consec;
		v->active = cur.consec >= r->threshold;
		snprintf(v->message, sizeof(v->message), "%u consecutive failed run%s (alert at %g)", cur.consec,
			 cur.consec == 1 ? "" : "s", r->threshold);
		break;
	case CDX_ALERT_SUCCESS_RATE:
		/* a rate over a window that is not full yet is not that rate */
		v->known = cur.runs >= w && cur.runs >= c->min_runs;
		v->value = cur.rate;
		v->active = v->known && cur.rate < r->threshold;
		snprintf(v->message, sizeof(v->message), "success rate %.0f%% over the last %zu runs (alert below %.0f%%)",
			 cur.runs ? cur.rate * 100 : 0.0, cur.runs, r->threshold * 100);
		break;
	case CDX_ALERT_P95:
		cdx_monitor_wstats(fin, n_fin, w, w, &prev);
		v->known = cur.runs >= c->min_runs && prev.runs >= c->min_runs && prev.p95 > 0;
		v->value = v->known ? cur.p95 / prev.p95 : 0;
		v->active = v->known && cur.p95 > r->threshold * prev.p95;
		snprintf(v->message, sizeof(v->message), "p95 duration %.2fs is %.2f x the baseline %.2fs (alert above %g x)",
			 cur.p95 / 1000, v->value, prev.p95 / 1000, r->threshold);
		break;
	default:
		break;
	}
}

static bool rule_applies(const struct cdx_alert_rule *r, const char *pipeline)
{
	if (r->kind == CDX_ALERT_ROLLED_BACK || r->kind == CDX_ALERT_FROZEN)
		return false;
	if (r->pipeline)
		return !pipeline || strcmp(r->pipeline, pipeline) == 0;
	return pipeline != NULL;
}

static int eval_pipeline(struct cdx_store *s, const struct cdx_monitor_config *c, const char *pipeline,
			 const struct events *e, cJSON *actions, struct cdx_error *err)
{
	size_t i, wmax = c->window, n_fin;
	cJSON *runs, **fin;
	char subject[128];
	int rc = 0;
	bool any = false;
	for (i = 0; i < c->n_alerts; i++) {
		const struct cdx_alert_rule *r = &c->alerts[i];
		if ((r->pipeline && strcmp(r->pipeline, pipeline) != 0) || r->kind == CDX_ALERT_ROLLED_BACK ||
		    r->kind == CDX_ALERT_FROZEN)
			continue;
		any = true;
		if (r->window > wmax)
			wmax = r->window;
	}
	if (!any)
		return 0;
	runs = cdx_runs_recent(s, pipeline, 2 * wmax + 8, err);
	if (!runs)
		return -1;
	fin = cdx_monitor_finished(runs, &n_fin);
	snprintf(subject, sizeof(subject), "pipeline:%s", pipeline);
	for (i = 0; i < c->n_alerts && rc == 0; i++) {
		const struct cdx_alert_rule *r = &c->alerts[i];
		struct verdict v;
		bool firing;
		if ((r->pipeline && strcmp(r->pipeline, pipeline) != 0) || r->kind == CDX_ALERT_ROLLED_BACK ||
		    r->kind == CDX_ALERT_FROZEN)
			continue;
		pipeline_verdict(r, c, fin, n_fin, &v);
		firing = is_firing(e, r->name, subject);
		if (v.active && !firing)
			rc = announce(s, c, r, subject, "alert", &v, NULL, actions, err);
		else if (!v.active && firing && v.known)
			rc = announce(s, c, r, subject, "alert_resolved", &v, NULL, actions, err);
	}
	free(fin);
	cJSON_Delete(runs);
	return rc;
}

static int eval_deploys(struct cdx_store *s, const struct cdx_monitor_config *c, const struct events *e,
			cJSON *actions, struct cdx_error *err)
{
	size_t i, k;
	int rc = 0;
	for (i = 0; i < c->n_alerts && rc == 0; i++) {
		const struct cdx_alert_rule *r = &c->alerts[i];
		if (r->kind != CDX_ALERT_ROLLED_BACK && r->kind != CDX_ALERT_FROZEN)
			continue;
		for (k = 0; k < e->n_ds && rc == 0; k++) {
			const struct deploy_state *d = &e->ds[k];
			char subject[200];
			struct verdict v;
			bool firing;
			memset(&v, 0, sizeof(v));
			snprintf(subject, sizeof(subject), "deploy:%s", d->key);
			v.known = true;
			v.active = r->kind == CDX_ALERT_ROLLED_BACK ? d->rolled_back : d->frozen;
			snprintf(v.message, sizeof(v.message), "deployment of %s %s", d->key,
				 r->kind == CDX_ALERT_ROLLED_BACK ? (v.active ? "rolled back" : "succeeded again")
								  : (v.active ? "is frozen" : "is no longer frozen"));
			firing = is_firing(e, r->name, subject);
			if (v.active && !firing)
				rc = announce(s, c, r, subject, "alert", &v, d->detail, actions, err);
			else if (!v.active && firing)
				rc = announce(s, c, r, subject, "alert_resolved", &v, NULL, actions, err);
		}
	}
	return rc;
}

cJSON *cdx_monitor_alerts_in(struct cdx_store *s, const char *pipeline, const struct cdx_monitor_config *c,
			     struct cdx_error *err)
{
	struct alerts_lock l;
	struct events e;
	cJSON *actions;
	size_t i;
	int rc;
	if (!c->n_alerts)
		return cJSON_CreateArray();
	if (alerts_lock(s, &l, err) < 0)
		return NULL;
	actions = cJSON_CreateArray();
	rc = events_load(s, &e, err);
	/* the notifications still owed first, so that they arrive before any
	 * newer one of the same alert */
	if (rc == 0)
		rc = retry_undelivered(s, c, &e, actions, err);
	if (rc == 0 && pipeline)
		rc = eval_pipeline(s, c, pipeline, &e, actions, err);
	/* rules that name their pipeline are evaluated for it when called
	 * without one (cdx monitor, the deployment side) */
	for (i = 0; rc == 0 && !pipeline && i < c->n_alerts; i++) {
		size_t k;
		bool seen = false;
		if (!c->alerts[i].pipeline || !rule_applies(&c->alerts[i], NULL))
			continue;
		for (k = 0; k < i; k++)
			if (c->alerts[k].pipeline && strcmp(c->alerts[k].pipeline, c->alerts[i].pipeline) == 0)
				seen = true;
		if (!seen)
			rc = eval_pipeline(s, c, c->alerts[i].pipeline, &e, actions, err);
	}
	if (rc == 0)
		rc = eval_deploys(s, c, &e, actions, err);
	events_free(&e);
	alerts_unlock(s, &l);
	if (rc < 0) {
		cJSON_Delete(actions);
		return NULL;
	}
	return actions;
}

cJSON *cdx_monitor_alerts(const char *state, const struct cdx_project *pr, const char *pipeline,
			  struct cdx_error *err)
{
	struct cdx_store *s;
	cJSON *a;
	int rc;
	if (pipeline && !cdx_name_valid(pipeline)) {
		cdx_error_set(err, CDX_EUSAGE, "'%s' is not a pipeline name", pipeline);
		return NULL;
	}
	if (!pr || !cdx_project_monitoring(pr)->n_alerts)
		return cJSON_CreateArray();
	rc = cdx_store_open_existing(state, &s, err); /* alerts record their events */
	if (rc < 0)
		return NULL;
	if (rc > 0)
		return cJSON_CreateArray(); /* nothing recorded: nothing to alert on */
	a = cdx_monitor_alerts_in(s, pipeline, cdx_project_monitoring(pr), err);
	cdx_store_close(s);
	return a;
}

