#!/bin/sh
# t_pool_make.sh — the make module with CDX_EXECUTOR=workers (a make
# variable here, an environment variable below): each job's recipe submits
# the job to the worker pool and waits for it; make's -j still bounds how
# many run at once; the jobs record the worker that ran them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool_lib.sh"
. "$(dirname "$0")/make_lib.sh"
redis_state
export CDX_POOL_LEASE_MS=3000
trap 'rc=$?; [ $rc -eq 0 ] || cat "$T"/w*.log "$T"/make.out >&2 || true; stop_workers; cleanup' EXIT
cat >"$T/pm.yml" <<'EOF2'
name: pm
stages:
  - name: build
    jobs:
      - {name: a, script: 'echo a on $CDX_WORKER'}
      - {name: b, script: 'echo b on $CDX_WORKER'}
  - name: test
    jobs:
      - {name: t, tags: [mk], script: 'echo t on $CDX_WORKER'}
EOF2
mkdir -p "$T/d0" "$T/d1"
cp "$T/pm.yml" "$T/d0/"
cp "$T/pm.yml" "$T/d1/"
start_worker w0 "$T/d0" -j 2
start_worker w1 "$T/d1" -j 2 --tags mk
cd "$T"
makefile Makefile "load $CDX_SO" '$(cdx-pipeline pm.yml)'
run_rc run_make -j2 pm CDX_EXECUTOR=workers >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make: $(cat make.out)"
grep -q "t on w1" make.out || fail "the tagged job not on the worker with its tag: $(cat make.out)"
id=$(run_ids pm | tail -1)
wait_for sh -c "'$CDX' status '$id' --json | jq -e '[.jobs[] | select(.id == \"test/t\") | .attempts[0].worker] == [\"w1\"]' >/dev/null"
CDX_EXECUTOR=workers; export CDX_EXECUTOR
run_rc run_make -s -j2 pm >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make (environment): $(cat make.out)"
grep -q "a on w[01]" make.out || fail "not on a worker: $(cat make.out)"
echo "ok t_pool_make"
