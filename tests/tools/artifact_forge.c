/* artifact_forge.c — writes a hostile artifact archive (lib/base/pack.h
 * format, with a correct trailer and CRC, so that only the checks of its
 * content can refuse it) to stdout, for t_artifacts.sh to plant in a store:
 *
 *   artifact_forge dotdot    a file "../escaped"
 *   artifact_forge absolute  a file "/tmp/...escaped" (its path as argument 2)
 *   artifact_forge linkout   a symlink "x" -> "../escaped-dir", then "x/f"
 *   artifact_forge through   a dir "real", a symlink "x" -> "real", then "x/f"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static void be(struct cdx_buf *b, unsigned long long v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		cdx_buf_addc(b, (char)((v >> (8 * i)) & 0xff));
}

static void entry(struct cdx_buf *b, char type, unsigned mode, const char *path, const char *data)
{
	cdx_buf_addc(b, type);
	be(b, mode, 4);
	be(b, strlen(path), 2);
	be(b, strlen(data), 8);
	cdx_buf_adds(b, path);
	cdx_buf_adds(b, data);
}

int main(int argc, char **argv)
{
	struct cdx_buf b = {0};
	unsigned long long n = 0, bytes = 0;
	const char *k = argc > 1 ? argv[1] : "";
	cdx_buf_add(&b, "CDXPACK1", 8);
	if (strcmp(k, "dotdot") == 0) {
		entry(&b, 'f', 0644, "../escaped", "pwned\n");
		n = 1, bytes = 6;
	} else if (strcmp(k, "absolute") == 0 && argc > 2) {
		entry(&b, 'f', 0644, argv[2], "pwned\n");
		n = 1, bytes = 6;
	} else if (strcmp(k, "linkout") == 0) {
		entry(&b, 'l', 0777, "x", "../escaped-dir");
		entry(&b, 'f', 0644, "x/f", "pwned\n");
		n = 2, bytes = 6;
	} else if (strcmp(k, "through") == 0) {
		entry(&b, 'd', 0755, "real", "");
		entry(&b, 'l', 0777, "x", "real");
		entry(&b, 'f', 0644, "x/f", "pwned\n");
		n = 3, bytes = 6;
	} else {
		fprintf(stderr, "usage: artifact_forge dotdot|absolute PATH|linkout|through\n");
		return 2;
	}
	cdx_buf_addc(&b, 'E');
	be(&b, n, 8);
	be(&b, bytes, 8);
	be(&b, cdx_crc32(0, b.data, b.len), 4);
	fwrite(b.data, 1, b.len, stdout);
	cdx_buf_free(&b);
	return 0;
}
