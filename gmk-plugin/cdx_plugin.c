/* cdx_plugin.c — cdx.so, the GNU Make loadable module.
 *
 * `load cdx.so` calls cdx_gmk_setup(), which registers the cdx-* functions.
 * make 4.3's setup takes the makefile location; make 4.4 and later pass an
 * ABI version first (gnumake.h then defines GMK_ABI_VERSION), so the
 * signature is chosen at compile time.
 *
 * The module's only mutable state is one registry of the pipelines loaded
 * so far (each file is read once per make process).  Results go back to
 * make through gmk_alloc(); errors stop make at the makefile line being
 * read, as `Makefile:LINE: *** cdx-FUNC: message.  Stop.`, by expanding
 * $(error) with the message held verbatim in a make variable (so that $,
 * #, parentheses and commas in a message cannot be misread by make).
 */
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <gnumake.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdx.h"
#include "gmk-plugin/cdx_plugin.h"
#include "pipeline/dag.h"
#include "base/diag.h"
#include "state/history.h"
#include "exec/jobspec.h"
#include "base/map.h"
#include "pipeline/pipeline.h"
#include "base/util.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int plugin_is_GPL_compatible;

struct loaded {
	char *path;
	struct cdx_pipeline *p;
	bool rules;  /* $(cdx-pipeline) defined its rules already */
	/* after the rules: the job specs, written as make expands recipes */
	struct cdx_jobspec_w specs;
	struct cdx_map ids; /* job id -> index (keys are p's) */
	bool *written;      /* n_jobs flags: spec in the store */
	char *extra;        /* the specs' "x-cdx" object, JSON */
};

/* the module's registry: pipelines loaded in this make process, and the
 * programs the recipes call (found next to the module at setup) */
static struct {
	struct loaded *items;
	size_t n, cap;
	char *tool;    /* the cdx tool */
	char *job_cmd; /* what a job's recipe runs, quoted: `TOOL job` */
} registry;

const char *cdx_gmk_tool(void)
{
	return registry.tool;
}

char *give(const char *s)
{
	size_t n = strlen(s);
	char *r = gmk_alloc((unsigned)n + 1);
	memcpy(r, s, n + 1);
	return r;
}

void fail(const char *func, const char *msg)
{
	struct cdx_buf b = {0};
	const char *c;
	char *r;
	cdx_buf_printf(&b, "define __cdx_error\n%s: ", func);
	for (c = msg; *c; c++)
		cdx_buf_addc(&b, *c == '\n' ? ' ' : *c);
	cdx_buf_adds(&b, "\nendef\n");
	gmk_eval(b.data, NULL);
	cdx_buf_free(&b);
	r = gmk_expand("$(error $(value __cdx_error))");
	gmk_free(r);
}

char *trim(const char *s)
{
	size_t n;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return cdx_xstrndup(s, n);
}

/* the pipeline in FILE, loaded once; NULL after stopping make */
static struct cdx_pipeline *pipeline(const char *func, const char *file_arg)
{
	char *file = trim(file_arg);
	struct cdx_diags *d;
	struct cdx_pipeline *p;
	struct loaded l;
	size_t i;
	for (i = 0; i < registry.n; i++) {
		if (strcmp(registry.items[i].path, file) == 0) {
			free(file);
			return registry.items[i].p;
		}
	}
	if (!*file) {
		free(file);
		fail(func, "name a pipeline file");
		return NULL;
	}
	d = cdx_diags_new();
	p = cdx_pipeline_load(file, d);
	if (!p) {
		struct cdx_buf b = {0};
		const struct cdx_diag *g = cdx_diags_get(d, 0);
		if (g)
			cdx_diag_format(g, &b);
		else
			cdx_buf_printf(&b, "%s: cannot load", file);
		if (cdx_diags_count(d) > 1)
			cdx_buf_printf(&b, " (and %zu more problem%s; see cdx validate %s)", cdx_diags_count(d) - 1,
				       cdx_diags_count(d) == 2 ? "" : "s", file);
		cdx_diags_free(d);
		free(file);
		fail(func, b.data);
		cdx_buf_free(&b);
		return NULL;
	}
	cdx_diags_free(d);
	memset(&l, 0, sizeof(l));
	l.path = file;
	l.p = p;
	l.specs.fd = -1;
	CDX_PUSH(registry.items, registry.n, registry.cap, l);
	return p;
}

/* $(cdx-version): the version of the loaded module */
static char *fn_version(const char *nm, unsigned int argc, char **argv)
{
	(void)nm;
	(void)argc;
	(void)argv;
	return give(CDX_VERSION);
}

/* $(cdx-stages FILE): the pipeline's stage names, in file order */
static char *fn_stages(const char *nm, unsigned int argc, char **argv)
{
	struct cdx_pipeline *p = pipeline(nm, argv[0]);
	struct cdx_buf b = {0};
	char *r;
	size_t i;
	(void)argc;
	if (!p)
		return NULL;
	for (i = 0; i < p->n_stages; i++) {
		if (i)
			cdx_buf_addc(&b, ' ');
		cdx_buf_adds(&b, p->stages[i].name);
	}
	r = give(b.data ? b.data : "");
	cdx_buf_free(&b);
	return r;
}

