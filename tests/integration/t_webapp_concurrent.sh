#!/bin/sh
# t_webapp_concurrent.sh — one deployment of an environment at a time:
# ten `cdx deploy --wait` of staging queued behind a running one all
# succeed, one after the other, oldest first (a deploy hook that looks for
# another one's marker file, without any lock, finds none), and all are
# recorded with intervals that do not overlap; without --wait a deployment
# meeting a holder exits 3 and names it.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/webapp_lib.sh
. "$(dirname "$0")/webapp_lib.sh"
versions="2.0.1 2.0.2 2.0.3 2.0.4 2.0.5 2.0.6 2.0.7 2.0.8 2.0.9 2.0.10"
# shellcheck disable=SC2086
webapp_setup 1.0.0 $versions

# staging gets a deploy hook that detects overlap through a marker file
# (created by deploy, removed by switch: most of a deployment), and holds
# for $HOLD seconds
cat >"$EX/overlap.sh" <<'SH'
set -eu
case $1 in
deploy)
	if [ -e "$MARKS/inflight" ]; then
		echo "$CDX_DEPLOYMENT_ID overlaps $(cat "$MARKS/inflight")" >>"$MARKS/overlaps"
	fi
	echo "$CDX_DEPLOYMENT_ID" >"$MARKS/inflight"
	echo "$CDX_VERSION" >>"$MARKS/order"
	sleep "${HOLD:-0.1}" ;;
switch)
	rm -f "$MARKS/inflight"
	exec hooks/switch.sh ;;
esac
SH
awk '/^      staging:/ { s = 1 } /^      canary:/ { s = 0 }
	s && /hooks: / { sub(/hooks: [{]start/, "hooks: {deploy: sh overlap.sh deploy, start");
	                 sub(/switch: hooks\/switch.sh/, "switch: sh overlap.sh switch") }
	{ print }' "$EX/cdx.yml" >"$T/cdx.yml" && mv "$T/cdx.yml" "$EX/cdx.yml"
grep -q 'deploy: sh overlap.sh deploy' "$EX/cdx.yml" || fail "cannot add the overlap hook"
export MARKS="$T/marks"
mkdir -p "$MARKS"

# a first deployment holds the environment for 2 s; ten more queue behind
# it, started 0.1 s apart, so the queue's order (oldest first) is known
HOLD=2 "$CDX" deploy web staging 1.0.0 >"$T/deploy-1.0.0.log" 2>&1 &
pids=$!
bg $!
i=0
until [ -e "$MARKS/inflight" ]; do
	i=$((i + 1)); [ "$i" -lt 100 ] || fail "the first deployment did not start"; sleep 0.05
done
for v in $versions; do
	"$CDX" deploy web staging "$v" --wait 2m >"$T/deploy-$v.log" 2>&1 &
	pids="$pids $!"
	bg $!
	sleep 0.1
done
n=0
for p in $pids; do
	if ! wait "$p"; then
		n=$((n + 1))
	fi
done
BG_PIDS=
for v in $versions; do sed "s/^/$v: /" "$T/deploy-$v.log" | grep -E 'busy|wait|deployed|failed' | head -3; done
[ "$n" -eq 0 ] || fail "$n of the ten deployments failed"
[ ! -s "$MARKS/overlaps" ] || fail "deployments overlapped: $(cat "$MARKS/overlaps")"
[ "$(wc -l <"$MARKS/order")" -eq 11 ] || fail "the deploy hook ran $(wc -l <"$MARKS/order") times, not 11"
order=$(tr '\n' ' ' <"$MARKS/order")
echo "order: $order"
[ "$order" = "1.0.0 $versions " ] || fail "not served oldest first: $order"

"$CDX" deployments web staging --json >"$T/d.json"
[ "$(jq length "$T/d.json")" -eq 11 ] || fail "expected 11 deployments recorded: $(jq -c '[.[] | .version]' "$T/d.json")"
[ "$(jq '[.[] | select(.state == "succeeded")] | length' "$T/d.json")" -eq 11 ] ||
	fail "not all succeeded: $(jq -c '[.[] | [.version, .state]]' "$T/d.json")"
[ "$(jq -r '[.[] | .version] | sort | join(" ")' "$T/d.json")" = "$(echo 1.0.0 "$versions" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')" ] ||
	fail "recorded versions: $(jq -c '[.[] | .version]' "$T/d.json")"
# recorded intervals do not overlap
jq -e 'sort_by(.start_ms) | [range(1; length) as $i | .[$i].start_ms >= .[$i - 1].end_ms] | all' "$T/d.json" >/dev/null ||
	fail "recorded deployments overlap: $(jq -c '[.[] | [.version, .start_ms, .end_ms]]' "$T/d.json")"
last=$(jq -r 'sort_by(.end_ms) | .[-1].version' "$T/d.json")
[ "$(version_of "$NGINX/web/staging/version")" = "$last" ] || fail "nginx does not serve $last, the last deployed"
echo "ten concurrent deployments serialized; $last serves"

# busy: a holder for 3 s, and one more without --wait
HOLD=3 "$CDX" deploy web staging 2.0.1 --wait 1m >"$T/holder.log" 2>&1 &
holder=$!
bg "$holder"
i=0
until [ -e "$MARKS/inflight" ]; do
	i=$((i + 1)); [ "$i" -lt 100 ] || fail "the holder did not start"; sleep 0.05
done
expect_status 3 "$CDX" deploy web staging 2.0.2
expect_contains "busy"
expect_contains "pid $holder"
wait "$holder" || fail "the holder failed: $(cat "$T/holder.log")"
BG_PIDS=
echo "ok"
