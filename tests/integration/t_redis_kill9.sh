#!/bin/sh
# t_redis_kill9.sh — kill -9 of redis-server (appendonly yes, appendfsync
# always) in the middle of a run, and a restart from its AOF: no record the
# server acknowledged is lost, and the records made while it was down are
# delivered after the restart, so the run reads back whole.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
AOF="--appendonly yes --appendfsync always"
# shellcheck disable=SC2086
redis_state $AOF
cd "$T"
{
	echo "name: k9"
	echo "stages:"
	echo "  - name: s"
	echo "    jobs:"
	for j in 1 2 3 4 5 6 7 8; do echo "      - {name: j$j, script: sleep 0.25}"; done
} >k9.yml

for round in 1 2 3; do
	"$CDX" run k9.yml -j 2 >"run.$round" 2>&1 &
	rp=$!
	sleep 0.$((3 + round * 2))
	# what the server has acknowledged so far
	redis_records >"before.$round" || true
	# shellcheck disable=SC2086 # two options
	KILL=9 restart_redis $AOF
	wait "$rp" || fail "round $round: run failed: $(cat "run.$round")"
	redis_records >"after.$round"
	# every record seen before the kill is still there, in the same order
	head -n "$(wc -l <"before.$round")" "after.$round" | cmp -s - "before.$round" ||
		fail "round $round: acknowledged records lost: $(diff "before.$round" "after.$round" | head)"
	id=$(sed -n 's/.*(run \(.*\))$/\1/p' "run.$round")
	[ -n "$id" ] || fail "round $round: no run id: $(cat "run.$round")"
	jq -r "select(.run == \"$id\" or .id == \"$id\") | .t" "after.$round" | sort | uniq -c | tr -s ' ' >"counts.$round"
	if ! { grep -q "1 run$" "counts.$round" && grep -q "1 run_end$" "counts.$round" &&
		grep -q "8 attempt$" "counts.$round" && grep -q "8 job$" "counts.$round"; }; then
		fail "round $round: the run is not whole: $(cat "counts.$round") -- $(cat "run.$round")"
	fi
	expect_status 0 "$CDX" status "$id" --json
	echo "$OUT" | jq -e '.status == "success" and (.jobs | length) == 8' >/dev/null || fail "status: $OUT"
	echo "ok round $round: $(wc -l <"before.$round") records acknowledged before the kill, $(wc -l <"after.$round") after"
done
[ ! -d "$T/local/spill" ] || fail "records were spilled although redis came back"
