/* cmd_state.c — `cdx state copy SRC DST`: move recorded history between
 * state stores (file: and redis://, either way); `cdx state check
 * [--repair] [STORE]`: find the damaged records of a file store's journal
 * and, with --repair, move them aside (cdx_store_file_repair).
 *
 * Every record of SRC is read oldest first and appended to DST in the same
 * order, flushed in groups of COPY_GROUP.  Records that DST holds already
 * (the same JSON text) are skipped, so a copy can be repeated — after an
 * interrupted copy, or to load records that a run spilled to a file store
 * while Redis was away — without doubling anything.  SRC is only read; a
 * file store that does not exist is an error, not an empty store. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli.h"
#include "base/map.h"
#include "state/store.h"
#include "base/util.h"

#define COPY_GROUP 512

struct copy_ctx {
	struct cdx_store *dst;
	struct cdx_map have; /* JSON text of the records DST holds */
	char **texts;        /* owned keys of HAVE */
	size_t n_texts, cap_texts;
	size_t copied, skipped;
	struct cdx_error err;
	bool failed;
};

static int remember(void *ctx, const cJSON *rec)
{
	struct copy_ctx *c = ctx;
	char *text = cJSON_PrintUnformatted(rec);
	if (!text)
		return 0;
	if (cdx_map_put(&c->have, text, 0, NULL))
		CDX_PUSH(c->texts, c->n_texts, c->cap_texts, text);
	else
		free(text);
	return 0;
}

static int copy_one(void *ctx, const cJSON *rec)
{
	struct copy_ctx *c = ctx;
	char *text = cJSON_PrintUnformatted(rec);
	bool dup = text && cdx_map_get(&c->have, text, NULL);
	free(text);
	if (dup) {
		c->skipped++;
		return 0;
	}
	if (c->dst->ops->append(c->dst, rec, &c->err) < 0 ||
	    (c->dst->ops->pending(c->dst) >= COPY_GROUP && c->dst->ops->flush(c->dst, &c->err) < 0)) {
		c->failed = true;
		return 1;
	}
	c->copied++;
	return 0;
}

/* open URL; a file store must exist already when MUST_EXIST */
static int open_url(const char *url, bool must_exist, struct cdx_store **s, struct cdx_error *err)
{
	enum cdx_open_result rc;
	if (!must_exist)
		return cdx_store_open(url, s, err);
	rc = cdx_store_open_existing(url, s, err);
	if (rc == CDX_OPEN_NONE)
		return cdx_error_set(err, CDX_EUSAGE, "no state store at %s: %s", url, strerror(ENOENT));
	return rc;
}

static int state_copy(const char *src_url, const char *dst_url)
{
	struct cdx_store *src = NULL;
	struct copy_ctx c;
	struct cdx_error err = {0};
	int rc = 0;
	size_t i;
	memset(&c, 0, sizeof(c));
	if (open_url(src_url, true, &src, &err) < 0 || open_url(dst_url, false, &c.dst, &err) < 0) {
		cli_error("state copy: %s", err.msg);
		cdx_store_close(src);
		return err.code;
	}
	if (c.dst->ops->scan(c.dst, remember, &c, &err) < 0 || src->ops->scan(src, copy_one, &c, &err) < 0) {
		cli_error("state copy: %s", err.msg);
		rc = err.code;
	} else if (c.failed || c.dst->ops->flush(c.dst, &c.err) < 0) {
		cli_error("state copy: cannot write to %s: %s", c.dst->url, c.err.msg);
		rc = c.err.code;
	} else {
		cdx_text_printf(stdout, "copied %zu record%s from %s to %s", c.copied,
				c.copied == 1 ? "" : "s", src->url, c.dst->url);
		if (c.skipped)
			cdx_text_printf(stdout, " (%zu already there)", c.skipped);
		putchar('\n');
	}
	cdx_store_close(src);
	cdx_store_close(c.dst);
	cdx_map_free(&c.have);
	for (i = 0; i < c.n_texts; i++)
		free(c.texts[i]);
	free(c.texts);
	return rc;
}

/* ---- check ---------------------------------------------------------------- */

/* the first bytes of a damaged line shown by check */
#define CHECK_SHOW 72

