#!/bin/sh
# t_run_store.sh — the file store under `cdx run`: the state directory is
# created (nested), its journal reads with jq and holds the records of a run
# in order; a second run orders jobs by measured history; --dry-run works
# beside a store; an unreachable store fails with exit 4 before any job
# runs; and three concurrent runs of different pipelines into one store give
# whole, non-interleaved records with seq growing by one; `cdx logs` of a
# run of another host names that host.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
export RES="$T/res"
mkdir "$RES"
STATE="$T/deep/er/state"
export CDX_STATE="file:$STATE"
J="$STATE/journal.jsonl"

# ---- the state directory and its journal ----------------------------------
cat >one.yml <<'EOF'
name: one
stages:
  - name: s
    jobs:
      - {name: a, script: echo a}
      - {name: b, script: 'exit 3', allow_failure: [3]}
  - name: t
    jobs:
      - {name: c, script: echo c}
EOF
expect_status 0 "$CDX" run one.yml
[ -d "$STATE" ] || fail "state directory not created"
[ -f "$J" ] || fail "no journal in $STATE"
[ -d "$STATE/logs" ] || fail "no logs directory in $STATE"
jq -c .rec "$J" >recs.txt || fail "the journal does not parse: $(cat "$J")"
jq -e 'has("seq") and has("crc") and has("rec")' "$J" >/dev/null || fail "a journal line is not framed"
# the records of one run: run first, then attempts and jobs, run_end last
[ "$(jq -r .t recs.txt | tr '\n' ' ')" = "run attempt job attempt job attempt job run_end " ] ||
	fail "unexpected records: $(cat recs.txt)"
id=$(jq -r 'select(.t == "run") | .id' recs.txt)
[ "$(jq -r 'select(.t != "run" and .t != "run_end") | .run' recs.txt | sort -u)" = "$id" ] || fail "records of another run"
[ "$(jq -r 'select(.t == "run_end") | .status' recs.txt)" = success ] || fail "run_end status"
[ "$(jq -r 'select(.t == "job" and .job == "s/b") | .status' recs.txt)" = allowed_failure ] || fail "job record of s/b"
[ "$(jq -r 'select(.t == "attempt" and .job == "s/b") | .exit_code' recs.txt)" = 3 ] || fail "attempt record of s/b"
[ "$(jq -r 'select(.t == "run") | .job_count' recs.txt)" = 3 ] || fail "job_count"
[ "$(jq -s '[.[].seq] == [range(1; length + 1)]' "$J")" = true ] || fail "seq is not 1, 2, 3, ...: $(jq -c .seq "$J")"
# attempt logs are where the records say
for log in $(jq -r 'select(.t == "attempt") | .log' recs.txt); do
	case "$log" in "$STATE/logs/$id/"*) ;; *) fail "log outside the store: $log" ;; esac
	[ -f "$log" ] || fail "log missing: $log"
done

# ---- an unreachable store: exit 4, no job started ---------------------------
cat >touch.yml <<'EOF'
name: touchy
stages:
  - name: s
    jobs:
      - {name: t, script: touch "$RES/touched"}
EOF
: >"$T/not-a-dir"
expect_status 4 env CDX_STATE="file:$T/not-a-dir" "$CDX" run touch.yml
[ ! -f "$RES/touched" ] || fail "a job ran although the store could not be opened"
expect_status 4 "$CDX" --state "file:$T/not-a-dir/x" runs --json

# ---- a second run uses measured history for its order ---------------------
cat >hist.yml <<'EOF'
name: hist
stages:
  - name: s
    jobs:
      - {name: quick, script: 'sleep 0.05'}
      - {name: slow, script: 'sleep 0.8'}
EOF
order() { printf '%s\n' "$OUT" | jq -r 'select(.event == "job_start") | .job' | tr '\n' ' '; }
expect_status 0 "$CDX" run hist.yml -j 1 --json
# no history: equal weights (1 s each), file order
[ "$(order)" = "s/quick s/slow " ] || fail "first run order: $(order)"
expect_status 0 "$CDX" run hist.yml -j 1 --json
# history: slow weighs more, so it goes first (longest remaining path first)
[ "$(order)" = "s/slow s/quick " ] || fail "second run did not use history: $(order)"

