/* run.c — a pipeline run: SEED.md's Pipeline.execute, wired to the real
 * world.  The scheduler (sched.c) decides what runs when; this file gives
 * it what it needs — each attempt's environment, script, log file and
 * limits — and turns what happens into output and records:
 *
 *  - environment = inherited (CDX_STATE without the password of its URL:
 *    hook.h, cdx_env_inherit) + pipeline variables (from_env resolved once,
 *    at the start) + stage environment + job variables + --var overrides +
 *    CDX_PIPELINE, CDX_RUN_ID, CDX_STAGE, CDX_JOB, CDX_ATTEMPT; values only
 *    ever travel as environment variables;
 *  - a script that is one simple command is executed without a shell;
 *  - output is masked by the runner, then shown (run_show.c) prefixed,
 *    grouped or not at all; progress is one line per job event, a live
 *    status line on a terminal, and a summary; or JSON events, one per line;
 *  - the secrets of a run are its secret variables' values and the Redis
 *    password of its state; the runner masks output with them, and every
 *    value of the user's that a record or event holds (variables, version,
 *    file, a spawn error) is masked with them where it is built (add_masked),
 *    so no reader (file store, Redis, reports, status, runs) has to;
 *  - records (store.h) are appended as things happen and made durable in
 *    groups: at once for the start and the end of the run, otherwise at
 *    most every 50 ms, so that recording costs little per job;
 *  - job weights for the ordering rule come from measured history (median
 *    of the last successful attempts), else duration_hint, else 1 s;
 *    with the shuffle option, a seeded random priority replaces the rule.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/text.h"
#include "exec/concurrency.h"
#include "exec/hook.h"
#include "exec/pool.h"
#include "exec/outputs.h"
#include "pipeline/dag.h"
#include "base/duration.h"
#include "base/mask.h"
#include "state/history.h"
#include "base/map.h"
#include "pipeline/pipeline.h"
#include "exec/run.h"
#include "exec/runner.h"
#include "exec/sched.h"
#include "state/store.h"

extern char **environ;

#define FLUSH_EVERY_NS 50000000

/* ---- small helpers ------------------------------------------------------- */

static void add_secret(struct cdx_run *r, const char *v)
{
	if (!v || !*v)
		return;
	cdx_grow(&r->secrets, &r->cap_secrets, r->n_secrets + 2, sizeof(char *));
	r->secrets[r->n_secrets++] = cdx_xstrdup(v);
	r->secrets[r->n_secrets] = NULL;
}

/* the secret of a state URL (its Redis password), when it has one */
static void add_url_secret(struct cdx_run *r, const char *url)
{
	char *pw = NULL, *pub;
	if (!url)
		return;
	pub = cdx_store_url_public(url, &pw);
	add_secret(r, pw);
	free(pw);
	free(pub);
}

/* add_masked: add the user's VALUE to object O as NAME, masked by every
 * secret of the run: what a record or an event holds of a value that may
 * contain a secret (a URL with a password, an error naming a file) goes
 * through here, so that the store, the reports, cdx status and cdx runs
 * and the --json events all get it masked */
static void add_masked(const struct cdx_run *r, cJSON *o, const char *name, const char *value)
{
	char *m = cdx_mask_string((const char *const *)r->secrets, value);
	cJSON_AddStringToObject(o, name, m);
	free(m);
}

/* the value of V at run time: from the environment, else its own value */
static const char *var_value(const struct cdx_var *v)
{
	if (v->from_env) {
		const char *e = getenv(v->from_env);
		if (e)
			return e;
	}
	return v->value ? v->value : "";
}

static void set_var(struct cdx_vars *vs, const char *name, const char *value, bool secret)
{
	struct cdx_var *old = cdx_vars_find(vs, name), v = {0};
	if (old) {
		free(old->value);
		old->value = cdx_xstrdup(value);
		old->secret = old->secret || secret;
		return;
	}
	v.name = cdx_xstrdup(name);
	v.value = cdx_xstrdup(value);
	v.secret = secret;
	CDX_PUSH(vs->v, vs->n, vs->cap, v);
}

/* ---- records ------------------------------------------------------------- */

static void record(struct cdx_run *r, cJSON *rec, bool now)
{
	struct cdx_error err = {0};
	bool appended = r->store->ops->append(r->store, rec, &err) == 0;
	if (!appended)
		r->n_dropped++; /* not buffered: lost for good */
	if (!appended || (now && r->store->ops->flush(r->store, &err) < 0)) {
		if (!r->store_failed) {
			r->store_failed = true;
			r->store_err = err;
			cdx_run_clear_status(r);
			cdx_text_printf(stderr, "cdx: warning: cannot record in %s: %s\n", r->store->url,
					err.msg);
		}
	}
	if (now)
		r->last_flush_ns = cdx_now_ns();
	cJSON_Delete(rec);
}

static void tick(void *ctx)
{
	struct cdx_run *r = ctx;
	int64_t now = cdx_now_ns();
	if (r->store->ops->pending(r->store) && now - r->last_flush_ns >= FLUSH_EVERY_NS) {
		struct cdx_error err = {0};
		if (r->store->ops->flush(r->store, &err) < 0 && !r->store_failed) {
			r->store_failed = true;
			r->store_err = err;
			cdx_text_printf(stderr, "cdx: warning: cannot record in %s: %s\n", r->store->url,
					err.msg);
		}
		r->last_flush_ns = now;
	}
	if (r->slot && !r->cancel && cdx_concurrency_keep(r->slot)) {
		cdx_run_clear_status(r);
		cdx_text_printf(
		    stderr,
		    "cdx: run %s lost its slot of concurrency group %s (a newer run took it); cancelling\n",
		    r->id, r->p->concurrency.group);
		r->cancel = 1;
	}
	for (size_t j = 0; j < r->p->n_jobs; j++)
		if (r->states[j] == CDX_JOB_RUNNING)
			cdx_logstream_flush(&r->logs[j], false, false);
	if (r->status_shown || (r->o.tty && !r->o.json))
		cdx_run_show_status(r);
}

/* ---- scheduler hooks ----------------------------------------------------- */

static void env_put(struct cdx_run *r, const char *name, const char *value)
{
	size_t n = strlen(name), i;
	char *kv = cdx_xasprintf("%s=%s", name, value);
	for (i = 0; i < r->n_envp; i++) {
		if (strncmp(r->envp[i], name, n) == 0 && r->envp[i][n] == '=') {
			free(r->envp[i]);
			r->envp[i] = kv;
			return;
		}
	}
	cdx_grow(&r->envp, &r->cap_envp, r->n_envp + 2, sizeof(char *));
	r->envp[r->n_envp++] = kv;
	r->envp[r->n_envp] = NULL;
}

static void scratch_free(struct cdx_run *r)
{
	size_t i;
	for (i = 0; i < r->n_envp; i++)
		free(r->envp[i]);
	r->n_envp = 0;
	if (r->envp)
		r->envp[0] = NULL;
	free(r->log_path);
	r->log_path = NULL;
	cdx_argv_free(r->argv);
	r->argv = NULL;
}

/* where attempt ATTEMPT of job J logs: LOG_DIR/RUN/STAGE/JOB.ATTEMPT.log */
static char *log_path(const struct cdx_run *r, size_t j, int attempt)
{
	const struct cdx_job *job = &r->p->jobs[j];
	return cdx_xasprintf("%s/%s/%s/%s.%d.log", r->store->log_dir, r->id, r->p->stages[job->stage].name,
			     job->name, attempt);
}

