#!/bin/sh
# t_rollback.sh — `cdx rollback` with each rollback strategy on slots and on
# instances: immediate (a warm slot takes the traffic back, no hook but the
# switch), blue_green (a cold slot reinstalled first, then checked), gradual
# (weights 25/50/75 with health, or instances in batches); --dry-run changes
# nothing (journal bytes, links and state files compared); --to,
# --deployment, --instances (only the named instances touched); refusals
# (never deployed, already serving, unknown instance) exit 2 without a
# record; `cdx history --json` has who, when, from, to, why, result and
# duration for every deployment and rollback.  A slot that lost the traffic
# in a rollback is scaled down after scale_down_delay like after a
# deployment (it used to keep running); a second rollback that would flip
# back to the version just rolled back from is refused as such (it used to
# say that no earlier version succeeded).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/deploy_lib.sh"

{
	web_app_yaml
	echo "      staging: {strategy: blue_green, $SLOW_SCALE_DOWN}"
	echo "      fleet:"
	echo "        instances: {i1: {}, i2: {}, i3: {}, i4: {}}"
	echo "        rolling: {batch: 2}"
} >cdx.yml

for v in 1.0 1.1 1.2; do
	"$CDX" deploy web staging "$v" >/dev/null 2>&1 || fail "deploy $v"
done
# blue 1.2 (live), green 1.1 (warm)
[ "$(cat state/live)" = blue ] && [ "$(cat state/green)" = 1.1 ] || fail "setup: live=$(cat state/live)"
ID12=$("$CDX" deployments web staging --json | jq -r '.[-1].id')

# ---- --dry-run changes nothing ----------------------------------------------------------------------
snapshot before.txt
expect_status 0 "$CDX" rollback web staging --dry-run
expect_contains "rollback of web/staging (immediate): 1.2 -> 1.1"
expect_contains "takes all traffic (warm)"
"$CDX" rollback web staging --dry-run --json --to 1.0 --strategy blue_green >dry.json
[ "$(jq -r '[.dry_run, .ok, .from, .to, .strategy] | join(" ")' dry.json)" = "true true 1.2 1.0 blue_green" ] ||
	fail "dry run plan: $(cat dry.json)"
[ "$(jq -r '.targets | map(.name + "=" + .action) | join(",")' dry.json)" = \
	"blue=loses its traffic,green=reinstall, then takes all traffic" ] || fail "dry run targets: $(jq -c .targets dry.json)"
snapshot after.txt
cmp -s before.txt after.txt || fail "--dry-run changed something: $(diff before.txt after.txt | head -5)"

# ---- immediate, --deployment: back to the warm slot, nothing reinstalled -------------------------
: >state/log
expect_status 0 "$CDX" rollback web staging --deployment "$ID12" --reason "1.2 is slow"
expect_contains "web/staging: rolled back to 1.1"
[ "$(cat state/live)" = green ] && [ "$(live_version)" = 1.1 ] || fail "immediate: $(live_version) serves"
[ ! -s state/log ] || fail "immediate to a warm slot restarted something: $(cat state/log)"
[ "$(current_link web staging)" = releases/1.1 ] || fail "current -> $(current_link web staging)"

# ---- blue_green to a cold slot: reinstalled, checked, switched --------------------------------------
expect_status 0 "$CDX" rollback web staging --to 1.0 --strategy blue_green
[ "$(cat state/live)" = blue ] && [ "$(live_version)" = 1.0 ] || fail "blue_green: $(live_version) serves"
[ "$(cat state/log)" = "start blue 1.0" ] || fail "blue_green: $(cat state/log)"
RB=$("$CDX" deployments web staging --json | jq -r '.[-1].id')
[ "$(dep_field "$RB" 'checks | map(.ok) | all')" = true ] || fail "blue_green: no or failed checks"
[ "$(dep_field "$RB" 'checks | length')" -ge 2 ] || fail "blue_green: the reinstalled slot was not checked before the switch"

