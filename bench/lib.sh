# lib.sh — what every benchmark of bench/run.sh shares (sourced, POSIX sh).
#
# Provides, after bench_init:
#   $BENCH       this directory            $CDX   the cdx tool under test
#   $W           a scratch directory, removed at exit
#   $BENCH_RUNS  runs per measurement (default 5; the best one counts;
#                the new sections default to 3, see bench_runs)
#   bench_measure LOG [-o OUT] [-C DIR] -- CMD...
#                run CMD once (measure.c), append "WALL_S CPU_S RSS_KB" to
#                LOG; a CMD that exits non-zero stops the benchmark
#   bench_best LOG
#                "WALL_S CPU_S RSS_KB": the minimum of each column of LOG
#   bench_row LABEL LOG
#                one table row: the label and the best of each column
#   bench_header
#                the table's header line
#   bench_ratio A B     A / B with two decimals
#   bench_need TOOL...  stop with a message when a tool is missing
set -eu

bench_need() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || {
			echo "bench: '$t' is needed (see bench/README.md)" >&2
			exit 1
		}
	done
}

bench_init() {
	: "${CDX_BUILD:?CDX_BUILD must name the build directory (run make bench)}"
	BENCH=$(cd "$(dirname "$0")" && pwd)
	CDX="$CDX_BUILD/cdx"
	BENCH_RUNS_USER=${BENCH_RUNS:-}
	BENCH_RUNS=${BENCH_RUNS:-5}
	# the make under test must not inherit the flags, level and jobserver of
	# the make that runs the benchmark
	unset MAKEFLAGS MFLAGS GNUMAKEFLAGS MAKELEVEL MAKEFILES
	[ -x "$CDX" ] || { echo "bench: no $CDX (run make first)" >&2; exit 1; }
	bench_need "${CC:-cc}" awk make
	W=$(mktemp -d "${TMPDIR:-/tmp}/cdx-bench-XXXXXX")
	trap 'rm -rf "$W"' EXIT
	trap 'exit 130' INT TERM
	"${CC:-cc}" -O2 -o "$W/measure" "$BENCH/measure.c"
}

bench_measure() {
	log=$1
	shift
	line=$("$W/measure" "$@")
	# shellcheck disable=SC2086 # four words
	set -- $line
	if [ "$4" -ne 0 ]; then
		echo "bench: command failed with status $4 (log $log)" >&2
		exit 1
	fi
	echo "$1 $2 $3" >>"$log"
}

bench_best() {
	awk 'NR == 1 || $1 < t { t = $1 } NR == 1 || $2 < c { c = $2 } NR == 1 || $3 < r { r = $3 }
	     END { printf "%.6f %.6f %d\n", t, c, r }' "$1"
}

bench_header() {
	printf '%-34s %9s %9s %10s\n' "command" "wall (s)" "cpu (s)" "RSS (MiB)"
}

bench_row() {
	# shellcheck disable=SC2046 # three words
	set -- "$1" $(bench_best "$2")
	awk -v l="$1" -v t="$2" -v c="$3" -v r="$4" 'BEGIN { printf "%-34s %9.3f %9.3f %10.1f\n", l, t, c, r / 1024 }'
}

bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

# ---- shared by executor.sh and make_module.sh -------------------------------
#   bench_runs DEFAULT  the number of runs of a short measurement: BENCH_RUNS
#                when the caller set it, else DEFAULT
#   bench_repeat        the number of runs of a long (10,000-job) one:
#                BENCH_REPEAT, default 1
#   bench_load          the load average (1, 5, 15 min) now, and the CPU
#                pressure of the last minute when the kernel shows it
#   bench_env           one line: CPUs, load average, tool versions
#   bench_json_num FILE KEY
#                the first number written as "KEY": N in FILE (cdx's JSON,
#                one key a line as cdx prints it), empty when absent
#   bench_header2 REF / bench_row2 LABEL LOG REF_S
#                a table with a fifth column: best wall time / REF_S
#   bench_target ID VALUE LIMIT WHAT
#                VALUE <= LIMIT? sets $met (met or MISSED), records the
#                target for the summary of run.sh, adds ID to BENCH_MISSED
#                when missed
#   bench_watchers DIR
#                wait (at most 60 s) for the watchers that `cdx job` starts
#                to close their runs in the file store DIR, so that nothing
#                writes into DIR once the benchmark moves on or removes it

bench_runs() {
	if [ -n "${BENCH_RUNS_USER:-}" ]; then echo "$BENCH_RUNS"; else echo "$1"; fi
}

bench_repeat() {
	echo "${BENCH_REPEAT:-1}"
}

