/* expr.c — the `rules: if:` expression language (expr.h): a recursive
 * descent parser whose recursion is bounded by the parenthesis depth (&&
 * and || chains are n-ary nodes built in a loop), and an evaluator over
 * the same tree.  Regexes are compiled at parse time after a scan that
 * refuses back-references and bounds what repetitions expand to.
 */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "pipeline/expr.h"

enum tok {
	T_END,
	T_VAR,
	T_STR,
	T_NULL,
	T_RE,
	T_EQ,
	T_NE,
	T_MATCH,
	T_NMATCH,
	T_AND,
	T_OR,
	T_LP,
	T_RP,
};

enum node_kind { N_OR, N_AND, N_VALUE, N_EQ, N_NE, N_MATCH, N_NMATCH };
enum val_kind { V_VAR, V_STR, V_NULL };

struct val {
	enum val_kind kind;
	char *s; /* variable name or string */
};

struct cdx_expr {
	enum node_kind kind;
	struct cdx_expr **kids; /* N_OR, N_AND */
	size_t n_kids, cap_kids;
	struct val a, b; /* N_VALUE: a; comparisons: a OP b */
	bool re_set;     /* N_MATCH/N_NMATCH with a literal regex */
	regex_t re;
};

struct parser {
	const char *src, *p;
	const char *file;
	int line, col; /* of src[0] */
	struct cdx_diags *d;
	bool failed;
	/* the current token */
	enum tok t;
	const char *t_at;
	char *t_str; /* T_VAR name, T_STR value, T_RE pattern (owned until taken) */
	int t_icase;
	int depth;
};

