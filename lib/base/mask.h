/* mask.h — masking secret values in a stream of output.
 *
 * Each secret value is replaced by "***" wherever it appears, also when it
 * arrives split across two (or more) writes: the mask holds back at most
 * (longest secret - 1) bytes that could be the start of a secret, and
 * releases them when the next chunk shows they are not (or at flush).
 * Empty secrets are ignored.
 */
#ifndef CDX_MASK_H
#define CDX_MASK_H

#include <stddef.h>

#include "base/util.h"

struct cdx_mask;

/* cdx_mask_new: a mask for the NULL-terminated list SECRETS (copied; NULL
 * or empty list = pass-through).  Free with cdx_mask_free(). */
struct cdx_mask *cdx_mask_new(const char *const *secrets);
void cdx_mask_free(struct cdx_mask *m);

/* cdx_mask_feed: append to OUT the masked text that is certain given the
 * LEN new bytes at DATA; bytes that may start a secret are held back. */
void cdx_mask_feed(struct cdx_mask *m, const char *data, size_t len, struct cdx_buf *out);

/* cdx_mask_flush: append whatever is held back (the stream ended). */
void cdx_mask_flush(struct cdx_mask *m, struct cdx_buf *out);

/* cdx_mask_string: a masked copy of S (free with free()). */
char *cdx_mask_string(const char *const *secrets, const char *s);

#endif /* CDX_MASK_H */