/* the runner's output: to the shared log (logstream.h), then shown */
static void on_output(void *ctx, uint64_t token, const char *data, size_t len)
{
	struct cdx_run *r = ctx;
	cdx_logstream_add(&r->logs[token & ~CDX_SCHED_AFTER] /* its after_script writes on in its log */, data, len);
	cdx_run_on_output(ctx, token, data, len);
}

/* job_env: the environment of attempt ATTEMPT of job J into r->envp */
static void job_env(struct cdx_run *r, size_t j, int attempt)
{
	const struct cdx_job *job = &r->p->jobs[j];
	const struct cdx_stage *st = &r->p->stages[job->stage];
	char **e, num[16];
	size_t i;

	scratch_free(r);
	for (e = environ; *e; e++) {
		cdx_grow(&r->envp, &r->cap_envp, r->n_envp + 2, sizeof(char *));
		r->envp[r->n_envp++] = cdx_env_inherit(*e);
		r->envp[r->n_envp] = NULL;
	}
	for (i = 0; i < r->own.n; i++) /* CDX_BRANCH, CDX_COMMIT: the file and --var win */
		env_put(r, r->own.v[i].name, r->own.v[i].value);
	for (i = 0; i < r->base.n; i++)
		env_put(r, r->base.v[i].name, r->base.v[i].value);
	for (i = 0; i < st->env.n; i++)
		env_put(r, st->env.v[i].name, var_value(&st->env.v[i]));
	for (i = 0; i < job->vars.n; i++)
		env_put(r, job->vars.v[i].name, var_value(&job->vars.v[i]));
	for (i = 0; r->decide && i < r->decide[j].vars.n; i++)
		env_put(r, r->decide[j].vars.v[i].name, r->decide[j].vars.v[i].value);
	for (i = 0; i < r->over.n; i++)
		env_put(r, r->over.v[i].name, r->over.v[i].value);
	snprintf(num, sizeof(num), "%d", attempt);
	env_put(r, "CDX_PIPELINE", r->p->name);
	env_put(r, "CDX_RUN_ID", r->id);
	env_put(r, "CDX_STAGE", st->name);
	env_put(r, "CDX_JOB", job->name);
	env_put(r, "CDX_ATTEMPT", num);
}

/* where attempt ATTEMPT of job J writes its outputs ($CDX_OUTPUT), and
 * (ATTEMPT 0) where its last attempt's are kept for the jobs that need it */
static char *output_path(const struct cdx_run *r, size_t j, int attempt)
{
	const struct cdx_job *job = &r->p->jobs[j];
	if (!attempt)
		return cdx_xasprintf("%s/%s/%s/%s.outputs.json", r->store->log_dir, r->id,
				     r->p->stages[job->stage].name, job->name);
	return cdx_xasprintf("%s/%s/%s/%s.%d.output", r->store->log_dir, r->id, r->p->stages[job->stage].name,
			     job->name, attempt);
}

/* add_outputs: the kept outputs of job ID (STAGE/JOB, ids[K]) into the
 * environment of job J; FROM maps each name given so far to the index of
 * its giver in IDS; -1 with ERR (CDX_EFAILED) when two jobs J needs give
 * the same name */
static int add_outputs(struct cdx_run *r, size_t j, const char *const *ids, size_t k, struct cdx_map *from,
		       cJSON *keep, struct cdx_error *err)
{
	const char *slash = strchr(ids[k], '/');
	char *path, *buf = NULL;
	size_t len, first;
	struct cdx_error rerr = {0};
	cJSON *o, *it;
	int rc = 0;
	if (!slash)
		return 0;
	path = cdx_xasprintf("%s/%s/%.*s/%s.outputs.json", r->store->log_dir, r->id, (int)(slash - ids[k]),
			     ids[k], slash + 1);
	if (cdx_read_file(path, CDX_OUTPUTS_MAX_BYTES * 8, &buf, &len, &rerr) < 0) {
		free(path);
		return 0; /* it gave none */
	}
	free(path);
	o = cJSON_ParseWithLength(buf, len);
	free(buf);
	cJSON_ArrayForEach(it, o)
	{
		if (!cJSON_IsString(it) || !cdx_env_name_valid(it->string))
			continue;
		if (!cdx_map_put(from, it->string, k, &first) && first != k) {
			rc = cdx_error_set(err, CDX_EFAILED,
					   "%s needs %s and %s, and both give output %s: rename one of them",
					   r->p->jobs[j].id, ids[first], ids[k], it->string);
			break;
		}
		env_put(r, it->string, it->valuestring);
	}
	if (o) /* FROM holds its names: kept until the caller is done */
		cJSON_AddItemToArray(keep, o);
	return rc;
}

/* needed_outputs: the outputs of every job J needs, directly or through a
 * stage it needs (a make job: the jobs its spec names), into its
 * environment */
static int needed_outputs(struct cdx_run *r, size_t j, struct cdx_error *err)
{
	const struct cdx_dag *d = r->p->dag;
	struct cdx_map from = {0};
	cJSON *keep = cJSON_CreateArray();
	const char **ids = NULL;
	size_t n = 0, cap = 0, k;
	uint32_t e, f;
	int rc = 0;
	for (k = 0; r->outputs_from && r->outputs_from[k]; k++)
		CDX_PUSH(ids, n, cap, r->outputs_from[k]);
	/* a run that ran its jobs itself knows whether any kept outputs: none,
	 * no file to look for (make's jobs run one to a process: they look) */
	for (e = d->pred_off[j]; (r->any_outputs || r->make_job) && e < d->pred_off[j + 1]; e++) {
		uint32_t u = d->pred[e];
		if (u < d->n_jobs) {
			CDX_PUSH(ids, n, cap, r->p->jobs[u].id);
			continue;
		}
		for (f = d->pred_off[u]; f < d->pred_off[u + 1]; f++)
			if (d->pred[f] < d->n_jobs)
				CDX_PUSH(ids, n, cap, r->p->jobs[d->pred[f]].id);
	}
	for (k = 0; k < n && rc == 0; k++)
		rc = add_outputs(r, j, ids, k, &from, keep, err);
	for (k = 0; n && k < r->over.n; k++) /* --var still wins */
		env_put(r, r->over.v[k].name, r->over.v[k].value);
	cdx_map_free(&from);
	cJSON_Delete(keep);
	free(ids);
	return rc;
}

