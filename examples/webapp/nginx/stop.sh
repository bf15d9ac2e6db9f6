#!/bin/sh
# stop.sh — stop the example's nginx gracefully (QUIT: finish requests),
# forcibly after 10 s. Exit 0 also when it was not running.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
pidf=$here/run/nginx/nginx.pid
[ -s "$pidf" ] || exit 0
pid=$(cat "$pidf")
kill -QUIT "$pid" 2>/dev/null || exit 0
i=0
while kill -0 "$pid" 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -eq 200 ]; then
		kill -TERM "$pid" 2>/dev/null || true
	elif [ "$i" -ge 300 ]; then
		kill -KILL "$pid" 2>/dev/null || true
		break
	fi
	sleep 0.05
done
echo "nginx stopped"
