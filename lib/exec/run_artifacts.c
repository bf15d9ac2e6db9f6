/* run_artifacts.c — a job's `artifacts:` collected when its last attempt
 * has ended (job_done in run.c), for `cdx run` and for `cdx job`, the make
 * module's recipe, alike: the files its paths select in the workspace
 * (the directory jobs run in) are packed and kept with the run in the
 * store (state/artifacts.h), when `when:` matches how the job ended
 * (on_success: success; on_failure: failed, allowed to fail, cancelled;
 * always: any of them; a job that never started keeps nothing).
 *
 * What was kept goes into the job record as "artifacts" ({attempt, files,
 * entries, bytes, size, expire_at_ms}; runs.c folds it into the job, so
 * `cdx status` shows it), or, when keeping failed (the cap passed, the
 * store unreachable), {error}: the error is printed, and the run fails
 * (exit status 1) even when every job passed — files a pipeline says it
 * keeps and that are not kept are a failure, never silent. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mask.h"
#include "base/text.h"
#include "exec/run.h"
#include "pipeline/pipeline.h"
#include "state/artifacts.h"

static bool wanted(int when, enum cdx_job_state st)
{
	bool ok = st == CDX_JOB_SUCCESS;
	bool bad = st == CDX_JOB_FAILED || st == CDX_JOB_ALLOWED || st == CDX_JOB_CANCELLED;
	switch (when) {
	case CDX_ARTIFACTS_ON_SUCCESS:
		return ok;
	case CDX_ARTIFACTS_ON_FAILURE:
		return bad;
	default:
		return ok || bad;
	}
}

void cdx_run_artifacts(struct cdx_run *r, size_t j, enum cdx_job_state state, int attempts, cJSON *rec)
{
	const struct cdx_job *job = &r->p->jobs[j];
	struct cdx_artifact_info info;
	struct cdx_error err = {0};
	int64_t cap;
	cJSON *o;
	if (!job->artifacts.n || attempts < 1 || !wanted(job->artifacts.when, state))
		return;
	cap = cdx_artifacts_cap(&err);
	if (cap < 0 || cdx_artifacts_put(r->store, r->id, job->id, attempts, ".", job->artifacts.paths,
					 job->artifacts.n, job->artifacts.expire_ms, cap, &info, &err) < 0) {
		char *shown = cdx_mask_string((const char *const *)r->secrets, err.msg);
		cdx_run_clear_status(r);
		cdx_text_printf(stderr, "cdx: error: artifacts of %s not kept: %s\n", job->id, shown);
		o = cJSON_AddObjectToObject(rec, "artifacts");
		cJSON_AddStringToObject(o, "error", shown);
		free(shown);
		r->artifacts_failed = true;
		return;
	}
	if (!info.entries) {
		cdx_run_clear_status(r);
		cdx_text_printf(stderr, "cdx: warning: artifacts of %s: no file matches their paths\n", job->id);
	}
	o = cdx_artifact_info_json(&info);
	cJSON_DeleteItemFromObject(o, "job");
	cJSON_DeleteItemFromObject(o, "created_ms");
	cJSON_AddItemToObject(rec, "artifacts", o);
}
