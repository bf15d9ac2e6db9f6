/* yfast.h — a fast YAML event scanner for the common subset of YAML.
 *
 * Pipeline files are mostly plain block mappings and sequences, one-line
 * flow collections and one-line scalars.  cdx_yfast_parse() reads that
 * subset an order of magnitude faster than libyaml and produces exactly
 * the events libyaml would (same order, values, styles and positions), so
 * ytree.c builds the same tree from either.  Anything outside the subset —
 * anchors, aliases, tags, block scalars, multi-line scalars or flow
 * collections, tabs, CR, document markers, directives, complex keys, and
 * every syntax error — makes it give up; the caller then parses the text
 * with libyaml, which also reports the errors.  It never reports a problem
 * itself.  tests/fuzz/fuzz_yaml.c checks the equivalence on any input.
 */
#ifndef CDX_YFAST_H
#define CDX_YFAST_H

#include <stdbool.h>
#include <stddef.h>

enum cdx_yev_type { CDX_YEV_SCALAR, CDX_YEV_SEQ_START, CDX_YEV_MAP_START, CDX_YEV_END };

/* one event, as libyaml would report it */
struct cdx_yev {
	enum cdx_yev_type type;
	int line, col;      /* 1-based position of the node's first character */
	const char *str;    /* scalar: its value (not NUL-terminated) ... */
	size_t len;         /* ... of LEN bytes; valid during the callback only */
	bool plain;         /* scalar: unquoted */
	const char *anchor; /* anchor name or NULL (libyaml only) */
};

/* a consumer: returns 0 to go on, non-zero to stop the parse */
typedef int (*cdx_yev_fn)(void *ctx, const struct cdx_yev *ev);

/* cdx_yfast_parse: scan LEN bytes of BUF (valid UTF-8 without NUL bytes)
 * and call FN for each event.  Returns 0 when the whole document was read,
 * 1 when FN asked to stop, -1 when the text is outside the subset (FN may
 * have been called for a prefix of the document: the caller discards what
 * it built). */
int cdx_yfast_parse(const char *buf, size_t len, cdx_yev_fn fn, void *ctx);

#endif /* CDX_YFAST_H */
