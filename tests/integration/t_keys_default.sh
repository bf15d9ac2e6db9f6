#!/bin/sh
# t_keys_default.sh — default: gives every job the keys it does not set
# (before_script, after_script, retry, timeout, variables merged key by key,
# allow_failure), the job's own keys and its templates' win, through cdx run
# and through make; and a key cdx does not do (image:) is refused by name by
# cdx validate, cdx run and $(cdx-pipeline).
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
export RES="$T/res"
mkdir "$RES"

cat >dflt.yml <<'EOF2'
name: dflt
default:
  before_script: [PRE=default]
  after_script: echo "$CDX_JOB" >>"$RES/after"
  retry: 2
  timeout: 1s
  variables: {A: default_a, B: default_b}
templates:
  quick: {timeout: 20s}
stages:
  - name: s
    jobs:
      - name: plain
        script: echo "pre=$PRE a=$A b=$B" >"$RES/plain"
      - name: own
        before_script: PRE=own
        variables: {B: own_b}
        script: echo "pre=$PRE a=$A b=$B" >"$RES/own"
      - name: flaky
        script: echo "$CDX_ATTEMPT" >>"$RES/flaky"; [ "$CDX_ATTEMPT" -ge 3 ]
      - name: slowish
        extends: quick
        script: sleep 2; echo done >"$RES/slowish"
      - name: noafter
        after_script: []
        script: "true"
EOF2
expect_status 0 "$CDX" run dflt.yml -j 5
[ "$(cat "$RES/plain")" = "pre=default a=default_a b=default_b" ] || fail "plain: $(cat "$RES/plain")"
[ "$(cat "$RES/own")" = "pre=own a=default_a b=own_b" ] || fail "own: $(cat "$RES/own")"
[ "$(wc -l <"$RES/flaky")" -eq 3 ] || fail "default retry not taken: $(cat "$RES/flaky")"
[ "$(cat "$RES/slowish")" = done ] || fail "a template's timeout should win over default's"
[ "$(sort "$RES/after" | tr '\n' ' ')" = "flaky flaky flaky own plain slowish " ] || fail "after: $(sort "$RES/after" | tr '\n' ' ')"

# ---- refused by name -------------------------------------------------------
cat >img.yml <<'EOF2'
name: img
stages:
  - name: s
    jobs:
      - name: j
        image: alpine:3
        script: "true"
EOF2
msg="img.yml:6:9: 'image' is not supported in job: jobs run on the host"
expect_status 2 "$CDX" validate img.yml
expect_contains "$msg"
expect_status 2 "$CDX" run img.yml
expect_contains "$msg"

# ---- through make -----------------------------------------------------------
. "$TOP/tests/integration/make_lib.sh"
rm -f "$RES"/*
makefile Makefile "load $CDX_SO" '$(cdx-pipeline dflt.yml)'
run_rc run_make dflt -j3 >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make dflt: $(cat make.out)"
[ "$(cat "$RES/own")" = "pre=own a=default_a b=own_b" ] || fail "make own: $(cat "$RES/own")"
[ "$(wc -l <"$RES/flaky")" -eq 3 ] || fail "make: default retry not taken"
[ "$(sort "$RES/after" | tr '\n' ' ')" = "flaky flaky flaky own plain slowish " ] || fail "make after: $(sort "$RES/after" | tr '\n' ' ')"
makefile Makefile "load $CDX_SO" '$(cdx-pipeline img.yml)'
run_rc run_make img >make.out 2>&1
[ "$RC" -ne 0 ] || fail "make should refuse image:"
grep -q "'image' is not supported in job" make.out || fail "make: image not refused by name: $(cat make.out)"
echo "PASS t_keys_default"
