#!/bin/sh
# t_deploy_fail.sh — failed verification.  A command health check failing
# for a version: exit 1, rolled back automatically, the previous version
# serves (state files written by the hooks say so), the history and `cdx
# status` show the cause — for blue_green (before and after the switch),
# canary (analysis above max) and rolling (the touched instances restored,
# newest first, the others untouched).  on_failure: manual leaves the
# failed state.  An irreversible hook followed by a failure freezes the
# deployment: nothing rolled back, an event recorded, `cdx rollback`
# refuses without --force and works with it.  A canary whose analysis never has data (no_data: pause)
# fails after max_pause, with the pause recorded once.  scale_down_delay stops the
# old slot after the delay (at once for 0s), after which going back
# reinstalls it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/deploy_lib.sh"

{
	web_app_yaml
	echo "      staging: {strategy: blue_green, $SLOW_SCALE_DOWN}"
	echo "      manual:"
	echo "        rollback: {on_failure: manual}"
	echo "        $SLOW_SCALE_DOWN"
	echo "        slots: {m1: {}, m2: {}}"
	echo "      canary:"
	echo "        strategy: canary"
	echo "        slots: {c1: {}, c2: {}}"
	echo "        $SLOW_SCALE_DOWN"
	echo "        canary:"
	echo "          steps: [25, 50]"
	echo "          analysis: {command: 'case \$CDX_VERSION in noisy*) echo 0.5;; *) echo 0.001;; esac', max: 0.01}"
	echo "      nodata:"
	echo "        strategy: canary"
	echo "        slots: {n1: {}, n2: {}}"
	echo "        $SLOW_SCALE_DOWN"
	echo "        canary:"
	echo "          steps: [20]"
	echo "          analysis: {command: 'case \$CDX_VERSION in quiet*) ;; *) echo 0.001;; esac', max: 0.01, no_data: pause, max_pause: 3s}"
	echo "      slow:"
	echo "        strategy: canary"
	echo "        slots: {s1: {}, s2: {}}"
	echo "        $SLOW_SCALE_DOWN"
	echo "        canary: {steps: [20], pause: 30s}"
	echo "      quick:"
	echo "        slots: {q1: {}, q2: {}}"
	echo "        blue_green: {scale_down_delay: 0s}"
	echo "      later:"
	echo "        slots: {l1: {}, l2: {}}"
	echo "        blue_green: {scale_down_delay: 1s}"
	echo "      fleet:"
	echo "        instances: {i1: {}, i2: {}, i3: {}, i4: {}}"
	echo "      migr:"
	echo "        slots: {g1: {}, g2: {}}"
	echo "        $SLOW_SCALE_DOWN"
	echo "        hooks:"
	echo "          deploy: {run: 'echo \"\$CDX_VERSION\" >> state/migrations', irreversible: true}"
	echo "          start: '$H_START'"
	echo "          stop: '$H_STOP'"
	echo "          switch: '$H_SWITCH'"
} >cdx.yml
"$CDX" validate cdx.yml >/dev/null || fail "cdx.yml is invalid: $("$CDX" validate cdx.yml 2>&1)"

# ---- blue_green, failing in preview: never switched -------------------------------------
"$CDX" deploy web staging 1.0 >/dev/null 2>&1 || fail "deploy 1.0"
"$CDX" deploy web staging 1.1 >/dev/null 2>&1 || fail "deploy 1.1"
[ "$(live_version)" = 1.1 ] || fail "1.1 does not serve: $(live_version)"
: >state/log
expect_status 1 "$CDX" deploy web staging bad1
expect_contains "web/staging bad1 failed: health check"
expect_contains "failed 1/1 on slot blue: exit 1; rolled back, now serving 1.1"
[ "$(cat state/live)" = green ] || fail "traffic moved: live=$(cat state/live)"
[ "$(live_version)" = 1.1 ] || fail "after the rollback $(live_version) serves"
[ ! -f state/blue ] || fail "the failed slot was not stopped: blue=$(cat state/blue)"
[ "$(current_link web staging)" = releases/1.1 ] || fail "current -> $(current_link web staging)"
"$CDX" history web staging --json >h.json
[ "$(jq -r '.[-1].state' h.json)" = rolled_back ] || fail "history: $(jq -c '.[-1]' h.json)"
jq -e '.[-1].cause | test("health check .* failed 1/1 on slot blue: exit 1")' h.json >/dev/null ||
	fail "history cause: $(jq -r '.[-1].cause' h.json)"
