/* yfast.c — the fast YAML event scanner (see yfast.h).
 *
 * A recursive descent over lines.  The cursor always rests at the first
 * character of a node or, between block nodes, at the first non-space
 * character of the next line with content, whose indentation is kept in
 * `ind` (-1 at the end of the text).  Block nodes return with the cursor
 * on the line after them; each caller then decides from that indentation
 * whether its collection goes on, ends, or the text leaves the subset.
 *
 * The subset is chosen so that every accepted document is valid YAML with
 * one reading: block mappings whose keys are one-line scalars followed by
 * `: `, block sequences (also "indentless" ones under a key), one-line
 * plain, single- and double-quoted scalars (a few common escapes), one-line
 * flow collections without empty entries (JSON among them: a quoted key's
 * `:` needs no space after it), comments, blank lines, empty values.  Everything else returns BAIL, which costs only the time spent so
 * far: the caller starts over with libyaml.
 *
 * Positions follow libyaml: a node starts at its first character (the
 * quote of a quoted scalar, the `-` of a block sequence, the first key of a
 * block mapping, the bracket of a flow collection); an empty value is
 * placed just after its `:` or `-`.  Columns count characters, not bytes.
 */
#include "yaml/yfast.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "yaml/ytree.h"

#define BAIL (-1)
#define STOP 1
/* libyaml drops a simple key candidate after 1024 characters */
#define KEY_MAX 1000

/* character classes */
enum {
	C_IND = 1,  /* an indicator: cannot start a plain scalar */
	C_FLOW = 2, /* ends a plain scalar inside a flow collection */
	C_STOP = 4  /* may end a plain scalar anywhere: look closer */
};

static const unsigned char cls[256] = {
	[','] = C_IND | C_FLOW, ['['] = C_IND | C_FLOW, [']'] = C_IND | C_FLOW, ['{'] = C_IND | C_FLOW,
	['}'] = C_IND | C_FLOW, ['#'] = C_IND | C_STOP, [':'] = C_IND | C_STOP, ['&'] = C_IND,
	['*'] = C_IND, ['!'] = C_IND, ['|'] = C_IND, ['>'] = C_IND, ['\''] = C_IND, ['"'] = C_IND,
	['%'] = C_IND, ['@'] = C_IND, ['`'] = C_IND, ['?'] = C_IND, ['\n'] = C_STOP, [' '] = C_STOP,
};

struct yf {
	const char *s, *end; /* the text */
	const char *p;       /* cursor */
	const char *ls;      /* start of the cursor's line */
	const char *cp;      /* a position on line LS whose column is known ... */
	int cc;              /* ... this one (tokens are read left to right) */
	int line;            /* 1-based line of the cursor */
	int ind;             /* indentation of the cursor's line, -1 at the end */
	int depth;           /* open collections */
	char *tmp;           /* unescaped value of a quoted scalar */
	size_t cap_tmp;
	cdx_yev_fn fn;
	void *ctx;
};

/* a scalar as read from the text */
struct tok {
	const char *start; /* first character (the quote if quoted) */
	const char *s;     /* value: plain, or between the quotes */
	size_t len;
	int line, col;
	char quote;        /* 0 for plain, else ' or " */
	bool esc;          /* quoted with escapes: unescape before use */
};

static int col_of(struct yf *y, const char *at)
{
	const char *q = y->cp;
	int c = y->cc;
	if (q < y->ls || q > at) {
		q = y->ls;
		c = 1;
	}
	for (; q < at; q++)
		c += ((unsigned char)*q & 0xc0) != 0x80;
	y->cp = at;
	y->cc = c;
	return c;
}

static const char *skip_spaces(const struct yf *y, const char *p)
{
	while (p < y->end && *p == ' ')
		p++;
	return p;
}

static bool at_eol(const struct yf *y, const char *p)
{
	return p >= y->end || *p == '\n';
}

/* a block sequence entry: `-` followed by a space or the end of the line */
static bool is_dash(const struct yf *y, const char *p)
{
	return p < y->end && *p == '-' && (p + 1 == y->end || p[1] == ' ' || p[1] == '\n');
}

/* a mapping value indicator at P: `:` followed by a space or the end of the
 * line */
