#!/bin/sh
# with_redis.sh — run a command with a private redis-server: it starts one
# on a free loopback port (no persistence, in a temporary directory),
# exports CDX_TEST_REDIS=redis://127.0.0.1:PORT, runs "$@" and stops the
# server again, whatever the command's outcome.  Without redis-server the
# command runs without CDX_TEST_REDIS (the Redis half of the suites skips).
set -eu
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	echo "with_redis: redis-server not installed; Redis cases are skipped" >&2
	exec "$@"
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/cdx-redis-XXXXXX")
pid=
# shellcheck disable=SC2317 # called by the trap
stop() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM
port=$(( 30000 + $$ % 20000 ))
tries=0
while :; do
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
		--daemonize no >"$dir/log" 2>&1 &
	pid=$!
	i=0
	while [ "$i" -lt 100 ] && ! redis-cli -p "$port" ping >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || break
		i=$((i + 1)); sleep 0.05
	done
	redis-cli -p "$port" ping >/dev/null 2>&1 && kill -0 "$pid" 2>/dev/null && break
	kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
	tries=$((tries + 1))
	[ "$tries" -lt 20 ] || { echo "with_redis: cannot start redis-server" >&2; cat "$dir/log" >&2; exit 1; }
	port=$((port + 1))
done
export CDX_TEST_REDIS="redis://127.0.0.1:$port"
set +e
"$@"
rc=$?
set -e
exit "$rc"
