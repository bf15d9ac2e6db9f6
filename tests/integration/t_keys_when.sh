#!/bin/sh
# t_keys_when.sh — when: through cdx run: a cleanup job with when: always
# runs after a failure (and when nothing failed); an on_failure notify job
# runs only when something it needs failed; a manual job waits, a run
# without a terminal ends with it recorded `manual` (its dependents
# skipped), and cdx play releases it: in a run that is still going (the run
# starts it), in a run that has ended (cdx play runs it as a part of that
# run), and with --play at the start.  The summary says why.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
export RES="$T/res"
mkdir "$RES"
run_id() { printf '%s\n' "$OUT" | sed -n 's/.*(run \([^)]*\))$/\1/p' | tail -n 1; }

cat >when.yml <<'EOF2'
name: when
variables: {FAIL: "0"}
stages:
  - name: build
    jobs:
      - {name: compile, script: 'echo compile >>"$RES/log"; [ "$FAIL" = 0 ]'}
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
EOF2
# a failure: cleanup and notify run, unit and the deploy stage do not
expect_status 1 "$CDX" run when.yml --var FAIL=1 -j 1
[ "$(tr '\n' ' ' <"$RES/log")" = "compile clean notify " ] || fail "after a failure ran: $(cat "$RES/log")"
expect_contains "skip    test/unit (a job it needs failed, or was not run)"
id=$(run_id)
[ "$(job_field "$id" cleanup/clean .status)" = success ] || fail "clean status"
[ "$(job_field "$id" cleanup/notify .status)" = success ] || fail "notify status"
[ "$(job_field "$id" test/unit .status)" = skipped ] || fail "unit status"

# success: no notify; the blocking manual job ends `manual`, smoke skipped
rm -f "$RES/log"
expect_status 0 "$CDX" run when.yml -j 1 </dev/null
[ "$(tr '\n' ' ' <"$RES/log")" = "compile unit clean " ] || fail "success ran: $(cat "$RES/log")"
expect_contains "skip    cleanup/notify (when: on_failure, and nothing it needs failed)"
expect_contains "manual  deploy/prod (manual, not played: cdx play"
expect_contains "1 manual"
id=$(run_id)
[ "$(job_field "$id" deploy/prod .status)" = manual ] || fail "prod should be recorded manual"
[ "$(job_field "$id" deploy/smoke .status)" = skipped ] || fail "smoke should be skipped"

# cdx play after the run ended: the job runs now, in that run
rm -f "$RES/log"
expect_status 0 "$CDX" play "$id" deploy/prod
[ "$(cat "$RES/log")" = prod ] || fail "cdx play did not run prod: $OUT"
[ "$(job_field "$id" deploy/prod .status)" = success ] || fail "prod after play: $(job_field "$id" deploy/prod .status)"
expect_status 2 "$CDX" play "$id" deploy/prod
expect_contains "no manual job waiting"
expect_status 2 "$CDX" play "$id" test/unit

# a job that a rule makes manual is played the same way
cat >rule.yml <<'EOF2'
name: rule
stages:
  - name: s
    jobs:
      - {name: gate, rules: [{when: manual}], script: 'echo gate >>"$RES/log"'}
EOF2
rm -f "$RES/log"
expect_status 0 "$CDX" run rule.yml </dev/null
rid=$(run_id)
[ "$(job_field "$rid" s/gate .status)" = manual ] || fail "rule-manual gate: $(job_field "$rid" s/gate .status)"
expect_status 0 "$CDX" play "$rid" s/gate
[ "$(cat "$RES/log")" = gate ] || fail "cdx play of a rule-manual job: $OUT"

# --play at the start: prod and smoke run
rm -f "$RES/log"
expect_status 0 "$CDX" run when.yml -j 1 --play deploy/prod
[ "$(tr '\n' ' ' <"$RES/log")" = "compile unit clean prod smoke " ] || fail "--play ran: $(cat "$RES/log")"
expect_status 2 "$CDX" run when.yml --play test/unit
expect_contains "not a manual job"

# cdx play into a run that is still going: the run starts the job
cat >live.yml <<'EOF2'
name: live
stages:
  - name: s
    jobs:
      - name: waiter
        timeout: 60s
        script: while [ ! -f "$RES/prod.done" ]; do sleep 0.05; done
      - name: prod
        when: manual
        script: touch "$RES/prod.done"
EOF2
"$CDX" run live.yml >live.out 2>&1 &
pid=$!
i=0
while ! grep -q "cdx play" live.out 2>/dev/null; do
	i=$((i + 1)); [ "$i" -lt 600 ] || fail "no manual line: $(cat live.out)"; sleep 0.05
done
id=$("$CDX" runs live --json | jq -r '.[0].id')
expect_status 2 "$CDX" play "$id" s/nosuch
expect_contains "has no job s/nosuch"
expect_status 0 "$CDX" play "$id" s/prod
expect_contains "s/prod success"
run_rc wait "$pid"
[ "$RC" -eq 0 ] || fail "live run: $(cat live.out)"
grep -q "played s/prod" live.out || fail "run did not see the play: $(cat live.out)"
# --dry-run says when each job runs and why
expect_status 0 "$CDX" run when.yml --dry-run
expect_contains "on_failure cleanup/notify (when: on_failure)"
expect_contains "manual     deploy/prod (when: manual)"
expect_status 0 "$CDX" run when.yml --dry-run --json
[ "$(printf '%s' "$OUT" | jq -r '.decisions[] | select(.job == "cleanup/clean") | .when')" = always ] || fail "dry-run json: $OUT"
# on a terminal a run waits for its blocking manual job until it is played
if command -v script >/dev/null 2>&1; then
	cat >tty.yml <<'EOF2'
name: tty
stages:
  - name: s
    jobs:
      - {name: build, script: "true"}
      - {name: gate, when: manual, allow_failure: false, needs: [s/build], script: 'echo gate >>"$RES/tty"'}
      - {name: after, needs: [s/gate], script: 'echo after >>"$RES/tty"'}
EOF2
	script -qec "'$CDX' run tty.yml" /dev/null >tty.out 2>&1 &
	pid=$!
	i=0
	while ! grep -q "cdx play" tty.out 2>/dev/null; do
		i=$((i + 1)); [ "$i" -lt 600 ] || fail "tty: no manual line: $(cat tty.out)"; sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null || fail "the run on a terminal did not wait: $(cat tty.out)"
	id=$("$CDX" runs tty --json | jq -r '.[0].id')
	expect_status 0 "$CDX" play "$id" s/gate
	run_rc wait "$pid"
	[ "$RC" -eq 0 ] || fail "tty run: $(cat tty.out)"
	[ "$(tr '\n' ' ' <"$RES/tty")" = "gate after " ] || fail "tty ran: $(cat "$RES/tty")"
fi

# the same through a Redis store: the play travels as a record of it
if have_redis; then
	redis_state
	rm -f "$RES/prod.done"
	"$CDX" run live.yml >live2.out 2>&1 &
	pid=$!
	i=0
	while ! grep -q "cdx play" live2.out 2>/dev/null; do
		i=$((i + 1)); [ "$i" -lt 600 ] || fail "redis: no manual line: $(cat live2.out)"; sleep 0.05
	done
	id=$("$CDX" runs live --json | jq -r '.[0].id')
	expect_status 0 "$CDX" play "$id" s/prod
	run_rc wait "$pid"
	[ "$RC" -eq 0 ] || fail "redis live run: $(cat live2.out)"
fi
echo "PASS t_keys_when"