struct check_ctx {
	const char *journal;
	int fd; /* the journal, to show what a damaged line holds; -1 */
};

static void check_bad(void *ctx, off_t at, size_t len)
{
	struct check_ctx *c = ctx;
	char buf[CHECK_SHOW + 1];
	size_t n = len < CHECK_SHOW ? len : CHECK_SHOW, i;
	ssize_t got = c->fd >= 0 ? pread(c->fd, buf, n, at) : -1;
	buf[got > 0 ? got : 0] = '\0';
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
			buf[i] = '?';
	printf("%s: byte %lld: damaged record (%zu bytes): %s%s\n", c->journal, (long long)at, len, buf,
	       len > n ? "..." : "");
}

static int state_check(const char *url, bool repair)
{
	struct cdx_store *s = NULL;
	struct cdx_error err = {0};
	struct check_ctx c = {NULL, -1};
	size_t records = 0, damaged = 0, moved = 0;
	int rc;
	if (strstr(url, "://"))
		return cli_usage_error("state", "check reads file stores; %s is not one", url);
	/* only --repair writes: a check needs no write access */
	rc = repair ? cdx_store_open_existing(url, &s, &err) : cdx_store_open_read(url, &s, &err);
	if (rc == CDX_OPEN_NONE) {
		cli_error("state check: no state store at %s", url);
		return CDX_EUSAGE;
	}
	if (rc < 0) {
		cli_error("state check: %s", err.msg);
		return err.code;
	}
	c.journal = cdx_store_file_journal(s);
	c.fd = open(c.journal, O_RDONLY | O_CLOEXEC);
	if (cdx_store_file_check(s, check_bad, &c, &records, &damaged, &err) < 0) {
		cli_error("state check: %s", err.msg);
		rc = err.code;
		goto out;
	}
	if (!damaged) {
		printf("%s: %zu record%s, no damage\n", c.journal, records, records == 1 ? "" : "s");
		rc = 0;
		goto out;
	}
	rc = 1;
	if (!repair) {
		printf("%s: %zu damaged record%s (readers skip %s), %zu intact; `cdx state check --repair` moves "
		       "%s to %s.damaged\n",
		       c.journal, damaged, damaged == 1 ? "" : "s", damaged == 1 ? "it" : "them", records,
		       damaged == 1 ? "it" : "them", c.journal);
		goto out;
	}
	if (cdx_store_file_repair(s, &moved, &err) < 0) {
		cli_error("state check: %s", err.msg);
		rc = err.code;
		goto out;
	}
	printf("%s: moved %zu damaged record%s to %s.damaged; the journal reads clean\n", c.journal, moved,
	       moved == 1 ? "" : "s", c.journal);
out:
	if (c.fd >= 0)
		close(c.fd);
	cdx_store_close(s);
	return rc;
}

enum { OPT_REPAIR = CLI_OPT_OWN };

static const struct option state_longs[] = {{"repair", no_argument, NULL, OPT_REPAIR}, {0}};

int cmd_state(struct cli *g, int argc, char **argv)
{
	struct cli_opts p;
	bool repair = false;
	cli_opts_begin(&p, g, "state", argc, argv, "", state_longs, SIZE_MAX);
	while (cli_opts_next(&p))
		repair = true; /* --repair */
	if (p.status)
		return p.status;
	if (p.n_pos < 1)
		return cli_usage_error("state", "missing subcommand (copy, check)");
	if (strcmp(argv[1], "check") == 0) {
		const char *url;
		if (p.n_pos > 2)
			return cli_usage_error("state", "check takes at most one STORE");
		url = p.n_pos == 2 ? argv[2] : cli_state(g);
		if (!url)
			return CDX_EUSAGE;
		return state_check(url, repair);
	}
	if (strcmp(argv[1], "copy") != 0)
		return cli_usage_error("state", "unknown subcommand '%s' (copy, check)", argv[1]);
	if (repair)
		return cli_usage_error("state", "--repair goes with check");
	if (p.n_pos != 3)
		return cli_usage_error("state", "copy takes SRC and DST");
	if (strcmp(argv[2], argv[3]) == 0)
		return cli_usage_error("state", "SRC and DST are the same store");
	return state_copy(argv[2], argv[3]);
}
