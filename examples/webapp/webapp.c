/* webapp.c — the example service that cdx deploys: a small HTTP/1.1 server.
 *
 * One process, one thread, one poll(2) loop over the listening socket and
 * every client connection, so it serves many concurrent clients with no
 * dependencies. Endpoints:
 *
 *   GET /health    200 "ok"; 500 "unhealthy" when the compiled-in version
 *                  contains "bad" (e.g. 1.3.0-bad): the version built to
 *                  fail its health check, which cdx must roll back
 *   GET /version   200 and the version compiled in with
 *                  -DWEBAPP_VERSION=\"1.2.0\"; 500 "error" when the version
 *                  contains "flaky" (e.g. 1.5.0-flaky): healthy, but failing
 *                  the requests it serves, which only a canary's analysis
 *                  of its error rate catches
 *   anything else  404; methods other than GET and HEAD get 405
 *
 * HTTP/1.1 keep-alive and pipelining are supported (HTTP/1.0 closes unless
 * the client asks for keep-alive). Limits: a request head is at most
 * WEBAPP_HEAD_MAX bytes (431 otherwise), at most WEBAPP_CONN_MAX
 * connections are open (further ones wait in the kernel's backlog), an idle
 * connection is closed after WEBAPP_IDLE_MS.
 *
 * SIGTERM or SIGINT stops the server gracefully: it accepts what already
 * sits in the kernel's accept queue, closes the listening socket, closes
 * idle connections, finishes every request it has begun to read (answering
 * it with "Connection: close") and exits 0 when the last connection is
 * done, or after WEBAPP_DRAIN_MS at the latest.
 *
 * Usage: webapp --port N [--daemon --pidfile FILE [--log FILE]]
 * It listens on 127.0.0.1 only. With --daemon it binds first (so a port in
 * use fails the start with exit 1), then detaches into its own session and
 * writes its pid to FILE (atomically, through a rename) before the
 * foreground process exits 0.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef WEBAPP_VERSION
#define WEBAPP_VERSION "0.0.0-dev"
#endif

#define WEBAPP_HEAD_MAX 8192  /* bytes of one request head */
#define WEBAPP_CONN_MAX 1024  /* open client connections */
#define WEBAPP_OUT_MAX 65536  /* bytes of queued responses per connection */
#define WEBAPP_IDLE_MS 30000  /* an idle keep-alive connection is closed */
#define WEBAPP_DRAIN_MS 10000 /* longest graceful shutdown */

struct conn {
	int fd;                   /* -1 when the slot is free */
	char in[WEBAPP_HEAD_MAX]; /* bytes read, not yet parsed */
	size_t in_len;            /* bytes used in in[] */
	size_t skip;              /* request body bytes still to discard */
	char *out;                /* responses not yet written (malloc) */
	size_t out_len, out_off;  /* bytes queued; bytes of them written */
	int closing;              /* close once out[] is written */
	unsigned long served;     /* requests answered */
	long long accepted_ms;    /* accept time, monotonic ms */
	long long last_ms;        /* last activity, monotonic ms */
};

static struct conn conns[WEBAPP_CONN_MAX];
static int sig_pipe[2] = {-1, -1};
static FILE *logf;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logmsg(const char *fmt, ...)
{
	va_list ap;
	time_t t = time(NULL);
	struct tm tm;
	char stamp[32];
	FILE *f = logf ? logf : stderr;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "%s webapp[%ld] ", stamp, (long)getpid());
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;
	/* a full pipe already holds a wake-up; nothing to do on failure */
	if (write(sig_pipe[1], &c, 1) < 0) {
	}
	errno = saved;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int version_is_bad(void)
{
	return strstr(WEBAPP_VERSION, "bad") != NULL;
}

static int version_is_flaky(void)
{
	return strstr(WEBAPP_VERSION, "flaky") != NULL;
}

/* Queue a response on c. Returns 0, or -1 when the connection's output
 * limit is reached (the caller closes it). */
