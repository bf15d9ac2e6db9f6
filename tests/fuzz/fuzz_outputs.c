/* fuzz_outputs.c — libFuzzer target for the $CDX_OUTPUT parser
 * (exec/outputs.c): any bytes give outputs or one problem, never a crash,
 * a leak, a hang or a sanitizer report; every output kept has a variable
 * name and a value that fits an environment string, and no more than the
 * limit of them are kept. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "exec/outputs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cdx_vars v = {0};
	char why[200];
	size_t i;
	int rc = cdx_outputs_parse((const char *)data, size, &v, why, sizeof(why));
	assert(rc == 0 || rc == -1);
	assert(v.n <= CDX_OUTPUTS_MAX_KEYS + 1);
	for (i = 0; i < v.n; i++) {
		assert(cdx_env_name_valid(v.v[i].name));
		assert(strlen(v.v[i].name) + 1 + strlen(v.v[i].value) <= CDX_VAR_ENTRY_MAX);
	}
	if (rc < 0)
		assert(why[0]);
	cdx_vars_free(&v);
	return 0;
}
