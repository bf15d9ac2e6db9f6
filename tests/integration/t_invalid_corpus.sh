#!/bin/sh
# t_invalid_corpus.sh — cdx validate against the corpus in tests/data:
# every tests/data/invalid/NAME.yml must fail with exit status 2, nothing on
# stdout, and stderr equal to NAME.err plus the summary line; every
# tests/data/valid/*.yml must pass.  --json output must parse (jq).
#
# Files listed in tests/data/invalid/KNOWN_ISSUES are expected failures:
# their .err says what the loader should print.  A mismatch is reported as
# xfail; a match is an XPASS and fails the test, so that the list is kept
# honest.  Include-cycle messages carry absolute paths: .err files write
# @DIR@ for the physical path of tests/data/invalid, substituted here.
. "$(dirname "$0")/lib.sh"

JQ=
if command -v jq >/dev/null 2>&1; then
	JQ=jq
fi
# json_ok FILE: FILE holds one JSON document (jq, else python3, else skip)
json_ok() {
	if [ -n "$JQ" ]; then
		jq -e . "$1" >/dev/null
	elif command -v python3 >/dev/null 2>&1; then
		python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1"
	else
		return 0
	fi
}

cd "$DATA/invalid"
dir=$(pwd -P)
dir_re=$(printf '%s\n' "$dir" | sed 's/[\\|&]/\\&/g')
known=$(sed -n 's/^\([^#][^:]*\.yml\):.*/\1/p' KNOWN_ISSUES)
is_known() {
	for k in $known; do [ "$k" = "$1" ] && return 0; done
	return 1
}

n=0 bad=0 xfail=0
for f in *.yml; do
	name=${f%.yml}
	n=$((n + 1))
	[ -f "$name.err" ] || { echo "FAIL $f: no $name.err"; bad=$((bad + 1)); continue; }
	run_rc "$CDX" validate "$f" >"$T/out" 2>"$T/err"
	sed "s|@DIR@|$dir_re|g" "$name.err" >"$T/want"
	lines=$(wc -l <"$T/want")
	if [ "$lines" -eq 1 ]; then s=""; else s="s"; fi
	printf 'cdx validate: %d problem%s found\n' "$lines" "$s" >>"$T/want"
	why=
	if [ "$RC" -ne 2 ]; then
		why="exit status $RC, not 2"
	elif [ -s "$T/out" ]; then
		why="unexpected stdout: $(cat "$T/out")"
	elif ! cmp -s "$T/want" "$T/err"; then
		why="stderr differs (want, got):
$(diff "$T/want" "$T/err" || true)"
	fi
	if is_known "$f"; then
		if [ -n "$why" ]; then
			xfail=$((xfail + 1))
			echo "xfail $f: $why" | head -n 1
		else
			echo "XPASS $f: it now behaves as intended; remove it from KNOWN_ISSUES"
			bad=$((bad + 1))
		fi
		continue
	fi
	if [ -n "$why" ]; then
		echo "FAIL $f: $why"
		bad=$((bad + 1))
		continue
	fi
	# the same problems as JSON, when the tool survives the file
	run_rc "$CDX" validate --json "$f" >"$T/json" 2>"$T/jerr"
	if [ "$RC" -ne 2 ] || ! json_ok "$T/json"; then
		echo "FAIL $f: --json exit $RC or output does not parse"
		bad=$((bad + 1))
	elif [ -n "$JQ" ]; then
		got=$(jq -r '.files[0].problems | length' "$T/json")
		valid=$(jq -r '.valid' "$T/json")
		if [ "$got" -ne "$lines" ] || [ "$valid" != false ]; then
			echo "FAIL $f: --json lists $got problems (valid $valid), expected $lines"
			bad=$((bad + 1))
		fi
	fi
done
for k in $known; do
	[ -f "$k" ] || { echo "FAIL KNOWN_ISSUES names $k, which does not exist"; bad=$((bad + 1)); }
done
echo "invalid: $n files, $xfail expected failures, $bad failures"
[ "$n" -ge 35 ] || fail "only $n invalid files"

cd "$DATA/valid"
v=0
for f in *.yml; do
	v=$((v + 1))
	expect_status 0 "$CDX" validate "$f"
	expect_contains "$f: ok (pipeline "
	run_rc "$CDX" validate --json "$f" >"$T/json" 2>"$T/jerr"
	[ "$RC" -eq 0 ] || { echo "FAIL $f: --json exit $RC"; bad=$((bad + 1)); continue; }
	json_ok "$T/json" || { echo "FAIL $f: --json does not parse"; bad=$((bad + 1)); continue; }
	if [ -n "$JQ" ]; then
		[ "$(jq -r '.valid' "$T/json")" = true ] || { echo "FAIL $f: --json says invalid"; bad=$((bad + 1)); }
	fi
	# the plan of a valid file can always be made
	expect_status 0 "$CDX" run "$f" --dry-run -j 2
	expect_contains "predicted makespan"
done
echo "valid: $v files"
[ "$v" -ge 8 ] || fail "only $v valid files"
if [ -z "$JQ" ]; then
	echo "note: jq not installed; --json output checked with python3 only, or not at all"
fi
[ "$bad" -eq 0 ] || fail "$bad corpus failures"
