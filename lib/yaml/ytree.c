/* ytree.c — YAML text to a positioned, guarded tree (see ytree.h).
 *
 * The tree is built from a stream of parse events (yfast.h's struct
 * cdx_yev) in one pass: nodes go into an arena, aliased nodes are shared
 * instead of copied, merge keys are resolved when their mapping closes.
 * While building, each open node tracks how many nodes it would have with
 * every alias expanded, so recursive aliases, excessive nesting and alias
 * bombs are refused before they cost anything; every later walk of the
 * tree is bounded by CDX_YAML_MAXEXPAND nodes.
 *
 * The events come from the fast scanner (yfast.c) when the text stays in
 * its subset — nearly every pipeline file — and otherwise from libyaml,
 * which also reports every syntax error.  The fast attempt builds into a
 * tree and a problem list of its own, thrown away if it gives up.
 */
#include "yaml/ytree.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/arena.h"
#include "base/map.h"
#include "yaml/yfast.h"

struct cdx_ytree {
	struct cdx_arena arena; /* every node and string of the tree */
	char *file;             /* file name used in positions */
	struct cdx_ynode *root;
};

void cdx_yaml_free(struct cdx_ytree *t)
{
	if (!t)
		return;
	cdx_arena_free(&t->arena);
	free(t->file);
	free(t);
}

struct cdx_ynode *cdx_yaml_root(const struct cdx_ytree *t)
{
	return t->root;
}

const char *cdx_yaml_file(const struct cdx_ytree *t)
{
	return t->file;
}

/* ---- building ------------------------------------------------------------ */

struct anchor {
	const char *name;       /* in the arena */
	struct cdx_ynode *node; /* NULL while the node is still open */
	uint64_t size;          /* expanded size of the node */
};

/* an open sequence or mapping */
struct frame {
	struct cdx_ynode *node;
	struct cdx_ynode **kids; /* items, or keys and values alternating:
				    a window of the builder's shared stack */
	size_t n;
	size_t base;             /* where the window starts in that stack */
	uint64_t size;           /* expanded size so far, this node included */
	size_t anchor;           /* index in anchors + 1, 0 = none */
};

struct build {
	struct cdx_ytree *t;
	struct cdx_diags *diags;
	struct frame stack[CDX_YAML_MAXDEPTH + 1];
	size_t depth;
	struct cdx_ynode **kids;     /* children of every open node, innermost last:
				        one vector instead of one per node */
	size_t nkids, capkids;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	struct cdx_map anchor_index; /* name -> index in anchors */
	int fatal;                   /* stop building: the tree cannot be trusted */
	int failed;                  /* a problem was reported */
};

static void problem_at(struct build *b, const struct cdx_yev *ev, const char *fmt, const char *arg)
{
	cdx_diags_add(b->diags, b->t->file, ev->line, ev->col, fmt, arg);
	b->failed = 1;
}

static struct cdx_ynode *new_node(struct cdx_ytree *t, enum cdx_ytype type, const char *file, int line, int col)
{
	struct cdx_ynode *y = cdx_arena_alloc(&t->arena, sizeof(*y));
	y->type = type;
	y->file = file;
	y->line = line;
	y->col = col;
	return y;
}

/* add a finished node of expanded size SIZE to the open parent (or make it
 * the root) */
static void add_child(struct build *b, struct cdx_ynode *y, uint64_t size, const struct cdx_yev *ev)
{
	struct frame *f;
	if (!b->depth) {
		b->t->root = y;
		return;
	}
	f = &b->stack[b->depth - 1];
	cdx_grow(&b->kids, &b->capkids, b->nkids + 1, sizeof(*b->kids));
	b->kids[b->nkids++] = y;
	f->n++;
	f->size += size;
	if (f->size > CDX_YAML_MAXEXPAND && !b->fatal) {
		problem_at(b, ev, "aliases expand to more than 4000000 nodes (an alias bomb?)%s", "");
		b->fatal = 1;
	}
}

static void define_anchor(struct build *b, const char *name, struct cdx_ynode *node, uint64_t size, size_t *index)
{
	struct anchor a;
	a.name = cdx_arena_strndup(&b->t->arena, name, strlen(name));
	a.node = node;
	a.size = size;
	CDX_PUSH(b->anchors, b->n_anchors, b->cap_anchors, a);
	/* a later anchor of the same name wins, as YAML says */
	cdx_map_set(&b->anchor_index, a.name, b->n_anchors - 1);
	if (index)
		*index = b->n_anchors;
}

