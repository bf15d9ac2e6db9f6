/* cdx_plugin.c — the GNU Make loadable module cdx.so (skeleton). */
#include <gnumake.h>
#include "cdx.h"
__attribute__((visibility("default"))) int plugin_is_GPL_compatible;
__attribute__((visibility("default"))) int cdx_gmk_setup(void);
int cdx_gmk_setup(void)
{
	return 1;
}