static int respond(struct conn *c, int status, const char *reason, const char *body, int head_only, int keep)
{
	char hdr[256];
	size_t blen = strlen(body), hlen, need;
	int n;
	char *p;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "Server: webapp/%s\r\nConnection: %s\r\n\r\n",
		     status, reason, blen, status == 200 ? WEBAPP_VERSION : "-",
		     keep ? "keep-alive" : "close");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -1;
	hlen = (size_t)n;
	need = c->out_len - c->out_off + hlen + (head_only ? 0 : blen);
	if (need > WEBAPP_OUT_MAX)
		return -1;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	p = realloc(c->out, c->out_len + hlen + blen + 1);
	if (!p)
		return -1;
	c->out = p;
	memcpy(c->out + c->out_len, hdr, hlen);
	c->out_len += hlen;
	if (!head_only) {
		memcpy(c->out + c->out_len, body, blen);
		c->out_len += blen;
	}
	if (!keep)
		c->closing = 1;
	return 0;
}

/* Find header NAME (case-insensitive) in the head [p, end); copies its
 * trimmed value into val. Returns 1 when found. */
static int header(const char *p, const char *end, const char *name, char *val, size_t vsz)
{
	size_t nl = strlen(name);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *ve = eol;
			size_t len;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			len = (size_t)(ve - v);
			if (len >= vsz)
				len = vsz - 1;
			memcpy(val, v, len);
			val[len] = '\0';
			return 1;
		}
		p = eol + 1;
	}
	return 0;
}

/* Answer the request whose head is in[0, head_len). Returns 0, or -1 when
 * the connection must be closed at once. */
static int handle(struct conn *c, size_t head_len, int draining)
{
	char method[16], path[1024], proto[16], val[64];
	const char *end = c->in + head_len;
	const char *sp1, *sp2, *eol;
	int keep, head_only;
	size_t ml, pl, vl;

	eol = memchr(c->in, '\n', head_len);
	sp1 = memchr(c->in, ' ', head_len);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	if (!eol || !sp1 || !sp2 || sp2 > eol)
		return respond(c, 400, "Bad Request", "bad request\n", 0, 0);
	ml = (size_t)(sp1 - c->in);
	pl = (size_t)(sp2 - sp1 - 1);
	vl = (size_t)(eol - sp2 - 1);
	if (vl > 0 && sp2[vl] == '\r')
		vl--;
	if (ml == 0 || ml >= sizeof(method) || pl == 0 || pl >= sizeof(path) || vl >= sizeof(proto))
		return respond(c, 400, "Bad Request", "bad request\n", 0, 0);
	memcpy(method, c->in, ml);
	method[ml] = '\0';
	memcpy(path, sp1 + 1, pl);
	path[pl] = '\0';
	memcpy(proto, sp2 + 1, vl);
	proto[vl] = '\0';
	if (strncmp(proto, "HTTP/1.", 7) != 0)
		return respond(c, 400, "Bad Request", "bad request\n", 0, 0);

	keep = strcmp(proto, "HTTP/1.0") != 0;
	if (header(eol + 1, end, "Connection", val, sizeof(val))) {
		if (strcasecmp(val, "close") == 0)
			keep = 0;
		else if (strcasecmp(val, "keep-alive") == 0)
			keep = 1;
	}
	if (header(eol + 1, end, "Content-Length", val, sizeof(val))) {
		char *e;
		unsigned long long n = strtoull(val, &e, 10);
		if (*e || n > 1048576)
			return respond(c, 400, "Bad Request", "bad request\n", 0, 0);
		c->skip = (size_t)n;
	}
	if (header(eol + 1, end, "Transfer-Encoding", val, sizeof(val)))
		return respond(c, 501, "Not Implemented", "chunked bodies not supported\n", 0, 0);
	if (draining)
		keep = 0;
	c->served++;

	head_only = strcmp(method, "HEAD") == 0;
	if (!head_only && strcmp(method, "GET") != 0)
		return respond(c, 405, "Method Not Allowed", "method not allowed\n", 0, keep);
	{
		char *q = strchr(path, '?');
		if (q)
			*q = '\0';
	}
	if (strcmp(path, "/health") == 0) {
		if (version_is_bad())
			return respond(c, 500, "Internal Server Error", "unhealthy\n", head_only, keep);
		return respond(c, 200, "OK", "ok\n", head_only, keep);
	}
	if (strcmp(path, "/version") == 0 && version_is_flaky())
		return respond(c, 500, "Internal Server Error", "error\n", head_only, keep);
	if (strcmp(path, "/version") == 0)
		return respond(c, 200, "OK", WEBAPP_VERSION "\n", head_only, keep);
	return respond(c, 404, "Not Found", "not found\n", head_only, keep);
}

