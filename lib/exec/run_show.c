/* run_show.c — how a run looks: job output prefixed by its job, grouped
 * per job or raw; a live status line on a terminal; one line per job
 * event and a summary; or JSON events, one per line (run.c decides what
 * happens, this file only shows it on the run's output stream).
 *
 * Job output arrives masked from the runner in arbitrary pieces: prefixed
 * output is cut at newlines (a partial line waits in the job's buffer),
 * grouped output waits whole until the attempt ends.  The status line is
 * taken off the terminal before anything else is printed and drawn again
 * at the next tick.  The lines cdx writes itself (status, retries, job
 * ends, the summary) show their values escaped (base/text.h); job output is
 * the job's own and passes as it is.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/text.h"
#include "exec/run.h"

void cdx_run_clear_status(struct cdx_run *r)
{
	if (r->status_shown) {
		fputs("\r\033[K", r->out);
		r->status_shown = false;
	}
}

void cdx_run_show_status(struct cdx_run *r)
{
	size_t i, running = 0, manual = 0;
	struct cdx_buf b = {0};
	if (!r->o.tty || r->o.json)
		return;
	for (i = 0; i < r->p->n_jobs; i++) {
		manual += r->states[i] == CDX_JOB_MANUAL;
		if (r->states[i] != CDX_JOB_RUNNING)
			continue;
		if (running++ < 3)
			cdx_buf_printf(&b, "%s%s", running > 1 ? ", " : "", r->p->jobs[i].id);
	}
	cdx_run_clear_status(r);
	if (!running && manual)
		cdx_text_printf(r->out, "[%zu/%zu] %.1fs waiting for %zu manual job%s (cdx play %s STAGE/JOB)",
				r->n_done, r->n_wanted, (double)(cdx_now_ns() - r->t0_ns) / 1e9, manual,
				manual == 1 ? "" : "s", r->id);
	else
		cdx_text_printf(r->out, "[%zu/%zu] %.1fs running %zu: %s%s", r->n_done, r->n_wanted,
				(double)(cdx_now_ns() - r->t0_ns) / 1e9, running, b.data ? b.data : "",
				running > 3 ? ", ..." : "");
	fflush(r->out);
	r->status_shown = true;
	cdx_buf_free(&b);
}

void cdx_run_emit_json(struct cdx_run *r, cJSON *ev)
{
	char *s = cJSON_PrintUnformatted(ev);
	fprintf(r->out, "%s\n", s);
	fflush(r->out);
	free(s);
	cJSON_Delete(ev);
}

void cdx_run_on_output(void *ctx, uint64_t token, const char *data, size_t len)
{
	struct cdx_run *r = ctx;
	struct job_run *jr = &r->jobs[token & ~CDX_SCHED_AFTER]; /* its after_script's too */
	const char *id = r->p->jobs[token & ~CDX_SCHED_AFTER].id;
	size_t i, start = 0;
	if (r->o.json || r->o.output == CDX_OUTPUT_QUIET)
		return;
	if (r->o.output == CDX_OUTPUT_GROUP) {
		cdx_buf_add(&jr->out, data, len);
		return;
	}
	if (r->o.output == CDX_OUTPUT_RAW) {
		fwrite(data, 1, len, r->out);
		fflush(r->out);
		return;
	}
	for (i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		cdx_run_clear_status(r);
		fprintf(r->out, "[%s] %.*s%.*s\n", id, (int)jr->out.len, jr->out.data ? jr->out.data : "",
			(int)(i - start), data + start);
		cdx_buf_reset(&jr->out);
		start = i + 1;
	}
	if (start && r->o.pool)
		fflush(r->out); /* a pool's output comes from afar: show it now */
	cdx_buf_add(&jr->out, data + start, len - start);
}

void cdx_run_flush_output(struct cdx_run *r, size_t j)
{
	struct job_run *jr = &r->jobs[j];
	if (!jr->out.len)
		return;
	cdx_run_clear_status(r);
	if (r->o.output == CDX_OUTPUT_GROUP)
		fprintf(r->out, "--- %s\n%s%s", r->p->jobs[j].id, jr->out.data,
			jr->out.data[jr->out.len - 1] == '\n' ? "" : "\n");
	else
		fprintf(r->out, "[%s] %s\n", r->p->jobs[j].id, jr->out.data);
	cdx_buf_reset(&jr->out);
}

static void describe(const struct cdx_proc_result *res, char *buf, size_t n)
{
	switch (res->end) {
	case CDX_PROC_EXITED: snprintf(buf, n, "exit %d", res->exit_code); break;
	case CDX_PROC_SIGNALED: snprintf(buf, n, "killed by signal %d", res->term_signal); break;
	case CDX_PROC_TIMEDOUT: snprintf(buf, n, "timed out"); break;
	case CDX_PROC_CANCELLED: snprintf(buf, n, "cancelled"); break;
	case CDX_PROC_LOST: snprintf(buf, n, "lost with its worker: %s", res->error); break;
	default: snprintf(buf, n, "cannot start: %s", res->error); break;
	}
}

