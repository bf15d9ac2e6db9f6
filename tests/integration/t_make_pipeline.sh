#!/bin/sh
# t_make_pipeline.sh — $(cdx-pipeline FILE) in real GNU make: the targets
# NAME, NAME/STAGE and NAME/STAGE/JOB; make -j4 runs independent jobs at
# once and respects needs (jobs write start/end stamps); a job target runs
# that job and its needs only; file prerequisites a user adds are honoured;
# make -n prints the cdx job lines and runs and records nothing; one run
# record per make invocation, closed by the watcher after make exits; a
# failing job stops make and fails the run; -k goes on with independent
# jobs; variables on make's command line override the file's; values and
# scripts with make's and the shell's characters run exactly as cdx run
# runs them, and nothing in them is ever executed.
#
# Also the fixes of earlier defects (once pending_make_*.sh):
# - several $(cdx-pipeline) calls in one make got the same run id (ms clock
#   and pid only), and their jobs were recorded as one run;
# - the watcher closed the run with "success" whenever no job record said
#   failed or cancelled, also when make failed outside the jobs (a file
#   prerequisite) or was killed with SIGKILL mid-run;
# - the pipeline's timeout (whole run) was not enforced under make;
# - under -jN a job that ended before the run's first job had written the
#   run record was lost to cdx runs, cdx status and cdx logs;
# - a lane is an order-only prerequisite, and make builds those: under -jN
#   a goal that needs only part of a pipeline (a stage target, or a user
#   target depending on one job) also ran the jobs before its jobs in their
#   lanes.  Lanes are now pinned only when the pipeline's own name is a goal;
# - -k set inside the makefile (`MAKEFLAGS += -k`) was not seen (at first
#   not at all, then not when $(MAKEFLAGS) starts with "-k"), so lanes
#   stayed on and a job whose lane predecessor failed was not run;
# - a variable of a stage's `environment` given on make's command line did
#   not reach the job (--override was emitted for pipeline and job
#   variables only, while cdx run --var overrides every variable of that
#   name);
# - a job whose script runs make, under `make -jN NAME`, got make's
#   MAKEFLAGS with --jobserver-auth but not the jobserver's descriptors, so
#   every such sub-make warned "jobserver unavailable".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/make_lib.sh"

makefile Makefile \
	"load $CDX_SO" \
	'$(cdx-pipeline par.yml)' \
	'$(cdx-pipeline fail.yml)' \
	'$(cdx-pipeline vars.yml)' \
	'$(cdx-pipeline stageenv.yml)' \
	'$(cdx-pipeline ci.yml)' \
	'$(cdx-pipeline meta.yml)' \
	'$(cdx-pipeline submake.yml)' \
	'$(cdx-pipeline timeout.yml)'
makefile sub.mk 'all: ; @echo sub ran'

# ---- make -n: the job lines, nothing run, nothing recorded -----------------
expect_status 0 run_make -n par
printf '%s\n' "$OUT" >dry.out
[ "$(wc -l <dry.out)" -eq 6 ] || fail "make -n par: expected 6 lines, got: $OUT"
for j in build/a build/b build/c test/unit test/e2e package/tar; do
	# `cdx job` of the cdx tool beside cdx.so
	grep -Eq "^'?$CDX'? job --run [0-9TZ.]+-[0-9a-f]{4,8} --owner [0-9]+ $j\$" dry.out ||
		fail "make -n par: no job line for $j in: $OUT"
done
[ "$(sed 's/.* --run \([^ ]*\) .*/\1/' dry.out | sort -u | wc -l)" -eq 1 ] || fail "make -n: several run ids: $OUT"
# needs come first
line_of() { grep -n " $1\$" dry.out | cut -d: -f1; }
[ "$(line_of build/a)" -lt "$(line_of test/unit)" ] || fail "make -n: unit before build/a: $OUT"
[ "$(line_of test/e2e)" -lt "$(line_of package/tar)" ] || fail "make -n: tar before e2e: $OUT"
[ ! -e stamps ] || fail "make -n ran a job"
[ ! -e "$T/.cdx" ] || fail "make -n created the state directory"
expect_status 0 run_make -n -j4 par
[ ! -e stamps ] || fail "make -n -j4 ran a job"
[ ! -e "$T/.cdx" ] || fail "make -n -j4 created the state directory"

# ---- several pipelines in one make: a run each, with its own jobs ------------
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

