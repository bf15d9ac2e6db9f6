# executor.sh — the executor benchmark (sourced by run.sh).
#
# (a) no-op jobs: BENCH_JOBS (default 10,000) jobs whose script is `true`,
#     in a layered DAG (gen-dag.sh: 10 stages of BENCH_JOBS/10 jobs, each
#     job needing 2 of the stage before), run on 2 workers by
#       cdx run dag.yml -j 2 --output quiet   (the store on: a fresh
#                                              file:DIR state per run)
#       make -j2 -f dag.mk all                (the same graph as a Makefile)
#       ninja -j2 all                         (as a build.ninja; when ninja
#                                              is installed)
#     Target: cdx at most 1.10x the wall time of the faster of make and
#     ninja.  These runs are long (make -j2 alone takes 25-60 s for 10,000
#     jobs on a small VM), so each tool runs BENCH_REPEAT times (default
#     1); the best run counts.
# (b) het60 (bench/data/het60.yml, 60 jobs of `sleep`, skewed, with a long
#     chain listed last) through `cdx run -j 2`: its makespan against the
#     lower bound max(critical path, total work / 2) that
#     `cdx run --dry-run --json -j 2` computes from the duration_hints.
#     Target: at most 1.05x the bound.  Beside it, plain `make -j2` on the
#     same graph as a Makefile in declared (file) order (yml2mk.sh), for
#     reference.  Best of BENCH_RUNS runs (default 3 here).
# A missed target is recorded with bench_target (run.sh lists it).
# shellcheck shell=sh disable=SC2154,SC2016 # set by lib.sh and bench_target; make text in single quotes

bench_executor() {
	cdx=$(cd "$(dirname "$CDX")" && pwd)/cdx
	echo "executor: load average at start $(bench_load)"
	executor_noop "$cdx"
	echo
	executor_het60 "$cdx"
}

executor_noop() {
	cdx=$1
	bench_noop_shape
	d="$W/executor"
	mkdir -p "$d/ninja"
	sh "$BENCH/gen-dag.sh" -f yml -s "$noop_stages" -w "$noop_width" -k 2 -n dag >"$d/dag.yml"
	sh "$BENCH/gen-dag.sh" -f mk -s "$noop_stages" -w "$noop_width" -k 2 >"$d/dag.mk"
	have_ninja=no
	if command -v ninja >/dev/null 2>&1; then
		have_ninja=yes
		sh "$BENCH/gen-dag.sh" -f ninja -s "$noop_stages" -w "$noop_width" -k 2 >"$d/ninja/build.ninja"
	fi
	out=$("$cdx" validate "$d/dag.yml")
	case $out in
	*" $noop_jobs jobs)") ;;
	*) echo "bench: cdx validate did not report $noop_jobs jobs: $out" >&2; exit 1 ;;
	esac

	reps=$(bench_repeat)
	i=0
	while [ "$i" -lt "$reps" ]; do
		st="$d/state.$i"
		bench_measure "$d/cdx.log" -o /dev/null -C "$d" -- "$cdx" --state "file:$st" run dag.yml -j 2 --output quiet
		bench_check_run "$st" "$noop_jobs" executor-noop-record
		bench_run_field "$st" duration_ms >>"$d/cdx.dur"
		rm -rf "$st" "$st.runs.json"
		bench_measure "$d/make.log" -o /dev/null -C "$d" -- make -j2 -f dag.mk all
		if [ "$have_ninja" = yes ]; then
			rm -f "$d/ninja/.ninja_log" "$d/ninja/.ninja_deps"
			bench_measure "$d/ninja.log" -o /dev/null -C "$d/ninja" -- ninja -j2 all
		fi
		i=$((i + 1))
	done

	# shellcheck disable=SC2046 # three words each
	set -- $(bench_best "$d/cdx.log") $(bench_best "$d/make.log")
	t_cdx=$1 t_make=$4 ref=$4 refname=make
	if [ "$have_ninja" = yes ]; then
		# shellcheck disable=SC2046
		set -- $(bench_best "$d/ninja.log")
		if awk -v a="$1" -v b="$ref" 'BEGIN { exit !(a < b) }'; then ref=$1 refname=ninja; fi
	fi
	ratio=$(bench_ratio3 "$t_cdx" "$ref")
	dur=$(sort -n "$d/cdx.dur" | head -n 1)
	bench_target executor-noop "$ratio" 1.10 "cdx run -j 2 / $refname -j2, $noop_jobs no-op jobs"

	echo "executor (a): $noop_jobs no-op jobs ($noop_stages stages x $noop_width, fan-in 2) on 2 workers; best of $reps run(s)"
	bench_header2 "x $refname"
	bench_row2 "cdx run -j 2 --output quiet" "$d/cdx.log" "$ref"
	bench_row2 "make -j2 -f dag.mk all" "$d/make.log" "$ref"
	[ "$have_ninja" = no ] || bench_row2 "ninja -j2 all" "$d/ninja.log" "$ref"
	awk -v n="$noop_jobs" -v c="$t_cdx" -v m="$t_make" -v r="$ref" -v dur="$dur" 'BEGIN {
		printf "per job (wall / jobs): cdx %.3f ms, make %.3f ms, faster reference %.3f ms; cdx run record duration_ms %d\n",
		       c * 1000 / n, m * 1000 / n, r * 1000 / n, dur }'
	echo "cdx/$refname: wall ${ratio}x (target <= 1.10x: $met)"
}