/* $(cdx-jobs FILE[,STAGE]): job ids STAGE/JOB, in file order */
static char *fn_jobs(const char *nm, unsigned int argc, char **argv)
{
	struct cdx_pipeline *p = pipeline(nm, argv[0]);
	struct cdx_buf b = {0};
	char *stage = argc > 1 ? trim(argv[1]) : NULL, *r;
	size_t i, s = CDX_NONE;
	if (!p) {
		free(stage);
		return NULL;
	}
	if (stage && *stage) {
		for (i = 0; i < p->n_stages; i++)
			if (strcmp(p->stages[i].name, stage) == 0)
				s = i;
		if (s == CDX_NONE) {
			char *msg = cdx_xasprintf("%s: no stage '%s' in pipeline %s", p->path, stage, p->name);
			free(stage);
			fail(nm, msg);
			free(msg);
			return NULL;
		}
	}
	for (i = 0; i < p->n_jobs; i++) {
		if (s != CDX_NONE && p->jobs[i].stage != s)
			continue;
		if (b.len)
			cdx_buf_addc(&b, ' ');
		cdx_buf_adds(&b, p->jobs[i].id);
	}
	r = give(b.data ? b.data : "");
	cdx_buf_free(&b);
	free(stage);
	return r;
}

/* ---- $(cdx-pipeline FILE) ------------------------------------------------ */

char *state_url(void)
{
	const char *env = getenv("CDX_STATE");
	const char *cfg = getenv("CDX_CONFIG");
	struct cdx_project *pr;
	struct cdx_diags *d;
	char *r = NULL;
	if (env && *env)
		return cdx_xstrdup(env);
	if (!cfg || !*cfg)
		cfg = "cdx.yml";
	if (access(cfg, F_OK) == 0) {
		d = cdx_diags_new();
		pr = cdx_project_load(cfg, d);
		if (pr)
			r = cdx_xstrdup(cdx_project_state(pr));
		cdx_project_free(pr);
		cdx_diags_free(d);
	}
	return r ? r : cdx_xstrdup("file:.cdx");
}

/* make's -j from its own command line (MAKEFLAGS does not show it while
 * makefiles are read): N, 0 when -j has no number (no limit), 1 if absent */
static bool flags_keep_going(const char *mf);

static unsigned make_jobs(bool *keep_going)
{
	char buf[8192];
	unsigned jobs = 1;
	ssize_t n;
	size_t i;
	const char *mf = getenv("MAKEFLAGS");
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	*keep_going = false;
	if (mf) {
		/* a parent make passes its flags: single letters first, e.g. "kj4" */
		const char *c = strstr(mf, "-j");
		*keep_going = flags_keep_going(mf);
		if (c && c[2] >= '0' && c[2] <= '9')
			jobs = (unsigned)strtoul(c + 2, NULL, 10);
	}
	if (fd < 0)
		return jobs;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return jobs;
	buf[n] = '\0';
	for (i = 0; i < (size_t)n; i += strlen(buf + i) + 1) {
		const char *a = buf + i;
		if (strcmp(a, "-k") == 0 || strcmp(a, "--keep-going") == 0)
			*keep_going = true;
		else if (a[0] == '-' && a[1] != '-' && strchr(a, 'k') && !strchr(a, 'j') && !strchr(a, 'f') &&
			 !strchr(a, 'C') && !strchr(a, 'I') && !strchr(a, 'o') && !strchr(a, 'W'))
			*keep_going = true; /* bundled single-letter flags such as -sk */
		if (strncmp(a, "-j", 2) == 0 || strncmp(a, "--jobs", 6) == 0) {
			const char *v = a[1] == 'j' ? a + 2 : (a[6] == '=' ? a + 7 : "");
			if (!*v && i + strlen(a) + 1 < (size_t)n) {
				const char *next = a + strlen(a) + 1;
				if (next[0] >= '0' && next[0] <= '9')
					v = next;
			}
			jobs = *v ? (unsigned)strtoul(v, NULL, 10) : 0;
		}
	}
	return jobs;
}

/* the names of a pipeline's targets, " NAME/STAGE/JOB" for each job and
 * " NAME/STAGE" for each stage, in DAG node order, in one buffer */
struct target_names {
	struct cdx_buf text;
	size_t *off; /* node V's name is text.data[off[V] .. off[V + 1]) */
};