# ---- make -j4 NAME: parallel where the needs allow ---------------------------
expect_status 0 run_make -j4 par
for j in a b c unit e2e tar; do stamp "$j" start >/dev/null; stamp "$j" end >/dev/null; done
# a, b and c overlap: each starts before any of them ends
for x in a b c; do
	for y in a b c; do before "$x" start "$y" end; done
done
# needs
before a end unit start
before b end e2e start
before c end e2e start
before unit end tar start
before e2e end tar start
# the output: each script echoed as make echoes a recipe
expect_contains "sh ./stamp.sh a 0.8"
expect_contains "sh ./stamp.sh tar 0"
[ "$(settled_status par)" = success ] || fail "make -j4 par: run not closed as success: $(runs_json par)"
[ "$(run_count par)" -eq 1 ] || fail "make -j4 par: expected one run record: $(runs_json par)"
run=$(runs_json par | jq -c '.[0]')
[ "$(printf '%s' "$run" | jq -r '.driver')" = make ] || fail "run record: driver is not make: $run"
[ "$(printf '%s' "$run" | jq -r '.jobs_success')" = 6 ] || fail "run record: not 6 jobs done: $run"
[ "$(printf '%s' "$run" | jq -r '.file')" = par.yml ] || fail "run record: file: $run"
par_id=$(printf '%s' "$run" | jq -r '.id')
expect_status 0 "$CDX" status "$par_id" --json
[ "$(printf '%s' "$OUT" | jq -r '[.jobs[] | select(.status == "success")] | length')" = 6 ] ||
	fail "cdx status of the make run: $OUT"

# ---- a job target runs that job and its needs, nothing else -----------------
rm -rf stamps
expect_status 0 run_make -j4 par/test/unit
[ "$(ls stamps | sort | tr '\n' ' ')" = "a.end a.start unit.end unit.start " ] ||
	fail "make par/test/unit ran: $(ls stamps)"
before a end unit start
[ "$(settled_status par)" = success ] || fail "make par/test/unit: run not success: $(runs_json par)"
[ "$(run_count par)" -eq 2 ] || fail "make par/test/unit: expected a second run record: $(runs_json par)"
[ "$(runs_json par | jq -r '.[0].jobs_success')" = 2 ] || fail "make par/test/unit: $(runs_json par)"

# a stage target: its jobs and their needs
rm -rf stamps
expect_status 0 run_make -j4 par/build
[ "$(ls stamps | sort | tr '\n' ' ')" = "a.end a.start b.end b.start c.end c.start " ] ||
	fail "make par/build ran: $(ls stamps)"
[ "$(settled_status par)" = success ] || fail "make par/build: run not success"
[ "$(run_count par)" -eq 3 ] || fail "make par/build: expected a third run record: $(runs_json par)"

# ---- prerequisites the makefile adds to job targets --------------------------
rm -rf stamps out
cp Makefile Makefile.plain
cat >>Makefile <<'EOF'
par/test/unit: out/app
out/app:
	@mkdir -p out && sleep 0.5 && date +%s%N >$@
EOF
expect_status 0 run_make -j4 par/test/unit
[ -f out/app ] || fail "the added prerequisite out/app was not made"
app=$(cat out/app)
[ "$app" -le "$(stamp unit start)" ] || fail "test/unit started before its added prerequisite out/app was made"
[ "$(settled_status par)" = success ] || fail "with an added prerequisite: run not success"
# up to date: make would not remake it, but run the jobs (phony) again
expect_status 0 run_make -n par/test/unit
expect_not_contains "mkdir -p out"
expect_contains " job --run "
mv Makefile.plain Makefile
[ "$(run_count par)" -eq 4 ] || fail "expected 4 runs of par by now: $(runs_json par)"

# ---- make -n again: no new run ------------------------------------------------
rm -rf stamps
expect_status 0 run_make -n -j4 par
[ ! -e stamps ] || fail "make -n ran a job"
sleep 0.3
[ "$(run_count par)" -eq 4 ] || fail "make -n recorded a run: $(runs_json par)"

# ---- make fails outside the jobs, or is killed: the run is no success --------
# a file prerequisite fails (exit 2, test/unit and the rest never run)
makefile prereq.mk "load $CDX_SO" '$(cdx-pipeline par.yml)' 'par/test/unit: app' 'app: ; @exit 1'
rm -rf stamps
expect_status 2 run_make -f prereq.mk -j4 par
st=$(settled_status par)
[ "$st" = failed ] || fail "make failed (exit 2, test/unit and the rest never ran): the run is recorded $st"

