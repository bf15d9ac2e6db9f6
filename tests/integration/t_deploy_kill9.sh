#!/bin/sh
# t_deploy_kill9.sh — `cdx deploy` killed by SIGKILL while a hook runs.
# The parent-death signal ends a hook's own shell with its cdx, not what
# that shell started: every hook here does its work in a subshell (a
# grandchild of cdx), which sleeps 4 s first when told to, as a slow start
# script would.  Checked:
#   - the reproduction of issue 18: deploy 2.0 killed while its start hook
#     sleeps, then deploy 3.0: 5 s later green runs 3.0, as the records
#     say (the orphan used to start 2.0 there after 3.0), and the deployment
#     records that it killed what the dead deployer left running;
#   - the same with `cdx recover` and a slow switch hook: the orphaned
#     switch used to point the traffic at the abandoned version;
#   - for blue_green, canary and rolling: cdx deploy killed while its Nth
#     hook or health command runs, for every N of a full deployment; after
#     `cdx recover`, 5 s after the kill, no process of the dead deployer is
#     alive and every slot or instance runs exactly what the last record
#     says (a slot the interrupted deployment started and that does not
#     serve is stopped);
#   - what a finished deployment started is never killed: a service left
#     by a start hook of an earlier deployment still runs after all that.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/deploy_lib.sh"

# slowly NAME BODY: a hook running BODY in a subshell that counts the hooks
# (state/count) and first sleeps 4 s when the file slow.NAME exists or it
# is hook number $(cat slowat); it says so in state/began
slowly() {
	printf '(n=$(($(cat state/count 2>/dev/null || echo 0) + 1)); echo $n >state/count; '
	printf 'if [ -f slow.%s ] || [ "$n" = "$(cat slowat 2>/dev/null)" ]; then echo "%s $n" >state/began; sleep 4; fi; ' "$1" "$1"
	printf '%s); exit $?' "$2"
}

# project DIR STRATEGY-YAML...: a project whose hooks can be slow
project() {
	use_project "$1"
	shift
	{
		echo "applications:"
		echo "  web:"
		echo "    hooks:"
		echo "      start: '$(slowly start "$H_START")'"
		echo "      stop: '$(slowly stop "$H_STOP")'"
		echo "      switch: '$(slowly switch "$H_SWITCH")'"
		echo "      weight: '$(slowly weight "$H_WEIGHT")'"
		echo "    health: {command: '$(slowly health "$H_HEALTH")', retries: 1, timeout: 10s}"
		echo "    environments:"
		echo "      prod:"
		for l in "$@"; do echo "        $l"; done
	} >cdx.yml
}

# orphans PID: the processes alive that carry a hook marker of cdx PID
orphans() {
	grep -las "CDX_ATTEMPT_KEY=keep\.$1\." /proc/[0-9]*/environ 2>/dev/null | sed 's,^/proc/,,; s,/environ$,,' |
		while read -r _o; do
			case $(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$_o/status" 2>/dev/null) in
			'' | Z | X) ;;
			*) echo "$_o" ;;
			esac
		done
}

# await_began: wait (at most 30 s) until a slow hook says it began
await_began() {
	_i=0
	while [ ! -s state/began ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 300 ] || fail "$CASE: no slow hook began"
		sleep 0.1
	done
}

# kill9 PID: SIGKILL cdx PID (a background job) and reap it; KILLED_AT is
# the time in seconds
kill9() {
	kill -9 "$1"
	run_rc wait "$1" 2>/dev/null
	[ "$RC" -eq 137 ] || fail "$CASE: cdx ended by itself (exit $RC) before it was killed"
	KILLED_AT=$(date +%s)
}

# after_orphans: wait until 5 s after the kill (an orphan's sleep is 4 s)
after_orphans() {
	while [ "$(date +%s)" -le $((KILLED_AT + 5)) ]; do sleep 0.2; done
}

# as_recorded: every slot or instance runs what the last transition of the
# environment says (state file or none), and nothing of cdx DEAD lives on
as_recorded() {
	_dead=$1
	[ -z "$(orphans "$_dead")" ] || fail "$CASE: hook processes of the dead cdx $_dead live on: $(orphans "$_dead")"
	_id=$("$CDX" deployments web prod -n 1 --json | jq -r '.[0].id')
	"$CDX" status "$_id" --json >st.json
	_want=$(jq -r '.transitions[-1].serving | (.slots // .instances) | to_entries[] | "\(.key)=\(.value // "-")"' st.json)
	for _kv in $_want; do
		_t=${_kv%%=*}
		_have=$(cat "state/$_t" 2>/dev/null || echo -)
		[ "$_kv" = "$_t=$_have" ] || fail "$CASE: $_t runs $_have, the records say ${_kv#*=}: $(cat state/log)"
	done
	_slot=$(jq -r '.transitions[-1].serving.slot // empty' st.json)
	if [ -n "$_slot" ]; then
		[ "$(cat state/live 2>/dev/null)" = "$_slot" ] || fail "$CASE: traffic goes to $(cat state/live), the records say $_slot"
	fi
}

