#!/bin/sh
# t_recover_crash.sh — kill -9 of `cdx deploy` at every state transition of
# each strategy.  CDX_TEST_CRASH_AT=N makes cdx SIGKILL itself right after
# its Nth durable transition record; for N = 1 .. (transitions of a full
# deployment), in an environment serving a known version:
#   - `cdx recover` brings it back to one consistent version: the previous
#     one, or the new one when the crash came after `succeeded` — the
#     hooks' state files (live slot, canary weight, every instance) agree
#     with what cdx says serves;
#   - a slot or instance that the crashed deployment started runs its
#     version no more (a new slot started before the crash is stopped);
#   - the history shows the interruption and the recovery (state
#     recovered, cause interrupted), and the N records written before the
#     crash are all there, in order;
#   - every line of the journal is a whole, valid record.
# Also: a failing deployment killed during its own rollback and a recovery
# killed half way are recovered; a deployment started after a crash
# recovers first by itself; a rollback killed half way is recovered to its
# own target; a first deployment killed half way leaves nothing running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/deploy_lib.sh"

# project DIR STRATEGY-YAML...: a project of its own (state files and journal)
project() {
	use_project "$1"
	shift
	{
		web_app_yaml
		echo "      prod:"
		for l in "$@"; do echo "        $l"; done
	} >cdx.yml
}

# recovered SERVING: cdx recover --json recovers one deployment, after
# which SERVING serves ("null": nothing)
recovered() {
	"$CDX" recover --json >rec.json 2>/dev/null || fail "$CASE: recover failed: $(cat rec.json)"
	[ "$(jq -r '.[0].result + " " + (.[0].serving | tostring)' rec.json)" = "recovered $1" ] || fail "$CASE: $(cat rec.json)"
}

# consistent V: the environment serves V everywhere traffic goes
consistent() {
	want=$1
	case $KIND in
	slots)
		[ "$(live_version)" = "$want" ] || fail "$CASE: the live slot runs $(live_version), want $want"
		if [ -f state/weight ]; then
			set -- $(cat state/weight)
			[ "$2" = 0 ] || fail "$CASE: a canary still has weight: $(cat state/weight)"
		fi
		;;
	instances)
		[ "$(instance_versions r1 r2)" = "$want $want" ] ||
			fail "$CASE: instances run $(instance_versions r1 r2), want $want"
		;;
	esac
	[ "$(current_link web prod)" = "releases/$want" ] || fail "$CASE: current -> $(current_link web prod), want $want"
}

