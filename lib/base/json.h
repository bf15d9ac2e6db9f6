/* json.h — reading fields of cJSON objects: the one set of getters of
 * libcdx, for records, holders and results alike.
 *
 * Every getter takes an object O (NULL or not an object is fine: the field
 * is then absent) and a key K, looked up as cJSON_GetObjectItem does (the
 * first member of that name, ASCII case ignored).  A field that is absent
 * or of another type yields the documented fallback, never a crash, so a
 * malformed record reads as one with missing fields.  The names are short
 * on purpose: they sit inside long expressions.  Strings returned point
 * into O and live as long as it does. */
#ifndef CDX_JSON_H
#define CDX_JSON_H

#include <stdbool.h>

struct cJSON;

/* cdx_js: the string K of O, "" when absent or not a string */
const char *cdx_js(const struct cJSON *o, const char *k);

/* cdx_jsn: the string K of O, NULL when absent or not a string */
const char *cdx_jsn(const struct cJSON *o, const char *k);

/* cdx_jn: the number K of O, 0 when absent or not a number (never NaN, so
 * it can be cast to an integer) */
double cdx_jn(const struct cJSON *o, const char *k);

/* cdx_jnd: the number K of O, DEF when absent or not a number */
double cdx_jnd(const struct cJSON *o, const char *k, double def);

/* cdx_jb: the boolean K of O, DEF when absent or not true/false */
bool cdx_jb(const struct cJSON *o, const char *k, bool def);

#endif /* CDX_JSON_H */