static bool is_colon(const struct yf *y, const char *p)
{
	return p < y->end && *p == ':' && (p + 1 == y->end || p[1] == ' ' || p[1] == '\n');
}

static int emit(struct yf *y, enum cdx_yev_type type, int line, int col, const char *s, size_t len, bool plain)
{
	struct cdx_yev ev;
	if (type == CDX_YEV_SEQ_START || type == CDX_YEV_MAP_START) {
		if (++y->depth > CDX_YAML_MAXDEPTH + 1)
			return BAIL; /* the consumer stops first; never recurse deeper */
	} else if (type == CDX_YEV_END) {
		y->depth--;
	}
	ev.type = type;
	ev.line = line;
	ev.col = col;
	ev.str = s;
	ev.len = len;
	ev.plain = plain;
	ev.anchor = NULL;
	return y->fn(y->ctx, &ev) ? STOP : 0;
}

static int emit_tok(struct yf *y, const struct tok *t)
{
	const char *p, *e = t->s + t->len;
	char *o;
	if (!t->esc)
		return emit(y, CDX_YEV_SCALAR, t->line, t->col, t->s, t->len, !t->quote);
	cdx_grow(&y->tmp, &y->cap_tmp, t->len + 1, 1);
	for (o = y->tmp, p = t->s; p < e; p++) {
		if (t->quote == '\'' && *p == '\'') {
			*o++ = *++p; /* '' */
			continue;
		}
		if (t->quote == '\'' || *p != '\\') {
			*o++ = *p;
			continue;
		}
		switch (*++p) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case '0': *o++ = '\0'; break;
		case 'a': *o++ = '\a'; break;
		case 'b': *o++ = '\b'; break;
		case 'e': *o++ = '\033'; break;
		case 'f': *o++ = '\f'; break;
		case 'v': *o++ = '\v'; break;
		default: *o++ = *p; break; /* \\ \" \/ and a space */
		}
	}
	return emit(y, CDX_YEV_SCALAR, t->line, t->col, y->tmp, (size_t)(o - y->tmp), false);
}

/* a one-line quoted scalar at P; *AFTER: past its closing quote */
static int scan_quoted(struct yf *y, const char *p, struct tok *t, const char **after)
{
	const char *i = p + 1;
	t->quote = *p;
	t->s = i;
	for (;;) {
		if (at_eol(y, i))
			return BAIL; /* folded over lines, or unterminated */
		if (t->quote == '"' && *i == '\\') {
			if (i + 1 >= y->end || !strchr("\\\"/ntr0abefv ", i[1]) || i[1] == '\0')
				return BAIL;
			t->esc = true;
			i += 2;
			continue;
		}
		if (*i == t->quote) {
			if (t->quote == '\'' && i + 1 < y->end && i[1] == '\'') {
				t->esc = true;
				i += 2;
				continue;
			}
			break;
		}
		i++;
	}
	t->len = (size_t)(i - t->s);
	*after = i + 1;
	return 0;
}

/* a one-line plain scalar at P (FLOW: inside a flow collection); *AFTER:
 * just past its last non-space character */
static int scan_plain(struct yf *y, const char *p, bool flow, struct tok *t, const char **after)
{
	const char *i = p, *last = p;
	unsigned char stop = flow ? C_STOP | C_FLOW : C_STOP;
	if (cls[(unsigned char)*p] & C_IND)
		return BAIL; /* an indicator, or a character libyaml refuses */
	if (*p == '-' && (p + 1 == y->end || p[1] == ' ' || p[1] == '\n' || (cls[(unsigned char)p[1]] & C_FLOW)))
		return BAIL;
	while (i < y->end) {
		unsigned char c = (unsigned char)*i;
		if (!(cls[c] & stop)) {
			last = ++i;
			continue;
		}
		if (c == '\n')
			break;
		if (c == ' ') {
			i++;
			continue;
		}
		if (c == '#') {
			if (i[-1] == ' ')
				break; /* a comment */
		} else if (c == ':') {
			if (is_colon(y, i))
				break;
			if (flow)
				return BAIL;
		} else {
			break; /* a flow indicator */
		}
		last = ++i;
	}
	t->quote = 0;
	t->s = p;
	t->len = (size_t)(last - p);
	*after = last;
	return 0;
}

