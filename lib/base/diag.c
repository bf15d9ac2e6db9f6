/* diag.c — the list of problems found in a file (struct cdx_diags).
 *
 * Loaders append to it and go on, so that one pass reports every problem.
 * File names are interned per list; messages are owned by the list.
 * cdx_diags_get() returns problems sorted by file, line and column, with
 * insertion order breaking ties, and exact duplicates removed.
 */
#include "base/diag.h"

#include <stdlib.h>
#include <string.h>

struct cdx_diags {
	struct cdx_diag *items; /* problems, in insertion order until sorted */
	size_t *order;          /* insertion index of each item, for stable sort */
	size_t n, cap;
	size_t cap_order;
	bool sorted;            /* items are in report order */
	char **files;           /* interned file names */
	size_t nfiles, cap_files;
};

struct cdx_diags *cdx_diags_new(void)
{
	return cdx_xcalloc(1, sizeof(struct cdx_diags));
}

void cdx_diags_free(struct cdx_diags *d)
{
	size_t i;
	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		free((char *)d->items[i].msg);
	for (i = 0; i < d->nfiles; i++)
		free(d->files[i]);
	free(d->items);
	free(d->order);
	free(d->files);
	free(d);
}

static void sort_diags(struct cdx_diags *d);

size_t cdx_diags_count(const struct cdx_diags *cd)
{
	struct cdx_diags *d = (struct cdx_diags *)cd;
	if (!d)
		return 0;
	if (!d->sorted)
		sort_diags(d); /* duplicates go away, so count what get() will give */
	return d->n;
}

static const char *intern(struct cdx_diags *d, const char *file)
{
	size_t i;
	for (i = 0; i < d->nfiles; i++)
		if (strcmp(d->files[i], file) == 0)
			return d->files[i];
	CDX_PUSH(d->files, d->nfiles, d->cap_files, cdx_xstrdup(file));
	return d->files[d->nfiles - 1];
}

void cdx_diags_addv(struct cdx_diags *d, const char *file, int line, int col, const char *fmt, va_list ap)
{
	struct cdx_buf b = {0};
	struct cdx_diag item;
	if (!d)
		return;
	if (d->n >= CDX_DIAGS_MAX)
		return;
	cdx_buf_vprintf(&b, fmt, ap);
	item.file = intern(d, file ? file : "-");
	item.line = line;
	item.col = col;
	item.msg = cdx_buf_detach(&b);
	CDX_PUSH(d->items, d->n, d->cap, item);
	cdx_grow(&d->order, &d->cap_order, d->n, sizeof(size_t));
	d->order[d->n - 1] = d->n - 1;
	d->sorted = false;
}

void cdx_diags_add(struct cdx_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cdx_diags_addv(d, file, line, col, fmt, ap);
	va_end(ap);
}

void cdx_diags_append(struct cdx_diags *to, const struct cdx_diags *from)
{
	size_t i;
	if (!to || !from)
		return;
	for (i = 0; i < from->n; i++)
		cdx_diags_add(to, from->items[i].file, from->items[i].line, from->items[i].col, "%s",
			      from->items[i].msg);
}

static int cmp_diag(const struct cdx_diag *a, size_t ia, const struct cdx_diag *b, size_t ib)
{
	int c = strcmp(a->file, b->file);
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static void sort_diags(struct cdx_diags *d)
{
	/* insertion sort: lists are short and mostly in order already */
	size_t i, j, out;
	for (i = 1; i < d->n; i++) {
		struct cdx_diag x = d->items[i];
		size_t ox = d->order[i];
		for (j = i; j > 0 && cmp_diag(&d->items[j - 1], d->order[j - 1], &x, ox) > 0; j--) {
			d->items[j] = d->items[j - 1];
			d->order[j] = d->order[j - 1];
		}
		d->items[j] = x;
		d->order[j] = ox;
	}
	for (i = 0, out = 0; i < d->n; i++) {
		if (out > 0 && d->items[out - 1].file == d->items[i].file &&
		    d->items[out - 1].line == d->items[i].line && d->items[out - 1].col == d->items[i].col &&
		    strcmp(d->items[out - 1].msg, d->items[i].msg) == 0) {
			free((char *)d->items[i].msg);
			continue;
		}
		d->items[out] = d->items[i];
		d->order[out] = d->order[i];
		out++;
	}
	d->n = out;
	d->sorted = true;
}

const struct cdx_diag *cdx_diags_get(const struct cdx_diags *cd, size_t i)
{
	struct cdx_diags *d = (struct cdx_diags *)cd;
	if (!d)
		return NULL;
	if (!d->sorted)
		sort_diags(d);
	return i < d->n ? &d->items[i] : NULL;
}

void cdx_diag_format(const struct cdx_diag *g, struct cdx_buf *out)
{
	if (g->line > 0 && g->col > 0)
		cdx_buf_printf(out, "%s:%d:%d: %s", g->file, g->line, g->col, g->msg);
	else if (g->line > 0)
		cdx_buf_printf(out, "%s:%d: %s", g->file, g->line, g->msg);
	else
		cdx_buf_printf(out, "%s: %s", g->file, g->msg);
}
