/* ytree.c — YAML text to a positioned, guarded tree (see ytree.h).
 *
 * libyaml's document loader does the parsing and resolves anchors to node
 * ids; this file then walks the document twice.  The first walk measures
 * how many nodes the document would have with every alias expanded
 * (memoised per node, so it is linear in the document) and rejects cycles,
 * excessive nesting and alias bombs before anything is built.  The second
 * walk builds cdx_ynode trees in an arena, sharing aliased nodes instead of
 * copying them and resolving merge keys.  After the first walk succeeds,
 * every later walk of the tree is bounded by CDX_YAML_MAXEXPAND nodes.
 */
#include "ytree.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "map.h"

struct chunk {
	struct chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

struct cdx_ytree {
	struct chunk *chunks;  /* arena: every node and string of the tree */
	char *file;            /* file name used in positions */
	struct cdx_ynode *root;
};

static void *arena_alloc(struct cdx_ytree *t, size_t n)
{
	struct chunk *c = t->chunks;
	n = (n + 15) & ~(size_t)15;
	if (!c || c->size - c->used < n) {
		size_t size = n > 65536 ? n : 65536;
		c = cdx_xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = t->chunks;
		t->chunks = c;
	}
	c->used += n;
	return memset(c->data + c->used - n, 0, n);
}

void cdx_yaml_free(struct cdx_ytree *t)
{
	struct chunk *c, *next;
	if (!t)
		return;
	for (c = t->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
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

struct build {
	struct cdx_ytree *t;
	yaml_document_t *doc;
	struct cdx_diags *diags;
	uint64_t *size;          /* expanded size per node id - 1, 0 = unknown */
	unsigned char *state;    /* 0 unvisited, 1 on the walk's stack, 2 done */
	struct cdx_ynode **memo; /* built node per node id - 1 */
	int failed;
};

static void node_pos(const struct build *b, const yaml_node_t *n, int *line, int *col)
{
	(void)b;
	*line = (int)n->start_mark.line + 1;
	*col = (int)n->start_mark.column + 1;
}

static void problem(struct build *b, const yaml_node_t *n, const char *msg)
{
	int line, col;
	node_pos(b, n, &line, &col);
	cdx_diags_add(b->diags, b->t->file, line, col, "%s", msg);
	b->failed = 1;
}

/* expanded size of node ID, capped at CDX_YAML_MAXEXPAND + 1; 0 on error */
static uint64_t measure(struct build *b, int id, int depth)
{
	yaml_node_t *n = yaml_document_get_node(b->doc, id);
	uint64_t total = 1;
	if (!n)
		return 0;
	if (b->state[id - 1] == 2)
		return b->size[id - 1];
	if (b->state[id - 1] == 1) {
		problem(b, n, "recursive alias: a node contains itself");
		return 0;
	}
	if (depth > CDX_YAML_MAXDEPTH) {
		problem(b, n, "nested deeper than 64 levels");
		return 0;
	}
	b->state[id - 1] = 1;
	if (n->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *it;
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			uint64_t s = measure(b, *it, depth + 1);
			if (!s)
				return 0;
			total += s;
			if (total > CDX_YAML_MAXEXPAND)
				break;
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		yaml_node_pair_t *p;
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			uint64_t k = measure(b, p->key, depth + 1), v;
			if (!k)
				return 0;
			v = measure(b, p->value, depth + 1);
			if (!v)
				return 0;
			total += k + v;
			if (total > CDX_YAML_MAXEXPAND)
				break;
		}
	}
	if (total > CDX_YAML_MAXEXPAND)
		total = CDX_YAML_MAXEXPAND + 1;
	b->state[id - 1] = 2;
	b->size[id - 1] = total;
	return total;
}

static struct cdx_ynode *new_node(struct cdx_ytree *t, enum cdx_ytype type, const char *file, int line, int col)
{
	struct cdx_ynode *y = arena_alloc(t, sizeof(*y));
	y->type = type;
	y->file = file;
	y->line = line;
	y->col = col;
	return y;
}

static struct cdx_ynode *build_node(struct build *b, int id);

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

static struct cdx_ynode *build_map(struct build *b, yaml_node_t *n, struct cdx_ynode *y)
{
	yaml_node_pair_t *p;
	size_t cap = 0, nmerge = 0, i;
	struct cdx_ynode **merges = NULL;
	size_t cap_merges = 0;
	struct cdx_map index = {0};

	/* capacity: own pairs plus every pair of every merged mapping */
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
		struct cdx_ynode *vy;
		if (k->type != YAML_SCALAR_NODE) {
			problem(b, k, "mapping keys must be strings");
			continue;
		}
		if (!(k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && k->data.scalar.length == 2 &&
		      memcmp(k->data.scalar.value, "<<", 2) == 0)) {
			cap++;
			continue;
		}
		vy = build_node(b, p->value);
		if (!vy)
			continue;
		if (vy->type == CDX_Y_MAP) {
			CDX_PUSH(merges, nmerge, cap_merges, vy);
			cap += vy->n;
		} else if (vy->type == CDX_Y_SEQ) {
			for (i = 0; i < vy->n; i++) {
				if (vy->items[i]->type != CDX_Y_MAP) {
					problem(b, k, "merge key '<<' needs a mapping or a list of mappings");
					break;
				}
				CDX_PUSH(merges, nmerge, cap_merges, vy->items[i]);
				cap += vy->items[i]->n;
			}
		} else {
			problem(b, k, "merge key '<<' needs a mapping or a list of mappings");
		}
	}
	y->pairs = arena_alloc(b->t, (cap ? cap : 1) * sizeof(*y->pairs));
	y->cap = cap;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
		struct cdx_ynode *ky, *vy;
		size_t at;
		if (k->type != YAML_SCALAR_NODE ||
		    (k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && k->data.scalar.length == 2 &&
		     memcmp(k->data.scalar.value, "<<", 2) == 0))
			continue;
		ky = build_node(b, p->key);
		vy = build_node(b, p->value);
		if (!ky || !vy)
			continue;
		if (key_seen(y, &index, ky->str, &at)) {
			cdx_diags_add(b->diags, b->t->file, ky->line, ky->col,
				      "duplicate key '%s' (first at line %d)", ky->str, y->pairs[at].key->line);
			b->failed = 1;
			continue;
		}
		add_pair(y, &index, ky, vy);
	}
	for (i = 0; i < nmerge; i++) {
		size_t j, at;
		for (j = 0; j < merges[i]->n; j++) {
			struct cdx_ypair *mp = &merges[i]->pairs[j];
			if (!key_seen(y, &index, mp->key->str, &at))
				add_pair(y, &index, mp->key, mp->val);
		}
	}
	free(merges);
	cdx_map_free(&index);
	return y;
}

