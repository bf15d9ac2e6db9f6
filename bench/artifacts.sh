# artifacts.sh — keeping and fetching a job's artifacts (sourced by run.sh).
#
# BENCH_ART_FILES (default 512) files of 64 KiB of random bytes (32 MiB,
# under the 64 MiB cap) in a workspace, and in one run:
#  1. the reference: tar -cf of them into a file made durable (sync FILE,
#     as the file store fsyncs what it keeps), and tar -xf of that file
#     into a fresh directory (GNU tar, on the same disk);
#  2. `cdx run` of a one-job pipeline whose `artifacts:` keeps them, into
#     the file store, less the same run without artifacts (the run's start
#     and records) — target: at most 3x the reference;
#  3. `cdx artifacts RUN JOB -o DIR` of them — target: at most 3x tar -xf;
#  4. the same two into a private redis-server (512 KiB chunks), when
#     redis-server is installed — reported beside the file store, no target.
# The best of BENCH_RUNS (default 3) counts; a missed target is added to
# BENCH_MISSED.

bench_artifacts() {
	bench_need tar head
	nfiles=${BENCH_ART_FILES:-512}
	runs=$(bench_runs 3)
	d="$W/art"
	mkdir -p "$d/ws/data"
	i=0
	while [ "$i" -lt "$nfiles" ]; do
		head -c 65536 /dev/urandom >"$d/ws/data/f$i"
		i=$((i + 1))
	done
	printf 'name: none\nstages:\n  - name: s\n    jobs:\n      - name: keep\n        script: "true"\n' >"$d/ws/none.yml"
	printf 'name: art\nstages:\n  - name: s\n    jobs:\n      - name: keep\n        script: "true"\n        artifacts: [data]\n' >"$d/ws/art.yml"
	echo "artifacts: $nfiles files of 64 KiB ($((nfiles / 16)) MiB), load $(bench_load)"
	r=0
	while [ "$r" -lt "$runs" ]; do
		rm -rf "$d/x.tar" "$d/tx" && mkdir -p "$d/tx"
		bench_measure "$d/tar_c" -C "$d/ws" -- sh -c 'tar -cf "$1" data && sync "$1"' sh "$d/x.tar"
		bench_measure "$d/tar_x" -C "$d/tx" -- tar -xf "$d/x.tar"
		rm -rf "$d/state" "$d/fx"
		bench_measure "$d/keep_file" -o "$d/run.out" -C "$d/ws" -- env CDX_STATE="file:$d/state" "$CDX" run art.yml
		id=$(sed -n 's/.*(run \(.*\))$/\1/p' "$d/run.out")
		bench_measure "$d/none_file" -o "$d/none.out" -C "$d/ws" -- env CDX_STATE="file:$d/state" "$CDX" run none.yml
		bench_measure "$d/get_file" -o "$d/get.out" -C "$d" -- env CDX_STATE="file:$d/state" "$CDX" artifacts "$id" s/keep -o "$d/fx"
		r=$((r + 1))
	done
	redis=no
	if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 &&
		! "$CDX" --state redis://127.0.0.1:1 runs 2>&1 | grep -q "built without redis"; then
		port=$((31000 + $$ % 20000))
		while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
		redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" \
			--daemonize no >"$d/redis.log" 2>&1 &
		apid=$!
		# shellcheck disable=SC2064 # the pid is known now
		trap "kill $apid 2>/dev/null; rm -rf '$W'" EXIT
		i=0
		until redis-cli -p "$port" ping >/dev/null 2>&1 || [ "$i" -ge 100 ]; do i=$((i + 1)); sleep 0.05; done
		if redis-cli -p "$port" ping >/dev/null 2>&1; then
			redis=yes
			r=0
			while [ "$r" -lt "$runs" ]; do
				rm -rf "$d/rx"
				bench_measure "$d/keep_redis" -o "$d/run.out" -C "$d/ws" -- env CDX_STATE="redis://127.0.0.1:$port" \
					CDX_REDIS_LOCAL="$d/local" "$CDX" run art.yml
				id=$(sed -n 's/.*(run \(.*\))$/\1/p' "$d/run.out")
				bench_measure "$d/get_redis" -o "$d/get.out" -C "$d" -- env CDX_STATE="redis://127.0.0.1:$port" \
					CDX_REDIS_LOCAL="$d/local" "$CDX" artifacts "$id" s/keep -o "$d/rx"
				r=$((r + 1))
			done
		fi
		kill "$apid" 2>/dev/null || true
		wait "$apid" 2>/dev/null || true
	fi
	tc=$(bench_best "$d/tar_c" | cut -d' ' -f1)
	tx=$(bench_best "$d/tar_x" | cut -d' ' -f1)
	bench_header2 "x tar"
	bench_row2 "tar -cf, sync (reference)" "$d/tar_c" "$tc"
	bench_row2 "cdx run: no artifacts" "$d/none_file" "$tc"
	bench_row2 "cdx run: keep (file store)" "$d/keep_file" "$tc"
	[ "$redis" = no ] || bench_row2 "cdx run: keep (redis)" "$d/keep_redis" "$tc"
	bench_row2 "tar -xf (reference)" "$d/tar_x" "$tx"
	bench_row2 "cdx artifacts: fetch (file store)" "$d/get_file" "$tx"
	[ "$redis" = no ] || bench_row2 "cdx artifacts: fetch (redis)" "$d/get_redis" "$tx"
	kf=$(bench_best "$d/keep_file" | cut -d' ' -f1)
	gf=$(bench_best "$d/get_file" | cut -d' ' -f1)
	nf=$(bench_best "$d/none_file" | cut -d' ' -f1)
	kd=$(awk -v a="$kf" -v b="$nf" 'BEGIN { printf "%.6f", (a > b ? a - b : 0) }')
	bench_target artifacts_keep "$(bench_ratio "$kd" "$tc")" 3 "keeping 32 MiB of artifacts (cdx run less a run without) / tar -cf, sync"
	bench_target artifacts_fetch "$(bench_ratio "$gf" "$tx")" 3 "cdx artifacts fetching them / tar -xf"
}
