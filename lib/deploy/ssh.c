/* ssh.c — the built-in SSH hook set (ssh.h): releases uploaded and checked
 * on every host, shared paths, atomically switched links, the user's hooks
 * run remotely, and pruning in record order.  Each remote command is one
 * of the constant scripts below, run as `sh -c SCRIPT cdx ARG...` with
 * every word quoted by cdx_shq: no value ever becomes shell syntax. */
#include "deploy/ssh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deploy/record.h"

struct cdx_ssh {
	const struct cdx_env *e;
	struct cdx_ssh_run base;
	FILE *dry;
	char *dir;                  /* private: control sockets, the tar */
	struct cdx_ssh_conn *conns; /* per host */
	char **owners;              /* per host: who answers for its ssh processes */
	char *tar_version;          /* the version whose tar is in dir/artifact.tar */
	char *tar;                  /* its bytes */
	size_t tar_len;
	char sum[65];               /* its sha256, hex */
};

/* $1 path, $2 version, $3 sha256 or "-" (no artifact: a VERSION file),
 * then the shared paths; the tar on stdin */
static const char release_sh[] =
	"set -e\n"
	"mkdir -p \"$1\"; cd \"$1\"; v=$2; sum=$3; shift 3\n"
	"mkdir -p releases shared\n"
	"if [ -d \"releases/$v\" ]; then exit 0; fi\n"
	"t=\"releases/.tmp.$v.$$\"\n"
	"rm -rf \"$t\" \"$t.tar\"; mkdir \"$t\"\n"
	"if [ \"$sum\" = - ]; then printf '%s\\n' \"$v\" >\"$t/VERSION\"; else\n"
	"  cat >\"$t.tar\"\n"
	"  if ! printf '%s  %s\\n' \"$sum\" \"$t.tar\" | sha256sum -c --status; then\n"
	"    rm -rf \"$t\" \"$t.tar\"; echo \"cdx: the upload of $v does not match its sha256 $sum\" >&2; exit 3\n"
	"  fi\n"
	"  tar -C \"$t\" -xf \"$t.tar\"; rm -f \"$t.tar\"\n"
	"fi\n"
	"for s in \"$@\"; do\n"
	"  d=${s%/}\n"
	"  if [ \"$d\" != \"$s\" ]; then mkdir -p \"shared/$d\"\n"
	"  else mkdir -p \"$(dirname \"shared/$d\")\"; [ -e \"shared/$d\" ] || : >\"shared/$d\"; fi\n"
	"  mkdir -p \"$(dirname \"$t/$d\")\"; rm -rf \"$t/$d\"; ln -s \"$PWD/shared/$d\" \"$t/$d\"\n"
	"done\n"
	"mv -T \"$t\" \"releases/$v\"\n";

/* $1 path, $2 link, $3 version ("" removes the link) */
static const char link_sh[] = "set -e\n"
			      "l=$2\n"
			      "if [ -z \"$3\" ]; then rm -f \"$1/$l\"; exit 0; fi\n"
			      "cd \"$1\"\n"
			      "case $l in */*) to=\"../releases/$3\"; mkdir -p \"${l%/*}\" ;; *) to=\"releases/$3\" ;; esac\n"
			      "[ -d \"releases/$3\" ] || { echo \"cdx: releases/$3 is missing\" >&2; exit 3; }\n"
			      "rm -f \"$l.new.$$\"; ln -s \"$to\" \"$l.new.$$\"; mv -T \"$l.new.$$\" \"$l\"\n";

/* $1 path, then NAME=VALUE..., then the command (sh -c CMD) */
static const char hook_sh[] = "mkdir -p \"$1\" && cd \"$1\" && shift && exec env \"$@\"";

/* $1 path, then the releases to remove */
static const char prune_sh[] = "cd \"$1/releases\" && shift && for r in \"$@\"; do rm -rf -- \"./$r\"; done";

/* the private directory of deployment ID's connections:
 * /tmp/cdx-ssh-UID/ID, both 0700 and ours (never a link).  The same for a
 * recovery of ID, which so reaches (and at its end closes) the master
 * connections a killed cdx left behind.  Caller frees; NULL with ERR. */
