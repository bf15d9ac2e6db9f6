#!/bin/sh
# t_run_retry.sh — retries (by exit code, on timeout), allowed failures (bool
# and exit codes), -k (independent jobs go on, dependents are skipped) and a
# failure without -k (exit 1, the later stages skipped), with real processes
# and the records that `cdx status --json` reads back.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
export RES="$T/res"
mkdir "$RES"

run_id() { printf '%s\n' "$OUT" | sed -n 's/.*(run \([^)]*\))$/\1/p' | tail -n 1; }

# ---- retry by exit code -----------------------------------------------------
cat >retry.yml <<'EOF'
name: retry
stages:
  - name: s
    jobs:
      - name: flaky
        retry: {max: 3, exit_codes: [75]}
        script: |
          echo "attempt $CDX_ATTEMPT"
          echo "$CDX_ATTEMPT" >>"$RES/flaky.attempts"
          [ "$CDX_ATTEMPT" -ge 3 ] || exit 75
      - name: wrongcode
        retry: {max: 3, exit_codes: [75]}
        allow_failure: true
        script: echo "$CDX_ATTEMPT" >>"$RES/wrongcode.attempts"; exit 1
      - name: exhausted
        retry: {max: 1, exit_codes: [75]}
        allow_failure: true
        script: echo "$CDX_ATTEMPT" >>"$RES/exhausted.attempts"; exit 75
      - name: slow_once
        timeout: 1s
        retry: {max: 1, when: timeout}
        script: |
          echo "$CDX_ATTEMPT" >>"$RES/slow_once.attempts"
          if [ "$CDX_ATTEMPT" = 1 ]; then sleep 20; fi
      - name: fail_no_timeout_retry
        retry: {max: 2, when: timeout}
        allow_failure: true
        script: echo "$CDX_ATTEMPT" >>"$RES/fail_no_timeout_retry.attempts"; exit 3
EOF
expect_status 0 "$CDX" run retry.yml -j 5
id=$(run_id)
[ -n "$id" ] || fail "no run id: $OUT"
[ "$(cat "$RES/flaky.attempts" | tr '\n' ' ')" = "1 2 3 " ] || fail "flaky attempts: $(cat "$RES/flaky.attempts")"
[ "$(wc -l <"$RES/wrongcode.attempts")" -eq 1 ] || fail "a code not listed was retried"
[ "$(wc -l <"$RES/exhausted.attempts")" -eq 2 ] || fail "exhausted: $(cat "$RES/exhausted.attempts")"
[ "$(wc -l <"$RES/slow_once.attempts")" -eq 2 ] || fail "timeout retry: $(cat "$RES/slow_once.attempts")"
[ "$(wc -l <"$RES/fail_no_timeout_retry.attempts")" -eq 1 ] || fail "when: timeout retried a failure"
expect_contains "retry  s/flaky: attempt 1 exit 75; trying again (2 of 4)"
expect_contains "retry  s/flaky: attempt 2 exit 75; trying again (3 of 4)"
expect_contains "retry  s/slow_once: attempt 1 timed out; trying again (2 of 2)"
printf '%s\n' "$OUT" | grep -Eq '^\[[0-9]/5\] ok +s/flaky ' || fail "flaky not ok: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^\[[0-9]/5\] allowed +s/exhausted .*\(exit 75\) after 2 attempts' ||
	fail "exhausted not reported: $OUT"
# the records
[ "$(job_field "$id" s/flaky .status)" = success ] || fail "flaky status"
[ "$(job_field "$id" s/flaky '.attempts | length')" = 3 ] || fail "flaky attempts recorded"
[ "$(job_field "$id" s/flaky '[.attempts[].exit_code] | map(tostring) | join(",")')" = "75,75,0" ] ||
	fail "flaky exit codes: $(job_field "$id" s/flaky '[.attempts[].exit_code]')"
[ "$(job_field "$id" s/slow_once '.attempts[0].status')" = timeout ] || fail "slow_once attempt 1 not a timeout"
[ "$(job_field "$id" s/slow_once '.attempts[1].status')" = success ] || fail "slow_once attempt 2"
[ "$(job_field "$id" s/exhausted .status)" = allowed_failure ] || fail "exhausted status"
[ "$(job_field "$id" s/wrongcode .status)" = allowed_failure ] || fail "wrongcode status"
# each attempt has its own log
expect_status 0 "$CDX" logs "$id" s/flaky --attempt 2
[ "$OUT" = "attempt 2" ] || fail "log of attempt 2: $OUT"
expect_status 0 "$CDX" logs "$id" s/flaky
[ "$OUT" = "attempt 3" ] || fail "log of the last attempt: $OUT"

