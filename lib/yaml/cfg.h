/* cfg.h — the config-tree toolkit: reading configuration out of a YAML tree
 * (ytree.h) with FILE:LINE:COL problems.  Every loader of cdx (pipeline
 * files, the project file, its applications and its monitoring section)
 * reads its tree with these helpers, so that one problem reads the same
 * wherever it is found:
 *
 *   unknown key 'x' in job (did you mean 'y'?)      cdx_cfg_keys
 *   missing key 'name' in stage                      cdx_cfg_need
 *   timeout must be a string, not a list             cdx_cfg_want
 *   include must be a list, not a mapping            cdx_cfg_items
 *   stage name 'a b' is invalid: use 1 to 64 ...     cdx_cfg_name
 *   variable name '1X' is invalid: use A-Z ...       cdx_cfg_env_name
 *   bad duration '10x' for timeout: ...              cdx_cfg_duration
 *   retry must be a whole number from 0 to 100, ...  cdx_cfg_int
 *   analysis max must be a number, not 'x'           cdx_cfg_number
 *   secret must be true or false, not 'yes'          cdx_cfg_bool
 *   unknown strategy 'x' (did you mean 'y'?)         cdx_cfg_choice
 *
 * Each helper reports its problem into the reader's diagnostics, counts it
 * in problems, and returns false (or NULL, or -1), so a loader keeps going
 * and reports every problem in one pass.  WHAT is the thing being read as
 * the message names it ("job name", "retry exit_codes"). */
#ifndef CDX_CFG_H
#define CDX_CFG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/diag.h"
#include "yaml/ytree.h"

struct cdx_cfg {
	struct cdx_diags *diags; /* where problems go (NULL: only counted) */
	const char *file;        /* named when a problem has no node */
	int problems;            /* how many were reported */
	bool plain_numbers;      /* a quoted scalar ('3') is no number
				    (pipeline files, monitoring) */
};

void cdx_cfg_problem(struct cdx_cfg *c, const struct cdx_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* cdx_cfg_problem_at: a problem at FILE:LINE:COL (what the model kept of a
 * node that is gone) */
void cdx_cfg_problem_at(struct cdx_cfg *c, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* cdx_cfg_keys: report each key of MAP not among KEYS[N], with the closest
 * known key */
void cdx_cfg_keys(struct cdx_cfg *c, const struct cdx_ynode *map, const char *const *keys, size_t n,
		  const char *what);
/* cdx_cfg_keys_hidden: cdx_cfg_keys, but keys starting with '.' or "x-"
 * are hidden (they hold YAML anchors) and never unknown */
void cdx_cfg_keys_hidden(struct cdx_cfg *c, const struct cdx_ynode *map, const char *const *keys, size_t n,
			 const char *what);
/* cdx_cfg_need: the value of KEY in MAP, or NULL with "missing key" */
const struct cdx_ynode *cdx_cfg_need(struct cdx_cfg *c, const struct cdx_ynode *map, const char *key,
				     const char *what);
/* cdx_cfg_want: N has TYPE (a null scalar is no string) */
bool cdx_cfg_want(struct cdx_cfg *c, const struct cdx_ynode *n, enum cdx_ytype type, const char *what);
/* cdx_cfg_items: *N as a list: *ITEMS and *COUNT are *N's items, or N
 * itself (one item) when *N is one string; false and no items with "WHAT
 * must be a list" otherwise.  The items stay *N's (or N). */
bool cdx_cfg_items(struct cdx_cfg *c, const struct cdx_ynode *const *n, const char *what,
		   const struct cdx_ynode *const **items, size_t *count);
/* cdx_cfg_name: N is a name: 1..64 of A-Z a-z 0-9 _ . - and not . or .. */
bool cdx_cfg_name(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what);
/* cdx_cfg_env_name: N is an environment variable name: A-Z a-z 0-9 _, not
 * starting with a digit */
bool cdx_cfg_env_name(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what);
/* cdx_cfg_duration: a duration (base/duration.h) in *MS; zero only when
 * ZERO_OK.  *MS is left alone on failure (so are the outputs below). */
bool cdx_cfg_duration(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, bool zero_ok,
		      int64_t *ms);
/* cdx_cfg_int: a whole number from LO to HI */
bool cdx_cfg_int(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, long lo, long hi, int *out);
/* cdx_cfg_number: a finite number */
bool cdx_cfg_number(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, double *out);
/* cdx_cfg_bool: a YAML 1.2 boolean, unquoted */
bool cdx_cfg_bool(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, bool *out);
/* cdx_cfg_choice: the index of N among NAMES[COUNT], or -1 with "unknown
 * WHAT 'x'" and the closest name */
int cdx_cfg_choice(struct cdx_cfg *c, const struct cdx_ynode *n, const char *what, const char *const *names,
		   size_t count);
/* cdx_cfg_unknown: report WORD (written at AT) as an unknown WHAT, with the
 * closest of CANDS[N] */
void cdx_cfg_unknown(struct cdx_cfg *c, const struct cdx_ynode *at, const char *what, const char *word,
		     const char *const *cands, size_t n);

#endif /* CDX_CFG_H */
