#!/bin/sh
# t_make_lanes_fixed.sh — regression test: the pinned lanes (these bugs,
# found by the former pending_make_lanes.sh, are fixed).
#
# 1. A lane is an order-only prerequisite, and make builds order-only
#    prerequisites: under -jN a goal that needs only part of a pipeline (a
#    stage target, or a user target depending on one job) also ran the
#    jobs that precede its jobs in their lanes.  Lanes are now pinned only
#    when the pipeline's own name is a goal.
# 2. -k set inside the makefile (`MAKEFLAGS += -k`, a common idiom) was not
#    seen — at first not at all, then not when $(MAKEFLAGS) starts with
#    "-k" — so lanes stayed on, and under -k a job whose lane predecessor
#    failed was not run although it does not depend on it.
. "$(dirname "$0")/lib.sh"
. "$DATA/make/make_lib.sh"

makefile Makefile "load $CDX_SO" '$(cdx-pipeline lanes.yml)' 'unit: lanes/test/unit' 'all: lanes'

# the whole pipeline as a goal: the lane is there (test/unit behind docs/html)
run_make -pn -j2 lanes | grep -q '^lanes/test/unit: lanes/build/compile | lanes/docs/html' ||
	fail "make -j2 lanes: expected test/unit pinned behind docs/html"

# 1. a stage goal runs its jobs and their needs only
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

# 2. -k in the makefile: independent jobs go on after a failure
# (make -pn cannot show the lanes here: -p and -n come first in $(MAKEFLAGS))
for flags in '-k' '-k -s' '--keep-going' '-s -k'; do
	makefile Makefile "MAKEFLAGS += $flags" "load $CDX_SO" '$(cdx-pipeline fail.yml)'
	rm -rf stamps
	expect_status 2 run_make -j2 fail
	[ -e stamps/c.end ] || fail "MAKEFLAGS += $flags: build/c (independent of the failed build/a) did not run: $OUT"
	[ -e stamps/e2e.end ] || fail "MAKEFLAGS += $flags: test/e2e did not run: $OUT"
	[ ! -e stamps/unit.start ] || fail "MAKEFLAGS += $flags: test/unit ran, which needs the failed build/a"
done

echo "t_make_lanes_fixed: ok"