static int prepare(void *ctx, size_t j, int attempt, struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct cdx_run *r = ctx;
	const struct cdx_job *job = &r->p->jobs[j];
	const struct cdx_stage *st = &r->p->stages[job->stage];
	char *dir;

	job_env(r, j, attempt);
	if (!r->log_dir_made[job->stage]) {
		dir = cdx_xasprintf("%s/%s/%s", r->store->log_dir, r->id, st->name);
		if (cdx_mkdirs(dir) < 0) {
			cdx_error_set(err, CDX_ESTATE, "cannot create log directory %s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
		free(dir);
		r->log_dir_made[job->stage] = true;
	}
	{
		/* $CDX_OUTPUT: a path of this attempt's own, beside its log, that
		 * the job creates when it writes (>>); not made in advance: a file
		 * for every attempt costs an inode each, most of them left empty */
		char *op = output_path(r, j, attempt);
		env_put(r, "CDX_OUTPUT", op);
		free(op);
	}
	if (needed_outputs(r, j, err) < 0)
		return -1;
	r->log_path = log_path(r, j, attempt);
	/* a pool's worker sends the log itself */
	cdx_logstream_begin(&r->logs[j], r->o.pool ? NULL : r->store, r->id, job->id, attempt);
	r->logs[j].defer = true; /* sent with the next flush of the records */
	r->argv = cdx_runner_split_simple(job->script);
	spec->script = job->script;
	spec->argv = r->argv;
	spec->envp = r->envp;
	spec->cwd = NULL;
	spec->log_path = r->log_path;
	spec->secrets = (const char *const *)r->secrets;
	spec->timeout_ms = job->timeout_ms ? job->timeout_ms : st->timeout_ms;
	spec->grace_ms = r->o.grace_ms;
	return 0;
}

/* the word CDX_JOB_STATUS says for an attempt that ended as RES */
static const char *job_status_word(const struct cdx_proc_result *res)
{
	switch (res->end) {
	case CDX_PROC_EXITED: return res->exit_code ? "failed" : "success";
	case CDX_PROC_TIMEDOUT: return "timedout";
	case CDX_PROC_CANCELLED: return "canceled"; /* GitLab's spelling */
	default: return "failed";
	}
}

/* the after_script of attempt ATTEMPT of job J: the job's environment and
 * CDX_JOB_STATUS, a shell of its own, its own timeout, the same log */
static int prepare_after(void *ctx, size_t j, int attempt, const struct cdx_proc_result *main,
			 struct cdx_proc_spec *spec, struct cdx_error *err)
{
	struct cdx_run *r = ctx;
	const struct cdx_job *job = &r->p->jobs[j];
	(void)err;
	char *op = output_path(r, j, attempt);
	job_env(r, j, attempt);
	env_put(r, "CDX_JOB_STATUS", job_status_word(main));
	env_put(r, "CDX_OUTPUT", op);
	free(op);
	if (needed_outputs(r, j, err) < 0)
		return -1;
	r->log_path = log_path(r, j, attempt);
	r->argv = cdx_runner_split_simple(job->after_script);
	spec->script = job->after_script;
	spec->argv = r->argv;
	spec->envp = r->envp;
	spec->log_path = r->log_path;
	spec->secrets = (const char *const *)r->secrets;
	spec->timeout_ms = job->after_timeout_ms ? job->after_timeout_ms : CDX_AFTER_SCRIPT_TIMEOUT_DEFAULT_MS;
	spec->grace_ms = r->o.grace_ms;
	return 0;
}

static const char *end_word(const struct cdx_proc_result *res);

/* the after_script ended: kept for the attempt's record; a failure is
 * shown, and changes nothing */
static void after_done(void *ctx, size_t j, int attempt, const struct cdx_proc_result *res)
{
	struct cdx_run *r = ctx;
	struct job_run *jr = &r->jobs[j];
	cJSON *a;
	(void)attempt;
	cJSON_Delete(jr->after_rec);
	a = jr->after_rec = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "status", end_word(res));
	if (res->end == CDX_PROC_EXITED || res->end == CDX_PROC_SPAWNFAIL)
		cJSON_AddNumberToObject(a, "exit_code", res->exit_code);
	else
		cJSON_AddNumberToObject(a, "signal", res->term_signal);
	cJSON_AddNumberToObject(a, "wall_ms", (double)res->wall_us / 1000);
	if (res->error[0])
		add_masked(r, a, "error", res->error);
	if ((res->end != CDX_PROC_EXITED || res->exit_code) && !r->o.json) {
		cdx_run_flush_output(r, j);
		cdx_run_clear_status(r);
		fprintf(r->out, "cdx: after_script of %s %s (%s %d); the job's result stands\n",
			r->p->jobs[j].id, res->end == CDX_PROC_TIMEDOUT ? "timed out" : "failed",
			res->end == CDX_PROC_EXITED || res->end == CDX_PROC_SPAWNFAIL ? "exit" : "signal",
			res->end == CDX_PROC_EXITED || res->end == CDX_PROC_SPAWNFAIL ? res->exit_code
										     : res->term_signal);
	}
}

static void started(void *ctx, size_t j, int attempt)
{
	struct cdx_run *r = ctx;
	struct job_run *jr = &r->jobs[j];
	jr->attempts = attempt;
	if (attempt == 1)
		jr->first_start_ms = cdx_wall_ms();
	if (r->o.json) {
		cJSON *ev = cJSON_CreateObject();
		cJSON_AddStringToObject(ev, "event", "job_start");
		cJSON_AddStringToObject(ev, "run", r->id);
		cJSON_AddStringToObject(ev, "job", r->p->jobs[j].id);
		cJSON_AddNumberToObject(ev, "attempt", attempt);
		cdx_run_emit_json(r, ev);
	}
}

static const char *end_word(const struct cdx_proc_result *res)
{
	switch (res->end) {
	case CDX_PROC_EXITED: return res->exit_code ? "failed" : "success";
	case CDX_PROC_SIGNALED: return "failed";
	case CDX_PROC_TIMEDOUT: return "timeout";
	case CDX_PROC_CANCELLED: return "cancelled";
	case CDX_PROC_LOST: return "worker_lost";
	default: return "error";
	}
}

/* take_outputs: what attempt ATTEMPT of job J wrote to $CDX_OUTPUT, into
 * its record REC (masked) and, when the job is done (STATE not RUNNING),
 * kept for the jobs that need it; a bad file is shown and its outputs
 * dropped */
static void take_outputs(struct cdx_run *r, size_t j, int attempt, enum cdx_job_state state, cJSON *rec)
{
	char *op = output_path(r, j, attempt), *buf = NULL, why[200];
	struct cdx_vars outs = {0};
	struct cdx_error err = {0};
	size_t len, i;
	cJSON *o;
	struct stat sb;
	if (stat(op, &sb) < 0 || sb.st_size == 0 || /* the common case: none */
	    cdx_read_file(op, CDX_OUTPUTS_MAX_BYTES + 1, &buf, &len, &err) < 0) {
		free(op);
		return;
	}
	free(op);
	if (cdx_outputs_parse(buf, len, &outs, why, sizeof(why)) < 0) {
		char *msg = cdx_xasprintf("$CDX_OUTPUT of %s: %s; its outputs are dropped", r->p->jobs[j].id, why);
		add_masked(r, rec, "outputs_error", msg);
		if (!r->o.json) {
			cdx_run_clear_status(r);
			cdx_text_printf(stderr, "cdx: warning: %s\n", msg);
		}
		free(msg);
		cdx_vars_free(&outs);
	}
	free(buf);
	if (outs.n) {
		o = cJSON_AddObjectToObject(rec, "outputs");
		for (i = 0; i < outs.n; i++)
			add_masked(r, o, outs.v[i].name, outs.v[i].value);
	}
	if (state != CDX_JOB_RUNNING && outs.n) { /* none: no file, the readers take none */
		char *path = output_path(r, j, 0), *tmp = cdx_xasprintf("%s.tmp", path), *text;
		FILE *f;
		r->any_outputs = true;
		o = cJSON_CreateObject();
		for (i = 0; i < outs.n; i++)
			cJSON_AddStringToObject(o, outs.v[i].name, outs.v[i].value);
		text = cJSON_PrintUnformatted(o);
		{
			int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			f = fd >= 0 ? fdopen(fd, "w") : NULL;
			if (!f && fd >= 0)
				close(fd);
		}
		if (f && fputs(text, f) >= 0 && fclose(f) == 0) {
			if (rename(tmp, path) < 0)
				unlink(tmp);
		} else {
			if (f)
				fclose(f);
			unlink(tmp);
		}
		free(text);
		cJSON_Delete(o);
		free(tmp);
		free(path);
	}
	cdx_vars_free(&outs);
}

static void attempt_done(void *ctx, size_t j, int attempt, const struct cdx_proc_result *res,
			 enum cdx_job_state state)
{
	struct cdx_run *r = ctx;
	struct job_run *jr = &r->jobs[j];
	const struct cdx_job *job = &r->p->jobs[j];
	cJSON *rec = cJSON_CreateObject();

	jr->attempts = attempt;
	if (!jr->first_start_ms)
		jr->first_start_ms = res->start_ms;
	jr->busy_ms += res->wall_us / 1000;
	cdx_run_flush_output(r, j);
	cdx_logstream_flush(&r->logs[j], true, true);
	cJSON_AddStringToObject(rec, "t", "attempt");
	cJSON_AddStringToObject(rec, "run", r->id);
	cJSON_AddStringToObject(rec, "pipeline", r->p->name);
	cJSON_AddStringToObject(rec, "job", job->id);
	cJSON_AddNumberToObject(rec, "attempt", attempt);
	cJSON_AddStringToObject(rec, "status", end_word(res));
	if (res->end == CDX_PROC_EXITED || res->end == CDX_PROC_SPAWNFAIL)
		cJSON_AddNumberToObject(rec, "exit_code", res->exit_code);
	else
		cJSON_AddNumberToObject(rec, "signal", res->term_signal);
	cJSON_AddNumberToObject(rec, "start_ms", (double)res->start_ms);
	cJSON_AddNumberToObject(rec, "wall_ms", (double)res->wall_us / 1000);
	cJSON_AddNumberToObject(rec, "user_ms", (double)res->user_us / 1000);
	cJSON_AddNumberToObject(rec, "sys_ms", (double)res->sys_us / 1000);
	cJSON_AddNumberToObject(rec, "maxrss_kb", (double)res->maxrss_kb);
	if (res->error[0])
		add_masked(r, rec, "error", res->error);
	if (res->where[0])
		cJSON_AddStringToObject(rec, "worker", res->where);
	if (jr->after_rec) {
		cJSON_AddItemToObject(rec, "after_script", jr->after_rec);
		jr->after_rec = NULL;
	}
	if (res->end != CDX_PROC_SPAWNFAIL)
		take_outputs(r, j, attempt, state, rec);
	if (res->end != CDX_PROC_SPAWNFAIL) {
		char *lp = log_path(r, j, attempt);
		cJSON_AddStringToObject(rec, "log", lp);
		if (res->log_errno) {
			/* the log stops where a write failed (a full disk) */
			cJSON_AddBoolToObject(rec, "log_truncated", true);
			cJSON_AddStringToObject(rec, "log_error", strerror(res->log_errno));
			cdx_run_clear_status(r);
			fprintf(stderr, "cdx: warning: the log of %s (attempt %d) is truncated: cannot write %s: %s\n",
				job->id, attempt, lp, strerror(res->log_errno));
		}
		free(lp);
	}
	if (r->decide && r->decide[j].changes) /* what `changes:` compares with next time */
		cJSON_AddItemToObject(rec, "changes", cJSON_Duplicate(r->decide[j].changes, 1));
	if (r->logs[j].truncated && !cJSON_GetObjectItem(rec, "log_truncated")) {
		/* the shared copy stops at its cap (the local file is whole) */
		cJSON_AddBoolToObject(rec, "log_truncated", true);
		cJSON_AddStringToObject(rec, "log_error", "the log reached its cap (CDX_LOG_MAX)");
	}
	if (!jr->attempt_recs)
		jr->attempt_recs = cJSON_CreateArray();
	cJSON_AddItemToArray(jr->attempt_recs, cJSON_Duplicate(rec, 1));
	if (r->o.json) {
		cJSON *ev = cJSON_Duplicate(rec, 1);
		cJSON_DeleteItemFromObject(ev, "t");
		cJSON_AddStringToObject(ev, "event", "attempt_end");
		cJSON_AddBoolToObject(ev, "retry", state == CDX_JOB_RUNNING);
		cdx_run_emit_json(r, ev);
	} else if (state == CDX_JOB_RUNNING) {
		cdx_run_show_retry(r, j, attempt, res);
	}
	record(r, rec, false);
}

/* job_why: why job J ran or not, when its when: decided it */
static void job_why(struct cdx_run *r, size_t j, enum cdx_job_state state)
{
	struct job_run *jr = &r->jobs[j];
	enum cdx_when w = r->when ? r->when[j] : r->p->jobs[j].when;
	jr->why[0] = '\0';
	if (state == CDX_JOB_MANUAL)
		snprintf(jr->why, sizeof(jr->why), "manual, not played: cdx play %s %s", r->id, r->p->jobs[j].id);
	else if (state == CDX_JOB_SKIPPED && w == CDX_WHEN_ON_FAILURE)
		snprintf(jr->why, sizeof(jr->why), "when: on_failure, and nothing it needs failed");
	else if (state == CDX_JOB_SKIPPED)
		snprintf(jr->why, sizeof(jr->why), "a job it needs failed, or was not run");
	else if (state != CDX_JOB_CANCELLED && w == CDX_WHEN_ON_FAILURE)
		snprintf(jr->why, sizeof(jr->why), "when: on_failure, and a job it needs failed");
	else if (state != CDX_JOB_CANCELLED && w == CDX_WHEN_ALWAYS)
		snprintf(jr->why, sizeof(jr->why), "when: always");
	else if (state != CDX_JOB_CANCELLED && w == CDX_WHEN_MANUAL)
		snprintf(jr->why, sizeof(jr->why), "manual, played");
}

static void job_done(void *ctx, size_t j, enum cdx_job_state state, int attempts)
{
	struct cdx_run *r = ctx;
	struct job_run *jr = &r->jobs[j];
	const struct cdx_job *job = &r->p->jobs[j];
	cJSON *rec = cJSON_CreateObject();
	int64_t dur = jr->first_start_ms ? cdx_wall_ms() - jr->first_start_ms : 0;
	jr->state = state;
	r->n_done++;
	job_why(r, j, state);
	cJSON_AddStringToObject(rec, "t", "job");
	cJSON_AddStringToObject(rec, "run", r->id);
	cJSON_AddStringToObject(rec, "pipeline", r->p->name);
	cJSON_AddStringToObject(rec, "job", job->id);
	cJSON_AddStringToObject(rec, "status", cdx_job_state_name(state));
	cJSON_AddNumberToObject(rec, "attempts", attempts);
	cJSON_AddNumberToObject(rec, "duration_ms", (double)dur);
	cdx_run_artifacts(r, j, state, attempts, rec);
	if (jr->why[0])
		add_masked(r, rec, "why", jr->why);
	if (r->o.json) {
		cJSON *ev = cJSON_Duplicate(rec, 1);
		cJSON_DeleteItemFromObject(ev, "t");
		cJSON_AddStringToObject(ev, "event", "job_end");
		cJSON_AddNumberToObject(ev, "done", (double)r->n_done);
		cJSON_AddNumberToObject(ev, "total", (double)r->n_wanted);
		cdx_run_emit_json(r, ev);
	} else {
		cdx_run_show_job_end(r, j, state, dur);
	}
	record(r, rec, false);
}

/* a play record of cdx play for this run: its job is played */
static int on_play(void *ctx, const cJSON *rec)
{
	struct cdx_run *r = ctx;
	const char *t = cdx_jsn(rec, "t"), *run = cdx_jsn(rec, "run"), *job = cdx_jsn(rec, "job");
	size_t k;
	if (!t || strcmp(t, "play") != 0 || !run || strcmp(run, r->id) != 0 || !job)
		return 0;
	for (k = 0; k < r->p->n_jobs; k++)
		if (strcmp(r->p->jobs[k].id, job) == 0 && r->when[k] == CDX_WHEN_MANUAL && !r->played[k]) {
			r->played[k] = true;
			if (!r->o.json) {
				cdx_run_clear_status(r);
				cdx_text_printf(r->out, "[>] played %s\n", job);
				fflush(r->out);
			}
		}
	return 0;
}

/* the played hook: --play, or a play record in the store (asked at most
 * every 250 ms, or waiting WAIT_MS when nothing else runs) */
static bool played(void *ctx, size_t j, int64_t wait_ms)
{
	struct cdx_run *r = ctx;
	int64_t now = cdx_now_ns();
	struct job_run *jr = &r->jobs[j];
	if (!jr->manual_shown && !r->played[j]) {
		jr->manual_shown = true;
		if (!r->o.json && !r->make_job) {
			cdx_run_clear_status(r);
			cdx_text_printf(r->out, "[?] manual  %s: start it with: cdx play %s %s\n", r->p->jobs[j].id,
					r->id, r->p->jobs[j].id);
			fflush(r->out);
		}
		if (!r->make_job) {
			/* waiting, for the readers of the store (cdx status, cdx
			 * serve's play button); its final record follows */
			cJSON *rec = cJSON_CreateObject();
			cJSON_AddStringToObject(rec, "t", "job");
			cJSON_AddStringToObject(rec, "run", r->id);
			cJSON_AddStringToObject(rec, "pipeline", r->p->name);
			cJSON_AddStringToObject(rec, "job", r->p->jobs[j].id);
			cJSON_AddStringToObject(rec, "status", "manual");
			cJSON_AddNumberToObject(rec, "attempts", 0);
			cJSON_AddStringToObject(rec, "why", "manual, waiting to be played");
			record(r, rec, false);
		}
	}
	if (!r->played[j] && r->play_cursor[0] && r->store->ops->tail &&
	    (wait_ms > 0 || now - r->play_poll_ns >= 250000000)) {
		struct cdx_error err = {0};
		r->play_poll_ns = now;
		if (r->store->ops->tail(r->store, r->play_cursor, wait_ms, on_play, r, &err) == 0)
			wait_ms = 0;
	}
	if (!r->played[j] && wait_ms > 0) {
		/* no store to wait on: wait here, not in a busy loop */
		struct timespec ts = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	return r->played[j];
}

/* ---- setup --------------------------------------------------------------- */

/* select --only jobs and everything they need */
static int select_jobs(struct cdx_run *r, const char *const *only, struct cdx_error *err)
{
	const struct cdx_pipeline *p = r->p;
	const struct cdx_dag *d = p->dag;
	bool *mark = cdx_xcalloc(d->n_nodes + 1, sizeof(bool));
	uint32_t *stack = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	size_t sp = 0, i, k;
	for (i = 0; only && only[i]; i++) {
		bool found = false;
		for (k = 0; k < p->n_stages && !found; k++)
			if (strcmp(p->stages[k].name, only[i]) == 0) {
				stack[sp++] = (uint32_t)(p->n_jobs + k);
				found = true;
			}
		for (k = 0; k < p->n_jobs && !found; k++) {
			const struct cdx_job *jb = &p->jobs[k];
			const char *slash = strchr(only[i], '/');
			bool base = jb->matrix_base && slash &&
				    strncmp(only[i], p->stages[jb->stage].name, (size_t)(slash - only[i])) == 0 &&
				    p->stages[jb->stage].name[slash - only[i]] == '\0' &&
				    strcmp(slash + 1, jb->matrix_base) == 0;
			if (strcmp(jb->id, only[i]) == 0 || base) {
				stack[sp++] = (uint32_t)k;
				found = !base; /* a matrix base selects all its jobs */
			}
		}
		if (!found && sp == 0) {
			free(mark);
			free(stack);
			return cdx_error_set(err, CDX_EUSAGE, "--only %s: no such stage or job in pipeline %s",
					     only[i], p->name);
		}
		while (sp) {
			uint32_t v = stack[--sp], e;
			if (mark[v])
				continue;
			mark[v] = true;
			for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
				if (!mark[d->pred[e]])
					stack[sp++] = d->pred[e];
		}
	}
	for (i = 0; i < p->n_jobs; i++)
		r->wanted[i] = !only || !only[0] || mark[i];
	free(mark);
	free(stack);
	return 0;
}

/* whether a variable NAME is secret anywhere in P (pipeline, stage or job):
 * a --var value for it must be masked and kept out of records */
static bool var_is_secret(const struct cdx_pipeline *p, const char *name)
{
	const struct cdx_var *v = cdx_vars_find(&p->vars, name);
	size_t i;
	if (v && v->secret)
		return true;
	for (i = 0; i < p->n_jobs; i++) {
		v = cdx_vars_find(&p->jobs[i].vars, name);
		if (v && v->secret)
			return true;
	}
	return false;
}

/* entry_fits: NAME=VALUE fits a job's environment (CDX_VAR_ENTRY_MAX);
 * -1 with ERR set (CDX_EUSAGE) when not */
static int entry_fits(const char *name, const char *value, struct cdx_error *err)
{
	size_t n = strlen(name) + 1 + strlen(value);
	if (n <= CDX_VAR_ENTRY_MAX)
		return 0;
	return cdx_error_set(
	    err, CDX_EUSAGE,
	    "variable '%s' is too long: %s=VALUE is %zu bytes, over the %u a job's environment takes", name,
	    name, n, CDX_VAR_ENTRY_MAX);
}

/* check_sizes: the values known only now (from_env, --var) within the
 * limits the loader checks the file's values against (pipeline.h), so
 * that the run is refused as cdx validate would refuse the file, not by
 * the store or execve later; -1 with ERR set (CDX_EUSAGE) when not */
static int check_sizes(const struct cdx_run *r, struct cdx_error *err)
{
	const struct cdx_pipeline *p = r->p;
	size_t i, k, total = 2;
	for (i = 0; i < r->base.n; i++) {
		const struct cdx_var *v = &r->base.v[i];
		if (entry_fits(v->name, v->value, err) < 0)
			return -1;
		if (!v->secret)
			total += cdx_var_record_len(v->name, v->value);
	}
	if (total > CDX_VARS_RECORD_MAX)
		return cdx_error_set(
		    err, CDX_EUSAGE,
		    "variables too large: they take %zu bytes in the run record, over its limit of %u", total,
		    CDX_VARS_RECORD_MAX);
	for (i = 0; i < p->n_jobs; i++)
		for (k = 0; k < p->jobs[i].vars.n; k++)
			if (p->jobs[i].vars.v[k].from_env &&
			    entry_fits(p->jobs[i].vars.v[k].name, var_value(&p->jobs[i].vars.v[k]), err) < 0)
				return -1;
	return 0;
}

/* when: and rules: for every selected job (decide.h); a job decided
 * `never` is not run (unwanted: what needs it goes on) and shows as
 * skipped, with why */
static int decide(struct cdx_run *r, struct cdx_error *err)
{
	struct cdx_decide_ctx dc;
	size_t i;
	memset(&dc, 0, sizeof(dc));
	dc.run_vars = &r->over;
	dc.state = r->o.state ? r->o.state : "file:.cdx";
	dc.pipeline = r->p->name;
	dc.run_id = r->id;
	dc.wanted = r->wanted;
	r->decide = cdx_decide_jobs(r->p, &dc, err);
	if (!r->decide)
		return -1;
	r->allow_failure = cdx_xcalloc(r->p->n_jobs + 1, sizeof(bool));
	r->when = cdx_xcalloc(r->p->n_jobs + 1, sizeof(*r->when));
	r->manual_blocks = cdx_xcalloc(r->p->n_jobs + 1, sizeof(bool));
	r->played = cdx_xcalloc(r->p->n_jobs + 1, sizeof(bool));
	for (i = 0; i < r->p->n_jobs; i++) {
		r->allow_failure[i] = r->decide[i].allow_failure;
		r->when[i] = r->decide[i].when;
		if (r->when[i] == CDX_WHEN_MANUAL && r->wanted[i]) {
			/* GitLab: a manual job is allowed to fail, and so holds
			 * nothing back, unless it says allow_failure: false */
			r->any_manual = true;
			if (!r->p->jobs[i].has_allow_failure)
				r->allow_failure[i] = true;
			r->manual_blocks[i] = !r->allow_failure[i];
		}
		if (r->wanted[i] && r->decide[i].when == CDX_WHEN_NEVER)
			r->wanted[i] = false;
	}
	cdx_decide_git(NULL, &r->own);
	return 0;
}

/* a job decided `never`: recorded and shown as skipped, with why */
static bool decided_never(const struct cdx_run *r, size_t j)
{
	return r->decide && r->decide[j].when == CDX_WHEN_NEVER && strcmp(r->decide[j].why, "not selected") != 0;
}

static void show_never(struct cdx_run *r)
{
	size_t i;
	for (i = 0; i < r->p->n_jobs; i++) {
		cJSON *rec;
		if (!decided_never(r, i))
			continue;
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "t", "job");
		cJSON_AddStringToObject(rec, "run", r->id);
		cJSON_AddStringToObject(rec, "pipeline", r->p->name);
		cJSON_AddStringToObject(rec, "job", r->p->jobs[i].id);
		cJSON_AddStringToObject(rec, "status", "skipped");
		cJSON_AddNumberToObject(rec, "attempts", 0);
		cJSON_AddNumberToObject(rec, "duration_ms", 0);
		add_masked(r, rec, "why", r->decide[i].why);
		if (r->o.json) {
			cJSON *ev = cJSON_Duplicate(rec, 1);
			cJSON_DeleteItemFromObject(ev, "t");
			cJSON_AddStringToObject(ev, "event", "job_end");
			cdx_run_emit_json(r, ev);
		} else if (!r->make_job) {
			cdx_text_printf(r->out, "[-] skipped %s (%s)\n", r->p->jobs[i].id, r->decide[i].why);
		}
		record(r, rec, false);
	}
}

struct cdx_run *cdx_run_new(const struct cdx_pipeline *p, const struct cdx_run_options *o, struct cdx_error *err)
{
	struct cdx_run *r = cdx_xcalloc(1, sizeof(*r));
	size_t i, nv = 0;
	r->p = p;
	r->o = *o;
	r->o.vars = NULL;
	r->o.only = NULL;
	r->o.pool = o->pool || p->executor_workers;
	if (!r->o.jobs && r->o.pool) {
		r->o.jobs = 256; /* the pool's slots bound what runs */
	} else if (!r->o.jobs) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		r->o.jobs = c > 0 ? (unsigned)c : 1;
	}
	if (r->o.grace_ms < 0)
		r->o.grace_ms = 5000;
	r->out = o->out ? o->out : stdout;
	r->states = cdx_xcalloc(p->n_jobs + 1, sizeof(*r->states));
	r->jobs = cdx_xcalloc(p->n_jobs + 1, sizeof(*r->jobs));
	r->wanted = cdx_xcalloc(p->n_jobs + 1, sizeof(bool));
	r->w = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	r->prio = cdx_xcalloc(p->dag->n_nodes + 1, sizeof(double));
	r->log_dir_made = cdx_xcalloc(p->n_stages + 1, sizeof(bool));
	r->logs = cdx_xcalloc(p->n_jobs + 1, sizeof(*r->logs));
	cdx_run_id_new(r->id, sizeof(r->id));

	/* pipeline variables, then --var K=V on top of everything */
	for (i = 0; i < p->vars.n; i++) {
		const struct cdx_var *v = &p->vars.v[i];
		set_var(&r->base, v->name, var_value(v), v->secret);
		if (v->secret)
			add_secret(r, var_value(v));
	}
	for (i = 0; i < p->n_jobs; i++)
		for (size_t k = 0; k < p->jobs[i].vars.n; k++)
			if (p->jobs[i].vars.v[k].secret)
				add_secret(r, var_value(&p->jobs[i].vars.v[k]));
	for (i = 0; o->vars && o->vars[i]; i++) {
		const char *eq = strchr(o->vars[i], '=');
		char *name;
		bool secret;
		if (!eq || eq == o->vars[i]) {
			cdx_error_set(err, CDX_EUSAGE, "--var needs K=V, not '%s'", o->vars[i]);
			goto fail;
		}
		name = cdx_xstrndup(o->vars[i], (size_t)(eq - o->vars[i]));
		if (!cdx_env_name_valid(name)) {
			cdx_error_set(err, CDX_EUSAGE,
				      "--var %s: not a variable name (use A-Z a-z 0-9 _, not starting with a digit)",
				      name);
			free(name);
			goto fail;
		}
		secret = var_is_secret(p, name);
		set_var(&r->over, name, eq + 1, secret);
		set_var(&r->base, name, eq + 1, secret);
		if (secret)
			add_secret(r, eq + 1);
		free(name);
		nv++;
	}
	/* the Redis password cdx connects with: jobs never get it (prepare
	 * passes CDX_STATE without it), and should it show up anyway it is
	 * masked as every secret is */
	add_url_secret(r, o->state);
	add_url_secret(r, getenv("CDX_STATE"));
	if (check_sizes(r, err) < 0)
		goto fail;
	if (select_jobs(r, o->only, err) < 0)
		goto fail;
	if (decide(r, err) < 0)
		goto fail;
	for (i = 0; o->play && o->play[i]; i++) {
		size_t k;
		for (k = 0; k < p->n_jobs; k++)
			if (strcmp(p->jobs[k].id, o->play[i]) == 0)
				break;
		if (k == p->n_jobs || r->when[k] != CDX_WHEN_MANUAL) {
			cdx_error_set(err, CDX_EUSAGE, "--play %s: %s", o->play[i],
				      k == p->n_jobs ? "no such job in the pipeline"
						     : "not a manual job in this run (see its when: and rules:)");
			goto fail;
		}
		r->played[k] = true;
	}
	for (i = 0; i < p->n_jobs; i++)
		r->n_wanted += r->wanted[i];
	r->state = CDX_RUN_RUNNING;
	(void)nv;
	return r;
fail:
	cdx_run_free(r);
	return NULL;
}

