# serve.sh — the cdx serve benchmark (sourced by run.sh).
#
#  1. event streams: BENCH_SERVE_CLIENTS (default 200) clients follow
#     /events of one server (file store) while `cdx run` runs a pipeline
#     of BENCH_SERVE_JOBS (default 200) short jobs; every client must
#     receive every record of the run (2 a job, and the run and run_end);
#     the server's CPU time over the run (from /proc) against the CPU of
#     the same `cdx run` alone, best of BENCH_RUNS (default 3) — target:
#     the server spends at most 1x what the run does;
#  2. /api/runs latency on Redis: BENCH_SERVE_HISTORY (default 1,000,000)
#     runs of one pipeline recorded through the store API (store_bench
#     populate), then BENCH_SERVE_QUERIES (default 2,000) requests one at a
#     time on a keep-alive connection of GET /api/runs (the runs page: the
#     last 20 runs of every pipeline together) — target: p99 under 5 ms —
#     and of GET /api/runs?pipeline=ci (the last 20 of one), for the record.
# Needs redis-server and redis-cli for 2 (skipped without them).

bench_serve() {
	sb="$CDX_BUILD/bench/serve_bench"
	[ -x "$sb" ] || { echo "serve: skipped, no $sb"; return 0; }
	clients=${BENCH_SERVE_CLIENTS:-200}
	jobs=${BENCH_SERVE_JOBS:-200}
	hist=${BENCH_SERVE_HISTORY:-1000000}
	queries=${BENCH_SERVE_QUERIES:-2000}
	runs=$(bench_runs 3)
	d="$W/serve"
	mkdir -p "$d"
	echo "serve: load average at the start: $(bench_load)"
	{
		echo "name: many"
		echo "stages:"
		s=0
		while [ "$s" -lt 4 ]; do
			echo "  - name: s$s"
			echo "    jobs:"
			j=0
			while [ "$j" -lt $((jobs / 4)) ]; do
				echo "      - {name: j$j, script: 'true'}"
				j=$((j + 1))
			done
			s=$((s + 1))
		done
	} >"$d/many.yml"
	want=$((jobs / 4 * 4 * 2 + 2))
	ticks=$(getconf CLK_TCK)
	cpu_of() { awk -v t="$ticks" '{ printf "%.3f\n", ($14 + $15) / t }' "/proc/$1/stat"; }

	# 1. cdx run alone, then with the server and its clients
	i=0
	while [ "$i" -lt "$runs" ]; do
		rm -rf "$d/alone"
		bench_measure "$d/alone.log" -o "$d/alone.out" -C "$d" -- "$CDX" --state "file:$d/alone" run many.yml -j 4
		i=$((i + 1))
	done
	rm -rf "$d/st"
	mkdir -p "$d/st"
	"$CDX" --state "file:$d/st" serve --listen 127.0.0.1:0 >/dev/null 2>"$d/serve.err" &
	spid=$!
	n=0
	until grep -q 'listening on' "$d/serve.err" 2>/dev/null; do
		n=$((n + 1)); [ "$n" -lt 200 ] || { echo "bench: cdx serve did not start: $(cat "$d/serve.err")" >&2; exit 1; }
		kill -0 "$spid" 2>/dev/null || { echo "bench: cdx serve: $(cat "$d/serve.err")" >&2; exit 1; }
		sleep 0.05
	done
	# the file store must exist before the server follows it: one run first
	port=$(sed -n 's,.*listening on http://[^:]*:\([0-9]*\)/.*,\1,p' "$d/serve.err")
	srv_best= ok=yes
	i=0
	while [ "$i" -lt "$runs" ]; do
		c0=$(cpu_of "$spid")
		(cd "$d" && "$sb" events "$port" "$clients" -- "$CDX" --state "file:$d/st" run many.yml -j 4) >"$d/ev.txt" 2>"$d/ev.err" ||
			{ echo "bench: the event streams failed: $(tail -3 "$d/ev.err")" >&2; exit 1; }
		c1=$(cpu_of "$spid")
		got=$(awk '/^clients/ { print $4 " " $6 }' "$d/ev.txt")
		[ "$got" = "$want $want" ] || { ok=no; echo "serve: a client missed events: min/max $got of $want" >&2; }
		c=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
		srv_best=$(awk -v a="$srv_best" -v b="$c" 'BEGIN { print (a == "" || b < a) ? b : a }')
		secs=$(awk '/^clients/ { print $8 }' "$d/ev.txt")
		i=$((i + 1))
	done
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	alone_cpu=$(bench_best "$d/alone.log" | awk '{ print $2 }')
	alone_wall=$(bench_best "$d/alone.log" | awk '{ print $1 }')
	ratio=$(bench_ratio "$srv_best" "$alone_cpu")
	echo "serve: $clients event-stream clients on one run of $jobs jobs ($want records each); best of $runs"
	printf '%-58s %14s\n' "measurement" "figure"
	printf '%-58s %14.3f\n' "cdx run alone: wall (s)" "$alone_wall"
	printf '%-58s %14.3f\n' "cdx run alone: CPU (s)" "$alone_cpu"
	printf '%-58s %14.3f\n' "cdx serve CPU over the run, $clients clients (s)" "$srv_best"
	printf '%-58s %14s\n' "the last run: first record to every client's run_end (s)" "$secs"
	printf '%-58s %14s\n' "every client received every record" "$ok"
	bench_target serve_events_cpu "$ratio" 1.0 "cdx serve CPU with $clients streams / cdx run CPU"
	[ "$ok" = yes ] || BENCH_ANOMALIES="$BENCH_ANOMALIES serve_events"

	# 2. /api/runs with a long history on Redis
	for t in redis-server redis-cli; do
		command -v "$t" >/dev/null 2>&1 || { echo "serve: /api/runs on redis skipped, '$t' is not installed"; return 0; }
	done
	[ -x "$CDX_BUILD/bench/store_bench" ] || { echo "serve: /api/runs on redis skipped (built --without-redis)"; return 0; }
	rport=$((31000 + $$ % 20000))
	while redis-cli -p "$rport" ping >/dev/null 2>&1; do rport=$((rport + 1)); done
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" --daemonize no >"$d/redis.log" 2>&1 &
	rpid=$!
	# shellcheck disable=SC2064 # the pid is known now
	trap "kill $rpid 2>/dev/null; rm -rf '$W'" EXIT
	n=0
	until redis-cli -p "$rport" ping >/dev/null 2>&1; do
		n=$((n + 1)); [ "$n" -lt 200 ] || { echo "bench: redis-server did not start" >&2; exit 1; }
		sleep 0.05
	done
	url="redis://127.0.0.1:$rport"
	t0=$(date +%s)
	"$CDX_BUILD/bench/store_bench" populate "$url" ci "$hist" >"$d/populate.txt"
	t1=$(date +%s)
	CDX_REDIS_LOCAL="$d/local" "$CDX" --state "$url" serve --listen 127.0.0.1:0 >/dev/null 2>"$d/serve2.err" &
	spid=$!
	n=0
	until grep -q 'listening on' "$d/serve2.err" 2>/dev/null; do
		n=$((n + 1)); [ "$n" -lt 600 ] || { echo "bench: cdx serve on redis did not start: $(cat "$d/serve2.err")" >&2; exit 1; }
		sleep 0.05
	done
	port=$(sed -n 's,.*listening on http://[^:]*:\([0-9]*\)/.*,\1,p' "$d/serve2.err")
	: >"$d/lat.txt"
	: >"$d/latone.txt"
	i=0
	while [ "$i" -lt "$runs" ]; do
		"$sb" latency "$port" "/api/runs" "$queries" >>"$d/lat.txt"
		"$sb" latency "$port" "/api/runs?pipeline=ci" "$queries" >>"$d/latone.txt"
		i=$((i + 1))
	done
	kill "$spid" "$rpid" 2>/dev/null || true
	wait "$spid" "$rpid" 2>/dev/null || true
	trap 'rm -rf "$W"' EXIT
	p99=$(awk '$1 == "requests" && (m == "" || $6 + 0 < m + 0) { m = $6 } END { print m }' "$d/lat.txt")
	p50=$(awk '$1 == "requests" && (m == "" || $4 + 0 < m + 0) { m = $4 } END { print m }' "$d/lat.txt")
	p99one=$(awk '$1 == "requests" && (m == "" || $6 + 0 < m + 0) { m = $6 } END { print m }' "$d/latone.txt")
	p50one=$(awk '$1 == "requests" && (m == "" || $4 + 0 < m + 0) { m = $4 } END { print m }' "$d/latone.txt")
	echo "serve: /api/runs on redis with $hist runs of history; best of $runs rounds of $queries requests"
	printf '%-58s %14s\n' "populate $hist runs (s)" "$((t1 - t0))"
	printf '%-58s %14s\n' "GET /api/runs (the last 20 of all), p50 / p99 (ms)" "$p50 / $p99"
	printf '%-58s %14s\n' "GET /api/runs?pipeline=ci (its last 20), p50 / p99 (ms)" "$p50one / $p99one"
	bench_target serve_api_runs_p99 "$p99" 5.0 "p99 ms of /api/runs with $hist runs on redis"
}
