# foundation.sh — the foundation benchmark (sourced by run.sh).
#
# A 10,000-job pipeline (10 stages of 1,000 jobs, each job needing 2 jobs of
# the stage before by STAGE/JOB, scripts `true`) against the same graph as
# a 10,000-target Makefile: the time and peak memory of loading, expanding,
# checking and ordering the pipeline (`cdx validate`) next to the time GNU
# make needs to read the Makefile and walk the graph without running
# anything (`make -n`).  Target: cdx at most half of make's time.  ninja
# reading the same graph (`ninja -n`) is shown for reference when present.
# The runs of the tools alternate, BENCH_RUNS times; the best run counts.
# A missed target is added to BENCH_MISSED (run.sh reports it).
# BENCH_STAGES, BENCH_WIDTH and BENCH_FANIN change the graph.

bench_foundation() {
	stages=${BENCH_STAGES:-10} width=${BENCH_WIDTH:-1000} fanin=${BENCH_FANIN:-2}
	jobs=$((stages * width))
	d="$W/foundation"
	mkdir -p "$d"
	sh "$BENCH/gen-dag.sh" -f yml -s "$stages" -w "$width" -k "$fanin" -n bench >"$d/bench.yml"
	sh "$BENCH/gen-dag.sh" -f mk -s "$stages" -w "$width" -k "$fanin" >"$d/bench.mk"
	have_ninja=no
	if command -v ninja >/dev/null 2>&1; then
		have_ninja=yes
		sh "$BENCH/gen-dag.sh" -f ninja -s "$stages" -w "$width" -k "$fanin" >"$d/build.ninja"
	fi

	# the tools must accept the files and see the whole graph
	out=$("$CDX" validate "$d/bench.yml")
	case $out in
	*" $jobs jobs)") ;;
	*) echo "bench: cdx validate did not report $jobs jobs: $out" >&2; exit 1 ;;
	esac
	n=$(make -n -f "$d/bench.mk" all | wc -l)
	[ "$n" -eq "$jobs" ] || { echo "bench: make -n ran $n recipes, not $jobs" >&2; exit 1; }

	i=0
	while [ "$i" -lt "$BENCH_RUNS" ]; do
		bench_measure "$d/cdx.log" -o /dev/null -- "$CDX" validate "$d/bench.yml"
		bench_measure "$d/make.log" -o /dev/null -- make -n -f "$d/bench.mk" all
		if [ "$have_ninja" = yes ]; then
			bench_measure "$d/ninja.log" -o /dev/null -C "$d" -- ninja -n all
		fi
		i=$((i + 1))
	done

	# shellcheck disable=SC2046 # three words each
	set -- $(bench_best "$d/cdx.log") $(bench_best "$d/make.log")
	tratio=$(bench_ratio "$1" "$4")
	cratio=$(bench_ratio "$2" "$5")
	mratio=$(bench_ratio "$3" "$6")
	met=$(awk -v r="$tratio" 'BEGIN { print ((r <= 0.5) ? "met" : "MISSED") }')

	echo "foundation: $jobs jobs ($stages stages x $width, fan-in $fanin); best of $BENCH_RUNS runs"
	bench_header
	bench_row "cdx validate bench.yml" "$d/cdx.log"
	bench_row "make -n -f bench.mk all" "$d/make.log"
	[ "$have_ninja" = no ] || bench_row "ninja -n all (reference)" "$d/ninja.log"
	echo "cdx/make: wall ${tratio}x (target <= 0.50x: $met), cpu ${cratio}x, peak RSS ${mratio}x"
	[ "$met" = met ] || BENCH_MISSED="$BENCH_MISSED foundation"
}
