/* alloc.c — the memory allocator of cdx-job when it is linked with musl.
 *
 * cdx-job lives for one job, single-threaded, and allocates a few hundred
 * kilobytes: the job's spec, its pipeline, a store, the buffers of the
 * output pipes.  musl's allocator (mallocng) gives every group of blocks
 * over half a page its own mmap and returns it with munmap as soon as it
 * is empty, about 25 system calls per job, each a page-table change; under
 * a hypervisor those cost as much as the rest of the job's own work.
 * This allocator is what such a short, single-threaded process wants:
 * blocks of sixteen power-of-two sizes (16 bytes to 512 KiB) carved from
 * 1 MiB regions and kept on a free list per size when freed, so that a
 * block is reused for the next request of its size and the memory in use
 * stays bounded by the largest working set; larger blocks, and blocks
 * with a larger alignment, are mapped on their own and unmapped when
 * freed.  musl lets a static program replace malloc and its companions
 * (all of them, which this file does); glibc builds use glibc's malloc
 * and compile this file to nothing, except for its unit test, which
 * defines CDX_JOB_ALLOC and renames the functions (tests/unit/test_alloc.c).
 */
#include <stdlib.h> /* first: under glibc, it defines __GLIBC__ */
#if !defined(__GLIBC__) || defined(CDX_JOB_ALLOC)
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALIGN 16                /* what malloc promises on x86-64 */
#define CLASSES 16              /* 16 << 15 = 512 KiB, the largest class */
#define REGION (1u << 20)       /* bytes mapped at a time for the classes */

/* a block's header: small blocks have their class in `a`; mapped blocks
 * have the length of the mapping in `a` (at least a page, never a class)
 * and the offset of the block from the mapping's start in `b` */
struct hdr {
	size_t a, b;
};

struct free_block {
	struct free_block *next;
};

#ifndef MADV_POPULATE_WRITE /* Linux 5.14; musl 1.2.3's headers lack it */
#define MADV_POPULATE_WRITE 23
#endif
#define READY_STEP (64u << 10) /* bytes populated at a time */

static struct free_block *free_list[CLASSES];
static char *bump, *bump_end, *ready;

size_t malloc_usable_size(void *p);
void *memalign(size_t align, size_t n);

static size_t class_size(size_t c)
{
	return (size_t)16 << c;
}

static void *mapped(size_t n, size_t align)
{
	size_t page = 4096, len, off;
	char *base;
	struct hdr *h;
	if (n > SIZE_MAX - sizeof(struct hdr) - align - page)
		return NULL;
	len = (n + sizeof(struct hdr) + align + page - 1) & ~(page - 1);
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	/* the first address past the header that is a multiple of ALIGN */
	off = (((uintptr_t)base + sizeof(struct hdr) + align - 1) & ~(uintptr_t)(align - 1)) - (uintptr_t)base;
	h = (struct hdr *)(base + off) - 1;
	h->a = len;
	h->b = off;
	return base + off;
}

static void *carve(size_t c)
{
	size_t need = sizeof(struct hdr) + class_size(c);
	struct hdr *h;
	if ((size_t)(bump_end - bump) < need) {
		char *r = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r == MAP_FAILED)
			return NULL;
		bump = ready = r; /* what was left of the last region stays unused */
		bump_end = r + REGION;
	}
	h = (struct hdr *)bump;
	bump += need;
	/* the pages carved so far are mapped in one call, ahead of use: a
	 * page fault costs ~13 us under a hypervisor, a populated page ~0.7
	 * (advice: without MADV_POPULATE_WRITE, Linux < 5.14, pages fault) */
	if (bump > ready) {
		size_t step = ((size_t)(bump - ready) + READY_STEP - 1) & ~(size_t)(READY_STEP - 1);
		if (step > (size_t)(bump_end - ready))
			step = (size_t)(bump_end - ready);
		madvise(ready, step, MADV_POPULATE_WRITE);
		ready += step;
	}
	h->a = c;
	h->b = 0;
	return h + 1;
}

void *malloc(size_t n)
{
	size_t c = 0;
	void *p;
	if (n > class_size(CLASSES - 1)) {
		p = mapped(n, ALIGN);
		if (!p)
			errno = ENOMEM;
		return p;
	}
	while (class_size(c) < n)
		c++;
	if (free_list[c]) {
		struct free_block *f = free_list[c];
		free_list[c] = f->next;
		return f;
	}
	p = carve(c);
	if (!p)
		errno = ENOMEM;
	return p;
}

void free(void *p)
{
	struct hdr *h;
	if (!p)
		return;
	h = (struct hdr *)p - 1;
	if (h->a < CLASSES) {
		struct free_block *f = p;
		f->next = free_list[h->a];
		free_list[h->a] = f;
	} else {
		munmap((char *)p - h->b, h->a);
	}
}

size_t malloc_usable_size(void *p)
{
	struct hdr *h;
	if (!p)
		return 0;
	h = (struct hdr *)p - 1;
	return h->a < CLASSES ? class_size(h->a) : h->a - h->b;
}

void *calloc(size_t n, size_t size)
{
	void *p;
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	size_t have;
	void *q;
	if (!p)
		return malloc(n);
	have = malloc_usable_size(p);
	if (n <= have && (n > have / 2 || have <= 16))
		return p;
	q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, n < have ? n : have);
	free(p);
	return q;
}

void *aligned_alloc(size_t align, size_t n)
{
	void *p;
	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= ALIGN)
		return malloc(n);
	p = mapped(n, align);
	if (!p)
		errno = ENOMEM;
	return p;
}

void *memalign(size_t align, size_t n)
{
	return aligned_alloc(align, n);
}

int posix_memalign(void **res, size_t align, size_t n)
{
	void *p;
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = aligned_alloc(align, n);
	if (!p)
		return ENOMEM;
	*res = p;
	return 0;
}
#endif
