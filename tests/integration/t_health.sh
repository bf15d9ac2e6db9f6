#!/bin/sh
# t_health.sh — `cdx health`, `$(cdx-health)`, `cdx monitor` and `cdx
# metrics` on real runs: unknown without runs, healthy, degraded by the
# latest failure and by a slowdown against the previous window, failing
# after consecutive failures; flaky jobs (passed only on retry); the last
# failure with its log tail; thresholds and their FILE:LINE:COL errors in
# cdx.yml; --check; monitor --follow sees a run made by another process;
# metrics in valid Prometheus text exposition.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "python3 not installed" >&2; exit 77; }
cd "$T"
unset CDX_STATE

cat >hp.yml <<'EOF'
name: hp
variables: {NAP: "0.05"}
stages:
  - name: build
    jobs:
      - {name: compile, script: 'sleep "$NAP"; echo compiled'}
  - name: test
    jobs:
      - name: unit
        retry: 1
        script: |
          echo "unit output line"
          if [ -f "$T/broken" ]; then echo "assertion failed: 1 != 2" >&2; exit 4; fi
          if [ -f "$T/flaky" ] && [ "$CDX_ATTEMPT" = 1 ]; then exit 9; fi
          true
EOF
cat >cdx.yml <<'EOF'
pipelines: {hp: hp.yml}
monitoring:
  window: 5
  thresholds: {consecutive_failures: 3, slowdown: 2}
EOF
export T

# ---- nothing recorded: unknown ------------------------------------------------
expect_status 0 "$CDX" health hp
expect_contains "hp: unknown"
expect_status 1 "$CDX" health hp --check
printf 'load %s\nall: ; @echo "health=$(cdx-health hp)"\n' "$CDX_SO" >Makefile
expect_status 0 run_make -s
expect_contains "health=unknown"

# ---- healthy --------------------------------------------------------------------
for i in 1 2 3; do expect_status 0 "$CDX" run hp; done
expect_status 0 "$CDX" health hp --check
expect_contains "hp: healthy"
expect_status 0 "$CDX" health hp --json
printf '%s' "$OUT" | jq -e '.status == "healthy" and .runs == 3 and .success_rate == 1 and .window == 5
	and .duration_ms.p50 > 0 and .duration_ms.p95 >= .duration_ms.p50 and .last_failure == null
	and .flaky_jobs == [] and (.slowest_jobs | length) == 2 and .thresholds.consecutive_failures == 3' >/dev/null ||
	fail "health json: $OUT"
expect_status 0 run_make -s
expect_contains "health=healthy"

# ---- flaky: passed only on retry ------------------------------------------------
touch flaky
expect_status 0 "$CDX" run hp
rm flaky
expect_status 0 "$CDX" health hp --json
printf '%s' "$OUT" | jq -e '.flaky_jobs[0].job == "test/unit" and .flaky_jobs[0].passed_on_retry == 1' >/dev/null ||
	fail "no flaky job: $OUT"
expect_status 0 "$CDX" health hp
expect_contains "flaky     test/unit: passed only on retry"

# ---- degraded, then failing, with the last failure's log --------------------------
touch broken
expect_status 1 "$CDX" run hp
expect_status 1 "$CDX" health hp --check
expect_contains "hp: degraded"
expect_contains "the latest run failed"
expect_status 1 "$CDX" run hp
expect_status 1 "$CDX" run hp
expect_status 0 "$CDX" health hp
expect_contains "hp: failing"
expect_contains "the last 3 runs failed"
expect_contains "last failure: run "
expect_contains "test/unit failed, exit 4 (attempt 2)"
expect_contains "| assertion failed: 1 != 2"
expect_status 0 "$CDX" health hp --json
printf '%s' "$OUT" | jq -e '.status == "failing" and .consecutive_failures == 3 and .runs == 5 and .succeeded == 2
	and (.last_failure.jobs[0].log_tail | test("assertion failed")) and .last_failure.jobs[0].exit_code == 4' >/dev/null ||
	fail "failing json: $OUT"
expect_status 0 run_make -s
expect_contains "health=failing"
# a wider window judges by more runs
expect_status 0 "$CDX" health hp --window 8 --json
printf '%s' "$OUT" | jq -e '.runs == 7 and .window == 8' >/dev/null || fail "--window 8: $OUT"
expect_status 2 "$CDX" health hp --window 0
expect_status 2 "$CDX" health 'no/such'

