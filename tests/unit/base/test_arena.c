/* test_arena.c — arena.c: aligned zeroed pieces, strings, chunks that grow
 * past a huge page, freeing all at once. */
#include "fixtures.h"

#include <stdint.h>

#include "base/arena.h"

static void pieces_are_aligned_and_zeroed(void **state)
{
	struct cdx_arena a = {0};
	size_t i;
	(void)state;
	for (i = 1; i < 200; i++) {
		unsigned char *p = cdx_arena_alloc(&a, i);
		size_t k;
		assert_int_equal((uintptr_t)p % 16, 0);
		for (k = 0; k < i; k++)
			assert_int_equal(p[k], 0);
		memset(p, 0xff, i);
		/* a string between pieces does not break the next one's alignment */
		assert_string_equal(cdx_arena_strdup(&a, "x"), "x");
	}
	assert_non_null(cdx_arena_alloc(&a, 0));
	cdx_arena_free(&a);
	assert_null(a.chunks);
	cdx_arena_free(&a); /* an empty arena */
}

static void strings(void **state)
{
	struct cdx_arena a = {0};
	char *s, *t;
	(void)state;
	s = cdx_arena_strdup(&a, "build/unit");
	t = cdx_arena_strndup(&a, "a\0b", 3);
	assert_string_equal(s, "build/unit");
	assert_memory_equal(t, "a\0b\0", 4);
	assert_string_equal(cdx_arena_strdup(&a, ""), "");
	assert_string_equal(s, "build/unit"); /* earlier pieces do not move */
	cdx_arena_free(&a);
}

/* pieces bigger than a chunk, many chunks, a first size set in advance;
 * every piece keeps what was written into it */
static void chunks_grow(void **state)
{
	struct cdx_arena a = {0};
	enum { N = 20000 };
	char **p = calloc(N, sizeof(char *));
	char *big;
	size_t i;
	(void)state;
	assert_non_null(p);
	a.first = 1000;
	for (i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%02zu/j%05zu", i % 10, i);
		p[i] = cdx_arena_strdup(&a, name);
	}
	big = cdx_arena_alloc(&a, (5u << 20) + 7); /* more than any chunk so far */
	big[(5u << 20) + 6] = 'z';
	for (i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%02zu/j%05zu", i % 10, i);
		assert_string_equal(p[i], name);
	}
	assert_int_equal(big[0], 0);
	assert_int_equal(big[(5u << 20) + 6], 'z');
	assert_string_equal(cdx_arena_strdup(&a, "after"), "after");
	cdx_arena_free(&a);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pieces_are_aligned_and_zeroed),
		cmocka_unit_test(strings),
		cmocka_unit_test(chunks_grow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
