/* curl.h — libcurl, opened with dlopen at its first use: the one table of
 * its functions that the http health checks (deploy/probe.c) and the
 * alert webhooks (observe/alerts.c) call through.
 *
 * libcurl is not linked: it drags in some thirty shared libraries (TLS,
 * Kerberos, LDAP...), whose loading would cost every cdx process — every
 * `cdx job` of a make run — 20 ms or more.  Only its header is needed to
 * build.
 */
#ifndef CDX_CURL_H
#define CDX_CURL_H

#include <curl/curl.h>
#include <stdbool.h>

/* the libcurl functions used */
struct cdx_curl {
	CURL *(*init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*cleanup)(CURL *);
	const char *(*strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};

/* cdx_curl: the table, libcurl loaded and initialised at the first call
 * (it stays loaded for the life of the process); NULL when libcurl.so.4
 * cannot be loaded.  Not thread-safe at the first call. */
const struct cdx_curl *cdx_curl(void);

#endif /* CDX_CURL_H */
