/* json.c — cJSON's API, for the one program that links statically.
 *
 * Every cdx program uses libcjson, except cdx-job (tools/job/main.c), the
 * runner of each job that GNU make starts through $(cdx-pipeline): it is
 * linked statically, so that starting it costs no dynamic loader (which
 * was two thirds of the page faults of a job), and Debian ships libcjson
 * only as a shared library.  This file implements the part of cJSON's API
 * that libcdx calls, against cJSON's own header, so that the code compiled
 * for either is the same; the unit test and the fuzz target check it
 * against libcjson itself, text for text.
 *
 * What it does as cJSON 1.7 does: a tree of struct cJSON whose first child
 * has `prev` pointing to the last one; GetObjectItem compares keys without
 * case; numbers keep a saturated `valueint`; printing writes a number
 * with %1.15g, or %1.17g when that does not read back, and NaN or
 * infinity as null; parsing stops after the first value (what
 * follows is not looked at) and nests at most CJSON_NESTING_LIMIT deep.
 * Unlike cJSON, a raw control character inside a string is refused, as
 * RFC 8259 says; cJSON never writes one.  Allocation failure aborts, as
 * everywhere in cdx (cdx_xmalloc).
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- items --------------------------------------------------------------- */

static cJSON *item_new(int type)
{
	cJSON *it = cdx_xcalloc(1, sizeof(*it));
	it->type = type;
	return it;
}

void cJSON_Delete(cJSON *item)
{
	while (item) {
		cJSON *next = item->next;
		if (!(item->type & cJSON_IsReference)) {
			cJSON_Delete(item->child);
			free(item->valuestring);
		}
		if (!(item->type & cJSON_StringIsConst))
			free(item->string);
		free(item);
		item = next;
	}
}

static int saturate(double d)
{
	if (d >= INT_MAX)
		return INT_MAX;
	if (d <= (double)INT_MIN)
		return INT_MIN;
	return (int)d;
}

double cJSON_SetNumberHelper(cJSON *object, double number)
{
	object->valueint = saturate(number);
	object->valuedouble = number;
	return number;
}

cJSON *cJSON_CreateObject(void)
{
	return item_new(cJSON_Object);
}

cJSON *cJSON_CreateArray(void)
{
	return item_new(cJSON_Array);
}

cJSON *cJSON_CreateTrue(void)
{
	return item_new(cJSON_True);
}

cJSON *cJSON_CreateFalse(void)
{
	return item_new(cJSON_False);
}

cJSON *cJSON_CreateBool(cJSON_bool boolean)
{
	return item_new(boolean ? cJSON_True : cJSON_False);
}

cJSON *cJSON_CreateNull(void)
{
	return item_new(cJSON_NULL);
}

cJSON *cJSON_CreateNumber(double num)
{
	cJSON *it = item_new(cJSON_Number);
	cJSON_SetNumberHelper(it, num);
	return it;
}

cJSON *cJSON_CreateString(const char *string)
{
	cJSON *it;
	if (!string)
		return NULL;
	it = item_new(cJSON_String);
	it->valuestring = cdx_xstrdup(string);
	return it;
}

cJSON *cJSON_CreateRaw(const char *raw)
{
	cJSON *it;
	if (!raw)
		return NULL;
	it = item_new(cJSON_Raw);
	it->valuestring = cdx_xstrdup(raw);
	return it;
}

/* ---- arrays and objects --------------------------------------------------- */

cJSON_bool cJSON_AddItemToArray(cJSON *array, cJSON *item)
{
	cJSON *first;
	if (!array || !item || array == item)
		return 0;
	first = array->child;
	if (!first) {
		array->child = item;
		item->prev = item;
		item->next = NULL;
	} else {
		item->prev = first->prev; /* the last one */
		item->next = NULL;
		first->prev->next = item;
		first->prev = item;
	}
	return 1;
}

