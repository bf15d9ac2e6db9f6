# lib.sh — what every benchmark of bench/run.sh shares (sourced, POSIX sh).
#
# Provides, after bench_init:
#   $BENCH       this directory            $CDX   the cdx tool under test
#   $W           a scratch directory, removed at exit
#   $BENCH_RUNS  runs per measurement (default 5; the best one counts)
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