static char *control_dir(const char *id, struct cdx_error *err)
{
	char *top = cdx_xasprintf("/tmp/cdx-ssh-%u", (unsigned)getuid()), *dir;
	struct stat st;
	if (mkdir(top, 0700) < 0 && errno != EEXIST) {
		cdx_error_set(err, CDX_EFAILED, "cannot create %s: %s", top, strerror(errno));
		free(top);
		return NULL;
	}
	if (lstat(top, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
		cdx_error_set(err, CDX_EFAILED, "%s is not a private directory of ours (mode 0700): refused for SSH "
						"control sockets", top);
		free(top);
		return NULL;
	}
	dir = cdx_xasprintf("%s/%.60s", top, id);
	free(top);
	if (strchr(dir + strlen("/tmp/cdx-ssh-"), '/') != strrchr(dir, '/') || strstr(dir, "/..") ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST) || lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != getuid()) {
		cdx_error_set(err, CDX_EFAILED, "cannot create the private directory %s for SSH connections", dir);
		free(dir);
		return NULL;
	}
	return dir;
}

struct cdx_ssh *cdx_ssh_open(const struct cdx_env *e, const struct cdx_ssh_run *base, FILE *dry,
			     struct cdx_error *err)
{
	struct cdx_ssh *s;
	char *dir;
	size_t i;
	if (e->ssh_config && access(e->ssh_config, R_OK) < 0) {
		cdx_error_set(err, CDX_EUSAGE, "ssh_config %s of %s/%s cannot be read: %s", e->ssh_config,
			      e->app->name, e->name, strerror(errno));
		return NULL;
	}
	if (!(dir = control_dir(base->owner ? base->owner : "cdx", err)))
		return NULL;
	s = cdx_xcalloc(1, sizeof(*s));
	s->e = e;
	s->base = *base;
	s->base.input = NULL;
	s->base.out = NULL;
	s->dry = dry;
	s->dir = dir;
	s->conns = cdx_xcalloc(e->n_hosts ? e->n_hosts : 1, sizeof(*s->conns));
	s->owners = cdx_xcalloc(e->n_hosts ? e->n_hosts : 1, sizeof(char *));
	for (i = 0; i < e->n_hosts; i++) {
		cdx_ssh_conn_init(&s->conns[i], &e->hosts[i], i, e->ssh_config, s->dir);
		/* hosts that are instances: "ID/HOST", as a local hook on an
		 * instance, so that recovery stops a host whose commands (or
		 * master connection) a killed cdx left running (recover.c) */
		if (base->owner)
			s->owners[i] = cdx_env_hosts_are_targets(e) ? cdx_xasprintf("%s/%s", base->owner, e->hosts[i].name)
								    : cdx_xstrdup(base->owner);
	}
	return s;
}

void cdx_ssh_close(struct cdx_ssh *s)
{
	size_t i;
	char *tar;
	if (!s)
		return;
	for (i = 0; i < s->e->n_hosts; i++) {
		cdx_ssh_conn_close(&s->conns[i]);
		free(s->owners[i]);
	}
	free(s->owners);
	tar = cdx_xasprintf("%s/artifact.tar", s->dir);
	unlink(tar);
	free(tar);
	rmdir(s->dir);
	free(s->dir);
	free(s->conns);
	free(s->tar_version);
	free(s->tar);
	free(s);
}

bool cdx_ssh_down(const struct cdx_ssh *s, size_t i)
{
	return s->conns[i].down;
}

bool cdx_ssh_untouched(const struct cdx_ssh *s, size_t i)
{
	return s->conns[i].down && !s->conns[i].reached;
}

/* run WORDS on host I as R (NULL: the base) says: the remote exit status,
 * or -1 with ERR; printed instead with a dry-run stream (status DRY) */
static int run(struct cdx_ssh *s, size_t i, char *const *words, const struct cdx_ssh_run *r, int dry,
	       struct cdx_error *err)
{
	if (s->dry) {
		char *q = cdx_shq_words(words);
		fprintf(s->dry, "%s: %s\n", s->e->hosts[i].name, q);
		free(q);
		return dry;
	}
	struct cdx_ssh_run own = r ? *r : s->base;
	own.owner = s->owners[i];
	return cdx_ssh_conn_run(&s->conns[i], words, &own, err);
}