bench_load() {
	l=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime | sed 's/.*average: *//; s/,//g')
	# the share of the last minute in which some task waited for a CPU
	p=$(awk '$1 == "some" { sub(/avg60=/, "", $3); print $3 "%" }' /proc/pressure/cpu 2>/dev/null || :)
	echo "$l${p:+ (CPU pressure, last minute: $p)}"
}

bench_env() {
	ninja_v=$(ninja --version 2>/dev/null || echo none)
	make_v=$(make --version 2>/dev/null | sed -n '1s/^GNU Make //p')
	printf 'environment: %s CPUs (nproc), load average %s, GNU make %s, ninja %s, %s\n' \
		"$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)" "$(bench_load)" "$make_v" "$ninja_v" \
		"$(uname -sr)"
}

bench_json_num() {
	awk -v k="\"$2\":" '{ for (i = 1; i < NF; i++) if ($i == k) { v = $(i + 1); sub(/,$/, "", v); print v; exit } }' "$1"
}

bench_header2() {
	printf '%-40s %9s %9s %10s %9s\n' "command" "wall (s)" "cpu (s)" "RSS (MiB)" "$1"
}

bench_row2() {
	# shellcheck disable=SC2046 # three words
	set -- "$1" "$3" $(bench_best "$2")
	awk -v l="$1" -v ref="$2" -v t="$3" -v c="$4" -v r="$5" \
		'BEGIN { printf "%-40s %9.3f %9.3f %10.1f %8.3fx\n", l, t, c, r / 1024, (ref > 0 ? t / ref : 0) }'
}

bench_target() {
	met=$(awk -v v="$2" -v l="$3" 'BEGIN { print ((v <= l) ? "met" : "MISSED") }')
	printf '%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$met" "$4" >>"$W/targets"
	[ "$met" = met ] || BENCH_MISSED="$BENCH_MISSED $1"
}

bench_watchers() {
	n=0
	while [ -d "$1/make" ] && [ -n "$(ls -A "$1/make" 2>/dev/null)" ] && [ "$n" -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ "$n" -lt 600 ] || echo "bench: a cdx job watcher did not close its run in $1 within 60 s" >&2
}

# bench_ratio3 A B   A / B with three decimals (for targets such as 1.05x)
bench_ratio3() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'
}

# bench_noop_shape   the no-op DAG of executor.sh and make_module.sh from
#                    BENCH_JOBS (default 10000): sets noop_stages (10),
#                    noop_width (BENCH_JOBS / 10) and noop_jobs
bench_noop_shape() {
	noop_jobs=${BENCH_JOBS:-10000}
	case $noop_jobs in '' | *[!0-9]*) echo "bench: BENCH_JOBS must be a whole number" >&2; exit 2 ;; esac
	[ "$noop_jobs" -ge 20 ] || { echo "bench: BENCH_JOBS must be at least 20" >&2; exit 2; }
	noop_stages=10
	noop_width=$((noop_jobs / noop_stages))
	noop_jobs=$((noop_width * noop_stages))
}

# bench_run_field DIR KEY   the number after "KEY": in the record of the one
#                    run in file store DIR (cdx runs --json, $cdx)
bench_run_field() {
	# shellcheck disable=SC2154 # the caller sets cdx, the absolute path of the tool
	"$cdx" --state "file:$1" runs --json >"$1.runs.json"
	bench_json_num "$1.runs.json" "$2"
}

# bench_check_run DIR JOBS LABEL
#                    the one run recorded in file store DIR must be a
#                    success with JOBS successful jobs (cdx runs --json).
#                    When it is not, the figures still count (the work was
#                    done), but the journal is kept in a directory named in
#                    a warning and LABEL goes to BENCH_ANOMALIES, which
#                    run.sh lists at the end (a failure with BENCH_STRICT=1)
bench_check_run() {
	"$cdx" --state "file:$1" runs --json >"$1.runs.json"
	s=$(awk '$1 == "\"status\":" { gsub(/[",]/, "", $2); print $2; exit }' "$1.runs.json")
	ok=$(bench_json_num "$1.runs.json" jobs_success)
	if [ "$s" != success ] || [ "$ok" != "$2" ]; then
		keep=$(mktemp -d "${TMPDIR:-/tmp}/cdx-bench-kept-XXXXXX")
		cp "$1/journal.jsonl" "$1.runs.json" "$keep/" 2>/dev/null || :
		echo "bench: WARNING: $3: the run in the store ended ${s:-unrecorded} with ${ok:-no} successful jobs recorded, not $2; journal kept in $keep" >&2
		BENCH_ANOMALIES="${BENCH_ANOMALIES:-} $3"
	fi
}
