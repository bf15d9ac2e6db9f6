#!/bin/sh
# t_deploy_local.sh — `cdx deploy` with the built-in local hook set only (no
# hooks written): releases/VERSION, slots/SLOT, a `current` symlink switched
# atomically (a reader looping on it never finds it missing), keep_releases
# pruning in record order (failed and incomplete releases first, never the
# newest good ones; file times say nothing: several deploys within one
# second used to keep an older release and delete a newer one), the
# rollback target is the newest good release; --json output, `cdx deployments`, `cdx status ID`; unknown
# application or environment (exit 2, the closest name), an invalid
# version; the protected gate (no terminal: exit 2; --yes or CDX_CONFIRM=1
# go ahead) and the requires gate (refused until `cdx run ci.yml --var
# VERSION=X` succeeded for that version); the audit trail: a --reason with
# a newline and an escape shows on one line, escaped, in history, status
# and deployments; USER=mallory is recorded as the real user with the
# claim beside it (deployments and runs).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/deploy_lib.sh"

cat >cdx.yml <<'EOF2'
applications:
  web:
    keep_releases: 3
    environments:
      staging:
        strategy: blue_green
        blue_green: {scale_down_delay: 1h}
      fleet:
        instances: {i1: {}, i2: {}, i3: {}}
        rolling: {batch: 2}
      prod:
        protected: true
      gated:
        requires: {pipeline: ci}
      quick:
        blue_green: {scale_down_delay: 1h}
        hooks: {deploy: 'case "$CDX_VERSION" in bad*) exit 1;; esac; if [ -f fail-once ]; then rm fail-once; exit 1; fi'}
EOF2
D="$P/.deploy/web/staging"

# ---- first deployment: a release, a slot link, current -------------------------
expect_status 0 "$CDX" deploy web staging 1.0
expect_contains "web/staging: 1.0 deployed in"
expect_contains "(was nothing)"
expect_contains "succeeded"   # progress lines on stderr
[ -d "$D/releases/1.0" ] || fail "no release directory 1.0"
[ "$(cat "$D/releases/1.0/VERSION")" = 1.0 ] || fail "releases/1.0/VERSION is wrong"
[ "$(current_link web staging)" = releases/1.0 ] || fail "current -> $(current_link web staging)"
[ "$(readlink "$D/slots/blue")" = ../releases/1.0 ] || fail "slots/blue -> $(readlink "$D/slots/blue")"
[ ! -e "$D/slots/green" ] || fail "green was touched by the first deployment"

# ---- the second goes to the other slot; --json --------------------------------------
"$CDX" deploy web staging 1.1 --json >out.json 2>err.txt || fail "deploy 1.1 failed: $(cat err.txt)"
[ "$(jq -r .state out.json)" = succeeded ] || fail "state: $(cat out.json)"
[ "$(jq -r .version out.json)" = 1.1 ] || fail "version: $(cat out.json)"
[ "$(jq -r .previous out.json)" = 1.0 ] || fail "previous: $(cat out.json)"
[ "$(jq -r .serving out.json)" = 1.1 ] || fail "serving: $(cat out.json)"
[ "$(jq -r .kind out.json)" = deploy ] || fail "kind: $(cat out.json)"
jq -e '.duration_ms >= 0' out.json >/dev/null || fail "duration_ms: $(cat out.json)"
ID2=$(jq -r .id out.json)
[ "$(readlink "$D/slots/green")" = ../releases/1.1 ] || fail "slots/green -> $(readlink "$D/slots/green")"
[ "$(readlink "$D/slots/blue")" = ../releases/1.0 ] || fail "the old slot is not kept warm"
[ "$(current_link web staging)" = releases/1.1 ] || fail "current -> $(current_link web staging)"

# ---- current is replaced atomically: a reader never finds it missing ------------
(
	while [ ! -f stop-reader ]; do
		readlink "$D/current" || echo MISSING
	done >reads.txt 2>&1
) &
reader=$!
for v in 1.2 1.3 1.4 1.5; do
	"$CDX" deploy web staging "$v" >/dev/null 2>&1 || fail "deploy $v failed"