[ "$(jq -r '.[-1].serving' h.json)" = 1.1 ] || fail "history serving: $(jq -c '.[-1]' h.json)"
ID=$(jq -r '.[-1].id' h.json)
"$CDX" status "$ID" --json >st.json
[ "$(jq -r '.transitions | map(.state) | join(" ")' st.json)" = \
	"pending deploying verifying failed rolling_back rolling_back rolled_back" ] ||
	fail "transitions: $(jq -c '.transitions | map(.state)' st.json)"
[ "$(jq '[.checks[] | select(.ok == false)] | length' st.json)" -eq 1 ] || fail "checks: $(jq -c .checks st.json)"
[ "$(jcount '.t == "event" and .kind == "rolled_back" and .version == "bad1"')" -eq 1 ] || fail "no rolled_back event"

# ---- blue_green, failing after the switch: switched back -----------------------------------
expect_status 1 "$CDX" deploy web staging late1
expect_contains "rolled back, now serving 1.1"
[ "$(cat state/live)" = green ] || fail "traffic was not switched back: live=$(cat state/live)"
[ "$(live_version)" = 1.1 ] || fail "after the rollback $(live_version) serves"
[ ! -f state/blue ] || fail "the failed slot was not stopped"
# and the next good deployment goes on from there
expect_status 0 "$CDX" deploy web staging 1.2
[ "$(live_version)" = 1.2 ] || fail "1.2 does not serve"

# ---- canary: analysis above max at the first step ---------------------------------------------
"$CDX" deploy web canary 1.0 >/dev/null 2>&1 || fail "canary 1.0"
expect_status 1 "$CDX" deploy web canary noisy1
expect_contains "analysis 0.5 above max 0.01 at 25%"
expect_contains "now serving 1.0"
[ "$(cat state/live)" = c1 ] || fail "canary: live=$(cat state/live)"
[ "$(cat state/weight)" = "c2 0" ] || fail "canary: the weight was not taken back: $(cat state/weight)"
[ ! -f state/c2 ] || fail "canary: the canary slot was not stopped"
expect_status 0 "$CDX" deploy web canary 1.1
[ "$(live_version)" = 1.1 ] || fail "canary 1.1 does not serve"

# ---- canary whose analysis never has data (no_data: pause): max_pause ends it
# as failed, rolled back; the paused analysis is recorded once, not every second
"$CDX" deploy web nodata 1.1 >/dev/null 2>&1 || fail "nodata 1.1"
t0=$(date +%s)
expect_status 1 "$CDX" deploy web nodata quiet1
expect_contains "no data at 20% for 3000 ms (max_pause)"
expect_contains "rolled back"
[ $(( $(date +%s) - t0 )) -lt 60 ] || fail "max_pause 3s: the deployment took $(( $(date +%s) - t0 )) s"
[ "$(live_version)" = 1.1 ] || fail "after max_pause: $(live_version)"
id=$("$CDX" deployments web nodata --json | jq -r '.[-1].id')
n=$(jcount "select(.t == \"check\" and .deployment == \"$id\" and .kind == \"analysis\")")
[ "$n" = 1 ] || fail "max_pause: $n analysis records while paused, expected 1"
n=$(jcount "select(.t == \"transition\" and .deployment == \"$id\" and ((.msg // \"\") | test(\"no data\")))")
[ "$n" = 1 ] || fail "max_pause: $n pause transitions, expected 1"

