#!/bin/sh
# switch.sh — switch hook (blue_green, and canary after its last step):
# point the environment's nginx upstream at the slot's PORT alone and
# reload nginx gracefully. Refuses (exit 1, nginx untouched) when the slot
# does not answer CDX_VERSION itself. Returns once nginx answers
# CDX_VERSION on /APP/ENV/version: the switch took effect for new requests.
set -eu
# shellcheck source=examples/webapp/hooks/lib.sh
. "$(dirname "$0")/lib.sh"
need CDX_APP CDX_ENV CDX_VERSION CDX_SLOT PORT
nport=$(nginx_port)
# never point nginx at a slot that does not serve the version
got=$(http_get "http://127.0.0.1:$PORT/version" || echo "no answer")
[ "$got" = "$CDX_VERSION" ] || die "slot $CDX_SLOT (port $PORT) serves $got, not $CDX_VERSION: not switching"
nginx_lock
nginx_upstream "    server 127.0.0.1:$PORT;
"
wait_version "http://127.0.0.1:$nport/$CDX_APP/$CDX_ENV/version" "$CDX_VERSION" 10
say "nginx: /$CDX_APP/$CDX_ENV/ -> $CDX_SLOT (port $PORT, $CDX_VERSION)"
