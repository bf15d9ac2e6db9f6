#!/bin/sh
# t_pool_faults.sh — the worker pool (issue 19) when things go wrong, with
# two workers each in its own directory:
#  - kill -9 of a worker in the middle of a job: after the lease the job
#    runs on the other worker, the run succeeds, and the record shows the
#    attempt that ended worker_lost;
#  - a worker stopped (SIGSTOP) past its lease and resumed (SIGCONT): its
#    late result is refused, and recorded as such;
#  - Redis restarted mid-run (appendonly): no acknowledged result is lost;
#  - Ctrl-C on the owner: the remote jobs get TERM (then KILL) and no
#    process of them is left on the workers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool_lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
redis_state --appendonly yes --appendfsync always
export CDX_POOL_LEASE_MS=1500 G="$T/gates"
mkdir -p "$G" "$T/owner"
trap 'rc=$?; [ $rc -eq 0 ] || cat "$T"/owner/*.out "$T"/w*.log >&2 || true; touch "$G/open"; kill_procs "987\.5[0-9]"; stop_workers; cleanup' EXIT
cat >"$T/owner/ci.yml" <<'EOF2'
name: ci
stages:
  - name: build
    jobs:
      # attempt 1 waits (on whichever worker), later attempts pass at once
      - name: victim
        script: |
          echo "victim attempt $CDX_ATTEMPT on $CDX_WORKER"
          if [ "$CDX_ATTEMPT" = 1 ]; then
            echo "$CDX_WORKER" >"$G/victim.1"
            while [ ! -e "$G/open" ]; do sleep 0.02; done
          fi
EOF2
for d in d1 d2; do mkdir -p "$T/$d"; cp "$T/owner/ci.yml" "$T/$d/"; done
start_worker w1 "$T/d1" -j 1
start_worker w2 "$T/d2" -j 1
pid_of() { eval "echo \$WPID_$1"; }

# kill -9 in the middle of a job
cd "$T/owner"
"$CDX" run ci.yml --workers >kill.out 2>&1 &
owner=$!
wait_for test -s "$G/victim.1"
lost=$(cat "$G/victim.1")
other=w1; [ "$lost" = w1 ] && other=w2
kill -9 "$(pid_of "$lost")"
run_rc wait "$owner"
[ "$RC" -eq 0 ] || fail "run after kill -9: $(cat kill.out)"
grep -q "victim attempt 2 on $other" kill.out || fail "not run again on $other: $(cat kill.out)"
id=$(run_ids ci | tail -1)
expect_status 0 "$CDX" status "$id" --json
echo "$OUT" | jq -e --arg l "$lost" --arg o "$other" '.jobs[0].attempts | length == 2 and
	.[0].status == "worker_lost" and .[0].worker == $l and .[1].status == "success" and .[1].worker == $o' \
	>/dev/null || fail "attempts: $OUT"
expect_status 0 "$CDX" metrics --prometheus
expect_contains "cdx_pool_jobs_reclaimed_total 1"
touch "$G/open" # the orphaned attempt 1 ends
rm -f "$G/open" "$G/victim.1"
start_worker "$lost" "$T/d_$lost" -j 1
cp "$T/owner/ci.yml" "$T/d_$lost/"

# SIGSTOP past the lease, SIGCONT: the late result is refused
"$CDX" run ci.yml --workers >stop.out 2>&1 &
owner=$!
wait_for test -s "$G/victim.1"
stopped=$(cat "$G/victim.1")
kill -STOP "$(pid_of "$stopped")"
run_rc wait "$owner"
[ "$RC" -eq 0 ] || fail "run with a stopped worker: $(cat stop.out)"
kill -CONT "$(pid_of "$stopped")"
wait_for grep -q "was refused" "$T/$stopped.log"
wait_for sh -c "redis-cli -p $REDIS_PORT --raw xrange cdx:records - + | grep -q late_result_refused"
id=$(run_ids ci | tail -1)
expect_status 0 "$CDX" status "$id" --json
echo "$OUT" | jq -e '.jobs[0].attempts[0].status == "worker_lost" and .jobs[0].attempts[1].status == "success"' \
	>/dev/null || fail "attempts: $OUT"
touch "$G/open"
rm -f "$G/victim.1"

# Redis restarted mid-run: the result handed in before is kept
cat >"$T/owner/two.yml" <<'EOF2'
name: two
stages:
  - name: s
    jobs:
      - {name: quick, script: 'echo quick done'}
      - name: slow
        script: |
          touch "$G/slow"; while [ ! -e "$G/resume" ]; do sleep 0.02; done; echo slow done
EOF2
for d in d1 d2 d_w1 d_w2; do [ -d "$T/$d" ] && cp "$T/owner/two.yml" "$T/$d/"; done
export CDX_POOL_LEASE_MS=4000
"$CDX" run two.yml --workers >two.out 2>&1 &
owner=$!
wait_for test -e "$G/slow"
wait_for grep -q "ok      s/quick" two.out
restart_redis --appendonly yes --appendfsync always
touch "$G/resume"
run_rc wait "$owner"
[ "$RC" -eq 0 ] || fail "run across a Redis restart: $(cat two.out)"
id=$(run_ids two | tail -1)
expect_status 0 "$CDX" status "$id" --json
echo "$OUT" | jq -e '[.jobs[].status] == ["success", "success"]' >/dev/null || fail "after restart: $OUT"

# SIGQUIT on a worker: it cancels its job and hands it back; it runs again
# on the other worker
rm -f "$G/open" "$G/victim.1"
"$CDX" run ci.yml --workers >quit.out 2>&1 &
owner=$!
wait_for test -s "$G/victim.1"
quitter=$(cat "$G/victim.1")
kill -QUIT "$(pid_of "$quitter")"
run_rc wait "$(pid_of "$quitter")"
[ "$RC" -eq 130 ] || fail "worker after SIGQUIT: exit $RC: $(cat "$T/$quitter.log")"
run_rc wait "$owner"
[ "$RC" -eq 0 ] || fail "run after a hand-back: $(cat quit.out)"
grep -q "handed the job back" quit.out || fail "no hand-back: $(cat quit.out)"
touch "$G/open"

# Ctrl-C on the owner: nothing of the job is left on the workers
cat >"$T/owner/hang.yml" <<'EOF2'
name: hang
stages:
  - name: s
    jobs:
      - name: forever
        script: |
          sleep 987.51 & sleep 987.52 & touch "$G/hang"; wait
EOF2
for d in d1 d2 d_w1 d_w2; do [ -d "$T/$d" ] && cp "$T/owner/hang.yml" "$T/$d/"; done
"$CDX" run hang.yml --workers --grace 1s >hang.out 2>&1 &
owner=$!
wait_for test -e "$G/hang"
wait_for test "$(nprocs '987\.5[12]')" -ge 2
kill -INT "$owner"
run_rc wait "$owner"
[ "$RC" -eq 130 ] || fail "Ctrl-C: exit $RC: $(cat hang.out)"
[ "$(nprocs '987\.5[12]')" -eq 0 ] || fail "processes left on the worker: $(procs '987\.5[12]')"
echo "ok t_pool_faults"
