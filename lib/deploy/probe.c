/* probe.c — health checks (see probe.h).
 *
 * http uses libcurl with a per-attempt timeout, no signals (safe with
 * our handlers), redirects not followed (a health endpoint answers itself)
 * and at most 64 KiB of body kept for the substring test.  libcurl is
 * opened with dlopen at the first http check, not linked (base/curl.h).  tcp resolves
 * and connects without blocking longer than the timeout.  A command runs
 * like a hook and passes with exit status 0.
 */
#include "deploy/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/curl.h"

#define BODY_MAX (64u * 1024)

const char *cdx_check_kind_name(enum cdx_check_kind k)
{
	static const char *const names[] = {"http", "tcp", "command"};
	return names[k];
}

static size_t body_cb(char *p, size_t size, size_t n, void *ctx)
{
	struct cdx_buf *b = ctx;
	size_t len = size * n;
	if (b->len < BODY_MAX)
		cdx_buf_add(b, p, len < BODY_MAX - b->len ? len : BODY_MAX - b->len);
	return len;
}

static bool http_once(const struct cdx_check *ck, const char *url, char *detail, size_t dn)
{
	const struct cdx_curl *curl = cdx_curl();
	CURL *h;
	CURLcode rc;
	long code = 0;
	struct cdx_buf body = {0};
	bool ok = false;
	if (!curl) {
		snprintf(detail, dn, "cannot load libcurl.so.4 for http checks (Debian package libcurl4)");
		return false;
	}
	h = curl->init();
	if (!h) {
		snprintf(detail, dn, "cannot start an http client");
		return false;
	}
	curl->setopt(h, CURLOPT_URL, url);
	curl->setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl->setopt(h, CURLOPT_TIMEOUT_MS, (long)ck->timeout_ms);
	curl->setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ck->timeout_ms);
	curl->setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
	curl->setopt(h, CURLOPT_WRITEDATA, &body);
	curl->setopt(h, CURLOPT_USERAGENT, "cdx-health/" CDX_VERSION);
	curl->setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl->perform(h);
	if (rc != CURLE_OK) {
		snprintf(detail, dn, "%s", curl->strerror(rc));
		goto out;
	}
	curl->getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	cdx_buf_addc(&body, '\0');
	if (ck->status ? code != ck->status : (code < 200 || code > 299)) {
		snprintf(detail, dn, "HTTP %ld", code);
		goto out;
	}
	if (ck->body && !memmem(body.data, body.len - 1, ck->body, strlen(ck->body))) {
		snprintf(detail, dn, "HTTP %ld without '%.64s' in the body", code, ck->body);
		goto out;
	}
	snprintf(detail, dn, "HTTP %ld", code);
	ok = true;
out:
	cdx_buf_free(&body);
	curl->cleanup(h);
	return ok;
}

static bool tcp_once(const struct cdx_check *ck, const char *addr, char *detail, size_t dn)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char *host = cdx_xstrdup(addr), *port = strrchr(host, ':');
	bool ok = false;
	int rc;
	*port++ = '\0';
	if (host[0] == '[' && port - host >= 3 && port[-2] == ']') { /* [::1]:80 */
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(detail, dn, "cannot resolve %s: %s", host, gai_strerror(rc));
		free(host);
		return false;
	}
	snprintf(detail, dn, "no address");
	for (ai = res; ai && !ok; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			ok = true;
		} else if (errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int e = 0;
			socklen_t el = sizeof(e);
			if (poll(&p, 1, (int)ck->timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 &&
			    e == 0)
				ok = true;
			else
				snprintf(detail, dn, "%s", e ? strerror(e) : "connect timed out");
		} else {
			snprintf(detail, dn, "%s", strerror(errno));
		}
		close(fd);
	}
	if (ok)
		snprintf(detail, dn, "connected");
	freeaddrinfo(res);
	free(host);
	return ok;
}

static bool command_once(const struct cdx_check *ck, const char *cmd, const struct cdx_envv *e, const char *cwd,
			 volatile sig_atomic_t *cancel, const char *owner, char *detail, size_t dn)
{
	struct cdx_error err = {0};
	int status = 0;
	if (cdx_hook_run_tick(cmd, e->v, cwd, ck->timeout_ms, cancel, NULL, 0, &status, NULL, NULL, 0, owner, &err) <
	    0) {
		snprintf(detail, dn, "%.200s", err.msg);
		return false;
	}
	if (status == CDX_HOOK_TIMEDOUT)
		snprintf(detail, dn, "timed out");
	else
		snprintf(detail, dn, "exit %d", status);
	return status == 0;
}

static void sleep_ms(int64_t ms, volatile sig_atomic_t *cancel)
{
	while (ms > 0 && !(cancel && *cancel)) {
		int64_t step = ms < 50 ? ms : 50;
		struct timespec ts = {0, (long)step * 1000000};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

void cdx_probe(const struct cdx_check *ck, const struct cdx_envv *e, const char *cwd,
	       volatile sig_atomic_t *cancel, const char *owner, struct cdx_probe_result *r)
{
	int i;
	memset(r, 0, sizeof(*r));
	/* a command sees the variables as its environment, not expanded text */
	r->target = ck->kind == CDX_CHECK_COMMAND ? cdx_xstrdup(ck->target) : cdx_expand(ck->target, e);
	for (i = 0; i < ck->attempts && !(cancel && *cancel); i++) {
		if (i)
			sleep_ms(ck->interval_ms, cancel);
		r->attempts++;
		switch (ck->kind) {
		case CDX_CHECK_HTTP:
			r->ok = http_once(ck, r->target, r->detail, sizeof(r->detail));
			break;
		case CDX_CHECK_TCP:
			r->ok = tcp_once(ck, r->target, r->detail, sizeof(r->detail));
			break;
		case CDX_CHECK_COMMAND:
			r->ok = command_once(ck, r->target, e, cwd, cancel, owner, r->detail, sizeof(r->detail));
			break;
		}
		if (r->ok)
			return;
	}
	if (cancel && *cancel && !r->ok && !r->attempts)
		snprintf(r->detail, sizeof(r->detail), "cancelled");
}
