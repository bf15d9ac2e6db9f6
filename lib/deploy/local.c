/* local.c — the built-in `local` hook set (local.h): releases/VERSION,
 * slot and instance links, an atomically switched `current`, and pruning
 * old releases in record order.  Paths reach the shell commands as variables, never inside
 * the command text. */
#include "deploy/local.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/record.h"
#include "state/store.h"

char *cdx_local_release_dir(const struct cdx_env *e, const char *version)
{
	return cdx_xasprintf("%s/releases/%s", e->deploy_to, version);
}

/* LINK -> TARGET, replaced atomically (a new link renamed over the old) */
static int swap_link(const char *target, const char *link, struct cdx_error *err)
{
	char *tmp = cdx_xasprintf("%s.new.%d", link, (int)getpid());
	int rc = 0;
	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
		rc = cdx_error_set(err, CDX_EFAILED, "cannot point %s at %s: %s", link, target, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

void cdx_local_current(const struct cdx_env *e, const char *version)
{
	struct cdx_error err = {0};
	char *link, *rel;
	if (e->n_hosts) /* the SSH hook set switches `current` on every host */
		return;
	link = cdx_xasprintf("%s/current", e->deploy_to);
	if (!version) {
		unlink(link);
		free(link);
		return;
	}
	rel = cdx_xasprintf("releases/%s", version);
	swap_link(rel, link, &err);
	free(rel);
	free(link);
}

int cdx_local_target_link(const struct cdx_env *e, int t, const char *version, struct cdx_error *err)
{
	char *link = cdx_xasprintf("%s/%s", e->deploy_to, e->instances ? "instances" : "slots");
	char *name = cdx_xasprintf("%s/%s", link, e->targets[t].name);
	char *to = cdx_xasprintf("../releases/%s", version);
	int rc = 0;
	if (cdx_mkdirs(link) == 0)
		rc = swap_link(to, name, err);
	free(link);
	free(name);
	free(to);
	return rc;
}

/* ---- releases ---------------------------------------------------------------- */

/* the artifact of E for VERSION (SRC, expanded) copied into TMP, then
 * renamed to DST: a directory's content, or a file, into releases/VERSION/ */
static int copy_artifact(const struct cdx_env *e, const char *dir, const char *version, const struct cdx_envv *env,
			 const char *tmp, const char *dst, struct cdx_error *err)
{
	struct cdx_envv ce = {0};
	struct stat st;
	char *src = cdx_expand(e->artifact, env);
	int status = 0, rc = 0;
	cdx_envv_from_environ(&ce);
	/* paths travel as variables, never inside the command text */
	cdx_envv_set(&ce, "CDX_SRC", src);
	cdx_envv_set(&ce, "CDX_TMP", tmp);
	cdx_envv_set(&ce, "CDX_DST", dst);
	if (stat(src, &st) < 0) {
		char *abs = cdx_xasprintf("%s/%s", dir, src);
		bool there = stat(abs, &st) == 0;
		free(abs);
		if (!there) {
			rc = cdx_error_set(err, CDX_EFAILED, "artifact %s of version %s does not exist", src, version);
			goto out;
		}
	}
	if (cdx_hook_run("rm -rf \"$CDX_TMP\" && mkdir -p \"$CDX_TMP\" && if [ -d \"$CDX_SRC\" ]; then cp -R -- "
			 "\"$CDX_SRC/.\" \"$CDX_TMP/\"; else cp -- \"$CDX_SRC\" \"$CDX_TMP/\"; fi && mv -- "
			 "\"$CDX_TMP\" \"$CDX_DST\"",
			 ce.v, dir, 0, NULL, NULL, 0, &status, err) < 0 ||
	    status != 0) {
		if (status)
			rc = cdx_error_set(err, CDX_EFAILED, "cannot copy artifact %s into %s (status %d)", src, dst,
					   status);
		else
			rc = -1;
	}
out:
	free(src);
	cdx_envv_free(&ce);
	return rc;
}

/* a release without an artifact: TMP/VERSION written, TMP renamed to DST */
static int bare_release(const char *version, const char *tmp, const char *dst, struct cdx_error *err)
{
	char *vf = cdx_xasprintf("%s/VERSION", tmp);
	FILE *f;
	int rc = 0;
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
		rc = cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", tmp, strerror(errno));
	} else if (!(f = fopen(vf, "w")) || fprintf(f, "%s\n", version) < 0 || fclose(f) != 0) {
		rc = cdx_error_set(err, CDX_EFAILED, "cannot write %s", vf);
	} else if (rename(tmp, dst) < 0) {
		rc = cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", dst, strerror(errno));
	}
	free(vf);
	return rc;
}

int cdx_local_release(const struct cdx_env *e, const char *dir, const char *version, const struct cdx_envv *env,
		      struct cdx_error *err)
{
	char *dst = cdx_local_release_dir(e, version), *parent = cdx_xasprintf("%s/releases", e->deploy_to);
	char *tmp = cdx_xasprintf("%s.tmp.%d", dst, (int)getpid());
	struct stat st;
	int rc = 0;
	if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode))
		goto out; /* already there: a redeploy or a rollback */
	if (cdx_mkdirs(parent) < 0) {
		rc = cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", parent, strerror(errno));
		goto out;
	}
	if (e->artifact)
		rc = copy_artifact(e, dir, version, env, tmp, dst, err);
	else
		rc = bare_release(version, tmp, dst, err);
