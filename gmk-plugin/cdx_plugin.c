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
#include <gnumake.h>
#include <stdlib.h>
#include <string.h>

#include "cdx.h"
#include "diag.h"
#include "pipeline.h"
#include "util.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int plugin_is_GPL_compatible;

struct loaded {
	char *path;
	struct cdx_pipeline *p;
};

/* the module's registry: pipelines loaded in this make process */
static struct {
	struct loaded *items;
	size_t n, cap;
} registry;

static char *give(const char *s)
{
	size_t n = strlen(s);
	char *r = gmk_alloc((unsigned)n + 1);
	memcpy(r, s, n + 1);
	return r;
}

/* stop make with "*** FUNC: MSG" at the current makefile line */
static void fail(const char *func, const char *msg)
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

static char *trim(const char *s)
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
			cdx_buf_printf(&b, " (and %zu more problems; see cdx validate %s)", cdx_diags_count(d) - 1,
				       file);
		cdx_diags_free(d);
		free(file);
		fail(func, b.data);
		cdx_buf_free(&b);
		return NULL;
	}
	cdx_diags_free(d);
	l.path = file;
	l.p = p;
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

static void registry_free(void)
{
	size_t i;
	for (i = 0; i < registry.n; i++) {
		free(registry.items[i].path);
		cdx_pipeline_free(registry.items[i].p);
	}
	free(registry.items);
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
	atexit(registry_free);
	return 1;
}

/* make 4.4 calls this before unloading the object */
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
