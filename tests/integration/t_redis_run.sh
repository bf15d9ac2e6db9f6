#!/bin/sh
# t_redis_run.sh — `cdx run` with state redis://: runs are recorded in the
# schema's keys (redis/SCHEMA.md) and read back by `cdx runs` and
# `cdx status`; the health hash follows each run; an unreachable server
# fails at start with exit 4, naming the address, with nothing written and
# no job run; a server that goes away and comes back during a run loses
# nothing (records are held and sent later); one that stays away has the
# records spilled to a local file store, which `cdx state copy` loads; one
# that accepts and never answers fails with exit 4, saying it timed out and
# after how long (it said "Resource temporarily unavailable", issue 18).
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
redis_state
cd "$T"

cat >ci.yml <<'EOF2'
name: ci
stages:
  - name: build
    jobs:
      - {name: compile, script: echo compiled}
      - {name: lint, script: 'exit 3', allow_failure: true}
  - name: test
    jobs:
      - {name: unit, script: echo tested}
EOF2
expect_status 0 "$CDX" run ci.yml -j 2
id=$(R zrange cdx:runs:ci 0 -1)
[ -n "$id" ] || fail "no run in cdx:runs:ci"
[ "$(R hget "cdx:run:$id" status)" = success ] || fail "run hash status: $(R hgetall "cdx:run:$id")"
[ "$(R hget "cdx:run:$id" pipeline)" = ci ] || fail "run hash pipeline"
# the run's records: the records stream entries its entry list names
runrecs() {
	for e in $(R lrange "cdx:runentries:$1" 0 -1); do
		R --raw xrange cdx:records "$e" "$e" | grep '^\[' | jq -c '.[]'
	done
}
runrecs "$id" >recs.txt
[ "$(wc -l <recs.txt)" -eq 8 ] || fail "run records: $(cat recs.txt)"
[ "$(jq -r 'select(.run != null or .id != null) | .run // .id' recs.txt | sort -u)" = "$id" ] ||
	fail "records of another run in its entries: $(cat recs.txt)"
[ "$(jq -r 'select(.t == "job") | .job' recs.txt | wc -l)" -eq 3 ] || fail "job records: $(cat recs.txt)"
jq -s -e 'any(.[]; .t == "attempt" and .job == "build/compile" and .attempt == 1 and .status == "success")' \
	recs.txt >/dev/null || fail "attempt record: $(cat recs.txt)"
R --raw xrevrange cdx:jobdurations:ci + - >durs.txt
grep -qx build/compile durs.txt || fail "no duration history: $(cat durs.txt)"
[ "$(grep -cx build/compile durs.txt)" -eq 1 ] || fail "duration history: $(cat durs.txt)"
[ "$(R hget cdx:health:ci runs)" = 1 ] || fail "health: $(R hgetall cdx:health:ci)"
[ "$(R hget cdx:health:ci last_status)" = success ] || fail "health last_status"
[ "$(R xlen cdx:events)" -ge 2 ] || fail "no events"
[ ! -e .cdx ] || fail "a file store was created beside redis"
[ -f "$T/local/logs/$id/build/compile.1.log" ] || fail "no attempt log under the local directory"

expect_status 0 "$CDX" runs
expect_contains "$id"
expect_contains success
expect_status 0 "$CDX" status "$id" --json
echo "$OUT" | jq -e '.status == "success" and (.jobs | length) == 3' >/dev/null || fail "status: $OUT"
expect_status 0 "$CDX" logs "$id" build/compile
expect_contains compiled

# a failing run moves the health hash
cat >bad.yml <<'EOF2'
name: ci
stages:
  - name: build
    jobs:
      - {name: compile, script: 'exit 1'}
EOF2
expect_status 1 "$CDX" run bad.yml
[ "$(R hget cdx:health:ci runs)" = 2 ] || fail "health runs"
[ "$(R hget cdx:health:ci failed)" = 1 ] || fail "health failed"
[ "$(R hget cdx:health:ci success_rate)" = 0.5000 ] || fail "success_rate: $(R hgetall cdx:health:ci)"
[ "$(R hget cdx:health:ci last_status)" = failed ] || fail "health last_status"
for f in p50_ms p95_ms last_run_at; do [ -n "$(R hget cdx:health:ci $f)" ] || fail "health has no $f"; done

# ---- unreachable at start: exit 4, the address named, nothing done ------------
mkdir unreach && cd unreach
printf 'name: u\nstages:\n  - name: s\n    jobs:\n      - {name: j, script: touch ran}\n' >u.yml
expect_status 4 "$CDX" --state redis://127.0.0.1:1 run u.yml
expect_contains "127.0.0.1:1"
expect_contains "refused"
[ ! -e ran ] || fail "a job ran although the store was unreachable"
[ ! -e .cdx ] || fail "something was written locally"
expect_status 4 "$CDX" --state redis://127.0.0.1:1 runs
cd "$T"