cJSON_bool cJSON_AddItemToObject(cJSON *object, const char *string, cJSON *item)
{
	char *key;
	if (!object || !string || !item || object == item)
		return 0;
	key = cdx_xstrdup(string);
	if (!(item->type & cJSON_StringIsConst))
		free(item->string);
	item->string = key;
	item->type &= ~cJSON_StringIsConst;
	return cJSON_AddItemToArray(object, item);
}

/* add a new item under NAME; it is freed and NULL returned when it cannot */
static cJSON *add_new(cJSON *object, const char *name, cJSON *item)
{
	if (cJSON_AddItemToObject(object, name, item))
		return item;
	cJSON_Delete(item);
	return NULL;
}

cJSON *cJSON_AddNullToObject(cJSON *const object, const char *const name)
{
	return add_new(object, name, cJSON_CreateNull());
}

cJSON *cJSON_AddTrueToObject(cJSON *const object, const char *const name)
{
	return add_new(object, name, cJSON_CreateTrue());
}

cJSON *cJSON_AddFalseToObject(cJSON *const object, const char *const name)
{
	return add_new(object, name, cJSON_CreateFalse());
}

cJSON *cJSON_AddBoolToObject(cJSON *const object, const char *const name, const cJSON_bool boolean)
{
	return add_new(object, name, cJSON_CreateBool(boolean));
}

cJSON *cJSON_AddNumberToObject(cJSON *const object, const char *const name, const double number)
{
	return add_new(object, name, cJSON_CreateNumber(number));
}

cJSON *cJSON_AddStringToObject(cJSON *const object, const char *const name, const char *const string)
{
	return add_new(object, name, cJSON_CreateString(string));
}

cJSON *cJSON_AddRawToObject(cJSON *const object, const char *const name, const char *const raw)
{
	return add_new(object, name, cJSON_CreateRaw(raw));
}

cJSON *cJSON_AddObjectToObject(cJSON *const object, const char *const name)
{
	return add_new(object, name, cJSON_CreateObject());
}

cJSON *cJSON_AddArrayToObject(cJSON *const object, const char *const name)
{
	return add_new(object, name, cJSON_CreateArray());
}

cJSON *cJSON_CreateIntArray(const int *numbers, int count)
{
	cJSON *a;
	int i;
	if (count < 0 || (!numbers && count))
		return NULL;
	a = cJSON_CreateArray();
	for (i = 0; i < count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(numbers[i]));
	return a;
}

cJSON *cJSON_CreateStringArray(const char *const *strings, int count)
{
	cJSON *a;
	int i;
	if (count < 0 || (!strings && count))
		return NULL;
	a = cJSON_CreateArray();
	for (i = 0; i < count; i++) {
		cJSON *s = cJSON_CreateString(strings[i]);
		if (!s) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, s);
	}
	return a;
}

int cJSON_GetArraySize(const cJSON *array)
{
	const cJSON *c;
	int n = 0;
	if (!array)
		return 0;
	for (c = array->child; c; c = c->next)
		n++;
	return n;
}

cJSON *cJSON_GetArrayItem(const cJSON *array, int index)
{
	cJSON *c;
	if (!array || index < 0)
		return NULL;
	for (c = array->child; c && index > 0; c = c->next)
		index--;
	return c;
}

static int key_cmp(const char *a, const char *b, bool exact)
{
	if (exact)
		return strcmp(a, b);
	for (; tolower((unsigned char)*a) == tolower((unsigned char)*b); a++, b++)
		if (!*a)
			return 0;
	return tolower((unsigned char)*a) - tolower((unsigned char)*b);
}

static cJSON *find(const cJSON *object, const char *key, bool exact)
{
	cJSON *c;
	if (!object || !key)
		return NULL;
	for (c = object->child; c; c = c->next)
		if (c->string && key_cmp(c->string, key, exact) == 0)
			return c;
	return NULL;
}

cJSON *cJSON_GetObjectItem(const cJSON *const object, const char *const string)
{
	return find(object, string, false);
}

