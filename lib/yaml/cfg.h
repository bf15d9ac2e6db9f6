/* cfg.h — small helpers for reading configuration out of a YAML tree with
 * FILE:LINE:COL problems: key checks with a "did you mean", typed values
 * (names, durations, integers, numbers, booleans).  Each helper reports its
 * problem into the reader's diagnostics, counts it, and returns false, so
 * a loader keeps going and reports every problem in one pass. */
#ifndef CDX_CFG_H
#define CDX_CFG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/diag.h"
#include "yaml/ytree.h"

struct cdx_cfg {
	struct cdx_diags *diags; /* where problems go */
	const char *file;        /* named when a node has no position */
	int problems;            /* how many were reported */
};

void cdx_cfg_problem(struct cdx_cfg *c, const struct cdx_ynode *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* cdx_cfg_keys: report each key of MAP not among KEYS[N] */
void cdx_cfg_keys(struct cdx_cfg *c, const struct cdx_ynode *map, const char *const *keys, size_t n,
		  const char *what);
/* cdx_cfg_want: N has TYPE (a null scalar is no string) */
bool cdx_cfg_want(struct cdx_cfg *c, const struct cdx_ynode *n, enum cdx_ytype type, const char *what);
/* cdx_cfg_name: N is a name: 1..64 of A-Z a-z 0-9 _ . - and not . or .. */
bool cdx_cfg_name(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what);
bool cdx_cfg_duration(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, bool zero_ok, int64_t *ms);
bool cdx_cfg_int(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, long lo, long hi, int *out);
bool cdx_cfg_number(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, double *out);
bool cdx_cfg_bool(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, bool *out);

#endif /* CDX_CFG_H */
