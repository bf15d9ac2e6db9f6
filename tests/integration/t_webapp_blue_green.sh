#!/bin/sh
# t_webapp_blue_green.sh — examples/webapp's staging environment, blue-green
# behind a real nginx: a deployment serves the new version through nginx;
# loadgen, sending requests throughout a switch, sees none fail; the version
# built to fail its health check (1.3.0-bad) is rolled back by itself
# (cdx deploy exits 1) and the previous version serves; make deploy works;
# cdx rollback to the warm slot loses no request either.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/webapp_lib.sh
. "$(dirname "$0")/webapp_lib.sh"
webapp_setup 1.1.0 1.2.0 1.3.0-bad 1.4.0

expect_status 0 "$CDX" validate "$EX/cdx.yml"

blue=$(port_of staging blue)
green=$(port_of staging green)
[ -n "$blue" ] && [ -n "$green" ] || fail "no slot ports in $EX/cdx.yml"

# first deployment: nothing served before
expect_status 0 "$CDX" deploy web staging 1.1.0 --wait 1m
[ "$(version_of "$NGINX/web/staging/version")" = 1.1.0 ] || fail "nginx does not serve 1.1.0"

# second: to the idle slot, switched under load
loadgen_start staging
expect_status 0 "$CDX" deploy web staging 1.2.0 --wait 1m
expect_contains "1.2.0 deployed"
sleep 0.5
loadgen_stop
expect_no_failures "blue-green switch 1.1.0 -> 1.2.0"
[ "$(echo "$LG" | jq '.versions["1.1.0"] > 0 and .versions["1.2.0"] > 0')" = true ] ||
	fail "loadgen did not see both versions: $LG"
[ "$(version_of "$NGINX/web/staging/version")" = 1.2.0 ] || fail "nginx does not serve 1.2.0"
# the old slot stays warm (scale_down_delay)
[ "$(version_of "http://127.0.0.1:$blue/version")" = 1.1.0 ] || fail "the old slot is not warm"
[ "$(version_of "http://127.0.0.1:$green/version")" = 1.2.0 ] || fail "slot green does not run 1.2.0"

# the failing version: health fails on the idle slot, cdx rolls back, exit 1
loadgen_start staging
expect_status 1 "$CDX" deploy web staging 1.3.0-bad --wait 1m
expect_contains "rolled back"
expect_contains "1.2.0"
loadgen_stop
expect_no_failures "failed deployment of 1.3.0-bad"
[ "$(echo "$LG" | jq '.versions | has("1.3.0-bad")')" = false ] || fail "clients saw 1.3.0-bad: $LG"
[ "$(version_of "$NGINX/web/staging/version")" = 1.2.0 ] || fail "nginx does not serve 1.2.0 after the rollback"
"$CDX" deployments web staging --json >"$T/d.json"
[ "$(jq -r '.[-1].state' "$T/d.json")" = rolled_back ] || fail "last deployment is not rolled_back: $(cat "$T/d.json")"
[ "$(jq -r '[.[] | select(.state == "succeeded")] | length' "$T/d.json")" -eq 2 ] ||
	fail "expected two succeeded deployments: $(cat "$T/d.json")"
id=$(jq -r '.[-1].id' "$T/d.json")
"$CDX" status "$id" --json >"$T/s.json"
[ "$(jq -r '.serving.version' "$T/s.json")" = 1.2.0 ] || fail "status $id does not say 1.2.0 serves: $(cat "$T/s.json")"

# make deploy: $(cdx-deploy web,$(ENV),$(VERSION)) from the example's Makefile
run_make -s -C "$EX" CDX="$CDX" -n deploy VERSION=1.4.0 >"$T/n.out" 2>&1 || true
grep -q "deploy 'web' 'staging' '1.4.0'" "$T/n.out" || fail "make -n deploy does not show the command: $(cat "$T/n.out")"
expect_status 0 run_make -s -C "$EX" CDX="$CDX" deploy VERSION=1.4.0
[ "$(version_of "$NGINX/web/staging/version")" = 1.4.0 ] || fail "make deploy did not bring 1.4.0"
echo "make deploy VERSION=1.4.0: ok"

# cdx rollback: the warm slot (1.2.0) takes the traffic back, under load
loadgen_start staging
expect_status 0 "$CDX" rollback web staging --wait 1m
loadgen_stop
expect_no_failures "cdx rollback 1.4.0 -> 1.2.0 (warm slot)"
[ "$(version_of "$NGINX/web/staging/version")" = 1.2.0 ] || fail "nginx does not serve 1.2.0 after cdx rollback"

# the slot holding 1.4.0 is stopped behind cdx's back: going back to it
# must never send traffic to a dead slot (the switch hook checks the slot
# first), whether or not cdx restarts it
slot=$(cd "$EX/run/pids" && grep -l '^1\.4\.0$' web-staging-*.version | sed 's/web-staging-//; s/\.version//')
[ -n "$slot" ] || fail "no slot holds 1.4.0"
(cd "$EX" && CDX_APP=web CDX_ENV=staging CDX_SLOT=$slot sh hooks/stop.sh)
loadgen_start staging
run_rc "$CDX" rollback web staging --to 1.4.0 --wait 1m >"$T/rb.log" 2>&1
loadgen_stop
expect_no_failures "cdx rollback --to 1.4.0 onto a stopped slot (exit $RC)"
if [ "$RC" -eq 0 ]; then
	[ "$(version_of "$NGINX/web/staging/version")" = 1.4.0 ] || fail "rollback succeeded but nginx does not serve 1.4.0"
	echo "cold slot: cdx restarted it and switched"
else
	[ "$(version_of "$NGINX/web/staging/version")" = 1.2.0 ] || fail "failed rollback left nginx not serving 1.2.0"
	echo "note: cdx took the stopped slot for warm (exit $RC): $(tail -n 1 "$T/rb.log"); 1.2.0 still serves"
fi
echo "ok"
