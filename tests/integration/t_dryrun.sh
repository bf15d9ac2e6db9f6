#!/bin/sh
# t_dryrun.sh — cdx run --dry-run: the start order respects needs, the
# critical path line, the predicted makespan for -j 1 and -j 4, --json,
# -j forms, and running a pipeline by its registered name (--config,
# CDX_CONFIG, ./cdx.yml).  Predictions come from duration_hint, so
# nothing here depends on timing.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null 2>&1 || { echo "jq not installed (apt-get install jq)" >&2; exit 77; }

mkdir "$T/proj" "$T/proj/ci"
P="$T/proj/ci/plan.yml"
# weights: compile 4, docs 1, unit 2, lint 1, integration 3, tarball 1 (12 s)
# critical path: compile -> (build) -> integration -> (test) -> tarball = 8 s
cat >"$P" <<'EOF'
name: plan
stages:
  - name: build
    jobs:
      - {name: compile, script: make, duration_hint: 4s}
      - {name: docs, script: make docs, duration_hint: 1s}
  - name: test
    jobs:
      - {name: unit, script: make check, duration_hint: 2s, needs: [build/compile]}
      - {name: lint, script: make lint, duration_hint: 1s, needs: []}
      - {name: integration, script: make integration, duration_hint: 3s}
  - name: release
    jobs:
      - {name: tarball, script: make dist, duration_hint: 1s}
EOF
printf 'pipelines:\n  plan: ci/plan.yml\n' >"$T/proj/cdx.yml"

# ---- text output ---------------------------------------------------------
expect_status 0 "$CDX" run "$P" --dry-run -j 1
expect_contains "pipeline plan: 6 jobs in 3 stages, 3 levels, max parallelism 3"
expect_contains "start order on 1 workers (longest remaining path first):"
expect_contains "critical path (3 jobs, 8.00s): build/compile -> test/integration -> release/tarball"
expect_contains "total work 12.00s; lower bound 12.00s; predicted makespan 12.00s"
one=$OUT
# the order lines: "N  JOB  at S  path P  needs: ..."
printf '%s\n' "$one" | awk '$1 ~ /^[0-9]+$/ && $3 == "at" { print $2 }' >"$T/order1"
printf '%s\n' build/compile build/docs test/integration test/unit test/lint release/tarball >"$T/want"
diff "$T/want" "$T/order1" || fail "-j 1 start order differs"
printf '%s\n' "$one" | grep -q '^ *3  test/integration  *at    5.00s  path    4.00s  needs: build$' ||
	fail "-j 1: integration line: $one"
printf '%s\n' "$one" | grep -q '^ *4  test/unit  *at    8.00s  path    3.00s  needs: build/compile$' ||
	fail "-j 1: unit line: $one"

expect_status 0 "$CDX" run "$P" --dry-run -j 4
expect_contains "start order on 4 workers"
expect_contains "critical path (3 jobs, 8.00s): build/compile -> test/integration -> release/tarball"
expect_contains "total work 12.00s; lower bound 8.00s; predicted makespan 8.00s"
four=$OUT
printf '%s\n' "$four" | grep -q '^ *3  test/lint  *at    0.00s' || fail "-j 4: lint starts at once: $four"
printf '%s\n' "$four" | grep -q '^ *6  release/tarball  *at    7.00s' || fail "-j 4: tarball at 7 s: $four"

# -j forms agree; -n is --dry-run
for form in "-j4" "--jobs 4" "--jobs=4" "-n -j 4"; do
	# shellcheck disable=SC2086 # the form is split on purpose
	expect_status 0 "$CDX" run "$P" --dry-run $form
	[ "$OUT" = "$four" ] || fail "cdx run --dry-run $form differs from -j 4"
done
expect_status 0 "$CDX" run --dry-run -j 4 "$P" # options before the file
[ "$OUT" = "$four" ] || fail "options before the file give another plan"
for bad in 0 -1 abc 4097 ""; do
	expect_status 2 "$CDX" run "$P" --dry-run -j "$bad"
	expect_contains "-j needs a number from 1 to 4096"
done
expect_status 2 "$CDX" run "$P" --dry-run -j
expect_contains "option -j needs a value"
expect_status 2 "$CDX" run --dry-run
expect_contains "cdx run: name a pipeline file or a registered pipeline"
expect_status 2 "$CDX" run "$P" "$P" --dry-run
expect_contains "cdx run: unexpected argument"

