# webapp_lib.sh — shared by the t_webapp_*.sh tests (sourced after lib.sh,
# POSIX sh): a copy of examples/webapp in $EX with every port moved to a
# free range, its versions built, its nginx started, and everything the test
# started stopped at exit, also on failure.
#
# Provides: $EX, $NGINX_PORT, $NGINX (http://127.0.0.1:$NGINX_PORT),
# webapp_setup VERSION..., port_of ENV UNIT, loadgen_start ENV,
# loadgen_stop (sets $LG, the JSON counts), json_get EXPR FILE|-, bg PID...
command -v nginx >/dev/null 2>&1 || { echo "nginx not installed" >&2; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "curl not installed" >&2; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
# Under --enable-sanitize the example cannot run as users run it: its
# Makefile loads the ASan-built cdx.so, which make accepts only with the
# ASan runtime preloaded, and that preload, inherited by the hooks, hangs
# curl (seen: a health probe stuck in a futex for ten minutes).  The
# engine's ASan coverage comes from t_deploy_*, t_rollback and
# t_recover_crash, which drive the same code without third-party programs.
if [ "${SANITIZE:-}" = yes ]; then
	echo "the webapp example does not run under the sanitizer build (see webapp_lib.sh)" >&2
	exit 77
fi

# The tests' own deployments and rollbacks say --wait 1m: a detached
# `cdx scale-down` (scale_down_delay after a blue-green or canary
# deployment) takes the environment's lock for a moment, and a deployment
# meeting it would otherwise exit 3.
EX=$T/ex
BG_PIDS=
LG_PID=

# what the test put in the background, the detached `cdx scale-down`s of
# its deployments (their command line names the copy's cdx.yml), nginx,
# and every process whose executable lives in the copy (webapps the hooks
# started, from build/ or a release directory)
webapp_cleanup() {
	set +e
	for p in $BG_PIDS $LG_PID; do kill "$p" 2>/dev/null; done
	if [ -d "$EX" ]; then
		for d in /proc/[0-9]*; do
			case $(tr '\0' ' ' 2>/dev/null <"$d/cmdline") in
			*" scale-down "*) case $(tr '\0' ' ' 2>/dev/null <"$d/cmdline") in
				*"$EX/cdx.yml"*) kill "${d#/proc/}" 2>/dev/null ;; esac ;;
			esac
		done
		"$EX/nginx/stop.sh" >/dev/null 2>&1
		for d in /proc/[0-9]*; do
			exe=$(readlink "$d/exe" 2>/dev/null) || continue
			case $exe in "$EX"/*) kill -KILL "${d#/proc/}" 2>/dev/null ;; esac
		done
	fi
	for p in $BG_PIDS $LG_PID; do wait "$p" 2>/dev/null; done
	cleanup
}
trap webapp_cleanup EXIT
trap 'exit 130' INT TERM HUP

bg() { BG_PIDS="$BG_PIDS $*"; }

# free_base: a base port with BASE..BASE+39 all free (below the ephemeral range)
free_base() {
	b=$((20000 + ($$ % 240) * 50))
	tries=0
	while :; do
		busy=$(ss -ltnH 2>/dev/null | awk -v lo="$b" -v hi="$((b + 39))" '{
			n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p <= hi) print p }')
		[ -n "$busy" ] || { echo "$b"; return 0; }
		tries=$((tries + 1))
		[ "$tries" -lt 240 ] || fail "no free port range"
		b=$((b + 50))
		[ "$b" -lt 32000 ] || b=20000
	done
}

# webapp_setup VERSION...: copy the example, move its ports, build the
# versions and loadgen, start nginx
webapp_setup() {
	mkdir -p "$EX"
	(cd "$TOP/examples/webapp" && cp -R Makefile cdx.yml ci.yml ports.sh webapp.c loadgen.c hooks nginx "$EX/")
	NGINX_PORT=$("$EX/ports.sh" "$(free_base)")
	NGINX=http://127.0.0.1:$NGINX_PORT
	targets=build/loadgen
	for v in "$@"; do targets="$targets build/$v/webapp"; done
	# shellcheck disable=SC2086 # -O0: the machine is shared; t_webapp_server.sh builds with -O2 -Werror
	run_make -s -j2 -C "$EX" CDX="$CDX" CFLAGS="-O0 -Wall -Wextra" $targets >/dev/null || fail "cannot build versions $*"
	NGINX_PORT=$NGINX_PORT "$EX/nginx/start.sh" >/dev/null || fail "nginx does not start"
	export CDX_CONFIG="$EX/cdx.yml"
	echo "example in $EX, nginx on $NGINX_PORT"
}

# port_of ENV UNIT: the PORT of a slot or instance in the copy's cdx.yml
port_of() {
	awk -v env="$1:" -v unit="$2" '
		$1 == env { inside = 1; next }
		inside && /^      [a-z]/ { inside = 0 }
		inside && match($0, unit ": [{]PORT: [0-9]+") {
			s = substr($0, RSTART, RLENGTH); sub(/.*PORT: /, "", s); print s; exit }' "$EX/cdx.yml"
}

# version_of URL: what /version answers there, or "error"
version_of() { curl -fsS --max-time 2 "$1" 2>/dev/null || echo error; }

# loadgen_start ENV: requests to /web/ENV/version through nginx until loadgen_stop
loadgen_start() {
	rm -f "$T/lg.stop"
	"$EX/build/loadgen" -c 4 --interval-ms 2 --stop-file "$T/lg.stop" "$NGINX/web/$1/version" \
		>"$T/lg.json" 2>"$T/lg.err" &
	LG_PID=$!
	sleep 0.3
}

# loadgen_stop: stop it and read its counts into $LG
loadgen_stop() {
	touch "$T/lg.stop"
	wait "$LG_PID" || true
	LG_PID=
	LG=$(cat "$T/lg.json")
	[ -n "$LG" ] || fail "loadgen printed nothing: $(cat "$T/lg.err")"
	echo "loadgen: $LG"
}

# expect_no_failures WHAT: $LG counted requests and none failed
expect_no_failures() {
	total=$(echo "$LG" | jq .total)
	failed=$(echo "$LG" | jq .failed)
	[ "$total" -gt 0 ] || fail "$1: loadgen sent no requests"
	[ "$failed" -eq 0 ] || fail "$1: $failed of $total requests failed: $LG $(head -5 "$T/lg.err")"
	echo "$1: $total requests, 0 failed"
}