# ---- slowdown against the previous window ------------------------------------------
rm broken
for i in 1 2; do expect_status 0 "$CDX" run hp; done
expect_status 0 "$CDX" health hp --window 2 --json
printf '%s' "$OUT" | jq -e '.status == "healthy" and .trend.previous_runs == 2' >/dev/null || fail "before slowdown: $OUT"
for i in 1 2; do expect_status 0 "$CDX" run hp --var NAP=0.8; done
expect_status 0 "$CDX" health hp --window 2
expect_contains "hp: degraded"
expect_contains "over 2 x the previous window"
expect_status 0 "$CDX" health hp --window 2 --json
printf '%s' "$OUT" | jq -e '.trend.direction == "worse" and .trend.mean_change > 1' >/dev/null || fail "trend: $OUT"

# ---- thresholds: errors at FILE:LINE:COL ---------------------------------------------
mkdir bad
cat >bad/cdx.yml <<'EOF'
pipelines: {hp: ../hp.yml}
monitoring:
  window: 0
  thresholds: {healthy: 0.5, failing: 0.8, slowdwn: 2}
  alerts:
    - {when: success_rate < 2}
    - {when: p95 > 2x baseline, notfy: x}
EOF
expect_status 2 "$CDX" validate bad/cdx.yml
expect_contains "bad/cdx.yml:3:11: window must be from 1 to 1000, not 0"
expect_contains "bad/cdx.yml:4:44: unknown key 'slowdwn' in thresholds (did you mean 'slowdown'?)"
expect_contains "bad/cdx.yml:4:39: thresholds: failing (0.8) must not be above healthy (0.5)"
expect_contains "bad/cdx.yml:6:14: alert condition 'success_rate < 2' is not one of"
expect_contains "bad/cdx.yml:7:33: unknown key 'notfy' in alert (did you mean 'notify'?)"
expect_status 2 "$CDX" --config bad/cdx.yml health hp
expect_contains "bad/cdx.yml:3:11"

# ---- monitor: the recent runs, and --follow sees another process's run ---------------
expect_status 0 "$CDX" monitor hp --window 2
expect_contains "job    success   build/compile"
expect_contains "success in"
"$CDX" monitor hp --follow --window 1 >mon.out 2>&1 &
mon=$!
i=0
until grep -q -- '-- following hp' mon.out; do i=$((i + 1)); [ "$i" -lt 100 ] || fail "monitor did not start: $(cat mon.out)"; sleep 0.05; done
expect_status 0 "$CDX" run hp
rid=$(jq -r 'select(.rec.t == "run") | .rec.id' .cdx/journal.jsonl | tail -n 1)
i=0
until grep -q "run    $rid success" mon.out; do i=$((i + 1)); [ "$i" -lt 100 ] || fail "monitor did not see run $rid: $(cat mon.out)"; sleep 0.05; done
kill -TERM "$mon"
wait "$mon" || fail "monitor --follow did not exit 0 on SIGTERM"
grep -q "run    $rid started" mon.out || fail "no start of $rid: $(cat mon.out)"
grep -q "job    success   test/unit" mon.out || fail "no job event: $(cat mon.out)"

# ---- metrics: Prometheus text exposition ------------------------------------------------
expect_status 0 "$CDX" metrics --prometheus
printf '%s\n' "$OUT" >metrics.txt
python3 - <<'EOF' || fail "metrics are not valid exposition text: $(cat metrics.txt)"
import re
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
sample = re.compile(r"^(%s)(\{(%s=\"([^\"\\]|\\.)*\")(,%s=\"([^\"\\]|\\.)*\")*\})? -?[0-9.e+]+$" % (name, name, name))
types, seen = {}, {}
for line in open("metrics.txt").read().splitlines():
    if not line:
        continue
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        if line.startswith("# TYPE "):
            _, _, n, t = line.split(" ", 3)
            assert t in ("counter", "gauge", "histogram"), line
            assert n not in types, ("TYPE twice", n)
            types[n] = t
        continue
    assert sample.match(line), line
    m = re.match(name, line).group(0)
    base = re.sub(r"_(bucket|sum|count)$", "", m)
    assert m in types or base in types, ("sample before its TYPE", line)
    seen[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
assert seen['cdx_runs_total{pipeline="hp",status="success"}'] == 9, seen
assert seen['cdx_runs_total{pipeline="hp",status="failed"}'] == 3, seen
assert seen['cdx_jobs_total{pipeline="hp",job="test/unit",status="failed"}'] == 3, seen
# histogram buckets are cumulative and end at the count
b = [(k, v) for k, v in seen.items() if k.startswith("cdx_run_duration_seconds_bucket")]
vals = [v for k, v in b]
assert vals == sorted(vals) and b[-1][0].endswith('le="+Inf"}'), b
assert b[-1][1] == seen['cdx_run_duration_seconds_count{pipeline="hp"}'] == 12, b
EOF
expect_status 0 "$CDX" metrics
expect_contains 'cdx_runs_total{pipeline="hp",status="success"} 9'
expect_not_contains "# TYPE"
echo "t_health: ok"
