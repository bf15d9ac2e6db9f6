/* loadgen.c — sends HTTP requests in a loop and counts what came back.
 *
 * The tests of examples/webapp run it throughout a deployment to prove that
 * no request fails while traffic moves between versions. N threads (one
 * connection each) send GET requests to one URL until SIGTERM or SIGINT
 * arrives, a stop file appears, or a duration passes; then it prints one
 * JSON object:
 *
 *   {"total":N,"ok":N,"failed":N,"retried":N,"status":{"200":N,...},
 *    "errors":{"connect":N,"io":N,"timeout":N,"parse":N},
 *    "versions":{"1.2.0":N,...},"seconds":S}
 *
 * failed = connection errors, timeouts, unparsable responses and non-2xx
 * statuses; versions counts the bodies (trimmed, at most 63 bytes) of the
 * 2xx responses. By default every request uses a new connection
 * (Connection: close). With --keepalive a connection is reused, and a
 * request whose reused connection closes before any byte of the response
 * arrives is sent again once on a new connection, as RFC 9112 9.3.1 allows
 * for idempotent requests (counted in "retried", not in "failed").
 *
 * Usage: loadgen [-c N] [--interval-ms MS] [--timeout-ms MS]
 *                [--stop-file FILE] [--duration SEC] [--keepalive] URL
 * URL is http://HOST[:PORT]/PATH with HOST a numeric IPv4 address or
 * localhost. Exit status: 0 when no request failed, 1 otherwise, 2 usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LG_THREADS_MAX 256 /* concurrent connections */
#define LG_VERSIONS_MAX 64 /* distinct bodies counted */
#define LG_BODY_MAX 64     /* bytes of a body kept as a version key */
#define LG_RESP_MAX 65536  /* bytes of one response read */

enum lg_err { LG_OK, LG_CONNECT, LG_IO, LG_TIMEOUT, LG_PARSE, LG_ERR_N };
static const char *const lg_err_name[LG_ERR_N] = {"ok", "connect", "io", "timeout", "parse"};

static struct sockaddr_in target;
static char request[2048];
static char request_ka[2048];
static int keepalive, interval_ms = 2, timeout_ms = 5000;
static volatile sig_atomic_t stop_now;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long n_total, n_ok, n_failed, n_retried, n_err[LG_ERR_N];
static unsigned long n_status[600];
static struct {
	char body[LG_BODY_MAX];
	unsigned long n;
} versions[LG_VERSIONS_MAX];
static int n_versions;
static unsigned long n_logged;

static void record(int status, const char *body, enum lg_err err, const char *why)
{
	pthread_mutex_lock(&mu);
	n_total++;
	if (err != LG_OK) {
		n_failed++;
		n_err[err]++;
	} else {
		if (status >= 100 && status < 600)
			n_status[status]++;
		if (status >= 200 && status < 300) {
			int i;
			n_ok++;
			for (i = 0; i < n_versions && strcmp(versions[i].body, body) != 0; i++)
				;
			if (i == n_versions && n_versions < LG_VERSIONS_MAX)
				snprintf(versions[n_versions++].body, LG_BODY_MAX, "%s", body);
			if (i < n_versions)
				versions[i].n++;
		} else {
			n_failed++;
		}
	}
	if ((err != LG_OK || status < 200 || status >= 300) && n_logged++ < 20)
		fprintf(stderr, "loadgen: request failed: %s\n",
			err != LG_OK ? why : (status ? "non-2xx status" : "no status"));
	pthread_mutex_unlock(&mu);
}

static int open_conn(void)
{
	struct timeval tv;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0)
		return -1;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&target, sizeof(target)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* One request on *fd (opened when < 0). Returns LG_OK with *status and
 * body, or an error; *got_any tells whether any response byte arrived.
 * On return *fd is still open only when the connection can be reused. */
static enum lg_err one_request(int *fd, int *status, char *body, int *got_any, const char **why)
{
	static _Thread_local char buf[LG_RESP_MAX + 1];
	const char *req = keepalive ? request_ka : request;
	size_t len = 0, reqlen = strlen(req), off = 0;
	char *head_end = NULL;
	long clen = -1;
	int server_close = !keepalive;

	*got_any = 0;
	*status = 0;
	body[0] = '\0';
	if (*fd < 0) {
		*fd = open_conn();
		if (*fd < 0) {
			*why = strerror(errno);
			return LG_CONNECT;
		}
	}
	while (off < reqlen) {
		ssize_t n = send(*fd, req + off, reqlen - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			goto io_fail;
		}
		off += (size_t)n;
	}
	for (;;) {
		ssize_t n;
		if (head_end && clen >= 0 && len >= (size_t)(head_end - buf) + (size_t)clen)
			break;
		if (len == LG_RESP_MAX) {
			*why = "response too large";
			close(*fd);
			*fd = -1;
			return LG_PARSE;
		}
		n = recv(*fd, buf + len, LG_RESP_MAX - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			*why = strerror(e);
			close(*fd);
			*fd = -1;
			return (e == EAGAIN || e == EWOULDBLOCK) ? LG_TIMEOUT : LG_IO;
		}
		if (n == 0) {
			if (head_end && clen < 0)
				break; /* body delimited by the close */
			*why = len ? "connection closed mid-response" : "connection closed before a response";
			goto io_fail;
		}
		*got_any = 1;
		len += (size_t)n;
		buf[len] = '\0';
		if (!head_end) {
			char *h = strstr(buf, "\r\n\r\n"), *p;
			if (!h)
				continue;
			head_end = h + 4;
			if (strncmp(buf, "HTTP/1.", 7) != 0 || len < 12 || buf[8] != ' ') {
				*why = "not an HTTP response";
				close(*fd);
				*fd = -1;
				return LG_PARSE;
			}
			*status = atoi(buf + 9);
			for (p = strstr(buf, "\r\n"); p && p < h; p = strstr(p + 2, "\r\n")) {
				if (strncasecmp(p + 2, "Content-Length:", 15) == 0)
					clen = strtol(p + 17, NULL, 10);
				else if (strncasecmp(p + 2, "Connection:", 11) == 0) {
					const char *v = p + 13, *e = strstr(v, "\r\n");
					while (*v == ' ')
						v++;
					if (e && (size_t)(e - v) >= 5 && strncasecmp(v, "close", 5) == 0)
						server_close = 1;
				}
			}
		}
	}
	{
		size_t blen = len - (size_t)(head_end - buf);
		const char *b = head_end;
		if (clen >= 0 && (size_t)clen < blen)
			blen = (size_t)clen;
		while (blen > 0 && (b[blen - 1] == '\n' || b[blen - 1] == '\r' || b[blen - 1] == ' '))
			blen--;
		if (blen >= LG_BODY_MAX)
			blen = LG_BODY_MAX - 1;
		memcpy(body, b, blen);
		body[blen] = '\0';
	}
	if (server_close || clen < 0) {
		close(*fd);
		*fd = -1;
	}
	return LG_OK;
io_fail:
	close(*fd);
	*fd = -1;
	return LG_IO;
}

