/* test_ytree.c — ytree.c: positions, aliases, merge keys, and the guards
 * (duplicate keys, depth, alias bombs, recursive aliases, UTF-8, NUL bytes,
 * size, empty and multi-document input). */
#include "fixtures.h"

#include <dirent.h>

#include "../../fuzz/ycompare.h"
#include "base/diag.h"
#include "yaml/ytree.h"

/* parse TEXT named "t.yml"; on failure the problems stay in *D */
static struct cdx_ytree *parse(const char *text, struct cdx_diags **d)
{
	*d = cdx_diags_new();
	return cdx_yaml_parse("t.yml", text, strlen(text), *d);
}

/* the only problem of D, formatted "LINE:COL: message" */
static void expect_one(struct cdx_diags *d, const char *want)
{
	char got[1024];
	const struct cdx_diag *g;
	assert_int_equal(cdx_diags_count(d), 1);
	g = cdx_diags_get(d, 0);
	assert_non_null(g);
	assert_string_equal(g->file, "t.yml");
	snprintf(got, sizeof(got), "%d:%d: %s", g->line, g->col, g->msg);
	assert_string_equal(got, want);
}

/* parsing TEXT fails with the one problem WANT */
static void expect_fail(const char *text, size_t len, const char *want)
{
	struct cdx_diags *d = cdx_diags_new();
	struct cdx_ytree *t = cdx_yaml_parse("t.yml", text, len, d);
	assert_null(t);
	expect_one(d, want);
	cdx_diags_free(d);
}
#define EXPECT_FAIL(text, want) expect_fail((text), sizeof(text) - 1, (want))

/* texts inside the fast scanner's subset: it must read each one, exactly
 * as libyaml does (values, styles, positions, problems) */
static void fast_scanner_reads_like_libyaml(void **state)
{
	static const char *const texts[] = {
		"a: 1\nb: two words  # comment\nc: 'it''s'\nd: \"q\\\"\\n\\t\\\\ \\/\"\n",
		"name: x\nstages:\n  - name: s\n    jobs:\n      - {name: j, script: \"true\", needs: []}\n",
		"k:\n- a\n-\n- b: 1\n  c:\n  - d\n  -   e: f\n      g: h\nz: end\n",
		"a:\nb: ~\nc: # empty\nd:\n  - \n  -\n",
		"s: |\n  one\n    two # kept\n\n  three\nt: |-\n  stripped\nu: |  # c\n  x\n",
		"- |\n  in a list\n- x: |\n    deep\n  y: 2\n",
		"end: |\n  no line break at the end",
		"f: [1, \"two\", 'three', {k: v, \"q\": [a, b]}, [], {}]\n",
		"url: http://example.com:8080/a#b\nimg: alpine:3.18\nn: -O2\nm: a ,b [c] {d}\n",
		"k : v\n\"quoted key\": v\n'single': v\nu: h\xc3\xa9llo \xe6\x97\xa5 \xf0\x9f\x9a\x80 x:y\n",
		"<<: {a: 1}\nb: 2\n",
		"dup: 1\ndup: 2\n",
		"# only a comment\n",
		"",
		"  indented: map\n  second: key\n",
		"scalar\n",
		"- a\n- b\n",
		/* JSON as cdx writes it (job specs, records): `:` right after a
		 * quoted key */
		"{\"a\":1,\"b\":{\"c\":[1,\"x\",{\"d\":false}]},\"e\":{},\"f\":[]}",
		"k: {'a':1, \"b\": 2}\n",
	};
	char why[512];
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		int rc = ycompare(texts[i], strlen(texts[i]), why, sizeof(why));
		if (rc)
			fail_msg("text %zu: %s", i, rc > 0 ? "the fast scanner gave up" : why);
	}
}

/* texts outside the subset: the fast scanner gives up on each, and the
 * result is libyaml's */
