#!/bin/sh
# t_make_misc_fixed.sh — regression test (these bugs, found by the former
# pending_make_misc.sh, are fixed):
#
# 1. A variable of a stage's `environment` given on make's command line
#    does not reach the job: define_rules() emits --override only for
#    pipeline and job variables, while cdx run --var K=V overrides stage
#    environment too (docs/cdx.1: --var is over "every variable of that
#    name in the file").
# 2. "(and 1 more problems; ...)": the module's count is not singular for
#    one (cdx validate says "1 problem found").
# 3. A job whose script runs make, under `make -jN NAME`, gets make's
#    MAKEFLAGS with --jobserver-auth but not the jobserver's descriptors (the
#    cdx job recipe is not a recursive make line, and must not be one, or
#    make -n would run it): every such sub-make warns "jobserver
#    unavailable: using -j1.  Add '+' to parent make rule."  cdx job could
#    drop the jobserver from MAKEFLAGS in the job's environment.
. "$(dirname "$0")/lib.sh"
. "$DATA/make/make_lib.sh"

makefile Makefile "load $CDX_SO" '$(cdx-pipeline stageenv.yml)'
expect_status 0 run_make -s stageenv OPT=-O0 CC=clang
"$CDX" run stageenv.yml --var OPT=-O0 --var CC=clang --output quiet >/dev/null || fail "cdx run stageenv.yml"
want=$("$CDX" logs "$(runs_json stageenv | jq -r '.[0].id')" build/show)
[ "$want" = "CC=clang OPT=-O0" ] || fail "cdx run --var: [$want]"
[ "$OUT" = "$want" ] || bug "make stageenv OPT=-O0 shows [$OUT], cdx run --var OPT=-O0 [$want]"

makefile Makefile "load $CDX_SO" 'X := $(cdx-stages bad2.yml)'
expect_status 2 run_make
case $OUT in
*"(and 1 more problem; see cdx validate bad2.yml)"*) ;;
*) bug "one more problem is counted as 'problems': $OUT" ;;
esac

makefile sub.mk 'all: ; @echo sub ran'
makefile Makefile "load $CDX_SO" '$(cdx-pipeline submake.yml)'
expect_status 0 run_make -s -j2 submake
expect_contains "sub ran"
case $OUT in
*"jobserver unavailable"*) bug "a job running make under make -j2 warns: $OUT" ;;
esac

bugs_done
