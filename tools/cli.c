/* cli.c — the helpers every command of the cdx tool shares (cli.h):
 * messages, option values, the state URL and the run with its signals.
 * Apart from the command table in cdx.c, so that cdx-job (tools/job/),
 * which runs one job of a make recipe, links them without the rest. */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/diag.h"
#include "base/util.h"

void cli_init(struct cli *g)
{
	memset(g, 0, sizeof(*g));
	g->config = getenv("CDX_CONFIG");
	g->config_given = g->config && *g->config;
	if (!g->config_given)
		g->config = "cdx.yml";
	g->state = getenv("CDX_STATE");
	if (g->state && !*g->state)
		g->state = NULL;
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("cdx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "cdx %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see cdx help %s)\n", cmd);
	return CDX_EUSAGE;
}

void cli_print_diags(const struct cdx_diags *d)
{
	size_t i, n = cdx_diags_count(d);
	struct cdx_buf b = {0};
	for (i = 0; i < n; i++) {
		cdx_buf_reset(&b);
		cdx_diag_format(cdx_diags_get(d, i), &b);
		fprintf(stderr, "%s\n", b.data);
	}
	cdx_buf_free(&b);
}

bool cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

const char *cli_option_value(const char *cmd, int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) == 0 && a[n] == '=')
		return a + n + 1;
	if (*i + 1 >= argc) {
		cli_usage_error(cmd, "option %s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

struct cdx_project *cli_project(struct cli *g)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_project *pr = cdx_project_load(g->config, d);
	if (!pr)
		cli_print_diags(d);
	cdx_diags_free(d);
	return pr;
}

const char *cli_state(struct cli *g)
{
	struct cdx_project *pr;
	if (g->state)
		return g->state;
	if (access(g->config, F_OK) == 0) {
		pr = cli_project(g);
		if (!pr)
			return NULL; /* the state named there cannot be known: do not guess */
		g->state_owned = cdx_xstrdup(cdx_project_state(pr));
		g->state = g->state_owned;
		cdx_project_free(pr);
	}
	if (!g->state)
		g->state = "file:.cdx";
	return g->state;
}

/* the run a signal handler cancels: the tool runs one at a time */
static struct cdx_run *volatile cancel_target;

static void on_cancel_signal(int sig)
{
	(void)sig;
	if (cancel_target)
		cdx_run_cancel(cancel_target);
}

int cli_execute(const char *cmd, struct cdx_run *r)
{
	struct sigaction sa, old_int, old_term;
	struct cdx_error err = {0};
	int rc;
	/* no SA_RESTART: the runner's wait must see EINTR and look at the flag */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel_signal;
	sigemptyset(&sa.sa_mask);
	cancel_target = r;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = cdx_run_execute(r, &err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	cancel_target = NULL;
	if (rc < 0) {
		cli_error("%s: %s", cmd, err.msg);
		rc = err.code ? err.code : CDX_ESTATE;
	}
	return rc;
}