static void fast_scanner_leaves_the_rest_to_libyaml(void **state)
{
	static const char *const texts[] = {
		"a: &x 1\nb: *x\n", "a: !tag 1\n", "a: >\n  folded\n", "a: |+\n  keep\n", "a: |2\n   x\n",
		"a: multi\n  line\n", "a: \"multi\n  line\"\n", "a: [1,\n  2]\n", "a:\tb\n", "a: b\r\n",
		"---\na: 1\n", "%YAML 1.1\n---\na: 1\n", "? a\n: b\n", "a: b: c\n", "- - a\n", "a: [1, , 2]\n",
		"a: [1, 2, ]\n", "{a: 1}: b\n", "a: \"\\x41\"\n", "a: \xc2\xa0\n", "\xef\xbb\xbf" "a: 1\n",
		"a: 1\n b: 2\n", "a:\n  - x\n  b: y\n", "a: |\n\n  leading blank\n", "a: {b: }\n", "a: [b: c]\n",
		"a: @x\n", "a: `x`\n", "a: %x\n", "a: {b:1}\n", "a: {\"b\" :1}\n", "a: {\"b\":}\n",
	};
	char why[512];
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cdx_diags *d = cdx_diags_new(), *l = cdx_diags_new();
		bool unsupported = false;
		struct cdx_ytree *t =
			cdx_yaml_parse_engine("t.yml", texts[i], strlen(texts[i]), d, CDX_YAML_FAST, &unsupported);
		struct cdx_ytree *a = cdx_yaml_parse("t.yml", texts[i], strlen(texts[i]), l);
		struct cdx_ytree *b = cdx_yaml_parse_engine("t.yml", texts[i], strlen(texts[i]), NULL, CDX_YAML_LIBYAML, NULL);
		if (!unsupported || t || cdx_diags_count(d))
			fail_msg("text %zu: the fast scanner should have given up", i);
		if (!a != !b)
			fail_msg("text %zu: read differently through the fallback", i);
		assert_int_equal(ycompare(texts[i], strlen(texts[i]), why, sizeof(why)), 1);
		cdx_yaml_free(a);
		cdx_yaml_free(b);
		cdx_diags_free(d);
		cdx_diags_free(l);
	}
}

/* every YAML file of the test data: read alike whichever engine reads it */
static void fast_scanner_on_the_test_files(void **state)
{
	static const char *const dirs[] = {"valid", "invalid", "make", "project"};
	size_t i, fast = 0;
	(void)state;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[1024], why[512];
		struct dirent *e;
		DIR *dir;
		snprintf(path, sizeof(path), "%s/%s", getenv("CDX_TESTDATA") ? getenv("CDX_TESTDATA") : "tests/data",
			 dirs[i]);
		dir = opendir(path);
		if (!dir)
			continue;
		while ((e = readdir(dir))) {
			char file[2048], *text;
			size_t len;
			int rc;
			FILE *f;
			if (!strstr(e->d_name, ".yml"))
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
			f = fopen(file, "rb");
			assert_non_null(f);
			text = malloc(1 << 20);
			len = fread(text, 1, 1 << 20, f);
			fclose(f);
			rc = ycompare(text, len, why, sizeof(why));
			free(text);
			if (rc < 0)
				fail_msg("%s: %s", file, why);
			fast += rc == 0;
		}
		closedir(dir);
	}
	assert_true(fast >= 50); /* most real files stay in the subset */
}

