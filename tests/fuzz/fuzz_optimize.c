/* fuzz_optimize.c — libFuzzer target for the optimizer: any bytes that load
 * as a pipeline are optimized at every level.  Besides the sanitizers, it
 * checks the invariants: cdx_optimize succeeds on every pipeline it may
 * rewrite (it loads its own file back, so a file it cannot write is a
 * failure here), the file names as many jobs, and the rewritten graph is
 * never tighter than the original (its critical path is not longer). */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cdx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double num(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItem(b ? cJSON_GetObjectItem(o, a) : o, b ? b : a);
	if (!cJSON_IsNumber(v))
		__builtin_trap();
	return v->valuedouble;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cdx_pipeline *p = cdx_pipeline_load_mem("fuzz.yml", (const char *)data, size, NULL);
	int level;
	if (!p)
		return 0;
	for (level = CDX_OPT_CONSERVATIVE; level <= CDX_OPT_AGGRESSIVE && cdx_pipeline_job_count(p) <= 500;
	     level++) {
		/* a store that does not exist: it must not be created either */
		struct cdx_optimize_options o = {(enum cdx_opt_level)level, 2, "file:/nonexistent/cdx-fuzz", "out.yml"};
		struct cdx_error err = {0};
		cJSON *r = cdx_optimize(p, &o, &err), *s;
		if (!r || num(r, "before", "jobs") != (double)cdx_pipeline_job_count(p) ||
		    num(r, "after", "jobs") != (double)cdx_pipeline_job_count(p) ||
		    num(r, "after", "critical_path_s") > num(r, "before", "critical_path_s") + 1e-6)
			__builtin_trap();
		s = cdx_optimize_suggest(cJSON_GetObjectItem(r, "before"));
		cJSON_Delete(s);
		cJSON_Delete(r);
	}
	cdx_pipeline_free(p);
	return 0;
}
