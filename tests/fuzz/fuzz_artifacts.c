/* fuzz_artifacts.c — libFuzzer target of the artifact archive reader and
 * unpacker (lib/base/pack.c).
 *
 * The input is an archive.  It is read (every entry handed back must have
 * a safe path: relative, no "." or ".." component, no empty one; a link a
 * safe target), then unpacked into DIR/dest.  Besides the sanitizers, it
 * checks the invariants: read and unpack agree (an archive read refuses
 * is never unpacked), and nothing is ever created in DIR beside dest — an
 * archive cannot write outside its destination.  Each input goes twice:
 * as it is, and with its last 4 bytes replaced by the CRC the reader
 * wants, so that mutations reach the checks behind the checksum.
 */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/pack.h"

static char base[256], dest[300];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void setup(void)
{
	if (base[0])
		return;
	snprintf(base, sizeof(base), "%s/fuzz_artifacts.%ld",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
	snprintf(dest, sizeof(dest), "%s/dest", base);
	mkdir(base, 0755);
}

static bool path_safe(const char *p)
{
	const char *s = p;
	if (!*p || *p == '/')
		return false;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!e)
			return true;
		s = e + 1;
	}
}

static int check(void *ctx, const struct cdx_pack_entry *e, struct cdx_error *err)
{
	(void)ctx;
	(void)err;
	if (!path_safe(e->path) || (e->type == 'l' && (!e->target || e->target[0] == '/')))
		__builtin_trap();
	return 0;
}

static void one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	if (size >= 29) {
		uint8_t *fixed = malloc(size);
		uint32_t crc;
		memcpy(fixed, data, size);
		crc = cdx_crc32(0, fixed, size - 4);
		for (int i = 0; i < 4; i++)
			fixed[size - 1 - i] = (uint8_t)(crc >> (8 * i));
		one(fixed, size);
		free(fixed);
	}
	return 0;
}

static void one(const uint8_t *data, size_t size)
{
	struct cdx_pack_limits lim = {1000, 1 << 20};
	struct cdx_error err = {0};
	int r1, r2;
	DIR *d;
	struct dirent *de;
	setup();
	r1 = cdx_pack_read(data, size, &lim, check, NULL, NULL, &err);
	r2 = cdx_unpack(data, size, dest, &lim, NULL, &err);
	/* a sound archive may still fail to unpack (a file where a directory
	 * must go); an unsound one never unpacks */
	if (r1 < 0 && r2 == 0)
		__builtin_trap();
	d = opendir(base);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "dest"))
			__builtin_trap();
	if (d)
		closedir(d);
	nftw(dest, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
