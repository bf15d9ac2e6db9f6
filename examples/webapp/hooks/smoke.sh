#!/bin/sh
# smoke.sh VERSION — the ci pipeline's test: build/VERSION/webapp reports
# VERSION and serves /version on a free loopback port.
set -eu
v=${1:?usage: smoke.sh VERSION}
bin=build/$v/webapp
[ "$("$bin" --version)" = "$v" ] || { echo "smoke: $bin is not version $v" >&2; exit 1; }
port=$((30000 + $$ % 20000))
pidf=$(mktemp)
trap 'kill "$(cat "$pidf")" 2>/dev/null || true; rm -f "$pidf"' EXIT
"$bin" --port "$port" --daemon --pidfile "$pidf"
[ "$(curl -fsS --max-time 2 "http://127.0.0.1:$port/version")" = "$v" ] ||
	{ echo "smoke: /version does not answer $v" >&2; exit 1; }
echo "smoke: $v ok"
