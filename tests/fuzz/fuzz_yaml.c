/* fuzz_yaml.c — libFuzzer target for the fast YAML scanner: whenever it
 * reads a text instead of handing it to libyaml, the tree (every value,
 * style and position) and the problems found must be exactly libyaml's.
 * Any difference aborts with the first one printed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ycompare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];
	if (ycompare((const char *)data, size, why, sizeof(why)) < 0) {
		fprintf(stderr, "fuzz_yaml: the fast scanner differs from libyaml: %s\n", why);
		abort();
	}
	return 0;
}