static void target_names_init(struct target_names *t, const struct cdx_pipeline *p)
{
	const struct cdx_dag *d = p->dag;
	size_t v, nl = strlen(p->name);
	memset(t, 0, sizeof(*t));
	t->off = cdx_xcalloc(d->n_nodes + 1, sizeof(size_t));
	for (v = 0; v < d->n_nodes; v++) {
		const char *s = v < d->n_jobs ? p->jobs[v].id : p->stages[v - d->n_jobs].name;
		t->off[v] = t->text.len;
		cdx_buf_addc(&t->text, ' ');
		cdx_buf_add(&t->text, p->name, nl);
		cdx_buf_addc(&t->text, '/');
		cdx_buf_adds(&t->text, s);
	}
	t->off[d->n_nodes] = t->text.len;
}

static void target_names_free(struct target_names *t)
{
	cdx_buf_free(&t->text);
	free(t->off);
}

/* append " NAME/..." of node V to B */
static void add_target(struct cdx_buf *b, const struct target_names *t, uint32_t v)
{
	cdx_buf_add(b, t->text.data + t->off[v], t->off[v + 1] - t->off[v]);
}

/* qsort_r order: highest priority (longest remaining path) first */
static int cmp_prio(const void *a, const void *b, void *ctx)
{
	const double *sort_prio = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (sort_prio[x] != sort_prio[y])
		return sort_prio[x] > sort_prio[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* a word of a recipe: as it is when no character in it means anything to
 * sh, so that make can run the recipe without a shell (one process less
 * per job); quoted otherwise */
static void add_word(struct cdx_buf *b, const char *s)
{
	const char *c;
	for (c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("/_.+-,:@%", *c)))
			break;
	if (*c || !*s)
		shell_quote(b, s);
	else
		cdx_buf_adds(b, s);
}

void shell_quote(struct cdx_buf *b, const char *s)
{
	cdx_buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			cdx_buf_adds(b, "'\\''");
		else if (*s == '$')
			cdx_buf_adds(b, "$$");
		else
			cdx_buf_addc(b, *s);
	}
	cdx_buf_addc(b, '\'');
}

/* whether the goals ask for the whole pipeline by its name: only then are
 * lanes pinned, since make builds order-only prerequisites too, and a goal
 * that needs part of the pipeline (a stage, a job, a target of the user's)
 * must not run the jobs that precede its own in their lanes */
static bool goals_want_all(const struct cdx_pipeline *p)
{
	char *goals = gmk_expand("$(MAKECMDGOALS)"), *tok, *save = NULL;
	bool all = false;
	for (tok = goals ? strtok_r(goals, " \t", &save) : NULL; tok && !all; tok = strtok_r(NULL, " \t", &save))
		all = strcmp(tok, p->name) == 0;
	gmk_free(goals);
	return all;
}

/* flags_keep_going: MAKEFLAGS text asks for -k: its first word of single
 * letters ("ks"), or a word "-k", "-sk" or "--keep-going" */
static bool flags_keep_going(const char *mf)
{
	const char *w = mf, *e;
	bool first = true;
	while (w && *w) {
		size_t n;
		while (*w == ' ')
			w++;
		e = strchr(w, ' ');
		n = e ? (size_t)(e - w) : strlen(w);
		if (n == 12 && strncmp(w, "--keep-going", 12) == 0)
			return true;
		if (n && ((first && w[0] != '-') || (w[0] == '-' && n > 1 && w[1] != '-')) &&
		    memchr(w, 'k', n) && !memchr(w, '=', n))
			return true;
		first = false;
		w = e;
	}
	return false;
}

/* -k given inside the makefile (MAKEFLAGS += -k) shows in make's variable */
static bool makefile_keep_going(void)
{
	char *mf = gmk_expand("$(MAKEFLAGS)");
	bool k = mf && flags_keep_going(mf);
	gmk_free(mf);
	return k;
}

/* expected_jobs: the number of jobs the goals need, when every goal is a
 * target of P (NAME, NAME/STAGE, NAME/STAGE/JOB); 0 when unknown */
static size_t expected_jobs(const struct cdx_pipeline *p)
{
	const struct cdx_dag *d = p->dag;
	char *goals = gmk_expand("$(MAKECMDGOALS)"), *tok, *save = NULL;
	bool *mark = cdx_xcalloc(d->n_nodes + 1, sizeof(bool)), known = goals && *goals;
	uint32_t *stack = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	size_t sp = 0, count = 0, i, nl = strlen(p->name);
	for (tok = goals ? strtok_r(goals, " \t", &save) : NULL; tok && known; tok = strtok_r(NULL, " \t", &save)) {
		bool found = false;
		if (strcmp(tok, p->name) == 0) {
			for (i = 0; i < p->n_stages; i++)
				stack[sp++] = (uint32_t)(p->n_jobs + i);
			found = true;
		} else if (strncmp(tok, p->name, nl) == 0 && tok[nl] == '/') {
			for (i = 0; i < p->n_stages && !found; i++)
				if (strcmp(tok + nl + 1, p->stages[i].name) == 0) {
					stack[sp++] = (uint32_t)(p->n_jobs + i);
					found = true;
				}
			for (i = 0; i < p->n_jobs && !found; i++)
				if (strcmp(tok + nl + 1, p->jobs[i].id) == 0) {
					stack[sp++] = (uint32_t)i;
					found = true;
				}
		}
		known = found;
	}
	while (known && sp) {
		uint32_t v = stack[--sp], e;
		if (mark[v])
			continue;
		mark[v] = true;
		count += v < d->n_jobs;
		for (e = d->pred_off[v]; e < d->pred_off[v + 1]; e++)
			if (!mark[d->pred[e]])
				stack[sp++] = d->pred[e];
	}
	gmk_free(goals);
	free(mark);
	free(stack);
	return known ? count : 0;
}

