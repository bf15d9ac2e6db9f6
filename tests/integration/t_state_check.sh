#!/bin/sh
# t_state_check.sh — damaged records in the file store's journal (issue 18,
# item 6): readers say how many they skipped and where, `cdx state check`
# lists them (exit 1) and `--repair` moves them aside into
# journal.jsonl.damaged, leaving a journal that reads clean and that runs
# go on appending to.
#
# Defect it keeps fixed: a flipped byte in one record made a run show 59 of
# its 60 jobs, and no reader said a word.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
cd "$T"
STATE="$T/st"
export CDX_STATE="file:$STATE"
J="$STATE/journal.jsonl"

{
	echo "name: sixty"
	echo "stages:"
	echo "  - name: s"
	echo "    jobs:"
	i=1
	while [ "$i" -le 60 ]; do echo "      - {name: j$i, script: 'true'}"; i=$((i + 1)); done
} >sixty.yml
expect_status 0 "$CDX" run sixty.yml -j 4
id=$("$CDX" runs --json | jq -r '.[0].id')
expect_status 0 "$CDX" state check
expect_contains "no damage"
expect_not_contains "warning"

# flip one byte of the job record of s/j7 (its status), the checksum stays
line=$(grep -n '"t":"job",.*"job":"s/j7"' "$J" | cut -d: -f1)
[ -n "$line" ] || fail "no job record of s/j7 in the journal"
at=$(head -n $((line - 1)) "$J" | wc -c)
cp "$J" journal.before
sed -i "${line}s/\"status\":\"success\"/\"status\":\"suckess\"/" "$J"
cmp -s "$J" journal.before && fail "the byte was not flipped"

# readers: the job is missing, and they say so, once per command
expect_status 0 "$CDX" status "$id" --json
expect_contains "cdx: warning: skipped 1 damaged record in $J (the first at byte $at)"
expect_contains "cdx state check"
expect_status 0 "$CDX" runs
expect_contains "skipped 1 damaged record"
[ "$(printf '%s\n' "$OUT" | grep -c 'damaged record')" -eq 1 ] || fail "warned more than once: $OUT"
expect_status 0 "$CDX" health sixty --no-alerts
expect_contains "skipped 1 damaged record"

# check: exit 1, the record listed with its offset; nothing changed
expect_status 1 "$CDX" state check
expect_contains "$J: byte $at: damaged record"
expect_contains "1 damaged record"
[ ! -e "$J.damaged" ] || fail "check without --repair wrote $J.damaged"
# --repair: moved aside, not deleted; the journal reads clean
expect_status 1 "$CDX" state check --repair
expect_contains "moved 1 damaged record to $J.damaged"
[ "$(wc -l <"$J.damaged")" -eq 1 ] || fail "side file: $(cat "$J.damaged")"
grep -q '"status":"suckess"' "$J.damaged" || fail "the damaged line is not in the side file"
sed "${line}d" journal.before | cmp -s - "$J" || fail "the repaired journal is not the intact lines: $(sed "${line}d" journal.before | diff - "$J" | head -5)"
expect_status 0 "$CDX" state check
expect_contains "no damage"
expect_status 0 "$CDX" runs
expect_not_contains "warning"
# a repaired journal is appended to as before: seq goes on from the last one
last=$(tail -n 1 "$J" | jq .seq)
expect_status 0 "$CDX" run sixty.yml -j 4
[ "$(sed -n "$(($(grep -c . journal.before) - 1))p" "$J" | jq .seq)" -eq "$last" ] || fail "seq changed"
[ "$(jq -s '[.[].seq] | . == (sort | unique)' "$J")" = true ] || fail "seq does not grow after the repair"
expect_status 0 "$CDX" state check
expect_contains "no damage"
# a second repair of a clean journal changes nothing
expect_status 0 "$CDX" state check --repair
[ "$(wc -l <"$J.damaged")" -eq 1 ] || fail "side file grew"

# usage
expect_status 2 "$CDX" state check --repair redis://127.0.0.1:1
expect_status 2 "$CDX" state check "$T/nowhere"
expect_status 2 "$CDX" state copy a b --repair
echo "t_state_check: ok"