int cdx_run_set_make_job(struct cdx_run *r, const struct cdx_make_job *mj, struct cdx_error *err)
{
	if (r->executed)
		return cdx_error_set(err, CDX_EUSAGE, "run %s was executed already", r->id);
	if (mj->run_id) {
		if (!cdx_name_valid(mj->run_id) || strlen(mj->run_id) >= sizeof(r->id))
			return cdx_error_set(err, CDX_EUSAGE, "'%s' is not a run id", mj->run_id);
		snprintf(r->id, sizeof(r->id), "%s", mj->run_id);
	}
	r->make_job = true;
	r->make_first = mj->first;
	r->owner_pid = mj->owner_pid;
	r->job_count = mj->job_count;
	return 0;
}

void cdx_run_set_played(struct cdx_run *r, size_t j)
{
	if (j < r->p->n_jobs && r->played)
		r->played[j] = true;
}

void cdx_run_set_outputs_from(struct cdx_run *r, const char *const *ids)
{
	r->outputs_from = ids;
}

void cdx_run_cancel(struct cdx_run *r)
{
	if (r->cancel < 2)
		r->cancel++;
}

const char *cdx_run_id(const struct cdx_run *r)
{
	return r->id;
}

const char *cdx_run_status(const struct cdx_run *r)
{
	if (!r->executed)
		return "pending";
	return cdx_run_state_name(r->state);
}