static int key_seen(struct cdx_ynode *map, struct cdx_map *index, const char *key, size_t *at)
{
	size_t i;
	if (index->cap)
		return cdx_map_get(index, key, at);
	for (i = 0; i < map->n; i++) {
		if (strcmp(map->pairs[i].key->str, key) == 0) {
			*at = i;
			return 1;
		}
	}
	return 0;
}

static void add_pair(struct cdx_ynode *map, struct cdx_map *index, struct cdx_ynode *k, struct cdx_ynode *v)
{
	map->pairs[map->n].key = k;
	map->pairs[map->n].val = v;
	if (index->cap || map->n >= 8) {
		if (!index->cap) {
			size_t i;
			for (i = 0; i < map->n; i++)
				cdx_map_put(index, map->pairs[i].key->str, i, NULL);
		}
		cdx_map_put(index, k->str, map->n, NULL);
	}
	map->n++;
}

static bool is_merge_key(const struct cdx_ynode *k)
{
	return k->type == CDX_Y_SCALAR && k->plain && strcmp(k->str, "<<") == 0;
}

/* close a mapping: own keys checked for type and duplicates, then merged
 * mappings folded in (own keys win, then earlier merge sources) */
static void finish_map(struct build *b, struct frame *f)
{
	struct cdx_ynode *y = f->node, **merges = NULL;
	size_t cap = 0, nmerge = 0, cap_merges = 0, i, at;
	struct cdx_map index = {0};
	for (i = 0; i + 1 < f->n; i += 2) {
		struct cdx_ynode *k = f->kids[i], *v = f->kids[i + 1];
		if (k->type != CDX_Y_SCALAR) {
			cdx_diags_add(b->diags, b->t->file, k->line, k->col, "mapping keys must be strings");
			b->failed = 1;
			continue;
		}
		if (!is_merge_key(k)) {
			cap++;
			continue;
		}
		if (v->type == CDX_Y_MAP) {
			CDX_PUSH(merges, nmerge, cap_merges, v);
			cap += v->n;
		} else if (v->type == CDX_Y_SEQ) {
			size_t q;
			for (q = 0; q < v->n; q++) {
				if (v->items[q]->type != CDX_Y_MAP) {
					cdx_diags_add(b->diags, b->t->file, k->line, k->col,
						      "merge key '<<' needs a mapping or a list of mappings");
					b->failed = 1;
					break;
				}
				CDX_PUSH(merges, nmerge, cap_merges, v->items[q]);
				cap += v->items[q]->n;
			}
		} else {
			cdx_diags_add(b->diags, b->t->file, k->line, k->col,
				      "merge key '<<' needs a mapping or a list of mappings");
			b->failed = 1;
		}
	}
	y->pairs = cdx_arena_alloc(&b->t->arena, (cap ? cap : 1) * sizeof(*y->pairs));
	y->cap = cap;
	for (i = 0; i + 1 < f->n; i += 2) {
		struct cdx_ynode *k = f->kids[i], *v = f->kids[i + 1];
		if (k->type != CDX_Y_SCALAR || is_merge_key(k))
			continue;
		if (key_seen(y, &index, k->str, &at)) {
			cdx_diags_add(b->diags, b->t->file, k->line, k->col, "duplicate key '%s' (first at line %d)",
				      k->str, y->pairs[at].key->line);
			b->failed = 1;
			continue;
		}
		add_pair(y, &index, k, v);
	}
	for (i = 0; i < nmerge; i++) {
		size_t j;
		for (j = 0; j < merges[i]->n; j++) {
			struct cdx_ypair *mp = &merges[i]->pairs[j];
			if (!key_seen(y, &index, mp->key->str, &at))
				add_pair(y, &index, mp->key, mp->val);
		}
	}
	free(merges);
	cdx_map_free(&index);
}

static void open_node(struct build *b, const struct cdx_yev *ev, enum cdx_ytype type)
{
	struct frame *f;
	if (b->depth >= CDX_YAML_MAXDEPTH) {
		problem_at(b, ev, "nested deeper than 64 levels%s", "");
		b->fatal = 1;
		return;
	}
	f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->base = b->nkids;
	f->node = new_node(b->t, type, b->t->file, ev->line, ev->col);
	f->size = 1;
	if (ev->anchor)
		define_anchor(b, ev->anchor, NULL, 0, &f->anchor); /* open: aliases to it are recursive */
}