cJSON *cJSON_GetObjectItemCaseSensitive(const cJSON *const object, const char *const string)
{
	return find(object, string, true);
}

cJSON_bool cJSON_HasObjectItem(const cJSON *object, const char *string)
{
	return find(object, string, false) != NULL;
}

cJSON *cJSON_DetachItemViaPointer(cJSON *parent, cJSON *const item)
{
	if (!parent || !item)
		return NULL;
	if (item != parent->child)
		item->prev->next = item->next;
	if (item->next)
		item->next->prev = item->prev;
	if (item == parent->child)
		parent->child = item->next;
	else if (!item->next)
		parent->child->prev = item->prev; /* the last one left */
	item->prev = NULL;
	item->next = NULL;
	return item;
}

cJSON *cJSON_DetachItemFromArray(cJSON *array, int which)
{
	return cJSON_DetachItemViaPointer(array, cJSON_GetArrayItem(array, which));
}

void cJSON_DeleteItemFromArray(cJSON *array, int which)
{
	cJSON_Delete(cJSON_DetachItemFromArray(array, which));
}

cJSON *cJSON_DetachItemFromObject(cJSON *object, const char *string)
{
	return cJSON_DetachItemViaPointer(object, find(object, string, false));
}

cJSON *cJSON_DetachItemFromObjectCaseSensitive(cJSON *object, const char *string)
{
	return cJSON_DetachItemViaPointer(object, find(object, string, true));
}

void cJSON_DeleteItemFromObject(cJSON *object, const char *string)
{
	cJSON_Delete(cJSON_DetachItemFromObject(object, string));
}

void cJSON_DeleteItemFromObjectCaseSensitive(cJSON *object, const char *string)
{
	cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(object, string));
}

cJSON_bool cJSON_ReplaceItemViaPointer(cJSON *const parent, cJSON *const item, cJSON *replacement)
{
	if (!parent || !parent->child || !item || !replacement)
		return 0;
	if (replacement == item)
		return 1;
	replacement->next = item->next;
	replacement->prev = item->prev;
	if (replacement->next)
		replacement->next->prev = replacement;
	if (parent->child == item) {
		if (parent->child->prev == parent->child)
			replacement->prev = replacement; /* the only one */
		parent->child = replacement;
	} else {
		if (replacement->prev)
			replacement->prev->next = replacement;
		if (!replacement->next)
			parent->child->prev = replacement; /* the new last one */
	}
	item->next = NULL;
	item->prev = NULL;
	cJSON_Delete(item);
	return 1;
}

static cJSON_bool replace_in_object(cJSON *object, const char *string, cJSON *replacement, bool exact)
{
	if (!replacement || !string)
		return 0;
	if (!(replacement->type & cJSON_StringIsConst))
		free(replacement->string);
	replacement->string = cdx_xstrdup(string);
	replacement->type &= ~cJSON_StringIsConst;
	return cJSON_ReplaceItemViaPointer(object, find(object, string, exact), replacement);
}

cJSON_bool cJSON_ReplaceItemInObject(cJSON *object, const char *string, cJSON *newitem)
{
	return replace_in_object(object, string, newitem, false);
}

cJSON_bool cJSON_ReplaceItemInObjectCaseSensitive(cJSON *object, const char *string, cJSON *newitem)
{
	return replace_in_object(object, string, newitem, true);
}

static cJSON *duplicate(const cJSON *item, bool recurse, int depth)
{
	cJSON *copy, *c;
	if (!item || depth > CJSON_NESTING_LIMIT)
		return NULL;
	copy = item_new(item->type & ~cJSON_IsReference);
	copy->valueint = item->valueint;
	copy->valuedouble = item->valuedouble;
	if (item->valuestring)
		copy->valuestring = cdx_xstrdup(item->valuestring);
	if (item->string)
		copy->string = item->type & cJSON_StringIsConst ? item->string : cdx_xstrdup(item->string);
	if (!recurse)
		return copy;
	for (c = item->child; c; c = c->next) {
		cJSON *k = duplicate(c, true, depth + 1);
		if (!k) {
			cJSON_Delete(copy);
			return NULL;
		}
		cJSON_AddItemToArray(copy, k);
	}
	return copy;
}