static int scan_scalar(struct yf *y, const char *p, bool flow, struct tok *t, const char **after)
{
	memset(t, 0, sizeof(*t));
	if (at_eol(y, p) || *p == ' ')
		return BAIL;
	t->start = p;
	t->line = y->line;
	t->col = col_of(y, p);
	if (*p == '"' || *p == '\'')
		return scan_quoted(y, p, t, after);
	return scan_plain(y, p, flow, t, after);
}

/* move the cursor to the first content of the first line from LS on that
 * has any (not blank, not only a comment); LINE is LS's number */
static int seek(struct yf *y, const char *ls, int line)
{
	while (ls < y->end) {
		const char *c = skip_spaces(y, ls);
		if (c >= y->end)
			break;
		if (*c == '\n' || *c == '#') {
			c = memchr(c, '\n', (size_t)(y->end - c));
			if (!c)
				break;
			ls = c + 1;
			line++;
			continue;
		}
		if (c == ls && (*c == '%' || (y->end - c >= 3 && (!memcmp(c, "---", 3) || !memcmp(c, "...", 3)))))
			return BAIL; /* directives and document markers */
		y->ls = ls;
		y->p = c;
		y->line = line;
		y->ind = (int)(c - ls);
		return 0;
	}
	y->p = y->end;
	y->ind = -1;
	return 0;
}

/* the cursor is at the end of a line's content (at its end, or at a
 * comment): go to the next line with content */
static int advance(struct yf *y)
{
	const char *nl = memchr(y->p, '\n', (size_t)(y->end - y->p));
	if (!nl) {
		y->p = y->end;
		y->ind = -1;
		return 0;
	}
	return seek(y, nl + 1, y->line + 1);
}

/* after a node that ends its line at P: nothing but spaces and a comment
 * may follow; then go to the next line */
static int finish_line(struct yf *y, const char *p)
{
	const char *q = skip_spaces(y, p);
	if (!at_eol(y, q) && !(*q == '#' && q > p))
		return BAIL;
	y->p = q;
	return advance(y);
}

static int block_node(struct yf *y, int parent);
static int flow_node(struct yf *y, const char **pp);

static void put(struct yf *y, size_t *n, const char *s, size_t len)
{
	cdx_grow(&y->tmp, &y->cap_tmp, *n + len + 1, 1);
	memcpy(y->tmp + *n, s, len);
	*n += len;
}

/* a literal block scalar (`|` or `|-`) at P, in a collection indented by
 * PARENT: its lines are those indented more than PARENT, by at least as much
 * as the first one, which sets the indentation removed from each.  Leading
 * blank lines, an explicit indentation, `|+`, lines of nothing but extra
 * spaces and empty blocks are left to libyaml. */
static int block_scalar(struct yf *y, const char *p, int parent)
{
	int line = y->line, col = col_of(y, p), lineno = y->line + 1, indent = -1;
	const char *q = p + 1, *r, *ls;
	size_t n = 0, blanks = 0;
	bool strip = false, content = false, broken = false;
	int rc;
	if (q < y->end && *q == '-') {
		strip = true;
		q++;
	}
	r = skip_spaces(y, q);
	if (!at_eol(y, r) && !(*r == '#' && r > q))
		return BAIL; /* `|+`, `|2`, or text after the indicator */
	ls = memchr(r, '\n', (size_t)(y->end - r));
	if (!ls)
		return BAIL;
	for (ls++; ls < y->end;) {
		const char *c = skip_spaces(y, ls), *eol;
		int sp = (int)(c - ls);
		if (at_eol(y, c)) {
			if (indent < 0 || sp > indent)
				return BAIL;
			blanks++;
			ls = c < y->end ? c + 1 : c;
			lineno++;
			continue;
		}
		if (indent < 0) {
			if (sp <= parent)
				return BAIL;
			indent = sp;
		}
		if (sp < indent)
			break;
		if (content)
			blanks++;
		while (blanks) {
			put(y, &n, "\n", 1);
			blanks--;
		}
		eol = memchr(c, '\n', (size_t)(y->end - c));
		if (!eol)
			eol = y->end;
		put(y, &n, ls + indent, (size_t)(eol - ls - indent));
		content = true;
		broken = eol < y->end; /* the text may end without a line break */
		ls = eol < y->end ? eol + 1 : eol;
		lineno++;
	}
	if (!content)
		return BAIL;
	if (!strip && broken)
		put(y, &n, "\n", 1);
	if ((rc = emit(y, CDX_YEV_SCALAR, line, col, y->tmp, n, false)))
		return rc;
	return seek(y, ls, lineno);
}

