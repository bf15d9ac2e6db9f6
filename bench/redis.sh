# redis.sh — the Redis state store benchmark (sourced by run.sh).
#
# One private redis-server (no persistence, a free loopback port), and on
# it, in one run:
#  1. redis-benchmark -P 16 -t set: the server's plain SET rate, the
#     reference;
#  2. recording BENCH_REDIS_RESULTS (default 100,000) job results through
#     the cdx store API as `cdx run` records them (an attempt and a job
#     record each, runs of 100 jobs, group commit every 512 records or
#     50 ms; bench/store_bench.c) — target: at least 0.5x the SET rate,
#     i.e. SET rate / cdx rate <= 2;
#  3. the same workload into the file store (journal in $W), beside it;
#  4. a health query with BENCH_REDIS_HISTORY (default 1,000,000) runs of
#     history of one pipeline: scan_runs of its last 10 runs (one EVALSHA)
#     and HGETALL of its health hash, BENCH_REDIS_QUERIES (default 2,000)
#     times each, in BENCH_RUNS rounds (the best round's p50 and p99
#     count) — target: p99 under 1 ms;
#  5. the file store's answer to the same query (cdx_store_scan_runs: two
#     scans of its journal) over BENCH_REDIS_FILE_HISTORY runs (default
#     100,000: a scan of a million-run journal takes seconds), 5 times.
# The best of BENCH_RUNS (default 3) counts for 1-3.  Populating a million
# runs takes about a minute and about 1 GB of memory in redis-server.
# Needs redis-server, redis-cli and redis-benchmark (skipped without them,
# or in a build configured --without-redis); a missed target is added to
# BENCH_MISSED.

bench_redis() {
	for t in redis-server redis-cli redis-benchmark; do
		command -v "$t" >/dev/null 2>&1 || { echo "redis: skipped, '$t' is not installed"; return 0; }
	done
	sb="$CDX_BUILD/bench/store_bench"
	if [ ! -x "$sb" ]; then
		echo "redis: skipped, no $sb (cdx was configured --without-redis)"
		return 0
	fi
	results=${BENCH_REDIS_RESULTS:-100000}
	hist=${BENCH_REDIS_HISTORY:-1000000}
	fhist=${BENCH_REDIS_FILE_HISTORY:-100000}
	queries=${BENCH_REDIS_QUERIES:-2000}
	runs=$(bench_runs 3)
	d="$W/redis"
	mkdir -p "$d"
	port=$((30000 + $$ % 20000))
	# a port in use, even by a socket in TIME-WAIT on a busy machine, makes
	# redis-server exit at once: then the next port is tried
	tries=0
	while :; do
		while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
		redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" \
			--daemonize no >"$d/redis.log" 2>&1 &
		rpid=$!
		# shellcheck disable=SC2064 # the pid is known now
		trap "kill $rpid 2>/dev/null; rm -rf '$W'" EXIT
		i=0
		until redis-cli -p "$port" ping >/dev/null 2>&1; do
			kill -0 "$rpid" 2>/dev/null || break
			i=$((i + 1))
			[ "$i" -lt 100 ] || { echo "bench: redis-server did not start" >&2; cat "$d/redis.log" >&2; exit 1; }
			sleep 0.05
		done
		kill -0 "$rpid" 2>/dev/null && break
		tries=$((tries + 1))
		[ "$tries" -lt 20 ] || { echo "bench: redis-server did not start" >&2; cat "$d/redis.log" >&2; exit 1; }
		port=$((port + 1))
	done
	url="redis://127.0.0.1:$port"
	R() { redis-cli -p "$port" "$@"; }

	set_best=0 cdx_best=0 file_best=0
	i=0
	while [ "$i" -lt "$runs" ]; do
		R flushall >/dev/null
		v=$(redis-benchmark -p "$port" -P 16 -t set -n 1000000 -r 100000 --csv 2>/dev/null |
			awk -F'"' '$2 == "SET" { print $4 }')
		set_best=$(awk -v a="$set_best" -v b="${v:-0}" 'BEGIN { print (b > a ? b : a) }')
		R flushall >/dev/null
		v=$("$sb" record "$url" "$results" | awk '{ print $6 }')
		cdx_best=$(awk -v a="$cdx_best" -v b="${v:-0}" 'BEGIN { print (b > a ? b : a) }')
		rm -rf "$d/file"
		v=$("$sb" record "file:$d/file" "$results" | awk '{ print $6 }')
		file_best=$(awk -v a="$file_best" -v b="${v:-0}" 'BEGIN { print (b > a ? b : a) }')
		i=$((i + 1))
	done
	R flushall >/dev/null
	rm -rf "$d/file"

	t0=$(date +%s)
	"$sb" populate "$url" ci "$hist" >"$d/populate.txt"
	t1=$(date +%s)
	i=0
	while [ "$i" -lt "$runs" ]; do
		"$sb" query "$url" ci "$queries" 10 >>"$d/query.txt"
		i=$((i + 1))
	done
	mem=$(R info memory | awk -F: '$1 == "used_memory_human" { sub(/\r/, "", $2); print $2 }')
	"$sb" populate "file:$d/file" ci "$fhist" >"$d/fpopulate.txt"
	"$sb" query "file:$d/file" ci 5 10 >"$d/fquery.txt"
	kill "$rpid" 2>/dev/null || true
	wait "$rpid" 2>/dev/null || true

	ratio=$(bench_ratio3 "$set_best" "$cdx_best")
	x=$(bench_ratio3 "$cdx_best" "$set_best")
	# the best round counts, as everywhere in bench/
	best() { awk -v k="$1" -v f="$2" '$1 == k && (m == "" || $f + 0 < m + 0) { m = $f } END { print m }' "$d/query.txt"; }
	sp99=$(best scan_runs 5)
	sp50=$(best scan_runs 3)
	hp99=$(best health_hash 5)
	hp50=$(best health_hash 3)
	fp50=$(awk '$1 == "scan_runs" { print $3 }' "$d/fquery.txt")
	echo "redis: one redis-server (no persistence); best of $runs runs"
	printf '%-58s %14s\n' "measurement" "figure"
	printf '%-58s %14.0f\n' "redis-benchmark -P 16 -t set (ops/s)" "$set_best"
	printf '%-58s %14.0f\n' "cdx store, redis: $results job results (results/s)" "$cdx_best"
	printf '%-58s %14.0f\n' "cdx store, file: the same workload (results/s)" "$file_best"
	printf '%-58s %14s\n' "populate $hist runs of history (s, runs/s)" \
		"$((t1 - t0)) $(awk '{ print $6 }' "$d/populate.txt")"
	printf '%-58s %14s\n' "redis memory with that history" "$mem"
	printf '%-58s %14s\n' "health: scan_runs(ci, 10), p50 / p99 (ms)" "$sp50 / $sp99"
	printf '%-58s %14s\n' "health: HGETALL cdx:health:ci, p50 / p99 (ms)" "$hp50 / $hp99"
	printf '%-58s %14s\n' "health: file store, scan_runs over $fhist runs, p50 (ms)" "$fp50"
	echo "cdx/redis-benchmark SET: ${x}x (target >= 0.5x)"
	bench_target redis_record "$ratio" 2.0 "SET ops/s over cdx job results/s (<= 2: at least 0.5x)"
	bench_target redis_health_p99 "$sp99" 1.0 "p99 ms of scan_runs(last 10) with $hist runs of history"
	bench_target redis_hash_p99 "$hp99" 1.0 "p99 ms of HGETALL health with $hist runs of history"
	trap 'rm -rf "$W"' EXIT
}
