#!/bin/sh
# start.sh — start hook: (re)start the webapp of CDX_VERSION on the slot or
# instance's PORT. Whatever the pidfile says runs there is stopped first
# (gracefully), so on a rolling instance this replaces the old version.
# Returns once the new process answers on 127.0.0.1:$PORT (whether healthy
# is cdx's health check to decide). For a rolling instance it also makes
# sure nginx's upstream of the environment lists every instance, with
# max_fails=0: nginx never takes an instance out of rotation for a while
# after a refused connection (instances restart faster than any
# fail_timeout), it just retries the request on the next one.
set -eu
# shellcheck source=examples/webapp/hooks/lib.sh
. "$(dirname "$0")/lib.sh"
need CDX_APP CDX_ENV CDX_VERSION PORT
u=$(unit)
bin=$(release_bin)
[ -x "$bin" ] || die "no executable $bin"
mkdir -p "$RUN/pids" "$RUN/logs"
stop_unit "$u"
pf=$(pidfile "$u")
"$bin" --port "$PORT" --daemon --pidfile "$pf" --log "$RUN/logs/$CDX_APP-$CDX_ENV-$u.log" ||
	die "cannot start $bin on port $PORT"
echo "$CDX_VERSION" >"$RUN/pids/$CDX_APP-$CDX_ENV-$u.version"
i=0
until http_answers "http://127.0.0.1:$PORT/version"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || die "$u (pid $(cat "$pf")) does not answer on port $PORT"
	sleep 0.05
done
say "$u runs $CDX_VERSION on port $PORT (pid $(cat "$pf"))"

if [ -n "${CDX_INSTANCE:-}" ] && [ -s "$NGX/port" ]; then
	servers=$(env | sed -n 's/^CDX_INSTANCE_[A-Za-z0-9_]*_PORT=\([0-9][0-9]*\)$/\1/p' | sort -n |
		while read -r p; do printf '    server 127.0.0.1:%s max_fails=0;\n' "$p"; done)
	want=$(printf 'upstream cdx_%s_%s {\n%s\n}' "$CDX_APP" "$CDX_ENV" "$servers")
	have=$(cat "$NGX/upstreams/${CDX_APP}_$CDX_ENV.conf" 2>/dev/null || true)
	if [ "$want" != "$have" ]; then
		nginx_lock
		nginx_upstream "$servers
"
		say "nginx: /$CDX_APP/$CDX_ENV/ balances over every instance"
	fi
fi
