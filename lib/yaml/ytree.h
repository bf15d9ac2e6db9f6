/* ytree.h — YAML documents as a read-only tree with positions.
 *
 * cdx_yaml_parse() turns YAML text into a tree of scalars, sequences and
 * mappings, each node carrying the file, line and column it came from.
 * Anchors and aliases are resolved by sharing the aliased node; merge keys
 * (`<<: *base`, `<<: [*a, *b]`) are resolved into the mapping that uses
 * them (its own keys win, then earlier merged maps).  The tree is guarded:
 * input over CDX_YAML_MAXBYTES, invalid UTF-8, a NUL byte (in the text or
 * from a "\0" escape in a quoted string), nesting deeper than
 * CDX_YAML_MAXDEPTH, recursive aliases, duplicate or non-scalar keys, and
 * aliases that would expand to more than CDX_YAML_MAXEXPAND nodes (an
 * "alias bomb") are reported as FILE:LINE:COL problems and no tree is
 * returned.  Every node lives in the tree's arena and is freed with it.
 */
#ifndef CDX_YTREE_H
#define CDX_YTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"

#define CDX_YAML_MAXBYTES (16u << 20)
#define CDX_YAML_MAXDEPTH 64
#define CDX_YAML_MAXEXPAND 4000000

enum cdx_ytype { CDX_Y_SCALAR, CDX_Y_SEQ, CDX_Y_MAP };

struct cdx_ynode;

struct cdx_ypair {
	struct cdx_ynode *key; /* always a scalar */
	struct cdx_ynode *val;
};

struct cdx_ynode {
	enum cdx_ytype type;
	const char *file; /* file it came from (owned by the tree) */
	int line, col;    /* 1-based position */
	/* scalar */
	const char *str;  /* NUL-terminated value */
	size_t len;       /* bytes of str (never a NUL among them) */
	bool plain;       /* unquoted: may be null, a bool or a number */
	/* sequence: items; mapping: pairs, in document order */
	struct cdx_ynode **items;
	struct cdx_ypair *pairs;
	size_t n;   /* items or pairs */
	size_t cap; /* pairs allocated (maps built by cdx_yaml_new_map) */
};

struct cdx_ytree;

/* cdx_yaml_parse: parse LEN bytes of BUF, named FILE in messages.  Returns
 * the tree (free with cdx_yaml_free) or NULL with problems added to DIAGS.
 * An empty document (nothing but comments) is reported as "file is empty". */
struct cdx_ytree *cdx_yaml_parse(const char *file, const char *buf, size_t len, struct cdx_diags *diags);
void cdx_yaml_free(struct cdx_ytree *t);

/* which parser reads the text: AUTO is the fast scanner (yfast.h) when the
 * text is inside its subset, else libyaml; the others are for tests */
enum cdx_yaml_engine { CDX_YAML_AUTO, CDX_YAML_LIBYAML, CDX_YAML_FAST };
/* cdx_yaml_parse_engine: cdx_yaml_parse with ENGINE.  With CDX_YAML_FAST, a
 * text outside the subset gives NULL with *UNSUPPORTED (if given) set and
 * nothing added to DIAGS. */
struct cdx_ytree *cdx_yaml_parse_engine(const char *file, const char *buf, size_t len, struct cdx_diags *diags,
					enum cdx_yaml_engine engine, bool *unsupported);
struct cdx_ynode *cdx_yaml_root(const struct cdx_ytree *t);
const char *cdx_yaml_file(const struct cdx_ytree *t);

/* cdx_yaml_get: the value of KEY in mapping MAP, or NULL */
struct cdx_ynode *cdx_yaml_get(const struct cdx_ynode *map, const char *key);
/* cdx_yaml_is_null: a plain `~`, `null` or empty scalar */
bool cdx_yaml_is_null(const struct cdx_ynode *n);
/* cdx_yaml_bool: 1 true, 0 false, -1 not a YAML 1.2 boolean */
int cdx_yaml_bool(const struct cdx_ynode *n);
/* cdx_yaml_typename: "a string", "a list", "a mapping" (for messages) */
const char *cdx_yaml_typename(const struct cdx_ynode *n);

/* Nodes built by callers (template merges) in an existing tree's arena. */
struct cdx_ynode *cdx_yaml_new_map(struct cdx_ytree *t, const struct cdx_ynode *pos, size_t cap);
void cdx_yaml_map_add(struct cdx_ytree *t, struct cdx_ynode *map, struct cdx_ynode *key, struct cdx_ynode *val);
struct cdx_ynode *cdx_yaml_new_scalar(struct cdx_ytree *t, const struct cdx_ynode *pos, const char *s);

#endif /* CDX_YTREE_H */