cJSON *cJSON_Duplicate(const cJSON *item, cJSON_bool recurse)
{
	return duplicate(item, recurse != 0, 0);
}

/* ---- reading values ------------------------------------------------------- */

cJSON_bool cJSON_IsInvalid(const cJSON *const item)
{
	return item && (item->type & 0xFF) == cJSON_Invalid;
}

#define TYPE_IS(name, t)                                                                                   \
	cJSON_bool cJSON_Is##name(const cJSON *const item)                                                 \
	{                                                                                                  \
		return item && (item->type & 0xFF) == (t);                                                 \
	}
TYPE_IS(False, cJSON_False)
TYPE_IS(True, cJSON_True)
TYPE_IS(Null, cJSON_NULL)
TYPE_IS(Number, cJSON_Number)
TYPE_IS(String, cJSON_String)
TYPE_IS(Array, cJSON_Array)
TYPE_IS(Object, cJSON_Object)
TYPE_IS(Raw, cJSON_Raw)

cJSON_bool cJSON_IsBool(const cJSON *const item)
{
	return item && (item->type & (cJSON_True | cJSON_False)) != 0;
}

char *cJSON_GetStringValue(const cJSON *const item)
{
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

double cJSON_GetNumberValue(const cJSON *const item)
{
	return cJSON_IsNumber(item) ? item->valuedouble : (double)NAN;
}

/* ---- parsing -------------------------------------------------------------- */

struct reader {
	const char *p, *end;
	int depth;
};

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int hex4(const char *p, const char *end)
{
	int v = 0, i;
	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		int c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* a string at r->p (the opening quote): malloc'd UTF-8, or NULL */
static char *read_string(struct reader *r)
{
	struct cdx_buf b = {0};
	const char *p = r->p + 1;
	while (p < r->end && *p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			goto fail;
		if (c != '\\') {
			const char *q = p;
			while (q < r->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
				q++;
			cdx_buf_add(&b, p, (size_t)(q - p));
			p = q;
			continue;
		}
		if (++p >= r->end)
			goto fail;
		switch (*p) {
		case '"': cdx_buf_addc(&b, '"'); break;
		case '\\': cdx_buf_addc(&b, '\\'); break;
		case '/': cdx_buf_addc(&b, '/'); break;
		case 'b': cdx_buf_addc(&b, '\b'); break;
		case 'f': cdx_buf_addc(&b, '\f'); break;
		case 'n': cdx_buf_addc(&b, '\n'); break;
		case 'r': cdx_buf_addc(&b, '\r'); break;
		case 't': cdx_buf_addc(&b, '\t'); break;
		case 'u': {
			long cp = hex4(p + 1, r->end);
			char u[4];
			size_t n;
			if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
				goto fail;
			p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				long lo;
				if (r->end - p < 7 || p[1] != '\\' || p[2] != 'u')
					goto fail;
				lo = hex4(p + 3, r->end);
				if (lo < 0xDC00 || lo > 0xDFFF)
					goto fail;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			if (cp < 0x80) {
				u[0] = (char)cp;
				n = 1;
			} else if (cp < 0x800) {
				u[0] = (char)(0xC0 | (cp >> 6));
				u[1] = (char)(0x80 | (cp & 0x3F));
				n = 2;
			} else if (cp < 0x10000) {
				u[0] = (char)(0xE0 | (cp >> 12));
				u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
				u[2] = (char)(0x80 | (cp & 0x3F));
				n = 3;
			} else {
				u[0] = (char)(0xF0 | (cp >> 18));
				u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
				u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
				u[3] = (char)(0x80 | (cp & 0x3F));
				n = 4;
			}
			cdx_buf_add(&b, u, n);
			break;
		}
		default: goto fail;
		}
		p++;
	}
	if (p >= r->end)
		goto fail;
	r->p = p + 1;
	if (!b.data)
		return cdx_xstrdup("");
	return b.data;
fail:
	cdx_buf_free(&b);
	return NULL;
}

/* a number as JSON writes it (RFC 8259); false when there is none */
static bool read_number(struct reader *r, double *out)
{
	const char *p = r->p, *start = p;
	char tmp[64], *copy = tmp, *end;
	size_t n;
	if (p < r->end && *p == '-')
		p++;
	if (p >= r->end || !isdigit((unsigned char)*p))
		return false;
	if (*p == '0')
		p++;
	else
		while (p < r->end && isdigit((unsigned char)*p))
			p++;
	if (p < r->end && *p == '.') {
		if (++p >= r->end || !isdigit((unsigned char)*p))
			return false;
		while (p < r->end && isdigit((unsigned char)*p))
			p++;
	}
	if (p < r->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < r->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= r->end || !isdigit((unsigned char)*p))
			return false;
		while (p < r->end && isdigit((unsigned char)*p))
			p++;
	}
	/* cJSON reads every one of these characters as part of the number */
	if (p < r->end && *p && strchr("0123456789+-eE.", *p))
		return false;
	n = (size_t)(p - start);
	if (n >= sizeof(tmp))
		copy = cdx_xmalloc(n + 1);
	memcpy(copy, start, n);
	copy[n] = '\0';
	*out = strtod(copy, &end);
	if (copy != tmp)
		free(copy);
	r->p = p;
	return true;
}

static bool literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return false;
	r->p += n;
	return true;
}

static cJSON *read_value(struct reader *r);

/* the members of an array or object (r->p after the bracket) into IT */
static bool read_members(struct reader *r, cJSON *it, bool object, char close)
{
	skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;
		cJSON *v;
		skip_ws(r);
		if (object) {
			if (r->p >= r->end || *r->p != '"')
				return false;
			key = read_string(r);
			if (!key)
				return false;
			skip_ws(r);
			if (r->p >= r->end || *r->p != ':') {
				free(key);
				return false;
			}
			r->p++;
			skip_ws(r);
		}
		v = read_value(r);
		if (!v) {
			free(key);
			return false;
		}
		v->string = key;
		cJSON_AddItemToArray(it, v);
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return true;
		}
		return false;
	}
}

