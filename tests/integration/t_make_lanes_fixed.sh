#!/bin/sh
# t_make_lanes_fixed.sh — regression test (these bugs are fixed): pinned
# lanes are order-only prerequisites, which make builds, so they must not
# be imposed when a goal needs only part of the pipeline — a stage target,
# or a target of the makefile depending on one job (found by
# pending_make_lanes.sh; lanes are now pinned only when the pipeline's own
# name is a goal).
. "$(dirname "$0")/lib.sh"
. "$DATA/make/make_lib.sh"

makefile Makefile "load $CDX_SO" '$(cdx-pipeline lanes.yml)' 'unit: lanes/test/unit' 'all: lanes'

# the whole pipeline as a goal: the lane is there (test/unit behind docs/html)
run_make -pn -j2 lanes | grep -q '^lanes/test/unit: lanes/build/compile | lanes/docs/html' ||
	fail "make -j2 lanes: expected test/unit pinned behind docs/html"

# a stage goal runs its jobs and their needs only
rm -rf stamps
expect_status 0 run_make -j2 lanes/test
[ ! -e stamps/html.start ] || fail "make -j2 lanes/test ran docs/html, which stage test does not need"
[ -e stamps/unit.end ] && [ -e stamps/compile.end ] || fail "make -j2 lanes/test: $(ls stamps)"
# a user target depending on one job
rm -rf stamps
expect_status 0 run_make -j2 unit
[ ! -e stamps/html.start ] || fail "make -j2 unit ran docs/html, which test/unit does not need"
[ -e stamps/unit.end ] || fail "make -j2 unit did not run test/unit"
# a user target depending on the whole pipeline runs it all
rm -rf stamps
expect_status 0 run_make -j2 all
[ -e stamps/html.end ] && [ -e stamps/unit.end ] || fail "make -j2 all: $(ls stamps)"

echo "t_make_lanes_fixed: ok"
