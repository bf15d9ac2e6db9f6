# make_module.sh — the make module benchmark (sourced by run.sh).
#
# A Makefile that says `load .../cdx.so` and `$(cdx-pipeline FILE)` gets a
# target per pipeline, stage and job; `make -j2 NAME` runs the jobs through
# `cdx job` recipes (the cdx tool beside cdx.so), in the lanes of the
# list schedule cdx would follow on 2 workers (order-only prerequisites).
# Every make here runs with a fresh file store (CDX_STATE=file:DIR), so
# that the module weighs jobs by their duration_hint, as the bound does,
# and not by the history of earlier runs.
#
# (a) het60 under `make -j2 het60` with cdx.so: its wall time against the
#     lower bound max(critical path, total work / 2) of
#     `cdx run --dry-run --json -j 2`.  Target: at most 1.05x.  Beside it,
#     plain `make -j2` on the same graph as a Makefile in declared order
#     (yml2mk.sh).  Best of BENCH_RUNS runs (default 3 here).
# (b) the no-op DAG of executor.sh (BENCH_JOBS jobs of `true`, default
#     10,000) as a plain Makefile under `make -j2` and as a pipeline under
#     `make -j2 dag` with cdx.so.  A `cdx job` recipe is one more program
#     started per job (cdx, which then starts the job), dynamically linked
#     and reading its job spec and the store; the target is at most four
#     extra process starts of CPU per job: the CPU time of (cdx.so − plain)
#     / jobs over the CPU time of one process start measured in the same
#     run — 1000 starts of /bin/true from a sh loop (serially, and as 2
#     loops of 500 side by side for the wall-time figure printed beside
#     it, the concurrency of -j2).  The long runs go
#     BENCH_REPEAT times (default 2 here, alternating, best of each: plain
#     make's time alone varies by a third from run to run on a busy VM),
#     the process starts BENCH_RUNS times.
# (c) reading the pipeline: `make -j2 -f dag-so.mk noop` (load cdx.so, read
#     and check the pipeline, define its rules, pin its lanes, then make a
#     target that does nothing) against `make -j2 -f dag.mk noop` reading
#     the plain Makefile of the same graph.  Target: at most 2x.  Best of
#     BENCH_RUNS runs (default 3 here).  Two more rows show where the time
#     goes: a Makefile that only loads cdx.so, and one that loads it and
#     reads the pipeline with $(cdx-stages) (every check, no rules).  The
#     module pins lanes only when the pipeline's name is a goal, so `noop`
#     reads without them; `make -j2 -n dag` against `make -j2 -n all` (read,
#     pin the lanes, walk the graph, print every recipe) is shown beside,
#     for reference.
# A missed target is recorded with bench_target (run.sh lists it).
# shellcheck shell=sh disable=SC2154,SC2016 # set by lib.sh and bench_target; make text in single quotes

bench_make_module() {
	cdx=$(cd "$(dirname "$CDX")" && pwd)/cdx
	so=$(cd "$(dirname "$CDX")" && pwd)/cdx.so
	[ -r "$so" ] || { echo "bench: no $so (run make first)" >&2; exit 1; }
	make -p -f /dev/null 2>/dev/null | grep '^\.FEATURES' | grep -qw load || {
		echo "bench: this make cannot load modules (no load in .FEATURES)" >&2
		exit 1
	}
	echo "make_module: load average at start $(bench_load)"
	mm_het60
	echo
	mm_noop
}

mm_het60() {
	h="$W/make_module-het60"
	mkdir -p "$h"
	cp "$BENCH/data/het60.yml" "$h/het60.yml"
	sh "$BENCH/yml2mk.sh" "$h/het60.yml" >"$h/het60.mk"
	printf 'load %s\n$(cdx-pipeline het60.yml)\n' "$so" >"$h/het60-so.mk"
	"$cdx" run "$h/het60.yml" --dry-run --json -j 2 >"$h/plan.json"
	lb=$(bench_json_num "$h/plan.json" lower_bound_s)
	[ -n "$lb" ] || { echo "bench: cdx run --dry-run --json printed no lower_bound_s" >&2; exit 1; }
	n=$(CDX_STATE="file:$h/state.n" make -C "$h" -n -f het60-so.mk het60 | grep -c ' job --run ')
	[ "$n" -eq 60 ] || { echo "bench: make -n het60 (cdx.so) showed $n cdx job recipes, not 60" >&2; exit 1; }
	rm -rf "$h/state.n"

	runs=$(bench_runs 3)
	i=0
	while [ "$i" -lt "$runs" ]; do
		st="$h/state.$i"
		export CDX_STATE="file:$st"
		bench_measure "$h/so.log" -o /dev/null -C "$h" -- make -j2 -f het60-so.mk het60
		unset CDX_STATE
		bench_watchers "$st"
		bench_check_run "$st" 60 make_module-het60-record
		rm -rf "$st" "$st.runs.json"
		bench_measure "$h/make.log" -o /dev/null -C "$h" -- make -j2 -f het60.mk all
		i=$((i + 1))
	done

	# shellcheck disable=SC2046 # three words each
	set -- $(bench_best "$h/so.log") $(bench_best "$h/make.log")
	ratio=$(bench_ratio3 "$1" "$lb")
	mratio=$(bench_ratio3 "$4" "$lb")
	bench_target make_module-het60 "$ratio" 1.05 "make -j2 het60 with cdx.so / lower bound"
	echo "make_module (a): het60 under make -j2; best of $runs runs; lower bound $lb s (cdx run --dry-run --json -j 2)"
	bench_header2 "x bound"
	bench_row2 "make -j2 het60 (cdx.so)" "$h/so.log" "$lb"
	bench_row2 "make -j2 (plain, declared order)" "$h/make.log" "$lb"
	echo "cdx.so/bound: wall ${ratio}x (target <= 1.05x: $met); plain make/bound ${mratio}x (reference)"
}