/* a block sequence at the cursor (a `-` at indentation IND); INDENTLESS: the
 * value of a mapping key at the same indentation, which ends at the next
 * line of that indentation that is not an entry */
static int block_seq(struct yf *y, int ind, bool indentless)
{
	int rc = emit(y, CDX_YEV_SEQ_START, y->line, col_of(y, y->p), NULL, 0, false);
	if (rc)
		return rc;
	for (;;) {
		int line = y->line, col = col_of(y, y->p) + 1;
		const char *p = skip_spaces(y, y->p + 1);
		if (at_eol(y, p) || *p == '#') {
			y->p = p;
			if ((rc = advance(y)))
				return rc;
			if (y->ind > ind)
				rc = block_node(y, ind);
			else
				rc = emit(y, CDX_YEV_SCALAR, line, col, "", 0, true);
		} else {
			if (is_dash(y, p))
				return BAIL; /* `- - x` */
			y->p = p;
			rc = block_node(y, ind);
		}
		if (rc)
			return rc;
		if (y->ind == ind && is_dash(y, y->p))
			continue;
		if (y->ind < ind || (indentless && y->ind == ind))
			return emit(y, CDX_YEV_END, y->line, 0, NULL, 0, false);
		return BAIL;
	}
}

/* a block mapping at indentation IND whose first key K has been read, its
 * `:` at COLON */
static int block_map(struct yf *y, int ind, struct tok *k, const char *colon)
{
	int rc = emit(y, CDX_YEV_MAP_START, k->line, k->col, NULL, 0, false);
	if (rc)
		return rc;
	for (;;) {
		const char *p = skip_spaces(y, colon + 1);
		if (colon - k->start > KEY_MAX)
			return BAIL;
		if ((rc = emit_tok(y, k)))
			return rc;
		if (at_eol(y, p) || *p == '#') {
			int line = y->line, col = col_of(y, colon) + 1;
			y->p = p;
			if ((rc = advance(y)))
				return rc;
			if (y->ind > ind)
				rc = block_node(y, ind);
			else if (y->ind == ind && is_dash(y, y->p))
				rc = block_seq(y, ind, true);
			else
				rc = emit(y, CDX_YEV_SCALAR, line, col, "", 0, true);
		} else {
			const char *after;
			struct tok v;
			if (*p == '[' || *p == '{') {
				rc = flow_node(y, &p);
				if (!rc)
					rc = finish_line(y, p);
			} else if (*p == '|') {
				rc = block_scalar(y, p, ind);
			} else if (!(rc = scan_scalar(y, p, false, &v, &after))) {
				if (is_colon(y, skip_spaces(y, after)))
					return BAIL; /* `a: b: c` */
				rc = emit_tok(y, &v);
				if (!rc)
					rc = finish_line(y, after);
			}
		}
		if (rc)
			return rc;
		if (y->ind < ind)
			return emit(y, CDX_YEV_END, y->line, 0, NULL, 0, false);
		if (y->ind > ind || *y->p == '[' || *y->p == '{' || is_dash(y, y->p))
			return BAIL;
		{
			const char *after;
			if ((rc = scan_scalar(y, y->p, false, k, &after)))
				return rc;
			colon = skip_spaces(y, after);
			if (!is_colon(y, colon))
				return BAIL;
		}
	}
}

/* a block node at the cursor, which starts the node's first line or follows
 * `- ` on it, in a collection indented by PARENT */
