#!/bin/sh
# t_pool_outputs.sh — the worker pool (issue 19) moves a job's declared
# outputs: to the worker of a job that needs them: compile runs on w1
# (tags [a]), use on w2 (tags [b]) in another directory, and finds
# compile's files in its workspace (through the artifacts mechanism,
# lib/state/artifacts.h); the outputs of a job are kept with the run
# (cdx artifacts fetches them); a job's workspace gets nothing else.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool_lib.sh"
redis_state
export CDX_POOL_LEASE_MS=3000
mkdir -p "$T/owner"
trap 'rc=$?; [ $rc -eq 0 ] || cat "$T"/owner/*.out "$T"/w*.log >&2 || true; stop_workers; cleanup' EXIT
cat >"$T/owner/ci.yml" <<'EOF2'
name: ci
stages:
  - name: build
    jobs:
      - name: compile
        tags: [a]
        outputs: [out/]
        script: |
          mkdir -p out/sub
          echo "binary built on $CDX_WORKER" >out/bin.txt
          echo nested >out/sub/n.txt
          echo scratch >scratch.txt
  - name: test
    jobs:
      - name: use
        tags: [b]
        script: |
          cat out/bin.txt out/sub/n.txt
          test ! -e scratch.txt
EOF2
for d in d1 d2; do mkdir -p "$T/$d"; cp "$T/owner/ci.yml" "$T/$d/"; done
start_worker w1 "$T/d1" --tags a
start_worker w2 "$T/d2" --tags b
cd "$T/owner"
expect_status 0 "$CDX" run ci.yml --workers
expect_contains "[test/use] binary built on w1"
expect_contains "[test/use] nested"
[ -f "$T/d2/out/bin.txt" ] || fail "outputs not in w2's workspace"
[ ! -e "$T/d2/scratch.txt" ] || fail "an undeclared file reached w2"
id=$(run_ids ci)
mkdir "$T/fetch"
expect_status 0 "$CDX" artifacts "$id" "build/compile#outputs" -o "$T/fetch"
[ "$(cat "$T/fetch/out/bin.txt")" = "binary built on w1" ] || fail "cdx artifacts: $(ls -R "$T/fetch")"
echo "ok t_pool_outputs"
