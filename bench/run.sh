#!/bin/sh
# run.sh — the benchmarks behind `make bench`.
#
# usage: CDX_BUILD=build sh bench/run.sh [BENCHMARK...]
# Runs the named benchmarks (default: all of them, in order) against the
# cdx built in $CDX_BUILD and prints a table for each.  Nothing is written
# outside a temporary directory.  Environment: BENCH_RUNS (runs per
# measurement, default 5; the best counts), BENCH_STRICT=1 (exit 1 when a
# target is missed), CC (compiler for the measuring helper, default cc);
# each benchmark's file documents its own variables.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

all="foundation"

for b in "$@"; do
	case " $all " in
	*" $b "*) ;;
	*) echo "bench: unknown benchmark '$b' (known: $all)" >&2; exit 2 ;;
	esac
done

bench_init
for f in $all; do
	# shellcheck source=/dev/null
	. "$BENCH/$f.sh"
done
[ $# -gt 0 ] || set -- $all
BENCH_MISSED=
for b in "$@"; do
	"bench_$b"
	echo
done
if [ -n "$BENCH_MISSED" ]; then
	echo "bench: target missed by:$BENCH_MISSED"
	[ "${BENCH_STRICT:-0}" != 1 ] || exit 1
fi