done
touch stop-reader
wait "$reader"
[ -s reads.txt ] || fail "the reader read nothing"
if grep -qv '^releases/1\.[1-5]$' reads.txt; then
	fail "current was missing or wrong while switching: $(grep -v '^releases/1\.[1-5]$' reads.txt | sort -u | head -3)"
fi
set -- "$D"/current.new.*
[ ! -e "$1" ] || fail "a temporary link was left: $*"

# ---- keep_releases: 3 kept, those in use among them ------------------------------------
n=$(find "$D/releases" -mindepth 1 -maxdepth 1 -type d ! -name '*.tmp.*' | wc -l)
[ "$n" -eq 3 ] || fail "keep_releases 3, found $n releases: $(ls "$D/releases")"
for v in 1.4 1.5; do [ -d "$D/releases/$v" ] || fail "release $v in use was pruned"; done
[ ! -d "$D/releases/1.0" ] || [ ! -d "$D/releases/1.1" ] || fail "old releases were not pruned: $(ls "$D/releases")"

# ---- rolling with the local hook set: instance links ---------------------------------
expect_status 0 "$CDX" deploy web fleet 2.0
for i in i1 i2 i3; do
	[ "$(readlink "$P/.deploy/web/fleet/instances/$i")" = ../releases/2.0 ] || fail "instances/$i is not 2.0"
done
[ "$(current_link web fleet)" = releases/2.0 ] || fail "fleet current -> $(current_link web fleet)"

# ---- cdx deployments, cdx status ------------------------------------------------------------
"$CDX" deployments --json >all.json
[ "$(jq length all.json)" -eq 7 ] || fail "deployments: $(jq length all.json), want 7"
[ "$(jq -r '.[-1].env' all.json)" = fleet ] || fail "the newest is last: $(jq -c '.[-1]' all.json)"
[ "$(jq '[.[] | select(.state != "succeeded")] | length' all.json)" -eq 0 ] || fail "not all succeeded"
[ "$(jq -r '[.[] | select(.env == "staging") | .version] | join(" ")' all.json)" = "1.0 1.1 1.2 1.3 1.4 1.5" ] ||
	fail "staging versions: $(jq -c '[.[].version]' all.json)"
"$CDX" deployments web fleet --json >fleet.json
[ "$(jq length fleet.json)" -eq 1 ] || fail "deployments web fleet: $(cat fleet.json)"
expect_status 0 "$CDX" deployments web staging
expect_contains "web/staging 1.4 -> 1.5"
expect_contains "web/staging - -> 1.0"
expect_status 0 "$CDX" status "$ID2"
expect_contains "deploy $ID2 of web/staging: 1.0 -> 1.1, succeeded"
expect_contains "promoting"
"$CDX" status "$ID2" --json >st.json
[ "$(jq -r '.transitions | map(.state) | join(" ")' st.json)" = "pending deploying verifying promoting verifying succeeded" ] ||
	fail "transitions: $(jq -c '.transitions | map(.state)' st.json)"
[ "$(jq -r .serving.slot st.json)" = green ] || fail "status serving: $(jq -c .serving st.json)"
[ "$(jq -r '.user' st.json)" != null ] || fail "no user in the record"
expect_status 2 "$CDX" status 20990101T000000.000Z-00000000
expect_contains "no deployment or run with id"

# ---- unknown names, invalid versions ----------------------------------------------------------
expect_status 2 "$CDX" deploy webb staging 1.0
expect_contains "unknown application 'webb' (did you mean 'web'?)"
expect_status 2 "$CDX" deploy web stagin 1.0
expect_contains "unknown environment 'stagin' of application 'web' (did you mean 'staging'?)"
for bad in ../x .hidden 'a b' 'a/b' '1;rm' ''; do
	expect_status 2 "$CDX" deploy web staging "$bad"
	expect_contains "is invalid"
