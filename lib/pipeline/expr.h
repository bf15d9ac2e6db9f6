/* expr.h — the `rules: if:` expression language (GitLab's), parsed once at
 * load and evaluated against variables; never given to a shell.
 *
 *   expr    := or
 *   or      := and ( '||' and )*
 *   and     := primary ( '&&' primary )*          (&& binds tighter)
 *   primary := '(' expr ')'
 *            | operand                             true when set and non-empty
 *            | operand ( '==' | '!=' ) operand
 *            | operand ( '=~' | '!~' ) ( /RE/FLAGS | $VAR holding /RE/FLAGS )
 *   operand := $NAME | ${NAME} | "string" | 'string' | null
 *
 * A variable that is not set is null: `$X == null` is true when X is not
 * set, `$X == ""` when it is set and empty.  RE is a POSIX extended regular
 * expression (regcomp REG_EXTENDED), searched anywhere in the value unless
 * anchored; FLAGS may be `i` (ignore case).  `\/` in RE is a slash.
 * Everything is bounded so that hostile input can neither hang nor blow
 * the stack: CDX_EXPR_MAX bytes of expression, CDX_EXPR_DEPTH levels of
 * parentheses, CDX_EXPR_RE_MAX bytes of regex with a bounded expansion
 * of its repetitions and no back-references, CDX_EXPR_SUBJECT_MAX bytes of
 * a value matched against a regex.
 */
#ifndef CDX_EXPR_H
#define CDX_EXPR_H

#include <stddef.h>

#include "base/diag.h"

#define CDX_EXPR_MAX 4096
#define CDX_EXPR_DEPTH 64
#define CDX_EXPR_RE_MAX 512
#define CDX_EXPR_RE_WEIGHT 4000 /* regex nodes once repetitions {m,n} are expanded */
#define CDX_EXPR_SUBJECT_MAX (64u * 1024)

struct cdx_expr;

/* cdx_expr_lookup: the value of variable NAME, or NULL when it is not set */
typedef const char *(*cdx_expr_lookup)(void *ctx, const char *name);

/* cdx_expr_parse: SRC (NUL-terminated) as an expression, written in FILE
 * with SRC[0] at LINE:COL.  NULL with problems added to D (at the column
 * of the offending token; a newline in SRC moves to the next line, col 1)
 * on an error.  Free with cdx_expr_free. */
struct cdx_expr *cdx_expr_parse(const char *src, const char *file, int line, int col, struct cdx_diags *d);
/* cdx_expr_eval: 1 true, 0 false; -1 when a value could not be matched
 * (longer than CDX_EXPR_SUBJECT_MAX, or a variable holding a bad regex),
 * with the reason in WHY[WHY_SIZE] when WHY is given */
int cdx_expr_eval(const struct cdx_expr *e, cdx_expr_lookup lookup, void *ctx, char *why, size_t why_size);
/* cdx_expr_vars: call FN for every variable E reads, in order */
void cdx_expr_vars(const struct cdx_expr *e, void (*fn)(void *ctx, const char *name), void *ctx);
void cdx_expr_free(struct cdx_expr *e);

#endif /* CDX_EXPR_H */
