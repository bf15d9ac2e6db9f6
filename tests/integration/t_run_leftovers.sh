#!/bin/sh
# t_run_leftovers.sh — no process of a job outlives it: grandchildren that
# ignore SIGTERM and a process that escaped with setsid, both in jobs that
# hit their timeout; background processes left behind by a job that
# succeeds; and one that left the session (setsid), dropped the marker from
# its environment (env -i) and does not hold the output pipe (a fixed
# defect: once its parent exited it was re-parented to cdx, the child
# subreaper, but found by no sweep, and went on under init after cdx
# exited).  Processes are found through /proc by unique markers.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"

# markers: scripts name them through variables, so that only the sleeps
# carry them on their command lines
export MK_TERM="987.${$}1" MK_SETSID="987.${$}2" MK_BG="987.${$}3" MK_NOHUP="987.${$}4" MK_ENVI="987.${$}5"
R_TERM="987\\.${$}1" R_SETSID="987\\.${$}2" R_BG="987\\.${$}3" R_NOHUP="987\\.${$}4" R_ENVI="987\\.${$}5"
trap 'kill_procs "$R_TERM" "$R_SETSID" "$R_BG" "$R_NOHUP" "$R_ENVI"; cleanup' EXIT

cat >left.yml <<'EOF'
name: left
stages:
  - name: s
    jobs:
      - name: deaf
        timeout: 1s
        script: |
          (trap '' TERM; sleep "$MK_TERM"; true) &
          (trap '' TERM; sh -c 'sleep "$MK_TERM"; true') &
          trap '' TERM
          echo "deaf started"
          sleep "$MK_TERM"
      - name: escape
        timeout: 1s
        script: |
          setsid sleep "$MK_SETSID" &
          setsid -f sh -c 'sleep "$MK_SETSID"; true'
          (setsid sh -c 'sleep "$MK_SETSID" & wait' &)
          echo "escape started"
          sleep "$MK_SETSID"
      - name: background
        script: |
          sleep "$MK_BG" &
          (sleep "$MK_BG" &)
          nohup sleep "$MK_NOHUP" >/dev/null 2>&1 &
          sleep 0.2
          echo "background done"
  - name: after
    needs: []
    jobs:
      - {name: check, needs: [s/background], script: 'true'}
EOF
run_rc "$CDX" run left.yml -j 4 -k >out.txt 2>&1
[ "$RC" -eq 1 ] || fail "exit $RC, want 1 (two jobs time out): $(cat out.txt)"
# the run ended although processes in it ignore SIGTERM or left the session
grep -Eq '^\[[1-4]/4\] FAILED +s/deaf .*\(timed out\)' out.txt || fail "deaf did not time out: $(cat out.txt)"
grep -Eq '^\[[1-4]/4\] FAILED +s/escape .*\(timed out\)' out.txt || fail "escape did not time out: $(cat out.txt)"
# a job that succeeds while leaving processes behind is a success, and its
# dependents run
grep -Eq '^\[[1-4]/4\] ok +s/background ' out.txt || fail "background not ok: $(cat out.txt)"
grep -Eq '^\[[1-4]/4\] ok +after/check ' out.txt || fail "after/check not ok: $(cat out.txt)"
# zero processes remain, right after cdx returned
for r in "$R_TERM" "$R_SETSID" "$R_BG" "$R_NOHUP"; do
	[ "$(nprocs "$r")" -eq 0 ] || fail "processes matching $r remain: $(procs "$r" | tr '\n' ' ')"
done
id=$(sed -n 's/.*(run \([^)]*\))$/\1/p' out.txt)
[ "$(job_field "$id" s/deaf '.attempts[0].status')" = timeout ] || fail "deaf attempt not recorded as timeout"
[ "$(job_field "$id" s/escape '.attempts[0].status')" = timeout ] || fail "escape attempt not recorded as timeout"
# the output before the timeout reached the log
expect_status 0 "$CDX" logs "$id" s/deaf
expect_contains "deaf started"
expect_status 0 "$CDX" logs "$id" s/background
expect_contains "background done"

# ---- an orphan with no trace of the job: out of the session, no marker -----
cat >e.yml <<'EOF'
name: escape
stages:
  - name: s
    jobs:
      - name: envi
        script: |
          env -i setsid sleep "$MK_ENVI" >/dev/null 2>&1 </dev/null &
          sleep 0.3
          echo started
EOF
expect_status 0 "$CDX" run e.yml
[ -z "$(procs "$R_ENVI")" ] || fail "a process escaped the job and outlived cdx: pid $(procs "$R_ENVI")"
echo "t_run_leftovers: ok"
