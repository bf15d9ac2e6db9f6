/* cmd_job.c — `cdx job`: one job of a pipeline that GNU make drives.
 *
 * $(cdx-pipeline FILE) turns every job into a make rule whose recipe is
 * `cdx job --run ID --owner MAKEPID STAGE/JOB`, with the job's whole
 * definition (a one-job pipeline as JSON, see cdx_pipeline_job_spec) in
 * the spec store of run ID that make holds open for its recipes
 * (jobspec.h); a module of an older version passes it in the environment
 * variable CDX_JOB_SPEC instead.  The job then runs
 * through the very runner `cdx run` uses — timeouts, retries, subreaper,
 * logs, secret masking, records — as one part of the run ID.
 *
 * The run belongs to make: the first job of it (the one that creates the
 * marker file STATE/make/ID) writes the run record and starts a watcher, a
 * small detached process that waits for make to exit — normally, after a
 * failure, under -k, on Ctrl-C or even on kill -9 — and then closes the
 * run with the status its jobs' records add up to, or cancelled when make
 * was stopped by a signal (noted by the module in the spec store, which the
 * watcher opens through /proc while make runs: see jobspec.h).
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/cli.h"
#include "state/history.h"
#include "exec/jobspec.h"
#include "exec/run.h"
#include "observe/monitor.h"
#include "state/store.h"
#include "base/map.h"
#include "base/mask.h"
#include "base/util.h"


/* where the make runs of STATE keep their markers, malloc'd: DIR/make for
 * a file store (without opening it: every job asks), else beside the
 * local directory of the store (its logs), e.g. .cdx/make for Redis; NULL
 * when the store cannot be opened (the run then fails to start anyway) */
static char *marker_dir(const char *state)
{
	struct cdx_store *s;
	struct cdx_error err = {0};
	char *dir, *slash;
	if (!strstr(state, "://"))
		return cdx_xasprintf("%s/make", strncmp(state, "file:", 5) == 0 ? state + 5 : state);
	if (cdx_store_open(state, &s, &err) < 0)
		return NULL;
	dir = cdx_xstrdup(s->log_dir);
	cdx_store_close(s);
	slash = strrchr(dir, '/');
	if (slash && slash > dir) {
		char *m;
		*slash = '\0'; /* ".../logs" → ".../make" */
		m = cdx_xasprintf("%s/make", dir);
		free(dir);
		return m;
	}
	free(dir);
	return NULL;
}

struct tally {
	const char *run;
	int failed, cancelled, jobs;
	double start_ms;
	struct cdx_map seen; /* ids of the jobs with a record (keys in ids) */
	char **ids;
	size_t n_ids, cap_ids;
};

static int tally_one(void *ctx, const cJSON *rec)
{
	struct tally *t = ctx;
	const char *type = cdx_jsn(rec, "t");
	const char *run = cdx_jsn(rec, "run");
	const char *status = cdx_jsn(rec, "status");
	if (type && strcmp(type, "run") == 0) {
		const char *id = cdx_jsn(rec, "id");
		if (id && strcmp(id, t->run) == 0)
			t->start_ms = cdx_jn(rec, "start_ms");
		return 0;
	}
	if (!type || strcmp(type, "job") != 0 || !run || strcmp(run, t->run) != 0 || !status)
		return 0;
	t->jobs++;
	if (cdx_jsn(rec, "job") && !cdx_map_get(&t->seen, cdx_jsn(rec, "job"), NULL)) {
		/* the record goes away after this call: the map keeps a copy */
		CDX_PUSH(t->ids, t->n_ids, t->cap_ids, cdx_xstrdup(cdx_jsn(rec, "job")));
		cdx_map_put(&t->seen, t->ids[t->n_ids - 1], 1, NULL);
	}
	if (strcmp(status, "failed") == 0)
		t->failed++;
	else if (strcmp(status, "cancelled") == 0)
		t->cancelled++;
	return 0;
}

/* wait_for_ms: whether process OWNER ended within MS milliseconds */
static bool wait_for_ms(pid_t owner, int64_t ms)
{
	int64_t until = cdx_now_ns() / 1000000 + ms;
	while (cdx_process_alive((int)owner)) {
		if (cdx_now_ns() / 1000000 >= until)
			return false;
		usleep(50000);
	}
	return true;
}

