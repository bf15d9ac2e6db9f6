/* jcompare.h — tools/job/json.c against libcjson, in one program: the
 * build links json.c with every function renamed mine_cJSON_* (objcopy
 * --redefine-syms), so that both implementations sit side by side.
 * Shared by tests/unit/test_json.c and tests/fuzz/fuzz_json.c. */
#ifndef CDX_JCOMPARE_H
#define CDX_JCOMPARE_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *mine_cJSON_ParseWithLength(const char *value, size_t buffer_length);
cJSON *mine_cJSON_Parse(const char *value);
char *mine_cJSON_Print(const cJSON *item);
char *mine_cJSON_PrintUnformatted(const cJSON *item);
void mine_cJSON_Delete(cJSON *item);
cJSON *mine_cJSON_Duplicate(const cJSON *item, cJSON_bool recurse);
int mine_cJSON_GetArraySize(const cJSON *array);
cJSON *mine_cJSON_GetArrayItem(const cJSON *array, int index);
cJSON *mine_cJSON_GetObjectItem(const cJSON *const object, const char *const string);
cJSON *mine_cJSON_CreateObject(void);
cJSON *mine_cJSON_CreateArray(void);
cJSON *mine_cJSON_CreateString(const char *string);
cJSON *mine_cJSON_CreateNumber(double num);
cJSON *mine_cJSON_CreateIntArray(const int *numbers, int count);
cJSON *mine_cJSON_CreateStringArray(const char *const *strings, int count);
cJSON_bool mine_cJSON_AddItemToArray(cJSON *array, cJSON *item);
cJSON_bool mine_cJSON_AddItemToObject(cJSON *object, const char *string, cJSON *item);
cJSON *mine_cJSON_AddStringToObject(cJSON *const object, const char *const name, const char *const string);
cJSON *mine_cJSON_AddNumberToObject(cJSON *const object, const char *const name, const double number);
cJSON *mine_cJSON_AddBoolToObject(cJSON *const object, const char *const name, const cJSON_bool boolean);
cJSON *mine_cJSON_AddNullToObject(cJSON *const object, const char *const name);
cJSON *mine_cJSON_AddTrueToObject(cJSON *const object, const char *const name);
cJSON *mine_cJSON_AddArrayToObject(cJSON *const object, const char *const name);
cJSON *mine_cJSON_AddObjectToObject(cJSON *const object, const char *const name);
cJSON *mine_cJSON_DetachItemFromArray(cJSON *array, int which);
cJSON *mine_cJSON_DetachItemViaPointer(cJSON *parent, cJSON *const item);
void mine_cJSON_DeleteItemFromObject(cJSON *object, const char *string);
void mine_cJSON_DeleteItemFromArray(cJSON *array, int which);
cJSON_bool mine_cJSON_ReplaceItemInObject(cJSON *object, const char *string, cJSON *newitem);
double mine_cJSON_SetNumberHelper(cJSON *object, double number);

/* whether two printed texts agree (both NULL counts) */
static int jsame(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* jcompare: parse DATA (SIZE bytes) with both; json.c may refuse what
 * libcjson reads (it is stricter), never the other way round, and what
 * both read must print the same, formatted and not, also after
 * Duplicate and after reading its own output again.  0, or -1 with the
 * first difference in WHY. */
static int jcompare(const char *data, size_t size, char *why, size_t cap)
{
	cJSON *theirs = cJSON_ParseWithLength(data, size), *mine = mine_cJSON_ParseWithLength(data, size);
	cJSON *dup = NULL, *again = NULL;
	char *t1 = NULL, *t2 = NULL, *m1 = NULL, *m2 = NULL, *d1 = NULL, *a1 = NULL;
	int rc = 0;
	if (mine && !theirs) {
		snprintf(why, cap, "json.c read what libcjson refuses");
		rc = -1;
		goto out;
	}
	if (!mine)
		goto out;
	t1 = cJSON_PrintUnformatted(theirs);
	m1 = mine_cJSON_PrintUnformatted(mine);
	t2 = cJSON_Print(theirs);
	m2 = mine_cJSON_Print(mine);
	dup = mine_cJSON_Duplicate(mine, 1);
	d1 = mine_cJSON_PrintUnformatted(dup);
	again = m1 ? mine_cJSON_Parse(m1) : NULL;
	a1 = again ? mine_cJSON_PrintUnformatted(again) : NULL;
	if (!jsame(t1, m1))
		snprintf(why, cap, "unformatted: libcjson %.200s, json.c %.200s", t1 ? t1 : "(null)", m1 ? m1 : "(null)");
	else if (!jsame(t2, m2))
		snprintf(why, cap, "formatted: libcjson %.200s, json.c %.200s", t2 ? t2 : "(null)", m2 ? m2 : "(null)");
	else if (!jsame(m1, d1))
		snprintf(why, cap, "duplicate prints %.200s, not %.200s", d1 ? d1 : "(null)", m1 ? m1 : "(null)");
	else if (!jsame(m1, a1))
		snprintf(why, cap, "its own output reads back as %.200s, not %.200s", a1 ? a1 : "(null)",
			 m1 ? m1 : "(null)");
	else
		goto out;
	rc = -1;
out:
	free(t1);
	free(t2);
	free(m1);
	free(m2);
	free(d1);
	free(a1);
	cJSON_Delete(theirs);
	mine_cJSON_Delete(mine);
	mine_cJSON_Delete(dup);
	mine_cJSON_Delete(again);
	return rc;
}

#endif /* CDX_JCOMPARE_H */
