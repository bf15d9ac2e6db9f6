/* map.h — a string-keyed hash map from names to indexes (open addressing,
 * linear probing, power-of-two capacity).  Keys are borrowed: the caller
 * keeps them alive as long as the map.  Used for name lookups that must
 * stay linear on 100,000-job pipelines.
 */
#ifndef CDX_MAP_H
#define CDX_MAP_H

#include <stddef.h>
#include <stdint.h>

struct cdx_map {
	const char **keys; /* borrowed keys, NULL = empty slot */
	size_t *vals;      /* value of each slot */
	size_t cap;        /* slots, a power of two (0 = never used) */
	size_t n;          /* keys stored */
};

/* cdx_map_put: set KEY to VAL; returns 1 when KEY was new, 0 when it was
 * present (its value is then left unchanged and stored in *OLD if OLD is
 * not NULL). */
int cdx_map_put(struct cdx_map *m, const char *key, size_t val, size_t *old);
/* cdx_map_reserve: room for N keys without growing */
void cdx_map_reserve(struct cdx_map *m, size_t n);
/* cdx_map_set: set KEY to VAL, replacing a present value */
void cdx_map_set(struct cdx_map *m, const char *key, size_t val);
/* cdx_map_get: 1 and *VAL when KEY is present, else 0 */
int cdx_map_get(const struct cdx_map *m, const char *key, size_t *val);
void cdx_map_free(struct cdx_map *m);

#endif /* CDX_MAP_H */