/* --shuffle: a random priority per job, drawn from SEED (splitmix64), so
 * that the ready queue starts ready jobs in a random order that the same
 * seed repeats; stage nodes never enter the queue */
static void shuffle(double *prio, size_t n_jobs, unsigned long long seed)
{
	uint64_t x = seed;
	size_t i;
	for (i = 0; i < n_jobs; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		prio[i] = (double)(z >> 11); /* 53 bits: exact in a double */
	}
}

/* the record that starts run R (store.h), to be freed by the caller */
static cJSON *run_record(const struct cdx_run *r)
{
	const struct cdx_pipeline *p = r->p;
	cJSON *rec = cJSON_CreateObject(), *vars;
	char user[64], host[256], h[16];
	int owner = r->owner_pid > 0 ? (int)r->owner_pid : (int)getpid();
	size_t i;
	cdx_who(user, sizeof(user), host, sizeof(host));
	cJSON_AddStringToObject(rec, "t", "run");
	cJSON_AddStringToObject(rec, "id", r->id);
	cJSON_AddStringToObject(rec, "pipeline", p->name);
	add_masked(r, rec, "file", p->path);
	snprintf(h, sizeof(h), "%08x", (unsigned)p->file_hash);
	cJSON_AddStringToObject(rec, "file_hash", h);
	vars = cJSON_AddObjectToObject(rec, "vars");
	for (i = 0; i < r->base.n; i++)
		if (!r->base.v[i].secret)
			add_masked(r, vars, r->base.v[i].name, r->base.v[i].value);
	if (cdx_vars_find(&r->over, "VERSION"))
		add_masked(r, rec, "version", cdx_vars_find(&r->over, "VERSION")->value);
	cJSON_AddNumberToObject(rec, "start_ms", (double)r->start_ms);
	cJSON_AddStringToObject(rec, "host", host);
	cJSON_AddStringToObject(rec, "user", user);
	if (cdx_who_claimed(user))
		cJSON_AddStringToObject(rec, "claimed_user", cdx_who_claimed(user));
	cJSON_AddNumberToObject(rec, "pid", owner);
	cJSON_AddNumberToObject(rec, "pid_start", (double)cdx_process_start_time(owner));
	cJSON_AddNumberToObject(rec, "job_count", (double)(r->job_count ? r->job_count : r->n_wanted));
	if (r->make_job)
		cJSON_AddStringToObject(rec, "driver", "make");
	cJSON_AddNumberToObject(rec, "workers", r->o.jobs);
	if (r->o.pool) {
		char head[41];
		cJSON_AddStringToObject(rec, "executor", "workers");
		if (cdx_git_head(".", head) == 0)
			cJSON_AddStringToObject(rec, "commit", head);
	}
	if (r->o.shuffle)
		cJSON_AddNumberToObject(rec, "shuffle_seed", (double)r->o.shuffle_seed);
	return rec;
}