/* " --override NAME" for each variable of V given on make's command line
 * (caller frees) */
static char *overrides_of(const struct cdx_vars *v)
{
	struct cdx_buf b = {0};
	size_t k;
	for (k = 0; k < v->n; k++) {
		char *q = cdx_xasprintf("$(origin %s)", v->v[k].name);
		char *origin = gmk_expand(q);
		if (origin && strcmp(origin, "command line") == 0) {
			cdx_buf_adds(&b, " --override ");
			cdx_buf_adds(&b, v->v[k].name);
		}
		gmk_free(origin);
		free(q);
	}
	return cdx_buf_detach(&b);
}

/* append S to B and free it */
static void free_str(char *s, struct cdx_buf *b)
{
	cdx_buf_adds(b, s);
	free(s);
}

/* make reads rule text in pieces of about this size: gmk_eval copies what
 * it is given, so one piece for 10,000 jobs (a megabyte) would be written
 * three times into fresh pages (text, copy, make's reading), where pieces
 * reuse the same few pages */
#define EVAL_PIECE (64u << 10)

/* hand B to make when it holds a piece's worth of complete lines */
static void eval_piece(struct cdx_buf *b, bool last)
{
	if (!b->len || (!last && b->len < EVAL_PIECE))
		return;
	gmk_eval(b->data, NULL);
	b->len = 0;
	b->data[0] = '\0';
}

/* the rules of pipeline LI of the registry.  Per job only what differs
 * from job to job goes through make's parser: its rule with its
 * prerequisites, and a recipe that names a variable, one per set of
 * command-line overrides (one, usually), which names the job by $@.  The
 * job's definition is written to the spec store by $(cdx--spec) when make
 * expands the recipe, so that reading the makefile costs nothing per job
 * for it and make's variables hold none of it (jobspec.h). */