executor_het60() {
	cdx=$1
	h="$W/executor-het60"
	mkdir -p "$h"
	cp "$BENCH/data/het60.yml" "$h/het60.yml"
	sh "$BENCH/yml2mk.sh" "$h/het60.yml" >"$h/het60.mk"
	n=$(make -n -f "$h/het60.mk" all | wc -l)
	[ "$n" -eq 60 ] || { echo "bench: make -n het60.mk ran $n recipes, not 60" >&2; exit 1; }
	"$cdx" run "$h/het60.yml" --dry-run --json -j 2 >"$h/plan.json"
	lb=$(bench_json_num "$h/plan.json" lower_bound_s)
	cp_s=$(bench_json_num "$h/plan.json" critical_path_s)
	work=$(bench_json_num "$h/plan.json" total_work_s)
	pred=$(bench_json_num "$h/plan.json" predicted_makespan_s)
	[ -n "$lb" ] || { echo "bench: cdx run --dry-run --json printed no lower_bound_s" >&2; exit 1; }

	runs=$(bench_runs 3)
	i=0
	while [ "$i" -lt "$runs" ]; do
		st="$h/state.$i"
		bench_measure "$h/cdx.log" -o /dev/null -C "$h" -- "$cdx" --state "file:$st" run het60.yml -j 2 --output quiet
		bench_check_run "$st" 60 executor-het60-record
		bench_run_field "$st" duration_ms >>"$h/cdx.dur"
		rm -rf "$st" "$st.runs.json"
		bench_measure "$h/make.log" -o /dev/null -C "$h" -- make -j2 -f het60.mk all
		i=$((i + 1))
	done

	# shellcheck disable=SC2046 # three words each
	set -- $(bench_best "$h/cdx.log") $(bench_best "$h/make.log")
	ratio=$(bench_ratio3 "$1" "$lb")
	mratio=$(bench_ratio3 "$4" "$lb")
	dur=$(sort -n "$h/cdx.dur" | head -n 1)
	dratio=$(awk -v d="$dur" -v b="$lb" 'BEGIN { printf "%.3f", d / 1000 / b }')
	bench_target executor-het60 "$ratio" 1.05 "cdx run -j 2 het60 makespan / lower bound"

	echo "executor (b): het60 on 2 workers; best of $runs runs"
	printf 'bound from cdx run --dry-run --json -j 2: total work %s s, critical path %s s, lower bound max(CP, W/2) %s s; predicted makespan %s s\n' \
		"$work" "$cp_s" "$lb" "$pred"
	bench_header2 "x bound"
	bench_row2 "cdx run -j 2 het60.yml" "$h/cdx.log" "$lb"
	bench_row2 "make -j2 (plain, declared order)" "$h/make.log" "$lb"
	echo "cdx run record duration_ms: best $dur ms = ${dratio}x bound"
	echo "cdx/bound: wall ${ratio}x (target <= 1.05x: $met); plain make/bound ${mratio}x (reference)"
}
