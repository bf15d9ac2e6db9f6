#!/bin/sh
# t_keys_scripts.sh — before_script and after_script with GitLab's meaning,
# through `cdx run` and through make: before_script and script share one
# shell; after_script runs after the script even when it failed or timed
# out, in a fresh shell with its own timeout, sees CDX_JOB_STATUS, writes to
# the same log, and its failure does not change the job's result.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
export RES="$T/res"
mkdir "$RES"

cat >scripts.yml <<'EOF2'
name: scripts
stages:
  - name: s
    jobs:
      - name: shared
        before_script: [SHARED=from_before]
        script: echo "shared=$SHARED" >"$RES/shared"
        after_script: echo "after=$CDX_JOB_STATUS shared=${SHARED:-unset}" >"$RES/shared.after"
      - name: slow
        timeout: 1s
        script: [echo main-ran, sleep 30]
        after_script:
          - echo "after=$CDX_JOB_STATUS" >"$RES/slow.after"
          - echo after-in-log
      - name: broken_after
        script: echo fine
        after_script: exit 7
      - name: failing
        allow_failure: true
        script: exit 4
        after_script: echo "after=$CDX_JOB_STATUS attempt=$CDX_ATTEMPT" >>"$RES/failing.after"
        retry: 1
      - name: hung_after
        script: "true"
        after_script: sleep 30
        after_script_timeout: 1s
EOF2
expect_status 1 "$CDX" run scripts.yml -j 5
id=$(printf '%s\n' "$OUT" | sed -n 's/.*(run \([^)]*\))$/\1/p' | tail -n 1)
[ -n "$id" ] || fail "no run id: $OUT"
[ "$(cat "$RES/shared")" = "shared=from_before" ] || fail "before_script and script not one shell"
[ "$(cat "$RES/shared.after")" = "after=success shared=unset" ] || fail "after_script not a fresh shell: $(cat "$RES/shared.after")"
[ "$(cat "$RES/slow.after")" = "after=timedout" ] || fail "after_script after a timeout: $(cat "$RES/slow.after" 2>&1)"
printf 'after=failed attempt=1\nafter=failed attempt=2\n' | cmp -s - "$RES/failing.after" || fail "after_script per attempt: $(cat "$RES/failing.after")"
expect_contains "after_script of s/broken_after failed (exit 7)"
expect_contains "after_script of s/hung_after timed out"
[ "$(job_field "$id" s/slow .status)" = failed ] || fail "slow should fail (timeout)"
[ "$(job_field "$id" s/broken_after .status)" = success ] || fail "an after_script failure changed the result"
[ "$(job_field "$id" s/hung_after .status)" = success ] || fail "an after_script timeout changed the result"
[ "$(job_field "$id" s/failing .status)" = allowed_failure ] || fail "failing: $(job_field "$id" s/failing .status)"
[ "$(job_field "$id" s/broken_after '.attempts[0].after_script.exit_code')" = 7 ] || fail "after_script not recorded"
"$CDX" logs "$id" s/slow >log.out
grep -q main-ran log.out && grep -q after-in-log log.out || fail "after_script output not in the job's log: $(cat log.out)"

# ---- through make: the job's recipe runs the after_script too -------------
. "$TOP/tests/integration/make_lib.sh"
rm -f "$RES"/*
cat >mk.yml <<'EOF2'
name: mk
stages:
  - name: s
    jobs:
      - name: slow
        timeout: 1s
        before_script: X=1
        script: [echo "x=$X" >"$RES/mk.before", sleep 30]
        after_script: echo "after=$CDX_JOB_STATUS" >"$RES/mk.after"
EOF2
makefile Makefile "load $CDX_SO" '$(cdx-pipeline mk.yml)'
run_rc run_make mk >make.out 2>&1
[ "$RC" -ne 0 ] || fail "make should fail: $(cat make.out)"
[ "$(cat "$RES/mk.before")" = "x=1" ] || fail "make: before_script: $(cat make.out)"
[ "$(cat "$RES/mk.after")" = "after=timedout" ] || fail "make: after_script after a timeout: $(cat make.out)"
echo "PASS t_keys_scripts"
