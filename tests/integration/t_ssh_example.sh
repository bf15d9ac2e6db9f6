#!/bin/sh
# t_ssh_example: examples/fleet as its README runs it — the web app of
# examples/webapp deployed over SSH to two real sshd hosts behind nginx —
# with a client sending requests through nginx all along: 1.0.0, then
# 2.0.0 host by host, then a version whose health fails (rolled back),
# with zero failed requests.
. "$(dirname "$0")/lib.sh"
[ -x /usr/sbin/sshd ] || { echo "sshd (openssh-server) not installed" >&2; exit 77; }
command -v nginx >/dev/null 2>&1 || { echo "nginx not installed" >&2; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "curl not installed" >&2; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
if [ "${SANITIZE:-}" = yes ]; then echo "the example does not run under the sanitizer build (webapp_lib.sh)" >&2; exit 77; fi

EX=$T/fleet
LG_PID=
mkdir -p "$T/webapp"
cp "$TOP/examples/webapp/webapp.c" "$TOP/examples/webapp/loadgen.c" "$T/webapp/"
cp -R "$TOP/examples/fleet" "$EX"
rm -rf "$EX/build" "$EX/run" "$EX/ssh" "$EX/hosts" "$EX/.cdx" "$EX/cdx.yml"
ex_cleanup() {
	set +e
	[ -z "$LG_PID" ] || kill "$LG_PID" 2>/dev/null
	"$EX/hosts.sh" down >/dev/null 2>&1
	cleanup
}
trap ex_cleanup EXIT
trap 'exit 130' INT TERM HUP

# BASE..BASE+12 free
base=$((20000 + ($$ % 200) * 50))
while ss -ltnH 2>/dev/null | awk -v lo="$base" -v hi="$((base + 12))" '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p <= hi) f = 1 } END { exit !f }'; do
	base=$((base + 50))
done
cd "$EX"
run_make -s -j2 CFLAGS="-O0 -Wall -Wextra" VERSION=1.0.0 >/dev/null
run_make -s -j2 CFLAGS="-O0 -Wall -Wextra" build/2.0.0/webapp build/2.0.0/restart.sh build/3.0.0-bad/webapp build/3.0.0-bad/restart.sh >/dev/null
./hosts.sh up "$base" >/dev/null
export CDX_STATE="file:$EX/.cdx"

expect_status 0 "$CDX" deploy web prod 1.0.0
[ "$(curl -fsS "http://127.0.0.1:$base/version")" = 1.0.0 ] || fail "nginx does not serve 1.0.0"

rm -f "$T/lg.stop"
build/loadgen -c 4 --interval-ms 2 --stop-file "$T/lg.stop" "http://127.0.0.1:$base/version" >"$T/lg.json" 2>"$T/lg.err" &
LG_PID=$!
expect_status 0 "$CDX" deploy web prod 2.0.0
expect_status 1 "$CDX" deploy web prod 3.0.0-bad
expect_contains "rolled back, now serving 2.0.0"
touch "$T/lg.stop"
wait "$LG_PID" || true
LG_PID=
LG=$(cat "$T/lg.json")
echo "loadgen: $LG"
[ "$(echo "$LG" | jq .total)" -gt 0 ] || fail "no requests were sent: $(cat "$T/lg.err")"
[ "$(echo "$LG" | jq .failed)" -eq 0 ] || fail "requests failed: $LG"
[ "$(echo "$LG" | jq '.versions["2.0.0"] > 0')" = true ] || fail "2.0.0 never answered: $LG"
for h in web1 web2; do
	[ "$(readlink "$EX/hosts/$h/current")" = releases/2.0.0 ] || fail "$h: $(readlink "$EX/hosts/$h/current")"
done
[ "$(curl -fsS "http://127.0.0.1:$base/version")" = 2.0.0 ] || fail "nginx does not serve 2.0.0"

echo "t_ssh_example: ok"
