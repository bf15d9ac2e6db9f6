#!/bin/sh
# t_keys_outputs.sh — job outputs: a build job writes KEY=VALUE lines and a
# KEY<<EOF block to $CDX_OUTPUT (a fresh file per attempt); the deploy job
# that needs it (through its stage) gets them as environment variables,
# through cdx run and through make; they are recorded with the attempt,
# shown by cdx status (and --json) with secrets masked; two needed jobs that
# give the same name fail the job that needs them, naming both; a bad
# $CDX_OUTPUT is reported and its outputs dropped.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
export RES="$T/res"
mkdir "$RES"
run_id() { printf '%s\n' "$OUT" | sed -n 's/.*(run \([^)]*\))$/\1/p' | tail -n 1; }

cat >outs.yml <<'EOF2'
name: outs
variables: {TOKEN: {value: hunter22, secret: true}}
stages:
  - name: build
    jobs:
      - name: version
        retry: 1
        script:
          - '[ -s "$CDX_OUTPUT" ] && exit 9'
          - echo "STALE=attempt$CDX_ATTEMPT" >>"$CDX_OUTPUT"
          - '[ "$CDX_ATTEMPT" -ge 2 ] || exit 1'
          - echo "VERSION=1.4.$CDX_ATTEMPT" >>"$CDX_OUTPUT"
          - printf 'NOTES<<END\nfirst line\nsecond line\nEND\n' >>"$CDX_OUTPUT"
          - echo "KEYREF=tok-$TOKEN" >>"$CDX_OUTPUT"
  - name: deploy
    jobs:
      - name: prod
        script:
          - echo "v=$VERSION stale=$STALE" >"$RES/prod"
          - printf '%s\n' "$NOTES" >"$RES/notes"
          - '[ "$KEYREF" = "tok-$TOKEN" ]'
EOF2
check() {
	[ "$(cat "$RES/prod")" = "v=1.4.2 stale=attempt2" ] || fail "$1: outputs did not travel: $(cat "$RES/prod")"
	printf 'first line\nsecond line\n' | cmp -s - "$RES/notes" || fail "$1: block output: $(cat "$RES/notes")"
}
expect_status 0 "$CDX" run outs.yml
check "cdx run"
id=$(run_id)
[ "$(job_field "$id" build/version '.attempts[1].outputs.VERSION')" = 1.4.2 ] || fail "outputs not recorded"
[ "$(job_field "$id" build/version '.attempts[1].outputs.KEYREF')" = 'tok-***' ] || fail "a secret in an output is not masked"
expect_status 0 "$CDX" status "$id"
expect_contains "output VERSION=1.4.2"
expect_not_contains hunter22

# --var wins over an output
rm -f "$RES/prod"
expect_status 0 "$CDX" run outs.yml --var VERSION=forced
[ "$(cat "$RES/prod")" = "v=forced stale=attempt2" ] || fail "--var should win over an output: $(cat "$RES/prod")"

# a clash between two needed jobs, and a bad file
cat >clash.yml <<'EOF2'
name: clash
stages:
  - name: a
    jobs:
      - {name: one, script: 'echo "X=1" >>"$CDX_OUTPUT"'}
      - {name: two, script: 'echo "X=2" >>"$CDX_OUTPUT"'}
      - {name: bad, script: 'echo "not an output" >>"$CDX_OUTPUT"'}
  - name: b
    jobs:
      - {name: use, needs: [a/one, a/two], script: "true"}
      - {name: usebad, needs: [a/bad], script: '[ -z "${X:-}" ]'}
EOF2
expect_status 1 "$CDX" run clash.yml -k
expect_contains "b/use needs a/one and a/two, and both give output X"
expect_contains "\$CDX_OUTPUT of a/bad: line 1: not KEY=VALUE or KEY<<DELIMITER"
id=$(run_id)
[ "$(job_field "$id" b/usebad .status)" = success ] || fail "usebad"

# ---- through make -----------------------------------------------------------
. "$TOP/tests/integration/make_lib.sh"
rm -f "$RES"/*
makefile Makefile "load $CDX_SO" '$(cdx-pipeline outs.yml)'
run_rc run_make outs >make.out 2>&1
[ "$RC" -eq 0 ] || fail "make: $(cat make.out)"
check make
echo "PASS t_keys_outputs"
