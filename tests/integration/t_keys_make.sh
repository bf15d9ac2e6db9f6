#!/bin/sh
# t_keys_make.sh — when: under make with $(cdx-pipeline): manual jobs are
# no prerequisites of the pipeline's target and run when named (make
# NAME/STAGE/JOB), with what needs a held-back manual job; an on_failure
# job is not run by make when all passes; when the pipeline fails, the
# run's watcher runs the always and on_failure jobs make did not run (make
# has no "finally"), recorded in the same run; a job that a rule makes
# manual (make's command-line variables count) is held back the same way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/make_lib.sh"
export RES="$T/res"
mkdir "$RES"

cat >kwhen.yml <<'EOF2'
name: kwhen
stages:
  - name: build
    jobs:
      - {name: compile, script: 'echo compile >>"$RES/log"; [ "${FAIL:-0}" = 0 ]'}
  - name: test
    jobs:
      - {name: unit, script: 'echo unit >>"$RES/log"'}
  - name: cleanup
    jobs:
      - {name: clean, when: always, script: 'echo clean >>"$RES/log"'}
      - {name: notify, when: on_failure, script: 'echo notify >>"$RES/log"'}
  - name: deploy
    jobs:
      - {name: prod, when: manual, allow_failure: false, script: 'echo prod >>"$RES/log"'}
      - {name: smoke, needs: [deploy/prod], script: 'echo smoke >>"$RES/log"'}
      - {name: docs, when: manual, script: 'echo docs >>"$RES/log"'}
      - {name: after_docs, needs: [deploy/docs], script: 'echo after_docs >>"$RES/log"'}
EOF2
makefile Makefile "load $CDX_SO" '$(cdx-pipeline kwhen.yml)'

# all passes: no notify, no manual job, nothing held back by prod
run_rc run_make kwhen >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make kwhen: $(cat make.out)"
[ "$(sort "$RES/log" | tr '\n' ' ')" = "after_docs clean compile unit " ] || fail "make ran: $(sort "$RES/log" | tr '\n' ' ')"
[ "$(settled_status kwhen)" = success ] || fail "run status: $(settled_status kwhen)"

# a manual job runs when named, and what it holds back with it
rm -f "$RES/log"
run_rc run_make kwhen/deploy/smoke >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make smoke: $(cat make.out)"
[ "$(tr '\n' ' ' <"$RES/log")" = "compile unit clean prod smoke " ] || fail "make smoke ran: $(tr '\n' ' ' <"$RES/log")"

# a failure: make stops; the watcher runs clean (always) and notify
rm -f "$RES/log"
run_rc run_make kwhen FAIL=1 >make.out 2>&1
[ "$RC" -ne 0 ] || fail "make should fail"
[ "$(settled_status kwhen)" = failed ] || fail "failed run status: $(settled_status kwhen)"
[ "$(sort "$RES/log" | tr '\n' ' ')" = "clean compile notify " ] || fail "after a failure ran: $(sort "$RES/log" | tr '\n' ' ')"
id=$(runs_json kwhen | jq -r '.[0].id')
[ "$(job_field "$id" cleanup/notify .status)" = success ] || fail "notify not recorded in the run"
grep -q prod "$RES/log" && fail "a manual job ran after a failure"

# a rule that makes a job manual for this make (DEPLOY=yes on make's
# command line): no prerequisite of the pipeline, runs when named
cat >krule.yml <<'EOF2'
name: krule
stages:
  - name: build
    jobs:
      - {name: compile, script: 'echo compile >>"$RES/log"'}
  - name: deploy
    jobs:
      - name: prod
        rules: [{if: '$DEPLOY == "yes"', when: manual}, {when: on_success}]
        script: 'echo prod >>"$RES/log"'
EOF2
makefile Makefile "load $CDX_SO" '$(cdx-pipeline krule.yml)'
rm -f "$RES/log"
run_rc run_make krule DEPLOY=no >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make krule: $(cat make.out)"
[ "$(tr '\n' ' ' <"$RES/log")" = "compile prod " ] || fail "krule DEPLOY=no ran: $(tr '\n' ' ' <"$RES/log")"
rm -f "$RES/log"
run_rc run_make krule DEPLOY=yes >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make krule DEPLOY=yes: $(cat make.out)"
[ "$(tr '\n' ' ' <"$RES/log")" = "compile " ] || fail "a job a rule made manual ran: $(tr '\n' ' ' <"$RES/log")"
# not even a prerequisite: make -n lists no recipe of it
run_make -n krule DEPLOY=yes >make.out 2>&1 || fail "make -n krule: $(cat make.out)"
grep -q 'build/compile' make.out || fail "make -n lists no job: $(cat make.out)"
grep -q 'deploy/prod' make.out && fail "a job a rule made manual is a prerequisite: $(cat make.out)"
rm -f "$RES/log"
run_rc run_make krule/deploy/prod DEPLOY=yes >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make krule/deploy/prod: $(cat make.out)"
[ "$(tr '\n' ' ' <"$RES/log")" = "compile prod " ] || fail "the named manual job: $(tr '\n' ' ' <"$RES/log")"
echo "PASS t_keys_make"