static void define_rules(const char *func, size_t li)
{
	struct loaded *l = &registry.items[li];
	const struct cdx_pipeline *p = l->p;
	const struct cdx_dag *d = p->dag;
	size_t n = p->n_jobs, i, k, n_groups = 0, cap_groups = 0;
	double *w = cdx_xcalloc(n + 1, sizeof(double)), *prio = cdx_xcalloc(d->n_nodes + 1, sizeof(double));
	double *start = cdx_xcalloc(n + 1, sizeof(double));
	size_t *order = cdx_xcalloc(n + 1, sizeof(size_t));
	uint32_t *lane_prev = cdx_xcalloc(n + 1, sizeof(uint32_t)), *tmp;
	struct cdx_buf b = {0};
	struct cdx_error err = {0};
	char **groups = NULL; /* the override words of each recipe */
	size_t *group = NULL; /* each job's recipe */
	size_t *stage_group = NULL; /* the recipe of a stage's jobs without words of their own */
	char **recipe_ref = NULL;   /* each recipe's reference, "\n\t$(...)\n" */
	struct target_names names = {0};
	struct cdx_map group_of = {0};
	char run_id[64], *state = state_url(), owner[32];
	bool keep_going, lanes, version_override;
	char job_args[128], **stage_over = cdx_xcalloc(p->n_stages + 1, sizeof(char *)), *pipe_over = NULL;
	unsigned P = make_jobs(&keep_going);
	cJSON *extra;
	char *vorigin = gmk_expand("$(origin VERSION)");

	version_override = vorigin && strcmp(vorigin, "command line") == 0;
	gmk_free(vorigin);

	for (i = 0; i < n; i++)
		w[i] = cdx_pipeline_weight_ms(p, i);
	cdx_history_weights_at(state, p, w);
	cdx_dag_priority(d, w, prio);
	/* pinned lanes: the list schedule cdx would follow on P workers, made
	 * binding with order-only prerequisites on the job before in the same
	 * lane; make walks its goals in passes and would otherwise start a
	 * job that became ready mid-pass only at the next walk */
	lanes = P > 1 && P < n && !keep_going && !makefile_keep_going() && goals_want_all(p);
	for (i = 0; i < n; i++)
		lane_prev[i] = UINT32_MAX;
	if (lanes) {
		double *lane_free = cdx_xcalloc(P, sizeof(double));
		uint32_t *lane_last = cdx_xcalloc(P, sizeof(uint32_t));
		unsigned q;
		cdx_dag_simulate(d, w, prio, P, start, order);
		for (q = 0; q < P; q++)
			lane_last[q] = UINT32_MAX;
		for (i = 0; i < n; i++) {
			size_t j = order[i];
			unsigned best = 0;
			/* the lane that became free first takes the next start */
			for (q = 1; q < P; q++)
				if (lane_free[q] < lane_free[best])
					best = q;
			lane_prev[j] = lane_last[best];
			lane_last[best] = (uint32_t)j;
			lane_free[best] = start[j] + w[j];
		}
		free(lane_free);
		free(lane_last);
	}

	cdx_run_id_new(run_id, sizeof(run_id));
	if (cdx_jobspec_create(&l->specs, run_id, n, &err) < 0) {
		fail(func, err.msg);
		goto out;
	}
	l->written = cdx_xcalloc(n + 1, sizeof(bool));
	snprintf(owner, sizeof(owner), "%ld", (long)getpid());
	snprintf(job_args, sizeof(job_args), " --run %s --owner %s", run_id, owner);
	extra = cJSON_CreateObject();
	cJSON_AddStringToObject(extra, "file", p->path);
	cJSON_AddNumberToObject(extra, "jobs", (double)n);
	/* how many jobs this make invocation should run, when the goals say:
	 * the watcher then knows a run that stopped short is not a success */
	cJSON_AddNumberToObject(extra, "expect", (double)expected_jobs(p));
	if (p->timeout_ms)
		cJSON_AddNumberToObject(extra, "timeout_ms", (double)p->timeout_ms);
	l->extra = cJSON_PrintUnformatted(extra);
	cJSON_Delete(extra);

	target_names_init(&names, p);
	cdx_grow(&b.data, &b.cap, 2 * EVAL_PIECE, 1);
	cdx_buf_printf(&b, ".PHONY: %s", p->name);
	for (i = 0; i < d->n_nodes; i++) {
		if (b.len >= EVAL_PIECE) {
			cdx_buf_addc(&b, '\n');
			eval_piece(&b, false);
		}
		if (!b.len)
			cdx_buf_adds(&b, ".PHONY:");
		add_target(&b, &names, (uint32_t)i);
	}
	cdx_buf_printf(&b, "\n%s:", p->name);
	tmp = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	for (i = 0; i < p->n_stages; i++)
		tmp[i] = (uint32_t)(n + i);
	qsort_r(tmp, p->n_stages, sizeof(uint32_t), cmp_prio, prio);
	for (i = 0; i < p->n_stages; i++)
		add_target(&b, &names, tmp[i]);
	cdx_buf_addc(&b, '\n');
	for (i = 0; i < p->n_stages; i++) {
		const struct cdx_stage *st = &p->stages[i];
		cdx_buf_add(&b, names.text.data + names.off[n + i] + 1, names.off[n + i + 1] - names.off[n + i] - 1);
		cdx_buf_addc(&b, ':');
		for (k = 0; k < st->n_jobs; k++)
			tmp[k] = (uint32_t)(st->first_job + k);
		qsort_r(tmp, st->n_jobs, sizeof(uint32_t), cmp_prio, prio);
		for (k = 0; k < st->n_jobs; k++)
			add_target(&b, &names, tmp[k]);
		cdx_buf_addc(&b, '\n');
		eval_piece(&b, false);
	}
	/* the recipes: one per set of command-line overrides (one, usually),
	 * each a variable that every job of the set names */
	group = cdx_xcalloc(n + 1, sizeof(size_t));
	stage_group = cdx_xcalloc(p->n_stages + 1, sizeof(size_t));
	for (i = 0; i < p->n_stages; i++)
		stage_group[i] = SIZE_MAX;
	for (i = 0; i < n; i++) {
		const struct cdx_job *jb = &p->jobs[i];
		const struct cdx_vars *env = &p->stages[jb->stage].env;
		struct cdx_buf ov = {0};
		bool own = jb->vars.n || version_override; /* words of its own */
		size_t g;
		if (!own && stage_group[jb->stage] != SIZE_MAX) {
			group[i] = stage_group[jb->stage];
			continue;
		}
		/* every variable a job sees may come from make's command line;
		 * pipeline and stage variables are asked about once */
		if (!stage_over[jb->stage]) {
			struct cdx_buf so = {0};
			if (!pipe_over)
				pipe_over = overrides_of(&p->vars);
			cdx_buf_adds(&so, pipe_over);
			free_str(overrides_of(env), &so);
			cdx_buf_addc(&so, '\0'); /* "" rather than NULL when empty */
			stage_over[jb->stage] = cdx_buf_detach(&so);
		}
		cdx_buf_adds(&ov, stage_over[jb->stage]);
		if (jb->vars.n)
			free_str(overrides_of(&jb->vars), &ov);
		if (version_override && !cdx_vars_find(&p->vars, "VERSION") && !cdx_vars_find(env, "VERSION") &&
		    !cdx_vars_find(&jb->vars, "VERSION"))
			cdx_buf_adds(&ov, " --override VERSION"); /* recorded as the run's version (requires:) */
		cdx_buf_addc(&ov, '\0');
		if (!cdx_map_get(&group_of, ov.data, &g)) {
			char *key = cdx_buf_detach(&ov);
			g = n_groups;
			CDX_PUSH(groups, n_groups, cap_groups, key);
			/* the keys are the groups' own strings, which never move */
			cdx_map_put(&group_of, key, g, NULL);
			cdx_buf_printf(&b, "cdx--recipe-%zu-%zu = @", li, g);
			cdx_buf_adds(&b, registry.job_cmd);
			cdx_buf_adds(&b, job_args); /* " --run ID --owner PID" */
			cdx_buf_adds(&b, key);
			/* STAGE/JOB, and its spec written to the store (expands to nothing) */
			cdx_buf_printf(&b, " $(@:%s/%%=%%)$(cdx--spec %zu,$@)\n", p->name, li);
		}
		cdx_buf_free(&ov);
		group[i] = g;
		if (!own)
			stage_group[jb->stage] = g;
	}
	recipe_ref = cdx_xcalloc(n_groups + 1, sizeof(char *));
	for (i = 0; i < n_groups; i++)
		recipe_ref[i] = cdx_xasprintf("\n\t$(cdx--recipe-%zu-%zu)\n", li, i);
	for (i = 0; i < n; i++) {
		uint32_t e, np = 0;
		cdx_buf_add(&b, names.text.data + names.off[i] + 1, names.off[i + 1] - names.off[i] - 1);
		cdx_buf_addc(&b, ':');
		/* needs first, critical path first (what make starts first) */
		for (e = d->pred_off[i]; e < d->pred_off[i + 1]; e++)
			tmp[np++] = d->pred[e];
		if (np > 1)
			qsort_r(tmp, np, sizeof(uint32_t), cmp_prio, prio);
		for (e = 0; e < np; e++)
			add_target(&b, &names, tmp[e]);
		if (lane_prev[i] != UINT32_MAX) {
			cdx_buf_adds(&b, " |");
			add_target(&b, &names, lane_prev[i]);
		}
		cdx_buf_adds(&b, recipe_ref[group[i]]);
		eval_piece(&b, false);
	}
	eval_piece(&b, true);
	l->rules = true;
	free(tmp);
out:
	for (i = 0; i < n_groups; i++) {
		free(groups[i]);
		free(recipe_ref ? recipe_ref[i] : NULL);
	}
	free(groups);
	free(recipe_ref);
	free(group);
	free(stage_group);
	target_names_free(&names);
	cdx_map_free(&group_of);
	for (i = 0; i < p->n_stages; i++)
		free(stage_over[i]);
	free(stage_over);
	free(pipe_over);
	cdx_buf_free(&b);
	free(w);
	free(prio);
	free(start);
	free(order);
	free(lane_prev);
	free(state);
	/* the rule text, the schedule and the loader's garbage are freed:
	 * give the memory back, make forks (or spawns) every recipe */
	malloc_trim(0);
}

