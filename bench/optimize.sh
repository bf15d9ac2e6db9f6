# optimize.sh — the optimizer benchmark (sourced by run.sh).
#
# (a) Scheduling quality, simulated.  Four DAG families with known
#     durations (duration_hint), generated here with a fixed seed:
#       layered    6 layers of 10 jobs, each needing 2 jobs of the layer
#                  before, skewed durations (0.1 to 5 s)
#       fork-join  3 rounds of a source, 8 branches of 1 to 4 jobs, a join
#       chain+fan  30 short independent jobs listed first, then a chain of
#                  10 jobs of 1 to 2 s listed last
#       stages     GitLab-style: 5 stages of 4, 10, 6, 8 and 3 jobs, each
#                  stage waiting for the one before (implicit barriers),
#                  the longest job of each stage listed last
#     For P in 2, 4, 8, 16, `cdx optimize --json --workers P` gives the
#     makespan of list scheduling in declared (file) order — what a plain
#     `make -j` that follows the file does —, the makespan in cdx's order
#     (longest remaining path first, the rule of cdx run and the make
#     module), and the lower bound max(critical path, total work / P).
#     Target: over the rows where declared/bound >= 1.2, the mean of
#     cdx/bound at most 1.05.
# (b) A real run: bench/data/het60.yml (60 jobs of `sleep`, a long chain
#     listed last) on 2 workers under `make -j2` with plain rules in
#     declared order (yml2mk.sh), `make -j2 het60` with `$(cdx-pipeline)`,
#     and `cdx run -j2`, each as a ratio to the lower bound of
#     `cdx optimize --workers 2` (duration_hints, fresh stores).  Reference
#     figures, no target here (executor and make_module hold theirs).
# (c) Moderate on a stage-barrier pipeline: 10 `sleep` jobs in 4 stages
#     that declare inputs and outputs.  `cdx optimize --level moderate
#     --workers 2` predicts a speedup; the original and the optimized file
#     then run under `cdx run -j 2` (fresh stores, so both are weighed by
#     their duration_hint) and the measured speedup is the ratio of their
#     wall times.  Target: |measured / predicted - 1| at most 10%.
# (b) and (c) take the best of BENCH_RUNS runs (default 2 here), about a
# minute and a half in all; (a) runs nothing but cdx optimize.
# shellcheck shell=sh disable=SC2154,SC2016 # set by lib.sh and bench_target; make text in single quotes

bench_optimize() {
	cdx=$(cd "$(dirname "$CDX")" && pwd)/cdx
	echo "optimize: load average at start $(bench_load)"
	opt_quality
	echo
	opt_het60
	echo
	opt_moderate
}

# opt_family NAME SEED: a pipeline of family NAME on standard output
opt_family() {
	awk -v fam="$1" -v seed="$2" '
	# Park-Miller: the same numbers under every awk
	function u() { seed = (seed * 16807) % 2147483647; return seed / 2147483647 }
	function skew(lo, hi) { return int(lo + (hi - lo) * u() ^ 3) }
	function job(name, ms, needs) {
		printf "      - {name: %s, script: \"true\", duration_hint: %dms%s}\n", name, ms,
		       needs == "-" ? "" : ", needs: [" needs "]"
	}
	BEGIN {
		for (i = 0; i < 5; i++) u()
		printf "name: %s\nstages:\n", fam
		if (fam == "layered") {
			for (l = 0; l < 6; l++) {
				printf "  - name: l%d\n    jobs:\n", l
				for (j = 0; j < 10; j++) {
					needs = ""
					if (l > 0) {
						a = int(u() * 10); b = (a + 1 + int(u() * 9)) % 10
						needs = sprintf("l%d/j%d, l%d/j%d", l - 1, a, l - 1, b)
					}
					job("j" j, skew(100, 5000), needs)
				}
			}
		} else if (fam == "forkjoin") {
			for (r = 0; r < 3; r++) {
				printf "  - name: r%d\n    jobs:\n", r
				job("src", 500, r ? sprintf("r%d/join", r - 1) : "")
				last = ""
				for (b = 0; b < 8; b++) {
					n = 1 + int(u() * 4)
					prev = sprintf("r%d/src", r)
					for (k = 0; k < n; k++) {
						job("b" b "_" k, skew(200, 3000), prev)
						prev = sprintf("r%d/b%d_%d", r, b, k)
					}
					last = last (b ? ", " : "") prev
				}
				job("join", 500, last)
			}
		} else if (fam == "chainfan") {
			printf "  - name: s\n    jobs:\n"
			for (j = 0; j < 30; j++)
				job("f" j, skew(100, 1500), "")
			for (k = 0; k < 10; k++)
				job("c" k, 1000 + int(u() * 1000), k ? "s/c" (k - 1) : "")
		} else {
			split("4 10 6 8 3", width, " ")
			for (s = 1; s <= 5; s++) {
				printf "  - name: st%d\n    jobs:\n", s
				for (j = 0; j < width[s]; j++)
					ms[j] = skew(100, 6000)
				# ascending: the longest job of each stage listed last
				for (j = 1; j < width[s]; j++)
					for (k = j; k > 0 && ms[k - 1] > ms[k]; k--) { t = ms[k]; ms[k] = ms[k - 1]; ms[k - 1] = t }
				for (j = 0; j < width[s]; j++)
					job("j" j, ms[j], "-")
			}
		}
	}'
}

