/* serve_bench.c — clients of cdx serve for bench/serve.sh:
 *
 *   serve_bench events PORT N -- CMD...
 *       open N event streams (GET /events) on 127.0.0.1:PORT, wait until
 *       each has its first bytes, run CMD (a `cdx run`), then read every
 *       stream until it has seen a run_end record; prints "clients N
 *       events_min A events_max B seconds S" (S: from CMD's start to the
 *       last stream's run_end).  Exit 1 when CMD fails or a stream ends
 *       early.
 *   serve_bench latency PORT PATH ITER
 *       ITER requests GET PATH on one keep-alive connection, one at a
 *       time; prints "requests ITER p50_ms A p99_ms B max_ms C".
 *
 * Plain sockets and poll(): the one thing measured is the server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("serve_bench: connect");
		exit(1);
	}
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			perror("serve_bench: write");
			exit(1);
		}
		s += w;
		n -= (size_t)w;
	}
}

struct stream {
	int fd;
	long events;
	int started, done;
	char tail[32]; /* the last bytes read, for a match across reads */
};

/* count NEEDLE in TAIL+BUF, keep the new tail */
static long scan(struct stream *st, const char *buf, size_t n, const char *needle, int *seen_end)
{
	static char joined[65536 + 64];
	size_t tl = strlen(st->tail), nl = strlen(needle);
	long c = 0;
	char *p;
	memcpy(joined, st->tail, tl);
	memcpy(joined + tl, buf, n);
	joined[tl + n] = '\0';
	for (p = joined; (p = strstr(p, needle)); p += nl)
		c++;
	if (strstr(joined, "\"t\":\"run_end\""))
		*seen_end = 1;
	tl = tl + n < sizeof(st->tail) - 1 ? tl + n : sizeof(st->tail) - 1;
	memcpy(st->tail, joined + strlen(joined) - tl, tl);
	st->tail[tl] = '\0';
	return c;
}

static int events(int port, int n, char **cmd)
{
	struct stream *s = calloc((size_t)n, sizeof(*s));
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	char buf[65536];
	int i, started = 0, done = 0, status, launched = 0;
	long mn = -1, mx = 0;
	double t0 = 0;
	pid_t pid = -1;
	for (i = 0; i < n; i++) {
		s[i].fd = dial(port);
		send_all(s[i].fd, "GET /events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n");
	}
	while (started < n || done < n) {
		if (started == n && !launched) {
			/* every stream is open: start the run */
			launched = 1;
			t0 = now_s();
			pid = fork();
			if (pid == 0) {
				execvp(cmd[0], cmd);
				_exit(127);
			}
		}
		for (i = 0; i < n; i++) {
			p[i].fd = s[i].done ? -1 : s[i].fd;
			p[i].events = POLLIN;
		}
		if (poll(p, (nfds_t)n, 120000) <= 0) {
			fprintf(stderr, "serve_bench: no event for 120 s (%d of %d streams done)\n", done, n);
			return 1;
		}
		for (i = 0; i < n; i++) {
			ssize_t r;
			int end = 0;
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(s[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				fprintf(stderr, "serve_bench: stream %d ended early\n", i);
				return 1;
			}
			if (!s[i].started) {
				s[i].started = 1;
				started++;
			}
			s[i].events += scan(&s[i], buf, (size_t)r, "\ndata: ", &end);
			if (end && launched) {
				s[i].done = 1;
				done++;
				close(s[i].fd);
			}
		}
	}
	{
		double t = now_s() - t0;
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "serve_bench: the command failed\n");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (mn < 0 || s[i].events < mn)
				mn = s[i].events;
			if (s[i].events > mx)
				mx = s[i].events;
		}
		printf("clients %d events_min %ld events_max %ld seconds %.3f\n", n, mn, mx, t);
	}
	free(s);
	free(p);
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int latency(int port, const char *path, int iter)
{
	static char buf[1 << 20];
	char req[512];
	double *ms = calloc((size_t)iter, sizeof(double));
	int fd = dial(port), i;
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", path);
	for (i = 0; i < iter; i++) {
		double t = now_s();
		size_t have = 0, want = 0;
		char *hdr_end = NULL;
		send_all(fd, req);
		for (;;) {
			ssize_t r = read(fd, buf + have, sizeof(buf) - have - 1);
			if (r <= 0) {
				fprintf(stderr, "serve_bench: connection closed\n");
				return 1;
			}
			have += (size_t)r;
			buf[have] = '\0';
			if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
				char *cl = strcasestr(buf, "content-length:");
				if (!cl || cl > hdr_end) {
					fprintf(stderr, "serve_bench: no Content-Length\n");
					return 1;
				}
				want = (size_t)(hdr_end + 4 - buf) + strtoul(cl + 15, NULL, 10);
				if (strncmp(buf, "HTTP/1.1 200", 12) != 0) {
					fprintf(stderr, "serve_bench: %.40s\n", buf);
					return 1;
				}
			}
			if (hdr_end && have >= want)
				break;
		}
		ms[i] = (now_s() - t) * 1000;
	}
	qsort(ms, (size_t)iter, sizeof(double), cmp_d);
	printf("requests %d p50_ms %.3f p99_ms %.3f max_ms %.3f\n", iter, ms[iter / 2],
	       ms[(int)(iter * 0.99)], ms[iter - 1]);
	free(ms);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "events") == 0 && strcmp(argv[4], "--") == 0)
		return events(atoi(argv[2]), atoi(argv[3]), argv + 5);
	if (argc == 5 && strcmp(argv[1], "latency") == 0)
		return latency(atoi(argv[2]), argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: serve_bench events PORT N -- CMD... | latency PORT PATH ITER\n");
	return 2;
}
