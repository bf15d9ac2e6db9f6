# pool_lib.sh — helpers of the worker pool tests (t_pool_*.sh), after lib.sh:
# a private redis-server as the state, workers each in a directory of its
# own (as separate machines would be), waits on conditions.
#
# start_worker NAME DIR [ARG...]: `cdx worker --name NAME` in DIR (its own
# local directory DIR/.local), in the background, its output in
# $T/NAME.log; returns when it printed its ready line; its pid in
# $WPID_NAME.  wait_for CMD...: until CMD succeeds (at most 30 s).
start_worker() {
	_n=$1; _d=$2; shift 2
	mkdir -p "$_d"
	(cd "$_d" && exec env CDX_REDIS_LOCAL="$_d/.local" "$CDX" worker --name "$_n" "$@" >"$T/$_n.log" 2>&1) &
	eval "WPID_$_n=$!"
	WORKER_PIDS="${WORKER_PIDS:-} $!"
	wait_for grep -qs "ready" "$T/$_n.log"
}

wait_for() {
	_i=0
	until "$@"; do
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "timed out waiting for: $*"
		sleep 0.05
	done
}

# the run ids of pipeline $1, oldest first
run_ids() { R zrange "cdx:runs:$1" 0 -1; }

# stop_workers: SIGKILL every worker start_worker started (for EXIT traps:
# none outlives its test)
stop_workers() {
	for _p in ${WORKER_PIDS:-}; do kill -9 "$_p" 2>/dev/null || true; done
	for _p in ${WORKER_PIDS:-}; do wait "$_p" 2>/dev/null || true; done
}
