/* json.c — the getters of cJSON object fields (see json.h). */
#include "base/json.h"

#include <cjson/cJSON.h>

const char *cdx_js(const cJSON *o, const char *k)
{
	const char *s = cdx_jsn(o, k);
	return s ? s : "";
}

const char *cdx_jsn(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

double cdx_jn(const cJSON *o, const char *k)
{
	return cdx_jnd(o, k, 0);
}

double cdx_jnd(const cJSON *o, const char *k, double def)
{
	const cJSON *n = cJSON_GetObjectItem(o, k);
	return cJSON_IsNumber(n) ? n->valuedouble : def;
}

bool cdx_jb(const cJSON *o, const char *k, bool def)
{
	const cJSON *b = cJSON_GetObjectItem(o, k);
	return cJSON_IsBool(b) ? cJSON_IsTrue(b) : def;
}