out:
	free(dst);
	free(parent);
	free(tmp);
	return rc;
}

bool cdx_local_release_present(const struct cdx_env *e, const char *dir, const char *version)
{
	struct stat st;
	char *rel;
	bool ok;
	if (e->n_hosts) /* on the hosts: the records say which releases are good there */
		return true;
	rel = cdx_local_release_dir(e, version);
	ok = stat(rel, &st) == 0 && S_ISDIR(st.st_mode);
	free(rel);
	if (!ok && e->artifact) {
		struct cdx_envv ce = {0};
		char *src, *abs;
		cdx_envv_set(&ce, "CDX_VERSION", version);
		src = cdx_expand(e->artifact, &ce);
		abs = src[0] == '/' ? cdx_xstrdup(src) : cdx_xasprintf("%s/%s", dir, src);
		ok = stat(abs, &st) == 0;
		free(src);
		free(abs);
		cdx_envv_free(&ce);
	}
	if (!ok && !e->artifact) /* the local hook set recreates a bare release */
		ok = true;
	return ok;
}

/* ---- pruning ------------------------------------------------------------------- */

/* the release directories under PARENT (no temporary ones); caller frees */
static char **release_dirs(const char *parent, size_t *n)
{
	DIR *dir = opendir(parent);
	struct dirent *de;
	char **names = NULL;
	size_t cap = 0;
	*n = 0;
	if (!dir)
		return NULL;
	while ((de = readdir(dir))) {
		struct stat st;
		char *p;
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp."))
			continue;
		p = cdx_xasprintf("%s/%s", parent, de->d_name);
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			CDX_PUSH(names, *n, cap, cdx_xstrdup(de->d_name));
		free(p);
	}
	closedir(dir);
	return names;
}

void cdx_local_prune(const struct cdx_env *e, const struct cdx_serving *sv, const char *previous,
		     const cJSON *outcomes)
{
	char *parent;
	size_t n, i;
	char **names;
	const char **gone;
	if (e->n_hosts) /* pruned on the hosts (ssh.c) */
		return;
	parent = cdx_xasprintf("%s/releases", e->deploy_to);
	names = release_dirs(parent, &n);
	gone = cdx_release_prune_pick(names, n, sv, previous, outcomes, e->keep_releases);
	for (i = 0; gone[i]; i++) {
		struct cdx_error err = {0};
		int status;
		struct cdx_envv ce;
		char *p = cdx_xasprintf("%s/%s", parent, gone[i]);
		cdx_envv_from_environ(&ce);
		cdx_envv_set(&ce, "CDX_OLD", p);
		cdx_hook_run("rm -rf -- \"$CDX_OLD\"", ce.v, NULL, 0, NULL, NULL, 0, &status, &err);
		cdx_envv_free(&ce);
		free(p);
	}
	free(gone);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(parent);
}