void cdx_run_show_retry(struct cdx_run *r, size_t j, int attempt, const struct cdx_proc_result *res)
{
	const struct cdx_job *job = &r->p->jobs[j];
	char what[300];
	describe(res, what, sizeof(what));
	cdx_run_clear_status(r);
	if (res->end == CDX_PROC_LOST) {
		cdx_text_printf(r->out, "retry  %s: attempt %d %s; trying again elsewhere\n", job->id, attempt,
				what);
		return;
	}
	cdx_text_printf(r->out, "retry  %s: attempt %d %s; trying again (%d of %d)\n", job->id, attempt, what,
			attempt + 1, job->retry_max + 1);
}

void cdx_run_show_job_end(struct cdx_run *r, size_t j, enum cdx_job_state state, int64_t dur)
{
	struct job_run *jr = &r->jobs[j];
	const struct cdx_job *job = &r->p->jobs[j];
	static const char *const words[] = {"?",    "?",      "?", "ok", "allowed", "FAILED", "skip", "cancel",
					    "?", "manual"};
	char d[32], extra[300] = "";
	bool user_text = jr->why[0] != '\0'; /* the line holds text to escape */
	cdx_duration_format(dur, d, sizeof(d));
	if ((state == CDX_JOB_FAILED || state == CDX_JOB_ALLOWED) && jr->attempt_recs) {
		cJSON *last = cJSON_GetArrayItem(jr->attempt_recs, cJSON_GetArraySize(jr->attempt_recs) - 1);
		cJSON *code = cJSON_GetObjectItem(last, "exit_code"), *sig = cJSON_GetObjectItem(last, "signal");
		const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(last, "status"));
		const char *error = cJSON_GetStringValue(cJSON_GetObjectItem(last, "error"));
		if (error) { /* it could not start (masked when recorded) */
			snprintf(extra, sizeof(extra), " (cannot start: %.250s)", error);
			user_text = true;
		}
		else if (status && strcmp(status, "timeout") == 0)
			snprintf(extra, sizeof(extra), " (timed out)");
		else if (code)
			snprintf(extra, sizeof(extra), " (exit %d)", code->valueint);
		else if (sig)
			snprintf(extra, sizeof(extra), " (signal %d)", sig->valueint);
		if (jr->attempt_recs && cJSON_GetArraySize(jr->attempt_recs) > 1)
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " after %d attempts",
				 cJSON_GetArraySize(jr->attempt_recs));
	}
	cdx_run_clear_status(r);
	/* the line of every job: plain printf, for every value in it is a
	 * checked name ([A-Za-z0-9_.-], pipeline_load.c) or made here, with
	 * nothing to escape (cdx_text_printf would cost a tenth of a no-op
	 * job's time in cdx) */
	if (r->make_job) {
		/* make shows success by silence; say what else happened */
		if (state != CDX_JOB_SUCCESS && user_text)
			cdx_text_printf(stderr, "cdx: %s/%s %s%s\n", r->p->name, job->id, words[state], extra);
		else if (state != CDX_JOB_SUCCESS)
			fprintf(stderr, "cdx: %s/%s %s%s\n", r->p->name, job->id, words[state], extra);
	} else if ((state == CDX_JOB_SKIPPED || state == CDX_JOB_MANUAL) && jr->why[0])
		cdx_text_printf(r->out, "[%zu/%zu] %-7s %s (%s)\n", r->n_done, r->n_wanted, words[state], job->id,
				jr->why);
	else if (state == CDX_JOB_SKIPPED || state == CDX_JOB_CANCELLED)
		fprintf(r->out, "[%zu/%zu] %-7s %s\n", r->n_done, r->n_wanted, words[state], job->id);
	else if (jr->why[0])
		cdx_text_printf(r->out, "[%zu/%zu] %-7s %s %s%s (%s)\n", r->n_done, r->n_wanted, words[state],
				job->id, d, extra, jr->why);
	else if (user_text)
		cdx_text_printf(r->out, "[%zu/%zu] %-7s %s %s%s\n", r->n_done, r->n_wanted, words[state], job->id,
				d, extra);
	else
		fprintf(r->out, "[%zu/%zu] %-7s %s %s%s\n", r->n_done, r->n_wanted, words[state], job->id, d,
			extra);
	fflush(r->out);
}

void cdx_run_summary(struct cdx_run *r, double cp_ms)
{
	size_t counts[CDX_JOB_MANUAL + 1] = {0}, i;
	char manual[48] = "";
	char wall[32], cp[32];
	for (i = 0; i < r->p->n_jobs; i++)
		counts[r->states[i]]++;
	cdx_duration_format(r->end_ms - r->start_ms, wall, sizeof(wall));
	cdx_duration_format((int64_t)cp_ms, cp, sizeof(cp));
	if (counts[CDX_JOB_MANUAL])
		snprintf(manual, sizeof(manual), ", %zu manual", counts[CDX_JOB_MANUAL]);
	cdx_run_clear_status(r);
	cdx_text_printf(
	    r->out,
	    "%s %s in %s: %zu passed, %zu failed, %zu allowed to fail, %zu skipped, %zu cancelled%s; "
	    "critical path %s (run %s)\n",
	    r->p->name, cdx_run_state_name(r->state), wall, counts[CDX_JOB_SUCCESS], counts[CDX_JOB_FAILED],
	    counts[CDX_JOB_ALLOWED], counts[CDX_JOB_SKIPPED], counts[CDX_JOB_CANCELLED], manual, cp, r->id);
	fflush(r->out);
}
