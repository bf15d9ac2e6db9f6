/* cmd_serve.c — `cdx serve`: the live dashboard (lib/serve/). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "serve/serve.h"
#include "tools/cli.h"

static volatile sig_atomic_t serve_stop;

static void on_stop(int sig)
{
	(void)sig;
	serve_stop = 1;
}

enum { OPT_LISTEN = CLI_OPT_OWN, OPT_TOKEN_FILE };

static const struct option serve_longs[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	{0},
};

int cmd_serve(struct cli *g, int argc, char **argv)
{
	struct cdx_serve_options o = {0};
	struct cdx_error err = {0};
	struct cli_opts p;
	struct sigaction sa;
	cli_opts_begin(&p, g, "serve", argc, argv, "", serve_longs, 0);
	while (cli_opts_next(&p)) {
		if (p.opt == OPT_LISTEN)
			o.listen = p.arg;
		else
			o.token_file = p.arg;
	}
	if (p.status)
		return p.status;
	o.state = cli_state(g);
	if (!o.state)
		return CDX_EUSAGE;
	o.config = g->config;
	o.log = stderr;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cdx_serve_run(&o, &serve_stop, &err) < 0) {
		cli_error("serve: %s", err.msg);
		return err.code;
	}
	return 0;
}
