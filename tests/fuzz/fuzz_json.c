/* fuzz_json.c — libFuzzer target for tools/job/json.c, the JSON reader
 * and writer of the static cdx-job, against libcjson (jcompare.h): any
 * difference aborts with the first one printed. */
#include <stdint.h>

#include "jcompare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[600];
	if (jcompare((const char *)data, size, why, sizeof(why)) < 0) {
		fprintf(stderr, "fuzz_json: json.c differs from libcjson: %s\n", why);
		abort();
	}
	return 0;
}