/* Parse and answer every complete request in c->in. Returns -1 when the
 * connection must be closed. */
static int process(struct conn *c, int draining)
{
	for (;;) {
		size_t k, head_len = 0;
		if (c->skip > 0) {
			size_t n = c->skip < c->in_len ? c->skip : c->in_len;
			memmove(c->in, c->in + n, c->in_len - n);
			c->in_len -= n;
			c->skip -= n;
			if (c->skip > 0)
				return 0;
		}
		if (c->closing)
			return 0;
		/* tolerate empty lines before a request (RFC 9112 2.2) */
		while (c->in_len > 0 && (c->in[0] == '\r' || c->in[0] == '\n')) {
			memmove(c->in, c->in + 1, c->in_len - 1);
			c->in_len--;
		}
		for (k = 3; k < c->in_len; k++)
			if (c->in[k] == '\n' && c->in[k - 1] == '\r' && c->in[k - 2] == '\n' &&
			    c->in[k - 3] == '\r') {
				head_len = k + 1;
				break;
			}
		if (!head_len) {
			for (k = 1; k < c->in_len; k++)
				if (c->in[k] == '\n' && c->in[k - 1] == '\n') {
					head_len = k + 1;
					break;
				}
		}
		if (!head_len) {
			if (c->in_len == sizeof(c->in)) {
				if (respond(c, 431, "Request Header Fields Too Large", "header too large\n",
					    0, 0) < 0)
					return -1;
				c->in_len = 0;
			}
			return 0;
		}
		if (handle(c, head_len, draining) < 0)
			return -1;
		memmove(c->in, c->in + head_len, c->in_len - head_len);
		c->in_len -= head_len;
	}
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Write what is queued. Returns -1 on a write error. */
static int flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* Accept every pending connection. Returns the number accepted. */
static int accept_all(int lfd)
{
	int n = 0;
	for (;;) {
		int fd, i, one = 1;
		for (i = 0; i < WEBAPP_CONN_MAX && conns[i].fd >= 0; i++)
			;
		if (i == WEBAPP_CONN_MAX)
			return n; /* the rest waits in the backlog */
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
				logmsg("accept: %s", strerror(errno));
			return n;
		}
		if (set_nonblock(fd) < 0) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conns[i].fd = fd;
		conns[i].accepted_ms = conns[i].last_ms = now_ms();
		n++;
	}
}

static int listen_on(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "webapp: socket: %s\n", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 511) < 0 || set_nonblock(fd) < 0) {
		fprintf(stderr, "webapp: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Detach into a new session, closing every descriptor but 0-2 (redirected)
 * and KEEP; the foreground process writes the child's pid to pidfile
 * (through a rename) and exits 0. Returns in the child. */
static void daemonize(const char *pidfile, const char *logpath, int keep)
{
	pid_t pid;
	int fd;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "webapp: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		char tmp[4096];
		FILE *f;
		if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", pidfile, (long)getpid()) >= (int)sizeof(tmp)) {
			fprintf(stderr, "webapp: pidfile name too long\n");
			kill(pid, SIGKILL);
			exit(1);
		}
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%ld\n", (long)pid) < 0 || fclose(f) != 0 || rename(tmp, pidfile) < 0) {
			fprintf(stderr, "webapp: cannot write %s: %s\n", pidfile, strerror(errno));
			kill(pid, SIGKILL);
			exit(1);
		}
		_exit(0);
	}
	setsid();
	/* whatever the starter left open (a lock, a pipe) is not ours to hold */
	for (fd = 3; fd < 1024; fd++)
		if (fd != keep)
			close(fd);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		if (fd > 0)
			close(fd);
	}
	fd = open(logpath ? logpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: webapp --port N [--daemon --pidfile FILE [--log FILE]]\n"
		   "       webapp --version\n");
}

