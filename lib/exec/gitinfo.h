/* gitinfo.h — the branch and commit of the git checkout a workspace is in,
 * for CDX_BRANCH and CDX_COMMIT (rules and the jobs' environment).  Read
 * from the repository's files (HEAD, refs, packed-refs; worktrees and
 * `.git` files followed), never by running anything: no process start,
 * no shell, and the values are checked (a branch is a ref name, a commit
 * 40 or 64 hex digits) before anyone sees them. */
#ifndef CDX_GITINFO_H
#define CDX_GITINFO_H

struct cdx_gitinfo {
	char branch[256]; /* "" when detached or not a checkout */
	char commit[65];  /* "" when unknown (an unborn branch, not a checkout) */
};

/* cdx_gitinfo_read: DIR's checkout (DIR or a directory above it holding
 * .git) into G; 0, or -1 when DIR is in no checkout (G empty) */
int cdx_gitinfo_read(const char *dir, struct cdx_gitinfo *g);

#endif /* CDX_GITINFO_H */
