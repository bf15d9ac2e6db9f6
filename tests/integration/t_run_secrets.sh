#!/bin/sh
# t_run_secrets.sh — secret variables (a value in the file, from_env, and a
# --var override of a secret) are "***" on the terminal in every output
# mode, in the log files and in the journal; also when a job prints one in
# two writes with a pause between, or on stderr; --json events hold none.
# A --var override of a job-level secret is a secret too (a fixed defect:
# only the pipeline's variables were looked up, so the value was shown and
# stored in the run record's vars).
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"

S_FILE='hunter2-file-Zq81'
S_ENV='tok-env-Kx93-secret'
S_CLI='cli-override-Wm55'
export CDX_TEST_TOKEN="$S_ENV"

cat >sec.yml <<'EOF'
name: sec
variables:
  PASSWORD: {value: hunter2-file-Zq81, secret: true}
  TOKEN: {from_env: CDX_TEST_TOKEN, secret: true}
  CLI_SECRET: {value: placeholder-not-used, secret: true}
  PLAIN: visible-value
stages:
  - name: s
    jobs:
      - name: direct
        script:
          - echo "password=$PASSWORD token=$TOKEN plain=$PLAIN"
          - echo "on stderr $TOKEN" >&2
          - echo "cli=$CLI_SECRET"
          - echo "twice $PASSWORD$PASSWORD end"
      - name: split
        script: |
          # half of each secret, a pause, the other half (two writes, two reads)
          printf 'split=%s' "$(printf '%s' "$PASSWORD" | cut -c1-7)"
          sleep 0.3
          printf '%s|\n' "$(printf '%s' "$PASSWORD" | cut -c8-)"
          printf 'tok=%s' "$(printf '%s' "$TOKEN" | cut -c1-3)"
          sleep 0.3
          printf '%s' "$(printf '%s' "$TOKEN" | cut -c4-)"
          sleep 0.2
          printf ' end\n'
      - name: unterminated
        script: printf '%s' "last line without newline $PASSWORD"
      - name: fails
        script: echo "failing with $TOKEN"; exit 1
        allow_failure: true
EOF

# check_clean WHAT TEXT: no secret in TEXT
check_clean() {
	for s in "$S_FILE" "$S_ENV" "$S_CLI" hunter2 Zq81 Kx93 Wm55; do
		case "$2" in *"$s"*) fail "$1 shows a secret ($s): $2" ;; esac
	done
}
# check_store: grep the whole state directory (journal and logs)
check_store() {
	for s in "$S_FILE" "$S_ENV" "$S_CLI"; do
		if grep -r -l -F -e "$s" "$T/.cdx" >/dev/null 2>&1; then
			fail "$1: secret $s stored in $(grep -r -l -F -e "$s" "$T/.cdx" | tr '\n' ' ')"
		fi
	done
}

for mode in prefix group quiet; do
	expect_status 0 "$CDX" run sec.yml -j 4 --output "$mode" --var "CLI_SECRET=$S_CLI"
	check_clean "--output $mode" "$OUT"
	if [ "$mode" != quiet ]; then
		expect_contains "password=*** token=*** plain=visible-value"
		expect_contains "on stderr ***"
		expect_contains "cli=***"
		expect_contains "twice ****** end"
		expect_contains "split=***|"
		expect_contains "tok=*** end"
		expect_contains "last line without newline ***"
		expect_contains "failing with ***"
	fi
	check_store "--output $mode"
done

# the logs hold the masked output, and cdx logs shows it
id=$("$CDX" runs --json | jq -r '.[0].id')
expect_status 0 "$CDX" logs "$id" s/split
[ "$OUT" = "split=***|
tok=*** end" ] || fail "log of s/split: $OUT"
expect_status 0 "$CDX" logs "$id" s/direct
check_clean "cdx logs" "$OUT"
expect_contains "password=*** token=***"
# status and runs hold no secret, and the run's variables omit them
expect_status 0 "$CDX" status "$id" --json
check_clean "cdx status" "$OUT"
expect_status 0 "$CDX" runs --json
check_clean "cdx runs" "$OUT"
printf '%s' "$OUT" | jq -e '.[0].vars.PLAIN == "visible-value"' >/dev/null || fail "PLAIN not in the run's vars: $OUT"
printf '%s' "$OUT" | jq -e '.[0].vars | has("PASSWORD") or has("TOKEN") or has("CLI_SECRET") | not' >/dev/null ||
	fail "a secret variable is listed in the run's vars: $OUT"

# ---- --json events ---------------------------------------------------------
expect_status 0 "$CDX" run sec.yml -j 4 --json --var "CLI_SECRET=$S_CLI"
check_clean "--json" "$OUT"
printf '%s\n' "$OUT" | jq -e . >/dev/null || fail "--json output is not JSON lines"
check_store "--json"

# ---- the journal itself, read as jq reads it --------------------------------
jq -c .rec "$T/.cdx/journal.jsonl" >recs.txt || fail "journal does not parse"
check_clean "journal" "$(cat recs.txt)"

# ---- a --var override of a job-level secret --------------------------------
S_JOB='override-s3cr3t-Qv42'
cat >s.yml <<'EOF'
name: jobsec
stages:
  - name: s
    jobs:
      - name: a
        variables:
          TOK: {value: job-secret-Hp10, secret: true}
        script: echo "tok=$TOK"
EOF
expect_status 0 "$CDX" run s.yml --var "TOK=$S_JOB"
expect_not_contains "$S_JOB"
expect_contains "tok=***"
if grep -r -l -F -e "$S_JOB" "$T/.cdx" >/dev/null; then
	fail "job secret stored in: $(grep -r -l -F -e "$S_JOB" "$T/.cdx" | tr '\n' ' ')"
fi
expect_status 0 "$CDX" run s.yml --var "TOK=$S_JOB" --json
expect_not_contains "$S_JOB"
echo "t_run_secrets: ok"