static void where(const struct parser *ps, const char *at, int *line, int *col)
{
	const char *q;
	*line = ps->line;
	*col = ps->col;
	for (q = ps->src; q < at && *q; q++) {
		if (*q == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)*q & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

__attribute__((format(printf, 3, 4))) static void fail(struct parser *ps, const char *at, const char *fmt,
						       ...)
{
	va_list ap;
	int line, col;
	char msg[256];
	if (ps->failed)
		return;
	ps->failed = true;
	where(ps, at, &line, &col);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cdx_diags_add(ps->d, ps->file, line, col, "rules if: %s", msg);
}

static bool name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static const char *tok_name(enum tok t)
{
	static const char *const names[] = {"the end", "a variable", "a string", "null", "a regex",
					    "'=='",    "'!='",       "'=~'",     "'!~'", "'&&'",
					    "'||'",    "'('",        "')'"};
	return names[t];
}

/* the regex literal at ps->p (just after '/'): pattern into t_str */
static void lex_regex(struct parser *ps)
{
	const char *start = ps->p - 1, *q = ps->p;
	struct cdx_buf b = {0};
	while (*q && *q != '/') {
		if (*q == '\\' && q[1] == '/') {
			cdx_buf_addc(&b, '/');
			q += 2;
			continue;
		}
		if (*q == '\\' && q[1]) {
			cdx_buf_add(&b, q, 2);
			q += 2;
			continue;
		}
		cdx_buf_addc(&b, *q++);
	}
	if (*q != '/') {
		fail(ps, start, "regex is not closed with '/'");
		cdx_buf_free(&b);
		ps->t = T_END;
		return;
	}
	q++;
	ps->t_icase = 0;
	while (name_char(*q)) {
		if (*q == 'i') {
			ps->t_icase = 1;
		} else {
			fail(ps, q, "unknown regex flag '%c' (only 'i', ignore case)", *q);
			break;
		}
		q++;
	}
	ps->p = q;
	ps->t = T_RE;
	ps->t_str = b.data ? b.data : cdx_xstrdup("");
}

/* the next token into ps->t; REGEX_OK: a '/' starts a regex */
static void lex(struct parser *ps, bool regex_ok)
{
	const char *q = ps->p;
	free(ps->t_str);
	ps->t_str = NULL;
	while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
		q++;
	ps->t_at = q;
	ps->p = q + 1;
	switch (*q) {
	case '\0':
		ps->t = T_END;
		ps->p = q;
		return;
	case '(':
		ps->t = T_LP;
		return;
	case ')':
		ps->t = T_RP;
		return;
	case '=':
	case '!':
		if (q[1] == '=' || q[1] == '~') {
			ps->t = q[1] == '=' ? (*q == '=' ? T_EQ : T_NE) : (*q == '=' ? T_MATCH : T_NMATCH);
			ps->p = q + 2;
			return;
		}
		break;
	case '&':
		if (q[1] == '&') {
			ps->t = T_AND;
			ps->p = q + 2;
			return;
		}
		break;
	case '|':
		if (q[1] == '|') {
			ps->t = T_OR;
			ps->p = q + 2;
			return;
		}
		break;
	case '$': {
		const char *n = q + 1, *e;
		bool brace = *n == '{';
		if (brace)
			n++;
		if (!name_start(*n)) {
			fail(ps, q, "'$' must be followed by a variable name");
			ps->t = T_END;
			return;
		}
		for (e = n; name_char(*e); e++)
			;
		if (brace && *e != '}') {
			fail(ps, e, "'${' is not closed with '}'");
			ps->t = T_END;
			return;
		}
		ps->t = T_VAR;
		ps->t_str = cdx_xstrndup(n, (size_t)(e - n));
		ps->p = e + brace;
		return;
	}
	case '"':
	case '\'': {
		struct cdx_buf b = {0};
		char quote = *q;
		const char *r = q + 1;
		while (*r && *r != quote) {
			if (*r == '\\' && (r[1] == quote || r[1] == '\\'))
				r++;
			cdx_buf_addc(&b, *r++);
		}
		if (*r != quote) {
			fail(ps, q, "string is not closed with %c", quote);
			cdx_buf_free(&b);
			ps->t = T_END;
			return;
		}
		ps->t = T_STR;
		ps->t_str = b.data ? b.data : cdx_xstrdup("");
		ps->p = r + 1;
		return;
	}
	case '/':
		if (regex_ok) {
			lex_regex(ps);
			return;
		}
		break;
	default:
		if (strncmp(q, "null", 4) == 0 && !name_char(q[4])) {
			ps->t = T_NULL;
			ps->p = q + 4;
			return;
		}
		if (name_start(*q)) {
			const char *e = q;
			while (name_char(*e))
				e++;
			fail(ps, q,
			     "unexpected word '%.*s' (a variable is written $%.*s, a string in quotes)",
			     (int)(e - q > 40 ? 40 : e - q), q, (int)(e - q > 40 ? 40 : e - q), q);
			ps->t = T_END;
			return;
		}
	}
	if (*q == '/')
		fail(ps, q, "a regex may only follow '=~' or '!~'");
	else if ((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f)
		fail(ps, q, "unexpected '%c'", *q);
	else
		fail(ps, q, "unexpected character");
	ps->t = T_END;
}

/* the weight of regex RE once its repetitions are expanded (glibc
 * compiles a+ as aa* and a{2,3} as aaa?: a repetition copies what it
 * repeats), or -1 (with *BAD pointing at the offending spot and *WHY set)
 * for a back-reference, an unclosed bracket, a repetition count over 255,
 * a repetition of a repetition (a**, a+{2}: their closures grow
 * exponentially) or groups nested deeper than 32 */
static long re_weight(const char *re, const char **bad, const char **why)
{
	long stack[CDX_EXPR_RE_MAX + 1];
	size_t sp = 0;
	long cur = 0, last = 0;
	const char *q = re;
	bool after_rep = false; /* the previous item was a repetition */
	while (*q) {
		bool rep = *q == '*' || *q == '+' || *q == '?' || *q == '{';
		if (rep && after_rep) {
			*bad = q;
			*why = "a repetition of a repetition (like a** or a+{2}) is not supported";
			return -1;
		}
		after_rep = rep;
		if (*q == '(' && sp >= 32) {
			*bad = q;
			*why = "groups nest deeper than 32";
			return -1;
		}
		if (*q == '\\') {
			if (q[1] >= '1' && q[1] <= '9') {
				*bad = q;
				*why = "back-references are not supported";
				return -1;
			}
			q += q[1] ? 2 : 1;
			last = 1;
			cur += 1;
		} else if (*q == '[') {
			const char *r = q + 1;
			if (*r == '^')
				r++;
			if (*r == ']')
				r++;
			while (*r && *r != ']') {
				if (*r == '[' && (r[1] == ':' || r[1] == '.' || r[1] == '=')) {
					char c = r[1];
					const char *e = r + 2;
					while (*e && !(*e == c && e[1] == ']'))
						e++;
					r = *e ? e + 2 : e;
				} else {
					r++;
				}
			}
			if (*r != ']') {
				*bad = q;
				*why = "'[' is not closed with ']'";
				return -1;
			}
			q = r + 1;
			last = 1;
			cur += 1;
		} else if (*q == '(') {
			stack[sp++] = cur;
			cur = 0;
			q++;
		} else if (*q == ')' && sp > 0) {
			last = cur ? cur : 1;
			cur = stack[--sp] + last;
			q++;
		} else if (*q == '*' || *q == '?') {
			q++;
			cur += 1;
		} else if (*q == '+') {
			cur += last + 1;
			last *= 2;
			q++;
		} else if (*q == '{') {
			const char *r = q + 1;
			long m = 0, n = -1;
			while (*r >= '0' && *r <= '9' && m < 100000)
				m = m * 10 + (*r++ - '0');
			if (*r == ',') {
				r++;
				if (*r >= '0' && *r <= '9') {
					n = 0;
					while (*r >= '0' && *r <= '9' && n < 100000)
						n = n * 10 + (*r++ - '0');
				}
			} else {
				n = m;
			}
			if (m > 255 || n > 255) {
				*bad = q;
				*why = "a repetition count is over 255";
				return -1;
			}
			if (n < m)
				n = m;
			if (n < 1)
				n = 1;
			cur += last * n;
			last = last * n;
			q = *r ? r + 1 : r;
		} else {
			q++;
			last = 1;
			cur += 1;
		}
		if (cur > CDX_EXPR_RE_WEIGHT) {
			*bad = q - 1;
			*why = "the regex is too complex (its repetitions expand too far)";
			return -1;
		}
	}
	while (sp > 0)
		cur += stack[--sp];
	return cur;
}

/* compile regex PAT (ICASE) into RE; false with *WHY (up to WHY_SIZE)
 * and *BAD (an offset into PAT) */
static bool re_compile(const char *pat, int icase, regex_t *re, char *why, size_t why_size, size_t *bad)
{
	const char *at = pat, *w = NULL;
	int rc;
	*bad = 0;
	if (strlen(pat) > CDX_EXPR_RE_MAX) {
		snprintf(why, why_size, "regex is longer than %d bytes", CDX_EXPR_RE_MAX);
		return false;
	}
	if (re_weight(pat, &at, &w) < 0) {
		snprintf(why, why_size, "%s", w);
		*bad = (size_t)(at - pat);
		return false;
	}
	rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
	if (rc != 0) {
		char msg[128];
		regerror(rc, re, msg, sizeof(msg));
		snprintf(why, why_size, "bad regex: %s", msg);
		return false;
	}
	return true;
}

static struct cdx_expr *parse_or(struct parser *ps);

static struct cdx_expr *new_node(enum node_kind k)
{
	struct cdx_expr *e = cdx_xcalloc(1, sizeof(*e));
	e->kind = k;
	return e;
}

/* an operand token into V; false when the token is none */
static bool take_operand(struct parser *ps, struct val *v)
{
	switch (ps->t) {
	case T_VAR:
		v->kind = V_VAR;
		break;
	case T_STR:
		v->kind = V_STR;
		break;
	case T_NULL:
		v->kind = V_NULL;
		break;
	default:
		return false;
	}
	v->s = ps->t_str;
	ps->t_str = NULL;
	return true;
}

static struct cdx_expr *parse_primary(struct parser *ps)
{
	struct cdx_expr *e;
	const char *op_at;
	enum tok op;
	if (ps->t == T_LP) {
		const char *lp = ps->t_at;
		if (++ps->depth > CDX_EXPR_DEPTH) {
			fail(ps, lp, "parentheses nest deeper than %d", CDX_EXPR_DEPTH);
			return NULL;
		}
		lex(ps, false);
		e = parse_or(ps);
		if (!e)
			return NULL;
		if (ps->t != T_RP) {
			fail(ps, ps->t_at, "expected ')' to close the '(' at column %d, found %s",
			     (int)(lp - ps->src) + ps->col, tok_name(ps->t));
			cdx_expr_free(e);
			return NULL;
		}
		ps->depth--;
		lex(ps, false);
		return e;
	}
	e = new_node(N_VALUE);
	if (!take_operand(ps, &e->a)) {
		fail(ps, ps->t_at, "expected a variable, a string, null or '(', found %s", tok_name(ps->t));
		free(e);
		return NULL;
	}
	op = ps->t;
	lex(ps, false);
	op = ps->t;
	op_at = ps->t_at;
	if (op != T_EQ && op != T_NE && op != T_MATCH && op != T_NMATCH)
		return e;
	e->kind = op == T_EQ ? N_EQ : op == T_NE ? N_NE : op == T_MATCH ? N_MATCH : N_NMATCH;
	lex(ps, op == T_MATCH || op == T_NMATCH);
	if (ps->failed) {
		cdx_expr_free(e);
		return NULL;
	}
	if (e->kind == N_MATCH || e->kind == N_NMATCH) {
		if (ps->t == T_RE) {
			char why[200];
			size_t bad;
			if (!re_compile(ps->t_str, ps->t_icase, &e->re, why, sizeof(why), &bad)) {
				fail(ps, ps->t_at + 1 + bad, "%s", why);
				cdx_expr_free(e);
				return NULL;
			}
			e->re_set = true;
			e->b.kind = V_NULL;
		} else if (ps->t == T_VAR) {
			take_operand(ps, &e->b);
		} else {
			fail(ps, ps->t_at, "expected a regex /.../ or a variable after %s, found %s",
			     tok_name(op), tok_name(ps->t));
			cdx_expr_free(e);
			return NULL;
		}
	} else if (!take_operand(ps, &e->b)) {
		fail(ps, ps->t_at, "expected a variable, a string or null after %s, found %s", tok_name(op),
		     tok_name(ps->t));
		cdx_expr_free(e);
		return NULL;
	}
	(void)op_at;
	lex(ps, false);
	return e;
}

/* a chain KID (OP KID)* as one n-ary node (or the one kid) */
static struct cdx_expr *parse_chain(struct parser *ps, enum tok op, enum node_kind kind,
				    struct cdx_expr *(*kid)(struct parser *))
{
	struct cdx_expr *first = kid(ps), *n;
	if (!first || ps->t != op)
		return first;
	n = new_node(kind);
	CDX_PUSH(n->kids, n->n_kids, n->cap_kids, first);
	while (ps->t == op) {
		struct cdx_expr *k;
		lex(ps, false);
		k = kid(ps);
		if (!k) {
			cdx_expr_free(n);
			return NULL;
		}
		CDX_PUSH(n->kids, n->n_kids, n->cap_kids, k);
	}
	return n;
}

static struct cdx_expr *parse_and(struct parser *ps)
{
	return parse_chain(ps, T_AND, N_AND, parse_primary);
}

static struct cdx_expr *parse_or(struct parser *ps)
{
	return parse_chain(ps, T_OR, N_OR, parse_and);
}

struct cdx_expr *cdx_expr_parse(const char *src, const char *file, int line, int col, struct cdx_diags *d)
{
	struct parser ps = {0};
	struct cdx_expr *e;
	size_t len = strlen(src);
	ps.src = ps.p = src;
	ps.file = file;
	ps.line = line;
	ps.col = col;
	ps.d = d;
	if (len > CDX_EXPR_MAX) {
		fail(&ps, src, "expression is longer than %d bytes", CDX_EXPR_MAX);
		return NULL;
	}
	lex(&ps, false);
	if (ps.t == T_END && !ps.failed) {
		fail(&ps, ps.t_at, "empty expression");
		return NULL;
	}
	e = ps.failed ? NULL : parse_or(&ps);
	if (e && ps.t != T_END) {
		fail(&ps, ps.t_at, "expected '&&', '||' or the end, found %s", tok_name(ps.t));
		cdx_expr_free(e);
		e = NULL;
	}
	if (ps.failed && e) {
		cdx_expr_free(e);
		e = NULL;
	}
	free(ps.t_str);
	return e;
}

void cdx_expr_free(struct cdx_expr *e)
{
	size_t i;
	if (!e)
		return;
	for (i = 0; i < e->n_kids; i++)
		cdx_expr_free(e->kids[i]);
	free(e->kids);
	free(e->a.s);
	free(e->b.s);
	if (e->re_set)
		regfree(&e->re);
	free(e);
}

static const char *value(const struct val *v, cdx_expr_lookup lookup, void *ctx)
{
	switch (v->kind) {
	case V_VAR:
		return lookup(ctx, v->s);
	case V_STR:
		return v->s;
	default:
		return NULL;
	}
}

/* a variable's value "/RE/FLAGS" compiled into RE */
static bool re_from_value(const char *s, regex_t *re, char *why, size_t why_size)
{
	const char *end;
	char *pat;
	int icase = 0;
	size_t bad;
	bool ok;
	end = s[0] == '/' ? strrchr(s + 1, '/') : NULL;
	if (!end) {
		snprintf(why, why_size, "the value is not a /regex/");
		return false;
	}
	if (strcmp(end + 1, "i") == 0)
		icase = 1;
	else if (end[1]) {
		snprintf(why, why_size, "unknown regex flags '%.20s'", end + 1);
		return false;
	}
	pat = cdx_xstrndup(s + 1, (size_t)(end - s - 1));
	ok = re_compile(pat, icase, re, why, why_size, &bad);
	free(pat);
	return ok;
}

static int eval(const struct cdx_expr *e, cdx_expr_lookup lookup, void *ctx, char *why, size_t why_size)
{
	const char *a, *b;
	size_t i;
	int r;
	switch (e->kind) {
	case N_OR:
	case N_AND:
		for (i = 0; i < e->n_kids; i++) {
			r = eval(e->kids[i], lookup, ctx, why, why_size);
			if (r < 0)
				return r;
			if (r == (e->kind == N_OR))
				return r;
		}
		return e->kind == N_AND;
	case N_VALUE:
		a = value(&e->a, lookup, ctx);
		return a && *a;
	case N_EQ:
	case N_NE:
		a = value(&e->a, lookup, ctx);
		b = value(&e->b, lookup, ctx);
		r = (!a || !b) ? a == b : strcmp(a, b) == 0;
		return e->kind == N_EQ ? r : !r;
	case N_MATCH:
	case N_NMATCH: {
		regex_t tmp;
		const regex_t *re = &e->re;
		a = value(&e->a, lookup, ctx);
		if (!e->re_set) {
			char w[160];
			b = value(&e->b, lookup, ctx);
			if (!b) {
				r = 0;
				return e->kind == N_MATCH ? r : !r;
			}
			if (!re_from_value(b, &tmp, w, sizeof(w))) {
				if (why)
					snprintf(why, why_size, "$%s: %s", e->b.s, w);
				return -1;
			}
			re = &tmp;
		}
		if (!a) {
			r = 0;
		} else if (strlen(a) > CDX_EXPR_SUBJECT_MAX) {
			if (why)
				snprintf(why, why_size,
					 "a value longer than %u bytes is not matched against a regex",
					 CDX_EXPR_SUBJECT_MAX);
			r = -1;
		} else {
			r = regexec(re, a, 0, NULL, 0) == 0;
		}
		if (re == &tmp)
			regfree(&tmp);
		if (r < 0)
			return r;
		return e->kind == N_MATCH ? r : !r;
	}
	}
	return 0;
}

int cdx_expr_eval(const struct cdx_expr *e, cdx_expr_lookup lookup, void *ctx, char *why, size_t why_size)
{
	return eval(e, lookup, ctx, why, why_size);
}

void cdx_expr_vars(const struct cdx_expr *e, void (*fn)(void *ctx, const char *name), void *ctx)
{
	size_t i;
	for (i = 0; i < e->n_kids; i++)
		cdx_expr_vars(e->kids[i], fn, ctx);
	if (e->a.kind == V_VAR && e->a.s)
		fn(ctx, e->a.s);
	if (e->b.kind == V_VAR && e->b.s)
		fn(ctx, e->b.s);
}