# ---- accepts and never answers: timed out, and after how long ---------------
python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    held.append(s.accept()[0])
' "$T/mute.port" &
MUTE=$!
i=0
while [ ! -s "$T/mute.port" ] && [ "$i" -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
[ -s "$T/mute.port" ] || fail "the mute listener did not start"
expect_status 4 "$CDX" --state "redis://127.0.0.1:$(cat "$T/mute.port")" runs
kill "$MUTE" 2>/dev/null || true
wait "$MUTE" 2>/dev/null || true
expect_contains "timed out: no answer within 10.0 s"
expect_not_contains "Resource temporarily unavailable"

# ---- lost and back during a run: nothing lost -------------------------------
cat >slow.yml <<'EOF2'
name: slow
stages:
  - name: s
    jobs:
      - {name: a, script: sleep 0.4}
      - {name: b, script: sleep 0.4}
      - {name: c, script: sleep 0.4}
      - {name: d, script: sleep 0.4}
      - {name: e, script: sleep 0.4}
EOF2
"$CDX" run slow.yml -j 1 >slow.out 2>&1 &
rp=$!
sleep 0.6
stop_redis
sleep 1
start_redis
wait "$rp" || fail "run failed: $(cat slow.out)"
grep -q "holding" slow.out || fail "no warning about held records: $(cat slow.out)"
sid=$(sed -n 's/.*(run \(.*\))$/\1/p' slow.out)
[ -n "$sid" ] || fail "no run id in: $(cat slow.out)"
# the server restarted without persistence: what was sent before the loss is
# gone with it, but every record made after the loss must have arrived
runrecs "$sid" | jq -r .t | tail -n 1 | grep -q run_end || fail "run_end missing after reconnect: $(cat slow.out)"
[ "$(runrecs "$sid" | jq -r 'select(.t == "job") | .job' | wc -l)" -ge 3 ] || fail "job records missing after reconnect"
[ ! -d "$T/local/spill" ] || fail "spilled although redis came back"
echo "ok held records sent after reconnect"

# ---- lost for good: spilled, then loaded with cdx state copy ------------------
"$CDX" run slow.yml -j 1 >spill.out 2>&1 &
rp=$!
sleep 0.6
stop_redis
wait "$rp" || fail "run failed: $(cat spill.out)"
grep -q "spilled to file:$T/local/spill" spill.out || fail "no spill warning: $(cat spill.out)"
n=$(jq -c .rec "$T/local/spill/journal.jsonl" | wc -l)
[ "$n" -ge 5 ] || fail "only $n records spilled"
start_redis
expect_status 0 "$CDX" state copy "file:$T/local/spill" "$REDIS_URL"
expect_contains "copied $n records"
expect_status 0 "$CDX" state copy "file:$T/local/spill" "$REDIS_URL"
expect_contains "copied 0 records"
expect_contains "($n already there)"
echo "ok spilled $n records and loaded them back"

# ---- more held than allowed: spilled during the run, none dropped ------------
rm -rf "$T/local/spill"
CDX_REDIS_HOLD_MAX=3 "$CDX" run slow.yml -j 1 >hold.out 2>&1 &
rp=$!
sleep 0.6
stop_redis
sleep 1.2
# spilled before the end of the run, because the buffer was full
grep -q "more than 3 records held" hold.out || fail "no spill while running: $(cat hold.out)"
wait "$rp" || fail "run failed: $(cat hold.out)"
hid=$(sed -n 's/.*(run \(.*\))$/\1/p' hold.out)
jq -r .rec.t "$T/local/spill/journal.jsonl" | tail -n 1 | grep -q run_end || fail "run_end not spilled"
[ "$(jq -r "select(.rec.run == \"$hid\" and .rec.t == \"job\") | .rec.job" "$T/local/spill/journal.jsonl" | wc -l)" -ge 3 ] ||
	fail "job records missing from the spill"
start_redis
echo "ok a full buffer spills during the run"

# ---- malformed URLs are usage errors -------------------------------------------
for u in "redis://127.0.0.1:notaport" "redis://127.0.0.1:0" "redis://127.0.0.1:6379/x" "redis://h?bogus=1" \
	"redis://:%zz@127.0.0.1"; do
	expect_status 2 "$CDX" --state "$u" runs
done
echo "ok malformed urls exit 2"