static void *worker(void *arg)
{
	int fd = -1;
	(void)arg;
	while (!stop_now) {
		int status, got_any, reused = fd >= 0;
		char body[LG_BODY_MAX];
		const char *why = "";
		enum lg_err e = one_request(&fd, &status, body, &got_any, &why);
		if (e == LG_IO && reused && !got_any) {
			/* the server closed an idle connection as we reused it */
			pthread_mutex_lock(&mu);
			n_retried++;
			pthread_mutex_unlock(&mu);
			e = one_request(&fd, &status, body, &got_any, &why);
		}
		record(status, body, e, why);
		if (interval_ms > 0) {
			struct timespec ts = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int parse_url(const char *url, char *host, size_t hsz, int *port, const char **path)
{
	const char *p, *h;
	size_t hl;
	if (strncmp(url, "http://", 7) != 0)
		return -1;
	h = url + 7;
	p = h + strcspn(h, ":/");
	hl = (size_t)(p - h);
	if (hl == 0 || hl >= hsz)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = 80;
	if (*p == ':') {
		char *e;
		long v = strtol(p + 1, &e, 10);
		if (v < 1 || v > 65535 || (*e && *e != '/'))
			return -1;
		*port = (int)v;
		p = e;
	}
	*path = *p ? p : "/";
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen [-c N] [--interval-ms MS] [--timeout-ms MS] [--stop-file FILE]\n"
			"               [--duration SEC] [--keepalive] URL\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t th[LG_THREADS_MAX];
	const char *url = NULL, *stop_file = NULL, *path;
	char host[256];
	int i, nthreads = 4, port, first;
	double duration = 0;
	struct timespec t0, t1;
	sigset_t set;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
			interval_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
			timeout_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--stop-file") == 0 && i + 1 < argc)
			stop_file = argv[++i];
		else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
			duration = atof(argv[++i]);
		else if (strcmp(argv[i], "--keepalive") == 0)
			keepalive = 1;
		else if (argv[i][0] == '-' || url)
			usage();
		else
			url = argv[i];
	}
	if (!url || nthreads < 1 || nthreads > LG_THREADS_MAX || interval_ms < 0 || timeout_ms < 1)
		usage();
	if (parse_url(url, host, sizeof(host), &port, &path) < 0) {
		fprintf(stderr, "loadgen: cannot parse %s (want http://IPV4[:PORT]/PATH)\n", url);
		return 2;
	}
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &target.sin_addr) != 1) {
		fprintf(stderr, "loadgen: %s is not a numeric IPv4 address\n", host);
		return 2;
	}
	if (strlen(path) > 1000)
		usage();
	snprintf(request, sizeof(request),
		 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: cdx-loadgen\r\nConnection: close\r\n\r\n",
		 path, host, port);
	snprintf(request_ka, sizeof(request_ka),
		 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: cdx-loadgen\r\n\r\n", path, host, port);

	/* signals are taken by the main thread only, with sigtimedwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0) {
			fprintf(stderr, "loadgen: cannot start thread %d\n", i);
			return 2;
		}
	for (;;) {
		struct timespec wait = {0, 50 * 1000000L};
		struct stat st;
		double el;
		if (sigtimedwait(&set, NULL, &wait) > 0)
			break;
		if (stop_file && stat(stop_file, &st) == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (duration > 0 && el >= duration)
			break;
	}
	stop_now = 1;
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("{\"total\":%lu,\"ok\":%lu,\"failed\":%lu,\"retried\":%lu,\"status\":{", n_total, n_ok,
	       n_failed, n_retried);
	for (first = 1, i = 0; i < 600; i++)
		if (n_status[i]) {
			printf("%s\"%d\":%lu", first ? "" : ",", i, n_status[i]);
			first = 0;
		}
	printf("},\"errors\":{");
	for (i = 1; i < LG_ERR_N; i++)
		printf("%s\"%s\":%lu", i > 1 ? "," : "", lg_err_name[i], n_err[i]);
	printf("},\"versions\":{");
	for (i = 0; i < n_versions; i++) {
		if (i)
			putchar(',');
		json_str(versions[i].body);
		printf(":%lu", versions[i].n);
	}
	printf("},\"seconds\":%.3f}\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return n_failed ? 1 : 0;
}
