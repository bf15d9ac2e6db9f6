#!/bin/sh
# t_webapp_scale_down.sh — blue-green's old slot after scale_down_delay
# (1 s here): warm right after the switch, then stopped through the stop
# hook and recorded; a rollback after that starts the old version in the
# idle slot before switching, and loses no request.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/webapp_lib.sh
. "$(dirname "$0")/webapp_lib.sh"
webapp_setup 1.1.0 1.2.0

awk '/^      staging:/ { s = 1 } /^      canary:/ { s = 0 }
	s { sub(/scale_down_delay: 30s/, "scale_down_delay: 1s") } { print }' "$EX/cdx.yml" >"$T/cdx.yml" &&
	mv "$T/cdx.yml" "$EX/cdx.yml"
grep -q 'scale_down_delay: 1s' "$EX/cdx.yml" || fail "cannot shorten scale_down_delay"
blue=$(port_of staging blue)

expect_status 0 "$CDX" deploy web staging 1.1.0 --wait 1m
expect_status 0 "$CDX" deploy web staging 1.2.0 --wait 1m
[ "$(version_of "http://127.0.0.1:$blue/version")" = 1.1.0 ] || fail "the old slot is not warm right after the switch"
i=0
while [ "$(version_of "http://127.0.0.1:$blue/version")" != error ]; do
	i=$((i + 1)); [ "$i" -lt 100 ] || fail "the old slot still runs 10 s after a scale_down_delay of 1 s"; sleep 0.1
done
echo "old slot stopped after about $((i / 10 + 1)) s"
[ "$(version_of "$NGINX/web/staging/version")" = 1.2.0 ] || fail "nginx does not serve 1.2.0"
id=$("$CDX" deployments web staging --json | jq -r '.[-1].id')
i=0
until "$CDX" status "$id" --json | jq -e '[.transitions[].msg // "" | select(test("scaled down"))] | length == 1' >/dev/null; do
	i=$((i + 1)); [ "$i" -lt 50 ] || fail "the scale-down is not recorded in $id"; sleep 0.1
done

# back to 1.1.0: its slot is cold now, so cdx starts it first, then switches
loadgen_start staging
expect_status 0 "$CDX" rollback web staging --wait 1m
loadgen_stop
expect_no_failures "cdx rollback 1.2.0 -> 1.1.0 onto a scaled-down slot"
[ "$(version_of "$NGINX/web/staging/version")" = 1.1.0 ] || fail "nginx does not serve 1.1.0 after the rollback"
echo "ok"