/* weigh: job weights (measured history, else duration_hint, else 1 s)
 * and the priorities they give, or the shuffle's */
static void weigh(struct cdx_run *r)
{
	const struct cdx_pipeline *p = r->p;
	size_t i;
	for (i = 0; i < p->n_jobs; i++)
		r->w[i] = cdx_pipeline_weight_ms(p, i);
	if (!r->make_job) /* one job: no order to choose, no history to read */
		cdx_history_weights(r->store, p, r->w);
	cdx_dag_priority(p->dag, r->w, r->prio);
	if (r->o.shuffle)
		shuffle(r->prio, p->n_jobs, r->o.shuffle_seed);
}

/* begin: record the start of the run (and sweep for strays); -1 with ERR
 * set (CDX_ESTATE) when the store refused the run record */
static int begin(struct cdx_run *r, struct cdx_error *err)
{
	cJSON *rec;
	r->t0_ns = cdx_now_ns();
	r->start_ms = cdx_wall_ms();
	/* a make job other than the first writes no run record (the first
	 * did): nothing of it is built, not even the name service's user */
	if (r->make_job && !r->make_first)
		return 0;
	rec = run_record(r);
	if (r->o.json) {
		cJSON *ev = cJSON_Duplicate(rec, 1);
		cJSON_DeleteItemFromObject(ev, "t");
		cJSON_AddStringToObject(ev, "event", "run_start");
		cdx_run_emit_json(r, ev);
	}
	if (r->store->ops->append(r->store, rec, err) < 0 || r->store->ops->flush(r->store, err) < 0) {
		cJSON_Delete(rec);
		err->code = CDX_ESTATE;
		r->state = CDX_RUN_FAILED;
		return -1;
	}
	cJSON_Delete(rec);
	r->last_flush_ns = cdx_now_ns();
	if (r->any_manual && r->store->ops->tail) {
		/* play records count from here on */
		struct cdx_error terr = {0};
		snprintf(r->play_cursor, sizeof(r->play_cursor), "$");
		if (r->store->ops->tail(r->store, r->play_cursor, 0, on_play, r, &terr) < 0)
			r->play_cursor[0] = '\0';
	}
	{
		/* once per run: a make run's first job sweeps for all of them */
		size_t strays = cdx_runner_kill_strays();
		if (strays && !r->make_job)
			cdx_text_printf(stderr,
					"cdx: killed %zu process%s left behind by a cdx that was killed\n",
					strays, strays == 1 ? "" : "es");
	}
	return 0;
}

