#!/bin/sh
# t_serve_api.sh — cdx serve over real HTTP (curl): the route contract;
# /api/ answers what the CLI's --json prints and /metrics what
# `cdx metrics --prometheus` prints (promtool checks it where installed);
# /events streams the store's records as a run makes them, and a job's log
# as it is written; actions need the token (no token, a wrong one, or a
# read-only server: 403, nothing changes), a run is cancelled through its
# process and the cancel recorded with who; hostile requests (traversal,
# oversized bodies and headers, other methods) are refused; slow clients
# (unfinished requests, streams never read) stall nobody; the security headers are
# on every answer; the server refuses a non-loopback address without a
# token and stops cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
cd "$T"
trap 'stop_serve_quiet; cleanup' EXIT
stop_serve_quiet() { [ -z "$SERVE_PID" ] || kill "$SERVE_PID" 2>/dev/null || true; }

cat >ci.yml <<'EOF2'
name: demo
stages:
  - name: build
    jobs:
      - {name: compile, script: "echo compiled"}
  - name: test
    jobs:
      - {name: unit, script: "echo unit ok"}
EOF2
# gate.yml: a job that logs a line, waits for the file "go", logs another
cat >gate.yml <<'EOF2'
name: gated
stages:
  - name: build
    jobs:
      - name: wait
        script:
          - echo first-line-1234
          - while [ ! -f go ]; do sleep 0.05; done
          - echo second-line-5678
EOF2
cat >slow.yml <<'EOF2'
name: slow
stages:
  - name: build
    jobs:
      - {name: sleepy, script: "echo sleeping; sleep 300"}
EOF2
"$CDX" run ci.yml >/dev/null 2>&1 || fail "cdx run ci.yml"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >token

# ---- refusals before listening ---------------------------------------------
expect_status 2 "$CDX" serve --listen 0.0.0.0:0
expect_contains "not a loopback address, without --token-file"
expect_status 2 "$CDX" serve --listen nonsense
expect_contains "'nonsense' is not ADDR:PORT"
expect_status 2 "$CDX" serve --token-file "$T/missing"
expect_contains "cannot read token file"
printf 'short\n' >short
expect_status 2 "$CDX" serve --listen 127.0.0.1:0 --token-file short
expect_contains "shorter than 16"
expect_status 2 "$CDX" serve --bogus
expect_contains "unknown option"

# ---- read-only ----------------------------------------------------------------
start_serve
grep -q 'read-only' "$T/serve.err" || fail "a server without a token does not say it is read-only"
RUN=$("$CDX" runs --json | jq -r '.[0].id')
for p in / "/runs/$RUN" /pipelines/demo /deployments /workers /alerts /metrics /api/runs "/api/runs/$RUN" \
	/api/pipelines/demo /api/alerts /static/cdx.js /static/cdx.css; do
	c=$(code GET "$p")
	case "$p" in
	/deployments) [ "$c" = 404 ] || fail "GET $p without cdx.yml: $c" ;;
	*) [ "$c" = 200 ] || fail "GET $p: $c $(head -c 300 "$T/body")" ;;
	esac
done
[ "$(code GET /api/workers)" = 404 ] || fail "/api/workers without a pool"
expect_jq "$T/body" .error '"no worker pool: the pool needs a redis:// state"'
[ "$(code GET /workers)" = 200 ] && grep -q 'no worker pool' "$T/body" || fail "/workers does not say there is no pool"
grep -q 'read-only: started without --token-file' "$T/body" || fail "the page does not say it is read-only"
# the same JSON as the CLI
curl -s "$URL/api/runs" | jq -S . >api.json
"$CDX" runs --json | jq -S . >cli.json
cmp -s api.json cli.json || fail "/api/runs differs from cdx runs --json: $(diff api.json cli.json | head)"
curl -s "$URL/api/runs/$RUN" | jq -S . >api.json
"$CDX" status "$RUN" --json | jq -S . >cli.json
cmp -s api.json cli.json || fail "/api/runs/RUN differs from cdx status --json"
curl -s "$URL/api/pipelines/demo" | jq -S . >api.json
"$CDX" health demo --json --no-alerts | jq -S . >cli.json
cmp -s api.json cli.json || fail "/api/pipelines/demo differs from cdx health --json: $(diff api.json cli.json | head)"
curl -s "$URL/metrics" >metrics.txt
"$CDX" metrics --prometheus >cli.txt
cmp -s metrics.txt cli.txt || fail "/metrics differs from cdx metrics --prometheus"
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <metrics.txt || fail "promtool check metrics"
else
	echo "promtool not installed: /metrics not checked by it"
