# deploy.sh — the deployment and rollback benchmark (sourced by run.sh).
#
# On the local hook set (no hooks written, so no hook time to exclude: what
# is measured is cdx itself — loading cdx.yml, replaying the environment's
# state from the store, taking the lock, durable records, symlink switches):
#   deploy     `cdx deploy web bench VERSION` of a new version, blue-green
#   rollback   `cdx rollback web bench --strategy immediate` right after it:
#              back to the warm slot
# Each of BENCH_RUNS rounds (default 5) deploys a fresh version and rolls it
# back; the store keeps growing, as it would.  Beside them `cdx --version`,
# the floor of any cdx command (process start).  Target: the immediate
# rollback under 50 ms (best of the rounds); its ratio to the deployment it
# reverts is shown.
# shellcheck shell=sh disable=SC2154 # set by lib.sh and bench_target

bench_deploy() {
	d="$W/deploy"
	mkdir -p "$d"
	cat >"$d/cdx.yml" <<'YML'
applications:
  web:
    environments:
      bench:
        strategy: blue_green
YML
	runs=$(bench_runs 5)
	(cd "$d" && "$CDX" deploy web bench 0.0.1 >/dev/null 2>&1)
	i=1
	while [ "$i" -le "$runs" ]; do
		bench_measure "$W/deploy.dep" -o /dev/null -C "$d" -- "$CDX" deploy web bench "1.0.$i" 2>/dev/null
		bench_measure "$W/deploy.rb" -o /dev/null -C "$d" -- "$CDX" rollback web bench --strategy immediate 2>/dev/null
		bench_measure "$W/deploy.floor" -o /dev/null -- "$CDX" --version
		i=$((i + 1))
	done
	dep=$(bench_best "$W/deploy.dep" | cut -d' ' -f1)
	echo "deploy: blue-green on the local hook set, best of $runs rounds"
	bench_header2 "/deploy"
	bench_row2 "cdx deploy (blue-green, new version)" "$W/deploy.dep" "$dep"
	bench_row2 "cdx rollback --strategy immediate" "$W/deploy.rb" "$dep"
	bench_row2 "cdx --version (process floor)" "$W/deploy.floor" "$dep"
	rb=$(bench_best "$W/deploy.rb" | cut -d' ' -f1)
	bench_target deploy_rollback_s "$rb" 0.050 "immediate rollback wall time (s), excluding hooks"
	echo "immediate rollback: $(awk -v r="$rb" 'BEGIN { printf "%.1f ms", r * 1000 }'), $(bench_ratio "$rb" "$dep")x the deployment it reverts: $met"
}