/* wait until process OWNER has ended */
static void wait_for(pid_t owner)
{
	int fd = (int)syscall(SYS_pidfd_open, owner, 0);
	if (fd >= 0) {
		struct pollfd pfd = {fd, POLLIN, 0};
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
		close(fd);
		return;
	}
	while (cdx_process_alive((int)owner))
		usleep(100000);
}

/* whether a `cdx job --run ID` process is still running (make may die
 * before its jobs: they go on, and record their end) */
static bool jobs_of_run_running(const char *id)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	bool found = false;
	long self = (long)getpid();
	if (!dir)
		return false;
	for (de = readdir(dir); de && !found; de = readdir(dir)) {
		char path[64], buf[4096], *end;
		long pid = strtol(de->d_name, &end, 10);
		ssize_t n, i;
		int fd;
		if (*end || pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		/* the arguments "--run" "ID", NUL-separated */
		for (i = 0; i + 6 < n && !found; i++)
			if (memcmp(buf + i, "--run", 6) == 0 && (i == 0 || buf[i - 1] == '\0') &&
			    i + 6 + (ssize_t)strlen(id) < n && strcmp(buf + i + 6, id) == 0)
				found = cdx_process_alive((int)pid);
	}
	closedir(dir);
	return found;
}

/* alerts_after_run: the end of a make run: evaluate the alerts of PIPELINE
 * in S with the project file CONFIG (NULL or missing: nothing to do).  Best
 * effort: problems are warnings on stderr, never change the run's result */
static void alerts_after_run(struct cdx_store *s, const char *pipeline, const char *config)
{
	struct cdx_diags *d;
	struct cdx_project *pr;
	struct cdx_error err = {0};
	cJSON *a;
	if (!config || access(config, F_OK) != 0)
		return;
	d = cdx_diags_new();
	pr = cdx_project_load(config, d);
	cdx_diags_free(d);
	if (!pr) {
		fprintf(stderr, "cdx: warning: alerts not evaluated: %s does not load (see cdx validate %s)\n", config,
			config);
		return;
	}
	if (cdx_project_monitoring(pr)->n_alerts) {
		a = cdx_monitor_alerts_in(s, pipeline, cdx_project_monitoring(pr), &err);
		if (!a)
			fprintf(stderr, "cdx: warning: alerts not evaluated: %s\n", err.msg);
		cJSON_Delete(a);
	}
	cdx_project_free(pr);
}

/* after_failure: make stopped at a failure, and make has no "finally":
 * run the jobs of FILE that run when a pipeline fails (when: always and
 * when: on_failure) and did not run, one at a time in pipeline order, as
 * parts of run ID (their output goes to their logs) */
static void after_failure(const char *state, const char *id, const char *file, struct tally *t)
{
	struct cdx_pipeline *p = file ? cdx_pipeline_load(file, NULL) : NULL;
	size_t i, seen;
	if (!p)
		return;
	for (i = 0; i < p->n_jobs; i++) {
		enum cdx_when w = p->jobs[i].when;
		if ((w == CDX_WHEN_ALWAYS || w == CDX_WHEN_ON_FAILURE) && !cdx_map_get(&t->seen, p->jobs[i].id, &seen))
			cli_run_one_job(state, p, i, id, stdout);
	}
	cdx_pipeline_free(p);
}

/* the watcher: close run ID of STATE once OWNER is gone.  EXPECT jobs
 * should have run (0 = unknown); after TIMEOUT_MS (0 = none) the run is
 * over, and make is told to stop as a Ctrl-C would. */