/* finish: the critical path of what really ran, the run_end record and
 * the summary (a make job: only make the records durable) */
static void finish(struct cdx_run *r)
{
	const struct cdx_pipeline *p = r->p;
	double *actual, cp_ms = 0;
	size_t i, *path;
	cJSON *rec;

	actual = cdx_xcalloc(p->n_jobs + 1, sizeof(double));
	path = cdx_xcalloc(p->n_jobs + 1, sizeof(size_t));
	for (i = 0; i < p->n_jobs; i++)
		actual[i] = (double)r->jobs[i].busy_ms;
	cdx_dag_critical_path(p->dag, actual, path, &cp_ms);
	free(actual);
	free(path);

	if (r->make_job) {
		/* make's exit ends the run (see cmd_job.c); make the records
		 * durable (lost_records says what a failure lost) */
		struct cdx_error ferr = {0};
		if (r->store->ops->flush(r->store, &ferr) < 0 && !r->store_failed) {
			r->store_failed = true;
			r->store_err = ferr;
		}
		return;
	}
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "run_end");
	cJSON_AddStringToObject(rec, "id", r->id);
	cJSON_AddStringToObject(rec, "pipeline", p->name);
	cJSON_AddStringToObject(rec, "status", cdx_run_state_name(r->state));
	cJSON_AddNumberToObject(rec, "end_ms", (double)r->end_ms);
	cJSON_AddNumberToObject(rec, "duration_ms", (double)(r->end_ms - r->start_ms));
	cJSON_AddNumberToObject(rec, "critical_path_ms", cp_ms);
	if (r->o.json) {
		cJSON *ev = cJSON_Duplicate(rec, 1);
		cJSON_DeleteItemFromObject(ev, "t");
		cJSON_AddStringToObject(ev, "event", "run_end");
		cdx_run_emit_json(r, ev);
	}
	record(r, rec, true);
	if (!r->o.json)
		cdx_run_summary(r, cp_ms);
}

