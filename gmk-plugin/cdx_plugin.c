/* cdx_plugin.c — cdx.so, the GNU Make loadable module: its setup, the
 * registry of pipelines, and the helpers its functions share
 * (cdx_plugin.h).
 *
 * `load cdx.so` calls cdx_gmk_setup(), which registers the cdx-* functions
 * (each file of gmk-plugin/ its own).  make 4.3's setup takes the makefile
 * location; make 4.4 and later pass an ABI version first (gnumake.h then
 * defines GMK_ABI_VERSION), so the signature is chosen at compile time.
 *
 * The module's only mutable state is one registry of the pipelines loaded
 * so far (each file is read once per make process), with the descriptors
 * of their job spec stores, where a handler put before make's own notes a
 * fatal signal make received (exec/jobspec.h).  Results go back to
 * make through gmk_alloc(); errors stop make at the makefile line being
 * read, as `Makefile:LINE: *** cdx-FUNC: message.  Stop.`, by expanding
 * $(error) with the message held verbatim in a make variable (so that $,
 * #, parentheses and commas in a message cannot be misread by make).
 */
#include <dlfcn.h>
#include <gnumake.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdx.h"
#include "gmk-plugin/cdx_plugin.h"
#include "base/text.h"
#include "base/diag.h"
#include "exec/jobspec.h"
#include "pipeline/pipeline.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int plugin_is_GPL_compatible;

/* the fatal signals make dies of after its handler; the module notes each
 * in the spec stores before make's handler runs */
static const int fatal_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define STORES_MAX 64

/* the module's registry: pipelines loaded in this make process, and the
 * programs the recipes call (found next to the module at setup) */
static struct {
	struct cdx_gmk_loaded *items;
	size_t n, cap;
	char *tool;    /* the cdx tool */
	char *job_cmd; /* what a job's recipe runs, quoted: `TOOL job` */
	/* the spec stores' descriptors, for the signal handler: a fixed array
	 * that is only appended to (N_STORES set after the fd is in place) */
	int stores[STORES_MAX];
	volatile sig_atomic_t n_stores;
	struct sigaction make_fatal[CDX_ARRAY_LEN(fatal_sigs)]; /* make's own handlers */
} registry;

void cdx_gmk_note_store(int fd)
{
	if (registry.n_stores < STORES_MAX) {
		registry.stores[registry.n_stores] = fd;
		registry.n_stores = registry.n_stores + 1;
	}
}

/* a fatal signal: noted in every spec store (the watchers of the runs then
 * record them cancelled), then make's own handler, which waits for the
 * running jobs and kills make with SIG */
