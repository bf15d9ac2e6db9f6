#!/bin/sh
# t_run_basic.sh — `cdx run` of a 3-stage pipeline with real processes:
# exit status, progress and summary lines, the CDX_* variables, variable
# precedence (pipeline < stage environment < job variables < --var), that
# `cdx runs --json`, `cdx status --json` and `cdx logs` agree, and that -j
# really runs jobs in parallel (and -j 1 does not) while needs hold.
#
# Fixed defects checked here: `--var NAME=VALUE` did not check NAME (names
# a pipeline file rejects ran, and reached the environment and the run
# record); with a relative state URL (the default file:.cdx) the records
# held log paths relative to where cdx ran, so `cdx logs` failed from any
# other directory, even with a --state naming the same store.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
mkdir out

# ---- a 3-stage pipeline; every job reports its environment ---------------
cat >ci.yml <<'EOF'
name: basic
variables:
  P_ONLY: from-pipeline
  P_STAGE: from-pipeline
  P_JOB: from-pipeline
  P_VAR: from-pipeline
  INHERITED_OVER: from-pipeline
stages:
  - name: build
    environment: {P_STAGE: from-stage, P_JOB: from-stage, P_VAR: from-stage}
    jobs:
      - name: compile
        variables: {P_JOB: from-job, P_VAR: from-job}
        script:
          - echo "compiling $CDX_JOB"
          - for v in CDX_PIPELINE CDX_RUN_ID CDX_STAGE CDX_JOB CDX_ATTEMPT P_ONLY P_STAGE P_JOB P_VAR INHERITED_OVER INHERITED_ONLY; do printf '%s=%s\n' "$v" "$(printenv "$v")"; done >"$RES/compile.env"
      - name: docs
        script: printenv P_STAGE P_JOB >"$RES/docs.env"
  - name: test
    jobs:
      - name: unit
        script: |
          echo "unit line 1"
          echo "unit line 2" >&2
          printf 'CDX_STAGE=%s CDX_JOB=%s\n' "$CDX_STAGE" "$CDX_JOB" >"$RES/unit.env"
  - name: deploy
    jobs:
      - {name: ship, script: echo shipped}
EOF
export RES="$T/out" INHERITED_OVER=from-environment INHERITED_ONLY=from-environment

expect_status 0 "$CDX" run ci.yml -j 2 --var P_VAR=from-cli
# progress: one line per job, [n/N] ok STAGE/JOB, numbered 1..4
for j in build/compile build/docs test/unit deploy/ship; do
	printf '%s\n' "$OUT" | grep -Eq "^\[[1-4]/4\] ok +$j( |\$)" || fail "no progress line for $j in: $OUT"
done
n=$(printf '%s\n' "$OUT" | grep -Ec '^\[[1-4]/4\] ')
[ "$n" -eq 4 ] || fail "expected 4 progress lines, got $n: $OUT"
for i in 1 2 3 4; do
	printf '%s\n' "$OUT" | grep -q "^\[$i/4\] " || fail "no progress line [$i/4]: $OUT"
done
# job output is prefixed; stderr is captured too
expect_contains "[build/compile] compiling compile"
expect_contains "[test/unit] unit line 1"
expect_contains "[test/unit] unit line 2"
expect_contains "[deploy/ship] shipped"
# the summary names the pipeline, the result, the counts and the run
summary=$(printf '%s\n' "$OUT" | tail -n 1)
case "$summary" in
"basic success in "*": 4 passed, 0 failed, 0 allowed to fail, 0 skipped, 0 cancelled; critical path "*"(run "*")") ;;
*) fail "unexpected summary line: $summary" ;;
esac
RUN_ID=$(printf '%s\n' "$summary" | sed -n 's/.*(run \([^)]*\))$/\1/p')
[ -n "$RUN_ID" ] || fail "no run id in: $summary"