static void close_node(struct build *b, const struct cdx_yev *ev)
{
	struct frame f = b->stack[--b->depth];
	struct cdx_ynode *y = f.node;
	f.kids = b->kids ? b->kids + f.base : NULL; /* valid until the stack grows again */
	if (y->type == CDX_Y_SEQ) {
		y->items = cdx_arena_alloc(&b->t->arena, (f.n ? f.n : 1) * sizeof(*y->items));
		if (f.n)
			memcpy(y->items, f.kids, f.n * sizeof(*y->items));
		y->n = f.n;
	} else {
		finish_map(b, &f);
	}
	b->nkids = f.base;
	if (f.anchor) {
		b->anchors[f.anchor - 1].node = y;
		b->anchors[f.anchor - 1].size = f.size;
	}
	add_child(b, y, f.size, ev);
}

/* one event into the tree; returns non-zero when building must stop */
static int on_event(void *ctx, const struct cdx_yev *ev)
{
	struct build *b = ctx;
	switch (ev->type) {
	case CDX_YEV_SCALAR: {
		struct cdx_ynode *y = new_node(b->t, CDX_Y_SCALAR, b->t->file, ev->line, ev->col);
		/* a "\0" escape: every value ends up a C string, which would
		 * end there without a word */
		if (memchr(ev->str, '\0', ev->len))
			problem_at(b, ev, "string holds a NUL byte (\\0), which no value may hold%s", "");
		y->str = cdx_arena_strndup(&b->t->arena, ev->str, ev->len);
		y->len = ev->len;
		y->plain = ev->plain;
		if (ev->anchor)
			define_anchor(b, ev->anchor, y, 1, NULL);
		add_child(b, y, 1, ev);
		break;
	}
	case CDX_YEV_SEQ_START: open_node(b, ev, CDX_Y_SEQ); break;
	case CDX_YEV_MAP_START: open_node(b, ev, CDX_Y_MAP); break;
	case CDX_YEV_END: close_node(b, ev); break;
	}
	return b->fatal;
}

/* an alias (libyaml only): the aliased node, shared */
static void on_alias(struct build *b, const struct cdx_yev *ev, const char *name)
{
	size_t at;
	if (!cdx_map_get(&b->anchor_index, name, &at)) {
		problem_at(b, ev, "unknown alias '*%s'", name);
		b->fatal = 1;
	} else if (!b->anchors[at].node) {
		problem_at(b, ev, "recursive alias: '*%s' refers to a node that contains it", name);
		b->fatal = 1;
	} else {
		add_child(b, b->anchors[at].node, b->anchors[at].size, ev);
	}
}

/* a libyaml event into the tree */
static void on_libyaml_event(struct build *b, const yaml_event_t *e)
{
	struct cdx_yev ev;
	memset(&ev, 0, sizeof(ev));
	ev.line = (int)e->start_mark.line + 1;
	ev.col = (int)e->start_mark.column + 1;
	switch (e->type) {
	case YAML_SCALAR_EVENT:
		ev.type = CDX_YEV_SCALAR;
		ev.str = (const char *)e->data.scalar.value;
		ev.len = e->data.scalar.length;
		ev.plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		ev.anchor = (const char *)e->data.scalar.anchor;
		break;
	case YAML_ALIAS_EVENT:
		on_alias(b, &ev, (const char *)e->data.alias.anchor);
		return;
	case YAML_SEQUENCE_START_EVENT:
		ev.type = CDX_YEV_SEQ_START;
		ev.anchor = (const char *)e->data.sequence_start.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		ev.type = CDX_YEV_MAP_START;
		ev.anchor = (const char *)e->data.mapping_start.anchor;
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		ev.type = CDX_YEV_END;
		break;
	default:
		return;
	}
	on_event(b, &ev);
}

