#!/bin/sh
# t_redis_locks.sh — locks of the Redis store across processes:
#  1. twenty lockers started at once from separate processes are
#     serialized: in the records stream every "enter" is followed by the
#     "leave" of the same holder, and fencing tokens grow strictly;
#  2. waiters are served oldest first;
#  3. a holder stopped with SIGSTOP past its TTL loses the lock to the next
#     taker, and its late write (when it is continued) is refused;
#  4. lock operations fail closed when Redis is gone.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
SC="$CDX_BUILD/tests/tools/store_client"
[ -x "$SC" ] || fail "no $SC (make builds it for integration)"
start_redis
U="$REDIS_URL?local=$T/local"
cd "$T"

# marks: the "event" records (kind token) in stream order
marks() {
	redis_records | jq -r 'select(.t == "event") | "\(.kind) \(.token) \(.lock)"'
}

# ---- 1. twenty concurrent lockers ------------------------------------------
i=0
pids=
while [ "$i" -lt 20 ]; do
	"$SC" "$U" lock deploy:web:prod 5000 -1 30 >"out.$i" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
for p in $pids; do wait "$p" || fail "a locker failed: $(cat out.*)"; done
marks | grep " deploy:web:prod$" >marks.txt
[ "$(wc -l <marks.txt)" -eq 40 ] || fail "expected 40 marks, got: $(cat marks.txt)"
awk 'NR % 2 == 1 { if ($1 != "enter") bad = 1; tok = $2; if (tok + 0 <= last + 0) bad = 1; last = tok }
     NR % 2 == 0 { if ($1 != "leave" || $2 != tok) bad = 1 }
     END { exit bad }' marks.txt || fail "lockers overlapped or tokens did not grow: $(cat marks.txt)"
[ "$(R get cdx:fence:deploy:web:prod)" = 20 ] || fail "fence counter is not 20"
[ "$(R exists cdx:lock:deploy:web:prod)" = 0 ] || fail "lock left behind"
echo "ok 20 lockers serialized, tokens $(awk '$1 == "enter" { printf "%s ", $2 }' marks.txt)"

# ---- 2. oldest waiter first ------------------------------------------------
"$SC" "$U" lock q 5000 0 1500 >holder.out 2>&1 &
hp=$!
until grep -q token holder.out; do sleep 0.02; done
for w in a b c d; do
	"$SC" "$U" lock q 5000 10000 10 >"w.$w" 2>&1 &
	eval "wp_$w=\$!"
	sleep 0.2
done
wait "$hp" || fail "holder failed"
for w in a b c d; do eval "wait \$wp_$w" || fail "waiter $w failed: $(cat "w.$w")"; done
order=$(for w in a b c d; do echo "$(sed -n 's/^token //p' "w.$w") $w"; done | sort -n | awk '{ printf "%s", $2 }')
[ "$order" = abcd ] || fail "waiters were not served oldest first: $order"
echo "ok waiters served in arrival order"

# ---- 3. SIGSTOP past the TTL -----------------------------------------------
"$SC" "$U" lock deploy:web:stop 600 0 1500 >stopped.out 2>&1 &
sp=$!
until grep -q token stopped.out; do sleep 0.01; done
kill -STOP "$sp"
t1=$(sed -n 's/^token //p' stopped.out)
expect_status 0 "$SC" "$U" lock deploy:web:stop 5000 5000 10
t2=$(echo "$OUT" | sed -n 's/^token //p')
[ "$t2" -gt "$t1" ] || fail "the new holder's token $t2 is not above $t1"
kill -CONT "$sp"
run_rc wait "$sp"
[ "$RC" -eq 5 ] || fail "the stopped holder's late write was not refused (exit $RC): $(cat stopped.out)"
grep -q lost stopped.out || fail "the stopped holder did not notice it lost the lock: $(cat stopped.out)"
marks | grep -q "leave $t1 deploy:web:stop" && fail "the late write of token $t1 was recorded"
marks | grep -q "leave $t2 deploy:web:stop" || fail "the new holder's write is missing"
echo "ok stopped holder lost the lock ($t1 -> $t2) and its late write was refused"

# ---- 4. fail closed without Redis --------------------------------------------
"$SC" "$U" lock deploy:web:gone 3000 0 1500 >gone.out 2>&1 &
gp=$!
until grep -q token gone.out; do sleep 0.01; done
stop_redis
run_rc wait "$gp"
[ "$RC" -eq 4 ] || [ "$RC" -eq 5 ] || fail "a holder without Redis did not fail (exit $RC): $(cat gone.out)"
expect_status 4 "$SC" "$U" lock deploy:web:gone 3000 0 10
expect_contains "127.0.0.1:$REDIS_PORT"
echo "ok lock operations fail closed without redis"
