/* test_alloc.c — tools/job/alloc.c, the allocator of the musl cdx-job,
 * built here with its functions renamed mine_* (Makefile.in): sizes and
 * alignment, contents kept across realloc, zeroed calloc, reuse of freed
 * blocks (memory in use bounded by the working set), mapped blocks, and
 * the errors of the C standard. */
#include "fixtures.h"

#include <errno.h>
#include <stdbool.h>

#include "util.h"

void *mine_malloc(size_t n);
void mine_free(void *p);
void *mine_calloc(size_t n, size_t size);
void *mine_realloc(void *p, size_t n);
void *mine_aligned_alloc(size_t align, size_t n);
int mine_posix_memalign(void **res, size_t align, size_t n);
size_t mine_malloc_usable_size(void *p);

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7);
}

static bool holds(const unsigned char *p, size_t n, unsigned seed)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed * 31 + i * 7))
			return false;
	return true;
}

static void sizes_and_alignment(void **state)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 4095, 4096, 4097, 65536, 65537,
				       524288, 524289, 1 << 20, 3 << 20};
	size_t i;
	(void)state;
	for (i = 0; i < CDX_ARRAY_LEN(sizes); i++) {
		unsigned char *p = mine_malloc(sizes[i]);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_true(mine_malloc_usable_size(p) >= sizes[i]);
		fill(p, sizes[i], (unsigned)i);
		assert_true(holds(p, sizes[i], (unsigned)i));
		mine_free(p);
	}
	mine_free(NULL);
	assert_int_equal(mine_malloc_usable_size(NULL), 0);
}

static void freed_blocks_are_reused(void **state)
{
	void *p, *q;
	(void)state;
	p = mine_malloc(100);
	mine_free(p);
	q = mine_malloc(120); /* the same size class: 128 */
	assert_ptr_equal(p, q);
	mine_free(q);
}

/* a deterministic mix of malloc, calloc, realloc and free over 200 slots;
 * SEEN (if not NULL) must hold every block of a class that it returns */
struct slot {
	unsigned char *p;
	size_t n;
	unsigned seed;
};

static unsigned next(unsigned *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static size_t some_size(unsigned *x)
{
	unsigned r = next(x) % 100;
	if (r < 70)
		return next(x) % 200;
	if (r < 95)
		return next(x) % 70000;
	return next(x) % 1500000; /* some over the largest class */
}

static size_t mix(void **seen, size_t nseen, bool record)
{
	struct slot s[200] = {{0}};
	unsigned x = 2463534242u;
	size_t k, i, n = nseen;
	for (k = 0; k < 20000; k++) {
		struct slot *t = &s[next(&x) % CDX_ARRAY_LEN(s)];
		unsigned op = next(&x) % 4;
		size_t want = some_size(&x);
		unsigned char *p;
		if (t->p)
			assert_true(holds(t->p, t->n, t->seed));
		if (op == 0 && t->p) {
			mine_free(t->p);
			t->p = NULL;
			continue;
		}
		if (op == 1 && t->p) {
			p = mine_realloc(t->p, want);
			assert_non_null(p);
			assert_true(holds(p, want < t->n ? want : t->n, t->seed));
		} else {
			if (t->p)
				mine_free(t->p);
			if (op == 2) {
				p = mine_calloc(want, 1);
				assert_non_null(p);
				for (i = 0; i < want; i++)
					assert_int_equal(p[i], 0);
			} else {
				p = mine_malloc(want);
				assert_non_null(p);
			}
		}
		assert_int_equal((uintptr_t)p % 16, 0);
		if (mine_malloc_usable_size(p) <= 524288) {
			if (record) {
				if (n < 40000)
					seen[n++] = p;
			} else {
				bool found = false;
				for (i = 0; i < nseen && !found; i++)
					found = seen[i] == p;
				if (!found)
					fail_msg("the second pass got a block (%p) the first never had", (void *)p);
			}
		}
		t->p = p;
		t->n = want;
		t->seed = (unsigned)k;
		fill(p, want, t->seed);
	}
	for (i = 0; i < CDX_ARRAY_LEN(s); i++)
		if (s[i].p) {
			assert_true(holds(s[i].p, s[i].n, s[i].seed));
			mine_free(s[i].p);
		}
	return n;
}

static void contents_survive_and_memory_is_reused(void **state)
{
	void **seen = calloc(40000, sizeof(void *));
	size_t n;
	(void)state;
	assert_non_null(seen);
	n = mix(seen, 0, true);
	assert_true(n > 0 && n < 40000);
	/* the same requests again, with every block of the first pass free:
	 * none needs new memory */
	mix(seen, n, false);
	free(seen);
}

static void aligned_blocks(void **state)
{
	void *p = NULL;
	unsigned char *q;
	(void)state;
	q = mine_aligned_alloc(2u << 20, 3u << 20);
	assert_non_null(q);
	assert_int_equal((uintptr_t)q % (2u << 20), 0);
	fill(q, 3u << 20, 9);
	assert_true(holds(q, 3u << 20, 9));
	assert_true(mine_malloc_usable_size(q) >= 3u << 20);
	mine_free(q);
	assert_int_equal(mine_posix_memalign(&p, 64, 1000), 0);
	assert_int_equal((uintptr_t)p % 64, 0);
	mine_free(p);
	assert_int_equal(mine_posix_memalign(&p, 8, 10), 0);
	mine_free(p);
	assert_int_equal(mine_posix_memalign(&p, 24, 10), EINVAL);
	assert_int_equal(mine_posix_memalign(&p, 4, 10), EINVAL);
	errno = 0;
	assert_null(mine_aligned_alloc(48, 10));
	assert_int_equal(errno, EINVAL);
}

static void what_cannot_be_had(void **state)
{
	(void)state;
	errno = 0;
	assert_null(mine_calloc(SIZE_MAX / 2, 3));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(mine_malloc(SIZE_MAX - 10));
	assert_int_equal(errno, ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes_and_alignment),
		cmocka_unit_test(freed_blocks_are_reused),
		cmocka_unit_test(contents_survive_and_memory_is_reused),
		cmocka_unit_test(aligned_blocks),
		cmocka_unit_test(what_cannot_be_had),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
