/* cmd_state.c — `cdx state copy SRC DST`: move recorded history between
 * state stores (file: and redis://, either way).
 *
 * Every record of SRC is read oldest first and appended to DST in the same
 * order, flushed in groups of COPY_GROUP.  Records that DST holds already
 * (the same JSON text) are skipped, so a copy can be repeated — after an
 * interrupted copy, or to load records that a run spilled to a file store
 * while Redis was away — without doubling anything.  SRC is only read; a
 * file store that does not exist is an error, not an empty store. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	struct stat st;
	if (must_exist && !strstr(url, "://")) {
		const char *dir = strncmp(url, "file:", 5) == 0 ? url + 5 : url;
		if (stat(dir, &st) < 0)
			return cdx_error_set(err, CDX_EUSAGE, "no state store at %s: %s", url,
					     strerror(errno));
	}
	return cdx_store_open(url, s, err);
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
		return err.code ? err.code : CDX_ESTATE;
	}
	if (c.dst->ops->scan(c.dst, remember, &c, &err) < 0 || src->ops->scan(src, copy_one, &c, &err) < 0) {
		cli_error("state copy: %s", err.msg);
		rc = err.code ? err.code : CDX_ESTATE;
	} else if (c.failed || c.dst->ops->flush(c.dst, &c.err) < 0) {
		cli_error("state copy: cannot write to %s: %s", c.dst->url, c.err.msg);
		rc = c.err.code ? c.err.code : CDX_ESTATE;
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

int cmd_state(struct cli *g, int argc, char **argv)
{
	struct cli_opts p;
	cli_opts_begin(&p, g, "state", argc, argv, "", NULL, SIZE_MAX);
	while (cli_opts_next(&p))
		;
	if (p.status)
		return p.status;
	if (p.n_pos < 1)
		return cli_usage_error("state", "missing subcommand (copy)");
	if (strcmp(argv[1], "copy") != 0)
		return cli_usage_error("state", "unknown subcommand '%s' (copy)", argv[1]);
	if (p.n_pos != 3)
		return cli_usage_error("state", "copy takes SRC and DST");
	if (strcmp(argv[2], argv[3]) == 0)
		return cli_usage_error("state", "SRC and DST are the same store");
	return state_copy(argv[2], argv[3]);
}
