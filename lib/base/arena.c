/* arena.c — memory given out in pieces and freed all at once (arena.h) */
#include "base/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

struct cdx_arena_chunk {
	struct cdx_arena_chunk *next;
	size_t used, size;
	alignas(16) unsigned char data[];
};

#define HUGE_PAGE (2u << 20)
#define GROW_UNTIL (4u << 20) /* chunks grow fourfold up to this size */

/* N bytes aligned to ALIGN (a power of two up to 16) */
static void *take(struct cdx_arena *a, size_t n, size_t align)
{
	struct cdx_arena_chunk *c = a->chunks;
	size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
	if (!c || at > c->size || c->size - at < n) {
		/* a chunk's allocation, header included, is FIRST (64 KiB) and
		 * four times the last one's: powers of two, which allocators
		 * that round up to one (cdx-job's, tools/job/alloc.c) fill */
		size_t size = c ? (c->size < GROW_UNTIL ? (sizeof(*c) + c->size) * 4 : sizeof(*c) + c->size)
				: a->first ? a->first : 65536;
		if (n > SIZE_MAX / 2 - HUGE_PAGE)
			cdx_xmalloc(SIZE_MAX); /* out of memory: fatal */
		size = size > sizeof(*c) ? size - sizeof(*c) : 0;
		if (size < n)
			size = n;
		if (size >= HUGE_PAGE / 2) /* all of the huge pages it takes */
			size = ((sizeof(*c) + size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1)) - sizeof(*c);
		c = cdx_xmalloc_big(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = a->chunks;
		a->chunks = c;
		at = 0;
	}
	c->used = at + n;
	return c->data + at;
}

void *cdx_arena_alloc(struct cdx_arena *a, size_t n)
{
	return memset(take(a, n ? n : 1, 16), 0, n);
}

char *cdx_arena_strndup(struct cdx_arena *a, const char *s, size_t n)
{
	char *c;
	if (n == SIZE_MAX)
		cdx_xmalloc(SIZE_MAX); /* out of memory: fatal */
	c = take(a, n + 1, 1);
	memcpy(c, s, n);
	c[n] = '\0';
	return c;
}

char *cdx_arena_strdup(struct cdx_arena *a, const char *s)
{
	return cdx_arena_strndup(a, s, strlen(s));
}

void cdx_arena_free(struct cdx_arena *a)
{
	struct cdx_arena_chunk *c, *next;
	for (c = a->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	a->chunks = NULL;
}
