/* cdx_plugin.h — what the files of cdx.so share: returning results to make,
 * stopping make at the current line, and the cdx tool's path. */
#ifndef CDX_CDX_PLUGIN_H
#define CDX_CDX_PLUGIN_H

#include "base/util.h"

/* give: S copied into memory from gmk_alloc, for make to free */
char *give(const char *s);
/* fail: stop make with "Makefile:LINE: *** FUNC: MSG.  Stop." */
void fail(const char *func, const char *msg);
/* trim: S without leading and trailing blanks (caller frees) */
char *trim(const char *s);
/* state_url: the state URL as the cdx tool would resolve it in make's
 * directory (caller frees) */
char *state_url(void);
/* shell_quote: S single-quoted for sh inside a recipe ($ doubled for make) */
void shell_quote(struct cdx_buf *b, const char *s);
/* cdx_gmk_tool: the absolute path of the cdx tool the recipes call */
const char *cdx_gmk_tool(void);

/* deploy_funcs.c: $(cdx-deploy), $(cdx-rollback), $(cdx-current) */
void cdx_gmk_deploy_setup(void);

#endif /* CDX_CDX_PLUGIN_H */
