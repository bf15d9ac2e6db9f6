#!/bin/sh
# t_optimize.sh — `cdx optimize` as a user runs it: the report, --json read
# with jq, the three levels, the optimized file (it validates, names the
# same jobs, runs them, and a job that reads what another writes still
# runs after it), weights and resources from the history of real runs,
# `cdx run --optimize`, `cdx run --shuffle` (reproducible for a seed, and
# it exposes a forgotten need), and the errors of bad input (exit 2,
# FILE:LINE:COL).
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
mkdir src doc

# compile writes build/app, which unit reads; style reads only src/; smoke
# declares nothing; tarball reads all of build/
cat >ci.yml <<'EOF'
name: ci
stages:
  - name: build
    jobs:
      - name: compile
        script: mkdir -p build && sleep 0.3 && echo app >build/app
        duration_hint: 3s
        inputs: [src/]
        outputs: [build/app]
      - {name: docs, script: "mkdir -p build/doc && echo doc >build/doc/index", duration_hint: 1s, inputs: [doc/], outputs: [build/doc/]}
  - name: test
    jobs:
      - {name: unit, script: "test -f build/app && sleep 0.1", duration_hint: 2s, inputs: [build/app], outputs: []}
      - {name: style, script: "sleep 0.2", duration_hint: 3s, inputs: [src/], outputs: []}
      - {name: smoke, script: "true", duration_hint: 1s}
  - name: release
    jobs:
      - {name: tarball, script: "test -f build/app && test -f build/doc/index && mkdir -p dist", duration_hint: 1s, inputs: [build/], outputs: [dist/]}
EOF

jobs_of() { "$CDX" run "$1" --dry-run --json -j 2 | jq -r '.order[].job' | sort; }

# ---- the report ------------------------------------------------------------
expect_status 0 "$CDX" optimize ci.yml -j 2
expect_contains "pipeline ci: 6 jobs in 3 stages; level moderate; 2 workers"
expect_contains "weights: 0 from history, 6 from duration_hint"
expect_contains "critical path: build/compile -> test/style -> release/tarball"
expect_contains "test/unit: added need build/compile: test/unit reads build/app, which build/compile writes"
expect_contains "test/style: removed need build:"
expect_contains "(write the optimized pipeline with -o FILE)"
expect_not_contains "UNSAFE"
[ ! -e build ] || fail "cdx optimize ran something"

# ---- --json and the optimized file ------------------------------------------
expect_status 0 "$CDX" optimize ci.yml --workers 2 --level moderate -o opt.yml --json
printf '%s\n' "$OUT" >opt.json
[ "$(jq -r .level opt.json)" = moderate ] || fail "level: $(jq .level opt.json)"
[ "$(jq -r .output opt.json)" = opt.yml ] || fail "output: $(jq .output opt.json)"
jq -e '.predicted_makespan_after_s < .predicted_makespan_before_s' opt.json >/dev/null ||
	fail "moderate predicts no gain: $(jq -c '[.predicted_makespan_before_s, .predicted_makespan_after_s]' opt.json)"
jq -e '.speedup > 1 and .lower_bound_s > 0 and .workers == 2' opt.json >/dev/null || fail "speedup, bound, workers"
jq -e '.edges | length > 0 and all(.reason | length > 0) and all(.unsafe == false)' opt.json >/dev/null ||
	fail "edges: $(jq -c .edges opt.json)"
jq -e '.before.critical_path == ["build/compile", "test/style", "release/tarball"]' opt.json >/dev/null ||
	fail "critical path: $(jq -c .before.critical_path opt.json)"
jq -e '.before | has("total_work_s") and has("useful_parallelism") and has("barrier_idle_s")
	and has("bounding_jobs") and has("makespan_by_workers") and has("workers_knee")' opt.json >/dev/null ||
	fail "analysis fields missing: $(jq -c '.before | keys' opt.json)"
jq -e '.suggestions | type == "array" and length > 0' opt.json >/dev/null || fail "no suggestions"
jq -j .yaml opt.json | cmp - opt.yml || fail "-o wrote something else than .yaml"
grep -q '^# optimized by cdx optimize --level moderate from ci.yml' opt.yml || fail "no header in opt.yml"
grep -q '# added build/compile: test/unit reads build/app' opt.yml || fail "no reason comment in opt.yml"

