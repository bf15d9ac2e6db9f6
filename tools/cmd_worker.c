/* cmd_worker.c — the worker pool's commands (lib/exec/pool.h): `cdx
 * worker` serves the pool, `cdx workers` lists it. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/text.h"
#include "base/util.h"
#include "exec/pool.h"
#include "tools/cli.h"

static volatile sig_atomic_t worker_stop;

/* SIGTERM (and SIGINT) drain; a second one, or SIGQUIT, cancels */
static void on_stop(int sig)
{
	if (sig == SIGQUIT)
		worker_stop = worker_stop >= 2 ? 3 : 2;
	else if (worker_stop < 3)
		worker_stop++;
}

enum { OPT_NAME = CLI_OPT_OWN, OPT_TAGS, OPT_DIR };

static const struct option worker_longs[] = {{"name", required_argument, NULL, OPT_NAME},
					     {"jobs", required_argument, NULL, 'j'},
					     {"tags", required_argument, NULL, OPT_TAGS},
					     {"dir", required_argument, NULL, OPT_DIR},
					     {0}};

int cmd_worker(struct cli *g, int argc, char **argv)
{
	struct cdx_worker_opts o;
	struct cli_opts p;
	struct cdx_error err = {0};
	struct sigaction sa;
	const char **tags = NULL;
	char *tagbuf = NULL;
	size_t n_tags = 0, cap = 0;
	long slots = 1;
	int rc;
	memset(&o, 0, sizeof(o));
	cli_opts_begin(&p, g, "worker", argc, argv, "j:", worker_longs, 0);
	while (cli_opts_next(&p)) {
		switch (p.opt) {
		case OPT_NAME:
			o.name = p.arg;
			break;
		case OPT_DIR:
			o.dir = p.arg;
			break;
		case 'j':
			if (cli_number("worker", "-j needs a number of slots from 1 to 1024", p.arg, 1, 1024,
				       &slots))
				return CDX_EUSAGE;
			break;
		case OPT_TAGS: {
			char *t, *save = NULL;
			free(tagbuf);
			tagbuf = cdx_xstrdup(p.arg);
			n_tags = 0;
			for (t = strtok_r(tagbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				cdx_grow(&tags, &cap, n_tags + 2, sizeof(char *));
				tags[n_tags++] = t;
				tags[n_tags] = NULL;
			}
			break;
		}
		default:
			break;
		}
	}
	if (p.status) {
		free(tags);
		free(tagbuf);
		return p.status;
	}
	o.state = cli_state(g);
	o.slots = (unsigned)slots;
	o.tags = tags;
	o.out = stdout;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: the waits see EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	rc = cdx_pool_worker(&o, &worker_stop, &err);
	free(tags);
	free(tagbuf);
	if (rc < 0) {
		cli_error("worker: %s", err.msg);
		return err.code;
	}
	return rc;
}

int cmd_workers(struct cli *g, int argc, char **argv)
{
	struct cli_opts p;
	struct cdx_error err = {0};
	static const struct option longs[] = {CLI_OPTION_JSON, {0}};
	bool json = false;
	cJSON *ws, *w;
	cli_opts_begin(&p, g, "workers", argc, argv, "", longs, 0);
	while (cli_opts_next(&p))
		if (p.opt == CLI_OPT_JSON)
			json = true;
	if (p.status)
		return p.status;
	ws = cdx_pool_workers(cli_state(g), &err);
	if (!ws) {
		cli_error("workers: %s", err.msg);
		return err.code;
	}
	if (json) {
		cli_print_json(ws);
		cJSON_Delete(ws);
		return 0;
	}
	cdx_text_printf(stdout, "%-24s %-20s %-16s %5s %4s %s\n", "NAME", "HOST", "TAGS", "SLOTS", "BUSY",
			"LAST HEARTBEAT");
	cJSON_ArrayForEach(w, ws)
	{
		struct cdx_buf t = {0};
		const cJSON *x;
		cdx_buf_adds(&t, "");
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(w, "tags")) if (x->valuestring)
		    cdx_buf_printf(&t, "%s%s", t.len ? "," : "", x->valuestring);
		cdx_text_printf(stdout, "%-24s %-20s %-16s %5.0f %4.0f %.1fs ago%s\n", cdx_js(w, "name"),
				cdx_js(w, "host"), t.len ? t.data : "-", cdx_jn(w, "slots"),
				cdx_jn(w, "busy"),
				(double)(cdx_wall_ms() - (int64_t)cdx_jn(w, "heartbeat_ms")) / 1000,
				cdx_jb(w, "up", false) ? "" : " (down)");
		cdx_buf_free(&t);
	}
	cJSON_Delete(ws);
	return 0;
}
