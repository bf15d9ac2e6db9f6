/* cli.c — the helpers every command of the cdx tool shares (cli.h):
 * messages, option parsing (getopt_long, one loop for every command), the
 * state URL, the run with its signals, and the JSON printer.  The command
 * table and main are in cdx.c, each command in its tools/cmd_*.c. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/diag.h"
#include "base/duration.h"
#include "base/util.h"

/* the values of the global options in a command's table */
#define CLI_OPT_CONFIG 0x101
#define CLI_OPT_STATE 0x102

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

/* the message of FMT and AP on stderr, its %s values escaped (base/text.h):
 * an argument or a recorded value quoted in it cannot forge a line */
static void print_message(const char *fmt, va_list ap)
{
	struct cdx_buf b = {0};
	cdx_text_vprintf(&b, fmt, ap);
	fputs(b.data, stderr);
	cdx_buf_free(&b);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("cdx: ", stderr);
	va_start(ap, fmt);
	print_message(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	if (cmd)
		fprintf(stderr, "cdx %s: ", cmd);
	else
		fputs("cdx: ", stderr);
	va_start(ap, fmt);
	print_message(fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\n(see cdx help %s)\n", cmd);
	else
		fputs("\n(see cdx --help)\n", stderr);
	return CDX_EUSAGE;
}

void cli_print_diags(const struct cdx_diags *d)
{
	size_t i, n = cdx_diags_count(d);
	struct cdx_buf b = {0};
	for (i = 0; i < n; i++) {
		cdx_buf_reset(&b);
		cdx_diag_format(cdx_diags_get(d, i), &b);
		cdx_text_printf(stderr, "%s\n", b.data); /* a value it quotes stays on the line */
	}
	cdx_buf_free(&b);
}

bool cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* ---- options ------------------------------------------------------------- */

void cli_opts_begin(struct cli_opts *p, struct cli *g, const char *cmd, int argc, char **argv,
		    const char *shorts, const struct option *longs, size_t max_pos)
{
	const struct option *o;
	size_t n = 0;
	memset(p, 0, sizeof(*p));
	p->g = g;
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	p->max_pos = max_pos;
	/* "-": positional arguments come back in order (whatever
	 * POSIXLY_CORRECT says); "+" (main): stop at the command; ":": a
	 * missing value is told apart from an unknown option */
	if (shorts[0] == '+')
		snprintf(p->shorts, sizeof(p->shorts), "+:%s", shorts + 1);
	else
		snprintf(p->shorts, sizeof(p->shorts), "-:%s", shorts);
	for (o = longs; o && o->name && n < CLI_OPTS_MAX; o++)
		p->longs[n++] = *o;
	p->longs[n++] = (struct option){"config", required_argument, NULL, CLI_OPT_CONFIG};
	p->longs[n++] = (struct option){"state", required_argument, NULL, CLI_OPT_STATE};
	optind = 0; /* glibc: start afresh */
	opterr = 0; /* the messages are ours */
}

/* whether ARG names the long option NAME whole ("--NAME", "--NAME=V"):
 * getopt_long takes abbreviations, cdx does not */
static bool whole_name(const char *arg, const char *name)
{
	size_t n = strlen(name);
	return strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, name, n) == 0 &&
	       (arg[n + 2] == '\0' || arg[n + 2] == '=');
}

static bool opts_error(struct cli_opts *p, const char *arg, bool missing)
{
	if (missing && strncmp(arg, "--", 2) == 0)
		cli_usage_error(p->cmd, "option %.*s needs a value", (int)strcspn(arg, "="), arg);
	else if (missing)
		cli_usage_error(p->cmd, "option -%c needs a value", optopt);
	else if (!p->cmd)
		cli_error("unknown command '%s' (see cdx --help)", arg);
	else
		cli_usage_error(p->cmd, "unknown option %s", arg);
	p->status = CDX_EUSAGE;
	return false;
}

/* gather positional argument ARG at the front of argv */
static bool opts_positional(struct cli_opts *p, char *arg)
{
	if (p->n_pos >= p->max_pos) {
		p->status = cli_usage_error(p->cmd, "unexpected argument %s", arg);
		return false;
	}
	p->argv[++p->n_pos] = arg;
	return true;
}

bool cli_opts_next(struct cli_opts *p)
{
	while (!p->status) {
		int at = optind ? optind : 1, li = -1, c;
		const char *cur;
		if (p->ended) {
			if (optind >= p->argc)
				return false;
			if (!opts_positional(p, p->argv[optind++]))
				return false;
			continue;
		}
		c = getopt_long(p->argc, p->argv, p->shorts, p->longs, &li);
		if (c == -1) {
			/* "--", or the command (main): the rest is positional */
			p->ended = true;
			continue;
		}
		cur = p->argv[at];
		if (c == 1) {
			if (!opts_positional(p, optarg))
				return false;
			continue;
		}
		if (c == '?' || c == ':' || (li >= 0 && !whole_name(cur, p->longs[li].name)))
			return opts_error(p, cur, c == ':');
		if (c == CLI_OPT_CONFIG) {
			p->g->config = optarg;
			p->g->config_given = true;
		} else if (c == CLI_OPT_STATE) {
			p->g->state = optarg;
		} else {
			p->opt = c;
			p->arg = optarg;
			return true;
		}
	}
	return false;
}

const char *cli_opts_take(struct cli_opts *p, bool (*accept)(const char *arg))
{
	if (p->ended || optind >= p->argc || !accept(p->argv[optind]))
		return NULL;
	return p->argv[optind++];
}

static bool is_duration(const char *arg)
{
	int64_t ms;
	const char *why;
	return cdx_duration_parse(arg, &ms, &why) == 0;
}

int cli_opts_wait(struct cli_opts *p, long long *wait_ms)
{
	const char *v = p->arg ? p->arg : cli_opts_take(p, is_duration), *why;
	int64_t ms;
	*wait_ms = -1;
	if (!v)
		return 0;
	if (cdx_duration_parse(v, &ms, &why) < 0)
		return cli_usage_error(p->cmd, "bad duration '%s' for --wait: %s", v, why);
	*wait_ms = ms;
	return 0;
}

int cli_number(const char *cmd, const char *what, const char *v, long min, long max, long *n)
{
	char *end;
	long x;
	errno = 0;
	x = strtol(v, &end, 10);
	if (!*v || *end || errno || x < min || x > max)
		return cli_usage_error(cmd, "%s, not '%s'", what, v);
	*n = x;
	return 0;
}

const char *cli_who(const cJSON *o, char *buf, size_t n)
{
	const char *claimed = cdx_js(o, "claimed_user");
	snprintf(buf, n, "%s@%s%s%s%s", cdx_js(o, "user"), cdx_js(o, "host"), *claimed ? " (claims " : "",
		 claimed, *claimed ? ")" : "");
	return buf;
}

void cli_print_json(const cJSON *o)
{
	char *s = cJSON_Print(o);
	puts(s);
	free(s);
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
		rc = err.code;
	}
	return rc;
}