# ---- the reproduction: deploy 2.0 killed in its start hook, then deploy 3.0 ---------------------
project repro "strategy: blue_green" "slots: {blue: {}, green: {}}" "$SLOW_SCALE_DOWN"
CASE=repro
"$CDX" deploy web prod 1.0 >/dev/null 2>&1 || fail "$CASE: deploy 1.0"
touch slow.start
"$CDX" deploy web prod 2.0 >d2.out 2>&1 &
pid=$!
await_began
kill9 "$pid"
rm slow.start
[ -n "$(orphans "$pid")" ] || fail "$CASE: the test is void: the start hook's subshell died with cdx"
"$CDX" deploy web prod 3.0 >d3.out 2>&1 || fail "$CASE: deploy 3.0: $(cat d3.out)"
after_orphans
[ "$(cat state/green)" = 3.0 ] || fail "$CASE: green runs $(cat state/green), not 3.0: $(cat state/log)"
[ "$(live_version)" = 3.0 ] || fail "$CASE: $(live_version) serves, not 3.0"
! grep -q "start green 2.0" state/log || fail "$CASE: the orphaned start hook ran: $(cat state/log)"
as_recorded "$pid"
d2=$("$CDX" deployments web prod --json | jq -r '.[] | select(.version == "2.0") | .id')
"$CDX" status "$d2" --json >st2.json
jq -e '[.transitions[] | select(.msg | test("^killed [0-9]+ process(es)? that its cdx \\(pid '"$pid"' .*hooks of slot green"))] | length == 1' \
	st2.json >/dev/null || fail "$CASE: the kill is not recorded: $(jq -c '[.transitions[] | .msg]' st2.json)"
"$CDX" status "$d2" >st2.txt
grep -q "killed .* process.* left running" st2.txt || fail "$CASE: cdx status does not show the kill: $(cat st2.txt)"

# ---- cdx recover after a deploy killed in its switch hook ---------------------------------------
project recover "strategy: blue_green" "slots: {blue: {}, green: {}}" "$SLOW_SCALE_DOWN"
CASE="recover a killed switch"
"$CDX" deploy web prod 1.0 >/dev/null 2>&1 || fail "$CASE: deploy 1.0"
touch slow.switch
"$CDX" deploy web prod 2.0 >d2.out 2>&1 &
pid=$!
await_began
kill9 "$pid"
rm slow.switch
"$CDX" recover --json >rec.json 2>rec.err || fail "$CASE: recover: $(cat rec.json rec.err)"
[ "$(jq -r '.[0].result + " " + .[0].serving' rec.json)" = "recovered 1.0" ] || fail "$CASE: $(cat rec.json)"
after_orphans
[ "$(cat state/live)" = blue ] || fail "$CASE: traffic goes to $(cat state/live) after the recovery, not blue"
[ "$(live_version)" = 1.0 ] || fail "$CASE: $(live_version) serves"
[ ! -f state/green ] || fail "$CASE: green still runs the abandoned $(cat state/green)"
as_recorded "$pid"

# ---- kill -9 while each hook of a full deployment runs --------------------------------------------
# sweep NAME KIND: for every hook N of a full deployment: kill cdx deploy
# while hook N runs, cdx recover, check 5 s after the kill
sweep() {
	NAME=$1
	"$CDX" deploy web prod 1.0 >/dev/null 2>&1 || fail "$NAME: deploy 1.0"
	rm -f state/count
	"$CDX" deploy web prod 1.1 >/dev/null 2>&1 || fail "$NAME: deploy 1.1"
	total=$(cat state/count)
	[ "$total" -ge 3 ] || fail "$NAME: a full deployment runs only $total hooks"
	n=1
	while [ "$n" -le "$total" ]; do
		CASE="$NAME killed in hook $n/$total"
		rm -f state/count state/began
		echo "$n" >slowat
		"$CDX" deploy web prod "k$n" >dk.out 2>&1 &
		pid=$!
		await_began
		kill9 "$pid"
		rm -f slowat
		"$CDX" recover --json >rec.json 2>rec.err || fail "$CASE: recover: $(cat rec.json rec.err)"
		[ "$(jq -r '.[0].result' rec.json)" = recovered ] || fail "$CASE: $(cat rec.json)"
		after_orphans
		as_recorded "$pid"
		[ "$(jq -r '.[0].serving' rec.json)" = 1.1 ] || fail "$CASE: $(jq -r '.[0].serving' rec.json) serves"
		n=$((n + 1))
	done
	journal_check >/dev/null
}

project bg "strategy: blue_green" "slots: {b1: {}, b2: {}}" "$SLOW_SCALE_DOWN"
# a service of a finished deployment: started by the start hook of 1.0
# with the hook's marker; it must outlive every recovery below
sed -i "s|^      start: '(|      start: '(if [ ! -f svc.pid ]; then sleep 600 \& echo \$! >svc.pid; fi; |" cdx.yml
sweep blue_green
svc=$(cat svc.pid)
grep -qs "CDX_ATTEMPT_KEY=keep\." "/proc/$svc/environ" || fail "the service does not carry a hook's marker"
kill -0 "$svc" 2>/dev/null || fail "the service of a finished deployment was killed"
kill "$svc"

project can "strategy: canary" "slots: {c1: {}, c2: {}}" "canary: {steps: [50]}" "$SLOW_SCALE_DOWN"
sweep canary

project roll "instances: {r1: {}, r2: {}}" "rolling: {batch: 1}"
sweep rolling

echo "t_deploy_kill9: ok"