# make killed with SIGKILL while jobs run
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

# ---- pinned lanes under -jN ----------------------------------------------------
# with -j2 some job waits (order-only) for the job before it in its lane
lanes() { run_make -pn "$@" 2>/dev/null | grep -c '^par/[a-z]*/[a-z0-9]*: .*|' || true; }
[ "$(lanes -j2 par)" -gt 0 ] || fail "make -j2 par: no lane order"
[ "$(lanes -j2 -k par)" -eq 0 ] || fail "make -j2 -k par: lanes although -k"
[ "$(lanes -j2 --keep-going par)" -eq 0 ] || fail "make -j2 --keep-going par: lanes although -k"
[ "$(lanes -j2 -sk par)" -eq 0 ] || fail "make -j2 -sk par: lanes although -k"
[ "$(lanes par)" -eq 0 ] || fail "make par (no -j): lanes"
[ "$(lanes -j1 par)" -eq 0 ] || fail "make -j1 par: lanes"
[ "$(lanes -j2 par/test/e2e)" -eq 0 ] || fail "make -j2 par/test/e2e (a job goal): lanes"
[ "$(lanes -j2 par/test)" -eq 0 ] || fail "make -j2 par/test (a stage goal): lanes"
[ "$(lanes -j2)" -eq 0 ] || fail "make -j2 (the default goal): lanes"
[ "$(lanes -j2 par vars)" -gt 0 ] || fail "make -j2 par vars: no lane order"
[ "$(lanes -j 2 par)" -gt 0 ] || fail "make -j 2 par: no lane order"
[ "$(lanes --jobs=2 par)" -gt 0 ] || fail "make --jobs=2 par: no lane order"

# lanes.yml: under -j2 the whole pipeline as a goal pins test/unit behind
# docs/html; a goal that needs part of it runs only what it needs
makefile lanes.mk "load $CDX_SO" '$(cdx-pipeline lanes.yml)' 'unit: lanes/test/unit' 'all: lanes'
run_make -f lanes.mk -pn -j2 lanes | grep -q '^lanes/test/unit: lanes/build/compile | lanes/docs/html' ||
	fail "make -j2 lanes: expected test/unit pinned behind docs/html"
# a stage goal runs its jobs and their needs only
rm -rf stamps
expect_status 0 run_make -f lanes.mk -j2 lanes/test
[ ! -e stamps/html.start ] || fail "make -j2 lanes/test ran docs/html, which stage test does not need"
[ -e stamps/unit.end ] && [ -e stamps/compile.end ] || fail "make -j2 lanes/test: $(ls stamps)"
# a user target depending on one job
rm -rf stamps
expect_status 0 run_make -f lanes.mk -j2 unit
[ ! -e stamps/html.start ] || fail "make -j2 unit ran docs/html, which test/unit does not need"
[ -e stamps/unit.end ] || fail "make -j2 unit did not run test/unit"
# a user target depending on the whole pipeline runs it all
rm -rf stamps
expect_status 0 run_make -f lanes.mk -j2 all
[ -e stamps/html.end ] && [ -e stamps/unit.end ] || fail "make -j2 all: $(ls stamps)"

# ---- a failing job ----------------------------------------------------------
rm -rf stamps
expect_status 2 run_make -j4 fail
expect_contains "cdx: fail/build/a FAILED (exit 3)"
expect_contains "fail/build/a] Error 1"
[ ! -e stamps/unit.start ] || fail "test/unit ran although build/a failed"
[ ! -e stamps/e2e.start ] || fail "make without -k started test/e2e after a failure"
[ "$(settled_status fail)" = failed ] || fail "failing job: run not recorded failed: $(runs_json fail)"
[ "$(run_count fail)" -eq 1 ] || fail "failing job: expected one run record: $(runs_json fail)"
[ "$(runs_json fail | jq -r '.[0].jobs_failed')" = 1 ] || fail "failing job: $(runs_json fail)"