# ---- gradual on slots: weights with health, then the switch ----------------------------------------
: >state/log
expect_status 0 "$CDX" rollback web staging --to 1.1 --strategy gradual
[ "$(cat state/live)" = green ] && [ "$(live_version)" = 1.1 ] || fail "gradual: $(live_version) serves"
want="weight green 25
weight green 50
weight green 75"
[ "$(cat state/log)" = "$want" ] || fail "gradual: $(cat state/log)"
[ ! -f state/weight ] || fail "gradual: a weight is left after the switch"

# ---- refusals: exit 2, nothing recorded ------------------------------------------------------------------
n=$(journal_check)
expect_status 2 "$CDX" rollback web staging --to 9.9
expect_contains "version 9.9 was never deployed successfully to web/staging"
expect_status 2 "$CDX" rollback web staging --to 1.1
expect_contains "1.1 already serves web/staging"
expect_status 2 "$CDX" rollback web staging --deployment nope
expect_contains "no deployment nope of web/staging"
expect_status 2 "$CDX" rollback web staging --strategy sideways
expect_contains "unknown rollback strategy 'sideways'"
expect_status 2 "$CDX" rollback web staging --instances i1
expect_contains "--instances applies to rolling environments"
expect_status 2 "$CDX" rollback web stagin
expect_contains "did you mean 'staging'"
[ "$(journal_check)" -eq "$n" ] || fail "a refused rollback was recorded"

# ---- instances ------------------------------------------------------------------------------------------
"$CDX" deploy web fleet 1.0 >/dev/null 2>&1 || fail "fleet 1.0"
"$CDX" deploy web fleet 2.0 >/dev/null 2>&1 || fail "fleet 2.0"
snapshot before.txt
expect_status 0 "$CDX" rollback web fleet --instances i2,i4 --dry-run --to 1.0
expect_contains "untouched"
"$CDX" rollback web fleet --instances i2,i4 --dry-run --json >dry.json
[ "$(jq -r '.targets | map(.name + "=" + .action) | join(",")' dry.json)" = \
	"i1=untouched,i2=restart with the target,i3=untouched,i4=restart with the target" ] ||
	fail "instances dry run: $(jq -c .targets dry.json)"
snapshot after.txt
cmp -s before.txt after.txt || fail "--dry-run changed something: $(diff before.txt after.txt | head -5)"
expect_status 2 "$CDX" rollback web fleet --instances i2,i9
expect_contains "unknown instance 'i9' of web/fleet"

# a subset touches only the named instances
: >state/log
expect_status 0 "$CDX" rollback web fleet --instances i2,i4 --to 1.0
[ "$(instance_versions i1 i2 i3 i4)" = "2.0 1.0 2.0 1.0" ] || fail "subset: $(instance_versions i1 i2 i3 i4)"
[ "$(sort state/log | tr '\n' ' ')" = "start i2 1.0 start i4 1.0 " ] || fail "subset started: $(cat state/log)"

# gradual: the rest, checked in batches
: >state/log
expect_status 0 "$CDX" rollback web fleet --strategy gradual --to 1.0
[ "$(instance_versions i1 i2 i3 i4)" = "1.0 1.0 1.0 1.0" ] || fail "gradual: $(instance_versions i1 i2 i3 i4)"
[ "$(cat state/log | tr '\n' ' ')" = "start i1 1.0 start i3 1.0 " ] || fail "gradual started: $(cat state/log)"
RB=$("$CDX" deployments web fleet --json | jq -r '.[-1].id')
"$CDX" status "$RB" --json >st.json
[ "$(jq -r '.transitions | map(.msg // "") | map(select(startswith("health of instance"))) | join(",")' st.json)" = \
	"health of instance i1,health of instance i3" ] || fail "gradual checks: $(jq -c '.transitions | map(.msg)' st.json)"

# immediate: all at once
"$CDX" deploy web fleet 3.0 >/dev/null 2>&1 || fail "fleet 3.0"
: >state/log
expect_status 0 "$CDX" rollback web fleet
[ "$(instance_versions i1 i2 i3 i4)" = "1.0 1.0 1.0 1.0" ] || fail "immediate: $(instance_versions i1 i2 i3 i4)"
[ "$(wc -l <state/log)" -eq 4 ] || fail "immediate started: $(cat state/log)"
expect_status 2 "$CDX" rollback web fleet --strategy blue_green
expect_contains "rollback strategy blue_green needs slots"