# ---- allowed failures -----------------------------------------------------
cat >allow.yml <<'EOF'
name: allow
stages:
  - name: s
    jobs:
      - {name: any, script: exit 9, allow_failure: true}
      - {name: code, script: exit 3, allow_failure: [3, 4]}
      - {name: map, script: exit 4, allow_failure: {exit_codes: [4]}}
  - name: t
    jobs:
      - {name: after, script: touch "$RES/after-allowed"}
EOF
expect_status 0 "$CDX" run allow.yml -j 3
id=$(run_id)
[ -f "$RES/after-allowed" ] || fail "the stage after allowed failures did not run"
for j in any code map; do
	printf '%s\n' "$OUT" | grep -Eq "^\[[0-9]/4\] allowed +s/$j " || fail "s/$j not allowed: $OUT"
	[ "$(job_field "$id" "s/$j" .status)" = allowed_failure ] || fail "s/$j record"
done
expect_contains "3 allowed to fail"

# an exit code not listed is a failure
cat >allow2.yml <<'EOF'
name: allow2
stages:
  - name: s
    jobs:
      - {name: code, script: exit 5, allow_failure: [3, 4]}
  - name: t
    jobs:
      - {name: after, script: touch "$RES/after-not-allowed"}
EOF
expect_status 1 "$CDX" run allow2.yml
printf '%s\n' "$OUT" | grep -Eq '^\[1/2\] FAILED +s/code .*\(exit 5\)' || fail "s/code not failed: $OUT"
[ ! -f "$RES/after-not-allowed" ] || fail "the stage after a failure ran"

# ---- -k: independent jobs go on, dependents are skipped -------------------
cat >keep.yml <<'EOF'
name: keep
stages:
  - name: one
    jobs:
      - {name: bad, script: 'sleep 0.2; exit 1'}
      - {name: good, script: 'sleep 1.5; touch "$RES/good"'}
  - name: two
    jobs:
      - {name: dep, needs: [one/bad], script: touch "$RES/dep"}
      - {name: indep, needs: [one/good], script: touch "$RES/indep"}
      - {name: depdep, needs: [two/dep], script: touch "$RES/depdep"}
  - name: three
    jobs:
      - {name: stagewide, script: touch "$RES/stagewide"}
EOF
expect_status 1 "$CDX" run keep.yml -j 2 -k
id=$(run_id)
[ -f "$RES/good" ] && [ -f "$RES/indep" ] || fail "-k: independent jobs did not run: $OUT"
for f in dep depdep stagewide; do [ ! -f "$RES/$f" ] || fail "-k: $f ran though it depends on a failure"; done
[ "$(job_field "$id" one/bad .status)" = failed ] || fail "-k: bad"
[ "$(job_field "$id" two/indep .status)" = success ] || fail "-k: indep"
for j in two/dep two/depdep three/stagewide; do
	[ "$(job_field "$id" "$j" .status)" = skipped ] || fail "-k: $j is $(job_field "$id" "$j" .status)"
done
expect_contains "keep failed in"
expect_contains "2 passed, 1 failed, 0 allowed to fail, 3 skipped, 0 cancelled"
[ "$("$CDX" status "$id" --json | jq -r .status)" = failed ] || fail "-k: run status"

# ---- without -k: exit 1, nothing new starts, later stages skipped ----------
rm -f "$RES"/good "$RES"/indep
expect_status 1 "$CDX" run keep.yml -j 2
id=$(run_id)
# good was running when bad failed: it finishes
[ -f "$RES/good" ] || fail "a running job was not allowed to finish"
[ "$(job_field "$id" one/good .status)" = success ] || fail "one/good"
[ ! -f "$RES/indep" ] || fail "without -k a new job started after the failure"
for j in two/dep two/indep two/depdep three/stagewide; do
	[ "$(job_field "$id" "$j" .status)" = skipped ] || fail "without -k: $j is $(job_field "$id" "$j" .status)"
done
expect_contains "1 passed, 1 failed, 0 allowed to fail, 4 skipped, 0 cancelled"
echo "t_run_retry: ok"
