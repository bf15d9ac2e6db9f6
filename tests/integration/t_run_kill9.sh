#!/bin/sh
# t_run_kill9.sh — kill -9 of `cdx run` at 20 random moments of a run of 15
# short jobs.  After each: `cdx runs --json` works, the killed run reads
# "interrupted", the journal is whole (every line {"seq","crc","rec"}, valid
# JSON, seq strictly increasing) and a new run can use the store.
#
# cdx cannot react to SIGKILL, and its jobs run in sessions of their own.
# Once they outlived it as orphans (a fixed defect): now the leader dies
# with cdx (PR_SET_PDEATHSIG), and what it started is killed by the next
# cdx that runs anything (it carries a dead runner's marker); the last
# section checks that.  The trials count what is left right after each kill
# (before any next cdx) and report it without failing, and kill it before
# the next trial so that trials do not interfere.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"

MK="0.3${$}7"       # every job sleeps this long (0.3 s and a bit)
RX="0\\.3${$}7"
SWEEP_RX="987\\.${$}6" # the jobs of the last section
trap 'kill_procs "$RX" "$SWEEP_RX"; cleanup' EXIT

{
	echo "name: k9"
	echo "stages:"
	for s in 1 2 3; do
		echo "  - name: st$s"
		echo "    jobs:"
		for j in 1 2 3 4 5; do
			echo "      - {name: j$j, script: sleep $MK}"
		done
	done
} >k9.yml
J="$T/.cdx/journal.jsonl"

# check JSON: one jq over the runs listing (JSON, the output of `cdx runs
# --json`) and the raw journal: the journal ends with a newline (no torn
# line), every line parses and is framed {"seq","crc","rec"} (so `jq -c .rec`
# reads the whole file), seq strictly increasing.  Prints "RUNS STATUS" of
# the listing and its newest run, or "damaged: ..." for the journal.
check() {
	if [ ! -f "$J" ]; then printf '%s' "$1" | jq -r '"\(length) \(.[0].status)"'; return; fi
	jq -R -s -r --argjson runs "$1" '
		def framed: type == "object" and (keys | sort) == ["crc", "rec", "seq"]
			and (.seq | type) == "number" and (.crc | test("^[0-9a-f]{8}$"));
		(if endswith("\n") then "" else "no newline at the end" end) as $nl
		| (rtrimstr("\n") | split("\n")) as $lines
		| [$lines[] | (try fromjson catch null)] as $recs
		| ([$recs | to_entries[] | select(.value | framed | not) | .key + 1]) as $bad
		| ([range(1; $recs | length) | select($recs[.].seq <= $recs[. - 1].seq) | . + 1]) as $order
		| if $nl != "" then "damaged: \($nl)"
		  elif ($bad | length) > 0 then "damaged: lines \($bad) not framed JSON"
		  elif ($order | length) > 0 then "damaged: seq does not grow at lines \($order)"
		  else "\($runs | length) \($runs[0].status)" end' "$J"
}

