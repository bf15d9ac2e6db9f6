/* fixtures.h — shared fixtures of the cmocka unit tests. */
#ifndef CDX_TEST_FIXTURES_H
#define CDX_TEST_FIXTURES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdx.h"

/* fx_tmpdir: a fresh temporary directory (free the string with free()) */
static inline char *fx_tmpdir(void)
{
	char tmpl[] = "/tmp/cdx-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

/* fx_write: write TEXT to DIR/NAME; returns the path (free with free()) */
static inline char *fx_write(const char *dir, const char *name, const char *text)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	FILE *f;
	snprintf(p, n, "%s/%s", dir, name);
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return p;
}

/* fx_rmrf: remove DIR and everything below it */
static inline void fx_rmrf(const char *dir)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
