/* gitinfo.c — branch and commit from a checkout's files (gitinfo.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "exec/gitinfo.h"

/* the first line of PATH (at most 4 KiB), without its newline, or NULL */
static char *first_line(const char *path)
{
	char *s = NULL;
	size_t len;
	struct cdx_error err = {0};
	if (cdx_read_file(path, 4096, &s, &len, &err) < 0)
		return NULL;
	s[strcspn(s, "\r\n")] = 0;
	return s;
}

static int is_hex_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return (n == 40 || n == 64) && s[n] == 0;
}

/* a branch name as git allows it, roughly: printable, no "..", no
 * control characters, no space, ~ ^ : ? * [ \ */
static int ref_ok(const char *s)
{
	size_t i;
	if (!*s || strlen(s) >= 256 || strstr(s, "..") || s[0] == '/' || s[0] == '-')
		return 0;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || strchr("~^:?*[\\", s[i]))
			return 0;
	return 1;
}

/* the commit REF ("refs/heads/x") names in GITDIR or COMMON, into OUT */
static void resolve(const char *gitdir, const char *common, const char *ref, char *out, size_t size)
{
	const char *dirs[2] = {gitdir, common};
	size_t k;
	for (k = 0; k < 2; k++) {
		char *path = cdx_xasprintf("%s/%s", dirs[k], ref), *s = first_line(path);
		free(path);
		if (s && is_hex_id(s)) {
			snprintf(out, size, "%s", s);
			free(s);
			return;
		}
		free(s);
	}
	{
		char *path = cdx_xasprintf("%s/packed-refs", common), *buf = NULL, *line, *next;
		size_t len, rl = strlen(ref);
		struct cdx_error err = {0};
		int rc = cdx_read_file(path, 64u << 20, &buf, &len, &err);
		free(path);
		if (rc < 0)
			return;
		for (line = buf; line && *line; line = next) {
			char *sp;
			next = strchr(line, '\n');
			if (next)
				*next++ = 0;
			sp = strchr(line, ' ');
			if (!sp || strncmp(sp + 1, ref, rl) != 0 || (sp[1 + rl] && sp[1 + rl] != '\r'))
				continue;
			*sp = 0;
			if (is_hex_id(line))
				snprintf(out, size, "%s", line);
			break;
		}
		free(buf);
	}
}

int cdx_gitinfo_read(const char *dir, struct cdx_gitinfo *g)
{
	char cur[PATH_MAX], *gitdir = NULL, *common = NULL, *head, *s;
	struct stat st;
	g->branch[0] = g->commit[0] = 0;
	if (!realpath(dir ? dir : ".", cur))
		return -1;
	for (;;) { /* DIR, then its parents, for .git */
		char *dotgit = cdx_xasprintf("%s/.git", strcmp(cur, "/") ? cur : "");
		if (stat(dotgit, &st) == 0 && S_ISDIR(st.st_mode)) {
			gitdir = dotgit;
			break;
		}
		if (stat(dotgit, &st) == 0 && S_ISREG(st.st_mode)) {
			/* a worktree or submodule: "gitdir: PATH" */
			s = first_line(dotgit);
			free(dotgit);
			if (!s || strncmp(s, "gitdir: ", 8) != 0) {
				free(s);
				return -1;
			}
			gitdir = s[8] == '/' ? cdx_xstrdup(s + 8) : cdx_xasprintf("%s/%s", cur, s + 8);
			free(s);
			break;
		}
		free(dotgit);
		if (strcmp(cur, "/") == 0)
			return -1;
		s = strrchr(cur, '/');
		if (s == cur)
			cur[1] = 0;
		else
			*s = 0;
	}
	/* a worktree's refs live in the common directory it names */
	{
		char *cpath = cdx_xasprintf("%s/commondir", gitdir);
		s = first_line(cpath);
		free(cpath);
		if (s && *s)
			common = s[0] == '/' ? cdx_xstrdup(s) : cdx_xasprintf("%s/%s", gitdir, s);
		else
			common = cdx_xstrdup(gitdir);
		free(s);
	}
	s = cdx_xasprintf("%s/HEAD", gitdir);
	head = first_line(s);
	free(s);
	if (head && strncmp(head, "ref: ", 5) == 0) {
		const char *ref = head + 5;
		if (strncmp(ref, "refs/heads/", 11) == 0 && ref_ok(ref + 11) && ref_ok(ref)) {
			snprintf(g->branch, sizeof(g->branch), "%s", ref + 11);
			resolve(gitdir, common, ref, g->commit, sizeof(g->commit));
		}
	} else if (head && is_hex_id(head)) {
		snprintf(g->commit, sizeof(g->commit), "%s", head);
	}
	free(head);
	free(gitdir);
	free(common);
	return 0;
}