static void offset_pos(const char *buf, size_t off, int *line, int *col)
{
	size_t i;
	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

/* whether line LINE (0-based) of BUF is indented with a tab */
static bool tab_indented(const char *buf, size_t len, size_t line)
{
	size_t i = 0;
	while (line && i < len)
		if (buf[i++] == '\n')
			line--;
	for (; i < len && (buf[i] == ' ' || buf[i] == '\t'); i++)
		if (buf[i] == '\t')
			return true;
	return false;
}

static void parser_problem(struct cdx_ytree *t, yaml_parser_t *p, const char *buf, size_t len,
			   struct cdx_diags *diags)
{
	const char *what = p->problem ? p->problem : "cannot parse YAML";
	if (tab_indented(buf, len, p->problem_mark.line)) {
		cdx_diags_add(diags, t->file, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
			      "tab character in indentation: YAML allows only spaces");
		return;
	}
	if (p->context)
		cdx_diags_add(diags, t->file, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
			      "yaml syntax: %s %s (line %d)", p->context, what, (int)p->context_mark.line + 1);
	else
		cdx_diags_add(diags, t->file, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
			      "yaml syntax: %s", what);
}

/* a tree for a text of LEN bytes: the first chunk fits the tree of a
 * typical pipeline file of that size (nodes and strings take about three
 * times the text), so that a big file goes to huge pages at once */
static struct cdx_ytree *new_tree(const char *file, size_t len)
{
	struct cdx_ytree *t = cdx_xcalloc(1, sizeof(*t));
	t->file = cdx_xstrdup(file);
	t->arena.first = len < 16384 ? 65536 : len < (SIZE_MAX >> 3) ? 4 * len : len;
	return t;
}

static void build_init(struct build *b, struct cdx_ytree *t, struct cdx_diags *diags)
{
	memset(b, 0, sizeof(*b));
	b->t = t;
	b->diags = diags;
}

static void build_done(struct build *b)
{
	free(b->kids);
	free(b->anchors);
	cdx_map_free(&b->anchor_index);
}

/* the tree of BUF read by the fast scanner, or NULL with *FAILED set when
 * the tree has problems (added to DIAGS); NULL with *UNSUPPORTED set, and
 * nothing reported, when the text is outside the scanner's subset */
static struct cdx_ytree *parse_fast(const char *file, const char *buf, size_t len, struct cdx_diags *diags,
				    bool *unsupported)
{
	struct cdx_ytree *t = new_tree(file, len);
	struct cdx_diags *own = diags ? cdx_diags_new() : NULL;
	struct build b;
	int rc;
	build_init(&b, t, own);
	*unsupported = false;
	/* above this size an alias-bomb report could sit at a collection's
	 * end, a position the scanner does not reproduce */
	rc = len < 2 * (size_t)CDX_YAML_MAXEXPAND ? cdx_yfast_parse(buf, len, on_event, &b) : -1;
	build_done(&b);
	if (rc != 0) {
		/* given up, or stopped by a fatal problem: libyaml may have seen
		 * a syntax error before that point in its lookahead */
		*unsupported = true;
	} else {
		cdx_diags_append(diags, own);
		if (!b.failed && !b.fatal && !t->root)
			cdx_diags_add(diags, file, 0, 0, "file is empty");
		else if (!b.failed && !b.fatal)
			goto done;
	}
	cdx_yaml_free(t);
	t = NULL;
done:
	cdx_diags_free(own);
	return t;
}

/* the tree of BUF read by libyaml, or NULL with problems added to DIAGS */
static struct cdx_ytree *parse_libyaml(const char *file, const char *buf, size_t len, struct cdx_diags *diags)
{
	struct cdx_ytree *t = new_tree(file, len);
	yaml_parser_t parser;
	struct build b;
	int docs = 0, done = 0;

	build_init(&b, t, diags);
	if (!yaml_parser_initialize(&parser)) {
		cdx_diags_add(diags, file, 0, 0, "cannot initialise the YAML parser");
		cdx_yaml_free(t);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !b.fatal) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			parser_problem(t, &parser, buf, len, diags);
			b.failed = 1;
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			cdx_diags_add(diags, file, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
				      "more than one YAML document in one file");
			b.failed = 1;
			done = 1;
		} else if (ev.type == YAML_STREAM_END_EVENT) {
			done = 1;
		} else {
			on_libyaml_event(&b, &ev);
		}
		yaml_event_delete(&ev);
	}
	build_done(&b);
	yaml_parser_delete(&parser);
	if (!b.failed && !b.fatal && !t->root)
		cdx_diags_add(diags, file, 0, 0, "file is empty");
	else if (!b.failed && !b.fatal)
		return t;
	cdx_yaml_free(t);
	return NULL;
}