expect_status 0 "$CDX" validate opt.yml
expect_contains "opt.yml: ok (pipeline ci, 3 stages, 6 jobs)"
jobs_of ci.yml >jobs.before
jobs_of opt.yml >jobs.after
cmp jobs.before jobs.after || fail "the optimized file names other jobs"

# it runs the same jobs, and unit still finds build/app
expect_status 0 "$CDX" run opt.yml -j 2 --output quiet
expect_contains "ci success"
expect_contains "6 passed, 0 failed"
rm -rf build dist
expect_status 0 "$CDX" run ci.yml -j 2 --output quiet
rm -rf build dist

# ---- history: weights and resources of the runs above ---------------------
expect_status 0 "$CDX" optimize ci.yml -j 2 --json
printf '%s\n' "$OUT" >hist.json
jq -e '.before.weights_from.history == 6' hist.json >/dev/null ||
	fail "weights not from history: $(jq -c .before.weights_from hist.json)"
jq -e '.resources["build/compile"] | .samples == 2 and .wall_s > 0.25 and .wall_s < 5
	and (.cpu_share | type) == "number" and .maxrss_mib > 0' hist.json >/dev/null ||
	fail "resources: $(jq -c '.resources["build/compile"]' hist.json)"
expect_status 0 "$CDX" optimize ci.yml -j 2
expect_contains "weights: 6 from history"
expect_contains "resources (median of recent successful attempts):"

# ---- levels ------------------------------------------------------------------
expect_status 0 "$CDX" optimize ci.yml -j 2 --level conservative --json
printf '%s\n' "$OUT" | jq -e '.edges == [] and .speedup == 1' >/dev/null || fail "conservative changed the graph"
expect_status 0 "$CDX" optimize ci.yml -j 2 --level=aggressive -o aggr.yml --json
printf '%s\n' "$OUT" >aggr.json
jq -e '.edges_unsafe > 0 and any(.edges[]; .unsafe and (.reason | startswith("unsafe")))' aggr.json >/dev/null ||
	fail "aggressive lists no unsafe edge: $(jq -c .edges aggr.json)"
jq -e '.predicted_makespan_after_s <= (input | .predicted_makespan_after_s)' aggr.json opt.json >/dev/null ||
	fail "aggressive predicts worse than moderate"
expect_status 0 "$CDX" validate aggr.yml
expect_status 0 "$CDX" optimize ci.yml -j 2 --level aggressive
expect_contains "UNSAFE test/smoke: removed need build"
# tarball reads build/: even aggressive keeps it after compile and docs
expect_status 0 "$CDX" run aggr.yml -j 2 --output quiet
rm -rf build dist
expect_status 0 "$CDX" optimize ci.yml -o - --level conservative
printf '%s\n' "$OUT" | head -1 | grep -q '^# optimized by cdx optimize --level conservative' ||
	fail "-o - did not print the file alone: $OUT"

# ---- cdx run --optimize ---------------------------------------------------------
expect_status 0 "$CDX" run ci.yml -j 2 --optimize moderate --output quiet
expect_contains "cdx run: --optimize moderate: 5 edges rewritten (0 unsafe); predicted makespan on 2 workers"
expect_contains "6 passed"
rm -rf build dist
expect_status 0 "$CDX" run ci.yml -j 2 --optimize=aggressive --dry-run
expect_contains "--optimize aggressive:"
expect_contains "test/smoke  "
printf '%s\n' "$OUT" | grep -q 'test/smoke .*needs: -$' || fail "aggressive plan keeps smoke's barrier: $OUT"
expect_status 2 "$CDX" run ci.yml --optimize fast
expect_contains "--optimize must be conservative, moderate or aggressive, not 'fast'"

