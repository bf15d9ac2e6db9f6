/* test_json.c — tools/job/json.c, the cJSON API of the static cdx-job,
 * against libcjson itself (jcompare.h): the same texts read and printed
 * the same way, the same trees built, changed and printed, and what it
 * refuses on purpose. */
#include "fixtures.h"

#include <math.h>
#include <stdbool.h>

#include "util.h"

#include "../fuzz/jcompare.h"

static void reads_and_prints_as_libcjson(void **state)
{
	static const char *const texts[] = {
		"{}", "[]", "null", "true", "false", "0", "-0", "1", "-1", "0.5", "-2.5e-3", "1E+2", "1e400",
		"2147483647", "2147483648", "-2147483648", "-2147483649", "1795542732511", "1.7954e18",
		"0.1", "3.14159265358979", "123456789012345678", "1.5e-310",
		"\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u20ac\\ud83d\\ude00\"",
		"\"caf\xc3\xa9\"", "\"\\u0001\\u001f\"", "\"a\\u0000b\"",
		"{\"a\":1,\"b\":[1,2,{\"c\":null}],\"d\":{\"e\":{}},\"f\":[]}",
		"  {\n\t\"key\" : \"value\" ,\r\n \"n\" : [ true , false ] }  ",
		"{\"a\":1} trailing text", "[1,2,3]x", "{\"A\":1,\"a\":2}",
		"{\"name\":\"dag\",\"variables\":{},\"stages\":[{\"name\":\"s00\",\"needs\":[],\"jobs\":[{\"name\":"
		"\"j0005\",\"script\":\"true\",\"retry\":{\"max\":0,\"when\":[\"script_failure\"]}}]}]}",
		"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
	};
	size_t i;
	char why[600];
	(void)state;
	for (i = 0; i < CDX_ARRAY_LEN(texts); i++) {
		cJSON *m = mine_cJSON_Parse(texts[i]);
		if (jcompare(texts[i], strlen(texts[i]), why, sizeof(why)) < 0)
			fail_msg("%s: %s", texts[i], why);
		if (!m)
			fail_msg("json.c refused %s", texts[i]); /* every one of them is JSON */
		mine_cJSON_Delete(m);
	}
}

/* what json.c refuses: not JSON, whatever libcjson makes of it */
static void refuses_what_is_not_json(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "[", "]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{a:1}", "'a'",
		"\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\tb\"", "\"a\nb\"",
		"01", "-", "1.", ".5", "1e", "1e+", "+1", "tru", "nul", "falsy", "NaN", "Infinity",
		"[1,2", "{\"a\":[}", "\x01",
	};
	size_t i;
	char why[600];
	cJSON *m;
	(void)state;
	for (i = 0; i < CDX_ARRAY_LEN(bad); i++) {
		m = mine_cJSON_Parse(bad[i]);
		if (m)
			fail_msg("json.c read %s", bad[i]);
		if (jcompare(bad[i], strlen(bad[i]), why, sizeof(why)) < 0)
			fail_msg("%s: %s", bad[i], why);
	}
	assert_null(mine_cJSON_Parse(NULL));
	assert_null(mine_cJSON_ParseWithLength("{}", 0));
	m = mine_cJSON_ParseWithLength("{}xyz", 2); /* only the length given is read */
	assert_non_null(m);
	mine_cJSON_Delete(m);
}

static void nesting_is_limited(void **state)
{
	size_t n = CJSON_NESTING_LIMIT + 1, i;
	char *deep = malloc(2 * n + 1);
	cJSON *m;
	(void)state;
	for (i = 0; i < n; i++) {
		deep[i] = '[';
		deep[n + i] = ']';
	}
	deep[2 * n] = '\0';
	assert_null(mine_cJSON_Parse(deep));
	/* one level less is read */
	m = mine_cJSON_ParseWithLength(deep + 1, 2 * n - 2);
	assert_non_null(m);
	mine_cJSON_Delete(m);
	free(deep);
}

