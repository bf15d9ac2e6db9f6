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

int cmd_report(struct cli *g, int argc, char **argv)
{
	const char *pipeline = NULL, *run = NULL, *type = "summary", *format = "json", *out = NULL, *state;
	struct cdx_error err = {0};
	char *text;
	int i, rc = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--run") == 0 || strncmp(a, "--run=", 6) == 0) {
			run = cli_option_value("report", argc, argv, &i, "--run");
			if (!run)
				return CDX_EUSAGE;
		} else if (strcmp(a, "--type") == 0 || strncmp(a, "--type=", 7) == 0) {
			type = cli_option_value("report", argc, argv, &i, "--type");
			if (!type)
				return CDX_EUSAGE;
		} else if (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0) {
			format = cli_option_value("report", argc, argv, &i, "--format");
			if (!format)
				return CDX_EUSAGE;
		} else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 || strncmp(a, "--output=", 9) == 0) {
			out = cli_option_value("report", argc, argv, &i, a[1] == 'o' ? "-o" : "--output");
			if (!out)
				return CDX_EUSAGE;
		} else if (a[0] == '-') {
			return cli_usage_error("report", "unknown option %s", a);
		} else if (!pipeline) {
			pipeline = a;
		} else {
			return cli_usage_error("report", "unexpected argument %s", a);
		}
	}
	if (!pipeline)
		return cli_usage_error("report", "name a pipeline");
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
		return err.code ? err.code : CDX_ESTATE;
	}
	if (out && strcmp(out, "-") != 0)
		rc = write_atomic(out, text, strlen(text)) < 0 ? CDX_EFAILED : 0;
	else
		fputs(text, stdout);
	free(text);
	return rc;
}