# ---- canary paused for 30 s: promote, abort, SIGINT ------------------------------------------
"$CDX" deploy web slow 1.0 >/dev/null 2>&1 || fail "slow 1.0"
paused() { # a deployment in the background, once its canary has 20%
	rm -f state/weight
	"$CDX" deploy web slow "$1" >slow.out 2>&1 &
	bg=$!
	i=0
	until grep -q ' 20$' state/weight 2>/dev/null; do
		i=$((i + 1)); [ "$i" -lt 200 ] || fail "slow $1: the canary never got 20%: $(cat slow.out)"
		sleep 0.05
	done
}
paused 1.1
t0=$(date +%s)
expect_status 0 "$CDX" promote web slow
wait "$bg" || fail "promoted deployment failed: $(cat slow.out)"
[ $(( $(date +%s) - t0 )) -lt 15 ] || fail "promote did not skip the pause"
[ "$(live_version)" = 1.1 ] || fail "after promote: $(live_version)"
paused 1.2
expect_status 0 "$CDX" abort web slow
run_rc wait "$bg"
[ "$RC" -eq 1 ] || fail "aborted deployment: exit $RC: $(cat slow.out)"
grep -q "aborted" slow.out || fail "abort: $(cat slow.out)"
[ "$(live_version)" = 1.1 ] || fail "after abort: $(live_version)"
[ "$(cat state/weight)" = "s1 0" ] || fail "after abort the canary has $(cat state/weight)"
# who promoted and who aborted: in history (text and JSON) and status
me=$(id -un)
"$CDX" history web slow --json | jq -e --arg me "$me" \
	'[.[] | .controls[]? | select(.user == $me) | .kind] == ["promote", "abort"]' >/dev/null ||
	fail "history --json: $("$CDX" history web slow --json | jq -c '[.[] | .controls]')"
expect_status 0 "$CDX" history web slow
expect_contains "promoted by $me@"
expect_contains "aborted by $me@"
aborted=$("$CDX" history web slow --json | jq -r '.[] | select(.controls[]?.kind == "abort") | .id')
expect_status 0 "$CDX" status "$aborted"
expect_contains "aborted by $me@$(uname -n) at "
paused 1.3
kill -INT "$bg"
run_rc wait "$bg"
[ "$RC" -eq 130 ] || fail "interrupted deployment: exit $RC: $(cat slow.out)"
grep -q "rolled back, now serving 1.1" slow.out || fail "SIGINT: $(cat slow.out)"
[ "$(live_version)" = 1.1 ] || fail "after SIGINT: $(live_version)"
expect_status 2 "$CDX" promote web slow
expect_contains "no deployment of web/slow is in progress"

# ---- rolling: fails on the third instance; exactly the touched ones restored ------------
"$CDX" deploy web fleet 1.0 >/dev/null 2>&1 || fail "fleet 1.0"
: >state/log
expect_status 1 "$CDX" deploy web fleet bad-i3
expect_contains "on instance i3"
[ "$(instance_versions i1 i2 i3 i4)" = "1.0 1.0 1.0 1.0" ] || fail "fleet: $(instance_versions i1 i2 i3 i4)"
want="start i1 bad-i3
start i2 bad-i3
start i3 bad-i3
start i3 1.0
start i2 1.0
start i1 1.0"
[ "$(cat state/log)" = "$want" ] || fail "fleet starts: $(cat state/log)"
[ "$("$CDX" deployments web fleet --json | jq -r '.[-1].state')" = rolled_back ] || fail "fleet state"

# ---- on_failure: manual ------------------------------------------------------------------------------
"$CDX" deploy web manual 1.0 >/dev/null 2>&1 || fail "manual 1.0"
expect_status 1 "$CDX" deploy web manual bad2
expect_contains "left as it is (on_failure: manual)"
[ "$(cat state/m2)" = bad2 ] || fail "manual: the failed slot was changed: $(cat state/m2 2>&1)"
[ "$(live_version)" = 1.0 ] || fail "manual: $(live_version) serves"
"$CDX" deployments web manual --json >m.json
[ "$(jq -r '.[-1].state' m.json)" = failed ] || fail "manual: $(jq -c '.[-1]' m.json)"
expect_status 0 "$CDX" recover
expect_contains "web/manual: ok"    # held for a person: not an interrupted deployment
[ "$("$CDX" deployments web manual --json | jq -r '.[-1].state')" = failed ] || fail "recover touched it"

