/* curl.c — libcurl through dlopen (curl.h). */
#include "base/curl.h"

#include <dlfcn.h>
#include <stddef.h>

const struct cdx_curl *cdx_curl(void)
{
	static bool tried, ok;
	static struct cdx_curl c;
	CURLcode (*global_init)(long);
	void *h;
	if (tried)
		return ok ? &c : NULL;
	tried = true;
	h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return NULL;
	*(void **)&global_init = dlsym(h, "curl_global_init");
	*(void **)&c.init = dlsym(h, "curl_easy_init");
	*(void **)&c.setopt = dlsym(h, "curl_easy_setopt");
	*(void **)&c.perform = dlsym(h, "curl_easy_perform");
	*(void **)&c.getinfo = dlsym(h, "curl_easy_getinfo");
	*(void **)&c.cleanup = dlsym(h, "curl_easy_cleanup");
	*(void **)&c.strerror = dlsym(h, "curl_easy_strerror");
	*(void **)&c.slist_append = dlsym(h, "curl_slist_append");
	*(void **)&c.slist_free_all = dlsym(h, "curl_slist_free_all");
	ok = global_init && c.init && c.setopt && c.perform && c.getinfo && c.cleanup && c.strerror &&
	     c.slist_append && c.slist_free_all && global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	return ok ? &c : NULL; /* the library stays loaded for the life of the process */
}
