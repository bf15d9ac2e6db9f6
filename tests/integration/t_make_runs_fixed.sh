#!/bin/sh
# t_make_runs_fixed.sh — regression test: the run records of make runs
# (these bugs, found by the former pending_make_runs.sh, are fixed).
#
# 1. Several $(cdx-pipeline) calls in one make got the same run id (ms
#    clock and pid only), and their jobs were recorded as one run.
# 2. The watcher closed the run with "success" whenever no job record said
#    failed or cancelled, also when make failed outside the jobs (a file
#    prerequisite of the makefile) or was killed with SIGKILL mid-run.
# 3. The pipeline's timeout (whole run) was not enforced under make.
# 4. Under -jN a job that ended before the run's first job had written the
#    run record was lost to cdx runs, cdx status and cdx logs.
. "$(dirname "$0")/lib.sh"
. "$DATA/make/make_lib.sh"

# 1. one run per pipeline, each with its own id and its own jobs
makefile Makefile "load $CDX_SO" \
	'$(cdx-pipeline ci.yml)' '$(cdx-pipeline vars.yml)' '$(cdx-pipeline par.yml)' '$(cdx-pipeline meta.yml)'
i=0
while [ "$i" -lt 5 ]; do
	n=$(run_make -n ci vars par meta | sed 's/.* --run \([^ ]*\) .*/\1/' | sort -u | wc -l)
	[ "$n" -eq 4 ] || fail "4 pipelines in one make got $n distinct run ids"
	i=$((i + 1))
done
expect_status 0 run_make -s ci vars
[ "$(settled_status ci)" = success ] || fail "make ci vars: ci's run not success: $(runs_json)"
[ "$(settled_status vars)" = success ] || fail "make ci vars: vars has no run of its own: $(runs_json)"
[ "$(runs_json ci | jq -r '.[0].jobs_success')" = 5 ] || fail "make ci vars: ci's run: $(runs_json ci)"
[ "$(runs_json vars | jq -r '.[0].jobs_success')" = 2 ] || fail "make ci vars: vars' run: $(runs_json vars)"
[ "$(run_count ci)" -eq 1 ] && [ "$(run_count vars)" -eq 1 ] || fail "make ci vars: $(runs_json)"

# 2a. make fails on a file prerequisite: the run is not a success
makefile Makefile "load $CDX_SO" '$(cdx-pipeline par.yml)' 'par/test/unit: app' 'app: ; @exit 1'
rm -rf stamps
expect_status 2 run_make -j4 par
st=$(settled_status par)
[ "$st" = failed ] || fail "make failed (exit 2, test/unit and the rest never ran): the run is recorded $st"

# 2b. make killed with SIGKILL while jobs run: not a success either
makefile Makefile "load $CDX_SO" '$(cdx-pipeline par.yml)'
rm -rf stamps
# shellcheck disable=SC2016 # $$ is the inner shell's
setsid sh -c 'echo $$ >make.pid; exec env '"$MAKE_ENV"' make -j4 par' >/dev/null 2>&1 &
i=0
until [ -e stamps/a.start ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "par did not start"
	sleep 0.05
done
kill -KILL "$(cat make.pid)"
wait || true
i=0
until [ -e stamps/a.end ] && [ -e stamps/b.end ] && [ -e stamps/c.end ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the jobs running when make was killed did not end"
	sleep 0.05
done
st=$(settled_status par)
[ "$st" = failed ] || fail "make was killed (SIGKILL) with 3 of 6 jobs done: the run is recorded $st: $(runs_json par | jq -c '.[0]')"
[ "$(runs_json par | jq -r '.[0].jobs_success')" = 3 ] || fail "SIGKILL: the 3 jobs that ran are not all recorded: $(runs_json par | jq -c '.[0]')"

# 3. the pipeline's timeout
makefile Makefile "load $CDX_SO" '$(cdx-pipeline timeout.yml)'
rm -rf stamps
set +e
run_make timeout >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "timeout: 1s in the pipeline, a 3 s job, and make timeout exits 0"
st=$(settled_status timeout)
[ "$st" = timeout ] || fail "the run that exceeded the pipeline's timeout is recorded $st"

# 4. fast jobs at once (16 under -j16): every job of every run is in the run's records
{
	echo "name: fast"
	echo "stages:"
	echo "  - name: s"
	echo "    jobs:"
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do echo "      - {name: j$i, script: echo $i}"; done
} >fast.yml
makefile Makefile "load $CDX_SO" '$(cdx-pipeline fast.yml)'
i=0
while [ "$i" -lt 8 ]; do
	run_make -s -j16 fast >/dev/null || fail "make -j16 fast failed"
	i=$((i + 1))
done
i=0
until [ "$(runs_json fast | jq '[.[] | select(.status == "running")] | length')" -eq 0 ]; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || fail "runs of fast not closed: $(runs_json fast | jq -c 'map(.status)')"
	sleep 0.1
done
short=$(runs_json fast | jq '[.[] | select(.jobs_success != 16)] | length')
[ "$short" -eq 0 ] || fail "$short of 8 runs of make -j16 fast (16 jobs) lack job records: $(runs_json fast | jq -c 'map(.jobs_success)')"
id=$(runs_json fast | jq -r '.[0].id')
for j in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	"$CDX" logs "$id" "s/j$j" >/dev/null 2>&1 || fail "cdx logs $id s/j$j: no log"
done

echo "t_make_runs_fixed: ok"