static struct cdx_ynode *build_node(struct build *b, int id)
{
	yaml_node_t *n = yaml_document_get_node(b->doc, id);
	struct cdx_ynode *y;
	int line, col;
	if (!n)
		return NULL;
	if (b->memo[id - 1])
		return b->memo[id - 1];
	node_pos(b, n, &line, &col);
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		char *s;
		y = new_node(b->t, CDX_Y_SCALAR, b->t->file, line, col);
		s = arena_alloc(b->t, n->data.scalar.length + 1);
		memcpy(s, n->data.scalar.value, n->data.scalar.length);
		s[n->data.scalar.length] = '\0';
		y->str = s;
		y->len = n->data.scalar.length;
		y->plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		b->memo[id - 1] = y;
		return y;
	}
	case YAML_SEQUENCE_NODE: {
		size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start), i;
		y = new_node(b->t, CDX_Y_SEQ, b->t->file, line, col);
		b->memo[id - 1] = y;
		y->items = arena_alloc(b->t, (cnt ? cnt : 1) * sizeof(*y->items));
		for (i = 0; i < cnt; i++) {
			struct cdx_ynode *item = build_node(b, n->data.sequence.items.start[i]);
			if (item)
				y->items[y->n++] = item;
		}
		return y;
	}
	case YAML_MAPPING_NODE:
		y = new_node(b->t, CDX_Y_MAP, b->t->file, line, col);
		b->memo[id - 1] = y;
		return build_map(b, n, y);
	default:
		return NULL;
	}
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