int main(int argc, char **argv)
{
	static struct pollfd pfd[WEBAPP_CONN_MAX + 2];
	static int idx[WEBAPP_CONN_MAX + 2];
	const char *pidfile = NULL, *logpath = NULL;
	int port = 0, daemon_mode = 0, lfd, i, draining = 0;
	long long drain_until = 0;
	struct sigaction sa;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			char *e;
			long v = strtol(argv[++i], &e, 10);
			if (*e || v < 1 || v > 65535) {
				fprintf(stderr, "webapp: bad port %s\n", argv[i]);
				return 2;
			}
			port = (int)v;
		} else if (strcmp(argv[i], "--daemon") == 0) {
			daemon_mode = 1;
		} else if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc) {
			pidfile = argv[++i];
		} else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			logpath = argv[++i];
		} else if (strcmp(argv[i], "--version") == 0) {
			puts(WEBAPP_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!port || (daemon_mode && !pidfile)) {
		usage(stderr);
		return 2;
	}

	lfd = listen_on(port);
	if (lfd < 0)
		return 1;
	if (daemon_mode)
		daemonize(pidfile, logpath, lfd);

	if (pipe(sig_pipe) < 0 || set_nonblock(sig_pipe[0]) < 0 || set_nonblock(sig_pipe[1]) < 0) {
		logmsg("pipe: %s", strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < WEBAPP_CONN_MAX; i++)
		conns[i].fd = -1;
	logmsg("version %s listening on 127.0.0.1:%d", WEBAPP_VERSION, port);

	for (;;) {
		int n = 0, timeout = 1000, r, open = 0;
		long long now;

		pfd[n].fd = sig_pipe[0];
		pfd[n].events = POLLIN;
		idx[n++] = -1;
		if (lfd >= 0) {
			pfd[n].fd = lfd;
			pfd[n].events = POLLIN;
			idx[n++] = -2;
		}
		for (i = 0; i < WEBAPP_CONN_MAX; i++) {
			struct conn *c = &conns[i];
			if (c->fd < 0)
				continue;
			open++;
			pfd[n].fd = c->fd;
			pfd[n].events =
			    (short)((c->out_off < c->out_len ? POLLOUT : 0) | (c->closing ? 0 : POLLIN));
			idx[n++] = i;
		}
		if (draining && (open == 0 || now_ms() >= drain_until)) {
			logmsg("stopped (%d connections left)", open);
			return 0;
		}
		r = poll(pfd, (nfds_t)n, draining ? 100 : timeout);
		if (r < 0 && errno != EINTR) {
			logmsg("poll: %s", strerror(errno));
			return 1;
		}
		now = now_ms();
		for (i = 0; r > 0 && i < n; i++) {
			struct conn *c;
			if (!pfd[i].revents)
				continue;
			if (idx[i] == -1) {
				unsigned char buf[16];
				while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
					;
				if (!draining) {
					draining = 1;
					drain_until = now + WEBAPP_DRAIN_MS;
					/* what the kernel already accepted is in flight too */
					if (lfd >= 0) {
						accept_all(lfd);
						close(lfd);
						lfd = -1;
					}
					logmsg("stopping: no new connections, finishing requests");
				}
				continue;
			}
			if (idx[i] == -2) {
				accept_all(lfd);
				continue;
			}
			c = &conns[idx[i]];
			if (c->fd < 0)
				continue;
			if (pfd[i].revents & POLLIN) {
				ssize_t got = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
				if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
					conn_close(c);
					continue;
				}
				if (got > 0) {
					c->in_len += (size_t)got;
					c->last_ms = now;
					if (process(c, draining) < 0) {
						conn_close(c);
						continue;
					}
				}
			} else if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				if (!(pfd[i].revents & POLLOUT)) {
					conn_close(c);
					continue;
				}
			}
			if (c->out_off < c->out_len) {
				if (flush_out(c) < 0) {
					conn_close(c);
					continue;
				}
				c->last_ms = now;
			}
		}
		/* connections to retire: answered and closing, idle keep-alive ones
		 * when draining, and any idle for too long */
		for (i = 0; i < WEBAPP_CONN_MAX; i++) {
			struct conn *c = &conns[i];
			char b;
			if (c->fd < 0 || c->out_off < c->out_len)
				continue;
			if (c->closing) {
				conn_close(c);
			} else if (now - c->last_ms > WEBAPP_IDLE_MS) {
				conn_close(c);
			} else if (draining && c->in_len == 0 && c->skip == 0 &&
				   (c->served > 0 || now - c->accepted_ms > 1000) &&
				   recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN) {
				/* idle between requests, nothing arrived: safe to close */
				conn_close(c);
			}
		}
		if (lfd >= 0 && r == 0)
			accept_all(lfd); /* slots may have freed up for the backlog */
	}
}