# ---- the history: who, when, from, to, why, result, duration -------------------------------------------
"$CDX" history web staging --json >h.json
[ "$(jq length h.json)" -eq 6 ] || fail "history: $(jq length h.json) entries, want 6"
[ "$(jq -r 'map(.kind) | join(" ")' h.json)" = "deploy deploy deploy rollback rollback rollback" ] ||
	fail "history kinds: $(jq -c 'map(.kind)' h.json)"
jq -e 'all(.[]; (.user | length > 0) and (.host | length > 0) and (.start_ms > 0) and (.end_ms >= .start_ms)
	and (.duration_ms >= 0) and (.state == "succeeded") and has("previous") and (.version | length > 0))' h.json \
	>/dev/null || fail "history fields: $(jq -c '.[0]' h.json)"
[ "$(jq -r '.[3] | [.previous, .version, .reason, .strategy] | join(" ")' h.json)" = "1.2 1.1 1.2 is slow immediate" ] ||
	fail "history of the first rollback: $(jq -c '.[3]' h.json)"
[ "$(jq -r '.[4] | [.previous, .version, .strategy] | join(" ")' h.json)" = "1.1 1.0 blue_green" ] ||
	fail "history of the second rollback: $(jq -c '.[4]' h.json)"
expect_status 0 "$CDX" history web staging
expect_contains "rollback web/staging 1.2 -> 1.1  succeeded"
expect_contains "reason: 1.2 is slow"
expect_status 2 "$CDX" history web nope

# ---- the slot that lost the traffic is scaled down; no flip back -----------------------------
use_project p2
{
	web_app_yaml
	echo "      staging: {strategy: blue_green, blue_green: {scale_down_delay: 1s}}"
} >cdx.yml
"$CDX" deploy web staging 1.0 >/dev/null 2>&1 || fail "p2: deploy 1.0"
"$CDX" deploy web staging 1.1 >/dev/null 2>&1 || fail "p2: deploy 1.1"
i=0
while [ -f state/blue ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ ! -f state/blue ] || fail "p2: the old slot blue was not scaled down after the deployment"
"$CDX" rollback web staging --json >rb.json 2>rb.err || fail "p2: rollback: $(cat rb.err)"
[ "$(jq -r '.scale_down | [.slot, .version] | join(" ")' rb.json)" = "green 1.1" ] ||
	fail "p2: the rollback schedules no scale-down: $(cat rb.json)"
[ "$(cat state/live)" = blue ] && [ "$(live_version)" = 1.0 ] || fail "p2: $(live_version) serves"
i=0
while [ -f state/green ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ ! -f state/green ] || fail "p2: slot green, which lost the traffic in the rollback, is still running"
RB=$("$CDX" deployments web staging --json | jq -r '.[-1].id')
i=0
until "$CDX" status "$RB" | grep -q "scaled down slot green (1.1)" || [ "$i" -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
"$CDX" status "$RB" | grep -q "scaled down slot green (1.1)" || fail "p2: no scale-down recorded: $("$CDX" status "$RB")"
[ "$(live_version)" = 1.0 ] || fail "p2: the scale-down touched the live slot: $(live_version) serves"
# a second rollback would go back to 1.1, the version just rolled back from
n=$(journal_check)
expect_status 2 "$CDX" rollback web staging
expect_contains "refusing to roll back again: 1.0 -> 1.1 -> 1.0 would flip back to 1.1, the version just rolled back from; use --to VERSION"
expect_not_contains "no earlier version succeeded"
[ "$(journal_check)" -eq "$n" ] || fail "p2: a refused rollback was recorded"
expect_status 0 "$CDX" rollback web staging --to 1.1
[ "$(live_version)" = 1.1 ] || fail "p2: --to 1.1: $(live_version) serves"

journal_check >/dev/null
echo "t_rollback: ok"
