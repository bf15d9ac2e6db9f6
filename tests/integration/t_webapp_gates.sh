#!/bin/sh
# t_webapp_gates.sh — examples/webapp's prod environment is protected and
# requires a successful ci run of the version: with no terminal and neither
# --yes nor CDX_CONFIRM=1 cdx deploy exits 2 and says why; a version with
# no ci run, or only a failed one, is refused; after `cdx run ci --var
# VERSION=...` or `make ci VERSION=...` succeeds it deploys and serves
# through nginx.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/webapp_lib.sh
. "$(dirname "$0")/webapp_lib.sh"
webapp_setup 1.2.0

# protected, no terminal (stdin is /dev/null), no --yes
# shellcheck disable=SC2016
expect_status 2 sh -c '"$0" deploy web prod 1.2.0 </dev/null' "$CDX"
expect_contains "protected"
expect_contains "--yes"

# confirmed, but no ci run of 1.2.0
expect_status 2 "$CDX" deploy web prod 1.2.0 --yes
expect_contains "requires a successful run of pipeline 'ci'"

# a failed ci run does not count: 1.6.0 with a compiler that fails
cd "$EX"
expect_status 1 "$CDX" run ci --var VERSION=1.6.0 --var CDX="$CDX" --var CC=false
expect_status 2 "$CDX" deploy web prod 1.6.0 --yes
expect_contains "requires a successful run of pipeline 'ci'"

# ci passes for 1.2.0 and 1.3.0: both may go
expect_status 0 "$CDX" run ci --var VERSION=1.2.0 --var CDX="$CDX"
# ... also through make: the Makefile's $(cdx-pipeline ci.yml)
expect_status 0 run_make -s -C "$EX" CDX="$CDX" ci VERSION=1.3.0
cd "$T"
# ... but not a version that ci saw only for another one
expect_status 2 "$CDX" deploy web prod 1.4.0 --yes
expect_status 0 "$CDX" deploy web prod 1.2.0 --yes --wait 1m
[ "$(version_of "$NGINX/web/prod/version")" = 1.2.0 ] || fail "nginx does not serve 1.2.0 on prod"
expect_status 0 env CDX_CONFIRM=1 "$CDX" deploy web prod 1.3.0 --wait 1m </dev/null
[ "$(version_of "$NGINX/web/prod/version")" = 1.3.0 ] || fail "nginx does not serve 1.3.0 on prod"
[ "$("$CDX" deployments web prod --json | jq '[.[] | select(.state == "succeeded")] | length')" -eq 2 ] ||
	fail "expected two succeeded prod deployments"
echo "ok"
