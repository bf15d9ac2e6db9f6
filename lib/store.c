/* store.c — opening a state store by URL (see store.h).  The URL schemes
 * are file:DIR (the embedded default) and redis:// (redis/store_redis.c).
 * A build without Redis (configure --without-redis) refuses a redis:// URL
 * with exit status 4 rather than silently falling back to files. */
#include "store.h"

#ifdef CDX_WITH_REDIS
#include "store_redis.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cdx_mkdirs(const char *path)
{
	char *p, *c;
	int rc = 0;
	struct stat st0;
	/* the common case: it exists, or only the last component is missing */
	if (mkdir(path, 0755) == 0 || (errno == EEXIST && stat(path, &st0) == 0 && S_ISDIR(st0.st_mode)))
		return 0;
	p = cdx_xstrdup(path);
	for (c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*c = '/';
	}
	if (rc == 0 && mkdir(p, 0755) < 0 && errno != EEXIST)
		rc = -1;
	if (rc == 0) {
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			rc = -1;
		}
	}
	free(p);
	return rc;
}

int cdx_store_open(const char *url, struct cdx_store **out, struct cdx_error *err)
{
	*out = NULL;
	if (!url || !*url)
		return cdx_error_set(err, CDX_EUSAGE, "empty state url");
	if (strncmp(url, "file:", 5) == 0) {
		if (!url[5])
			return cdx_error_set(err, CDX_EUSAGE, "state url file: names no directory");
		return cdx_store_file_open(url + 5, out, err);
	}
	if (strncmp(url, "redis://", 8) == 0) {
#ifdef CDX_WITH_REDIS
		return cdx_store_redis_open(url, out, err);
#else
		return cdx_error_set(err, CDX_ESTATE,
				     "cannot use state %s: cdx was built without redis (configure --without-redis)",
				     url);
#endif
	}
	if (strstr(url, "://"))
		return cdx_error_set(err, CDX_EUSAGE, "unknown state url scheme in '%s' (use file:DIR or redis://)",
				     url);
	return cdx_store_file_open(url, out, err);
}

void cdx_store_close(struct cdx_store *s)
{
	if (s)
		s->ops->close(s);
}