static int block_node(struct yf *y, int parent)
{
	const char *p = y->p, *after, *q;
	struct tok t;
	int rc;
	if (is_dash(y, p)) {
		if (p - y->ls != y->ind)
			return BAIL;
		return block_seq(y, y->ind, false);
	}
	if (*p == '[' || *p == '{') {
		if ((rc = flow_node(y, &p)))
			return rc;
		return finish_line(y, p); /* a flow key is outside the subset */
	}
	if (*p == '|' && p - y->ls != y->ind)
		return block_scalar(y, p, parent);
	if ((rc = scan_scalar(y, p, false, &t, &after)))
		return rc;
	q = skip_spaces(y, after);
	if (is_colon(y, q))
		return block_map(y, (int)(p - y->ls), &t, q);
	if ((rc = emit_tok(y, &t)))
		return rc;
	return finish_line(y, after);
}

/* a flow node on one line at *PP; *PP is moved past it */
static int flow_node(struct yf *y, const char **pp)
{
	const char *p = *pp, *after;
	struct tok t;
	int rc;
	bool map;
	char close;
	if (p >= y->end)
		return BAIL;
	if (*p != '[' && *p != '{') {
		if ((rc = scan_scalar(y, p, true, &t, &after)) || (rc = emit_tok(y, &t)))
			return rc;
		*pp = after;
		return 0;
	}
	map = *p == '{';
	close = map ? '}' : ']';
	if ((rc = emit(y, map ? CDX_YEV_MAP_START : CDX_YEV_SEQ_START, y->line, col_of(y, p), NULL, 0, false)))
		return rc;
	p = skip_spaces(y, p + 1);
	if (p < y->end && *p == close) {
		*pp = p + 1;
		return emit(y, CDX_YEV_END, y->line, 0, NULL, 0, false);
	}
	for (;;) {
		if (map) {
			const char *colon;
			if (p < y->end && (*p == '[' || *p == '{'))
				return BAIL;
			if ((rc = scan_scalar(y, p, true, &t, &after)))
				return rc;
			/* `: ` after a key; after a quoted key, as in JSON, a
			 * bare `:` (in a flow collection libyaml reads it as the
			 * value indicator there: {"a":1} is a: 1) */
			colon = skip_spaces(y, after);
			if (colon >= y->end || *colon != ':' || colon + 1 >= y->end ||
			    (colon[1] != ' ' && !(t.quote && colon == after)) || colon - t.start > KEY_MAX)
				return BAIL;
			if ((rc = emit_tok(y, &t)))
				return rc;
			p = skip_spaces(y, colon + 1);
			if (at_eol(y, p) || strchr(",}]#", *p))
				return BAIL; /* an empty value */
		}
		if ((rc = flow_node(y, &p)))
			return rc;
		p = skip_spaces(y, p);
		if (p < y->end && *p == ',') {
			p = skip_spaces(y, p + 1);
			if (p < y->end && (*p == close || *p == ','))
				return BAIL;
			continue;
		}
		if (p < y->end && *p == close) {
			*pp = p + 1;
			return emit(y, CDX_YEV_END, y->line, 0, NULL, 0, false);
		}
		return BAIL;
	}
}

/* characters that libyaml reads differently from plain text, refuses, or
 * reads as line breaks: controls, tab, CR, DEL, U+0080..U+00BF (NEL among
 * them), U+2028/U+2029, U+E000 and above in the BMP (BOM, U+FFFE/FFFF) */
static bool plain_text(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf, *e = s + len;
	for (; s < e; s++) {
		unsigned char c = *s;
		if (c >= 0x20 && c < 0x7f)
			continue;
		if (c == '\n')
			continue;
		if (c < 0x80 || c == 0xc2 || c == 0xee || c == 0xef)
			return false;
		if (c == 0xe2 && e - s > 2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
			return false;
	}
	return true;
}

int cdx_yfast_parse(const char *buf, size_t len, cdx_yev_fn fn, void *ctx)
{
	struct yf y;
	int rc;
	if (!plain_text(buf, len))
		return BAIL;
	memset(&y, 0, sizeof(y));
	y.s = buf;
	y.end = buf + len;
	y.fn = fn;
	y.ctx = ctx;
	rc = seek(&y, buf, 1);
	if (!rc && y.ind >= 0) {
		rc = block_node(&y, -1);
		if (!rc && y.ind >= 0)
			rc = BAIL; /* less indented than the document's first line */
	}
	free(y.tmp);
	return rc;
}
