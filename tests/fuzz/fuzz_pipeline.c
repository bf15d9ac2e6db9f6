/* fuzz_pipeline.c — libFuzzer target for the pipeline loader: any bytes as
 * a pipeline file must give a pipeline or diagnostics, never a crash, a
 * hang, a leak or a sanitizer report.  A loaded pipeline is also planned,
 * which exercises the DAG analyses and the ordering rule. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "cdx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem("fuzz.yml", (const char *)data, size, d);
	size_t i;
	for (i = 0; i < cdx_diags_count(d); i++)
		(void)cdx_diags_get(d, i);
	if (p) {
		cJSON *plan = cdx_pipeline_plan(p, 2);
		cJSON *json = cdx_pipeline_json(p);
		cJSON_Delete(plan);
		cJSON_Delete(json);
	}
	cdx_pipeline_free(p);
	cdx_diags_free(d);
	return 0;
}