static cJSON *read_value(struct reader *r)
{
	cJSON *it;
	double d;
	if (r->p >= r->end)
		return NULL;
	switch (*r->p) {
	case 'n': return literal(r, "null") ? item_new(cJSON_NULL) : NULL;
	case 'f': return literal(r, "false") ? item_new(cJSON_False) : NULL;
	case 't':
		if (!literal(r, "true"))
			return NULL;
		it = item_new(cJSON_True);
		it->valueint = 1;
		return it;
	case '"': {
		char *s = read_string(r);
		if (!s)
			return NULL;
		it = item_new(cJSON_String);
		it->valuestring = s;
		return it;
	}
	case '[':
	case '{':
		if (r->depth >= CJSON_NESTING_LIMIT)
			return NULL;
		it = item_new(*r->p == '[' ? cJSON_Array : cJSON_Object);
		r->p++;
		r->depth++;
		if (!read_members(r, it, it->type == cJSON_Object, it->type == cJSON_Object ? '}' : ']')) {
			cJSON_Delete(it);
			return NULL;
		}
		r->depth--;
		return it;
	default:
		if (!read_number(r, &d))
			return NULL;
		return cJSON_CreateNumber(d);
	}
}

cJSON *cJSON_ParseWithLength(const char *value, size_t buffer_length)
{
	struct reader r;
	cJSON *it;
	if (!value || !buffer_length)
		return NULL;
	r.p = value;
	r.end = value + buffer_length;
	r.depth = 0;
	skip_ws(&r);
	it = read_value(&r);
	return it;
}

cJSON *cJSON_Parse(const char *value)
{
	return value ? cJSON_ParseWithLength(value, strlen(value)) : NULL;
}

