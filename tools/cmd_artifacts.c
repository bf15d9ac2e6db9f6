/* cmd_artifacts.c — `cdx artifacts RUN [STAGE/JOB] [-o DIR] [--list]
 * [--json]`: the files jobs kept with a run (state/artifacts.h).  With a
 * job: unpack its artifacts into DIR (default: the current directory),
 * every path checked so that nothing lands outside DIR, or with --list
 * name what they hold.  Without a job: the run's jobs that kept artifacts.
 * Expired artifacts of a file store are pruned first. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/pack.h"
#include "base/text.h"
#include "cli.h"
#include "state/artifacts.h"
#include "state/store.h"

static const struct option longs[] = {
    CLI_OPTION_JSON, {"output", required_argument, NULL, 'o'}, {"list", no_argument, NULL, CLI_OPT_OWN}, {0}};

static int fail(const struct cdx_error *err)
{
	cli_error("artifacts: %s", err->msg);
	return err->code ? err->code : CDX_EFAILED;
}

static int add_info(void *ctx, const struct cdx_artifact_info *i)
{
	cJSON_AddItemToArray(ctx, cdx_artifact_info_json(i));
	return 0;
}

static int add_entry(void *ctx, const struct cdx_pack_entry *e, struct cdx_error *err)
{
	cJSON *o = cJSON_CreateObject();
	(void)err;
	cJSON_AddStringToObject(o, "path", e->path);
	cJSON_AddStringToObject(o, "type", e->type == 'd' ? "dir" : e->type == 'l' ? "symlink" : "file");
	if (e->type == 'f')
		cJSON_AddNumberToObject(o, "size", (double)e->size);
	if (e->type == 'l')
		cJSON_AddStringToObject(o, "target", e->target);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

static void print_when(int64_t ms, char *buf, size_t n)
{
	if (!ms)
		snprintf(buf, n, "never");
	else
		cli_when((double)ms, buf, n);
}

int cmd_artifacts(struct cli *g, int argc, char **argv)
{
	const char *run = NULL, *job = NULL, *out = ".", *url;
	bool json = false, list = false;
	struct cli_opts p;
	struct cdx_store *s = NULL;
	struct cdx_error err = {0};
	enum cdx_open_result opened;
	int rc = 0;
	cli_opts_begin(&p, g, "artifacts", argc, argv, "o:", longs, 2);
	while (cli_opts_next(&p)) {
		switch (p.opt) {
		case CLI_OPT_JSON:
			json = true;
			break;
		case 'o':
			out = p.arg;
			break;
		default:
			list = true;
			break;
		}
	}
	if (p.status)
		return p.status;
	if (p.n_pos < 1)
		return cli_usage_error("artifacts", "name a run id (see cdx runs)");
	run = argv[1];
	job = p.n_pos > 1 ? argv[2] : NULL;
	if (!cdx_name_valid(run))
		return cli_usage_error("artifacts", "invalid run id '%s'", run);
	url = cli_state(g);
	if (!url)
		return CDX_EUSAGE;
	/* writable, to prune what expired; else read-only (a reader may lack
	 * write access to a file store) */
	opened = cdx_store_open_existing(url, &s, &err);
	if (opened == CDX_OPEN_ERROR && strncmp(url, "redis://", 8) != 0) {
		memset(&err, 0, sizeof(err));
		opened = cdx_store_open_read(url, &s, &err);
	}
	switch (opened) {
	case CDX_OPEN_NONE:
		cli_error("artifacts: no state at %s: nothing was recorded there", url);
		return CDX_EFAILED;
	case CDX_OPEN_ERROR:
		return fail(&err);
	default:
		break;
	}
	{
		struct cdx_error e2 = {0};
		cdx_artifacts_prune(s, cdx_wall_ms(), NULL,
				    &e2); /* best effort: a reader may lack write access */
	}
	if (!job) {
		cJSON *arr = cJSON_CreateArray(), *it;
		if (cdx_artifacts_list(s, run, add_info, arr, &err) < 0) {
			rc = fail(&err);
		} else if (json) {
			cli_print_json(arr);
		} else if (!cJSON_GetArraySize(arr)) {
			cli_error("artifacts: run %s has no artifacts", run);
			rc = CDX_EFAILED;
		} else {
			cJSON_ArrayForEach(it, arr)
			{
				char w[32];
				print_when((int64_t)cdx_jn(it, "expire_at_ms"), w, sizeof(w));
				cdx_text_printf(stdout,
						"%s  attempt %.0f, %.0f file%s, %.0f bytes, expires %s\n",
						cdx_js(it, "job"), cdx_jn(it, "attempt"), cdx_jn(it, "files"),
						cdx_jn(it, "files") == 1 ? "" : "s", cdx_jn(it, "bytes"), w);
			}
		}
		cJSON_Delete(arr);
		cdx_store_close(s);
		return rc;
	}
	if (list) {
		void *data = NULL;
		size_t len;
		struct cdx_artifact_info info;
		cJSON *arr = cJSON_CreateArray(), *it;
		if (cdx_artifacts_fetch(s, run, job, 0, &data, &len, &info, &err) < 0 ||
		    cdx_pack_read(data, len, NULL, add_entry, arr, NULL, &err) < 0) {
			rc = fail(&err);
		} else if (json) {
			cJSON *o = cdx_artifact_info_json(&info);
			cJSON_AddItemToObject(o, "contents", arr);
			arr = NULL;
			cli_print_json(o);
			cJSON_Delete(o);
		} else {
			cJSON_ArrayForEach(it, arr)
			{
				const char *t = cdx_js(it, "type");
				if (strcmp(t, "file") == 0)
					cdx_text_printf(stdout, "%12.0f  %s\n", cdx_jn(it, "size"),
							cdx_js(it, "path"));
				else if (strcmp(t, "symlink") == 0)
					cdx_text_printf(stdout, "%12s  %s -> %s\n", "link",
							cdx_js(it, "path"), cdx_js(it, "target"));
				else
					cdx_text_printf(stdout, "%12s  %s/\n", "dir", cdx_js(it, "path"));
			}
		}
		free(data);
		cJSON_Delete(arr);
		cdx_store_close(s);
		return rc;
	}
	{
		void *data;
		size_t len;
		struct cdx_artifact_info info;
		struct cdx_pack_stats st;
		if (cdx_artifacts_fetch(s, run, job, 0, &data, &len, &info, &err) < 0) {
			rc = fail(&err);
		} else {
			if (cdx_unpack(data, len, out, NULL, &st, &err) < 0) {
				rc = fail(&err);
			} else if (json) {
				cJSON *o = cdx_artifact_info_json(&info);
				cJSON_AddStringToObject(o, "dir", out);
				cli_print_json(o);
				cJSON_Delete(o);
			} else {
				cdx_text_printf(stdout, "%s: %zu file%s (%llu bytes) into %s\n", job,
						st.files, st.files == 1 ? "" : "s",
						(unsigned long long)st.bytes, out);
			}
			free(data);
		}
	}
	cdx_store_close(s);
	return rc;
}
