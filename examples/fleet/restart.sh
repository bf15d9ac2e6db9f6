#!/bin/sh
# restart.sh — shipped inside every release (build/VERSION/restart.sh) and
# run ON the host by cdx's start hook, over SSH, in the host's path: stop
# the webapp this host runs (gracefully: it finishes what is in flight),
# start the one of $CDX_RELEASE_DIR on $PORT, wait until it answers.
# nginx retries a refused request on the other host meanwhile.
set -eu
: "${CDX_DEPLOY_DIR:?run by cdx}" "${CDX_RELEASE_DIR:?run by cdx}" "${PORT:?the host's variable}"
pf=$CDX_DEPLOY_DIR/shared/webapp.pid
mkdir -p "$CDX_DEPLOY_DIR/shared/log"
if [ -s "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null; then
	old=$(cat "$pf")
	kill -TERM "$old"
	i=0
	while kill -0 "$old" 2>/dev/null && [ "$(sed 's/.*) //' /proc/"$old"/stat 2>/dev/null | cut -c1)" != Z ]; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { kill -KILL "$old" 2>/dev/null || true; break; }
		sleep 0.05
	done
fi
"$CDX_RELEASE_DIR/webapp" --port "$PORT" --daemon --pidfile "$pf" --log "$CDX_DEPLOY_DIR/shared/log/webapp.log"
i=0
until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "restart.sh: the webapp does not answer on $PORT" >&2; exit 1; }
	sleep 0.05
done
echo "restart.sh: $CDX_HOST_NAME runs $CDX_VERSION on port $PORT"
