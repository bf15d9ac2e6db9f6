#!/bin/sh
# weight.sh — weight hook (canary): send CDX_WEIGHT percent of the
# environment's traffic to the canary slot CDX_SLOT and the rest to
# CDX_STABLE_SLOT, with nginx weighted round robin (a server of weight 0 is
# left out). Returns once nginx's new workers run the new weights, and
# records where the step began for hooks/error-rate.sh.
set -eu
# shellcheck source=examples/webapp/hooks/lib.sh
. "$(dirname "$0")/lib.sh"
need CDX_APP CDX_ENV CDX_SLOT CDX_WEIGHT PORT
case $CDX_WEIGHT in '' | *[!0-9]*) die "bad CDX_WEIGHT $CDX_WEIGHT" ;; esac
[ "$CDX_WEIGHT" -le 100 ] || die "bad CDX_WEIGHT $CDX_WEIGHT"
w=$CDX_WEIGHT
rest=$((100 - w))
servers=
if [ "$rest" -gt 0 ] && [ -n "${CDX_STABLE_SLOT:-}" ]; then
	sport=$(slot_port "$CDX_STABLE_SLOT")
	servers="    server 127.0.0.1:$sport weight=$rest max_fails=0;
"
fi
if [ "$w" -gt 0 ] || [ -z "$servers" ]; then
	servers="$servers    server 127.0.0.1:$PORT weight=$((w > 0 ? w : 1)) max_fails=0;
"
fi
nginx_port >/dev/null
nginx_lock
nginx_upstream "$servers"
mkdir -p "$NGX/steps"
size=$(wc -c <"$NGX/access.log" 2>/dev/null || echo 0)
echo "$PORT $size" >"$NGX/steps/${CDX_APP}_$CDX_ENV.step"
say "nginx: /$CDX_APP/$CDX_ENV/ sends $w% to $CDX_SLOT (port $PORT), $rest% to ${CDX_STABLE_SLOT:-nothing}"
