#!/bin/sh
# t_redis_deploy_control.sh — `cdx promote` and `cdx abort` of a paused
# canary from another host, with a redis:// state shared by both: the
# request reaches the deployment through the store (its pauses watch the
# records), not only a signal, which works on the holder's host only.  It
# used to be recorded and nothing more: the canary waited out its pause.
# The other host is another working directory whose `cdx` runs under
# another host name (a UTS namespace: unshare -u, as root).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/deploy_lib.sh"
command -v unshare >/dev/null 2>&1 && unshare -u true 2>/dev/null ||
	{ echo "unshare -u not available (root needed): cannot act as another host" >&2; exit 77; }
project() {
	{
		web_app_yaml
		echo "      slow:"
		echo "        strategy: canary"
		echo "        slots: {s1: {}, s2: {}}"
		echo "        blue_green: {scale_down_delay: 0s}"
		echo "        canary: {steps: [20], pause: 10m}"
	} >cdx.yml
}
use_project other
project
use_project here
project
redis_state
# a deployment left paused by a failing check does not outlive the test
bg=
trap '[ -z "$bg" ] || kill "$bg" 2>/dev/null; stop_scale_downs; cleanup' EXIT

# elsewhere CMD...: CMD in the other working directory, on host other-host
elsewhere() {
	(cd "$T/other" && unshare -u sh -c 'hostname other-host && exec "$@"' sh "$@")
}

"$CDX" deploy web slow 1.0 >/dev/null 2>&1 || fail "slow 1.0"
paused() { # a deployment here in the background, once its canary has 20%
	rm -f state/weight
	"$CDX" deploy web slow "$1" >slow.out 2>&1 &
	bg=$!
	i=0
	until grep -q ' 20$' state/weight 2>/dev/null; do
		i=$((i + 1)); [ "$i" -lt 400 ] || fail "slow $1: the canary never got 20%: $(cat slow.out)"
		sleep 0.05
	done
}
# done_within SECONDS: the background deployment ends within SECONDS (a
# 10-minute pause it waits out counts as not delivered); its status in RC
done_within() {
	i=0
	while kill -0 "$bg" 2>/dev/null && [ "$i" -lt $(($1 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$bg" 2>/dev/null; then
		kill -INT "$bg"
		wait "$bg" || true
		fail "$2: the deployment still waits in its pause: $(cat slow.out)"
	fi
	run_rc wait "$bg"
	bg=
}

paused 1.1
expect_status 0 elsewhere "$CDX" promote web slow
expect_contains "web/slow: promote sent"
done_within 60 "promote from another host"
[ "$RC" -eq 0 ] || fail "promoted deployment: exit $RC: $(cat slow.out)"
[ "$(live_version)" = 1.1 ] || fail "after promote: $(live_version)"
[ "$(redis_records | jq -s '[.[] | select(.t == "event" and .kind == "promote" and .host == "other-host")] | length')" -eq 1 ] ||
	fail "the promote record does not name the other host: $(redis_records | grep event)"

paused 1.2
expect_status 0 elsewhere "$CDX" abort web slow
done_within 60 "abort from another host"
[ "$RC" -eq 1 ] || fail "aborted deployment: exit $RC: $(cat slow.out)"
grep -q "aborted" slow.out || fail "abort: $(cat slow.out)"
[ "$(live_version)" = 1.1 ] || fail "after abort: $(live_version)"
[ "$(cat state/weight)" = "s2 0" ] || [ "$(cat state/weight)" = "s1 0" ] || fail "after abort the canary has $(cat state/weight)"

expect_status 2 elsewhere "$CDX" promote web slow
expect_contains "no deployment of web/slow is in progress"
echo "t_redis_deploy_control: ok"
