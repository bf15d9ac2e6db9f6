#!/bin/sh
# smoke.sh VERSION — the ci pipeline's test: build/VERSION/webapp reports
# VERSION and serves /version on a free loopback port.
set -eu
v=${1:?usage: smoke.sh VERSION}
bin=build/$v/webapp
[ "$("$bin" --version)" = "$v" ] || { echo "smoke: $bin is not version $v" >&2; exit 1; }
pidf=$(mktemp)
trap 'kill "$(cat "$pidf")" 2>/dev/null || true; rm -f "$pidf"' EXIT
# a port below the ephemeral range; the next one when it is taken
port=$((20000 + $$ % 12000))
tries=0
until "$bin" --port "$port" --daemon --pidfile "$pidf" 2>/dev/null; do
	tries=$((tries + 1))
	[ "$tries" -lt 50 ] || { echo "smoke: no free port" >&2; exit 1; }
	port=$((20000 + (port - 20000 + 97) % 12000))
done
[ "$(curl -fsS --max-time 2 "http://127.0.0.1:$port/version")" = "$v" ] ||
	{ echo "smoke: /version does not answer $v" >&2; exit 1; }
echo "smoke: $v ok"
