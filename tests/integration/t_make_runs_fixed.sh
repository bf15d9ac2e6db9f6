#!/bin/sh
# t_make_runs_fixed.sh — regression test: the run records of make runs (these bugs are fixed)
#
# CDX_BUILD=$PWD/build sh tests/integration/pending_make_runs.sh).
#
# 1. Two $(cdx-pipeline) calls in one make often get the same run id:
#    cdx_run_id_new() is built from the wall clock in ms and the pid only,
#    and both calls happen in the same millisecond of the same process.
#    Then the jobs of both pipelines are recorded under one run, named
#    after whichever pipeline's job started first, and the other pipeline
#    has no run at all.
# 2. The watcher closes the run with "success" whenever no job record says
#    failed or cancelled: a make that fails outside the jobs (a file
#    prerequisite the makefile added), or that is killed with SIGKILL while
#    jobs run, leaves a run recorded "success" with jobs missing (jobs still
#    running when make died are not waited for either).
# 3. The pipeline's timeout (whole run) is not enforced under make: the
#    job spec carries stage and job timeouts only.
# 4. Under -jN a job that ends before the run's first job has written the
#    run record (that job creates the marker, forks the watcher, then
#    appends the record) has its attempt and job records in the journal
#    before the run record, and history.c (runs_one) drops records of a run
#    it has not seen yet: cdx runs counts fewer jobs, cdx status does not
#    list them, cdx logs says "no log of JOB in run ID".  (The watcher's
#    tally does not depend on the order, so the status is right.)
. "$(dirname "$0")/lib.sh"
. "$DATA/make/make_lib.sh"

# 1. one run per pipeline, each with its own id
makefile Makefile "load $CDX_SO" \
	'$(cdx-pipeline ci.yml)' '$(cdx-pipeline vars.yml)' '$(cdx-pipeline par.yml)' '$(cdx-pipeline meta.yml)'
i=0
while [ "$i" -lt 5 ]; do
	n=$(run_make -n ci vars par meta | sed 's/.* --run \([^ ]*\) .*/\1/' | sort -u | wc -l)
	if [ "$n" -ne 4 ]; then
		bug "4 pipelines in one make got $n distinct run ids"
		break
	fi
	i=$((i + 1))
done
expect_status 0 run_make -s -j2 ci vars
[ "$(settled_status ci)" = success ] || bug "make ci vars: ci's run not success: $(runs_json)"
[ "$(settled_status vars)" = success ] || bug "make ci vars: vars has no run of its own: $(runs_json)"
[ "$(runs_json ci | jq -r '.[0].jobs_success')" = 5 ] || bug "make ci vars: ci's run does not hold its 5 jobs: $(runs_json)"

# 2a. make fails on a file prerequisite: the run is not a success
makefile Makefile "load $CDX_SO" '$(cdx-pipeline par.yml)' 'par/test/unit: app' 'app: ; @exit 1'
rm -rf stamps
expect_status 2 run_make -j4 par
st=$(settled_status par)
[ "$st" != success ] || bug "make failed (exit 2, test/unit and the rest never ran), yet the run is recorded success"

# 2b. make killed with SIGKILL while jobs run: not a success either
makefile Makefile "load $CDX_SO" '$(cdx-pipeline par.yml)'
rm -rf stamps
# shellcheck disable=SC2016 # $$ is the inner shell's
setsid sh -c 'echo $$ >make.pid; exec env '"$MAKE_ENV"' make -j4 par' >/dev/null 2>&1 &
i=0
until [ -e stamps/a.start ]; do
	i=$((i + 1)); [ "$i" -lt 100 ] || fail "par did not start"; sleep 0.05
done
kill -KILL "$(cat make.pid)"
sleep 2 # the jobs that were running end by themselves
st=$(settled_status par)
[ "$st" != success ] || bug "make was killed (SIGKILL) with 3 of 6 jobs done, yet the run is recorded success: $(runs_json par | jq -c '.[0]')"

# 3. the pipeline's timeout
makefile Makefile "load $CDX_SO" '$(cdx-pipeline timeout.yml)'
rm -rf stamps
set +e
run_make timeout >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || bug "timeout: 1s in the pipeline, a 3 s job, and make timeout exits 0"
st=$(settled_status timeout)
[ "$st" = timeout ] || [ "$st" = failed ] || bug "the run that exceeded the pipeline's timeout is recorded $st"

# 4. fast jobs at once: every job of every run is in the run's records
{
	echo "name: fast"
	echo "stages:"
	echo "  - name: s"
	echo "    jobs:"
	for i in 1 2 3 4 5 6 7 8; do echo "      - {name: j$i, script: echo $i}"; done
} >fast.yml
makefile Makefile "load $CDX_SO" '$(cdx-pipeline fast.yml)'
i=0
while [ "$i" -lt 10 ]; do
	run_make -s -j8 fast >/dev/null || fail "make -j8 fast failed"
	i=$((i + 1))
done
sleep 0.5
short=$(runs_json fast | jq '[.[] | select(.jobs_success != 8)] | length')
if [ "$short" -ne 0 ]; then
	bug "$short of 10 runs of make -j8 fast (8 jobs) lack job records: $(runs_json fast | jq -c 'map(.jobs_success)')"
	id=$(runs_json fast | jq -r '[.[] | select(.jobs_success != 8)][0].id')
	for j in 1 2 3 4 5 6 7 8; do
		"$CDX" logs "$id" "s/j$j" >/dev/null 2>&1 || bug "cdx logs $id s/j$j: no log"
	done
fi

bugs_done
