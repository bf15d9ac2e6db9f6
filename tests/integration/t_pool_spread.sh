#!/bin/sh
# t_pool_spread.sh — the worker pool (issue 19) with two workers, each in
# its own directory: jobs spread over both (each attempt records its
# worker), output shows live with the usual prefixes; cdx workers lists
# them; cdx logs and --follow read a pooled job's log from a third
# directory; a job with tags nobody has waits and says so, and runs when a
# worker with them comes; a worker whose pipeline file differs refuses the
# job naming both hashes; SIGTERM drains a worker (it finishes its job,
# takes no new one, exits 0); a worker without a redis:// state exits 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool_lib.sh"
trap 'rc=$?; [ $rc -eq 0 ] || cat "$T"/owner/*.out "$T"/w*.log >&2 || true; touch "$G/go" "$G/b2"; stop_workers; cleanup' EXIT
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
redis_state
export CDX_POOL_LEASE_MS=3000 G="$T/gates"
mkdir -p "$G" "$T/owner" "$T/third"
cat >"$T/owner/ci.yml" <<'EOF2'
name: ci
stages:
  - name: build
    jobs:
      # each waits for the other to start: with one slot a worker, they
      # must run on two workers at once
      - name: left
        script: |
          echo "left on $CDX_WORKER"
          touch "$G/left"; while [ ! -e "$G/right" ]; do sleep 0.02; done
      - name: right
        script: |
          echo "right on $CDX_WORKER"
          touch "$G/right"; while [ ! -e "$G/left" ]; do sleep 0.02; done
  - name: test
    jobs:
      - name: unit
        script: |
          echo "unit line 1"
          while [ ! -e "$G/go" ]; do sleep 0.02; done
          echo "unit line 2"
EOF2
start_worker w1 "$T/d1" -j 1
start_worker w2 "$T/d2" -j 1
cp "$T/owner/ci.yml" "$T/d1/ci.yml"
cp "$T/owner/ci.yml" "$T/d2/ci.yml"

expect_status 2 env CDX_STATE="file:$T/x" "$CDX" worker --name nope
expect_contains "redis://"
expect_status 0 "$CDX" workers --json
[ "$(echo "$OUT" | jq -r '[.[].name] | sort | join(",")')" = w1,w2 ] || fail "workers: $OUT"
expect_status 0 "$CDX" workers
expect_contains w1
expect_status 0 "$CDX" metrics --prometheus
expect_contains "cdx_pool_workers_up 2"
expect_contains "cdx_pool_slots 2"

cd "$T/owner"
"$CDX" run ci.yml --workers >run.out 2>&1 &
owner=$!
wait_for test -e "$G/right"
id=$(run_ids ci)
wait_for grep -q "unit line 1" run.out
# the log of the running job, followed from a third directory
cd "$T/third"
CDX_REDIS_LOCAL="$T/third/.local" "$CDX" logs "$id" test/unit --follow >follow.out 2>&1 &
fpid=$!
wait_for grep -q "unit line 1" follow.out
touch "$G/go"
run_rc wait "$fpid"
[ "$RC" -eq 0 ] || fail "logs --follow: $(cat follow.out)"
grep -q "unit line 2" follow.out || fail "follow missed the end: $(cat follow.out)"
run_rc wait "$owner"
[ "$RC" -eq 0 ] || fail "run: $(cat "$T/owner/run.out")"
grep -q '^\[build/left\] left on w' "$T/owner/run.out" || fail "no prefixed output: $(cat "$T/owner/run.out")"
expect_status 0 "$CDX" status "$id" --json
workers=$(echo "$OUT" | jq -r '[.jobs[] | select(.id | startswith("build/")) | .attempts[0].worker] | sort | join(",")')
[ "$workers" = w1,w2 ] || fail "jobs not spread over both workers: $workers -- $OUT"
expect_status 0 env CDX_REDIS_LOCAL="$T/third/.local" "$CDX" logs "$id" build/left
expect_contains "left on w"
expect_status 0 "$CDX" metrics --prometheus
expect_contains "cdx_pool_pickup_seconds_count 3"
expect_contains "cdx_pool_queue_length 0"

