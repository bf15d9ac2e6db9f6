/* cmd_play.c — `cdx play RUN STAGE/JOB`: start a manual job (when: manual).
 *
 * A run that is still going (its cdx run waits for manual jobs on a
 * terminal, or is busy with other jobs) is told through the store: a
 * record {t: "play", run, job} that the run reads (exec/run.c, the played
 * hook) and then starts the job; cdx play waits for the job's record and
 * exits as the job did.  A run that has ended (a run without a terminal
 * ends and records its unplayed manual jobs as `manual`) gets the job run
 * here, now, as one more part of that run, as a make-driven job is: the
 * pipeline file the run recorded is loaded again, the job runs alone (what
 * it needs ran in the run already) with the same runner, logs, masking and
 * records.  Exit status: the job's (0 passed or allowed to fail, 1 failed),
 * 2 for a run or job that does not exist or is no manual job, 4 when the
 * store cannot be reached.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "exec/run.h"
#include "pipeline/pipeline.h"
#include "state/store.h"
#include "tools/cli.h"

struct wait_ctx {
	const char *run, *job;
	const char *status; /* the job's final status, once seen (static) */
	bool run_ended;
};

static int on_rec(void *ctx, const cJSON *rec)
{
	struct wait_ctx *w = ctx;
	const char *t = cdx_jsn(rec, "t");
	static char status[32];
	if (!t)
		return 0;
	if (strcmp(t, "job") == 0 && strcmp(cdx_js(rec, "run"), w->run) == 0 &&
	    strcmp(cdx_js(rec, "job"), w->job) == 0 && strcmp(cdx_js(rec, "status"), "manual") != 0) {
		snprintf(status, sizeof(status), "%s", cdx_js(rec, "status"));
		w->status = status;
		return 1;
	}
	if (strcmp(t, "run_end") == 0 && strcmp(cdx_js(rec, "id"), w->run) == 0)
		w->run_ended = true;
	return 0;
}

/* the job's status word to an exit status */
static int job_exit(const char *status)
{
	return strcmp(status, "success") == 0 || strcmp(status, "allowed_failure") == 0 ? 0 : CDX_EFAILED;
}

/* play in a run that goes on: the play record, then wait for the job */
static int play_live(const char *state, const char *run, const char *job)
{
	struct cdx_store *s;
	struct cdx_error err = {0};
	struct wait_ctx w = {run, job, NULL, false};
	char cursor[64] = "$";
	cJSON *rec;
	if (cdx_store_open(state, &s, &err) < 0) {
		cli_error("play: %s", err.msg);
		return CDX_ESTATE;
	}
	/* pin the cursor first, so that the job's record cannot slip by */
	if (s->ops->tail(s, cursor, 0, on_rec, &w, &err) < 0)
		goto fail;
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "play");
	cJSON_AddStringToObject(rec, "run", run);
	cJSON_AddStringToObject(rec, "job", job);
	cJSON_AddNumberToObject(rec, "ms", (double)cdx_wall_ms());
	if (s->ops->append(s, rec, &err) < 0 || s->ops->flush(s, &err) < 0) {
		cJSON_Delete(rec);
		goto fail;
	}
	cJSON_Delete(rec);
	printf("cdx: played %s in run %s; waiting for it\n", job, run);
	fflush(stdout);
	while (!w.status && !w.run_ended)
		if (s->ops->tail(s, cursor, 1000, on_rec, &w, &err) < 0)
			goto fail;
	cdx_store_close(s);
	if (!w.status) {
		cli_error("play: run %s ended without starting %s (is it a manual job of that run?)", run, job);
		return CDX_EFAILED;
	}
	printf("cdx: %s %s\n", job, w.status);
	return job_exit(w.status);
fail:
	cli_error("play: %s", err.msg);
	cdx_store_close(s);
	return CDX_ESTATE;
}