/* ---- printing ------------------------------------------------------------- */

static void put_number(struct cdx_buf *b, const cJSON *it)
{
	double d = it->valuedouble, back;
	char num[32];
	if (isnan(d) || isinf(d)) {
		cdx_buf_adds(b, "null");
		return;
	}
	snprintf(num, sizeof(num), "%1.15g", d);
	/* as cJSON: %1.15g when it reads back within an epsilon */
	if (sscanf(num, "%lg", &back) != 1 || fabs(back - d) > fmax(fabs(back), fabs(d)) * DBL_EPSILON)
		snprintf(num, sizeof(num), "%1.17g", d);
	cdx_buf_adds(b, num);
}

static void put_string(struct cdx_buf *b, const char *s)
{
	const char *run;
	cdx_buf_addc(b, '"');
	if (!s)
		s = "";
	for (run = s; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		cdx_buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"': cdx_buf_adds(b, "\\\""); break;
		case '\\': cdx_buf_adds(b, "\\\\"); break;
		case '\b': cdx_buf_adds(b, "\\b"); break;
		case '\f': cdx_buf_adds(b, "\\f"); break;
		case '\n': cdx_buf_adds(b, "\\n"); break;
		case '\r': cdx_buf_adds(b, "\\r"); break;
		case '\t': cdx_buf_adds(b, "\\t"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			cdx_buf_adds(b, esc);
		}
	}
	cdx_buf_add(b, run, (size_t)(s - run));
	cdx_buf_addc(b, '"');
}

static bool put_value(struct cdx_buf *b, const cJSON *it, bool fmt, int depth)
{
	const cJSON *c;
	int i;
	if (depth > CJSON_NESTING_LIMIT)
		return false;
	switch (it->type & 0xFF) {
	case cJSON_NULL: cdx_buf_adds(b, "null"); return true;
	case cJSON_False: cdx_buf_adds(b, "false"); return true;
	case cJSON_True: cdx_buf_adds(b, "true"); return true;
	case cJSON_Number: put_number(b, it); return true;
	case cJSON_String: put_string(b, it->valuestring); return true;
	case cJSON_Raw:
		if (!it->valuestring)
			return false;
		cdx_buf_adds(b, it->valuestring);
		return true;
	case cJSON_Array:
		cdx_buf_addc(b, '[');
		for (c = it->child; c; c = c->next) {
			if (!put_value(b, c, fmt, depth + 1))
				return false;
			if (c->next)
				cdx_buf_adds(b, fmt ? ", " : ",");
		}
		cdx_buf_addc(b, ']');
		return true;
	case cJSON_Object:
		cdx_buf_addc(b, '{');
		if (fmt)
			cdx_buf_addc(b, '\n');
		for (c = it->child; c; c = c->next) {
			if (fmt)
				for (i = 0; i <= depth; i++)
					cdx_buf_addc(b, '\t');
			put_string(b, c->string);
			cdx_buf_addc(b, ':');
			if (fmt)
				cdx_buf_addc(b, '\t');
			if (!put_value(b, c, fmt, depth + 1))
				return false;
			if (c->next)
				cdx_buf_addc(b, ',');
			if (fmt)
				cdx_buf_addc(b, '\n');
		}
		if (fmt)
			for (i = 0; i < depth; i++)
				cdx_buf_addc(b, '\t');
		cdx_buf_addc(b, '}');
		return true;
	default: return false;
	}
}

static char *print(const cJSON *item, bool fmt)
{
	struct cdx_buf b = {0};
	if (!item)
		return NULL;
	if (!put_value(&b, item, fmt, 0)) {
		cdx_buf_free(&b);
		return NULL;
	}
	return b.data;
}

char *cJSON_Print(const cJSON *item)
{
	return print(item, true);
}

char *cJSON_PrintUnformatted(const cJSON *item)
{
	return print(item, false);
}

void cJSON_free(void *object)
{
	free(object);
}
