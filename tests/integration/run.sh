#!/bin/sh
# run.sh — runs every tests/integration/t_*.sh against the built tree.
# Each test is a POSIX sh script that uses tests/integration/lib.sh; a test
# exits 0 on success, 77 when skipped, anything else on failure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${CDX_BUILD:?CDX_BUILD must name the build directory}"
export CDX_BUILD
pass=0 fail=0 skip=0 failed=
for t in "$here"/t_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	log="$CDX_BUILD/tests/$name.log"
	mkdir -p "$CDX_BUILD/tests"
	if sh "$t" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "ok   $name"
	else
		rc=$?
		if [ "$rc" -eq 77 ]; then
			skip=$((skip + 1)); echo "skip $name"
		else
			fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name (exit $rc)"
			sed 's/^/    /' "$log" | tail -n 40
		fi
	fi
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