struct cdx_ytree *cdx_yaml_parse_engine(const char *file, const char *buf, size_t len, struct cdx_diags *diags,
					enum cdx_yaml_engine engine, bool *unsupported)
{
	struct cdx_ytree *t;
	size_t bad;
	bool fast_unsupported = false;

	if (unsupported)
		*unsupported = false;
	if (len > CDX_YAML_MAXBYTES) {
		cdx_diags_add(diags, file, 0, 0, "file is larger than 16 MiB");
		return NULL;
	}
	bad = cdx_utf8_check(buf, len);
	if (bad) {
		int line, col;
		offset_pos(buf, bad - 1, &line, &col);
		cdx_diags_add(diags, file, line, col, "file is not valid UTF-8");
		return NULL;
	}
	if (memchr(buf, '\0', len)) {
		int line, col;
		offset_pos(buf, (size_t)((const char *)memchr(buf, '\0', len) - buf), &line, &col);
		cdx_diags_add(diags, file, line, col, "file contains a NUL byte");
		return NULL;
	}
	if (engine != CDX_YAML_LIBYAML) {
		t = parse_fast(file, buf, len, diags, &fast_unsupported);
		if (!fast_unsupported)
			return t;
		if (engine == CDX_YAML_FAST) {
			if (unsupported)
				*unsupported = true;
			return NULL;
		}
	}
	return parse_libyaml(file, buf, len, diags);
}

struct cdx_ytree *cdx_yaml_parse(const char *file, const char *buf, size_t len, struct cdx_diags *diags)
{
	return cdx_yaml_parse_engine(file, buf, len, diags, CDX_YAML_AUTO, NULL);
}

/* ---- reading ------------------------------------------------------------- */

struct cdx_ynode *cdx_yaml_get(const struct cdx_ynode *map, const char *key)
{
	size_t i;
	if (!map || map->type != CDX_Y_MAP)
		return NULL;
	for (i = 0; i < map->n; i++) {
		const char *k = map->pairs[i].key->str;
		if (k[0] == key[0] && strcmp(k, key) == 0) /* first byte: skip most calls */
			return map->pairs[i].val;
	}
	return NULL;
}

bool cdx_yaml_is_null(const struct cdx_ynode *n)
{
	if (!n || n->type != CDX_Y_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

int cdx_yaml_bool(const struct cdx_ynode *n)
{
	if (!n || n->type != CDX_Y_SCALAR || !n->plain)
		return -1;
	if (!strcmp(n->str, "true") || !strcmp(n->str, "True") || !strcmp(n->str, "TRUE"))
		return 1;
	if (!strcmp(n->str, "false") || !strcmp(n->str, "False") || !strcmp(n->str, "FALSE"))
		return 0;
	return -1;
}

const char *cdx_yaml_typename(const struct cdx_ynode *n)
{
	if (!n)
		return "nothing";
	if (cdx_yaml_is_null(n))
		return "null";
	switch (n->type) {
	case CDX_Y_SCALAR: return cdx_yaml_bool(n) >= 0 ? "a boolean" : "a string";
	case CDX_Y_SEQ: return "a list";
	case CDX_Y_MAP: return "a mapping";
	}
	return "?";
}

struct cdx_ynode *cdx_yaml_new_map(struct cdx_ytree *t, const struct cdx_ynode *pos, size_t cap)
{
	struct cdx_ynode *y = new_node(t, CDX_Y_MAP, pos->file, pos->line, pos->col);
	y->pairs = cdx_arena_alloc(&t->arena, (cap ? cap : 1) * sizeof(*y->pairs));
	y->cap = cap;
	return y;
}

void cdx_yaml_map_add(struct cdx_ytree *t, struct cdx_ynode *map, struct cdx_ynode *key, struct cdx_ynode *val)
{
	(void)t;
	if (map->n < map->cap) {
		map->pairs[map->n].key = key;
		map->pairs[map->n].val = val;
		map->n++;
	}
}

struct cdx_ynode *cdx_yaml_new_scalar(struct cdx_ytree *t, const struct cdx_ynode *pos, const char *s)
{
	struct cdx_ynode *y = new_node(t, CDX_Y_SCALAR, pos->file, pos->line, pos->col);
	size_t n = strlen(s);
	char *c = cdx_arena_alloc(&t->arena, n + 1);
	memcpy(c, s, n + 1);
	y->str = c;
	y->len = n;
	return y;
}
