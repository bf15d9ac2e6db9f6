/* arena.h — memory that is given out in pieces and freed all at once.
 *
 * Used for what is allocated in great numbers and lives as long as its
 * owner: the nodes and strings of a YAML tree, the names, scripts and
 * references of a pipeline.  Pieces come from chunks that grow with the
 * arena; chunks from 1 MiB on are in huge pages (cdx_xmalloc_big), so a
 * big pipeline costs a few page faults instead of one per 4 KiB.  A zeroed
 * struct is an empty arena whose first chunk is 64 KiB.
 */
#ifndef CDX_ARENA_H
#define CDX_ARENA_H

#include <stddef.h>

struct cdx_arena_chunk;

struct cdx_arena {
	struct cdx_arena_chunk *chunks; /* newest first */
	size_t first; /* size of the first chunk (0: 64 KiB); may be set
			 until the first piece is taken */
};

/* cdx_arena_alloc: N zeroed bytes, aligned for any object */
void *cdx_arena_alloc(struct cdx_arena *a, size_t n);
/* cdx_arena_strndup: the N bytes at S and a NUL (S may hold NULs) */
char *cdx_arena_strndup(struct cdx_arena *a, const char *s, size_t n);
char *cdx_arena_strdup(struct cdx_arena *a, const char *s);
/* cdx_arena_free: every piece at once; the arena is empty again */
void cdx_arena_free(struct cdx_arena *a);

#endif /* CDX_ARENA_H */
