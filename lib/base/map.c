/* map.c — string-keyed hash map from names to indexes (see map.h).
 * The table is kept at most half full, so probes stay short. */
#include "base/map.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static void rehash(struct cdx_map *m, size_t cap)
{
	const char **keys = cdx_xcalloc(cap, sizeof(*keys));
	size_t *vals = cdx_xcalloc(cap, sizeof(*vals));
	size_t i;
	for (i = 0; i < m->cap; i++) {
		size_t h;
		if (!m->keys[i])
			continue;
		h = cdx_hash32(m->keys[i], strlen(m->keys[i])) & (cap - 1);
		while (keys[h])
			h = (h + 1) & (cap - 1);
		keys[h] = m->keys[i];
		vals[h] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
}

void cdx_map_reserve(struct cdx_map *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 16;
	while (n * 2 > cap && cap < SIZE_MAX / 4)
		cap *= 2;
	if (cap > m->cap)
		rehash(m, cap);
}

int cdx_map_put(struct cdx_map *m, const char *key, size_t val, size_t *old)
{
	size_t h;
	if ((m->n + 1) * 2 > m->cap)
		rehash(m, m->cap ? m->cap * 2 : 16);
	h = cdx_hash32(key, strlen(key)) & (m->cap - 1);
	while (m->keys[h]) {
		if (strcmp(m->keys[h], key) == 0) {
			if (old)
				*old = m->vals[h];
			return 0;
		}
		h = (h + 1) & (m->cap - 1);
	}
	m->keys[h] = key;
	m->vals[h] = val;
	m->n++;
	return 1;
}

int cdx_map_get(const struct cdx_map *m, const char *key, size_t *val)
{
	size_t h;
	if (!m->cap)
		return 0;
	h = cdx_hash32(key, strlen(key)) & (m->cap - 1);
	while (m->keys[h]) {
		if (strcmp(m->keys[h], key) == 0) {
			if (val)
				*val = m->vals[h];
			return 1;
		}
		h = (h + 1) & (m->cap - 1);
	}
	return 0;
}

void cdx_map_free(struct cdx_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

void cdx_map_set(struct cdx_map *m, const char *key, size_t val)
{
	size_t h;
	if (!cdx_map_put(m, key, val, NULL)) {
		h = cdx_hash32(key, strlen(key)) & (m->cap - 1);
		while (strcmp(m->keys[h], key) != 0)
			h = (h + 1) & (m->cap - 1);
		m->vals[h] = val;
	}
}
