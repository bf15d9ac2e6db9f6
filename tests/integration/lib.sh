# lib.sh — shared helpers of the integration tests (sourced, POSIX sh).
# Provides: $CDX (the built tool), $T (a fresh temporary directory removed
# at exit), fail, expect_status, expect_contains, expect_not_contains,
# expect_jq, run_rc, procs, nprocs, kill_procs, job_field, have_redis,
# start_redis (a private redis-server on a free loopback port), R,
# redis_state, redis_records, stop_redis, restart_redis.
set -eu
: "${CDX_BUILD:?CDX_BUILD must name the build directory}"
CDX="$CDX_BUILD/cdx"
CDX_SO="$CDX_BUILD/cdx.so"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
DATA="$TOP/tests/data"
T=$(mktemp -d "${TMPDIR:-/tmp}/cdx-it-XXXXXX")
REDIS_PID=
cleanup() {
	if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
	rm -rf "$T"
}
trap cleanup EXIT
export CDX_STATE="file:$T/.cdx"

# make loads an ASan-built cdx.so only with the ASan runtime preloaded
MAKE_ENV=
if [ "${SANITIZE:-no}" = yes ]; then
	MAKE_ENV="LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0"
fi
run_make() { env $MAKE_ENV make "$@"; }

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_status N CMD...: run CMD, capture stdout+stderr in $OUT, check status
expect_status() {
	want=$1; shift
	set +e
	OUT=$("$@" 2>&1)
	got=$?
	set -e
	[ "$got" -eq "$want" ] || fail "expected exit $want, got $got from: $* -- output: $OUT"
}

# expect_contains TEXT: $OUT contains TEXT (fixed string)
expect_contains() {
	case "$OUT" in *"$1"*) ;; *) fail "expected output to contain [$1], got: $OUT" ;; esac
}
expect_not_contains() {
	case "$OUT" in *"$1"*) fail "expected output not to contain [$1], got: $OUT" ;; *) ;; esac
}

# expect_jq FILE FILTER WANT: `jq -c FILTER FILE` prints WANT
expect_jq() {
	got=$(jq -c "$2" "$1")
	[ "$got" = "$3" ] || fail "$(basename "$1"): $2 is $got, expected $3"
}

# run_rc CMD...: run CMD with set -e off, its exit status in $RC (output
# and redirections as given); `run_rc wait PID` for a background job
run_rc() {
	set +e
	"$@"
	RC=$?
	set -e
}

# procs REGEX: pids of processes with an argument matching REGEX (tests
# mark the processes of their jobs with numbers such as 987.PID1 that no
# other command line holds); nprocs REGEX: how many
procs() { grep -lasE "$1" /proc/[0-9]*/cmdline 2>/dev/null | sed 's,^/proc/,,; s,/cmdline$,,' || true; }
nprocs() { procs "$1" | wc -l; }
# kill_procs REGEX...: SIGKILL every process procs finds (for EXIT traps:
# what a failed test left running)
kill_procs() {
	for _r in "$@"; do
		for _p in $(procs "$_r"); do kill -9 "$_p" 2>/dev/null || true; done
	done
}

# job_field RUN JOB JQ: a field of job JOB in `cdx status RUN --json`
job_field() { "$CDX" status "$1" --json | jq -r --arg j "$2" ".jobs[] | select(.id == \$j) | $3"; }

# have_redis: redis-server is installed and cdx was built with redis
have_redis() {
	command -v redis-server >/dev/null 2>&1 &&
		! "$CDX" --state redis://127.0.0.1:1 runs 2>&1 | grep -q "built without redis"
}

# start_redis [ARG...]: a private redis-server on a free loopback port;
# sets REDIS_PORT, REDIS_PID and REDIS_URL; extra ARGs go to redis-server
# (e.g. --appendonly yes, --requirepass PW).  REDIS_PORT set beforehand is
# reused (a restart on the same port, see restart_redis).
start_redis() {
	if ! have_redis; then
		echo "redis-server not installed, or cdx built without redis (configure --without-redis)" >&2
		exit 77
	fi
	pick=no
	if [ -z "${REDIS_PORT:-}" ]; then
		pick=yes
		REDIS_PORT=$(( 20000 + $$ % 20000 ))
	fi
	REDIS_ARGS="$*"
	tries=0
	while :; do
		if [ "$pick" = yes ]; then
			while ss -ltn 2>/dev/null | grep -q ":$REDIS_PORT "; do REDIS_PORT=$((REDIS_PORT + 1)); done
		fi
		redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
			--daemonize no "$@" >>"$T/redis.log" 2>&1 &
		REDIS_PID=$!
		REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
		i=0
		while [ "$i" -lt 200 ] && kill -0 "$REDIS_PID" 2>/dev/null &&
			! redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q -e PONG -e NOAUTH; do
			i=$((i + 1)); sleep 0.05
		done
		if kill -0 "$REDIS_PID" 2>/dev/null && redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q -e PONG -e NOAUTH; then
			return 0
		fi
		kill "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
		REDIS_PID=
		tries=$((tries + 1))
		# a port taken between the check and the bind: another one (unless
		# restarting on the same port, where the old one may linger a moment)
		[ "$tries" -lt 20 ] || fail "redis-server did not start: $(tail -5 "$T/redis.log")"
		if [ "$pick" = yes ]; then REDIS_PORT=$((REDIS_PORT + 1)); else sleep 0.2; fi
	done
}

# R ARG...: redis-cli on the private server
R() { redis-cli -p "$REDIS_PORT" "$@"; }

# redis_state [ARG...]: start_redis, and make it cdx's store (CDX_STATE,
# with its local directory $T/local)
redis_state() {
	start_redis "$@"
	export CDX_STATE="$REDIS_URL" CDX_REDIS_LOCAL="$T/local"
}

# redis_records [PREFIX]: every record of the Redis store on $REDIS_PORT,
# one compact JSON object a line, oldest first (entries of PREFIXrecords
# hold a batch, a JSON array; see redis/SCHEMA.md)
redis_records() {
	redis-cli -p "$REDIS_PORT" --raw xrange "${1:-cdx:}records" - + | grep -e '^\[' -e '^{' | jq -c 'if type == "array" then .[] else . end'
}

# stop_redis: stop the server (SIGKILL when KILL=9), as if it went away
stop_redis() {
	kill -"${KILL:-TERM}" "$REDIS_PID" 2>/dev/null || true
	wait "$REDIS_PID" 2>/dev/null || true
	REDIS_PID=
}

# restart_redis [ARG...]: stop_redis, and start it again on the same port
# and directory
restart_redis() {
	stop_redis
	start_redis "$@"
}