/* lost_records: whether records of R cannot be kept: after a store
 * failure, the store's last flush (cdx_store_settle: Redis spills what it
 * holds to a local file store) failed too, or a record was refused; then
 * ERR says how many and what they were (CDX_ESTATE), for the run's exit
 * status 4.  What a store failure delayed and was written after all is not
 * a loss. */
static bool lost_records(struct cdx_run *r, struct cdx_error *err)
{
	struct cdx_error e = {0};
	size_t lost;
	if (!r->store_failed)
		return false;
	if (cdx_store_settle(r->store, &e) == 0 && !r->n_dropped)
		return false;
	if (!e.msg[0])
		e = r->store_err;
	lost = r->n_dropped + r->store->ops->pending(r->store);
	cdx_run_clear_status(r);
	if (lost)
		cdx_error_set(err, CDX_ESTATE,
			      "cannot record run %s in %s: %s; %zu record%s of it %s lost (%s), so it will read as %s",
			      r->id, r->store->url, e.msg, lost, lost == 1 ? "" : "s", lost == 1 ? "is" : "are",
			      r->make_job ? "this job's attempts and result" : "attempts, job results and the run's end",
			      r->make_job ? "incomplete" : "interrupted");
	else
		cdx_error_set(err, CDX_ESTATE, "cannot record run %s in %s: %s; records of it are lost", r->id,
			      r->store->url, e.msg);
	return true;
}

int cdx_run_execute(struct cdx_run *r, struct cdx_error *err)
{
	const struct cdx_pipeline *p = r->p;
	struct cdx_sched_hooks hooks = {r,    prepare,       started,    attempt_done, job_done,
					tick, prepare_after, after_done, played};
	struct cdx_sched_opts so;

	if (r->executed)
		return cdx_error_set(err, CDX_EUSAGE, "run %s was executed already", r->id);
	if (cdx_store_open(r->o.state ? r->o.state : "file:.cdx", &r->store, err) < 0)
		return -1;
	/* one job of a make run: its records are written at once and made
	 * durable by the run's watcher, which syncs when it closes the run;
	 * its run record (the first job's) is synced right away */
	r->store->lazy_sync = r->make_job && !r->make_first;
	if (r->o.pool) {
		r->pool = cdx_pool_new(r->o.state ? r->o.state : "file:.cdx", p, r->id, cdx_run_on_output, r, err);
		if (!r->pool)
			return -1;
	}
	weigh(r);

	/* a concurrency group: wait for a slot before the run counts as started
	 * (a make-driven run's jobs are separate processes: not enforced) */
	if (!r->make_job) {
		enum cdx_slot_result got =
		    cdx_concurrency_acquire(r->store, p, r->id, &r->cancel, stderr, &r->slot, err);
		if (got != CDX_SLOT_TAKEN) {
			r->executed = true;
			r->state = CDX_RUN_CANCELLED;
			return got == CDX_SLOT_ERROR ? -1 : CDX_EINTR;
		}
	}
	r->executed = true;
	if (begin(r, err) < 0)
		return -1;
	show_never(r);

	if (!r->pool)
		r->runner = cdx_runner_new(on_output, r);
	memset(&so, 0, sizeof(so));
	so.workers = r->o.jobs;
	so.keep_going = r->o.keep_going;
	so.timeout_ms = p->timeout_ms;
	so.wanted = r->wanted;
	so.prio = r->prio;
	so.cancel = &r->cancel;
	so.allow_failure = r->allow_failure;
	so.when = r->when;
	so.manual_blocks = r->manual_blocks;
	so.manual_wait = r->o.tty && !r->o.json && !r->make_job;
	if (r->pool)
		r->state = cdx_sched_run(p, &so, cdx_pool_ops(), r->pool, &hooks, r->states);
	else
		r->state = cdx_sched_run(p, &so, cdx_runner_ops(), r->runner, &hooks, r->states);
	for (size_t i = 0; i < p->n_jobs; i++)
		if (decided_never(r, i))
			r->states[i] = CDX_JOB_SKIPPED;
	if (r->artifacts_failed && r->state == CDX_RUN_SUCCESS)
		r->state = CDX_RUN_FAILED;
	cdx_runner_free(r->runner);
	r->runner = NULL;
	cdx_pool_free(r->pool);
	r->pool = NULL;
	scratch_free(r);
	r->end_ms = cdx_wall_ms();
	finish(r);

	cdx_concurrency_release(r->slot);
	r->slot = NULL;
	if (lost_records(r, err))
		return -1;
	switch (r->state) {
	case CDX_RUN_SUCCESS: return 0;
	case CDX_RUN_CANCELLED: return CDX_EINTR;
	default: return CDX_EFAILED;
	}
}

cJSON *cdx_run_json(const struct cdx_run *r)
{
	cJSON *o = cJSON_CreateObject(), *jobs;
	size_t i;
	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddStringToObject(o, "pipeline", r->p->name);
	cJSON_AddStringToObject(o, "status", cdx_run_status(r));
	cJSON_AddNumberToObject(o, "start_ms", (double)r->start_ms);
	cJSON_AddNumberToObject(o, "end_ms", (double)r->end_ms);
	jobs = cJSON_AddArrayToObject(o, "jobs");
	for (i = 0; i < r->p->n_jobs; i++) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "id", r->p->jobs[i].id);
		cJSON_AddStringToObject(j, "status", r->executed ? cdx_job_state_name(r->states[i]) : "pending");
		if (r->decide && r->decide[i].why[0])
			cJSON_AddStringToObject(j, "why", r->decide[i].why);
		cJSON_AddItemToObject(j, "attempts", r->jobs[i].attempt_recs ? cJSON_Duplicate(r->jobs[i].attempt_recs, 1)
									     : cJSON_CreateArray());
		cJSON_AddItemToArray(jobs, j);
	}
	return o;
}

void cdx_run_free(struct cdx_run *r)
{
	size_t i;
	if (!r)
		return;
	cdx_runner_free(r->runner);
	cdx_pool_free(r->pool);
	cdx_concurrency_release(r->slot);
	cdx_store_close(r->store);
	scratch_free(r);
	free(r->envp);
	for (i = 0; i < r->p->n_jobs; i++) {
		cdx_buf_free(&r->jobs[i].out);
		cJSON_Delete(r->jobs[i].attempt_recs);
		cdx_logstream_free(&r->logs[i]);
		cJSON_Delete(r->jobs[i].after_rec);
	}
	free(r->logs);
	free(r->jobs);
	free(r->states);
	free(r->wanted);
	free(r->w);
	free(r->prio);
	free(r->log_dir_made);
	cdx_vars_free(&r->base);
	cdx_vars_free(&r->over);
	cdx_vars_free(&r->own);
	cdx_decisions_free(r->decide, r->p->n_jobs);
	free(r->allow_failure);
	free(r->when);
	free(r->manual_blocks);
	free(r->played);
	for (i = 0; i < r->n_secrets; i++)
		free(r->secrets[i]);
	free(r->secrets);
	free(r);
}

int cdx_pipeline_run(const struct cdx_pipeline *p, const struct cdx_run_options *o, struct cdx_error *err)
{
	struct cdx_run *r = cdx_run_new(p, o, err);
	int rc;
	if (!r)
		return -1;
	rc = cdx_run_execute(r, err);
	cdx_run_free(r);
	return rc;
}