/* $(cdx-pipeline FILE): define the pipeline's targets; expands to nothing */
static char *fn_pipeline(const char *nm, unsigned int argc, char **argv)
{
	struct cdx_pipeline *p = pipeline(nm, argv[0]);
	size_t i;
	(void)argc;
	if (!p)
		return NULL;
	for (i = 0; i < registry.n; i++)
		if (registry.items[i].p == p && !registry.items[i].rules)
			define_rules(nm, i);
	return NULL;
}

/* $(cdx--spec K,TARGET), internal: in the recipe of a job of pipeline K of
 * the registry, writes the job's spec to the pipeline's spec store (once)
 * and expands to nothing */
static char *fn_spec(const char *nm, unsigned int argc, char **argv)
{
	char *ks = trim(argv[0]), *target = trim(argv[1]), *end;
	unsigned long k = strtoul(ks, &end, 10);
	struct cdx_error err = {0};
	struct loaded *l;
	size_t nl, j;
	(void)argc;
	if (*end || end == ks || k >= registry.n || !registry.items[k].rules) {
		fail(nm, "internal: not a pipeline of this make");
		goto out;
	}
	l = &registry.items[k];
	if (!l->ids.n) /* the first job make starts: index the ids */
		for (j = 0; j < l->p->n_jobs; j++)
			cdx_map_put(&l->ids, l->p->jobs[j].id, j, NULL);
	nl = strlen(l->p->name);
	if (strncmp(target, l->p->name, nl) != 0 || target[nl] != '/' ||
	    !cdx_map_get(&l->ids, target + nl + 1, &j)) {
		char *msg = cdx_xasprintf("'%s' is not a job of pipeline %s", target, l->p->name);
		fail(nm, msg);
		free(msg);
		goto out;
	}
	if (!l->written[j]) {
		struct cdx_buf b = {0};
		cdx_pipeline_job_spec_to(l->p, j, l->extra, &b);
		if (cdx_jobspec_put(&l->specs, l->p->jobs[j].id, b.data, b.len, &err) < 0) {
			cdx_buf_free(&b);
			fail(nm, err.msg);
			goto out;
		}
		cdx_buf_free(&b);
		l->written[j] = true;
	}
out:
	free(ks);
	free(target);
	return NULL;
}