/* one tree built with each API, step by step: the same text at the end */
static cJSON *build(bool mine)
{
	static const char *const words[] = {"a", "b\"q", "c\n"};
	static const int ints[] = {1, -2, 2147483647};
	static const double nums[] = {0, -0.0, 1.5, 1e21, 1795542732511.0, 0.1 + 0.2, 1.0 / 3, 123456.789, -1e-7};
	cJSON *o = mine ? mine_cJSON_CreateObject() : cJSON_CreateObject(), *a, *x;
	size_t i;
	char key[16];
	for (i = 0; i < CDX_ARRAY_LEN(nums); i++) {
		snprintf(key, sizeof(key), "n%zu", i);
		(mine ? mine_cJSON_AddNumberToObject : cJSON_AddNumberToObject)(o, key, nums[i]);
	}
	(mine ? mine_cJSON_AddStringToObject : cJSON_AddStringToObject)(o, "s", "tab\there \x01 \xc3\xa9");
	(mine ? mine_cJSON_AddBoolToObject : cJSON_AddBoolToObject)(o, "b", 0);
	(mine ? mine_cJSON_AddTrueToObject : cJSON_AddTrueToObject)(o, "t");
	(mine ? mine_cJSON_AddNullToObject : cJSON_AddNullToObject)(o, "z");
	(mine ? mine_cJSON_AddObjectToObject : cJSON_AddObjectToObject)(o, "empty");
	a = (mine ? mine_cJSON_AddArrayToObject : cJSON_AddArrayToObject)(o, "list");
	for (i = 0; i < 5; i++)
		(mine ? mine_cJSON_AddItemToArray : cJSON_AddItemToArray)(
			a, (mine ? mine_cJSON_CreateNumber : cJSON_CreateNumber)((double)i));
	(mine ? mine_cJSON_DeleteItemFromArray : cJSON_DeleteItemFromArray)(a, 0);     /* the first */
	(mine ? mine_cJSON_DeleteItemFromArray : cJSON_DeleteItemFromArray)(a, 3);     /* the last */
	x = (mine ? mine_cJSON_DetachItemFromArray : cJSON_DetachItemFromArray)(a, 1); /* the middle */
	(mine ? mine_cJSON_AddItemToArray : cJSON_AddItemToArray)(a, x);
	(mine ? mine_cJSON_AddItemToObject : cJSON_AddItemToObject)(
		o, "ints", (mine ? mine_cJSON_CreateIntArray : cJSON_CreateIntArray)(ints, 3));
	(mine ? mine_cJSON_AddItemToObject : cJSON_AddItemToObject)(
		o, "words", (mine ? mine_cJSON_CreateStringArray : cJSON_CreateStringArray)(words, 3));
	/* replace the first, a middle and the last member; a key in other case */
	(mine ? mine_cJSON_ReplaceItemInObject : cJSON_ReplaceItemInObject)(
		o, "N0", (mine ? mine_cJSON_CreateString : cJSON_CreateString)("first"));
	(mine ? mine_cJSON_ReplaceItemInObject : cJSON_ReplaceItemInObject)(
		o, "s", (mine ? mine_cJSON_CreateNumber : cJSON_CreateNumber)(7));
	(mine ? mine_cJSON_ReplaceItemInObject : cJSON_ReplaceItemInObject)(
		o, "words", (mine ? mine_cJSON_CreateArray : cJSON_CreateArray)());
	(mine ? mine_cJSON_DeleteItemFromObject : cJSON_DeleteItemFromObject)(o, "T");
	(mine ? mine_cJSON_AddNumberToObject : cJSON_AddNumberToObject)(o, "nan", NAN);
	(mine ? mine_cJSON_AddNumberToObject : cJSON_AddNumberToObject)(o, "inf", -INFINITY);
	return o;
}

static void builds_as_libcjson(void **state)
{
	cJSON *t = build(false), *m = build(true);
	char *ts = cJSON_Print(t), *ms = mine_cJSON_Print(m), *tu = cJSON_PrintUnformatted(t),
	     *mu = mine_cJSON_PrintUnformatted(m);
	(void)state;
	assert_string_equal(ms, ts);
	assert_string_equal(mu, tu);
	assert_int_equal(mine_cJSON_GetArraySize(m), cJSON_GetArraySize(t));
	assert_string_equal(mine_cJSON_GetObjectItem(m, "N0")->valuestring, "first");
	assert_null(mine_cJSON_GetArrayItem(m, -1));
	assert_null(mine_cJSON_GetObjectItem(m, "T"));
	/* the saturated integer of a number */
	assert_int_equal(mine_cJSON_GetObjectItem(m, "n4")->valueint, cJSON_GetObjectItem(t, "n4")->valueint);
	free(ts);
	free(ms);
	free(tu);
	free(mu);
	cJSON_Delete(t);
	mine_cJSON_Delete(m);
}

/* the last member detached, then one added: prev of the first is right */
static void detach_keeps_the_list(void **state)
{
	cJSON *m = mine_cJSON_Parse("[1,2,3]"), *last;
	char *s;
	(void)state;
	last = mine_cJSON_DetachItemViaPointer(m, mine_cJSON_GetArrayItem(m, 2));
	mine_cJSON_AddItemToArray(m, mine_cJSON_CreateNumber(9));
	mine_cJSON_AddItemToArray(m, last);
	s = mine_cJSON_PrintUnformatted(m);
	assert_string_equal(s, "[1,2,9,3]");
	free(s);
	assert_ptr_equal(m->child->prev, last);
	while (m->child)
		mine_cJSON_Delete(mine_cJSON_DetachItemViaPointer(m, m->child));
	s = mine_cJSON_PrintUnformatted(m);
	assert_string_equal(s, "[]");
	free(s);
	mine_cJSON_Delete(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_and_prints_as_libcjson),
		cmocka_unit_test(refuses_what_is_not_json),
		cmocka_unit_test(nesting_is_limited),
		cmocka_unit_test(builds_as_libcjson),
		cmocka_unit_test(detach_keeps_the_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