done
expect_status 2 "$CDX" deploy web staging 1.0 --strategy rolling
expect_contains "strategy rolling cannot deploy web/staging"
expect_status 2 "$CDX" deploy web staging
[ "$("$CDX" deployments --json | jq length)" -eq 7 ] || fail "a refused deployment was recorded"

# ---- protected ----------------------------------------------------------------------------------
expect_status 2 env -u CDX_CONFIRM "$CDX" deploy web prod 1.0 </dev/null
expect_contains "protected"
expect_contains "--yes"
[ ! -e "$P/.deploy/web/prod" ] || fail "a refused protected deployment changed something"
expect_status 2 env CDX_CONFIRM=0 "$CDX" deploy web prod 1.0 </dev/null
expect_status 0 env CDX_CONFIRM=1 "$CDX" deploy web prod 1.0 </dev/null
expect_status 0 "$CDX" deploy web prod 1.1 --yes </dev/null
[ "$(current_link web prod)" = releases/1.1 ] || fail "prod current -> $(current_link web prod)"

# ---- requires: {pipeline: ci} ---------------------------------------------------------------------
cat >ci.yml <<'EOF2'
name: ci
stages:
  - name: test
    jobs:
      - {name: check, script: 'case "$VERSION" in broken*) exit 1;; esac'}
EOF2
expect_status 2 "$CDX" deploy web gated 3.0
expect_contains "requires a successful run of pipeline 'ci' for version 3.0"
"$CDX" run ci.yml --var VERSION=3.0-other >/dev/null 2>&1 || fail "cdx run ci.yml failed"
expect_status 2 "$CDX" deploy web gated 3.0           # another version's run does not count
"$CDX" run ci.yml --var VERSION=broken1 >/dev/null 2>&1 && fail "the broken run succeeded"
expect_status 2 "$CDX" deploy web gated broken1       # a failed run does not count
"$CDX" run ci.yml --var VERSION=3.0 >/dev/null 2>&1 || fail "cdx run ci.yml --var VERSION=3.0 failed"
expect_status 0 "$CDX" deploy web gated 3.0
[ "$(current_link web gated)" = releases/3.0 ] || fail "gated current -> $(current_link web gated)"

# ---- pruning follows the records, not file times -------------------------------------
# deploys within one second have the same mtime; here the times even run
# backwards, and the newest releases by record order must stay
Q="$P/.deploy/web/quick"
i=0
for v in 2.0 2.1 2.2 2.3 2.4 2.5; do
	"$CDX" deploy web quick "$v" >/dev/null 2>&1 || fail "deploy quick $v failed"
	i=$((i + 1))
	touch -d "@$((1700000000 - i))" "$Q/releases/$v"
done
[ "$(ls "$Q/releases" | tr '\n' ' ')" = "2.3 2.4 2.5 " ] ||
	fail "keep_releases 3 by record order: want 2.3 2.4 2.5, found $(ls "$Q/releases" | tr '\n' ' ')"
# a failed release goes before an older good one
expect_status 1 "$CDX" deploy web quick bad-2.6
[ -d "$Q/releases/bad-2.6" ] || fail "setup: no release bad-2.6"
touch -d "@1800000000" "$Q/releases/bad-2.6"
expect_status 0 "$CDX" deploy web quick 2.7
[ "$(ls "$Q/releases" | tr '\n' ' ')" = "2.4 2.5 2.7 " ] ||
	fail "the failed release was not pruned first: want 2.4 2.5 2.7, found $(ls "$Q/releases" | tr '\n' ' ')"