# tags nobody has: the job waits, says so, and runs when a worker has them
# (executor: workers in the file, no --workers)
cat >"$T/owner/gpu.yml" <<'EOF2'
name: gpu
executor: workers
stages:
  - name: train
    jobs:
      - {name: model, tags: [gpu, big], script: 'echo trained on $CDX_WORKER'}
EOF2
cd "$T/owner"
"$CDX" run gpu.yml >gpu.out 2>&1 &
owner=$!
wait_for grep -q "waits: no worker has tags big,gpu" gpu.out
cp gpu.yml "$T/d3/gpu.yml" 2>/dev/null || { mkdir -p "$T/d3"; cp gpu.yml "$T/d3/gpu.yml"; }
start_worker w3 "$T/d3" --tags gpu,big,linux
run_rc wait "$owner"
[ "$RC" -eq 0 ] || fail "gpu run: $(cat gpu.out)"
grep -q "trained on w3" gpu.out || fail "gpu job: $(cat gpu.out)"

# a workspace that differs: the job is refused, naming both hashes
echo "# changed" >>"$T/d3/gpu.yml"
expect_status 1 "$CDX" run gpu.yml --workers
expect_contains "workspace of worker w3 differs"
expect_contains "has hash"

# drain: w1 finishes its job, takes no new one and exits 0
kill "$WPID_w2" "$WPID_w3"
wait "$WPID_w2" "$WPID_w3" || true
cat >"$T/owner/drain.yml" <<'EOF2'
name: drain
stages:
  - name: a
    jobs:
      - name: long
        script: |
          touch "$G/b1"; while [ ! -e "$G/b2" ]; do sleep 0.02; done; echo long done
  - name: b
    jobs:
      - {name: after, script: 'echo after on $CDX_WORKER'}
EOF2
cp "$T/owner/drain.yml" "$T/d1/"
mkdir -p "$T/d4" && cp "$T/owner/drain.yml" "$T/d4/"
"$CDX" run drain.yml --workers >drain.out 2>&1 &
owner=$!
wait_for test -e "$G/b1"
kill -TERM "$WPID_w1"
touch "$G/b2"
run_rc wait "$WPID_w1"
[ "$RC" -eq 0 ] || fail "drained worker exit $RC: $(cat "$T/w1.log")"
grep -q "drained" "$T/w1.log" || fail "w1: $(cat "$T/w1.log")"
start_worker w4 "$T/d4"
run_rc wait "$owner"
[ "$RC" -eq 0 ] || fail "drain run: $(cat drain.out)"
grep -q "after on w4" drain.out || fail "after ran elsewhere: $(cat drain.out)"
grep -q "long done" drain.out || fail "long: $(cat drain.out)"
kill "$WPID_w4"; wait "$WPID_w4" || true

# a job read by a worker that died before taking it (a consumer of the
# group that read the entry and vanished: redis-cli here) is claimed with
# XAUTOCLAIM by a worker once it has been pending past twice the lease
cat >"$T/owner/ghost.yml" <<'EOF2'
name: ghost
stages:
  - name: s
    jobs:
      - {name: j, script: 'echo ghost job on $CDX_WORKER'}
EOF2
mkdir -p "$T/d5" && cp "$T/owner/ghost.yml" "$T/d5/"
"$CDX" run ghost.yml --workers >ghost.out 2>&1 &
owner=$!
wait_for sh -c "[ \"\$(redis-cli -p $REDIS_PORT xlen cdx:pool:q:)\" -ge 1 ]"
R xreadgroup GROUP workers ghost COUNT 1 STREAMS cdx:pool:q: ">" >/dev/null
start_worker w5 "$T/d5"
run_rc wait "$owner"
[ "$RC" -eq 0 ] || fail "ghost run: $(cat ghost.out)"
grep -q "ghost job on w5" ghost.out || fail "ghost: $(cat ghost.out)"
grep -q "claimed s/j" "$T/w5.log" || fail "w5: $(cat "$T/w5.log")"
kill "$WPID_w5"; wait "$WPID_w5" || true
expect_status 2 env CDX_STATE="file:$T/fs" "$CDX" run ghost.yml --workers
expect_contains "needs a redis:// state"
echo "ok t_pool_spread"
