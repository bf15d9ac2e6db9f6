# lib.sh — shared by the hooks of examples/webapp (sourced, POSIX sh).
#
# The hooks follow cdx's hook contract: they run in the directory of
# cdx.yml with CDX_APP, CDX_ENV, CDX_VERSION, CDX_SLOT or CDX_INSTANCE and
# that unit's variables (PORT), every unit's variables as
# CDX_SLOT_<NAME>_PORT / CDX_INSTANCE_<NAME>_PORT, CDX_RELEASE_DIR, ...
# Everything they create lives under run/ beside this directory:
#   run/pids/APP-ENV-UNIT.pid       the webapp serving a slot or instance
#   run/pids/APP-ENV-UNIT.version   the version it was started with
#   run/logs/APP-ENV-UNIT.log       its log
#   run/nginx/                      nginx (nginx/start.sh), with
#     upstreams/APP_ENV.conf        the upstream the switch/weight hooks write
#     locations/APP_ENV.conf        /APP/ENV/ proxied to that upstream
#     steps/APP_ENV.step            canary step start: port, access-log offset
set -eu

HOOKS=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=$(cd "$HOOKS/.." && pwd)
RUN=$EXAMPLE/run
NGX=$RUN/nginx

die() { echo "${0##*/}: $*" >&2; exit 1; }
say() { echo "${0##*/}: $*"; }

# name_ok NAME: NAME can be part of a variable and file name
name_ok() {
	case $1 in '' | *[!A-Za-z0-9_]*) return 1 ;; esac
	return 0
}

# need VAR...: each named variable is set and not empty
need() {
	for v in "$@"; do
		eval "[ -n \"\${$v:-}\" ]" || die "$v is not set (run by cdx deploy, or set it by hand)"
	done
}

# unit: the slot or instance this hook is about
unit() {
	if [ -n "${CDX_SLOT:-}" ]; then echo "$CDX_SLOT"
	elif [ -n "${CDX_INSTANCE:-}" ]; then echo "$CDX_INSTANCE"
	else die "neither CDX_SLOT nor CDX_INSTANCE is set"
	fi
}

# slot_port SLOT: the PORT of another slot, from CDX_SLOT_<SLOT>_PORT
slot_port() {
	name_ok "$1" || die "slot name $1 cannot be part of a variable name"
	eval "p=\${CDX_SLOT_${1}_PORT:-}"
	[ -n "$p" ] || die "CDX_SLOT_${1}_PORT is not set"
	echo "$p"
}

# release_bin: the webapp executable of CDX_VERSION
release_bin() {
	if [ -n "${CDX_RELEASE_DIR:-}" ]; then echo "$CDX_RELEASE_DIR/webapp"
	elif [ -n "${CDX_DEPLOY_DIR:-}" ]; then echo "$CDX_DEPLOY_DIR/releases/$CDX_VERSION/webapp"
	else echo "$EXAMPLE/build/$CDX_VERSION/webapp"
	fi
}

pidfile() { echo "$RUN/pids/$CDX_APP-$CDX_ENV-$1.pid"; }

# alive PID: PID runs (a zombie does not: a daemon's exit is reaped by
# init, which may take its time)
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) in Z* | X* | '') return 1 ;; esac
	return 0
}

# is_webapp PID: PID is alive and is a webapp (not a recycled pid)
is_webapp() {
	alive "$1" || return 1
	[ ! -r "/proc/$1/comm" ] || [ "$(cat "/proc/$1/comm")" = webapp ]
}

# stop_unit UNIT: SIGTERM its webapp (it finishes in-flight requests) and
# wait for it to exit; SIGKILL after 12 s
stop_unit() {
	pf=$(pidfile "$1")
	[ -s "$pf" ] || return 0
	pid=$(cat "$pf")
	if is_webapp "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while alive "$pid"; do
			i=$((i + 1))
			[ "$i" -lt 240 ] || { kill -KILL "$pid" 2>/dev/null || true; break; }
			sleep 0.05
		done
		say "stopped $1 (pid $pid)"
	fi
	rm -f "$pf" "$RUN/pids/$CDX_APP-$CDX_ENV-$1.version"
}

# http_get URL: the body, or fail (also on a status >= 400)
http_get() { curl -fsS --max-time 2 "$1" 2>/dev/null; }

# http_answers URL: something answers HTTP there, whatever the status
http_answers() { curl -sS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

nginx_port() {
	[ -s "$NGX/port" ] || die "nginx is not running (start it with nginx/start.sh)"
	cat "$NGX/port"
}

nginx_master() {
	[ -s "$NGX/nginx.pid" ] || die "nginx is not running (start it with nginx/start.sh)"
	m=$(cat "$NGX/nginx.pid")
	kill -0 "$m" 2>/dev/null || die "nginx (pid $m) is not running"
	echo "$m"
}

# nginx_lock: serialize upstream rewrites and reloads of the shared nginx
nginx_lock() {
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$NGX/reload.lock"
		flock -w 30 9 || die "cannot lock $NGX/reload.lock"
	fi
}

# nginx_upstream SERVER_LINES: write the upstream of APP_ENV (and its
# location when new) and reload nginx; returns once the reload took effect
nginx_upstream() {
	name=${CDX_APP}_$CDX_ENV
	name_ok "$name" || die "app/env name $name is not usable in nginx"
	mkdir -p "$NGX/upstreams" "$NGX/locations"
	up=$NGX/upstreams/$name.conf
	rm -f "$up.prev"
	[ ! -f "$up" ] || cp -p "$up" "$up.prev"
	printf 'upstream cdx_%s {\n%s}\n' "$name" "$1" >"$up.tmp"
	mv "$up.tmp" "$up"
	if [ ! -f "$NGX/locations/$name.conf" ]; then
		printf 'location /%s/%s/ {\n    proxy_pass http://cdx_%s/;\n}\n' \
			"$CDX_APP" "$CDX_ENV" "$name" >"$NGX/locations/$name.conf"
	fi
	if ! nginx -t -q -p "$NGX/" -e "$NGX/error.log" -c "$NGX/nginx.conf" 2>"$NGX/test.err"; then
		# put the previous upstream back: the next reload must not load this one
		if [ -f "$up.prev" ]; then mv "$up.prev" "$up"; else rm -f "$up"; fi
		die "nginx rejects the new upstream: $(cat "$NGX/test.err")"
	fi
	nginx_reload
}

# nginx_reload: SIGHUP the master and wait until a new generation of
# workers runs and the old one has exited (the old workers finish their
# in-flight requests first)
nginx_reload() {
	master=$(nginx_master)
	old=$(pgrep -P "$master" | tr '\n' ' ' || true)
	kill -HUP "$master"
	i=0
	while :; do
		now=$(pgrep -P "$master" || true)
		fresh=0
		for p in $now; do
			case " $old " in *" $p "*) ;; *) fresh=1 ;; esac
		done
		gone=1
		for p in $old; do
			if kill -0 "$p" 2>/dev/null; then gone=0; fi
		done
		[ "$fresh" -eq 0 ] || [ "$gone" -eq 0 ] || break
		i=$((i + 1))
		[ "$i" -lt 300 ] || die "nginx reload did not take effect within 15 s"
		sleep 0.05
	done
}

# wait_version URL VERSION SECONDS: URL answers VERSION (through nginx)
wait_version() {
	n=$(($3 * 20))
	i=0
	while [ "$(http_get "$1" || true)" != "$2" ]; do
		i=$((i + 1))
		[ "$i" -lt "$n" ] || die "$1 does not answer $2 after $3 s (got: $(http_get "$1" || echo error))"
		sleep 0.05
	done
}