static void positions(void **state)
{
	struct cdx_diags *d;
	struct cdx_ytree *t = parse("# comment\n"
				    "a: 1\n"
				    "b:\n"
				    "  - x\n"
				    "  - {c: d, e: [f]}\n"
				    "g: \"quoted\"\n",
				    &d);
	struct cdx_ynode *r, *b, *m, *e;
	(void)state;
	assert_non_null(t);
	assert_int_equal(cdx_diags_count(d), 0);
	assert_string_equal(cdx_yaml_file(t), "t.yml");
	r = cdx_yaml_root(t);
	assert_int_equal(r->type, CDX_Y_MAP);
	assert_int_equal(r->n, 3);
	assert_int_equal(r->line, 2);
	assert_int_equal(r->col, 1);
	assert_string_equal(r->pairs[0].key->str, "a");
	assert_int_equal(r->pairs[0].key->line, 2);
	assert_int_equal(r->pairs[0].key->col, 1);
	assert_int_equal(r->pairs[0].val->line, 2);
	assert_int_equal(r->pairs[0].val->col, 4);
	assert_true(r->pairs[0].val->plain);
	b = cdx_yaml_get(r, "b");
	assert_non_null(b);
	assert_int_equal(b->type, CDX_Y_SEQ);
	assert_int_equal(b->n, 2);
	assert_int_equal(b->line, 4);
	assert_int_equal(b->col, 3);
	assert_int_equal(b->items[0]->line, 4);
	assert_int_equal(b->items[0]->col, 5);
	m = b->items[1];
	assert_int_equal(m->type, CDX_Y_MAP);
	assert_int_equal(m->line, 5);
	assert_int_equal(m->col, 5);
	assert_string_equal(cdx_yaml_get(m, "c")->str, "d");
	assert_int_equal(cdx_yaml_get(m, "c")->col, 9);
	e = cdx_yaml_get(m, "e");
	assert_int_equal(e->type, CDX_Y_SEQ);
	assert_int_equal(e->col, 15);
	assert_int_equal(e->items[0]->col, 16);
	assert_string_equal(cdx_yaml_get(r, "g")->str, "quoted");
	assert_false(cdx_yaml_get(r, "g")->plain);
	assert_int_equal(cdx_yaml_get(r, "g")->col, 4);
	assert_null(cdx_yaml_get(r, "missing"));
	assert_null(cdx_yaml_get(b, "x")); /* not a mapping */
	assert_string_equal(r->file, "t.yml");
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void columns_count_characters(void **state)
{
	struct cdx_diags *d;
	/* "é" is two bytes but one column */
	struct cdx_ytree *t = parse("\xc3\xa9t\xc3\xa9: [x, y]\n", &d);
	struct cdx_ynode *v;
	(void)state;
	assert_non_null(t);
	v = cdx_yaml_get(cdx_yaml_root(t), "\xc3\xa9t\xc3\xa9");
	assert_non_null(v);
	assert_int_equal(v->col, 6);
	assert_int_equal(v->items[1]->col, 10);
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void block_scalars(void **state)
{
	struct cdx_diags *d;
	struct cdx_ytree *t = parse("s: |\n  one\n  two\nf: >\n  a\n  b\nq: 'it''s'\n", &d);
	struct cdx_ynode *r;
	(void)state;
	assert_non_null(t);
	r = cdx_yaml_root(t);
	assert_string_equal(cdx_yaml_get(r, "s")->str, "one\ntwo\n");
	assert_int_equal(cdx_yaml_get(r, "s")->len, 8);
	assert_false(cdx_yaml_get(r, "s")->plain);
	assert_string_equal(cdx_yaml_get(r, "f")->str, "a b\n");
	assert_string_equal(cdx_yaml_get(r, "q")->str, "it's");
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void aliases_shared(void **state)
{
	struct cdx_diags *d;
	struct cdx_ytree *t = parse("a: &x {k: v, l: [1, 2]}\nb: *x\nc: [*x, *x]\n", &d);
	struct cdx_ynode *r, *a;
	(void)state;
	assert_non_null(t);
	r = cdx_yaml_root(t);
	a = cdx_yaml_get(r, "a");
	assert_ptr_equal(cdx_yaml_get(r, "b"), a);
	assert_ptr_equal(cdx_yaml_get(r, "c")->items[0], a);
	assert_ptr_equal(cdx_yaml_get(r, "c")->items[1], a);
	/* the shared node keeps the anchor's position */
	assert_int_equal(a->line, 1);
	assert_int_equal(a->col, 4);
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void merge_keys(void **state)
{
	struct cdx_diags *d;
	struct cdx_ytree *t = parse("base: &b {x: base, y: base, w: base}\n"
				    "other: &o {y: other, z: other, w: other}\n"
				    "m:\n"
				    "  <<: [*b, *o]\n"
				    "  x: own\n"
				    "one:\n"
				    "  <<: *o\n"
				    "  k: v\n"
				    "quoted:\n"
				    "  '<<': not a merge\n",
				    &d);
	struct cdx_ynode *r, *m, *one, *q;
	(void)state;
	assert_non_null(t);
	r = cdx_yaml_root(t);
	m = cdx_yaml_get(r, "m");
	assert_int_equal(m->n, 4);
	assert_null(cdx_yaml_get(m, "<<"));
	assert_string_equal(cdx_yaml_get(m, "x")->str, "own");   /* own keys win */
	assert_string_equal(cdx_yaml_get(m, "y")->str, "base");  /* earlier source wins */
	assert_string_equal(cdx_yaml_get(m, "w")->str, "base");
	assert_string_equal(cdx_yaml_get(m, "z")->str, "other"); /* only in the later one */
	/* own keys first, then merged ones in source order */
	assert_string_equal(m->pairs[0].key->str, "x");
	assert_string_equal(m->pairs[1].key->str, "y");
	assert_string_equal(m->pairs[2].key->str, "w");
	assert_string_equal(m->pairs[3].key->str, "z");
	one = cdx_yaml_get(r, "one");
	assert_int_equal(one->n, 4);
	assert_string_equal(cdx_yaml_get(one, "k")->str, "v");
	assert_string_equal(cdx_yaml_get(one, "y")->str, "other");
	/* the merged values are the anchored nodes themselves */
	assert_ptr_equal(cdx_yaml_get(one, "z"), cdx_yaml_get(cdx_yaml_get(r, "other"), "z"));
	/* a quoted '<<' is an ordinary key */
	q = cdx_yaml_get(r, "quoted");
	assert_int_equal(q->n, 1);
	assert_string_equal(cdx_yaml_get(q, "<<")->str, "not a merge");
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void merge_into_many_keys(void **state)
{
	/* more than 8 keys switches key lookups to a hash index */
	struct cdx_diags *d;
	struct cdx_ytree *t = parse("b: &b {a: 0, k9: merged, z: merged}\n"
				    "m: {<<: *b, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, k8: 8, k9: 9, k10: 10}\n",
				    &d);
	struct cdx_ynode *m;
	(void)state;
	assert_non_null(t);
	m = cdx_yaml_get(cdx_yaml_root(t), "m");
	assert_int_equal(m->n, 12);
	assert_string_equal(cdx_yaml_get(m, "k9")->str, "9");
	assert_string_equal(cdx_yaml_get(m, "z")->str, "merged");
	assert_string_equal(cdx_yaml_get(m, "a")->str, "0");
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void merge_errors(void **state)
{
	(void)state;
	/* reported at the '<<' that uses the bad value, not where it is defined */
	EXPECT_FAIL("s: &s text\nm:\n  <<: *s\n", "3:3: merge key '<<' needs a mapping or a list of mappings");
	EXPECT_FAIL("m:\n  <<: [{a: 1}, b]\n", "2:3: merge key '<<' needs a mapping or a list of mappings");
}

static void duplicate_keys(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	static const char text[] = "a: 1\nb: 2\na: 3\nm: {x: 1, x: 2}\n";
	struct cdx_ytree *t = cdx_yaml_parse("t.yml", text, sizeof(text) - 1, d);
	const struct cdx_diag *g;
	(void)state;
	assert_null(t);
	assert_int_equal(cdx_diags_count(d), 2);
	g = cdx_diags_get(d, 0);
	assert_int_equal(g->line, 3);
	assert_int_equal(g->col, 1);
	assert_string_equal(g->msg, "duplicate key 'a' (first at line 1)");
	g = cdx_diags_get(d, 1);
	assert_int_equal(g->line, 4);
	assert_int_equal(g->col, 11);
	assert_string_equal(g->msg, "duplicate key 'x' (first at line 4)");
	cdx_diags_free(d);
	/* duplicates among many keys (the hash index path) */
	EXPECT_FAIL("{k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, k8: 8, k9: 9, k3: again}",
		    "1:65: duplicate key 'k3' (first at line 1)");
}

static void keys_must_be_scalars(void **state)
{
	(void)state;
	EXPECT_FAIL("? [a, b]\n: c\n", "1:3: mapping keys must be strings");
	EXPECT_FAIL("{? {a: b} : c}\n", "1:4: mapping keys must be strings");
}

/* a flow sequence nested N deep around a scalar */
static char *nested(int n)
{
	char *s = malloc((size_t)n * 2 + 3);
	int i;
	for (i = 0; i < n; i++)
		s[i] = '[';
	s[n] = 'x';
	for (i = 0; i < n; i++)
		s[n + 1 + i] = ']';
	s[2 * n + 1] = '\n';
	s[2 * n + 2] = '\0';
	return s;
}

static void depth_limit(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	char *ok = nested(CDX_YAML_MAXDEPTH), *deep = nested(CDX_YAML_MAXDEPTH + 1), *deeper = nested(1000);
	struct cdx_ytree *t;
	(void)state;
	/* 64 nested collections are allowed, the 65th is refused where it opens */
	t = cdx_yaml_parse("t.yml", ok, strlen(ok), d);
	assert_non_null(t);
	assert_int_equal(cdx_diags_count(d), 0);
	cdx_yaml_free(t);
	cdx_diags_free(d);
	expect_fail(deep, strlen(deep), "1:65: nested deeper than 64 levels");
	expect_fail(deeper, strlen(deeper), "1:65: nested deeper than 64 levels");
	free(ok);
	free(deep);
	free(deeper);
}

static void alias_bomb(void **state)
{
	struct cdx_buf b = {0};
	int i, k;
	(void)state;
	/* billion laughs: 9 levels of 9 aliases, 9^9 scalars when expanded */
	cdx_buf_adds(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (i = 1; i <= 9; i++) {
		cdx_buf_printf(&b, "l%d: &l%d [", i, i);
		for (k = 0; k < 9; k++)
			cdx_buf_printf(&b, "%s*l%d", k ? ", " : "", i - 1);
		cdx_buf_adds(&b, "]\n");
	}
	expect_fail(b.data, b.len, "7:40: aliases expand to more than 4000000 nodes (an alias bomb?)");
	cdx_buf_free(&b);
}

static void many_aliases_under_the_limit(void **state)
{
	struct cdx_diags *d;
	/* 9^5 = 59049 expanded scalars: fine, and built once (shared) */
	struct cdx_ytree *t = parse("a: &a [x, x, x, x, x, x, x, x, x]\n"
				    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
				    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
				    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
				    "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
				    &d);
	struct cdx_ynode *e;
	(void)state;
	assert_non_null(t);
	e = cdx_yaml_get(cdx_yaml_root(t), "e");
	assert_int_equal(e->n, 9);
	assert_ptr_equal(e->items[0], e->items[8]);
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void recursive_alias(void **state)
{
	(void)state;
	EXPECT_FAIL("a: &a [x, *a]\n", "1:11: recursive alias: '*a' refers to a node that contains it");
	EXPECT_FAIL("a: &a {k: {j: *a}}\n", "1:15: recursive alias: '*a' refers to a node that contains it");
	/* through a merge key; reported where the anchored node starts */
	EXPECT_FAIL("a: &a\n  <<: *a\n  k: v\n", "2:7: recursive alias: '*a' refers to a node that contains it");
}

static void utf8_with_position(void **state)
{
	(void)state;
	EXPECT_FAIL("a: b\nc: \xff\n", "2:4: file is not valid UTF-8");
	EXPECT_FAIL("\xc3\xa9: \xc3\n", "1:4: file is not valid UTF-8");  /* columns in characters */
	EXPECT_FAIL("a: \xed\xa0\x80\n", "1:4: file is not valid UTF-8"); /* a surrogate */
	EXPECT_FAIL("\xc0\xaf: x\n", "1:1: file is not valid UTF-8");     /* an overlong '/' */
}

static void nul_byte(void **state)
{
	(void)state;
	EXPECT_FAIL("a: b\nc: d\0e\n", "2:5: file contains a NUL byte");
	EXPECT_FAIL("\0", "1:1: file contains a NUL byte");
	/* an escape in a quoted string: the value would end there unseen
	 * (a fixed defect: V: "a\0b" became a) */
	EXPECT_FAIL("a: b\nV: \"a\\0b\"\n", "2:4: string holds a NUL byte (\\0), which no value may hold");
	EXPECT_FAIL("V: [x, \"\\0\"]\n", "1:8: string holds a NUL byte (\\0), which no value may hold");
}

static void empty_and_multi_document(void **state)
{
	struct cdx_diags *d;
	struct cdx_ytree *t;
	(void)state;
	expect_fail("", 0, "0:0: file is empty");
	EXPECT_FAIL("# only a comment\n\n", "0:0: file is empty");
	EXPECT_FAIL("a: 1\n---\nb: 2\n", "2:1: more than one YAML document in one file");
	/* an explicit start and end of a single document is fine */
	t = parse("---\na: 1\n...\n", &d);
	assert_non_null(t);
	cdx_yaml_free(t);
	cdx_diags_free(d);
	/* an explicit document with no content holds one null scalar */
	t = parse("---\n...\n", &d);
	assert_non_null(t);
	assert_true(cdx_yaml_is_null(cdx_yaml_root(t)));
	cdx_yaml_free(t);
	cdx_diags_free(d);
	/* a scalar document is a tree too (the loader decides what it wants) */
	t = parse("just text\n", &d);
	assert_non_null(t);
	assert_int_equal(cdx_yaml_root(t)->type, CDX_Y_SCALAR);
	assert_string_equal(cdx_yaml_root(t)->str, "just text");
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void syntax_errors(void **state)
{
	struct cdx_diags *d = cdx_diags_new();
	static const char text[] = "a: [1, 2\nb: 3\n";
	const struct cdx_diag *g;
	(void)state;
	assert_null(cdx_yaml_parse("t.yml", text, sizeof(text) - 1, d));
	assert_int_equal(cdx_diags_count(d), 1);
	g = cdx_diags_get(d, 0);
	assert_int_equal(g->line, 2);
	assert_non_null(strstr(g->msg, "yaml syntax: "));
	cdx_diags_free(d);
	/* a tab where indentation is expected */
	d = cdx_diags_new();
	assert_null(cdx_yaml_parse("t.yml", "a:\n\t- b\n", 8, d));
	assert_int_equal(cdx_diags_count(d), 1);
	g = cdx_diags_get(d, 0);
	assert_int_equal(g->line, 2);
	assert_int_equal(g->col, 1);
	assert_string_equal(g->msg, "tab character in indentation: YAML allows only spaces");
	cdx_diags_free(d);
	/* an undefined alias */
	d = cdx_diags_new();
	assert_null(cdx_yaml_parse("t.yml", "a: *nope\n", 9, d));
	assert_int_equal(cdx_diags_count(d), 1);
	assert_int_equal(cdx_diags_get(d, 0)->line, 1);
	cdx_diags_free(d);
}

static void size_limit(void **state)
{
	size_t n = (size_t)CDX_YAML_MAXBYTES + 1;
	char *big = malloc(n);
	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	expect_fail(big, n, "0:0: file is larger than 16 MiB");
	free(big);
}

static void null_bool_typename(void **state)
{
	struct cdx_diags *d;
	struct cdx_ytree *t = parse("n1: ~\nn2: null\nn3:\nn4: NULL\ns1: 'null'\ns2: \"\"\n"
				    "t1: true\nt2: True\nt3: TRUE\nf1: false\nf2: False\n"
				    "y: yes\no: on\nq: 'true'\nl: [1]\nm: {a: 1}\n",
				    &d);
	struct cdx_ynode *r;
	(void)state;
	assert_non_null(t);
	r = cdx_yaml_root(t);
	assert_true(cdx_yaml_is_null(cdx_yaml_get(r, "n1")));
	assert_true(cdx_yaml_is_null(cdx_yaml_get(r, "n2")));
	assert_true(cdx_yaml_is_null(cdx_yaml_get(r, "n3")));
	assert_true(cdx_yaml_is_null(cdx_yaml_get(r, "n4")));
	assert_false(cdx_yaml_is_null(cdx_yaml_get(r, "s1")));
	assert_false(cdx_yaml_is_null(cdx_yaml_get(r, "s2"))); /* quoted empty string */
	assert_false(cdx_yaml_is_null(cdx_yaml_get(r, "l")));
	assert_false(cdx_yaml_is_null(NULL));
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "t1")), 1);
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "t2")), 1);
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "t3")), 1);
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "f1")), 0);
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "f2")), 0);
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "y")), -1); /* YAML 1.2: not a boolean */
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "o")), -1);
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "q")), -1); /* quoted */
	assert_int_equal(cdx_yaml_bool(cdx_yaml_get(r, "m")), -1);
	assert_string_equal(cdx_yaml_typename(cdx_yaml_get(r, "n1")), "null");
	assert_string_equal(cdx_yaml_typename(cdx_yaml_get(r, "s1")), "a string");
	assert_string_equal(cdx_yaml_typename(cdx_yaml_get(r, "t1")), "a boolean");
	assert_string_equal(cdx_yaml_typename(cdx_yaml_get(r, "q")), "a string");
	assert_string_equal(cdx_yaml_typename(cdx_yaml_get(r, "l")), "a list");
	assert_string_equal(cdx_yaml_typename(cdx_yaml_get(r, "m")), "a mapping");
	assert_string_equal(cdx_yaml_typename(NULL), "nothing");
	cdx_yaml_free(t);
	cdx_diags_free(d);
}

