/* ycompare.h — is the fast YAML scanner's reading of a text the same as
 * libyaml's?  Shared by tests/fuzz/fuzz_yaml.c and tests/unit/test_ytree.c.
 *
 * ycompare(TEXT, LEN, WHY, N) parses TEXT with both engines.  Returns 1
 * when the fast scanner gave up (libyaml reads the text), 0 when both gave
 * the same tree (types, values, styles, positions) or the same problems,
 * and -1 with the first difference written to WHY otherwise. */
#ifndef CDX_YCOMPARE_H
#define CDX_YCOMPARE_H

#include <stdio.h>
#include <string.h>

#include "base/diag.h"
#include "yaml/ytree.h"

/* nodes compared at most (a libyaml tree may share aliased nodes) */
#define YCOMPARE_BUDGET 200000

static int ycompare_node(const struct cdx_ynode *a, const struct cdx_ynode *b, char *why, size_t n,
			 long *budget)
{
	size_t i;
	if (--*budget < 0)
		return 0;
	if (a->type != b->type || a->line != b->line || a->col != b->col) {
		snprintf(why, n, "node at %d:%d (type %d) against %d:%d (type %d)", a->line, a->col, (int)a->type,
			 b->line, b->col, (int)b->type);
		return -1;
	}
	if (a->type == CDX_Y_SCALAR) {
		if (a->len != b->len || memcmp(a->str, b->str, a->len) || a->plain != b->plain) {
			snprintf(why, n, "scalar at %d:%d: libyaml '%.40s' (%zu bytes, plain %d), fast '%.40s' (%zu bytes, plain %d)",
				 a->line, a->col, a->str, a->len, a->plain, b->str, b->len, b->plain);
			return -1;
		}
		return 0;
	}
	if (a->n != b->n) {
		snprintf(why, n, "collection at %d:%d: %zu entries against %zu", a->line, a->col, a->n, b->n);
		return -1;
	}
	for (i = 0; i < a->n; i++) {
		if (a->type == CDX_Y_SEQ) {
			if (ycompare_node(a->items[i], b->items[i], why, n, budget))
				return -1;
		} else if (ycompare_node(a->pairs[i].key, b->pairs[i].key, why, n, budget) ||
			   ycompare_node(a->pairs[i].val, b->pairs[i].val, why, n, budget)) {
			return -1;
		}
	}
	return 0;
}

static int ycompare(const char *text, size_t len, char *why, size_t n)
{
	struct cdx_diags *da = cdx_diags_new(), *db = cdx_diags_new();
	struct cdx_ytree *a = cdx_yaml_parse_engine("t.yml", text, len, da, CDX_YAML_LIBYAML, NULL);
	bool unsupported = false;
	struct cdx_ytree *b = cdx_yaml_parse_engine("t.yml", text, len, db, CDX_YAML_FAST, &unsupported);
	long budget = YCOMPARE_BUDGET;
	int rc = 0;
	size_t i;
	if (unsupported) {
		rc = 1;
	} else if (!a != !b) {
		snprintf(why, n, "libyaml %s, fast %s", a ? "read it" : "refused it", b ? "read it" : "refused it");
		rc = -1;
	} else if (a) {
		rc = ycompare_node(cdx_yaml_root(a), cdx_yaml_root(b), why, n, &budget);
	}
	if (!rc && cdx_diags_count(da) != cdx_diags_count(db)) {
		snprintf(why, n, "libyaml found %zu problems, fast %zu", cdx_diags_count(da), cdx_diags_count(db));
		rc = -1;
	}
	for (i = 0; !rc && i < cdx_diags_count(da); i++) {
		const struct cdx_diag *x = cdx_diags_get(da, i), *y = cdx_diags_get(db, i);
		if (x->line != y->line || x->col != y->col || strcmp(x->msg, y->msg)) {
			snprintf(why, n, "problem %d:%d %s against %d:%d %s", x->line, x->col, x->msg, y->line, y->col,
				 y->msg);
			rc = -1;
		}
	}
	cdx_yaml_free(a);
	cdx_yaml_free(b);
	cdx_diags_free(da);
	cdx_diags_free(db);
	return rc;
}

#endif /* CDX_YCOMPARE_H */
