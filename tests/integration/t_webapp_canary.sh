#!/bin/sh
# t_webapp_canary.sh — examples/webapp's canary environment behind nginx
# weighted upstreams: loadgen, sending requests through every step (25%,
# 50%, then the switch), sees none fail and sees both versions; the
# weights nginx really used match the steps; a canary that fails its health
# check gets no more traffic, is stopped, and exit 1 says stable serves; a
# canary whose requests fail is stopped by the analysis of its error rate.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/webapp_lib.sh
. "$(dirname "$0")/webapp_lib.sh"
webapp_setup 1.1.0 1.2.0 1.3.0-bad 1.5.0-flaky

# the analysis command also records the canary's share of the requests
# nginx proxied since the step began (what weight.sh recorded)
cat >"$EX/share.sh" <<'SH'
set -eu
read -r port off <run/nginx/steps/web_canary.step
tail -c +"$((off + 1))" run/nginx/access.log | awk -F '\t' -v a="127.0.0.1:$port" '
	$5 ~ /^\/web\/canary\// { n++; if ($3 == a) c++ }
	END { printf "%d %d\n", c, n }' >>"$SHARES"
exec hooks/error-rate.sh
SH
sed 's|command: hooks/error-rate.sh|command: sh share.sh|' "$EX/cdx.yml" >"$T/cdx.yml" && mv "$T/cdx.yml" "$EX/cdx.yml"
export SHARES="$T/shares"

expect_status 0 "$CDX" deploy web canary 1.1.0 --wait 1m
[ "$(version_of "$NGINX/web/canary/version")" = 1.1.0 ] || fail "nginx does not serve 1.1.0"

loadgen_start canary
expect_status 0 "$CDX" deploy web canary 1.2.0 --wait 1m
loadgen_stop
expect_no_failures "canary 1.1.0 -> 1.2.0 (steps 25, 50, 100)"
[ "$(echo "$LG" | jq '.versions["1.1.0"] > 0 and .versions["1.2.0"] > 0')" = true ] ||
	fail "loadgen did not see both versions: $LG"
[ "$(version_of "$NGINX/web/canary/version")" = 1.2.0 ] || fail "nginx does not serve 1.2.0"

# every step was taken, with analysis, in order
id=$("$CDX" deployments web canary --json | jq -r '.[-1].id')
"$CDX" status "$id" --json >"$T/s.json"
[ "$(jq -r '.state' "$T/s.json")" = succeeded ] || fail "deployment $id did not succeed: $(cat "$T/s.json")"
steps=$(jq -r '[.transitions[].msg // "" | select(test("^weight [0-9]+%"))] | join(",")' "$T/s.json")
case $steps in *25%*50%*) ;; *) fail "weights not stepped 25, 50: $steps" ;; esac
jq -e '[.transitions[].msg // "" | select(test("analysis"))] | length >= 2' "$T/s.json" >/dev/null ||
	fail "no analysis after the steps: $(jq -c '[.transitions[].msg]' "$T/s.json")"

# the canary's share of each step, from nginx's access log: 25% and 50%
echo "canary shares per step (canary requests, all requests):"; cat "$SHARES"
[ "$(wc -l <"$SHARES")" -eq 2 ] || fail "expected the analysis at two steps: $(cat "$SHARES")"
awk 'NR == 1 { w = 0.25 } NR == 2 { w = 0.50 }
	{ if ($2 < 50) { print "too few requests at step " NR; exit 1 }
	  s = $1 / $2; if (s < w - 0.05 || s > w + 0.05) { print "share " s " at step " NR; exit 1 } }' \
	"$SHARES" || fail "the canary's share does not follow the steps: $(cat "$SHARES")"
rm -f "$SHARES"

# a failing canary: 1.3.0-bad fails health after install; stable keeps serving
loadgen_start canary
expect_status 1 "$CDX" deploy web canary 1.3.0-bad --wait 1m
expect_contains "rolled back"
loadgen_stop
expect_no_failures "failed canary 1.3.0-bad"
[ "$(echo "$LG" | jq '.versions | has("1.3.0-bad")')" = false ] || fail "clients saw 1.3.0-bad: $LG"
for _ in 1 2 3 4 5 6 7 8; do
	[ "$(version_of "$NGINX/web/canary/version")" = 1.2.0 ] || fail "nginx does not serve only 1.2.0 after the rollback"
done
# the canary slot (the idle one: not serving 1.2.0) is stopped
east=$(port_of canary east)
west=$(port_of canary west)
idle=$east
[ "$(version_of "http://127.0.0.1:$east/version")" = 1.2.0 ] && idle=$west
[ "$(version_of "http://127.0.0.1:$idle/version")" = error ] || fail "the failed canary on port $idle still runs"

# a canary healthy on /health but failing the requests it serves
# (1.5.0-flaky): the analysis of its error rate at 25% stops it
loadgen_start canary
expect_status 1 "$CDX" deploy web canary 1.5.0-flaky --wait 1m
expect_contains "analysis"
expect_contains "rolled back"
loadgen_stop
echo "flaky canary under load: $(echo "$LG" | jq -c '{total, failed, versions}')"
total=$(echo "$LG" | jq .total)
failed=$(echo "$LG" | jq .failed)
# only the requests sent to the canary during its one step failed
[ "$failed" -gt 0 ] && [ "$((failed * 100 / total))" -le 35 ] || fail "failed $failed of $total requests: $LG"
for _ in 1 2 3 4 5 6 7 8; do
	[ "$(version_of "$NGINX/web/canary/version")" = 1.2.0 ] || fail "nginx does not serve only 1.2.0 after the flaky canary"
done
id=$("$CDX" deployments web canary --json | jq -r '.[-1].id')
"$CDX" status "$id" --json | jq -e '[.transitions[].msg // "" | select(test("weight 50"))] | length == 0' >/dev/null ||
	fail "the flaky canary went on to 50%"
echo "ok"