static void built_nodes(void **state)
{
	struct cdx_diags *d;
	struct cdx_ytree *t = parse("a: 1\n", &d);
	struct cdx_ynode *r, *m, *k, *v;
	(void)state;
	assert_non_null(t);
	r = cdx_yaml_root(t);
	m = cdx_yaml_new_map(t, r, 2);
	k = cdx_yaml_new_scalar(t, r->pairs[0].key, "key");
	v = cdx_yaml_new_scalar(t, r->pairs[0].val, "value");
	cdx_yaml_map_add(t, m, k, v);
	cdx_yaml_map_add(t, m, r->pairs[0].key, r->pairs[0].val);
	cdx_yaml_map_add(t, m, k, v); /* over capacity: ignored */
	assert_int_equal(m->n, 2);
	assert_string_equal(cdx_yaml_get(m, "key")->str, "value");
	assert_int_equal(cdx_yaml_get(m, "key")->len, 5);
	assert_int_equal(v->line, 1);
	assert_int_equal(v->col, 4);
	assert_string_equal(cdx_yaml_get(m, "a")->str, "1");
	assert_int_equal(m->line, r->line);
	cdx_yaml_free(t);
	cdx_diags_free(d);
	cdx_yaml_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(positions),
		cmocka_unit_test(fast_scanner_reads_like_libyaml),
		cmocka_unit_test(fast_scanner_leaves_the_rest_to_libyaml),
		cmocka_unit_test(fast_scanner_on_the_test_files),
		cmocka_unit_test(columns_count_characters),
		cmocka_unit_test(block_scalars),
		cmocka_unit_test(aliases_shared),
		cmocka_unit_test(merge_keys),
		cmocka_unit_test(merge_into_many_keys),
		cmocka_unit_test(merge_errors),
		cmocka_unit_test(duplicate_keys),
		cmocka_unit_test(keys_must_be_scalars),
		cmocka_unit_test(depth_limit),
		cmocka_unit_test(alias_bomb),
		cmocka_unit_test(many_aliases_under_the_limit),
		cmocka_unit_test(recursive_alias),
		cmocka_unit_test(utf8_with_position),
		cmocka_unit_test(nul_byte),
		cmocka_unit_test(empty_and_multi_document),
		cmocka_unit_test(syntax_errors),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(null_bool_typename),
		cmocka_unit_test(built_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