mm_noop() {
	bench_noop_shape
	d="$W/make_module"
	mkdir -p "$d"
	sh "$BENCH/gen-dag.sh" -f yml -s "$noop_stages" -w "$noop_width" -k 2 -n dag >"$d/dag.yml"
	sh "$BENCH/gen-dag.sh" -f mk -s "$noop_stages" -w "$noop_width" -k 2 >"$d/dag.mk"
	printf 'load %s\n$(cdx-pipeline dag.yml)\n' "$so" >"$d/dag-so.mk"
	printf '.PHONY: noop\nnoop:\n' >>"$d/dag.mk"
	printf '.PHONY: noop\nnoop:\n' >>"$d/dag-so.mk"
	# where (c)'s time goes: loading the module only; loading and reading
	# the pipeline (every check of cdx validate) without defining rules
	printf 'load %s\n.PHONY: noop\nnoop:\n' "$so" >"$d/load-so.mk"
	printf 'load %s\nstages := $(cdx-stages dag.yml)\n.PHONY: noop\nnoop:\n' "$so" >"$d/stages-so.mk"
	n=$(CDX_STATE="file:$d/state.n" make -C "$d" -n -f dag-so.mk dag | grep -c ' job --run ')
	[ "$n" -eq "$noop_jobs" ] || { echo "bench: make -n dag (cdx.so) showed $n cdx job recipes, not $noop_jobs" >&2; exit 1; }
	n=$(make -C "$d" --no-print-directory -n -f dag.mk all | wc -l)
	[ "$n" -eq "$noop_jobs" ] || { echo "bench: make -n dag.mk ran $n recipes, not $noop_jobs" >&2; exit 1; }
	rm -rf "$d/state.n"

	# (c) reading: short, alternating, best of N; and (b)'s unit, the process start
	runs=$(bench_runs 3)
	loop='i=0; while [ $i -lt $1 ]; do /bin/true; i=$((i + 1)); done'
	i=0
	while [ "$i" -lt "$runs" ]; do
		export CDX_STATE="file:$d/state.parse"
		bench_measure "$d/parse-so.log" -o /dev/null -C "$d" -- make -j2 -f dag-so.mk noop
		unset CDX_STATE
		bench_measure "$d/parse.log" -o /dev/null -C "$d" -- make -j2 -f dag.mk noop
		bench_measure "$d/parse-load.log" -o /dev/null -C "$d" -- make -j2 -f load-so.mk noop
		bench_measure "$d/parse-stages.log" -o /dev/null -C "$d" -- make -j2 -f stages-so.mk noop
		export CDX_STATE="file:$d/state.parse"
		bench_measure "$d/walk-so.log" -o /dev/null -C "$d" -- make -j2 -n -f dag-so.mk dag
		unset CDX_STATE
		bench_measure "$d/walk.log" -o /dev/null -C "$d" -- make -j2 -n -f dag.mk all
		bench_measure "$d/start1.log" -o /dev/null -- sh -c "$loop" loop 1000
		bench_measure "$d/start2.log" -o /dev/null -- sh -c "f() { $loop; }; f 500 & f 500; wait" loop
		i=$((i + 1))
	done
	rm -rf "$d/state.parse"

	# (b) the long runs
	reps=$(BENCH_REPEAT=${BENCH_REPEAT:-2} bench_repeat)
	i=0
	while [ "$i" -lt "$reps" ]; do
		bench_measure "$d/make.log" -o /dev/null -C "$d" -- make -j2 -f dag.mk all
		st="$d/state.$i"
		export CDX_STATE="file:$st"
		bench_measure "$d/so.log" -o /dev/null -C "$d" -- make -j2 -f dag-so.mk dag
		unset CDX_STATE
		bench_watchers "$st"
		bench_check_run "$st" "$noop_jobs" make_module-noop-record
		rm -rf "$st" "$st.runs.json"
		i=$((i + 1))
	done

	# shellcheck disable=SC2046 # three words each
	set -- $(bench_best "$d/so.log") $(bench_best "$d/make.log")
	t_so=$1 c_so=$2 t_make=$4 c_make=$5
	# shellcheck disable=SC2046 # three words each
	set -- $(bench_best "$d/start1.log") $(bench_best "$d/start2.log")
	t1=$(awk -v t="$1" 'BEGIN { printf "%.6f", t / 1000 }')
	c1=$(awk -v t="$2" 'BEGIN { printf "%.6f", t / 1000 }')
	t2=$(awk -v t="$4" 'BEGIN { printf "%.6f", t / 1000 }')
	ratio=$(bench_ratio3 "$t_so" "$t_make")
	extra=$(awk -v a="$t_so" -v b="$t_make" -v n="$noop_jobs" 'BEGIN { printf "%.6f", (a - b) / n }')
	starts2=$(bench_ratio3 "$extra" "$t2")
	starts1=$(bench_ratio3 "$extra" "$t1")
	# the target counts CPU (the layers issue: at most 4 process starts of
	# CPU a job), which a busy machine moves less than wall time
	startsc=$(awk -v cs="$c_so" -v cm="$c_make" -v c1="$c1" -v n="$noop_jobs" 'BEGIN { printf "%.3f", c1 > 0 ? (cs - cm) / n / c1 : 0 }')
	bench_target make_module-noop "$startsc" 4.00 "(CPU of make -j2 with cdx.so - plain make -j2) / jobs, in CPU of a process start"
	met_b=$met

	# shellcheck disable=SC2046 # three words each
	set -- $(bench_best "$d/parse-so.log") $(bench_best "$d/parse.log")
	pratio=$(bench_ratio3 "$1" "$4")
	bench_target make_module-read "$pratio" 2.00 "make reading \$(cdx-pipeline) / make reading the plain Makefile, $noop_jobs jobs"

	echo "make_module (b): $noop_jobs no-op jobs ($noop_stages stages x $noop_width, fan-in 2) under make -j2; best of $reps run(s), process starts best of $runs"
	bench_header2 "x plain"
	bench_row2 "make -j2 -f dag.mk all (plain)" "$d/make.log" "$t_make"
	bench_row2 "make -j2 dag (cdx.so, cdx job)" "$d/so.log" "$t_make"
	bench_row2 "1000 x /bin/true, sh loop" "$d/start1.log" "$t_make"
	bench_row2 "1000 x /bin/true, 2 sh loops of 500" "$d/start2.log" "$t_make"
	awk -v e="$extra" -v t1="$t1" -v t2="$t2" -v s1="$starts1" -v s2="$starts2" -v m="$t_make" -v n="$noop_jobs" 'BEGIN {
		printf "process start: %.3f ms alone, %.3f ms each with 2 side by side; plain make -j2 %.3f ms a job\n", t1 * 1000, t2 * 1000, m * 1000 / n
		printf "extra per job with cdx.so: %.3f ms = %s process starts (2 side by side), %s alone\n", e * 1000, s2, s1 }'
	awk -v cs="$c_so" -v cm="$c_make" -v c1="$c1" -v n="$noop_jobs" 'BEGIN {
		printf "CPU time (less sensitive to a busy machine): %.3f ms a job plain, %.3f ms with cdx.so; extra %.3f ms = %.2f process starts (%.3f ms of CPU each)\n",
		       cm * 1000 / n, cs * 1000 / n, (cs - cm) * 1000 / n, (c1 > 0 ? (cs - cm) / n / c1 : 0), c1 * 1000 }'
	echo "cdx.so/plain: wall ${ratio}x; extra CPU per job ${startsc} process starts (target <= 4.00: $met_b), wall ${starts2}"
	echo
	echo "make_module (c): make reading the $noop_jobs-job graph, then making a target that does nothing; best of $runs runs"
	bench_header2 "x plain"
	bench_row2 "make -j2 -f dag.mk noop (plain)" "$d/parse.log" "$4"
	bench_row2 "make -j2 -f dag-so.mk noop (cdx.so)" "$d/parse-so.log" "$4"
	bench_row2 "  part: only load cdx.so" "$d/parse-load.log" "$4"
	bench_row2 "  part: load, \$(cdx-stages) (read+check)" "$d/parse-stages.log" "$4"
	wratio=$(bench_ratio3 "$(bench_best "$d/walk-so.log" | cut -d' ' -f1)" "$(bench_best "$d/walk.log" | cut -d' ' -f1)")
	bench_row2 "make -j2 -n -f dag.mk all (plain)" "$d/walk.log" "$4"
	bench_row2 "make -j2 -n dag (cdx.so, lanes)" "$d/walk-so.log" "$4"
	echo "cdx.so/plain: wall ${pratio}x (target <= 2.00x: $met); with -n (read, pin lanes, walk, print every recipe) ${wratio}x (reference)"
}
