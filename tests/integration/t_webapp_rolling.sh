#!/bin/sh
# t_webapp_rolling.sh — examples/webapp's fleet environment: four instances
# behind one nginx upstream, updated one at a time. A deployment under load
# loses no request and leaves every instance on the new version; when the
# third instance fails its health check, exactly the updated instances are
# started again with the previous version, newest first, and the fourth is
# never touched.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/webapp_lib.sh
. "$(dirname "$0")/webapp_lib.sh"
webapp_setup 1.1.0 1.2.0 1.3.0 1.3.0-bad

# the start hook of the copy logs its calls, and gives instance c the
# failing build when 1.3.0 is deployed
cat >"$EX/start-logged.sh" <<'SH'
set -eu
echo "$CDX_INSTANCE $CDX_VERSION" >>"$STARTS"
if [ "$CDX_INSTANCE" = c ] && [ "$CDX_VERSION" = 1.3.0 ]; then
	CDX_RELEASE_DIR=$PWD/build/1.3.0-bad
	export CDX_RELEASE_DIR
fi
exec hooks/start.sh
SH
sed 's|hooks: {start: hooks/start.sh, stop: hooks/stop.sh}$|hooks: {start: sh start-logged.sh, stop: hooks/stop.sh}|' \
	"$EX/cdx.yml" >"$T/cdx.yml" && mv "$T/cdx.yml" "$EX/cdx.yml"
grep -q 'start: sh start-logged.sh' "$EX/cdx.yml" || fail "cannot wrap the fleet's start hook"
export STARTS="$T/starts"

expect_status 0 "$CDX" deploy web fleet 1.1.0 --wait 1m
[ "$(version_of "$NGINX/web/fleet/version")" = 1.1.0 ] || fail "nginx does not serve 1.1.0"

loadgen_start fleet
expect_status 0 "$CDX" deploy web fleet 1.2.0 --wait 1m
loadgen_stop
expect_no_failures "rolling 1.1.0 -> 1.2.0 over 4 instances"
for u in a b c d; do
	[ "$(version_of "http://127.0.0.1:$(port_of fleet "$u")/version")" = 1.2.0 ] || fail "instance $u does not run 1.2.0"
done
[ "$(version_of "$NGINX/web/fleet/version")" = 1.2.0 ] || fail "nginx does not serve 1.2.0"

# a failure on the third instance
d_pid=$(cat "$EX/run/pids/web-fleet-d.pid")
: >"$STARTS"
loadgen_start fleet
expect_status 1 "$CDX" deploy web fleet 1.3.0 --wait 1m
expect_contains "instance c"
loadgen_stop
expect_no_failures "rolling 1.2.0 -> 1.3.0, failed on instance c"
starts=$(tr '\n' ',' <"$STARTS")
[ "$starts" = "a 1.3.0,b 1.3.0,c 1.3.0,c 1.2.0,b 1.2.0,a 1.2.0," ] ||
	fail "start hook calls: $starts (want a, b, c to 1.3.0, then c, b, a back to 1.2.0)"
echo "start hook calls: $starts"
[ "$(cat "$EX/run/pids/web-fleet-d.pid")" = "$d_pid" ] || fail "instance d was restarted"
for u in a b c d; do
	[ "$(version_of "http://127.0.0.1:$(port_of fleet "$u")/version")" = 1.2.0 ] ||
		fail "instance $u does not run 1.2.0 after the rollback"
done
id=$("$CDX" deployments web fleet --json | jq -r '.[-1].id')
"$CDX" status "$id" --json >"$T/s.json"
[ "$(jq -r '.state' "$T/s.json")" = rolled_back ] || fail "deployment $id is not rolled_back"
[ "$(jq -c '.serving.instances' "$T/s.json")" = '{"a":"1.2.0","b":"1.2.0","c":"1.2.0","d":"1.2.0"}' ] ||
	fail "status says: $(jq -c '.serving' "$T/s.json")"
echo "ok"