# ---- the environment of the jobs ------------------------------------------
env_of() { sed -n "s/^$1=//p" "$RES/compile.env"; }
[ "$(env_of CDX_PIPELINE)" = basic ] || fail "CDX_PIPELINE: $(cat "$RES/compile.env")"
[ "$(env_of CDX_RUN_ID)" = "$RUN_ID" ] || fail "CDX_RUN_ID $(env_of CDX_RUN_ID) != $RUN_ID"
[ "$(env_of CDX_STAGE)" = build ] || fail "CDX_STAGE: $(env_of CDX_STAGE)"
[ "$(env_of CDX_JOB)" = compile ] || fail "CDX_JOB: $(env_of CDX_JOB)"
[ "$(env_of CDX_ATTEMPT)" = 1 ] || fail "CDX_ATTEMPT: $(env_of CDX_ATTEMPT)"
grep -qx 'CDX_STAGE=test CDX_JOB=unit' "$RES/unit.env" || fail "unit env: $(cat "$RES/unit.env")"
# precedence: pipeline < stage environment < job variables < --var
[ "$(env_of P_ONLY)" = from-pipeline ] || fail "P_ONLY=$(env_of P_ONLY)"
[ "$(env_of P_STAGE)" = from-stage ] || fail "P_STAGE=$(env_of P_STAGE)"
[ "$(env_of P_JOB)" = from-job ] || fail "P_JOB=$(env_of P_JOB)"
[ "$(env_of P_VAR)" = from-cli ] || fail "P_VAR=$(env_of P_VAR)"
# the pipeline's variables win over the inherited environment, which passes through
[ "$(env_of INHERITED_OVER)" = from-pipeline ] || fail "INHERITED_OVER=$(env_of INHERITED_OVER)"
[ "$(env_of INHERITED_ONLY)" = from-environment ] || fail "INHERITED_ONLY=$(env_of INHERITED_ONLY)"
# a job without variables of its own sees the stage's
[ "$(cat "$RES/docs.env")" = "from-stage
from-stage" ] || fail "docs env: $(cat "$RES/docs.env")"

# --var names follow the file's rules: a usage error, nothing run
rm -f "$RES"/*.env
for bad in 'BAD NAME=1' '1X=2' 'A;touch x=3' 'A-B=4' "$(printf 'A\nB=5')"; do
	expect_status 2 "$CDX" run ci.yml --var "$bad"
	[ -z "$(ls "$RES")" ] || fail "--var '$bad' was accepted and a job ran: $(ls "$RES")"
done

# ---- runs / status / logs agree -------------------------------------------
expect_status 0 "$CDX" runs --json
runs=$OUT
[ "$(printf '%s' "$runs" | jq -r '.[0].id')" = "$RUN_ID" ] || fail "newest run is not $RUN_ID: $runs"
[ "$(printf '%s' "$runs" | jq -r '.[0].status')" = success ] || fail "runs status: $runs"
[ "$(printf '%s' "$runs" | jq -r '.[0].pipeline')" = basic ] || fail "runs pipeline: $runs"
[ "$(printf '%s' "$runs" | jq -r '.[0].jobs_success')" = 4 ] || fail "runs jobs_success: $runs"

expect_status 0 "$CDX" status "$RUN_ID" --json
st=$OUT
[ "$(printf '%s' "$st" | jq -r .id)" = "$RUN_ID" ] || fail "status id: $st"
[ "$(printf '%s' "$st" | jq -r .status)" = success ] || fail "status: $st"
[ "$(printf '%s' "$st" | jq -r '.jobs | length')" = 4 ] || fail "status jobs: $st"
[ "$(printf '%s' "$st" | jq -r '[.jobs[] | select(.status == "success")] | length')" = 4 ] || fail "job states: $st"
[ "$(printf '%s' "$st" | jq -r '[.jobs[].attempts | length] | add')" = 4 ] || fail "attempts: $st"
[ "$(printf '%s' "$st" | jq -r '[.jobs[].attempts[].exit_code] | add')" = 0 ] || fail "exit codes: $st"
# runs and status tell the same story
for k in pipeline status start_ms end_ms duration_ms; do
	a=$(printf '%s' "$runs" | jq -c ".[0].$k")
	b=$(printf '%s' "$st" | jq -c ".$k")
	[ "$a" = "$b" ] || fail "runs and status disagree on $k: $a vs $b"
done
# each recorded log exists and `cdx logs` prints it
for j in build/compile test/unit deploy/ship; do
	log=$(printf '%s' "$st" | jq -r --arg j "$j" '.jobs[] | select(.id == $j) | .attempts[0].log')
	[ -f "$log" ] || fail "log of $j missing: $log"
	expect_status 0 "$CDX" logs "$RUN_ID" "$j"
	[ "$OUT" = "$(cat "$log")" ] || fail "cdx logs $j differs from $log"
done
expect_status 0 "$CDX" logs "$RUN_ID" test/unit --attempt 1
[ "$OUT" = "unit line 1
unit line 2" ] || fail "log of test/unit: $OUT"
expect_status 0 "$CDX" logs "$RUN_ID" deploy/ship
[ "$OUT" = shipped ] || fail "log of deploy/ship: $OUT"
expect_status 2 "$CDX" logs "$RUN_ID" deploy/nope
expect_status 2 "$CDX" logs "$RUN_ID" deploy/ship --attempt 2
# with a relative state URL, cdx logs works from another directory too
mkdir proj
cp ci.yml proj/
(cd proj && CDX_STATE=file:.cdx "$CDX" run ci.yml --output quiet >/dev/null) || fail "run in proj failed"
id=$(cd proj && CDX_STATE=file:.cdx "$CDX" runs --json | jq -r '.[0].id')
[ -n "$id" ] && [ "$id" != null ] || fail "no run id in proj"
(cd proj && CDX_STATE=file:.cdx "$CDX" logs "$id" deploy/ship) | grep -q shipped || fail "cdx logs in the project directory"
expect_status 0 env CDX_STATE="file:$T/proj/.cdx" "$CDX" logs "$id" deploy/ship
[ "$OUT" = shipped ] || fail "cdx logs from elsewhere: $OUT"
# the text forms work too
expect_status 0 "$CDX" status "$RUN_ID"
expect_contains "$RUN_ID"
expect_contains success
expect_status 0 "$CDX" runs
expect_contains "$RUN_ID"

# ---- --json events agree with the records ---------------------------------
expect_status 0 "$CDX" run ci.yml -j 2 --json
ev=$OUT
printf '%s\n' "$ev" | jq -e . >/dev/null || fail "--json output is not JSON lines: $ev"
jid=$(printf '%s\n' "$ev" | jq -r 'select(.event == "run_start") | .id')
[ -n "$jid" ] || fail "no run_start event: $ev"
[ "$(printf '%s\n' "$ev" | jq -r 'select(.event == "run_end") | .status')" = success ] || fail "run_end: $ev"
[ "$(printf '%s\n' "$ev" | jq -s '[.[] | select(.event == "job_end" and .status == "success")] | length')" = 4 ] ||
	fail "job_end events: $ev"
expect_status 0 "$CDX" status "$jid" --json
[ "$(printf '%s' "$OUT" | jq -r .status)" = success ] || fail "status of the --json run: $OUT"

# ---- -j 1 against -j 3: real parallelism, needs respected -----------------
cat >par.yml <<'EOF'
name: par
stages:
  - name: s
    jobs:
      - {name: a, script: 'date +%s%N >"$RES/$CDX_JOB.start"; sleep 1; date +%s%N >"$RES/$CDX_JOB.end"'}
      - {name: b, script: 'date +%s%N >"$RES/$CDX_JOB.start"; sleep 1; date +%s%N >"$RES/$CDX_JOB.end"'}
      - {name: c, script: 'date +%s%N >"$RES/$CDX_JOB.start"; sleep 1; date +%s%N >"$RES/$CDX_JOB.end"'}
      - {name: d, needs: [s/a], script: 'date +%s%N >"$RES/$CDX_JOB.start"; date +%s%N >"$RES/$CDX_JOB.end"'}
EOF
ts() { cat "$RES/$1.$2"; }

rm -f "$RES"/*.start "$RES"/*.end
expect_status 0 "$CDX" run par.yml -j 3 --output quiet
# the three sleeps overlap: each starts before any of them ends
latest_start=0
earliest_end=
for j in a b c; do
	s=$(ts "$j" start); e=$(ts "$j" end)
	[ "$s" -gt "$latest_start" ] && latest_start=$s
	if [ -z "$earliest_end" ] || [ "$e" -lt "$earliest_end" ]; then earliest_end=$e; fi
done
[ "$latest_start" -lt "$earliest_end" ] || fail "-j 3: the three jobs did not overlap"
# d needs a: it starts after a ended
[ "$(ts d start)" -ge "$(ts a end)" ] || fail "-j 3: d started before a ended"

rm -f "$RES"/*.start "$RES"/*.end
expect_status 0 "$CDX" run par.yml -j 1 --output quiet
# one at a time: sorted by start, each starts after the previous one ended
prev_end=0
for line in $(for j in a b c d; do echo "$(ts "$j" start):$j"; done | sort -n); do
	j=${line#*:}
	[ "$(ts "$j" start)" -ge "$prev_end" ] || fail "-j 1: $j started before the previous job ended"
	prev_end=$(ts "$j" end)
done
[ "$(ts d start)" -ge "$(ts a end)" ] || fail "-j 1: d started before a ended"
echo "t_run_basic: ok"
