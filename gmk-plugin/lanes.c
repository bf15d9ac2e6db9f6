/* lanes.c — lane pinning, and what make was asked for: its -j and -k, its
 * goals.
 *
 * make walks its goals in passes and would start a job that became ready
 * mid-pass only at the next walk.  cdx pins the list schedule it would
 * follow itself on make's N workers: each job gets an order-only
 * prerequisite on the job before it in the same lane.  Only when that
 * cannot hurt: make runs -jN with 1 < N < jobs, without -k (a failed job
 * would hold back the rest of its lane), and the goals ask for the whole
 * pipeline (make builds order-only prerequisites too, so a goal that
 * needs part of the pipeline must not run the jobs before its own in
 * their lanes). */
#include <fcntl.h>
#include <gnumake.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gmk-plugin/cdx_plugin.h"
#include "pipeline/dag.h"
#include "pipeline/pipeline.h"

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

/* make's -j from its own command line (MAKEFLAGS does not show it while
 * makefiles are read): N, 0 when -j has no number (no limit), 1 if absent;
 * *KEEP_GOING when make runs with -k */
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

/* whether the goals ask for the whole pipeline by its name (not a stage,
 * a job or a target of the user's) */
static bool goals_want_all(const struct cdx_pipeline *p)
{
	char *goals = gmk_expand("$(MAKECMDGOALS)"), *tok, *save = NULL;
	bool all = false;
	for (tok = goals ? strtok_r(goals, " \t", &save) : NULL; tok && !all;
	     tok = strtok_r(NULL, " \t", &save))
		all = strcmp(tok, p->name) == 0;
	gmk_free(goals);
	return all;
}

size_t cdx_gmk_expected_jobs(const struct cdx_pipeline *p, const bool *out)
{
	const struct cdx_dag *d = p->dag;
	char *goals = gmk_expand("$(MAKECMDGOALS)"), *tok, *save = NULL;
	bool *mark = cdx_xcalloc(d->n_nodes + 1, sizeof(bool)), known = goals && *goals;
	uint32_t *stack = cdx_xcalloc(d->n_nodes + 1, sizeof(uint32_t));
	size_t sp = 0, count = 0, i, nl = strlen(p->name);
	for (tok = goals ? strtok_r(goals, " \t", &save) : NULL; tok && known;
	     tok = strtok_r(NULL, " \t", &save)) {
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
			if (!mark[d->pred[e]] && !(out && d->pred[e] < d->n_jobs && out[d->pred[e]]))
				stack[sp++] = d->pred[e];
	}
	gmk_free(goals);
	free(mark);
	free(stack);
	return known ? count : 0;
}

void cdx_gmk_pin_lanes(const struct cdx_pipeline *p, const double *w, const double *prio, uint32_t *lane_prev)
{
	const struct cdx_dag *d = p->dag;
	size_t n = p->n_jobs, i;
	bool keep_going;
	unsigned P = make_jobs(&keep_going), q;
	double *start, *lane_free;
	size_t *order;
	uint32_t *lane_last;
	for (i = 0; i < n; i++)
		lane_prev[i] = UINT32_MAX;
	if (!(P > 1 && P < n && !keep_going && !makefile_keep_going() && goals_want_all(p)))
		return;
	start = cdx_xcalloc(n + 1, sizeof(double));
	order = cdx_xcalloc(n + 1, sizeof(size_t));
	lane_free = cdx_xcalloc(P, sizeof(double));
	lane_last = cdx_xcalloc(P, sizeof(uint32_t));
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
	free(start);
	free(order);
}
