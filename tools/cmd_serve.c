/* cmd_serve.c — `cdx serve`: the live dashboard (lib/serve/). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "serve/serve.h"
#include "tools/cli.h"

/* a rollback through the server stops the slot it took the traffic from,
 * as cdx rollback does */
static void scale_down(void *ctx, struct cdx_orchestrator *o, const char *app, const char *env,
		       const struct cJSON *sd)
{
	cli_schedule_scale_down(ctx, o, app, env, sd);
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
	sigset_t stop, blocked;
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
	o.scale_down = scale_down;
	o.scale_down_ctx = g;
	/* SIGINT and SIGTERM stop the server (sigwait in cdx_serve_run); they
	 * and SIGHUP and SIGPIPE are blocked in every thread, so that the
	 * handlers a rollback sets for its time never see them */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	blocked = stop;
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);
	if (cdx_serve_run(&o, &stop, &err) < 0) {
		cli_error("serve: %s", err.msg);
		return err.code;
	}
	return 0;
}
