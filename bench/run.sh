#!/bin/sh
# run.sh — the benchmarks behind `make bench`.
#
# usage: CDX_BUILD=build sh bench/run.sh [BENCHMARK...]
# Runs the named benchmarks (default: all of them, in order) against the
# cdx built in $CDX_BUILD and prints a table for each, then every target
# with its figure and the list of the targets missed.  Nothing is written
# outside a temporary directory.  Environment: BENCH_RUNS (runs per short
# measurement; the best counts; default 5 for foundation, 3 for the others),
# BENCH_REPEAT (runs of the long 10,000-job measurements, default 1),
# BENCH_JOBS (jobs of the no-op DAG of executor and make_module, default
# 10000), BENCH_STRICT=1 (exit 1 when a target is missed), CC (compiler for
# the measuring helper, default cc); each benchmark's file documents its
# own variables.  A full run takes several minutes.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

all="foundation executor make_module deploy optimize redis artifacts serve pool"

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
bench_env
echo
BENCH_MISSED=
BENCH_ANOMALIES=
: >"$W/targets"
for b in "$@"; do
	"bench_$b"
	echo
done
if [ -s "$W/targets" ]; then
	echo "targets:"
	awk -F'|' '{ printf "  %-20s %8.3f  (target <= %s)  %-6s  %s\n", $1, $2, $3, $4, $5 }' "$W/targets"
fi
echo "load average at the end: $(bench_load)"
if [ -n "$BENCH_ANOMALIES" ]; then
	echo "bench: runs not recorded as expected (see the warnings above):$BENCH_ANOMALIES"
fi
if [ -n "$BENCH_MISSED" ]; then
	echo "bench: target missed by:$BENCH_MISSED"
	for m in $BENCH_MISSED; do
		awk -F'|' -v id="$m" '$1 == id { printf "  %s: %.3f against <= %s, %.1f%% over (%s)\n", $1, $2, $3, ($2 / $3 - 1) * 100, $5; f = 1 }
			END { if (!f) printf "  %s (see its table)\n", id }' "$W/targets"
	done
else
	echo "bench: every target met"
fi
if [ "${BENCH_STRICT:-0}" = 1 ] && [ -n "$BENCH_MISSED$BENCH_ANOMALIES" ]; then
	exit 1
fi