/* $(cdx-runs PIPELINE): ids of its recent runs, newest first */
static char *fn_runs(const char *nm, unsigned int argc, char **argv)
{
	char *name = trim(argv[0]), *state, *r;
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	cJSON *runs, *it;
	(void)argc;
	if (!cdx_name_valid(name)) {
		char *msg = cdx_xasprintf("'%s' is not a pipeline name", name);
		free(name);
		fail(nm, msg);
		free(msg);
		return NULL;
	}
	state = state_url();
	runs = cdx_runs_list(state, name, 10, &err);
	free(state);
	free(name);
	if (!runs) {
		fail(nm, err.msg);
		return NULL;
	}
	cJSON_ArrayForEach(it, runs)
	{
		if (b.len)
			cdx_buf_addc(&b, ' ');
		cdx_buf_adds(&b, cJSON_GetStringValue(cJSON_GetObjectItem(it, "id")));
	}
	cJSON_Delete(runs);
	r = give(b.data ? b.data : "");
	cdx_buf_free(&b);
	return r;
}

/* ---- $(cdx-health PIPELINE) and $(cdx-report ...) ------------------------ */

/* the project file make's directory would use, loaded; NULL when there is
 * none or it does not load (the defaults apply then) */
static struct cdx_project *project_here(void)
{
	const char *cfg = getenv("CDX_CONFIG");
	struct cdx_project *pr = NULL;
	struct cdx_diags *d;
	if (!cfg || !*cfg)
		cfg = "cdx.yml";
	if (access(cfg, F_OK) == 0) {
		d = cdx_diags_new();
		pr = cdx_project_load(cfg, d);
		cdx_diags_free(d);
	}
	return pr;
}

/* $(cdx-health PIPELINE): healthy, degraded, failing or unknown, computed
 * in-process from the store with cdx.yml's thresholds; read only (alerts
 * are evaluated by runs and by cdx health, not by reading a makefile) */
static char *fn_health(const char *nm, unsigned int argc, char **argv)
{
	char *name = trim(argv[0]), *state, *r;
	struct cdx_error err = {0};
	struct cdx_project *pr;
	cJSON *h;
	(void)argc;
	if (!cdx_name_valid(name)) {
		char *msg = cdx_xasprintf("'%s' is not a pipeline name", name);
		free(name);
		fail(nm, msg);
		free(msg);
		return NULL;
	}
	state = state_url();
	pr = project_here();
	h = cdx_monitor_health(state, name, pr, 0, &err);
	cdx_project_free(pr);
	free(state);
	free(name);
	if (!h) {
		fail(nm, err.msg);
		return NULL;
	}
	r = give(cJSON_GetStringValue(cJSON_GetObjectItem(h, "status")));
	cJSON_Delete(h);
	return r;
}

/* single-quote S for sh, for a function's result: make does not expand
 * that again, so a '$' stays as it is (shell_quote doubles it for text
 * that goes through gmk_eval) */
static void sh_quote_result(struct cdx_buf *b, const char *s)
{
	cdx_buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			cdx_buf_adds(b, "'\\''");
		else
			cdx_buf_addc(b, *s);
	}
	cdx_buf_addc(b, '\'');
}

/* $(cdx-report PIPELINE[,TYPE[,FORMAT[,FILE]]]): the cdx command line that
 * writes the report, for a recipe (make -n shows it; nothing is read
 * while makefiles are parsed).  TYPE defaults to summary; FORMAT to the
 * one FILE's extension names (.html, .txt, .json), else json; without
 * FILE the report goes to standard output. */
