/* diag.h — appending to a struct cdx_diags (internal side of the list
 * declared in cdx.h). */
#ifndef CDX_DIAG_H
#define CDX_DIAG_H

#include <stdarg.h>

#include "base/util.h"

/* at most this many problems are kept; more are silently dropped */
#define CDX_DIAGS_MAX 1000

/* cdx_diags_add: append a problem at FILE:LINE:COL (1-based, 0 = unknown).
 * D may be NULL, in which case nothing happens. */
void cdx_diags_add(struct cdx_diags *d, const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void cdx_diags_addv(struct cdx_diags *d, const char *file, int line, int col, const char *fmt, va_list ap);

/* cdx_diags_append: add every problem of FROM to TO (either may be NULL) */
void cdx_diags_append(struct cdx_diags *to, const struct cdx_diags *from);

/* cdx_diag_format: append "FILE:LINE:COL: message" to OUT */
void cdx_diag_format(const struct cdx_diag *g, struct cdx_buf *out);

#endif /* CDX_DIAG_H */
