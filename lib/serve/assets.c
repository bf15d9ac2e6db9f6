/* assets.c — the script and style sheet of cdx serve's pages, compiled in
 * (lib/serve/assets.js and assets.css, embedded at build time by
 * asset2c.sh): the pages need nothing from the network. */
#include "serve/http.h"

#include "serve_assets.h"
