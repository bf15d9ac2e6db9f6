#!/bin/sh
# ports.sh BASE — move every port of the example from 18080 + offset to
# BASE + offset: the PORTs in cdx.yml (rewritten in place) and nginx's;
# prints the nginx port (use it as NGINX_PORT for nginx/start.sh). Tests
# run the example in a copy with free ports this way.
set -eu
base=${1:?usage: ports.sh BASE}
case $base in *[!0-9]*) echo "ports.sh: bad BASE $base" >&2; exit 2 ;; esac
cd "$(dirname "$0")"
awk -v base="$base" '{
	while (match($0, /PORT: 18[0-9][0-9][0-9]/)) {
		p = substr($0, RSTART + 6, RLENGTH - 6)
		$0 = substr($0, 1, RSTART - 1) "PORT= " (base + p - 18080) substr($0, RSTART + RLENGTH)
	}
	gsub(/PORT= /, "PORT: ")
	print
}' cdx.yml >cdx.yml.tmp
mv cdx.yml.tmp cdx.yml
echo "$base"
