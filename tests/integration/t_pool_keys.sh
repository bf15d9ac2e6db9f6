#!/bin/sh
# t_pool_keys.sh — issue 21's keys on the pool of issue 19: a pooled job's
# after_script runs on the worker that ran its script, after the script
# failed, sees CDX_JOB_STATUS, writes on in the same attempt's log, and the
# owner shows each line once; a job's $CDX_OUTPUT is a file on the worker
# that ran it (not a path of the owner's machine) and its outputs reach
# the job that needs it on the other worker.
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

# outputs across workers: build on w1 (tags [a]), deploy on w2 (tags [b])
cat >"$T/owner/out.yml" <<'EOF2'
name: out
stages:
  - name: build
    jobs:
      - name: b
        tags: [a]
        script: echo "VERSION=1.2.$CDX_WORKER" >>"$CDX_OUTPUT"; echo "$CDX_OUTPUT" >b.path
  - name: deploy
    jobs:
      - name: d
        tags: [b]
        needs: [build/b]
        script: echo "deploying $VERSION on $CDX_WORKER"
EOF2
start_worker w2 "$T/d2" -j 1 --tags b
start_worker w3 "$T/d3" -j 1 --tags a
cp "$T/owner/out.yml" "$T/d2/out.yml"
cp "$T/owner/out.yml" "$T/d3/out.yml"
expect_status 0 "$CDX" run out.yml --workers
expect_contains "[deploy/d] deploying 1.2.w3 on w2"
case "$(cat "$T/d3/b.path")" in
"$T/d3"/*) ;;
*) fail "\$CDX_OUTPUT of the pooled job is not on its worker: $(cat "$T/d3/b.path")" ;;
esac
id=$(run_ids out)
expect_status 0 "$CDX" status "$id" --json
[ "$(echo "$OUT" | jq -r '.jobs[] | select(.id == "build/b") | .attempts[-1].outputs.VERSION')" = 1.2.w3 ] ||
	fail "outputs not recorded: $OUT"
echo "t_pool_keys: ok"
