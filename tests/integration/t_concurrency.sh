#!/bin/sh
# t_concurrency.sh — concurrency groups (`concurrency:` in a pipeline file)
# with the file store (flock'd slot files, across processes) and with the
# Redis store (locks with TTL, across machines): limit 1 serializes two
# runs of different pipelines in one group; limit 2 lets two of three run
# at once; cancel_in_progress cancels the running run (exit 130) and takes
# its slot.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"

pipeline() { # NAME GROUP LIMIT CANCEL SLEEP
	cat >"$1.yml" <<EOF2
name: $1
concurrency: {group: $2, limit: $3, cancel_in_progress: $4}
stages:
  - name: s
    jobs:
      - {name: j, script: sleep $5}
EOF2
}

# spans: "start end" of every run of the state, by start
spans() {
	"$CDX" runs --json -n 100 | jq -r 'sort_by(.start_ms) | .[] | "\(.start_ms) \(.end_ms) \(.pipeline) \(.status)"'
}

# overlaps FILE: the most runs at once
overlaps() {
	awk '{ print $1, 1; print $2, -1 }' "$1" | sort -n -k1,1 -k2,2n |
		awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

check() {
	label=$1
	pipeline a g1 1 false 0.6
	pipeline b g1 1 false 0.6
	"$CDX" run a.yml >a.out 2>&1 &
	pa=$!
	sleep 0.2
	"$CDX" run b.yml >b.out 2>&1 &
	pb=$!
	wait "$pa" || fail "$label: a failed: $(cat a.out)"
	wait "$pb" || fail "$label: b failed: $(cat b.out)"
	grep -q "waiting for a slot of concurrency group g1" b.out || fail "$label: b did not wait: $(cat b.out)"
	spans | grep -e ' a ' -e ' b ' >spans.1
	[ "$(overlaps spans.1)" -eq 1 ] || fail "$label: limit 1 overlapped: $(cat spans.1)"
	echo "ok $label: limit 1 serializes"

	for n in c d e; do pipeline "$n" g2 2 false 0.8; done
	pids=
	for n in c d e; do "$CDX" run "$n.yml" >"$n.out" 2>&1 & pids="$pids $!"; sleep 0.05; done
	for p in $pids; do wait "$p" || fail "$label: a g2 run failed: $(cat c.out d.out e.out)"; done
	spans | grep -e ' c ' -e ' d ' -e ' e ' >spans.2
	[ "$(overlaps spans.2)" -eq 2 ] || fail "$label: limit 2: $(cat spans.2)"
	echo "ok $label: limit 2 runs two at once"

	pipeline old g3 1 true 10
	pipeline new g3 1 true 0.2
	"$CDX" run old.yml >old.out 2>&1 &
	po=$!
	sleep 0.5
	t0=$(date +%s)
	expect_status 0 "$CDX" run new.yml
	expect_contains "cancelling run"
	run_rc wait "$po"
	[ "$RC" -eq 130 ] || fail "$label: the older run was not cancelled (exit $RC): $(cat old.out)"
	[ $(($(date +%s) - t0)) -lt 8 ] || fail "$label: cancel_in_progress waited for the old run"
	echo "ok $label: cancel_in_progress cancels the running run"
}

export CDX_STATE="file:$T/state"
check file
[ -f "$T/state/concurrency/g1.0.lock" ] || fail "no slot file"

if have_redis; then
	redis_state
	check redis
	[ "$(R --scan --pattern 'cdx:lock:concurrency:*' | wc -l)" -eq 0 ] || fail "slots left held"
else
	echo "skip redis: redis-server not installed, or cdx built without redis"
fi