fi
# headers on every answer
curl -s -D hdr -o /dev/null "$URL/"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" hdr || fail "no CSP: $(cat hdr)"
grep -qi '^x-content-type-options: nosniff' hdr || fail "no nosniff"
curl -s -D hdr -o /dev/null "$URL/api/runs"
grep -qi '^content-security-policy' hdr || fail "no CSP on the API"
# hostile requests
for p in "/runs/..%2f..%2fetc%2fpasswd" "/runs/../../etc/passwd" "/static/..%2f..%2fconfigure" "/runs/%00" \
	"/api/runs/a%20b" "/static/x.js" "/nope"; do
	c=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$URL$p")
	[ "$c" = 404 ] || fail "GET $p: $c"
done
[ "$(code PUT /)" = 405 ] || fail "PUT / is not refused"
[ "$(code POST "/api/runs/$RUN/cancel")" = 403 ] || fail "a read-only server took an action"
expect_jq "$T/body" .error '"read-only: cdx serve was started without --token-file"'
head -c 100000 /dev/zero | tr '\0' a >big
[ "$(code POST /login --data-binary @big)" = 413 ] || fail "an oversized body is not refused"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/runs?pipeline=../x")" = 400 ] || fail "a bad pipeline query"
big=$(head -c 40000 /dev/zero | tr '\0' a)
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/")" = 431 ] || fail "oversized headers are not refused"

# ---- /events: the records of a run as it makes them ---------------------------
curl -sN "$URL/events" >events.out &
ev=$!
wait_for events.out ': events'
"$CDX" run ci.yml >/dev/null 2>&1 || fail "second run"
RUN2=$("$CDX" runs --json | jq -r '.[0].id')
wait_for events.out "\"t\":\"run_end\",\"id\":\"$RUN2\""
grep -q "\"t\":\"run\",\"id\":\"$RUN2\"" events.out || fail "no run record on /events"
[ "$(grep -c "\"run\":\"$RUN2\"" events.out)" -eq 4 ] || fail "not every attempt and job of the run: $(cat events.out)"
kill "$ev"; wait "$ev" 2>/dev/null || true