struct cdx_ytree *cdx_yaml_parse(const char *file, const char *buf, size_t len, struct cdx_diags *diags)
{
	struct cdx_ytree *t = cdx_xcalloc(1, sizeof(*t));
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	struct build b = {0};
	size_t bad, nodes;
	int parser_ready = 0, doc_ready = 0;

	t->file = cdx_xstrdup(file);
	if (len > CDX_YAML_MAXBYTES) {
		cdx_diags_add(diags, file, 0, 0, "file is larger than 16 MiB");
		goto fail;
	}
	bad = cdx_utf8_check(buf, len);
	if (bad) {
		int line, col;
		offset_pos(buf, bad - 1, &line, &col);
		cdx_diags_add(diags, file, line, col, "file is not valid UTF-8");
		goto fail;
	}
	if (memchr(buf, '\0', len)) {
		int line, col;
		offset_pos(buf, (size_t)((const char *)memchr(buf, '\0', len) - buf), &line, &col);
		cdx_diags_add(diags, file, line, col, "file contains a NUL byte");
		goto fail;
	}
	if (!yaml_parser_initialize(&parser)) {
		cdx_diags_add(diags, file, 0, 0, "cannot initialise the YAML parser");
		goto fail;
	}
	parser_ready = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		parser_problem(t, &parser, buf, len, diags);
		goto fail;
	}
	doc_ready = 1;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		cdx_diags_add(diags, file, 0, 0, "file is empty");
		goto fail;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		parser_problem(t, &parser, buf, len, diags);
		goto fail;
	}
	if (yaml_document_get_root_node(&extra)) {
		cdx_diags_add(diags, file, (int)extra.start_mark.line + 1, (int)extra.start_mark.column + 1,
			      "more than one YAML document in one file");
		yaml_document_delete(&extra);
		goto fail;
	}
	yaml_document_delete(&extra);

	nodes = (size_t)(doc.nodes.top - doc.nodes.start);
	b.t = t;
	b.doc = &doc;
	b.diags = diags;
	b.size = cdx_xcalloc(nodes, sizeof(*b.size));
	b.state = cdx_xcalloc(nodes, 1);
	b.memo = cdx_xcalloc(nodes, sizeof(*b.memo));
	{
		uint64_t total = measure(&b, 1, 1);
		if (total > CDX_YAML_MAXEXPAND)
			problem(&b, root, "aliases expand to more than 4000000 nodes (an alias bomb?)");
	}
	if (!b.failed)
		t->root = build_node(&b, 1);
	free(b.size);
	free(b.state);
	free(b.memo);
	if (b.failed || !t->root)
		goto fail;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return t;
fail:
	if (doc_ready)
		yaml_document_delete(&doc);
	if (parser_ready)
		yaml_parser_delete(&parser);
	cdx_yaml_free(t);
	return NULL;
}

/* ---- reading ------------------------------------------------------------- */

struct cdx_ynode *cdx_yaml_get(const struct cdx_ynode *map, const char *key)
{
	size_t i;
	if (!map || map->type != CDX_Y_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->pairs[i].key->str, key) == 0)
			return map->pairs[i].val;
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
	y->pairs = arena_alloc(t, (cap ? cap : 1) * sizeof(*y->pairs));
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
	char *c = arena_alloc(t, n + 1);
	memcpy(c, s, n + 1);
	y->str = c;
	y->len = n;
	return y;
}
