# pool.sh — the worker pool benchmark (sourced by run.sh; issue 19).
#
# One private redis-server (no persistence), workers as processes of this
# machine (jobs that sleep stand for machines' work), in one run:
#  1. pickup latency on an idle pool: BENCH_POOL_PICKUPS (default 200) jobs
#     in a chain (each needs the one before, so each is submitted to an
#     idle worker blocked in XREADGROUP), one worker of 2 slots; the time
#     from submission to the worker taking the job, as its start event
#     records it — target: p99 <= 5 ms;
#  2. throughput: BENCH_POOL_JOBS (default 400) independent jobs of
#     BENCH_POOL_SLEEP seconds (default 0.2) on 1, 2, 4 and 8 workers of
#     2 slots — target: N workers reach at least 0.8 x N times the
#     throughput of one;
#  3. the extra cost of a no-op job through the pool (one worker) against
#     `cdx run` running it locally: the best of BENCH_RUNS (default 5) of
#     each, a one-job pipeline.
# Needs redis-server and redis-cli (skipped without them, or in a build
# configured --without-redis); a missed target is added to BENCH_MISSED.

pool_workers_start() { # N: N workers of 2 slots, each in its own directory
	pw_pids=
	k=1
	while [ "$k" -le "$1" ]; do
		wd="$d/w$k"
		mkdir -p "$wd"
		cp "$d"/*.yml "$wd/"
		(cd "$wd" && exec env CDX_REDIS_LOCAL="$wd/.local" "$CDX_BUILD/cdx" worker --name "w$k" -j 2 >"$wd/log" 2>&1) &
		pw_pids="$pw_pids $!"
		n=0
		until grep -qs ready "$wd/log"; do
			n=$((n + 1)); [ "$n" -lt 400 ] || { echo "bench: worker w$k did not start" >&2; cat "$wd/log" >&2; exit 1; }
			sleep 0.05
		done
		k=$((k + 1))
	done
}

pool_workers_stop() {
	# shellcheck disable=SC2086 # pids
	kill $pw_pids 2>/dev/null || true
	# shellcheck disable=SC2086
	wait $pw_pids 2>/dev/null || true
	pw_pids=
}

bench_pool() {
	for t in redis-server redis-cli; do
		command -v "$t" >/dev/null 2>&1 || { echo "pool: skipped, '$t' is not installed"; return 0; }
	done
	if ! "$CDX_BUILD/cdx" worker --help 2>&1 | grep -q redis; then
		echo "pool: skipped, cdx has no worker pool"
		return 0
	fi
	pickups=${BENCH_POOL_PICKUPS:-200}
	jobs=${BENCH_POOL_JOBS:-400}
	sl=${BENCH_POOL_SLEEP:-0.2}
	runs=$(bench_runs 5)
	d="$W/pool"
	mkdir -p "$d"
	port=$((30000 + ($$ + 7) % 20000))
	while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" --daemonize no \
		>"$d/redis.log" 2>&1 &
	rpid=$!
	# shellcheck disable=SC2064 # the pid is known now
	trap "kill $rpid 2>/dev/null; rm -rf '$W'" EXIT
	n=0
	until redis-cli -p "$port" ping >/dev/null 2>&1; do
		n=$((n + 1)); [ "$n" -lt 200 ] || { echo "bench: redis-server did not start" >&2; exit 1; }
		sleep 0.05
	done
	export CDX_STATE="redis://127.0.0.1:$port" CDX_REDIS_LOCAL="$d/.local"
	R() { redis-cli -p "$port" "$@"; }

	# the pipelines
	{
		echo "name: chain"
		echo "stages:"
		i=1
		while [ "$i" -le "$pickups" ]; do
			echo "  - {name: s$i, jobs: [{name: j, script: 'true'}]}"
			i=$((i + 1))
		done
	} >"$d/chain.yml"
	{
		echo "name: wide"
		echo "stages:"
		echo "  - name: s"
		echo "    jobs:"
		i=1
		while [ "$i" -le "$jobs" ]; do
			echo "      - {name: j$i, script: 'sleep $sl'}"
			i=$((i + 1))
		done
	} >"$d/wide.yml"
	printf 'name: noop\nstages:\n  - {name: s, jobs: [{name: j, script: "true"}]}\n' >"$d/noop.yml"

	echo "pool: $pickups chained no-op jobs for pickup latency; $jobs jobs of ${sl}s on 1, 2, 4, 8 workers of 2 slots"
	# 1. pickup latency on an idle pool
	pool_workers_start 1
	(cd "$d" && "$CDX_BUILD/cdx" run chain.yml --workers -j 1 --output quiet >"$d/chain.out" 2>&1) ||
		{ echo "bench: the chain run failed" >&2; cat "$d/chain.out" >&2; exit 1; }
	id=$(R zrange cdx:runs:chain 0 -1 | tail -1)
	R --raw xrange "cdx:pool:run:$id" - + | awk 'p { print; p = 0 } $0 == "pickup_ms" { p = 1 }' | sort -n >"$d/pickups"
	p50=$(awk '{ a[NR] = $1 } END { i = int(NR * 0.5 + 0.5); if (i < 1) i = 1; print a[i] }' "$d/pickups")
	p99=$(awk '{ a[NR] = $1 } END { i = int(NR * 0.99 + 0.5); if (i < 1) i = 1; print a[i] }' "$d/pickups")
	pmax=$(tail -1 "$d/pickups")
	printf '  pickup latency on an idle pool (%s jobs): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n' \
		"$(wc -l <"$d/pickups")" "$p50" "$p99" "$pmax"
	bench_target pool_pickup_p99 "$p99" 5 "p99 ms from a job's submission to an idle worker taking it"

	# 3. no-op job: local against through the pool (one worker up)
	: >"$d/local.log"
	: >"$d/pooled.log"
	i=0
	while [ "$i" -lt "$runs" ]; do
		bench_measure "$d/local.log" -o /dev/null -C "$d" -- "$CDX_BUILD/cdx" run noop.yml --output quiet
		bench_measure "$d/pooled.log" -o /dev/null -C "$d" -- "$CDX_BUILD/cdx" run noop.yml --workers --output quiet
		i=$((i + 1))
	done
	pool_workers_stop
	lt=$(bench_best "$d/local.log" | awk '{ print $1 }')
	pt=$(bench_best "$d/pooled.log" | awk '{ print $1 }')
	printf '  a no-op job: cdx run %.1f ms, through the pool %.1f ms: %.1f ms more\n' \
		"$(awk -v t="$lt" 'BEGIN { print t * 1000 }')" "$(awk -v t="$pt" 'BEGIN { print t * 1000 }')" \
		"$(awk -v a="$pt" -v b="$lt" 'BEGIN { print (a - b) * 1000 }')"

	# 2. throughput with 1, 2, 4, 8 workers
	printf '  %-10s %10s %12s %10s\n' workers "wall (s)" "jobs/s" "x one"
	one=0
	for nw in 1 2 4 8; do
		pool_workers_start "$nw"
		t0=$(date +%s.%N)
		(cd "$d" && "$CDX_BUILD/cdx" run wide.yml --workers --output quiet >"$d/wide.out" 2>&1) ||
			{ echo "bench: the wide run failed" >&2; cat "$d/wide.out" >&2; exit 1; }
		t1=$(date +%s.%N)
		pool_workers_stop
		thr=$(awk -v a="$t0" -v b="$t1" -v n="$jobs" 'BEGIN { print n / (b - a) }')
		[ "$nw" -eq 1 ] && one=$thr
		x=$(bench_ratio "$thr" "$one")
		printf '  %-10s %10.2f %12.1f %9sx\n' "$nw" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$thr" "$x"
		if [ "$nw" -gt 1 ]; then
			# target: thr >= 0.8 * N * one, as "one / thr * 0.8 N <= 1"
			v=$(awk -v o="$one" -v t="$thr" -v n="$nw" 'BEGIN { printf "%.3f", (t > 0 ? 0.8 * n * o / t : 99) }')
			bench_target "pool_scale_$nw" "$v" 1 "0.8 x $nw x one worker's jobs/s over $nw workers' (<= 1: met)"
		fi
	done
	kill "$rpid" 2>/dev/null || true
	wait "$rpid" 2>/dev/null || true
	trap 'rm -rf "$W"' EXIT
}