# ---- slow clients stall nobody -------------------------------------------------
# 100 connections that never finish their request, and 20 event streams
# that never read: a run's events still reach a reading stream, and the
# API still answers
if command -v python3 >/dev/null 2>&1; then
	port=${URL##*:}
	python3 - "$port" >slow.out 2>&1 <<'EOF2' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(100):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    held.append(s)
for i in range(20):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    held.append(s)
print("holding", flush=True)
time.sleep(120)
EOF2
	slowpid=$!
	wait_for slow.out holding
	curl -sN "$URL/events" >events2.out &
	ev=$!
	wait_for events2.out ': events'
	"$CDX" run ci.yml >/dev/null 2>&1 || fail "run with slow clients"
	RUN3=$("$CDX" runs --json | jq -r '.[0].id')
	wait_for events2.out "\"t\":\"run_end\",\"id\":\"$RUN3\""
	[ "$(code GET /api/runs)" = 200 ] || fail "the API with slow clients"
	kill "$ev" "$slowpid"; wait "$ev" "$slowpid" 2>/dev/null || true
else
	echo "python3 not installed: slow clients not tried"
fi

# ---- a job's log as it is written ---------------------------------------------
"$CDX" run gate.yml >gate.out 2>&1 &
gate=$!
until [ -f .cdx/logs/*/build/wait.1.log ] 2>/dev/null && grep -q first-line .cdx/logs/*/build/wait.1.log; do
	kill -0 "$gate" 2>/dev/null || fail "gate.yml ended early: $(cat gate.out)"
	sleep 0.05
done
GRUN=$("$CDX" runs --json | jq -r '.[0].id')
[ "$(curl -s "$URL/api/runs/$GRUN" | jq -r .status)" = running ] || fail "the gated run is not running"
curl -s "$URL/runs/$GRUN" | grep -q "data-log=\"/events/log/$GRUN/build/wait\"" || fail "no log pane on the run page"
curl -sN "$URL/events/log/$GRUN/build/wait" >log.out &
lg=$!
wait_for log.out 'first-line-1234'
grep -q second-line log.out && fail "the second line before it was written"
touch go
wait_for log.out 'second-line-5678'
kill "$lg"; wait "$lg" 2>/dev/null || true
run_rc wait "$gate"
[ "$RC" -eq 0 ] || fail "gate.yml: $RC"
[ "$(code GET "/events/log/$GRUN/build/nope")" = 404 ] || fail "the log of no job"
stop_serve

# ---- with a token ---------------------------------------------------------------
start_serve --token-file token
grep -q 'actions need the token' "$T/serve.err" || fail "the server does not say actions need the token"
"$CDX" run slow.yml >slow.out 2>&1 &
slow=$!
until [ "$("$CDX" runs slow --json | jq -r '.[0].status')" = running ]; do sleep 0.05; done
SRUN=$("$CDX" runs slow --json | jq -r '.[0].id')
[ "$(code POST "/api/runs/$SRUN/cancel")" = 403 ] || fail "cancel without a token"
[ "$(code POST "/api/runs/$SRUN/cancel" -H 'Authorization: Bearer wrong-token-wrong-token')" = 403 ] ||
	fail "cancel with a wrong token"
[ "$(code POST "/api/runs/$SRUN/cancel" -H "Cookie: cdx_session=$(printf '0%.0s' $(seq 64))" -H 'X-CSRF-Token: x')" = 403 ] ||
	fail "cancel with a forged session"
kill -0 "$slow" || fail "a refused cancel stopped the run"
[ "$(code GET "/api/runs/$SRUN/cancel" -H "Authorization: Bearer $(cat token)")" = 404 ] || fail "an action by GET"
c=$(code POST "/api/runs/$SRUN/cancel" -H "Authorization: Bearer $(cat token)")
[ "$c" = 200 ] || fail "cancel with the token: $c $(cat "$T/body")"
expect_jq "$T/body" .by '"token from 127.0.0.1"'
run_rc wait "$slow"
[ "$RC" -ne 0 ] || fail "the cancelled run succeeded"
[ "$("$CDX" status "$SRUN" --json | jq -r .status)" = cancelled ] || fail "run not cancelled: $("$CDX" status "$SRUN")"
grep -q "cancel run $SRUN by token from 127.0.0.1: done" "$T/serve.err" || fail "the cancel is not logged"
[ "$(jq -s --arg r "$SRUN" '[.[] | .rec | select(.t == "event" and .kind == "cancel" and .run == $r and .via == "token from 127.0.0.1")] | length' .cdx/journal.jsonl)" -eq 1 ] ||
	fail "the cancel is not recorded with who asked"
[ "$(code POST "/api/runs/$SRUN/cancel" -H "Authorization: Bearer $(cat token)")" = 409 ] || fail "cancel of an ended run"
# play: only a manual job waiting in a run that goes on
[ "$(code POST "/api/runs/$SRUN/jobs/build/sleepy/play" -H "Authorization: Bearer $(cat token)")" = 404 ] ||
	fail "play: $(cat "$T/body")"
expect_jq "$T/body" .error "\"build/sleepy of run $SRUN is no manual job waiting to be played\""
cat >manual.yml <<'EOF2'
name: manual
stages:
  - name: build
    jobs:
      - name: gate
        script: while [ ! -f go2 ]; do sleep 0.05; done
      - {name: ship, when: manual, script: echo shipped-9876}
EOF2
"$CDX" run manual.yml >manual.out 2>&1 &
mrun=$!
wait_for manual.out "cdx play"
MRUN=$("$CDX" runs manual --json | jq -r '.[0].id')
wait_for_cmd() { n=0; until "$@"; do n=$((n + 1)); [ "$n" -lt 600 ] || fail "timed out: $*"; sleep 0.05; done; }
wait_for_cmd sh -c "'$CDX' status '$MRUN' --json | jq -e '.jobs[] | select(.id == \"build/ship\" and .status == \"manual\")' >/dev/null"
curl -s "$URL/runs/$MRUN" >page.html
grep -q "/api/runs/$MRUN/jobs/build/ship/play" page.html || fail "no play button on the run page"
[ "$(code POST "/api/runs/$MRUN/jobs/build/ship/play")" = 403 ] || fail "play without a token"
[ "$(code POST "/api/runs/$MRUN/jobs/build/ship/play" -H "Authorization: Bearer $(cat token)")" = 200 ] ||
	fail "play: $(cat "$T/body")"
wait_for manual.out "played build/ship"
touch go2
wait "$mrun" || fail "the run with the played job failed: $(cat manual.out)"
grep -q "shipped-9876" manual.out || fail "the played job did not run: $(cat manual.out)"
[ "$("$CDX" status "$MRUN" --json | jq -r '.jobs[] | select(.id == "build/ship") | .status')" = success ] ||
	fail "the played job is not recorded: $("$CDX" status "$MRUN")"
# artifacts: listed, and each file downloaded as it was kept
cat >art.yml <<'EOF2'
name: art
stages:
  - name: build
    jobs:
      - name: pack
        script: mkdir -p dist/sub && echo "bin-4242" >dist/app && echo "<b>x</b>" >'dist/sub/a b&c.txt'
        artifacts: {paths: [dist/]}
EOF2
"$CDX" run art.yml >/dev/null 2>&1 || fail "cdx run art.yml"
ARUN=$("$CDX" runs art --json | jq -r '.[0].id')
[ "$(code GET "/api/runs/$ARUN/artifacts/build/pack")" = 200 ] || fail "artifact list: $(cat "$T/body")"
[ "$(jq -r '[.[].path] | sort | join(",")' "$T/body")" = "dist/app,dist/sub/a b&c.txt" ] || fail "artifact list: $(cat "$T/body")"
curl -s -D hdr -o got "$URL/api/runs/$ARUN/artifacts/build/pack?path=dist/sub/a%20b%26c.txt"
[ "$(cat got)" = "<b>x</b>" ] || fail "downloaded file: $(cat got)"
grep -qi '^content-disposition: attachment; filename="a_b_c.txt"' hdr || fail "no attachment header: $(cat hdr)"
grep -qi '^content-type: application/octet-stream' hdr || fail "download type: $(cat hdr)"
[ "$(code GET "/api/runs/$ARUN/artifacts/build/pack?path=../../etc/passwd")" = 404 ] || fail "a path not in the archive"
[ "$(code GET "/api/runs/$RUN/artifacts/build/compile")" = 404 ] || fail "a job without artifacts"
curl -s "$URL/runs/$ARUN" >page.html
grep -q "href=\"/api/runs/$ARUN/artifacts/build/pack?path=dist/sub/a%20b%26c.txt\">dist/sub/a b&amp;c.txt</a>" page.html ||
	fail "no download link on the run page: $(grep -o 'artifacts/build[^<]*' page.html | head -3)"
# the login: a session cookie (HttpOnly, SameSite=Strict) and its CSRF token
[ "$(code POST /login --data-urlencode 'token=wrong')" = 403 ] || fail "login with a wrong token"
curl -s -D hdr -o /dev/null -c jar --data-urlencode "token=$(cat token)" "$URL/login"
grep -qi '^set-cookie: cdx_session=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict' hdr || fail "session cookie: $(cat hdr)"
csrf=$(curl -s -b jar "$URL/" | sed -n 's/.*<meta name="cdx-csrf" content="\([0-9a-f]*\)">.*/\1/p')
[ -n "$csrf" ] || fail "no CSRF token on the page of a session"
[ "$(code POST "/api/runs/$SRUN/cancel" -b jar)" = 403 ] || fail "the cookie alone acted"
[ "$(code POST "/api/runs/$SRUN/cancel" -b jar -H "X-CSRF-Token: $csrf")" = 409 ] || fail "cookie + CSRF: $(cat "$T/body")"
stop_serve
echo "t_serve_api: ok"
