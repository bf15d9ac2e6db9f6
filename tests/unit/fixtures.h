/* fixtures.h — shared fixtures of the cmocka unit tests: temporary
 * directories and files (fx_tmpdir, fx_write, fx_rmrf) and a cmocka
 * setup/teardown pair that gives each test a directory of its own
 * (struct fx_dir).  Everything here is static inline: a test includes it
 * first, and uses what it needs. */
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

/* struct fx_dir: one test's fresh temporary directory, and the path of a
 * file in it (not created; NULL when the test named none) */
struct fx_dir {
	char *dir, *path;
};

/* fx_dir_setup, fx_dir_teardown: cmocka setup and teardown that give a
 * test a struct fx_dir in *state, the file named by the prestate:
 *   cmocka_unit_test_prestate_setup_teardown(test_x, fx_dir_setup,
 *                                            fx_dir_teardown, "journal.jsonl")
 * (or cmocka_unit_test_setup_teardown for the directory alone).  Setup
 * returns -1 when no directory can be made; teardown removes it and frees
 * it all. */
static inline int fx_dir_setup(void **state)
{
	const char *name = *state;
	struct fx_dir *d = calloc(1, sizeof(*d));
	if (!d || !(d->dir = fx_tmpdir())) {
		free(d);
		return -1;
	}
	if (name) {
		size_t n = strlen(d->dir) + strlen(name) + 2;
		d->path = malloc(n);
		snprintf(d->path, n, "%s/%s", d->dir, name);
	}
	*state = d;
	return 0;
}

static inline int fx_dir_teardown(void **state)
{
	struct fx_dir *d = *state;
	fx_rmrf(d->dir);
	free(d->path);
	free(d->dir);
	free(d);
	return 0;
}

#endif
