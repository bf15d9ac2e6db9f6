#!/bin/sh
# t_make_lanes_fixed.sh — regression test: the pinned lanes (these bugs are fixed)
#
#
# 1. A lane is an order-only prerequisite, and make builds order-only
#    prerequisites: under -jN a goal that needs only part of a pipeline (a
#    stage target, or a user target depending on one job) also runs the
#    jobs that precede its jobs in their lanes.  goals_are_jobs() turns
#    lanes off only when every goal is a job target.
# 2. -k set inside the makefile (`MAKEFLAGS += -k`, a common idiom) is not
#    seen: make_jobs() reads only the environment's MAKEFLAGS and
#    /proc/self/cmdline, so lanes stay on, and under -k a job whose lane
#    predecessor failed is not run although it does not depend on it.
. "$(dirname "$0")/lib.sh"
. "$DATA/make/make_lib.sh"

makefile Makefile "load $CDX_SO" '$(cdx-pipeline lanes.yml)' 'unit: lanes/test/unit'

# the lane really is there (else this test proves nothing)
run_make -pn -j2 lanes | grep -q '^lanes/test/unit: lanes/build/compile | lanes/docs/html' ||
	fail "setup: expected test/unit to be pinned behind docs/html under -j2"

# 1a. a stage goal runs its jobs and their needs only
rm -rf stamps
expect_status 0 run_make -j2 lanes/test
[ ! -e stamps/html.start ] || bug "make -j2 lanes/test ran docs/html, which stage test does not need"
# 1b. a user target depending on one job
rm -rf stamps
expect_status 0 run_make -j2 unit
[ ! -e stamps/html.start ] || bug "make -j2 unit ran docs/html, which test/unit does not need"

# 2. MAKEFLAGS += -k in the makefile: independent jobs go on after a failure
makefile Makefile 'MAKEFLAGS += -k' "load $CDX_SO" '$(cdx-pipeline fail.yml)'
rm -rf stamps
expect_status 2 run_make -j2 fail
[ -e stamps/c.end ] || bug "MAKEFLAGS += -k: build/c (independent of the failed build/a) did not run: $OUT"
[ -e stamps/e2e.end ] || bug "MAKEFLAGS += -k: test/e2e did not run: $OUT"

bugs_done