static void watch(const char *state, const char *id, pid_t owner, const char *marker, size_t expect,
		  int64_t timeout_ms, const char *pipeline, const char *config, const char *file)
{
	struct cdx_store *s;
	struct cdx_error err = {0};
	struct tally t = {id, 0, 0, 0, 0, {0}, NULL, 0, 0};
	size_t k;
	cJSON *rec;
	double end;
	bool timed_out = false;
	/* make's spec store, held while make runs: it says whether make died
	 * of a signal (SIGINT to make alone lets the running jobs succeed) */
	int store = cdx_jobspec_open_of((long)owner, id), sig;
	if (timeout_ms > 0 && !wait_for_ms(owner, timeout_ms)) {
		timed_out = true;
		kill(owner, SIGTERM); /* make passes it to its jobs and stops */
		if (!wait_for_ms(owner, 10000))
			kill(owner, SIGKILL);
	}
	wait_for(owner);
	sig = cdx_jobspec_signal(store);
	if (store >= 0)
		close(store);
	while (jobs_of_run_running(id))
		usleep(100000);
	if (cdx_store_open(state, &s, &err) < 0)
		return;
	s->ops->scan(s, tally_one, &t, &err);
	if (!timed_out && !t.cancelled && !sig && (t.failed || (expect && (size_t)t.jobs < expect))) {
		cdx_store_close(s);
		after_failure(state, id, file, &t);
		if (cdx_store_open(state, &s, &err) < 0)
			s = NULL;
	}
	cdx_map_free(&t.seen);
	for (k = 0; k < t.n_ids; k++)
		free(t.ids[k]);
	free(t.ids);
	if (!s)
		return;
	end = (double)cdx_wall_ms();
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "t", "run_end");
	cJSON_AddStringToObject(rec, "id", id);
	if (timed_out)
		cJSON_AddStringToObject(rec, "status", "timeout");
	else if (t.cancelled || sig)
		cJSON_AddStringToObject(rec, "status", "cancelled");
	else if (t.failed || (expect && (size_t)t.jobs < expect))
		cJSON_AddStringToObject(rec, "status", "failed");
	else
		cJSON_AddStringToObject(rec, "status", "success");
	if (expect && (size_t)t.jobs < expect) {
		/* make stopped before running every job its goals needed */
		cJSON_AddNumberToObject(rec, "jobs_expected", (double)expect);
		cJSON_AddNumberToObject(rec, "jobs_done", t.jobs);
	}
	if (sig && !timed_out)
		cJSON_AddNumberToObject(rec, "signal", sig); /* make was stopped by it */
	cJSON_AddNumberToObject(rec, "end_ms", end);
	if (t.start_ms > 0)
		cJSON_AddNumberToObject(rec, "duration_ms", end - t.start_ms);
	cJSON_AddStringToObject(rec, "driver", "make");
	s->ops->append(s, rec, &err);
	s->ops->flush(s, &err);
	cJSON_Delete(rec);
	/* the run ended: evaluate the alerts on its pipeline (CONFIG: cdx.yml) */
	alerts_after_run(s, pipeline, config);
	cdx_store_close(s);
	unlink(marker);
}