/* the tar of VERSION's artifact and its sha256, made once per deployment */
static int pack(struct cdx_ssh *s, const char *dir, const char *version, const struct cdx_envv *env,
		struct cdx_error *err)
{
	const struct cdx_env *e = s->e;
	struct cdx_envv ce = {0};
	struct stat st;
	char *src, *tar, *out = NULL;
	int status = 0, rc = 0;
	if (s->tar_version && strcmp(s->tar_version, version) == 0)
		return 0;
	free(s->tar_version);
	free(s->tar);
	s->tar_version = NULL;
	s->tar = NULL;
	src = cdx_expand(e->artifact, env);
	tar = cdx_xasprintf("%s/artifact.tar", s->dir);
	if (stat(src, &st) < 0) {
		char *abs = cdx_xasprintf("%s/%s", dir, src);
		bool there = stat(abs, &st) == 0;
		free(abs);
		if (!there) {
			rc = cdx_error_set(err, CDX_EFAILED, "artifact %s of version %s does not exist", src, version);
			goto out;
		}
	}
	cdx_envv_from_environ(&ce);
	/* paths travel as variables, never inside the command text */
	cdx_envv_set(&ce, "CDX_SRC", src);
	cdx_envv_set(&ce, "CDX_TAR", tar);
	if (cdx_hook_run("set -e; if [ -d \"$CDX_SRC\" ]; then tar -C \"$CDX_SRC\" -cf \"$CDX_TAR\" .; else "
			 "tar -C \"$(dirname -- \"$CDX_SRC\")\" -cf \"$CDX_TAR\" \"$(basename -- \"$CDX_SRC\")\"; fi; "
			 "sha256sum <\"$CDX_TAR\"",
			 ce.v, dir, 0, NULL, &out, 4096, &status, err) < 0) {
		rc = -1;
	} else if (status != 0 || strlen(out) < 64) {
		rc = cdx_error_set(err, CDX_EFAILED, "cannot pack artifact %s of version %s (status %d)", src, version,
				   status);
	} else if (cdx_read_file(tar, (size_t)4 << 30, &s->tar, &s->tar_len, err) == 0) {
		memcpy(s->sum, out, 64);
		s->sum[64] = '\0';
		s->tar_version = cdx_xstrdup(version);
	} else {
		rc = -1;
	}
	unlink(tar);
	cdx_envv_free(&ce);
out:
	free(out);
	free(src);
	free(tar);
	return rc;
}

int cdx_ssh_release(struct cdx_ssh *s, size_t i, const char *dir, const char *version, const struct cdx_envv *env,
		    struct cdx_error *err)
{
	const struct cdx_env *e = s->e;
	const struct cdx_host *h = &e->hosts[i];
	char *rel = cdx_xasprintf("%s/releases/%s", h->path, version);
	char *test[] = {"test", "-d", rel, NULL};
	char **words;
	struct cdx_ssh_run r = s->base;
	size_t n = 0, k;
	int st;
	/* uploaded once per host: a release there is kept */
	st = run(s, i, test, NULL, 1, err);
	free(rel);
	if (st < 0)
		return -1;
	if (st == 0)
		return 0;
	if (e->artifact && !s->dry && pack(s, dir, version, env, err) < 0)
		return -1;
	words = cdx_xcalloc(e->n_shared + 8, sizeof(char *));
	words[n++] = "sh";
	words[n++] = "-c";
	words[n++] = (char *)release_sh;
	words[n++] = "cdx";
	words[n++] = h->path;
	words[n++] = (char *)version;
	words[n++] = e->artifact ? (s->dry ? "SHA256" : s->sum) : "-";
	for (k = 0; k < e->n_shared; k++)
		words[n++] = e->shared[k];
	if (e->artifact && !s->dry) {
		r.input = s->tar;
		r.input_len = s->tar_len;
	}
	st = run(s, i, words, &r, 0, err);
	free(words);
	if (st < 0)
		return -1;
	if (st != 0)
		return cdx_error_set(err, CDX_EFAILED, "cannot make releases/%s on host %s (status %d)", version,
				     h->name, st);
	return 0;
}

int cdx_ssh_link(struct cdx_ssh *s, size_t i, const char *link, const char *version, struct cdx_error *err)
{
	const struct cdx_host *h = &s->e->hosts[i];
	char *words[] = {"sh", "-c", (char *)link_sh, "cdx", h->path, (char *)link, (char *)(version ? version : ""),
			 NULL};
	int st = run(s, i, words, NULL, 0, err);
	if (st < 0)
		return -1;
	if (st != 0)
		return cdx_error_set(err, CDX_EFAILED, "cannot point %s on host %s at %s (status %d)", link, h->name,
				     version ? version : "nothing", st);
	return 0;
}

