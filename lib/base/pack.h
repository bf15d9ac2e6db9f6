/* pack.h — one archive of the files of a directory that globs select, and
 * its checked unpacking (lib/base/pack.c).  What artifacts are made of: a
 * job's declared files packed after it ran, unpacked by `cdx artifacts`
 * or into the workspace of a job that needs them.
 *
 * The format (all integers big-endian):
 *
 *   "CDXPACK1"                                   8 bytes
 *   per entry: type u8 ('d' directory, 'f' regular file, 'l' symlink),
 *              mode u32 (permission bits only, & 0777),
 *              path length u16, data length u64,
 *              path (relative, '/'-separated, no NUL),
 *              data (a file's bytes; a symlink's target; none for 'd')
 *   trailer:   'E' u8, entries u64, data bytes u64,
 *              CRC-32 u32 of every byte before it
 *
 * Readers trust nothing: the whole archive is checked (framing, limits,
 * paths, symlink targets, the count and the CRC) before the first byte is
 * written, and writing goes through directory descriptors opened with
 * O_NOFOLLOW from the destination down, so nothing lands outside it.  A
 * path is a sequence of components, none empty, ".", ".." or with a NUL;
 * a symlink's target is relative, made of some leading ".." (at most as
 * many as the link is deep) followed by plain components: whatever chain of
 * such links the kernel follows stays inside the destination. */
#ifndef CDX_PACK_H
#define CDX_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define CDX_PACK_MAGIC "CDXPACK1"
#define CDX_PACK_PATH_MAX 4096
#define CDX_PACK_DEPTH_MAX 64
#define CDX_PACK_GLOB_MAX 512 /* bytes of one glob */

/* limits of packing and unpacking; a zero field takes the default */
struct cdx_pack_limits {
	size_t max_entries; /* files, directories and links; default 100000 */
	uint64_t max_bytes; /* file data in all; default 1 GiB */
};

/* what was packed or unpacked */
struct cdx_pack_stats {
	size_t entries; /* all entries */
	size_t files;   /* regular files */
	uint64_t bytes; /* their data */
};

/* an entry as a reader sees it (borrowed, valid during the callback) */
struct cdx_pack_entry {
	char type;          /* 'd', 'f' or 'l' */
	unsigned mode;      /* & 0777 */
	const char *path;   /* NUL-terminated */
	const char *target; /* a symlink's target (NUL-terminated), else NULL */
	const void *data;   /* a file's bytes, else NULL */
	uint64_t size;      /* data length */
};

/* the sink of cdx_pack: 0, or -1 with ERR set (packing stops) */
typedef int (*cdx_pack_write_fn)(void *ctx, const void *p, size_t n, struct cdx_error *err);
/* a reader's callback: 0 goes on, -1 (with ERR set) stops */
typedef int (*cdx_pack_entry_fn)(void *ctx, const struct cdx_pack_entry *e, struct cdx_error *err);

/* cdx_glob_check: GLOB is usable: non-empty, at most CDX_PACK_GLOB_MAX
 * bytes, relative, no ".." component.  -1 with ERR (CDX_EUSAGE) saying
 * why. */
int cdx_glob_check(const char *glob, struct cdx_error *err);

/* cdx_glob_match: whether relative PATH matches GLOB: components are
 * matched by fnmatch(3) (no special dot rule), "**" as a whole component
 * matches zero or more components.  With PREFIX, whether PATH could be a
 * directory on the way to a match (used to prune a walk).  Bounded:
 * O(components of GLOB x components of PATH) fnmatch calls. */
bool cdx_glob_match(const char *glob, const char *path, bool prefix);

/* cdx_pack: write to W the archive of what GLOBS select under directory
 * DIR: every path (file, directory or symlink, never followed) that a
 * glob matches; a matched directory brings everything below it.  Other
 * kinds of file (sockets, fifos, devices) are left out.  A symlink that
 * is absolute or leads outside DIR is refused.  -1 with ERR set when DIR
 * cannot be read, a limit is passed (CDX_EFAILED) or W fails. */
int cdx_pack(const char *dir, char *const *globs, size_t n, const struct cdx_pack_limits *lim,
	     cdx_pack_write_fn w, void *ctx, struct cdx_pack_stats *st, struct cdx_error *err);

/* cdx_pack_read: check the archive DATA (LEN bytes) whole and, when it is
 * sound, call FN (may be NULL: only check) for each entry in order.  -1
 * with ERR (CDX_EFAILED) saying what is wrong and where. */
int cdx_pack_read(const void *data, size_t len, const struct cdx_pack_limits *lim, cdx_pack_entry_fn fn,
		  void *ctx, struct cdx_pack_stats *st, struct cdx_error *err);

/* cdx_unpack: write the archive DATA into directory DEST (created when
 * missing; followed when it is a symlink, as the caller names it: no
 * symlink below it is ever followed).  Files are written to a temporary
 * name and renamed over what was there (a link is replaced, never written
 * through); directories are created as needed.  -1 with ERR set; when the
 * archive is unsound nothing is written. */
int cdx_unpack(const void *data, size_t len, const char *dest, const struct cdx_pack_limits *lim,
	       struct cdx_pack_stats *st, struct cdx_error *err);

#endif /* CDX_PACK_H */