sweep() { # sweep NAME KIND: crash at every transition, recover, check
	NAME=$1
	KIND=$2
	"$CDX" deploy web prod 1.0 >/dev/null 2>&1 || fail "$NAME: deploy 1.0"
	"$CDX" deploy web prod 1.1 --json >full.json 2>/dev/null || fail "$NAME: deploy 1.1"
	states=$(dep_field "$(jq -r .id full.json)" 'transitions | map(.state) | join(" ")')
	total=$(echo "$states" | wc -w)
	[ "$total" -ge 6 ] || fail "$NAME: a full deployment has only $total transitions: $states"
	cur=1.1
	n=1
	while [ "$n" -le "$total" ]; do
		CASE="$NAME crash at $n/$total"
		v="c$n"
		before=$(wc -l <"$J")
		run_rc env CDX_TEST_CRASH_AT=$n "$CDX" deploy web prod "$v" >crash.out 2>&1
		[ "$RC" -eq 137 ] || fail "$CASE: cdx did not die by SIGKILL (exit $RC): $(cat crash.out)"
		[ "$(wc -l <"$J")" -gt "$before" ] || fail "$CASE: nothing recorded"
		# cdx recover
		"$CDX" recover --json >rec.json 2>rec.err || fail "$CASE: recover failed: $(cat rec.json rec.err)"
		id=$("$CDX" deployments web prod -n 1 --json | jq -r '.[0].id')
		"$CDX" status "$id" --json >st.json
		wantn=$(echo "$states" | cut -d' ' -f"1-$n")
		[ "$(jq -r --argjson n "$n" '.version + "|" + (.transitions[:$n] | map(.state) | join(" "))' st.json)" = \
			"$v|$wantn" ] || fail "$CASE: recorded $(jq -c '[.version, (.transitions | map(.state))]' st.json), want $v [$wantn]"
		if [ "$n" -lt "$total" ]; then
			[ "$(jq -r '.[0].result + " " + .[0].deployment' rec.json)" = "recovered $id" ] ||
				fail "$CASE: recover: $(cat rec.json)"
			[ "$(jq -r '[.state, .cause, any(.transitions[]; (.msg // "") | startswith("recovering: interrupted in state"))]
				| map(tostring) | join(" ")' st.json)" = "recovered interrupted true" ] ||
				fail "$CASE: the recovery is not recorded: $(jq -c '[.state, .cause, .transitions[-3:]]' st.json)"
		else
			[ "$(jq -r '.[0].result' rec.json)" = ok ] || fail "$CASE: recover after succeeded: $(cat rec.json)"
			cur=$v
		fi
		[ "$(jq -r '.[0].serving' rec.json)" = "$cur" ] || fail "$CASE: cdx says $(jq -r '.[0].serving' rec.json) serves, want $cur"
		consistent "$cur"
		if [ "$n" -lt "$total" ]; then
			for f in state/*; do
				case ${f#state/} in log | live | weight) continue ;; esac
				[ "$(cat "$f")" != "$v" ] || fail "$CASE: ${f#state/} still runs the abandoned $v"
			done
		fi
		if [ "$n" -eq 2 ]; then
			# the history shows it; a second recover has nothing to do
			"$CDX" history web prod >hist.txt
			grep "$id" hist.txt | grep -q "recovered.*cause: interrupted" || fail "$CASE: history: $(grep "$id" hist.txt)"
			"$CDX" recover --json >rec.json 2>/dev/null || fail "$CASE: second recover failed"
			[ "$(jq -r '.[0].result' rec.json)" = ok ] || fail "$CASE: second recover: $(cat rec.json)"
		fi
		n=$((n + 1))
	done
	journal_check >/dev/null

	# a deployment after a crash recovers first by itself
	CASE="$NAME deploy after a crash"
	set +e
	CDX_TEST_CRASH_AT=3 "$CDX" deploy web prod x1 >/dev/null 2>&1
	set -e
	crashed=$("$CDX" deployments web prod --json | jq -r '.[-1].id')
	expect_status 0 "$CDX" deploy web prod x2
	[ "$(dep_field "$crashed" state)" = recovered ] || fail "$CASE: the crashed one is $(dep_field "$crashed" state)"
	"$CDX" deployments web prod --json >d.json
	[ "$(jq -r '.[-1].version + " " + .[-1].state + " " + .[-1].previous' d.json)" = "x2 succeeded $cur" ] ||
		fail "$CASE: $(jq -c '.[-1]' d.json)"
	consistent x2
	journal_check >/dev/null
}

project bg "strategy: blue_green" "slots: {b1: {}, b2: {}}" "$SLOW_SCALE_DOWN"
sweep blue_green slots

project can "strategy: canary" "slots: {c1: {}, c2: {}}" "canary: {steps: [50]}" "$SLOW_SCALE_DOWN"
sweep canary slots

project roll "instances: {r1: {}, r2: {}}" "rolling: {batch: 1}"
sweep rolling instances

# ---- a failing deployment killed during its own rollback, and a recovery killed too ------------
use_project bg
KIND=slots
cur=$("$CDX" deployments web prod -n 1 --json | jq -r '.[0].serving')
n=4   # pending deploying verifying failed rolling_back rolling_back rolled_back
while [ "$n" -le 6 ]; do
	CASE="blue_green failing, crash at $n"
	run_rc env CDX_TEST_CRASH_AT=$n "$CDX" deploy web prod "bad$n" >/dev/null 2>&1
	[ "$RC" -eq 137 ] || fail "$CASE: exit $RC"
	recovered "$cur"
	consistent "$cur"
	n=$((n + 1))
done
CASE="recovery killed"
CDX_TEST_CRASH_AT=3 "$CDX" deploy web prod z1 >/dev/null 2>&1 || true
run_rc env CDX_TEST_CRASH_AT=1 "$CDX" recover >/dev/null 2>&1
[ "$RC" -eq 137 ] || fail "$CASE: exit $RC"
recovered "$cur"
consistent "$cur"
journal_check >/dev/null

# ---- a rollback killed half way is recovered to its own target -------------------------------------------
use_project roll
CASE="rollback crash"
"$CDX" deploy web prod y1 >/dev/null 2>&1 || fail "$CASE: deploy y1"
run_rc env CDX_TEST_CRASH_AT=3 "$CDX" rollback web prod --to x2 >/dev/null 2>&1
[ "$RC" -eq 137 ] || fail "$CASE: exit $RC"
id=$("$CDX" deployments web prod --json | jq -r '.[-1].id')
[ "$(dep_field "$id" kind)" = rollback ] || fail "$CASE: $(dep_field "$id" kind)"
recovered x2
KIND=instances
consistent x2
journal_check >/dev/null
# ---- a first deployment killed half way: nothing served before, nothing serves ---------------
project first "strategy: blue_green" "slots: {b1: {}, b2: {}}" "$SLOW_SCALE_DOWN"
CASE="first deployment crash"
run_rc env CDX_TEST_CRASH_AT=3 "$CDX" deploy web prod 1.0 >/dev/null 2>&1
[ "$RC" -eq 137 ] || fail "$CASE: exit $RC"
[ "$(cat state/b1)" = 1.0 ] || fail "$CASE: the slot was not started before the crash"
recovered null
[ ! -f state/b1 ] || fail "$CASE: the half-deployed slot still runs"
[ "$(current_link web prod)" = none ] || fail "$CASE: current -> $(current_link web prod)"
expect_status 0 "$CDX" deploy web prod 1.0
KIND=slots
consistent 1.0
journal_check >/dev/null
echo "t_recover_crash: ok"