int cli_run_one_job(const char *state, const struct cdx_pipeline *p, size_t k, const char *run_id, FILE *out)
{
	struct cdx_diags *diags = cdx_diags_new();
	struct cdx_pipeline *one = NULL;
	struct cdx_make_job mj = {0};
	struct cdx_run_options ro;
	struct cdx_error err = {0};
	struct cdx_run *r = NULL;
	char *spec = cdx_pipeline_job_spec(p, k, NULL);
	cJSON *parsed = NULL;
	const char **from = NULL;
	int rc = CDX_EUSAGE;

	/* the job alone: what it needs ran in the run */
	one = cdx_pipeline_load_mem(p->path, spec, strlen(spec), diags);
	if (!one) {
		cli_print_diags(diags);
		goto out;
	}
	memset(&ro, 0, sizeof(ro));
	ro.jobs = 1;
	ro.state = state;
	ro.grace_ms = -1;
	ro.out = out;
	mj.run_id = run_id;
	if (one->n_jobs && (one->jobs[0].when == CDX_WHEN_ON_FAILURE || one->jobs[0].when == CDX_WHEN_ALWAYS))
		/* the caller decided it runs (the watcher of a make run that
		 * failed): alone, it has no need whose failure it could see */
		one->jobs[0].when = CDX_WHEN_ON_SUCCESS;
	r = cdx_run_new(one, &ro, &err);
	if (!r || cdx_run_set_make_job(r, &mj, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	cdx_run_set_played(r, 0); /* manual by when: or by a rule: played */
	/* the outputs of the jobs it needs, as in the run */
	parsed = cJSON_Parse(spec);
	{
		const cJSON *it;
		size_t n = 0, cap = 0;
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(parsed, "x-cdx-outputs-from"))
			if (cJSON_IsString(it))
				CDX_PUSH(from, n, cap, it->valuestring);
		CDX_PUSH(from, n, cap, NULL);
		cdx_run_set_outputs_from(r, from);
	}
	rc = cdx_run_execute(r, &err);
	if (rc < 0) {
		cli_error("%s", err.msg);
		rc = err.code ? err.code : CDX_ESTATE;
	} else {
		rc = rc ? CDX_EFAILED : 0;
	}
out:
	cdx_run_free(r);
	free(from);
	cJSON_Delete(parsed);
	free(spec);
	cdx_pipeline_free(one);
	cdx_diags_free(diags);
	return rc;
}

/* play in a run that has ended: run the job now as a part of it */
static int play_after(const char *state, const cJSON *run, const char *job)
{
	const char *file = cdx_js(run, "file"), *id = cdx_js(run, "id");
	struct cdx_diags *diags = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load(file, diags);
	const cJSON *jo;
	int rc = CDX_EUSAGE;
	size_t k;
	bool manual = false;

	if (!p) {
		cli_print_diags(diags);
		cli_error("play: cannot load %s, the pipeline file of run %s (run cdx play where cdx run ran)",
			  file, id);
		goto out;
	}
	for (k = 0; k < p->n_jobs; k++)
		if (strcmp(p->jobs[k].id, job) == 0)
			break;
	cJSON_ArrayForEach(jo, cJSON_GetObjectItem(run, "jobs"))
		if (strcmp(cdx_js(jo, "id"), job) == 0 && strcmp(cdx_js(jo, "status"), "manual") == 0)
			manual = true;
	if (k == p->n_jobs || !manual) {
		cli_error("play: %s is no manual job waiting in run %s", job, id);
		goto out;
	}
	rc = cli_run_one_job(state, p, k, id, stdout);
out:
	cdx_pipeline_free(p);
	cdx_diags_free(diags);
	return rc;
}

int cmd_play(struct cli *g, int argc, char **argv)
{
	struct cli_opts o;
	struct cdx_error err = {0};
	const char *id, *job, *state;
	cJSON *run;
	int rc;
	cli_opts_begin(&o, g, "play", argc, argv, "", NULL, 2);
	while (cli_opts_next(&o))
		;
	if (o.status)
		return o.status;
	if (o.n_pos != 2)
		return cli_usage_error("play", "name a run id and a job STAGE/JOB");
	id = argv[1];
	job = argv[2];
	if (!strchr(job, '/'))
		return cli_usage_error("play", "'%s' is no job: write STAGE/JOB", job);
	state = cli_state(g);
	if (!state)
		return CDX_EUSAGE;
	run = cdx_run_load(state, id, &err);
	if (!run) {
		cli_error("play: %s", err.msg);
		return err.code ? err.code : CDX_EUSAGE;
	}
	if (strcmp(cdx_js(run, "status"), "running") == 0) {
		/* a job the run's file does not have is refused (when the file
		 * can be read here) rather than waited for */
		struct cdx_pipeline *p = cdx_pipeline_load(cdx_js(run, "file"), NULL);
		size_t k = 0;
		while (p && k < p->n_jobs && strcmp(p->jobs[k].id, job) != 0)
			k++;
		if (p && k == p->n_jobs) {
			cli_error("play: run %s has no job %s", id, job);
			cdx_pipeline_free(p);
			cJSON_Delete(run);
			return CDX_EUSAGE;
		}
		cdx_pipeline_free(p);
		rc = play_live(state, id, job);
	}
	else
		rc = play_after(state, run, job);
	cJSON_Delete(run);
	return rc;
}
