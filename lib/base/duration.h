/* duration.h — parsing durations: "90", "0.25", "500ms", "30s", "10m", "1h".
 * A bare number is seconds and may be fractional. */
#ifndef CDX_DURATION_H
#define CDX_DURATION_H

#include <stdint.h>

/* largest accepted duration: 30 days */
#define CDX_DURATION_MAX_MS ((int64_t)30 * 24 * 3600 * 1000)

/* cdx_duration_parse: milliseconds (rounded to the nearest, never below 1
 * for a positive value) in *MS, 0 on success; -1 with a static reason in
 * *WHY when S is not a duration or is out of range (0 .. 30 days). */
int cdx_duration_parse(const char *s, int64_t *ms, const char **why);

/* cdx_duration_format: "1.5s", "250ms", "10m", "2h5m" into BUF */
void cdx_duration_format(int64_t ms, char *buf, unsigned size);

#endif /* CDX_DURATION_H */
