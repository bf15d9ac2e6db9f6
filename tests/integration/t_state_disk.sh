#!/bin/sh
# t_state_disk.sh — the file store on a disk that fills up, and on one that
# is read-only (issue 18, items 4 and 5).  The state lives on a 256 KiB
# tmpfs (root only: the test skips without a mount).
#
# Defects it keeps fixed:
# - a full disk lost a run's records and `cdx run` still exited 0 with a
#   warning (the run then read `interrupted 0/0/0`); now it exits 4 and says
#   how many records were lost; the same for a job that make drives
#   (`cdx job`), whose failure make sees;
# - a job log cut short by the full disk was recorded as whole; now its
#   attempt record says log_truncated (and log_error), `cdx logs` and
#   `cdx status` say so, and the run warns on stderr even with
#   --output quiet (which hides the job output that carried the notice);
# - on a read-only state directory `cdx runs`, `status`, `logs`, `report`
#   and `health --no-alerts` exited 4 (the journal was opened for writing):
#   reading never needs write access.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "mounting a tmpfs needs root" >&2; exit 77; }
M="$T/mnt"
RO="$T/ro"
mkdir "$M" "$RO"
mount -t tmpfs -o size=256k tmpfs "$M" 2>/dev/null || { echo "mount -t tmpfs is not permitted here" >&2; exit 77; }
unmount() {
	umount "$RO" 2>/dev/null || true
	umount "$M" 2>/dev/null || true
}
trap 'unmount; cleanup' EXIT
cd "$T"
export CDX_STATE="file:$M/st"

# ---- a disk that fills up mid-run loses records: exit 4, said, even quiet --
{
	echo "name: big"
	echo "stages:"
	echo "  - name: s"
	echo "    jobs:"
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		echo "      - {name: j$i, script: 'head -c 30000 /dev/zero | tr \"\\\\0\" x; echo'}"
	done
} >big.yml
expect_status 4 "$CDX" run big.yml -j 2 --output quiet
expect_contains "cannot record run "
expect_contains "No space left on device"
expect_contains "records of it are lost"
expect_contains "is truncated"
id=$(printf '%s\n' "$OUT" | sed -n 's/.*cannot record run \([^ ]*\) in.*/\1/p')
[ -n "$id" ] || fail "the message names no run: $OUT"

# ---- a log cut short by a full disk is marked truncated -----------------------
# the first job fills the disk and prints; the second (after it) frees it
# again, so that the records, retried, are written after all
rm -rf "${M:?}/st"
cat >fill.yml <<'EOF'
name: fill
stages:
  - name: s
    jobs:
      - {name: fill, script: 'head -c 1000000 /dev/zero >"$FILLER" 2>/dev/null || true; head -c 20000 /dev/zero | tr "\0" y; echo'}
      - {name: free, needs: [s/fill], script: 'rm -f "$FILLER"'}
EOF
export FILLER="$M/filler"
expect_status 0 "$CDX" run fill.yml --output quiet
expect_contains "the log of s/fill (attempt 1) is truncated"
id=$("$CDX" runs fill --json | jq -r '.[0].id')
expect_status 0 "$CDX" status "$id" --json
printf '%s' "$OUT" | jq -e '.status == "success" and ([.jobs[] | select(.id == "s/fill") | .attempts[0]
	| .log_truncated == true and .log_error == "No space left on device"] == [true])
	and ([.jobs[] | select(.id == "s/free") | .attempts[0] | has("log_truncated")] == [false])' >/dev/null ||
	fail "attempt records: $OUT"
expect_status 0 "$CDX" status "$id"
expect_contains "log truncated"
expect_status 0 "$CDX" logs "$id" s/fill
expect_contains "cdx: logs: the log of s/fill (attempt 1) is truncated"
expect_status 0 "$CDX" logs "$id" s/free
expect_not_contains "truncated"

# ---- make's `cdx job`: records it cannot write fail its target ----------------
# (the job fails, and is allowed to, twelve times: more attempt records than
# the last page of the journal holds once the disk is full)
if command -v make >/dev/null 2>&1 && [ -f "$CDX_SO" ]; then
	unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS MAKEFILES
	rm -rf "${M:?}/st"
	cat >mk.yml <<'EOF'
name: mk
stages:
  - name: s
    jobs:
      - name: fill
        script: 'head -c 1000000 /dev/zero >"$FILLER" 2>/dev/null; exit 1'
        retry: 11
        allow_failure: true
      - {name: after, needs: [s/fill], script: 'echo ran-after'}
EOF
	printf 'load %s\n$(cdx-pipeline mk.yml)\n' "$CDX_SO" >Makefile
	run_rc run_make -s mk >make.out 2>&1
	[ "$RC" -ne 0 ] || fail "make succeeded although the job's records were lost: $(cat make.out)"
	grep -q "records of it are lost" make.out || fail "cdx job did not say what was lost: $(cat make.out)"
	grep -q ran-after make.out && fail "make went on after a job that lost its records: $(cat make.out)"
	rm -f "$FILLER"
fi

# ---- a read-only state directory reads ----------------------------------------
rm -rf "${M:?}/st" "$FILLER"
cat >ok.yml <<'EOF'
name: ok
stages:
  - name: s
    jobs:
      - {name: a, script: echo hello}
EOF
expect_status 0 "$CDX" run ok.yml
id=$("$CDX" runs ok --json | jq -r '.[0].id')
if mount --bind "$M" "$RO" 2>/dev/null && mount -o remount,bind,ro "$RO" 2>/dev/null; then
	export CDX_STATE="file:$RO/st"
	touch "$RO/st/x" 2>/dev/null && fail "the bind mount is writable"
	expect_status 0 "$CDX" runs
	expect_contains "$id"
	expect_status 0 "$CDX" status "$id"
	expect_status 0 "$CDX" logs "$id" s/a
	expect_contains hello
	expect_status 0 "$CDX" report ok
	expect_status 0 "$CDX" health ok --no-alerts
	expect_status 0 "$CDX" metrics
	expect_status 0 "$CDX" state check
	# writing still needs write access, and says so
	expect_status 4 "$CDX" run ok.yml
	expect_contains "Read-only file system"
else
	echo "read-only bind mount not permitted: read-only part skipped" >&2
fi
echo "t_state_disk: ok"