# ---- bad input -------------------------------------------------------------------
expect_status 2 "$CDX" optimize missing.yml
expect_contains "missing.yml"
printf 'stages:\n  - name: a\n    jobs:\n      - {name: x, script: y, needs: [a/z]}\n' >bad.yml
expect_status 2 "$CDX" optimize bad.yml
expect_contains "bad.yml:4:"
expect_contains "unknown job 'a/z' in needs"
expect_status 2 "$CDX" optimize ci.yml --level fast
expect_contains "--level must be conservative, moderate or aggressive, not 'fast'"
for bad in 0 -3 x ""; do
	expect_status 2 "$CDX" optimize ci.yml --workers "$bad"
	expect_contains "--workers needs a number from 1 to 4096"
done
expect_status 2 "$CDX" optimize ci.yml --frobnicate
expect_contains "unknown option --frobnicate"
expect_status 2 "$CDX" optimize
expect_contains "name a pipeline file"
expect_status 2 "$CDX" optimize ci.yml ci.yml
expect_contains "unexpected argument"
expect_status 2 "$CDX" optimize ci.yml -o no/such/dir/out.yml
expect_contains "cannot write no/such/dir/out.yml"
expect_status 0 "$CDX" optimize --help
expect_contains "usage: cdx optimize FILE|NAME"
expect_status 0 "$CDX" help optimize
expect_contains "--level LEVEL"

# ---- cdx run --shuffle --------------------------------------------------------
cat >order.yml <<'EOF'
name: order
stages:
  - name: s
    jobs:
      - {name: a, script: "echo a >>order.txt"}
      - {name: b, script: "echo b >>order.txt"}
      - {name: c, script: "echo c >>order.txt"}
      - {name: d, script: "echo d >>order.txt"}
      - {name: e, script: "echo e >>order.txt"}
      - {name: f, script: "echo f >>order.txt"}
EOF
order() {
	rm -f order.txt
	expect_status 0 "$CDX" run order.yml -j 1 --output quiet "$@"
	tr -d '\n' <order.txt
}
plain=$(order)
[ "$plain" = abcdef ] || fail "equal weights start in file order, not $plain"
one=$(order --shuffle 1)
[ "$one" = "$(order --shuffle 1)" ] || fail "--shuffle 1 twice gave two orders"
orders=$one
for seed in 2 3 4 5 6; do
	orders="$orders $(order --shuffle=$seed)"
done
# shellcheck disable=SC2086 # one order a word
n=$(printf '%s\n' $orders | sort -u | wc -l)
[ "$n" -ge 3 ] || fail "six seeds gave only $n orders: $orders"
# shellcheck disable=SC2086 # one order a word
printf '%s\n' $orders | grep -qv '^abcdef$' || fail "no seed changed the order: $orders"
expect_status 0 "$CDX" runs order --json
printf '%s\n' "$OUT" | jq -e '.[0].shuffle_seed == 6' >/dev/null || fail "the run record has no shuffle_seed: $OUT"
expect_status 2 "$CDX" run order.yml --shuffle abc
expect_contains "--shuffle needs a whole number as its seed, not 'abc'"
expect_status 2 "$CDX" run order.yml --shuffle -1
expect_status 2 "$CDX" run order.yml --shuffle 3 --dry-run
expect_contains "--shuffle orders a real run"

# a forgotten need: use reads what make writes, in the same stage; in file
# order it passes, some seed makes it fail
cat >forgot.yml <<'EOF'
name: forgot
stages:
  - name: s
    jobs:
      - {name: make, script: "echo x >made"}
      - {name: use, script: "test -f made"}
EOF
expect_status 0 "$CDX" run forgot.yml -j 1 --output quiet
failed=
for seed in 1 2 3 4 5 6 7 8; do
	rm -f made
	run_rc "$CDX" run forgot.yml -j 1 --output quiet --shuffle "$seed" >/dev/null 2>&1
	if [ "$RC" -eq 1 ]; then failed=$seed; break; fi
	[ "$RC" -eq 0 ] || fail "--shuffle $seed: exit $RC"
done
[ -n "$failed" ] || fail "no seed of 1..8 ran use before make"
rm -f made
expect_status 1 "$CDX" run forgot.yml -j 1 --output quiet --shuffle "$failed"
echo "ok"