opt_quality() {
	d="$W/optimize-quality"
	mkdir -p "$d"
	: >"$d/rows"
	echo "optimize (a): scheduling quality, simulated (cdx optimize --json --workers P; durations are duration_hints)"
	printf '%-10s %4s %10s %10s %10s %10s %10s\n' family P "bound (s)" "declared" "cdx" "decl/bound" "cdx/bound"
	for fam in layered forkjoin chainfan stages; do
		opt_family "$fam" 4242 >"$d/$fam.yml"
		"$cdx" validate "$d/$fam.yml" >/dev/null
		for P in 2 4 8 16; do
			"$cdx" --state "file:$d/none" optimize "$d/$fam.yml" --level conservative --workers "$P" --json >"$d/$fam.$P.json"
			lb=$(bench_json_num "$d/$fam.$P.json" lower_bound_s)
			dec=$(bench_json_num "$d/$fam.$P.json" declared_order_makespan_s)
			cdxm=$(bench_json_num "$d/$fam.$P.json" predicted_makespan_before_s)
			awk -v f="$fam" -v P="$P" -v lb="$lb" -v dec="$dec" -v c="$cdxm" 'BEGIN {
				printf "%-10s %4d %10.2f %10.2f %10.2f %10.3f %10.3f\n", f, P, lb, dec, c, dec / lb, c / lb }' |
				tee -a "$d/rows"
		done
	done
	[ ! -e "$d/none" ] || { echo "bench: cdx optimize created a store" >&2; exit 1; }
	# shellcheck disable=SC2046 # two words
	set -- $(awk '$6 >= 1.2 { n++; s += $7 } END { printf "%d %.3f\n", n, (n ? s / n : 0) }' "$d/rows")
	nrows=$1 mean=$2
	if [ "$nrows" -eq 0 ]; then
		echo "no row has declared/bound >= 1.2: nothing to hold the target to"
		return
	fi
	bench_target optimize-quality "$mean" 1.05 "mean cdx/bound over the $nrows rows with declared/bound >= 1.2"
	echo "mean cdx/bound over the $nrows rows where declared/bound >= 1.2: ${mean} (target <= 1.05: $met);" \
		"over all rows: $(awk '{ s += $7; n++ } END { printf "%.3f", s / n }' "$d/rows")"
}

opt_het60() {
	h="$W/optimize-het60"
	so=$(cd "$(dirname "$CDX")" && pwd)/cdx.so
	mkdir -p "$h"
	cp "$BENCH/data/het60.yml" "$h/het60.yml"
	sh "$BENCH/yml2mk.sh" "$h/het60.yml" >"$h/het60.mk"
	printf 'load %s\n$(cdx-pipeline het60.yml)\n' "$so" >"$h/het60-so.mk"
	"$cdx" --state "file:$h/none" optimize "$h/het60.yml" --workers 2 --json >"$h/opt.json"
	lb=$(bench_json_num "$h/opt.json" lower_bound_s)
	pred=$(bench_json_num "$h/opt.json" predicted_makespan_before_s)
	dec=$(bench_json_num "$h/opt.json" declared_order_makespan_s)
	has_load=yes
	make -p -f /dev/null 2>/dev/null | grep '^\.FEATURES' | grep -qw load || has_load=no
	[ -r "$so" ] || has_load=no
	runs=$(bench_runs 2)
	i=0
	while [ "$i" -lt "$runs" ]; do
		bench_measure "$h/make.log" -o /dev/null -C "$h" -- make -j2 -f het60.mk all
		if [ "$has_load" = yes ]; then
			st="$h/state.so.$i"
			export CDX_STATE="file:$st"
			bench_measure "$h/so.log" -o /dev/null -C "$h" -- make -j2 -f het60-so.mk het60
			unset CDX_STATE
			bench_watchers "$st"
			bench_check_run "$st" 60 optimize-het60-make-record
		fi
		st="$h/state.run.$i"
		bench_measure "$h/run.log" -o /dev/null -C "$h" -- "$cdx" --state "file:$st" run het60.yml -j 2 --output quiet
		bench_check_run "$st" 60 optimize-het60-run-record
		i=$((i + 1))
	done
	echo "optimize (b): het60 (60 sleep jobs) on 2 workers; best of $runs runs; lower bound $lb s;" \
		"simulated: declared order ${dec} s, cdx order ${pred} s"
	bench_header2 "x bound"
	bench_row2 "make -j2 (plain, declared order)" "$h/make.log" "$lb"
	if [ "$has_load" = yes ]; then
		bench_row2 "make -j2 het60 (\$(cdx-pipeline))" "$h/so.log" "$lb"
	else
		echo "make -j2 het60 (\$(cdx-pipeline))          skipped: this make cannot load cdx.so"
	fi
	bench_row2 "cdx run -j2" "$h/run.log" "$lb"
}