/* start the watcher as a detached grandchild holding none of make's fds */
static void spawn_watcher(const char *state, const char *id, pid_t owner, const char *marker, size_t expect,
			  int64_t timeout_ms, const char *pipeline, const char *config, const char *file)
{
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		int fd;
		setsid();
		if (fork() != 0)
			_exit(0);
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* make's jobserver pipe and output must not be held open */
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		watch(state, id, owner, marker, expect, timeout_ms, pipeline, config, file);
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* the job is not part of make's jobserver (its fds are not passed on):
 * a make inside the job would warn "jobserver unavailable", so the flags
 * that name it are taken out of MAKEFLAGS */
static void drop_jobserver(void)
{
	const char *mf = getenv("MAKEFLAGS");
	struct cdx_buf b = {0};
	const char *w, *e;
	if (!mf || !strstr(mf, "--jobserver"))
		return;
	for (w = mf; *w; w = e) {
		while (*w == ' ')
			w++;
		e = strchr(w, ' ');
		if (!e)
			e = w + strlen(w);
		if (e > w && strncmp(w, "--jobserver", 11) != 0) {
			if (b.len)
				cdx_buf_addc(&b, ' ');
			cdx_buf_add(&b, w, (size_t)(e - w));
		}
	}
	setenv("MAKEFLAGS", b.data ? b.data : "", 1);
	cdx_buf_free(&b);
}

/* make -s: MAKEFLAGS' first word holds the single-letter flags */
static bool make_silent(void)
{
	const char *mf = getenv("MAKEFLAGS");
	if (!mf)
		return false;
	while (*mf == ' ')
		mf++;
	for (; *mf && *mf != ' ' && *mf != '-'; mf++)
		if (*mf == 's')
			return true;
	return strstr(getenv("MAKEFLAGS"), "--silent") != NULL;
}

/* the arguments of `cdx job` */
struct job_args {
	const char *run_id, *job;
	long owner;
	bool pool;         /* --workers: the job runs on the worker pool */
	const char **vars; /* K=V of --override, NULL-terminated */
	size_t n_vars, cap_vars;
};

enum { OPT_RUN = CLI_OPT_OWN, OPT_OWNER, OPT_OVERRIDE, OPT_WORKERS };

static const struct option job_longs[] = {
	{"run", required_argument, NULL, OPT_RUN},
	{"owner", required_argument, NULL, OPT_OWNER},
	{"override", required_argument, NULL, OPT_OVERRIDE},
	{"workers", no_argument, NULL, OPT_WORKERS},
	{0},
};

/* --override NAME: a variable make got on its command line: its value
 * comes from the environment make gives the recipe, never from the command
 * line, so it is never reparsed by a shell */
static void add_override(struct job_args *a, const char *name)
{
	const char *val = getenv(name);
	if (!val)
		return;
	cdx_grow(&a->vars, &a->cap_vars, a->n_vars + 2, sizeof(char *));
	a->vars[a->n_vars++] = cdx_xjoin3(name, "=", val);
	a->vars[a->n_vars] = NULL;
}

/* free what parse_job_args allocated */
static void job_args_free(struct job_args *a)
{
	size_t k;
	for (k = 0; k < a->n_vars; k++)
		free((char *)a->vars[k]);
	free(a->vars);
}

/* the arguments of `cdx job` in A; 0 or the exit status */
static int parse_job_args(struct cli *g, int argc, char **argv, struct job_args *a)
{
	struct cli_opts p;
	cli_opts_begin(&p, g, "job", argc, argv, "", job_longs, 1);
	while (cli_opts_next(&p)) {
		if (p.opt == OPT_RUN)
			a->run_id = p.arg;
		else if (p.opt == OPT_OVERRIDE)
			add_override(a, p.arg);
		else if (p.opt == OPT_WORKERS)
			a->pool = true;
		else if (cli_number("job", "--owner needs a process id", p.arg, 1, LONG_MAX, &a->owner))
			return CDX_EUSAGE;
	}
	if (p.status)
		return p.status;
	if (!p.n_pos)
		return cli_usage_error("job", "name the job STAGE/JOB");
	a->job = argv[1];
	return 0;
}

/* the spec of JOB of make's run RUN_ID, malloc'd: from the variable
 * CDX_JOB_SPEC of an older cdx.so, else from the spec store make holds;
 * NULL with the problem printed */
static char *take_spec(const char *run_id, const char *job)
{
	struct cdx_error err = {0};
	const char *env = getenv("CDX_JOB_SPEC");
	char *spec;
	if (env) {
		/* the carrier of an older cdx.so: a variable of the recipe */
		spec = cdx_xstrdup(env);
		unsetenv("CDX_JOB_SPEC"); /* the job sees its variables, not their carrier */
		return spec;
	}
	if (!run_id) {
		cli_error("job: no job spec: `cdx job` runs the jobs of $(cdx-pipeline) rules; use `cdx run FILE "
			  "--only %s` from a shell",
			  job);
		return NULL;
	}
	/* the spec store make holds for the run (jobspec.h); every store
	 * inherited is closed here, so that the job holds none */
	spec = cdx_jobspec_take(run_id, job, &err);
	if (!spec)
		cli_error("job: %s: `cdx job` runs the jobs of $(cdx-pipeline) rules; use `cdx run FILE "
			  "--only %s` from a shell",
			  err.msg, job);
	return spec;
}

/* the one-job pipeline of SPEC, which must be JOB; NULL with the problem
 * printed */
static struct cdx_pipeline *job_pipeline(const char *spec, const cJSON *extra, const char *job)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_pipeline *p = cdx_pipeline_load_mem(
		cdx_jsn(extra, "file") ?: "job spec", spec, strlen(spec), d);
	if (!p || cdx_pipeline_job_count(p) != 1) {
		cli_print_diags(d);
		cli_error("job: the job spec does not describe one job");
		cdx_pipeline_free(p);
		p = NULL;
	} else if (strcmp(cdx_pipeline_job_id(p, 0), job) != 0) {
		cli_error("job: the job spec describes %s, not %s", cdx_pipeline_job_id(p, 0), job);
		cdx_pipeline_free(p);
		p = NULL;
	}
	cdx_diags_free(d);
	return p;
}

