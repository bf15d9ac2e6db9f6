#!/bin/sh
# stop.sh — stop the example's nginx gracefully (QUIT: finish requests),
# forcibly after 10 s. Exit 0 also when it was not running.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
pidf=$here/run/nginx/nginx.pid
[ -s "$pidf" ] || exit 0
pid=$(cat "$pidf")
kill -QUIT "$pid" 2>/dev/null || exit 0
# a zombie (exited, not yet reaped by init) counts as stopped
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null || echo R) in Z* | X* | '') return 1 ;; esac
}
i=0
while alive "$pid"; do
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
