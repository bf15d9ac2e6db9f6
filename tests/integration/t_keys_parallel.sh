#!/bin/sh
# t_keys_parallel.sh — parallel: 3 runs three copies NAME-1of3 .. NAME-3of3
# with CDX_NODE_INDEX and CDX_NODE_TOTAL, and a job that needs the base name
# starts only after all three; parallel: {matrix: ...} is matrix:.  Through
# cdx run and through make.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
export RES="$T/res"
mkdir "$RES"

cat >kpar.yml <<'EOF2'
name: kpar
stages:
  - name: test
    jobs:
      - name: shard
        parallel: 3
        script: echo "$CDX_NODE_INDEX/$CDX_NODE_TOTAL $CDX_JOB" >"$RES/shard.$CDX_NODE_INDEX"
      - name: os
        parallel: {matrix: [{OS: [linux, bsd]}]}
        script: echo "$OS" >"$RES/os.$OS"
  - name: report
    needs: []
    jobs:
      - name: sum
        needs: [test/shard]
        script: cat "$RES"/shard.* >"$RES/sum"
EOF2
check() {
	printf '1/3 shard-1of3\n2/3 shard-2of3\n3/3 shard-3of3\n' | cmp -s - "$RES/sum" ||
		fail "$1: the copies, or the job that needs them all: $(cat "$RES/sum" 2>&1)"
	[ -f "$RES/os.linux" ] && [ -f "$RES/os.bsd" ] || fail "$1: parallel matrix"
}
expect_status 0 "$CDX" run kpar.yml -j 4
expect_contains "test/shard-2of3"
check "cdx run"
expect_status 0 "$CDX" validate --json kpar.yml

. "$TOP/tests/integration/make_lib.sh"
rm -f "$RES"/*
makefile Makefile "load $CDX_SO" '$(cdx-pipeline kpar.yml)'
run_rc run_make kpar -j4 >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make: $(cat make.out)"
check make
echo "PASS t_keys_parallel"