# -k: the jobs that do not need the failure go on; the run failed
rm -rf stamps
expect_status 2 run_make -k -j4 fail
expect_contains "cdx: fail/build/a FAILED (exit 3)"
expect_contains "not remade because of errors"
stamp b end >/dev/null
stamp c end >/dev/null
stamp e2e end >/dev/null
[ ! -e stamps/unit.start ] || fail "make -k ran test/unit, which needs the failed build/a"
[ "$(settled_status fail)" = failed ] || fail "make -k: run not recorded failed: $(runs_json fail)"
[ "$(run_count fail)" -eq 2 ] || fail "make -k: expected a second run record"
[ "$(runs_json fail | jq -r '.[0].jobs_success')" = 3 ] || fail "make -k: 3 jobs should have succeeded: $(runs_json fail)"

# -k set in the makefile: the same (lanes off), however MAKEFLAGS spells it
# (make -pn cannot show the lanes here: -p and -n come first in $(MAKEFLAGS))
for flags in '-k' '-k -s' '--keep-going' '-s -k'; do
	makefile keep.mk "MAKEFLAGS += $flags" "load $CDX_SO" '$(cdx-pipeline fail.yml)'
	rm -rf stamps
	expect_status 2 run_make -f keep.mk -j2 fail
	[ -e stamps/c.end ] || fail "MAKEFLAGS += $flags: build/c (independent of the failed build/a) did not run: $OUT"
	[ -e stamps/e2e.end ] || fail "MAKEFLAGS += $flags: test/e2e did not run: $OUT"
	[ ! -e stamps/unit.start ] || fail "MAKEFLAGS += $flags: test/unit ran, which needs the failed build/a"
done

# ---- the pipeline's timeout: make fails, the run is recorded timeout ---------
rm -rf stamps
run_rc run_make timeout >/dev/null 2>&1
[ "$RC" -ne 0 ] || fail "timeout: 1s in the pipeline, a 3 s job, and make timeout exits 0"
st=$(settled_status timeout)
[ "$st" = timeout ] || fail "the run that exceeded the pipeline's timeout is recorded $st"

# ---- variables from make's command line ------------------------------------------
expect_status 0 run_make -s vars/build/show
[ "$OUT" = "CC=gcc CFLAGS=-O2 MODE=fast" ] || fail "vars: [$OUT]"
expect_status 0 run_make -s vars/build/show CC=clang
[ "$OUT" = "CC=clang CFLAGS=-O2 MODE=fast" ] || fail "make CC=clang: [$OUT]"
# (make expands command-line values: $$ is one $)
expect_status 0 run_make -s vars/build/show CC=clang 'CFLAGS=-O0 -g' MODE='slow; touch pwned-cl $$(x) `x`'
[ "$OUT" = "CC=clang CFLAGS=-O0 -g MODE=slow; touch pwned-cl \$(x) \`x\`" ] || fail "make CC= CFLAGS= MODE=: [$OUT]"
[ ! -e pwned-cl ] || fail "a command-line value was executed"
# as cdx run --var does
"$CDX" run vars.yml --only build/show --var CC=clang --var 'CFLAGS=-O0 -g' --var 'MODE=slow; touch pwned-cl $(x) `x`' \
	--output quiet >/dev/null || fail "cdx run vars.yml failed"
[ "$("$CDX" logs "$(runs_json vars | jq -r '.[0].id')" build/show)" = "$OUT" ] ||
	fail "cdx run --var and make VAR= differ"
# the environment does not override the file (as with cdx run)
expect_status 0 env CC=tcc $MAKE_ENV make -s vars/build/show
[ "$OUT" = "CC=gcc CFLAGS=-O2 MODE=fast" ] || fail "CC=tcc in the environment: [$OUT]"
expect_status 0 run_make -n vars/build/show CC=clang
expect_contains " --override CC build/show"
expect_not_contains "clang"
# a stage's environment too, as with cdx run --var
expect_status 0 run_make -s stageenv OPT=-O0 CC=clang
"$CDX" run stageenv.yml --var OPT=-O0 --var CC=clang --output quiet >/dev/null || fail "cdx run stageenv.yml"
want=$("$CDX" logs "$(runs_json stageenv | jq -r '.[0].id')" build/show)
[ "$want" = "CC=clang OPT=-O0" ] || fail "cdx run --var: [$want]"
[ "$OUT" = "$want" ] || fail "make stageenv OPT=-O0 shows [$OUT], cdx run --var OPT=-O0 [$want]"

