#!/bin/sh
# t_pool_after.sh — a pooled job's after_script (issue 21 on the pool of
# issue 19) runs on the worker that ran its script, after the script
# failed, sees CDX_JOB_STATUS, writes on in the same attempt's log, and
# the owner shows each line once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool_lib.sh"
trap 'stop_workers; cleanup' EXIT
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
redis_state
mkdir -p "$T/owner"
cat >"$T/owner/ci.yml" <<'EOF2'
name: ci
stages:
  - name: build
    jobs:
      - name: a
        script: echo "main on $CDX_WORKER"; exit 3
        after_script: echo "after on $CDX_WORKER status=$CDX_JOB_STATUS"
EOF2
start_worker w1 "$T/d1" -j 1
cp "$T/owner/ci.yml" "$T/d1/ci.yml"
cd "$T/owner"
expect_status 1 "$CDX" run ci.yml --workers
expect_contains "[build/a] after on w1 status=failed"
[ "$(printf '%s\n' "$OUT" | grep -c 'main on w1')" -eq 1 ] || fail "the script's line shown other than once: $OUT"
id=$(run_ids ci)
expect_status 0 "$CDX" logs "$id" build/a
expect_contains "main on w1"
expect_contains "after on w1 status=failed"
expect_status 0 "$CDX" status "$id" --json
[ "$(echo "$OUT" | jq -r '.jobs[0].status')" = failed ] || fail "status: $OUT"
[ "$(echo "$OUT" | jq -r '.jobs[0].attempts[-1].after_script.status')" = success ] || fail "after_script: $OUT"
echo "t_pool_after: ok"
