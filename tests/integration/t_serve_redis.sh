#!/bin/sh
# t_serve_redis.sh — cdx serve over the Redis store: /api/runs and
# /api/runs/RUN answer what the CLI does, /events is fed by the store's
# blocking stream read (the records of a run started after the stream
# opened arrive, in order), a job's log streams from the local log
# directory, and the server outlives a Redis restart (the events resume).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
cd "$T"
trap '[ -z "$SERVE_PID" ] || kill "$SERVE_PID" 2>/dev/null; cleanup' EXIT
redis_state
cat >ci.yml <<'EOF2'
name: demo
stages:
  - name: build
    jobs:
      - {name: compile, script: "echo compiled-on-redis"}
  - name: test
    jobs:
      - {name: unit, script: "echo unit ok"}
EOF2
"$CDX" run ci.yml >/dev/null 2>&1 || fail "first run"
start_serve
RUN=$("$CDX" runs --json | jq -r '.[0].id')
curl -s "$URL/api/runs" | jq -S . >api.json
"$CDX" runs --json | jq -S . >cli.json
cmp -s api.json cli.json || fail "/api/runs on redis differs from cdx runs --json"
curl -s "$URL/api/runs/$RUN" | jq -S . >api.json
"$CDX" status "$RUN" --json | jq -S . >cli.json
cmp -s api.json cli.json || fail "/api/runs/RUN on redis differs"
[ "$(code GET "/runs/$RUN")" = 200 ] || fail "run page on redis"
grep -q "data-log=\"/events/log/$RUN/build/compile\"" "$T/body" || fail "no log pane on redis"
curl -sN "$URL/events/log/$RUN/build/compile" >log.out &
lg=$!
wait_for log.out 'compiled-on-redis'
kill "$lg"; wait "$lg" 2>/dev/null || true

curl -sN "$URL/events" >events.out &
ev=$!
wait_for events.out ': events'
"$CDX" run ci.yml >/dev/null 2>&1 || fail "second run"
RUN2=$("$CDX" runs --json | jq -r '.[0].id')
wait_for events.out "\"t\":\"run_end\",\"id\":\"$RUN2\""
# in order: run, then the attempts and jobs, then run_end
order=$(sed -n 's/^data: {"t":"\([a-z_]*\)".*/\1/p' events.out | tr '\n' ' ')
[ "$order" = "run attempt job attempt job run_end " ] || fail "events out of order: $order"

# the store goes away and comes back: the stream resumes
restart_redis
curl -sN "$URL/events" >events4.out &
ev4=$!
wait_for events4.out ': events'
"$CDX" run ci.yml >/dev/null 2>&1 || fail "run after the restart"
RUN4=$("$CDX" runs --json | jq -r '.[0].id')
wait_for events4.out "\"t\":\"run_end\",\"id\":\"$RUN4\""
kill "$ev" "$ev4"; wait "$ev" "$ev4" 2>/dev/null || true
stop_serve
echo "t_serve_redis: ok"