int cmd_job(struct cli *g, int argc, char **argv)
{
	const char *run_id = NULL, *job = NULL, *state;
	const char **vars = NULL;
	long owner = 0;
	char *spec = NULL, *marker = NULL, *mdir = NULL;
	struct cdx_pipeline *p = NULL;
	struct cdx_run_options ro;
	struct cdx_make_job mj = {0};
	struct cdx_error err = {0};
	struct cdx_run *r = NULL;
	struct job_args a = {0};
	cJSON *parsed = NULL, *extra;
	const char **outputs_from = NULL;
	int rc = parse_job_args(g, argc, argv, &a);

	if (rc)
		goto out;
	rc = CDX_EUSAGE;
	run_id = a.run_id;
	job = a.job;
	owner = a.owner;
	vars = a.vars;
	spec = take_spec(run_id, job);
	if (!spec)
		goto out;
	drop_jobserver();
	parsed = cJSON_Parse(spec);
	extra = cJSON_GetObjectItem(parsed, "x-cdx");
	p = job_pipeline(spec, extra, job);
	if (!p)
		goto out;
	if (p->n_jobs && p->jobs[0].when == CDX_WHEN_ON_FAILURE)
		/* no target needs an on_failure job: it runs here because it was
		 * named (or the watcher runs it after a failure) */
		p->jobs[0].when = CDX_WHEN_ON_SUCCESS;
	state = cli_state(g);
	if (!state)
		goto out;
	memset(&ro, 0, sizeof(ro));
	ro.jobs = 1;
	ro.vars = vars;
	ro.output = CDX_OUTPUT_RAW;
	ro.state = state;
	ro.grace_ms = -1;
	ro.out = stdout;
	ro.pool = a.pool || (getenv("CDX_EXECUTOR") && strcmp(getenv("CDX_EXECUTOR"), "workers") == 0);
	mj.run_id = run_id;
	mj.owner_pid = owner;

	/* the jobs this make invocation should run, when its goals tell */
	mj.job_count = (size_t)(cdx_jn(extra, "expect") > 0 ? cdx_jn(extra, "expect") : cdx_jn(extra, "jobs"));
	if (run_id && owner && cdx_name_valid(run_id))
		mdir = marker_dir(state);
	if (mdir) {
		int fd;
		cdx_mkdirs(mdir);
		marker = cdx_xasprintf("%s/%s", mdir, run_id);
		fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			close(fd);
			mj.first = true;
		}
	}
	r = cdx_run_new(p, &ro, &err);
	if (r && cdx_run_set_make_job(r, &mj, &err) < 0) {
		cdx_run_free(r);
		r = NULL;
	}
	if (!r) {
		cli_error("job: %s", err.msg);
		rc = err.code;
		goto out;
	}
	/* make runs a manual job when it is named: that is its play */
	cdx_run_set_played(r, 0);
	{
		/* the outputs of the jobs it needs (the spec names them) */
		const cJSON *from = cJSON_GetObjectItem(parsed, "x-cdx-outputs-from"), *it;
		size_t n = 0, cap = 0;
		cJSON_ArrayForEach(it, from)
			if (cJSON_IsString(it))
				CDX_PUSH(outputs_from, n, cap, it->valuestring);
		CDX_PUSH(outputs_from, n, cap, NULL);
		cdx_run_set_outputs_from(r, outputs_from);
	}
	if (mj.first) {
		char *config = realpath(g->config, NULL); /* NULL when there is none */
		spawn_watcher(state, run_id, (pid_t)owner, marker, (size_t)cdx_jn(extra, "expect"),
			      (int64_t)cdx_jn(extra, "timeout_ms"), cdx_pipeline_name(p), config,
			      cdx_jsn(extra, "file"));
		free(config);
	}
	if (!make_silent()) {
		/* echo the script, as make echoes a recipe (masked, as its
		 * output will be) */
		char *shown = cdx_mask_string((const char *const *)r->secrets, cdx_pipeline_job_script(p, 0));
		printf("%s\n", shown);
		fflush(stdout);
		free(shown);
	}
	rc = cli_execute("job", r);
out:
	cdx_run_free(r);
	free(outputs_from);
	cdx_pipeline_free(p);
	cJSON_Delete(parsed);
	free(spec);
	free(marker);
	free(mdir);
	job_args_free(&a);
	return rc;
}