# what a job sees: cdx's variables, the run of this make, not the spec
expect_status 0 run_make -s -j2 vars
expect_contains "pipeline=vars stage=build job=env attempt=1 run="
expect_contains "spec=unset"
expect_contains "specfd=none"
[ "$(settled_status vars)" = success ] || fail "make vars: not success"
id=$(runs_json vars | jq -r '.[0].id')
expect_contains "run=$id"
# a job that runs make gets no jobserver it cannot reach
expect_status 0 run_make -s -j2 submake
expect_contains "sub ran"
expect_not_contains "jobserver unavailable"

# ---- many fast jobs at once (16 under -j16): every job of every run recorded -
{
	echo "name: fast"
	echo "stages:"
	echo "  - name: s"
	echo "    jobs:"
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do echo "      - {name: j$i, script: echo $i}"; done
} >fast.yml
makefile fast.mk "load $CDX_SO" '$(cdx-pipeline fast.yml)'
i=0
while [ "$i" -lt 8 ]; do
	run_make -f fast.mk -s -j16 fast >/dev/null || fail "make -j16 fast failed"
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

# ---- characters that mean something to make or sh --------------------------------
# (one job at a time, so that make's output is the jobs' outputs in order)
run_make -n meta | sed 's|.* s/||' >meta.order # the order of the next make (history decides)
expect_status 0 run_make -s meta
make_out=$OUT
for n in 1 2 3 4 5 6 7 8 9; do
	[ ! -e "pwned$n" ] || fail "a value of meta.yml was executed (pwned$n)"
done
[ "$(settled_status meta)" = success ] || fail "make meta: not success: $(runs_json meta)"
make_run=$(runs_json meta | jq -r '.[0].id')
expect_status 0 "$CDX" run meta.yml -j 2 --output quiet
cdx_run=$(runs_json meta | jq -r '.[0].id')
for j in vars hash list simple jobvars; do
	"$CDX" logs "$make_run" "s/$j" >"make.$j" || fail "no log of s/$j in the make run"
	"$CDX" logs "$cdx_run" "s/$j" >"cdx.$j" || fail "no log of s/$j in the cdx run"
	cmp -s "make.$j" "cdx.$j" || fail "s/$j: make and cdx run differ: make: $(cat "make.$j") -- cdx run: $(cat "cdx.$j")"
done
# and what make showed is the same, in make's order
[ "$(wc -l <meta.order)" -eq 5 ] || fail "make -n meta: $(cat meta.order)"
: >meta.want
while read -r j; do cat "cdx.$j" >>meta.want; done <meta.order
[ "$make_out" = "$(cat meta.want)" ] || fail "make -s meta showed [$make_out], cdx run's jobs [$(cat meta.want)]"
# the expected texts, not only the same ones
[ "$(cat cdx.hash)" = "a#b\$\$c x#y \$(shell touch pwned8) # tab	end back\\slash \\" ] || fail "s/hash: $(cat cdx.hash)"
[ "$(sed -n 1p cdx.vars)" = '<"; touch pwned1; #>' ] || fail "s/vars: $(cat cdx.vars)"
[ "$(sed -n 2p cdx.vars)" = '<$(touch pwned2)>' ] || fail "s/vars: $(cat cdx.vars)"
[ "$(sed -n 5p cdx.vars)" = '<$$(touch pwned5) $(shell touch pwned6) \>' ] || fail "s/vars: $(cat cdx.vars)"
[ "$(head -n 1 cdx.list)" = "one # not a comment 3" ] || fail "s/list: $(cat cdx.list)"
[ "$(cat cdx.jobvars)" = '[$(shell touch pwned9)#x]' ] || fail "s/jobvars: $(cat cdx.jobvars)"
# make echoes the script as written
expect_status 0 run_make meta/s/simple
expect_contains "echo a#b 100% x:y"
for n in 1 2 3 4 5 6 7 8 9; do
	[ ! -e "pwned$n" ] || fail "a value of meta.yml was executed (pwned$n)"
done

# ---- --output-sync keeps each job's echo and output together --------------------
expect_status 0 run_make -j4 --output-sync=target ci
for j in 'echo lint:lint' 'echo unit:unit'; do
	printf '%s\n' "$OUT" | grep -A1 -x "${j%%:*}" | grep -qx "${j#*:}" ||
		fail "--output-sync: ${j%%:*} not followed by its output: $OUT"
done

echo "t_make_pipeline: ok"
