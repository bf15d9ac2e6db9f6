#!/bin/sh
# t_deploy_lock.sh — one deployment per environment at a time.  A hook that
# waits holds the lock: a second `cdx deploy` exits 3 and names the holder
# (its pid, version and deployment id), `--wait 1s` gives up after about a
# second; ten concurrent `cdx deploy --wait` of one environment are
# serialized (a hook marks "inside" with mkdir, which fails on overlap) and
# all ten are recorded as succeeded, with increasing fencing tokens; kill -9
# of a holder frees the lock at once, and the next deployment recovers the
# interrupted one first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/deploy_lib.sh"
# release every hook still waiting, whatever happens
trap 'touch "$P/go-hold" "$P/go-holdq" "$P/go2"; sleep 0.2; stop_scale_downs; cleanup' EXIT

{
	echo "applications:"
	echo "  web:"
	echo "    environments:"
	echo "      staging:"
	echo "        hooks:"
	echo "          start: 'echo \"\$CDX_VERSION\" > \"state/\$CDX_SLOT\"; case \$CDX_VERSION in hold*) touch state/\$CDX_VERSION; while [ ! -f go-\$CDX_VERSION ]; do sleep 0.05; done;; esac'"
	echo "          switch: '$H_SWITCH'"
	echo "      serial:"
	echo "        hooks:"
	echo "          deploy: 'mkdir state/inside 2>/dev/null || echo \"\$CDX_VERSION\" >> state/overlap; sleep 0.1'"
	echo "          switch: 'rmdir state/inside; echo \"\$CDX_SLOT\" > state/live'"
	echo "      crash:"
	echo "        hooks:"
	echo "          start: 'echo \"\$CDX_VERSION\" > \"state/\$CDX_SLOT\"; if [ \"\$CDX_VERSION\" = hold ]; then touch state/holding2; while [ ! -f go2 ]; do sleep 0.05; done; fi'"
	echo "          switch: '$H_SWITCH'"
} >cdx.yml

wait_for() { # wait_for FILE: up to 10 s
	i=0
	while [ ! -f "$1" ]; do
		i=$((i + 1)); [ "$i" -lt 200 ] || fail "$1 did not appear"
		sleep 0.05
	done
}

# ---- a holder and a second deployment ----------------------------------------------------
"$CDX" deploy web staging 1.0 >/dev/null 2>&1 || fail "deploy 1.0"
"$CDX" deploy web staging hold >hold.out 2>&1 &
holder=$!
wait_for state/hold
expect_status 3 "$CDX" deploy web staging 2.0
expect_contains "web/staging is busy"
expect_contains "deploy of hold by "
expect_contains "(pid $holder, deployment "
HID=$("$CDX" deployments web staging --json | jq -r '.[-1].id')
expect_contains "$HID"
expect_status 3 "$CDX" rollback web staging --to 1.0
expect_contains "is busy"
t0=$(date +%s%N)
expect_status 3 "$CDX" deploy web staging 2.0 --wait 1s
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ] || fail "--wait 1s gave up after $ms ms"
# a waiter gets the lock once the holder is done
"$CDX" deploy web staging 2.0 --wait >wait.out 2>&1 &
waiter=$!
sleep 0.3
kill -0 "$waiter" 2>/dev/null || fail "the waiter did not wait: $(cat wait.out)"
touch go-hold
wait "$holder" || fail "the holder failed: $(cat hold.out)"
wait "$waiter" || fail "the waiter failed: $(cat wait.out)"
[ "$(live_version)" = 2.0 ] || fail "after the waiter: $(live_version)"

# ---- waiters are served oldest first --------------------------------------------------------------
"$CDX" deploy web staging holdq >/dev/null 2>&1 &
holder=$!
wait_for state/holdq
pids=
for q in q1 q2 q3 q4; do
	"$CDX" deploy web staging "$q" --wait >/dev/null 2>&1 &
	pids="$pids $!"
	sleep 0.3
done
touch go-holdq
wait "$holder" || fail "holdq failed"
for p in $pids; do wait "$p" || fail "a queued deployment failed"; done
[ "$("$CDX" deployments web staging -n 4 --json | jq -r 'map(.version) | join(" ")')" = "q1 q2 q3 q4" ] ||
	fail "not oldest first: $("$CDX" deployments web staging -n 4 --json | jq -c 'map(.version)')"

# ---- ten concurrent --wait: serialized, all recorded -------------------------------------------
pids=
for n in 1 2 3 4 5 6 7 8 9 10; do
	"$CDX" deploy web serial "s$n" --wait >"serial.$n" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "a concurrent deployment failed: $(cat serial.*)"
done
[ ! -f state/overlap ] || fail "deployments overlapped: $(cat state/overlap)"
"$CDX" deployments web serial --json >s.json
[ "$(jq length s.json)" -eq 10 ] || fail "$(jq length s.json) deployments recorded, want 10"
[ "$(jq '[.[] | select(.state == "succeeded")] | length' s.json)" -eq 10 ] ||
	fail "not all succeeded: $(jq -c 'map(.state)' s.json)"
[ "$(jq -r 'map(.version) | sort | unique | length' s.json)" -eq 10 ] || fail "versions: $(jq -c 'map(.version)' s.json)"
# each started after the previous one ended, with a larger fencing token
jq -e '[range(1; length) as $i | (.[$i].start_ms >= .[$i - 1].end_ms and .[$i].token > .[$i - 1].token)] | all' \
	s.json >/dev/null || fail "not serialized: $(jq -c 'map([.start_ms, .end_ms, .token])' s.json)"
[ ! -d state/inside ] || fail "the marker is left: a deployment is unfinished"
ls "$P/.cdx/locks/"*.q/* >/dev/null 2>&1 && fail "queue entries were left: $(ls "$P/.cdx/locks/"*.q)"

# ---- kill -9 of a holder frees the lock ----------------------------------------------------------
"$CDX" deploy web crash 1.0 >/dev/null 2>&1 || fail "crash 1.0"
"$CDX" deploy web crash hold >/dev/null 2>&1 &
holder=$!
wait_for state/holding2
expect_status 3 "$CDX" deploy web crash 3.0
kill -9 "$holder"
wait "$holder" 2>/dev/null || true
touch go2          # the orphaned hook goes on by itself; let it end
expect_status 0 "$CDX" deploy web crash 3.0
[ "$(live_version)" = 3.0 ] || fail "after the takeover: $(live_version)"
"$CDX" history web crash --json >c.json
[ "$(jq -r '.[1].version + " " + .[1].state' c.json)" = "hold recovered" ] ||
	fail "the killed deployment: $(jq -c '.[1]' c.json)"
[ "$(jq -r '.[2].state' c.json)" = succeeded ] || fail "the deployment after the kill: $(jq -c '.[2]' c.json)"

journal_check >/dev/null
echo "t_deploy_lock: ok"