static char *fn_report(const char *nm, unsigned int argc, char **argv)
{
	static const char *const types[] = {"summary", "detailed", "performance"};
	static const char *const formats[] = {"json", "html", "text"};
	char *a[4] = {NULL, NULL, NULL, NULL}, *r = NULL, *msg = NULL;
	const char *format;
	struct cdx_buf b = {0};
	unsigned i;
	size_t k;
	for (i = 0; i < 4; i++)
		a[i] = trim(i < argc ? argv[i] : "");
	if (!cdx_name_valid(a[0])) {
		msg = cdx_xasprintf("'%s' is not a pipeline name", a[0]);
		goto out;
	}
	if (!*a[1]) {
		free(a[1]);
		a[1] = cdx_xstrdup("summary");
	}
	for (k = 0; k < CDX_ARRAY_LEN(types) && strcmp(a[1], types[k]) != 0; k++)
		;
	if (k == CDX_ARRAY_LEN(types)) {
		msg = cdx_xasprintf("report type '%s' is not summary, detailed or performance", a[1]);
		goto out;
	}
	format = a[2];
	if (!*format) {
		const char *dot = strrchr(a[3], '.');
		format = dot && strcmp(dot, ".html") == 0 ? "html" : dot && strcmp(dot, ".txt") == 0 ? "text" : "json";
	}
	for (k = 0; k < CDX_ARRAY_LEN(formats) && strcmp(format, formats[k]) != 0; k++)
		;
	if (k == CDX_ARRAY_LEN(formats)) {
		msg = cdx_xasprintf("report format '%s' is not json, html or text", format);
		goto out;
	}
	sh_quote_result(&b, registry.tool);
	cdx_buf_adds(&b, " report ");
	sh_quote_result(&b, a[0]);
	cdx_buf_printf(&b, " --type %s --format %s", a[1], format);
	if (*a[3]) {
		cdx_buf_adds(&b, " -o ");
		sh_quote_result(&b, a[3]);
	}
	r = give(b.data);
out:
	if (msg)
		fail(nm, msg);
	free(msg);
	cdx_buf_free(&b);
	for (i = 0; i < 4; i++)
		free(a[i]);
	return r;
}

/* the cdx tool beside this module: build tree (build/cdx.so, build/cdx) or
 * installed (PREFIX/lib/cdx/cdx.so, PREFIX/bin/cdx); else from PATH */
static char *find_tool(void)
{
	Dl_info info;
	char *dir, *slash, *cand;
	if (dladdr((void *)find_tool, &info) && info.dli_fname) {
		char *real = realpath(info.dli_fname, NULL);
		dir = real ? real : cdx_xstrdup(info.dli_fname);
		slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			cand = cdx_xasprintf("%s/cdx", dir);
			if (access(cand, X_OK) == 0) {
				free(dir);
				return cand;
			}
			free(cand);
			cand = cdx_xasprintf("%s/../../bin/cdx", dir);
			if (access(cand, X_OK) == 0) {
				char *r = realpath(cand, NULL);
				free(cand);
				free(dir);
				return r ? r : cdx_xstrdup("cdx");
			}
			free(cand);
		}
		free(dir);
	}
	return cdx_xstrdup("cdx");
}

/* what a job's recipe runs: `cdx job` of the tool this module found, quoted
 * for the shell; malloc'd */
static char *find_job_cmd(void)
{
	struct cdx_buf b = {0};
	add_word(&b, registry.tool);
	cdx_buf_adds(&b, " job");
	return cdx_buf_detach(&b);
}

static void registry_free(void)
{
	size_t i;
	for (i = 0; i < registry.n; i++) {
		free(registry.items[i].path);
		cdx_pipeline_free(registry.items[i].p);
		cdx_jobspec_close(&registry.items[i].specs);
		cdx_map_free(&registry.items[i].ids);
		free(registry.items[i].written);
		free(registry.items[i].extra);
	}
	free(registry.items);
	free(registry.tool);
	free(registry.job_cmd);
	memset(&registry, 0, sizeof(registry));
}

static int setup(void)
{
	static int registered;
	if (registered)
		return 1; /* loading twice is harmless */
	registered = 1;
	/* $(cdx-version) without arguments is a variable reference in make's
	 * syntax, so the version is a variable too */
	gmk_eval("cdx-version := " CDX_VERSION, NULL);
	gmk_add_function("cdx-version", fn_version, 0, 0, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-stages", fn_stages, 1, 1, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-jobs", fn_jobs, 1, 2, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-pipeline", fn_pipeline, 1, 1, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx--spec", fn_spec, 2, 2, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-runs", fn_runs, 1, 1, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-health", fn_health, 1, 1, GMK_FUNC_DEFAULT);
	gmk_add_function("cdx-report", fn_report, 1, 4, GMK_FUNC_DEFAULT);
	cdx_gmk_deploy_setup();
	registry.tool = find_tool();
	registry.job_cmd = find_job_cmd();
	/* no atexit(registry_free): make 4.3 never unloads, and freeing every
	 * job of a 10,000-job pipeline when make exits costs make 11M
	 * instructions for nothing; the registry keeps it reachable until then
	 * (no leak to valgrind or LeakSanitizer) */
	return 1;
}

/* make 4.4 calls this before unloading the object (dlclose: the memory
 * would no longer be reachable) */
EXPORT void cdx_gmk_unload(void);
void cdx_gmk_unload(void)
{
	registry_free();
}

#ifdef GMK_ABI_VERSION
EXPORT int cdx_gmk_setup(unsigned int abi, const gmk_floc *floc);
int cdx_gmk_setup(unsigned int abi, const gmk_floc *floc)
{
	(void)abi;
	(void)floc;
	return setup();
}
#else
EXPORT int cdx_gmk_setup(const gmk_floc *floc);
int cdx_gmk_setup(const gmk_floc *floc)
{
	(void)floc;
	return setup();
}
#endif