# a stage-barrier pipeline whose jobs declare what they read and write
opt_barrier_yml() {
	cat <<'EOF'
name: barrier
stages:
  - name: build
    jobs:
      - {name: compile, script: "sleep 2.4", duration_hint: 2.4s, inputs: [src/], outputs: [build/app]}
      - {name: lint, script: "sleep 0.8", duration_hint: 0.8s, inputs: [src/], outputs: []}
      - {name: docs, script: "sleep 0.6", duration_hint: 0.6s, inputs: [doc/], outputs: [build/doc/]}
  - name: test
    jobs:
      - {name: unit, script: "sleep 1.2", duration_hint: 1.2s, inputs: [build/app], outputs: []}
      - {name: style, script: "sleep 2.0", duration_hint: 2.0s, inputs: [src/], outputs: []}
      - {name: spell, script: "sleep 0.3", duration_hint: 0.3s, inputs: [doc/], outputs: []}
  - name: package
    jobs:
      - {name: tarball, script: "sleep 0.6", duration_hint: 0.6s, inputs: [build/app], outputs: [dist/app.tar]}
      - {name: manual, script: "sleep 1.5", duration_hint: 1.5s, inputs: [build/doc/], outputs: [dist/manual.pdf]}
  - name: publish
    jobs:
      - {name: upload, script: "sleep 0.4", duration_hint: 0.4s, inputs: [dist/], outputs: []}
      - {name: site, script: "sleep 1.0", duration_hint: 1.0s, inputs: [build/doc/], outputs: [site/]}
EOF
}

opt_moderate() {
	m="$W/optimize-moderate"
	mkdir -p "$m"
	opt_barrier_yml >"$m/barrier.yml"
	"$cdx" --state "file:$m/none" optimize "$m/barrier.yml" --level moderate --workers 2 -o "$m/opt.yml" --json >"$m/opt.json"
	"$cdx" validate "$m/opt.yml" >/dev/null
	before=$(bench_json_num "$m/opt.json" predicted_makespan_before_s)
	after=$(bench_json_num "$m/opt.json" predicted_makespan_after_s)
	pred=$(bench_json_num "$m/opt.json" speedup)
	edges=$(bench_json_num "$m/opt.json" edges_rewritten)
	unsafe=$(bench_json_num "$m/opt.json" edges_unsafe)
	runs=$(bench_runs 2)
	i=0
	while [ "$i" -lt "$runs" ]; do
		st="$m/state.orig.$i"
		bench_measure "$m/orig.log" -o /dev/null -C "$m" -- "$cdx" --state "file:$st" run barrier.yml -j 2 --output quiet
		bench_check_run "$st" 10 optimize-moderate-record
		st="$m/state.opt.$i"
		bench_measure "$m/opt.log" -o /dev/null -C "$m" -- "$cdx" --state "file:$st" run opt.yml -j 2 --output quiet
		bench_check_run "$st" 10 optimize-moderate-record
		i=$((i + 1))
	done
	# shellcheck disable=SC2046 # three words each
	set -- $(bench_best "$m/orig.log") $(bench_best "$m/opt.log")
	meas=$(bench_ratio3 "$1" "$4")
	dev=$(awk -v a="$meas" -v b="$pred" 'BEGIN { d = a / b - 1; if (d < 0) d = -d; printf "%.3f", d }')
	bench_target optimize-moderate "$dev" 0.10 "moderate: measured vs predicted speedup, abs(ratio - 1)"
	echo "optimize (c): moderate on a 10-job stage-barrier pipeline, 2 workers; $edges edges rewritten ($unsafe unsafe); best of $runs runs"
	printf '%-40s %9s %9s\n' "" "predicted" "measured"
	awk -v b="$before" -v t="$1" 'BEGIN { printf "%-40s %8.2fs %8.3fs\n", "cdx run -j2 barrier.yml (as written)", b, t }'
	awk -v a="$after" -v t="$4" 'BEGIN { printf "%-40s %8.2fs %8.3fs\n", "cdx run -j2 opt.yml (moderate)", a, t }'
	awk -v p="$pred" -v m="$meas" 'BEGIN { printf "%-40s %8.3fx %8.3fx\n", "speedup", p, m }'
	echo "measured / predicted speedup - 1: $dev (target |.| <= 0.10: $met)"
}