int cdx_ssh_hook(struct cdx_ssh *s, size_t i, const char *cmd, char *const *vars, int64_t timeout_ms,
		 int *status, struct cdx_error *err)
{
	const struct cdx_host *h = &s->e->hosts[i];
	struct cdx_ssh_run r = s->base;
	size_t n = 0, k, nv = 0;
	char **words;
	int st;
	while (vars[nv])
		nv++;
	words = cdx_xcalloc(nv + 10, sizeof(char *));
	words[n++] = "sh";
	words[n++] = "-c";
	words[n++] = (char *)hook_sh;
	words[n++] = "cdx";
	words[n++] = h->path;
	for (k = 0; k < nv; k++)
		words[n++] = vars[k];
	words[n++] = "sh";
	words[n++] = "-c";
	words[n++] = (char *)cmd;
	r.timeout_ms = timeout_ms;
	r.echo = true;
	st = run(s, i, words, &r, 0, err);
	free(words);
	if (st < 0)
		return -1;
	*status = st;
	return 0;
}

/* the release directories listed in OUT (ls -1 of releases/), checked names only */
static char **parse_list(char *out, size_t *n)
{
	char **names = NULL, *line, *save = NULL;
	size_t cap = 0;
	*n = 0;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (cdx_version_valid(line))
			CDX_PUSH(names, *n, cap, cdx_xstrdup(line));
	return names;
}

void cdx_ssh_prune(struct cdx_ssh *s, const bool *only, const struct cdx_serving *sv, const char *previous,
		   const cJSON *outcomes)
{
	size_t i, k, n, m;
	if (s->dry)
		return;
	for (i = 0; i < s->e->n_hosts; i++) {
		const struct cdx_host *h = &s->e->hosts[i];
		struct cdx_error err = {0};
		struct cdx_ssh_run r = s->base;
		char *rel = cdx_xasprintf("%s/releases", h->path), *out = NULL;
		char *ls[] = {"ls", "-1", "--", rel, NULL};
		char **names, **words;
		const char **gone;
		if (s->conns[i].down || (only && !only[i])) { /* left out of this deployment */
			free(rel);
			continue;
		}
		r.out = &out;
		r.owner = s->owners[i];
		if (cdx_ssh_conn_run(&s->conns[i], ls, &r, &err) != 0) {
			free(out);
			free(rel);
			continue;
		}
		names = parse_list(out, &n);
		gone = cdx_release_prune_pick(names, n, sv, previous, outcomes, s->e->keep_releases);
		for (m = 0; gone[m]; m++)
			;
		if (m) {
			int st;
			words = cdx_xcalloc(m + 6, sizeof(char *));
			words[0] = "sh";
			words[1] = "-c";
			words[2] = (char *)prune_sh;
			words[3] = "cdx";
			words[4] = h->path;
			for (k = 0; k < m; k++)
				words[5 + k] = (char *)gone[k];
			r.out = NULL;
			st = cdx_ssh_conn_run(&s->conns[i], words, &r, &err);
			(void)st;
			free(words);
		}
		free(gone);
		for (k = 0; k < n; k++)
			free(names[k]);
		free(names);
		free(out);
		free(rel);
	}
}

void cdx_ssh_prefetch(struct cdx_ssh *s, const bool *which, const char *dir, const char *version,
		      const struct cdx_envv *env)
{
	struct cdx_error err = {0};
	pid_t *pids;
	size_t i, running = 0, n = s->e->n_hosts;
	if (s->dry || n < 2)
		return;
	/* packed once, before the children share it */
	if (s->e->artifact && pack(s, dir, version, env, &err) < 0)
		return;
	pids = cdx_xcalloc(n, sizeof(pid_t));
	for (i = 0; i <= n; i++) {
		/* at most CDX_SSH_PARALLEL at once: wait for one before the next */
		while (running && (running >= CDX_SSH_PARALLEL || i == n)) {
			size_t k;
			int st;
			for (k = 0; k < n; k++)
				if (pids[k] > 0 && waitpid(pids[k], &st, WNOHANG) == pids[k]) {
					pids[k] = 0;
					running--;
				}
			if (running >= CDX_SSH_PARALLEL || (i == n && running)) {
				struct timespec ts = {0, 20 * 1000000L};
				if (s->base.tick)
					s->base.tick(s->base.tick_ctx);
				nanosleep(&ts, NULL);
			}
		}
		if (i == n)
			break;
		if (!which[i] || s->conns[i].down)
			continue;
		pids[i] = fork();
		if (pids[i] == 0) {
			/* the child's master connection outlives it: the parent's
			 * commands ride on it, and the parent closes it.  The
			 * parent alone renews the lock: the store's connection is
			 * not the child's to use. */
			s->base.tick = NULL;
			_exit(cdx_ssh_release(s, i, dir, version, env, &err) == 0 ? 0 : 1);
		}
		if (pids[i] > 0) {
			s->conns[i].opened = true;
			running++;
		} else {
			pids[i] = 0;
		}
	}
	free(pids);
}
