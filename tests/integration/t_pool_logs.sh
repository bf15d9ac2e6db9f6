#!/bin/sh
# t_pool_logs.sh — with a redis:// state every attempt's log also goes to
# Redis as the job writes it (a stream per attempt, masked, capped): `cdx
# logs` reads it from another directory with another local directory (as
# another machine would, where the log file does not exist), `--follow`
# prints a running attempt's output as it comes and ends when the attempt
# ends; a log past CDX_LOG_MAX is cut there and marked truncated.
. "$(dirname "$0")/lib.sh"
redis_state
mkdir "$T/a" "$T/b"
cd "$T/a"
cat >ci.yml <<'EOF2'
name: ci
variables:
  TOKEN: {value: hunter2secret, secret: true}
stages:
  - name: build
    jobs:
      - name: compile
        script: |
          echo "compiled with $TOKEN"
          i=0; while [ $i -lt 3000 ]; do echo "line $i of filler text"; i=$((i+1)); done
      - name: slow
        script: |
          echo first half
          while [ ! -e "$GATE" ]; do sleep 0.05; done
          echo second half
EOF2
export GATE="$T/gate"
CDX_LOG_MAX=20K "$CDX" run ci.yml -j 2 --only build/compile >run1.out 2>&1 || fail "run: $(cat run1.out)"
id=$(R zrange cdx:runs:ci 0 -1)
cd "$T/b"
export CDX_REDIS_LOCAL="$T/b/local"
rm -rf "$T/a/local" # the files are gone: only Redis has the log now
expect_status 0 "$CDX" logs "$id" build/compile
expect_contains "compiled with ***"
expect_not_contains hunter2secret
expect_contains "truncated"
[ "$(R xlen "cdx:log:$id:build/compile:1")" -ge 2 ] || fail "no log stream"
R --raw xrange "cdx:log:$id:build/compile:1" - + | grep -qx truncated || fail "end not marked truncated"

# --follow from a third directory while the job runs
cd "$T/a"
"$CDX" run ci.yml --only build/slow >run2.out 2>&1 &
runpid=$!
i=0
while [ -z "$(R zrange cdx:runs:ci 1 1)" ]; do i=$((i+1)); [ $i -lt 400 ] || fail "no second run"; sleep 0.05; done
id2=$(R zrange cdx:runs:ci 1 1)
i=0
while [ "$(R hget "cdx:logs:$id2" build/slow)" != 1 ]; do i=$((i+1)); [ $i -lt 400 ] || fail "no log of the running job"; sleep 0.05; done
cd "$T/b"
"$CDX" logs "$id2" build/slow --follow >follow.out 2>&1 &
fpid=$!
i=0
while ! grep -q "first half" follow.out; do i=$((i+1)); [ $i -lt 400 ] || fail "follow shows nothing: $(cat follow.out)"; sleep 0.05; done
grep -q "second half" follow.out && fail "second half before the gate"
touch "$GATE"
wait "$fpid" || fail "logs --follow failed: $(cat follow.out)"
grep -q "second half" follow.out || fail "follow missed the end: $(cat follow.out)"
wait "$runpid" || fail "run 2 failed: $(cat "$T/a/run2.out")"

# health and report log tails read the stream where the file is not
cd "$T/a"
cat >bad.yml <<'EOF2'
name: bad
stages:
  - name: s
    jobs:
      - {name: broken, script: 'echo "the reason it broke"; exit 3'}
EOF2
expect_status 1 "$CDX" run bad.yml
rm -rf "$T/a/local"
cd "$T/b"
expect_status 0 "$CDX" health bad --json
echo "$OUT" | grep -q "the reason it broke" || fail "health log tail: $OUT"
expect_status 0 "$CDX" report bad --type detailed --format text
expect_contains "the reason it broke"
echo "ok t_pool_logs"