# ---- irreversible -----------------------------------------------------------------------------------
"$CDX" deploy web migr 1.0 >/dev/null 2>&1 || fail "migr 1.0"
"$CDX" deploy web migr 1.1 >/dev/null 2>&1 || fail "migr 1.1"
expect_status 1 "$CDX" deploy web migr late2
expect_contains "frozen"
[ "$(live_version)" = late2 ] || fail "frozen: it was rolled back anyway: $(live_version)"
[ "$(tail -n 1 state/migrations)" = late2 ] || fail "migrations: $(cat state/migrations)"
"$CDX" deployments web migr --json >g.json
[ "$(jq -r '.[-1].state' g.json)" = failed ] || fail "frozen state: $(jq -c '.[-1]' g.json)"
[ "$(jcount '.t == "event" and .kind == "deployment_frozen" and .version == "late2"')" -eq 1 ] ||
	fail "no deployment_frozen event"
[ "$(jcount '.t == "transition" and .env == "migr" and .state == "failed" and .frozen == true')" -eq 1 ] ||
	fail "the failed transition is not marked frozen"
cp "$J" j.before
expect_status 2 "$CDX" rollback web migr
expect_contains "frozen"
expect_contains "--force"
cmp -s "$J" j.before || fail "a refused rollback wrote to the journal"
[ "$(live_version)" = late2 ] || fail "a refused rollback changed what serves"
expect_status 0 "$CDX" rollback web migr --force --reason "undo late2 by hand"
[ "$(live_version)" = 1.1 ] || fail "rollback --force: $(live_version) serves"
"$CDX" history web migr --json >g.json
[ "$(jq -r '.[-1].kind + " " + .[-1].state + " " + .[-1].version' g.json)" = "rollback succeeded 1.1" ] ||
	fail "history after --force: $(jq -c '.[-1]' g.json)"
[ "$(jq -r '.[-1].reason' g.json)" = "undo late2 by hand" ] || fail "reason: $(jq -c '.[-1]' g.json)"
# no longer frozen: a plain deployment works
expect_status 0 "$CDX" deploy web migr 1.3
[ "$(live_version)" = 1.3 ] || fail "after the unfreeze: $(live_version)"

# ---- scale_down_delay: the old slot is stopped after it (0s: at once) ----------------------------
"$CDX" deploy web quick 1.0 >/dev/null 2>&1 || fail "quick 1.0"
"$CDX" deploy web quick 1.1 >/dev/null 2>&1 || fail "quick 1.1"
[ "$(live_version)" = 1.1 ] || fail "quick: $(live_version)"
[ ! -f state/q1 ] || fail "scale_down_delay 0s: the old slot still runs $(cat state/q1)"
"$CDX" deploy web later 1.0 >/dev/null 2>&1 || fail "later 1.0"
"$CDX" deploy web later 1.1 >/dev/null 2>&1 || fail "later 1.1"
[ "$(cat state/l1)" = 1.0 ] || fail "scale_down_delay 1s: the old slot was stopped at once"
i=0
while [ -f state/l1 ]; do
	i=$((i + 1)); [ "$i" -lt 200 ] || fail "scale_down_delay 1s: the old slot still runs after 10 s"
	sleep 0.05
done
[ "$(live_version)" = 1.1 ] || fail "later: $(live_version)"
[ "$(jcount '.t == "transition" and .env == "later" and ((.msg // "") | startswith("scaled down slot l1"))')" -eq 1 ] ||
	fail "the scale-down is not recorded"
# going back now reinstalls the cold slot
: >state/log
expect_status 0 "$CDX" rollback web later
[ "$(live_version)" = 1.0 ] && [ "$(cat state/log)" = "start l1 1.0" ] || fail "rollback to a cold slot: $(cat state/log)"

journal_check >/dev/null
echo "t_deploy_fail: ok"