# ---- order respects needs, on any number of workers ------------------------
for j in 1 2 3 4 8; do
	run_rc "$CDX" run "$P" --dry-run --json -j "$j" >"$T/plan.json"
	[ "$RC" -eq 0 ] || fail "--json -j $j: exit $RC"
	jq -e . "$T/plan.json" >/dev/null || fail "--json -j $j does not parse"
	# every job starts after each job it needs (directly or through a
	# stage) has finished, and appears after it in the order
	bad=$(jq -r '
		.order as $o
		| ($o | to_entries | map({key: .value.job, value: {i: .key, start: .value.start_s, end: (.value.start_s + .value.weight_s)}}) | from_entries) as $at
		| $o[] | . as $j | .needs[]
		| (if test("/") then [.] else (. as $s | [$o[].job | select(split("/")[0] == $s)]) end)[]
		| select($at[.].i >= $at[$j.job].i or $at[.].end > $j.start_s + 1e-9)
		| "\($j.job) starts before \(.) is done"' "$T/plan.json")
	[ -z "$bad" ] || fail "-j $j: $bad"
	[ "$(jq '.order | length' "$T/plan.json")" -eq 6 ] || fail "-j $j: not every job is in the order"
	[ "$(jq -r '[.order[].job] | unique | length' "$T/plan.json")" -eq 6 ] || fail "-j $j: a job twice"
	[ "$(jq '.workers' "$T/plan.json")" -eq "$j" ] || fail "-j $j: workers"
done

# ---- --json --------------------------------------------------------------
expect_status 0 "$CDX" run "$P" --dry-run --json -j 4
printf '%s\n' "$OUT" >"$T/plan.json"
jq -e . "$T/plan.json" >/dev/null || fail "--json does not parse"
check() { expect_jq "$T/plan.json" "$@"; } # check JQ-FILTER EXPECTED
check '.pipeline' '"plan"'
check '[.jobs, .stages, .workers, .levels, .max_parallelism]' '[6,3,4,3,3]'
check '[.total_work_s, .critical_path_s, .lower_bound_s, .predicted_makespan_s]' '[12,8,8,8]'
check '.critical_path' '["build/compile","test/integration","release/tarball"]'
check '.order[0]' '{"job":"build/compile","level":1,"weight_s":4,"priority_s":8,"start_s":0,"needs":[]}'
check '[.order[] | select(.job == "test/integration") | .needs]' '[["build"]]'
check '[.order[] | select(.job == "release/tarball") | .start_s]' '[7]'
check '[.order[].job]' '["build/compile","build/docs","test/lint","test/integration","test/unit","release/tarball"]'
expect_status 0 "$CDX" run "$P" --dry-run --json -j 1
printf '%s\n' "$OUT" >"$T/plan.json"
check '.predicted_makespan_s' '12'
check '.lower_bound_s' '12'

# without hints every job weighs 1 s; a corpus file for good measure
expect_status 0 "$CDX" run "$DATA/valid/needs.yml" --dry-run --json -j 3
printf '%s\n' "$OUT" >"$T/plan.json"
check '[.jobs, .levels, .critical_path_s, .predicted_makespan_s]' '[8,4,4,4]'
check '.critical_path' '["fetch/sources","build/compile","test/unit","release/tarball"]'

# a pipeline with problems: the diagnostics, exit 2, no plan
printf 'stages:\n  - name: s\n    jobs: [{name: j, script: x, needs: [s/k]}]\n' >"$T/bad.yml"
run_rc "$CDX" run "$T/bad.yml" --dry-run >"$T/out" 2>"$T/err"
[ "$RC" -eq 2 ] || fail "bad pipeline: exit $RC"
[ ! -s "$T/out" ] || fail "bad pipeline: a plan was printed"
grep -q "bad.yml:3:41: unknown job 's/k' in needs (did you mean 's/j'?)" "$T/err" || fail "bad pipeline: $(cat "$T/err")"

# ---- by registered name ------------------------------------------------------
expect_status 0 sh -c "cd / && '$CDX' --config '$T/proj/cdx.yml' run plan --dry-run -j 4"
[ "$OUT" = "$four" ] || fail "by name with --config: another plan: $OUT"
expect_status 0 sh -c "cd / && '$CDX' run plan --dry-run -j 4 --config='$T/proj/cdx.yml'"
[ "$OUT" = "$four" ] || fail "by name with --config= after the command: $OUT"
expect_status 0 sh -c "cd / && CDX_CONFIG='$T/proj/cdx.yml' '$CDX' run plan --dry-run -j 4"
[ "$OUT" = "$four" ] || fail "by name with CDX_CONFIG: $OUT"
expect_status 0 sh -c "cd '$T/proj' && '$CDX' run plan --dry-run -j 4"
[ "$OUT" = "$four" ] || fail "by name with ./cdx.yml: $OUT"
expect_status 2 sh -c "cd / && '$CDX' --config '$T/proj/cdx.yml' run nope --dry-run"
expect_contains "cdx: run: no file 'nope' and no pipeline 'nope' registered in $T/proj/cdx.yml"
expect_status 2 sh -c "cd '$T' && '$CDX' run plan --dry-run"
expect_contains "cdx: run: no file 'plan' and no project file cdx.yml to look it up in"
# a file name wins over a registered name
expect_status 2 sh -c "cd '$T' && '$CDX' --config '$T/proj/cdx.yml' run missing.yml --dry-run"
expect_contains "missing.yml: cannot open missing.yml: No such file or directory"
exit 0
