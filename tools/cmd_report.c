/* cmd_report.c — `cdx report PIPELINE`: a report on a run, written to
 * standard output or, with -o, atomically to a file (a temporary file in
 * the same directory, fsync'd, then renamed over FILE: a reader sees the
 * old report or the new one, never half of one). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/util.h"

/* write LEN bytes of TEXT to PATH through PATH.tmp.PID + rename; 0 or -1
 * with a message printed */
static int write_atomic(const char *path, const char *text, size_t len)
{
	char *tmp = cdx_xasprintf("%s.tmp.%ld", path, (long)getpid());
	size_t off = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), e;
	if (fd < 0) {
		cli_error("report: cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	cli_error("report: cannot write %s: %s", path, strerror(e));
	free(tmp);
	return -1;
}

enum { OPT_RUN = CLI_OPT_OWN, OPT_TYPE, OPT_FORMAT };

static const struct option report_longs[] = {
	{"run", required_argument, NULL, OPT_RUN},
	{"type", required_argument, NULL, OPT_TYPE},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"output", required_argument, NULL, 'o'},
	{0},
};

int cmd_report(struct cli *g, int argc, char **argv)
{
	const char *pipeline, *run = NULL, *type = "summary", *format = "json", *out = NULL, *state;
	struct cdx_error err = {0};
	struct cli_opts p;
	char *text;
	int rc = 0;
	cli_opts_begin(&p, g, "report", argc, argv, "o:", report_longs, 1);
	while (cli_opts_next(&p)) {
		if (p.opt == OPT_RUN)
			run = p.arg;
		else if (p.opt == OPT_TYPE)
			type = p.arg;
		else if (p.opt == OPT_FORMAT)
			format = p.arg;
		else
			out = p.arg;
	}
	if (p.status)
		return p.status;
	if (!p.n_pos)
		return cli_usage_error("report", "name a pipeline");
	pipeline = argv[1];
	if (strcmp(type, "summary") != 0 && strcmp(type, "detailed") != 0 && strcmp(type, "performance") != 0)
		return cli_usage_error("report", "--type is summary, detailed or performance, not '%s'", type);
	if (strcmp(format, "json") != 0 && strcmp(format, "html") != 0 && strcmp(format, "text") != 0)
		return cli_usage_error("report", "--format is json, html or text, not '%s'", format);
	state = cli_state(g);
	if (!state)
		return CDX_EUSAGE;
	text = cdx_report_generate(state, pipeline, run, type, format, &err);
	if (!text) {
		cli_error("report: %s", err.msg);
		return err.code;
	}
	if (out && strcmp(out, "-") != 0)
		rc = write_atomic(out, text, strlen(text)) < 0 ? CDX_EFAILED : 0;
	else
		fputs(text, stdout);
	free(text);
	return rc;
}
