/* events.c — cdx serve's server-sent events: the store's records as they
 * are made durable (/events), and a job's log as it is written
 * (/events/log/RUN/STAGE/JOB).
 *
 * One thread, the hub, follows the store's tail (state/store.h: the
 * journal's tail on the file store, a blocking stream read on Redis) and
 * puts every record, printed once, in a ring of HUB_RING entries with a
 * sequence number; the streams wait on the hub's condition variable and
 * send what is new, each from its own connection thread (libmicrohttpd's
 * thread per connection): a client that reads slowly falls behind in the
 * ring (told with an event "gap") and never holds the others up.  A
 * stream wakes at least every second to notice the server stopping, and
 * sends a comment line after KEEPALIVE_MS of silence so that a client
 * that left is noticed.
 *
 * A log stream reads the newest attempt's log file (LOG_DIR/RUN/STAGE/
 * JOB.N.log: written masked by the runner) from at most LOG_BACKLOG
 * bytes before its end, then what is appended, woken by inotify; each
 * chunk goes as one event whose data is a JSON string.  Every JSON sent
 * has < > & escaped (\u003c ...), so that no stream holds markup.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "serve/http.h"
#include "state/store.h"

#define HUB_RING 4096
#define KEEPALIVE_MS 15000
#define LOG_BACKLOG (256 * 1024)
#define CHUNK 16384

struct hub_ev {
	char *data;   /* the record, compact JSON */
	char run[72]; /* the run it is about, or "" */
};

struct srv_hub {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t next; /* sequence number of the next record */
	struct hub_ev ring[HUB_RING];
	struct cdx_store *st;
	volatile int stop;
};

/* JSON, with < > & as \u escapes: the same value, never markup, even to a
 * client that shows the stream as it is */
static char *json_inert(const cJSON *v)
{
	char *js = cJSON_PrintUnformatted(v), *p;
	struct cdx_buf b = {0};
	if (!js)
		return NULL;
	for (p = js; *p; p++) {
		if (*p == '<')
			cdx_buf_adds(&b, "\\u003c");
		else if (*p == '>')
			cdx_buf_adds(&b, "\\u003e");
		else if (*p == '&')
			cdx_buf_adds(&b, "\\u0026");
		else
			cdx_buf_addc(&b, *p);
	}
	free(js);
	return cdx_buf_detach(&b);
}