# a version that failed once and then succeeded is good: the newest good
# release is the rollback target, and it stays
touch fail-once
expect_status 1 "$CDX" deploy web quick 2.8
[ ! -f fail-once ] || fail "setup: the deploy hook did not fail 2.8"
expect_status 0 "$CDX" deploy web quick 2.8
expect_status 0 "$CDX" deploy web quick 2.9
"$CDX" rollback web quick --dry-run --json >rb.json
[ "$(jq -r .to rb.json)" = 2.8 ] || fail "rollback target: $(jq -c '{to, problems}' rb.json), want the newest good 2.8"
[ -d "$Q/releases/2.8" ] || fail "the newest good release 2.8 was pruned: $(ls "$Q/releases" | tr '\n' ' ')"
expect_status 0 "$CDX" deploy web quick 3.0
[ "$(ls "$Q/releases" | tr '\n' ' ')" = "2.8 2.9 3.0 " ] ||
	fail "want 2.8 2.9 3.0, found $(ls "$Q/releases" | tr '\n' ' ')"

# a run records the real user too, and the claim beside it
env USER=mallory "$CDX" run ci.yml --var VERSION=3.1 >/dev/null 2>&1 || fail "cdx run as USER=mallory failed"
rid=$("$CDX" runs ci --json | jq -r 'max_by(.start_ms) | .id')
"$CDX" status "$rid" --json | jq -e --arg me "$(id -un)" '.user == $me and .claimed_user == "mallory"' >/dev/null ||
	fail "run of USER=mallory: $("$CDX" status "$rid" --json | jq -c '{user, claimed_user}')"
expect_status 0 "$CDX" status "$rid"
expect_contains "by $(id -un)@$(uname -n) (claims mallory)"

# ---- the audit trail: a value cannot forge a line; $USER is a claim, not who -------------------
me=$(id -un)
forged=$(printf 'hotfix\n2026-12-05 23:59:59  rollback web/staging 7.0 -> 1.0  succeeded  admin@vm  0.1s  FAKE\033[2K')
expect_status 0 "$CDX" deploy web staging 7.0 --reason "$forged"
expect_status 0 "$CDX" history web staging
n=$("$CDX" history web staging --json | jq length)
[ "$(printf '%s\n' "$OUT" | wc -l)" -eq "$n" ] || fail "history: $n deployments but more lines: $OUT"
printf '%s\n' "$OUT" | grep -q '^2026-12-05 23:59:59' && fail "history shows a forged line: $OUT"
expect_contains 'reason: hotfix\n2026-12-05 23:59:59  rollback'
expect_contains 'FAKE\x1b[2K'
"$CDX" history web staging --json | jq -e --arg r "$forged" '.[-1].reason == $r' >/dev/null ||
	fail "history --json does not keep the reason as given"
id=$("$CDX" history web staging --json | jq -r '.[-1].id')
expect_status 0 "$CDX" status "$id"
expect_contains 'reason: hotfix\n2026'
expect_status 0 "$CDX" deployments web staging
printf '%s\n' "$OUT" | grep -q '^2026-12-05' && fail "deployments shows a forged line: $OUT"
expect_status 2 "$CDX" deploy web "$(printf 'stag\ning')" 1.0
expect_contains "stag\\ning"
expect_status 0 env USER=mallory "$CDX" deploy web staging 7.1
"$CDX" history web staging --json | jq -e --arg me "$me" '.[-1] | .user == $me and .claimed_user == "mallory"' \
	>/dev/null || fail "USER=mallory: $("$CDX" history web staging --json | jq -c '.[-1]')"
expect_status 0 "$CDX" history web staging
expect_contains "$me@$(uname -n) (claims mallory)"
id=$("$CDX" history web staging --json | jq -r '.[-1].id')
expect_status 0 "$CDX" status "$id"
expect_contains "by $me@$(uname -n) (claims mallory)"
expect_status 0 env USER="$me" "$CDX" deploy web staging 7.2
"$CDX" history web staging --json | jq -e '.[-1] | has("claimed_user") | not' >/dev/null ||
	fail "a \$USER that agrees is recorded as a claim"

journal_check >/dev/null
echo "t_deploy_local: ok"