# ---- --dry-run still works beside a store, and records nothing ------------
n=$(jq -s length "$J")
expect_status 0 "$CDX" run hist.yml --dry-run
expect_contains "start order"
expect_contains "s/quick"
expect_status 0 "$CDX" run hist.yml --dry-run --json -j 2
printf '%s' "$OUT" | jq -e '.pipeline == "hist" and (.order | length) == 2' >/dev/null || fail "--dry-run --json: $OUT"
[ "$(jq -s length "$J")" -eq "$n" ] || fail "--dry-run wrote records"

# ---- concurrent runs of different pipelines into one store -----------------
for p in alpha beta gamma; do
	{
		echo "name: $p"
		echo "stages:"
		for s in 1 2; do
			echo "  - name: s$s"
			echo "    jobs:"
			for j in 1 2 3 4 5 6 7 8 9 10; do echo "      - {name: j$j, script: 'true'}"; done
		done
	} >"$p.yml"
done
n0=$(jq -s length "$J")
pids=
for p in alpha beta gamma; do
	"$CDX" run "$p.yml" -j 4 --json >"$p.out" 2>&1 &
	pids="$pids $!"
done
for pid in $pids; do wait "$pid" || fail "a concurrent run failed: $(cat alpha.out beta.out gamma.out)"; done
# every line whole and framed; seq grows by exactly one over all writers
jq -c .rec "$J" >recs.txt || fail "the journal does not parse after concurrent runs"
[ "$(jq -s '[.[].seq] == [range(1; length + 1)]' "$J")" = true ] ||
	fail "seq not 1, 2, 3, ... after concurrent runs: $(jq -c .seq "$J" | tr '\n' ' ')"
[ "$(jq -s length "$J")" -eq $((n0 + 3 * 42)) ] || fail "expected $((3 * 42)) new records, have $(( $(jq -s length "$J") - n0 ))"
for p in alpha beta gamma; do
	rid=$(jq -r 'select(.event == "run_start") | .id' "$p.out")
	[ -n "$rid" ] || fail "$p: no run id"
	# its records, in file order: run first, run_end last, 20 attempts and 20 jobs
	jq -r --arg r "$rid" 'select(.id == $r or .run == $r) | .t' recs.txt >"$p.types"
	[ "$(sed -n 1p "$p.types")" = run ] || fail "$p: first record is $(sed -n 1p "$p.types")"
	[ "$(tail -n 1 "$p.types")" = run_end ] || fail "$p: last record is $(tail -n 1 "$p.types")"
	[ "$(grep -c '^attempt$' "$p.types")" -eq 20 ] || fail "$p: $(grep -c '^attempt$' "$p.types") attempt records"
	[ "$(grep -c '^job$' "$p.types")" -eq 20 ] || fail "$p: $(grep -c '^job$' "$p.types") job records"
	# and the store's own reader (which checks every crc) sees all of them
	expect_status 0 "$CDX" status "$rid" --json
	printf '%s' "$OUT" | jq -e '.status == "success" and .pipeline == $p and (.jobs | length) == 20
		and ([.jobs[] | select(.status == "success")] | length) == 20' --arg p "$p" >/dev/null ||
		fail "$p: cdx status: $OUT"
	expect_status 0 "$CDX" runs "$p" --json
	[ "$(printf '%s' "$OUT" | jq length)" = 1 ] || fail "cdx runs $p: $OUT"
done
expect_status 0 "$CDX" runs --json
[ "$(printf '%s' "$OUT" | jq length)" = 6 ] || fail "cdx runs: $(printf '%s' "$OUT" | jq -c '[.[].pipeline]')"

# ---- a run of another host: cdx logs names that host, not a local path ------
# (a UTS namespace gives the run another host name; its log is then removed,
# as it would not be here; skipped where namespaces are not allowed)
if unshare --uts true 2>/dev/null; then
	unshare --uts sh -c 'hostname cdx-other-host && exec "$0" run one.yml' "$CDX" >/dev/null 2>&1 ||
		fail "the run on the other host failed"
	oid=$("$CDX" runs one --json | jq -r '.[] | select(.host == "cdx-other-host") | .id')
	[ -n "$oid" ] || fail "no run recorded by host cdx-other-host: $("$CDX" runs one --json)"
	rm -rf "$STATE/logs/$oid"
	expect_status 2 "$CDX" logs "$oid" s/a
	expect_contains "the log of $oid s/a is on host cdx-other-host"
	expect_not_contains "$STATE/logs"
	expect_status 2 "$CDX" logs "$id" s/z   # no such job: as before
	expect_contains "no log of s/z"
else
	echo "t_run_store: unshare --uts not allowed here, a run of another host not tested" >&2
fi

echo "t_run_store: ok"