static void on_fatal(int sig)
{
	sig_atomic_t i;
	size_t k;
	for (i = 0; i < registry.n_stores; i++)
		cdx_jobspec_note_signal(registry.stores[i], sig);
	for (k = 0; k < CDX_ARRAY_LEN(fatal_sigs) && fatal_sigs[k] != sig; k++)
		;
	if (k < CDX_ARRAY_LEN(fatal_sigs) && registry.make_fatal[k].sa_handler != SIG_DFL &&
	    registry.make_fatal[k].sa_handler != SIG_IGN && !(registry.make_fatal[k].sa_flags & SA_SIGINFO)) {
		registry.make_fatal[k].sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* put on_fatal before make's handlers of the fatal signals (make set them
 * before it read the makefile that loads the module); an ignored signal
 * stays ignored */
static void catch_fatal_signals(void)
{
	size_t k;
	for (k = 0; k < CDX_ARRAY_LEN(fatal_sigs); k++) {
		struct sigaction sa;
		if (sigaction(fatal_sigs[k], NULL, &registry.make_fatal[k]) < 0 ||
		    registry.make_fatal[k].sa_handler == SIG_IGN)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_fatal;
		sa.sa_mask = registry.make_fatal[k].sa_mask;
		sa.sa_flags = registry.make_fatal[k].sa_flags & ~SA_SIGINFO;
		sigaction(fatal_sigs[k], &sa, NULL);
	}
}

const char *cdx_gmk_tool(void)
{
	return registry.tool;
}

const char *cdx_gmk_job_cmd(void)
{
	return registry.job_cmd;
}

struct cdx_gmk_loaded *cdx_gmk_loaded_at(size_t k)
{
	return k < registry.n ? &registry.items[k] : NULL;
}

char *cdx_gmk_give(const char *s)
{
	size_t n = strlen(s);
	char *r = gmk_alloc((unsigned)n + 1);
	memcpy(r, s, n + 1);
	return r;
}

void cdx_gmk_fail(const char *func, const char *msg)
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

void cdx_gmk_failf(const char *func, const char *fmt, ...)
{
	struct cdx_buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	cdx_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	cdx_gmk_fail(func, b.data ? b.data : "");
	cdx_buf_free(&b);
}

char *cdx_gmk_trim(const char *s)
{
	size_t n;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return cdx_xstrndup(s, n);
}

struct cdx_gmk_loaded *cdx_gmk_load(const char *func, const char *file_arg)
{
	char *file = cdx_gmk_trim(file_arg);
	struct cdx_diags *d;
	struct cdx_pipeline *p;
	struct cdx_gmk_loaded l;
	size_t i;
	for (i = 0; i < registry.n; i++) {
		if (strcmp(registry.items[i].path, file) == 0) {
			free(file);
			return &registry.items[i];
		}
	}
	if (!*file) {
		free(file);
		cdx_gmk_fail(func, "name a pipeline file");
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
		cdx_gmk_fail(func, b.data);
		cdx_buf_free(&b);
		return NULL;
	}
	cdx_diags_free(d);
	memset(&l, 0, sizeof(l));
	l.index = registry.n;
	l.path = file;
	l.p = p;
	l.specs.fd = -1;
	CDX_PUSH(registry.items, registry.n, registry.cap, l);
	return &registry.items[l.index];
}

const char *cdx_gmk_config_path(void)
{
	const char *cfg = getenv("CDX_CONFIG");
	return cfg && *cfg ? cfg : "cdx.yml";
}

struct cdx_project *cdx_gmk_project(void)
{
	struct cdx_project *pr = NULL;
	struct cdx_diags *d;
	if (access(cdx_gmk_config_path(), F_OK) == 0) {
		d = cdx_diags_new();
		pr = cdx_project_load(cdx_gmk_config_path(), d);
		cdx_diags_free(d);
	}
	return pr;
}

char *cdx_gmk_state_url(void)
{
	const char *env = getenv("CDX_STATE");
	struct cdx_project *pr;
	char *r = NULL;
	if (env && *env)
		return cdx_xstrdup(env);
	pr = cdx_gmk_project();
	if (pr)
		r = cdx_xstrdup(cdx_project_state(pr));
	cdx_project_free(pr);
	return r ? r : cdx_xstrdup("file:.cdx");
}

/* as it is when no character means anything to sh, so that make can run
 * the recipe without a shell (one process less per job) */
void cdx_gmk_add_word(struct cdx_buf *b, const char *s)
{
	const char *c;
	for (c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("/_.+-,:@%", *c)))
			break;
	if (*c || !*s)
		cdx_gmk_shell_quote(b, s);
	else
		cdx_buf_adds(b, s);
}

void cdx_gmk_shell_quote(struct cdx_buf *b, const char *s)
{
	struct cdx_buf q = {0};
	const char *c;
	cdx_shq(&q, s);
	for (c = q.data; c && *c; c++) /* make expands the text once: '$' as '$$' */
		if (*c == '$')
			cdx_buf_adds(b, "$$");
		else
			cdx_buf_addc(b, *c);
	cdx_buf_free(&q);
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
	cdx_gmk_add_word(&b, registry.tool);
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
	cdx_gmk_pipeline_setup();
	cdx_gmk_query_setup();
	cdx_gmk_deploy_setup();
	registry.tool = find_tool();
	registry.job_cmd = find_job_cmd();
	catch_fatal_signals();
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
	size_t k;
	for (k = 0; k < CDX_ARRAY_LEN(fatal_sigs); k++) /* on_fatal goes away with the module */
		if (registry.make_fatal[k].sa_handler != SIG_IGN)
			sigaction(fatal_sigs[k], &registry.make_fatal[k], NULL);
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
