/* fuzz_expr.c — libFuzzer target for the `rules: if:` language (expr.c):
 * any bytes parse into an expression or one FILE:LINE:COL problem, never a
 * crash, a leak, a hang or a sanitizer report; what parses evaluates to
 * 0, 1 or -1 against a few variables, and the problem's column lies on
 * the expression's line range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "pipeline/expr.h"
#include "pipeline/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "A") == 0)
		return "main";
	if (strcmp(name, "E") == 0)
		return "";
	if (strcmp(name, "R") == 0)
		return "/^m(a|b)*n$/i";
	if (strcmp(name, "BIG") == 0)
		return "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		       "aaaaaaa!";
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src = malloc(size + 1);
	struct cdx_diags *d;
	struct cdx_expr *e;
	char why[160];
	if (!src)
		return 0;
	memcpy(src, data, size);
	src[size] = 0;
	d = cdx_diags_new();
	e = cdx_expr_parse(src, "f.yml", 1, 1, d);
	if (e) {
		int r = cdx_expr_eval(e, lookup, NULL, why, sizeof(why));
		if (r < -1 || r > 1)
			abort();
		cdx_expr_free(e);
	} else if (cdx_diags_count(d) != 1 || cdx_diags_get(d, 0)->col < 1) {
		abort();
	}
	cdx_diags_free(d);
	/* the same bytes as a glob against a path, and a path against a glob */
	if (size < 1024 && !memchr(data, 0, size)) {
		(void)cdx_glob_match(src, "src/a/b/c.c");
		(void)cdx_glob_match("src/**/*.c", src);
	}
	free(src);
	return 0;
}