trials=20 orphan_trials=0 orphans=0 interrupted=0 norecord=0
before=0
i=0
for ms in $(awk -v seed="$$" -v n="$trials" 'BEGIN { srand(seed); for (i = 0; i < n; i++) print int(rand() * 1500) }'); do
	i=$((i + 1))
	"$CDX" run k9.yml -j 2 --output quiet >/dev/null 2>&1 &
	pid=$!
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null || true
	run_rc wait "$pid"
	# orphans: jobs still running without their cdx
	pids=$(procs "$RX")
	if [ -n "$pids" ]; then
		orphan_trials=$((orphan_trials + 1))
		for p in $pids; do
			orphans=$((orphans + 1))
			ppid=?
			read -r _ _ _ ppid _ <"/proc/$p/stat" 2>/dev/null || true
			echo "trial $i (kill after ${ms} ms): orphan pid $p, parent $ppid"
		done
		kill -9 $pids 2>/dev/null || true
		k=0
		while [ -n "$(procs "$RX")" ]; do
			k=$((k + 1)); [ "$k" -lt 100 ] || fail "trial $i: orphans do not go away"
			sleep 0.05
		done
	fi

	# the store reads, the journal is whole, and the killed run is interrupted
	runs=$("$CDX" runs --json) || fail "trial $i: cdx runs failed after kill -9"
	res=$(check "$runs") || fail "trial $i: jq failed on the journal or the runs listing"
	case "$res" in damaged*) fail "trial $i: journal $res" ;; esac
	set -- $res
	after=$1 st=$2
	if [ "$after" -eq "$before" ]; then
		norecord=$((norecord + 1)) # killed before the run was recorded
	else
		[ "$after" -eq $((before + 1)) ] || fail "trial $i: $before runs before, $after after"
		if [ "$RC" -eq 0 ]; then
			[ "$st" = success ] || fail "trial $i: run ended before the kill but reads $st"
		else
			[ "$st" = interrupted ] || fail "trial $i: killed run (after ${ms} ms) reads $st, want interrupted"
			interrupted=$((interrupted + 1))
		fi
	fi
	before=$after
done
[ "$i" -eq "$trials" ] || fail "only $i trials"
jq -c .rec "$J" >/dev/null || fail "jq -c .rec cannot read the journal"

# cdx status agrees (on the oldest and the newest killed run)
for id in $("$CDX" runs --json | jq -r '[.[] | select(.status != "success") | .id] | (first, last) // empty'); do
	"$CDX" status "$id" --json | jq -e '.status == "interrupted"' >/dev/null || fail "cdx status of $id"
done

# the store is still good for a whole run, which continues the seq
last=$(tail -n 1 "$J" | jq .seq)
"$CDX" run k9.yml -j 8 --output quiet >final.txt 2>&1 || fail "a run after the kills failed: $(cat final.txt)"
case "$(check "$("$CDX" runs --json)")" in damaged*) fail "final journal damaged" ;; esac
[ "$(sed -n 1p "$J" | jq .seq)" -ge 1 ] || fail "first seq"
[ "$(tail -n 1 "$J" | jq .seq)" -gt "$last" ] || fail "seq did not grow"
[ "$("$CDX" runs --json | jq -r '.[0].status')" = success ] || fail "the final run did not succeed"
[ "$("$CDX" runs --json | jq '[.[] | select(.status == "running")] | length')" -eq 0 ] ||
	fail "a killed run still reads running"

echo "kill -9: $interrupted runs interrupted, $norecord killed before their first record"
echo "kill -9 orphans: $orphans job processes outlived cdx in $orphan_trials of $trials trials"

# ---- no orphan: the next cdx kills what a killed cdx left running ----------
cat >k.yml <<EOF
name: k
stages:
  - name: s
    jobs:
      - {name: a, script: sleep 987.${$}6}
      - {name: b, script: 'sleep 987.${$}6; true'}
EOF
"$CDX" run k.yml -j 2 >/dev/null 2>&1 &
pid=$!
i=0
while [ "$(nprocs "$SWEEP_RX")" -lt 2 ]; do
	i=$((i + 1)); [ "$i" -lt 200 ] || fail "sweep: the jobs did not start"
	sleep 0.05
done
kill -9 "$pid"
wait "$pid" || true
printf 'stages:\n  - name: s\n    jobs:\n      - {name: t, script: "true"}\n' >t.yml
"$CDX" run t.yml >/dev/null 2>&1 || fail "sweep: the next run failed"
i=0
while [ -n "$(procs "$SWEEP_RX")" ]; do
	i=$((i + 1)); [ "$i" -lt 40 ] || fail "job processes outlived cdx after kill -9: $(procs "$SWEEP_RX" | tr '\n' ' ')"
	sleep 0.05
done
echo "t_run_kill9: ok"
