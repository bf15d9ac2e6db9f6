#!/bin/sh
# t_webapp_server.sh — examples/webapp's webapp and loadgen on their own (no
# nginx, no cdx): both compile warnings-clean; the endpoints, statuses and
# keep-alive; a version containing "bad" fails /health; a taken port fails
# the start; SIGTERM stops accepting, finishes the request in flight and
# exits 0; loadgen's counts.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null 2>&1 || { echo "curl not installed" >&2; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
src=$TOP/examples/webapp
CC=${CC:-cc}
PIDS=
server_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	cleanup
}
trap server_cleanup EXIT
trap 'exit 130' INT TERM HUP

for v in 1.0.0 1.0.0-bad; do
	"$CC" -std=c11 -O2 -Wall -Wextra -Werror "-DWEBAPP_VERSION=\"$v\"" -o "$T/webapp-$v" "$src/webapp.c" ||
		fail "webapp.c does not compile warnings-clean"
done
"$CC" -std=c11 -O2 -Wall -Wextra -Werror -pthread -o "$T/loadgen" "$src/loadgen.c" ||
	fail "loadgen.c does not compile warnings-clean"

port=$((20000 + $$ % 12000))
while ss -ltnH 2>/dev/null | awk '{ print $4 }' | grep -qE ":($port|$((port + 1)))\$"; do port=$((port + 2)); done
url=http://127.0.0.1:$port

[ "$("$T/webapp-1.0.0" --version)" = 1.0.0 ] || fail "--version"
"$T/webapp-1.0.0" --port "$port" --daemon --pidfile "$T/w.pid" --log "$T/w.log" || fail "cannot start"
PIDS=$(cat "$T/w.pid")

# endpoints
[ "$(curl -fsS "$url/health")" = ok ] || fail "/health"
[ "$(curl -fsS "$url/version")" = 1.0.0 ] || fail "/version"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")" = 404 ] || fail "404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/version")" = 405 ] || fail "405"
[ "$(curl -s -o /dev/null -w '%{http_code}' -I "$url/version")" = 200 ] || fail "HEAD"
[ "$(curl -fsS "$url/version?x=1")" = 1.0.0 ] || fail "query string"
# keep-alive: two requests, one connection
curl -sv "$url/version" "$url/health" >"$T/ka.out" 2>&1
grep -qi 're-using existing connection' "$T/ka.out" || fail "no keep-alive: $(cat "$T/ka.out")"
# the port is taken: a second one fails at once, exit 1
expect_status 1 "$T/webapp-1.0.0" --port "$port" --daemon --pidfile "$T/w2.pid"
expect_contains "cannot listen"

# loadgen: counts, versions
OUT=$("$T/loadgen" -c 4 --duration 1 "$url/version")
echo "loadgen: $OUT"
[ "$(echo "$OUT" | jq '.total > 100 and .failed == 0 and .versions["1.0.0"] == .total')" = true ] ||
	fail "loadgen counts: $OUT"
OUT=$("$T/loadgen" -c 2 --keepalive --duration 0.5 "$url/version")
[ "$(echo "$OUT" | jq '.total > 50 and .failed == 0')" = true ] || fail "loadgen --keepalive: $OUT"
set +e
OUT=$("$T/loadgen" -c 2 --duration 0.5 "$url/nope" 2>/dev/null)
RC=$?
set -e
[ "$RC" -eq 1 ] && [ "$(echo "$OUT" | jq '.failed == .total and .status["404"] == .total')" = true ] ||
	fail "loadgen on 404s (exit $RC): $OUT"

# SIGTERM with a request in flight: half a request, SIGTERM, the other half
kill "$PIDS"
i=0
while kill -0 "$PIDS" 2>/dev/null && [ "$i" -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
"$T/webapp-1.0.0" --port "$port" >"$T/fg.log" 2>&1 &
PIDS=$!
i=0
until curl -fsS -o /dev/null "$url/health" 2>/dev/null; do
	i=$((i + 1)); [ "$i" -lt 100 ] || fail "webapp does not start"; sleep 0.05
done
{ printf 'GET /version HTTP/1.1\r\nHost: x\r\n'; sleep 1; printf '\r\n'; } |
	curl -s --max-time 5 "telnet://127.0.0.1:$port" >"$T/inflight.out" &
reader=$!
sleep 0.4
kill -TERM "$PIDS"
sleep 0.2
if curl -s -o /dev/null --max-time 1 "$url/health"; then fail "a new connection was accepted after SIGTERM"; fi
wait "$reader" || true
run_rc wait "$PIDS"
PIDS=
[ "$RC" -eq 0 ] || fail "webapp exit status $RC after SIGTERM: $(cat "$T/fg.log")"
grep -q '^HTTP/1.1 200' "$T/inflight.out" && grep -q '^1.0.0' "$T/inflight.out" ||
	fail "the request in flight was not answered: $(cat "$T/inflight.out")"
grep -q 'Connection: close' "$T/inflight.out" || fail "the last answer does not close the connection"
echo "SIGTERM: request in flight answered, new connections refused, exit 0"

# the version built to fail
"$T/webapp-1.0.0-bad" --port "$((port + 1))" --daemon --pidfile "$T/b.pid"
PIDS=$(cat "$T/b.pid")
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((port + 1))/health")" = 500 ] || fail "bad: /health is not 500"
[ "$(curl -fsS "http://127.0.0.1:$((port + 1))/version")" = 1.0.0-bad ] || fail "bad: /version"
echo "ok"