static int hub_one(void *ctx, const cJSON *rec)
{
	struct srv_hub *h = ctx;
	struct hub_ev *e;
	const char *t = cdx_js(rec, "t"), *run;
	char *data = json_inert(rec);
	if (!data)
		return 0;
	run = strcmp(t, "run") == 0 || strcmp(t, "run_end") == 0 ? cdx_js(rec, "id") : cdx_js(rec, "run");
	pthread_mutex_lock(&h->mu);
	e = &h->ring[h->next % HUB_RING];
	free(e->data);
	e->data = data;
	snprintf(e->run, sizeof(e->run), "%s", run);
	h->next++;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

static void *hub_main(void *arg)
{
	struct srv_hub *h = arg;
	char cursor[64] = "$";
	while (!h->stop) {
		struct cdx_error err = {0};
		int rc = h->st->ops->tail(h->st, cursor, 1000, hub_one, h, &err);
		/* the streams wake once for what one look at the tail found */
		pthread_mutex_lock(&h->mu);
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		if (rc < 0) {
			/* the store went away: say so once a second, try again */
			struct timespec ts = {1, 0};
			fprintf(stderr, "cdx serve: following the store: %s\n", err.msg);
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int srv_hub_start(struct srv *s, struct cdx_error *err)
{
	struct srv_hub *h = calloc(1, sizeof(*h));
	if (!h) {
		cdx_error_set(err, CDX_EFAILED, "out of memory");
		return -1;
	}
	if (cdx_store_open_read(s->state, &h->st, err) != CDX_OPEN_OK) {
		if (!err->code)
			cdx_error_set(err, CDX_ESTATE, "nothing is recorded in %s", s->state);
		free(h);
		return -1;
	}
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->th, NULL, hub_main, h) != 0) {
		cdx_error_set(err, CDX_EFAILED, "cannot start the event thread");
		cdx_store_close(h->st);
		free(h);
		return -1;
	}
	s->hub = h;
	return 0;
}

void srv_hub_stop(struct srv *s)
{
	struct srv_hub *h = s->hub;
	if (!h)
		return;
	h->stop = 1;
	pthread_mutex_lock(&h->mu);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	cdx_store_close(h->st);
	h->st = NULL;
}

void srv_hub_free(struct srv *s)
{
	struct srv_hub *h = s->hub;
	size_t i;
	if (!h)
		return;
	s->hub = NULL;
	for (i = 0; i < HUB_RING; i++)
		free(h->ring[i].data);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* ---- /events ------------------------------------------------------------ */

struct sub {
	struct srv *s;
	uint64_t seq;       /* the next record to send */
	char run[72];       /* only this run's records, or "" for all */
	struct cdx_buf out; /* formatted, not sent yet */
	size_t off;
	int64_t quiet_ms; /* since the last send */
};

static ssize_t send_pending(struct sub *u, char *buf, size_t max)
{
	size_t n = u->out.len - u->off;
	if (n > max)
		n = max;
	memcpy(buf, u->out.data + u->off, n);
	u->off += n;
	if (u->off == u->out.len) {
		cdx_buf_reset(&u->out);
		u->off = 0;
	}
	return (ssize_t)n;
}

static ssize_t events_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sub *u = cls;
	struct srv_hub *h = u->s->hub;
	(void)pos;
	if (u->out.len)
		return send_pending(u, buf, max);
again:
	pthread_mutex_lock(&h->mu);
	while (u->seq == h->next && !u->s->stopping && !h->stop && u->quiet_ms < KEEPALIVE_MS) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT)
			u->quiet_ms += 1000;
	}
	if (u->s->stopping || h->stop) {
		pthread_mutex_unlock(&h->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (h->next - u->seq > HUB_RING) {
		cdx_buf_printf(&u->out, "event: gap\ndata: %llu\n\n",
			       (unsigned long long)(h->next - u->seq - HUB_RING));
		u->seq = h->next - HUB_RING;
	}
	for (; u->seq < h->next && u->out.len < CHUNK; u->seq++) {
		const struct hub_ev *e = &h->ring[u->seq % HUB_RING];
		if (u->run[0] && strcmp(u->run, e->run) != 0)
			continue;
		cdx_buf_printf(&u->out, "id: %llu\ndata: %s\n\n", (unsigned long long)u->seq, e->data);
	}
	pthread_mutex_unlock(&h->mu);
	if (!u->out.len) {
		if (u->quiet_ms < KEEPALIVE_MS)
			goto again; /* all filtered out: wait again */
		cdx_buf_adds(&u->out, ": keepalive\n\n");
	}
	u->quiet_ms = 0;
	return send_pending(u, buf, max);
}

static void sub_free(void *cls)
{
	struct sub *u = cls;
	cdx_buf_free(&u->out);
	free(u);
}

static struct MHD_Response *stream_response(void *cls, MHD_ContentReaderCallback rd,
					    MHD_ContentReaderFreeCallback fr)
{
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, CHUNK, rd, cls, fr);
	if (!resp) {
		fr(cls);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return resp;
}

/* ---- /events/log/RUN/STAGE/JOB ----------------------------------------- */

struct logsub {
	struct srv *s;
	int fd, in; /* the log, inotify */
	struct cdx_buf out;
	size_t off;
	int64_t quiet_ms;
	bool hello;
};

/* the newest attempt's log of RUN's STAGE/JOB, opened; -1 when none */
static int open_newest_log(const char *dir, const char *job, char *path, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t jl = strlen(job);
	long best = 0;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *end;
		long a;
		if (strncmp(de->d_name, job, jl) != 0 || de->d_name[jl] != '.')
			continue;
		a = strtol(de->d_name + jl + 1, &end, 10);
		if (a > best && strcmp(end, ".log") == 0)
			best = a;
	}
	closedir(d);
	if (!best)
		return -1;
	snprintf(path, n, "%s/%s.%ld.log", dir, job, best);
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static ssize_t log_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct logsub *u = cls;
	(void)pos;
	if (!u->out.len && !u->hello) {
		u->hello = true;
		cdx_buf_adds(&u->out, "retry: 2000\n: log\n\n");
	}
	while (!u->out.len) {
		char chunk[CHUNK / 2];
		ssize_t n;
		if (u->s->stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		n = read(u->fd, chunk, sizeof(chunk) - 1);
		if (n > 0) {
			cJSON *str;
			char *js;
			chunk[n] = '\0';
			str = cJSON_CreateString(chunk);
			js = json_inert(str);
			cdx_buf_printf(&u->out, "data: %s\n\n", js ? js : "\"\"");
			free(js);
			cJSON_Delete(str);
			break;
		}
		if (n < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		{
			struct pollfd p = {u->in, POLLIN, 0};
			char evbuf[4096];
			int pr = poll(&p, 1, 1000);
			if (pr > 0) {
				if (read(u->in, evbuf, sizeof(evbuf)) < 0 && errno != EAGAIN)
					return MHD_CONTENT_READER_END_WITH_ERROR;
			} else if (pr == 0 && (u->quiet_ms += 1000) >= KEEPALIVE_MS) {
				cdx_buf_adds(&u->out, ": keepalive\n\n");
			}
		}
	}
	u->quiet_ms = 0;
	{
		size_t n = u->out.len - u->off;
		if (n > max)
			n = max;
		memcpy(buf, u->out.data + u->off, n);
		u->off += n;
		if (u->off == u->out.len) {
			cdx_buf_reset(&u->out);
			u->off = 0;
		}
		return (ssize_t)n;
	}
}

static void logsub_free(void *cls)
{
	struct logsub *u = cls;
	if (u->fd >= 0)
		close(u->fd);
	if (u->in >= 0)
		close(u->in);
	cdx_buf_free(&u->out);
	free(u);
}

bool srv_events_route(struct srv_req *q, struct srv_reply *r)
{
	struct srv *s = q->srv;
	if (q->n_seg < 1 || strcmp(q->seg[0], "events") != 0)
		return false;
	if (strcmp(q->method, "GET") != 0) {
		srv_error_json(r, 405, "events are read with GET");
		return true;
	}
	if (q->n_seg == 1) {
		struct sub *u = calloc(1, sizeof(*u));
		const char *run = srv_query(q, "run");
		if (!u || (run && !cdx_name_valid(run))) {
			free(u);
			srv_error_json(r, 400, "not a run id");
			return true;
		}
		u->s = s;
		snprintf(u->run, sizeof(u->run), "%s", run ? run : "");
		pthread_mutex_lock(&s->hub->mu);
		u->seq = s->hub->next;
		pthread_mutex_unlock(&s->hub->mu);
		cdx_buf_adds(&u->out, "retry: 2000\n: events\n\n");
		r->stream = stream_response(u, events_reader, sub_free);
		r->status = 200;
		if (!r->stream)
			srv_error_json(r, 500, "cannot stream");
		return true;
	}
	if (q->n_seg == 5 && strcmp(q->seg[1], "log") == 0) {
		struct logsub *u = calloc(1, sizeof(*u));
		char *dir = cdx_xasprintf("%s/%s/%s", s->log_dir, q->seg[2], q->seg[3]);
		char path[4096];
		struct stat sb;
		u->s = s;
		u->in = -1;
		u->fd = open_newest_log(dir, q->seg[4], path, sizeof(path));
		free(dir);
		if (u->fd < 0) {
			logsub_free(u);
			srv_error_json(r, 404, "no log of %s/%s in run %s", q->seg[3], q->seg[4], q->seg[2]);
			return true;
		}
		if (fstat(u->fd, &sb) == 0 && sb.st_size > LOG_BACKLOG)
			lseek(u->fd, sb.st_size - LOG_BACKLOG, SEEK_SET);
		u->in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (u->in < 0 || inotify_add_watch(u->in, path, IN_MODIFY | IN_CLOSE_WRITE) < 0) {
			logsub_free(u);
			srv_error_json(r, 500, "cannot watch the log: %s", strerror(errno));
			return true;
		}
		r->stream = stream_response(u, log_reader, logsub_free);
		r->status = 200;
		if (!r->stream)
			srv_error_json(r, 500, "cannot stream");
		return true;
	}
	srv_error_json(r, 404, "no such event stream");
	return true;
}
