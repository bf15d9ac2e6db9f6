#!/bin/sh
# t_artifacts.sh — a job's `artifacts:` kept with the run and fetched with
# `cdx artifacts`, on the file store and on a real redis-server: files
# come back whole (modes, directories, links); on_failure artifacts after a
# failure (and none of an on_success job that failed); the cap refused
# clearly with nothing of it kept; expired artifacts pruned; artifacts of
# a job run by make (`cdx job`); and archives planted in the store —
# "..", absolute, a link out, a write through a link — write nothing
# outside -o DIR.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
FORGE="$CDX_BUILD/tests/tools/artifact_forge"
[ -x "$FORGE" ] || fail "$FORGE not built (make $FORGE)"

# run_id FILE: the run id of the summary in FILE
run_id() { sed -n 's/.*(run \(.*\))$/\1/p' "$1"; }

# plant RUN JOB FILE: replace the stored archive of JOB in RUN by FILE,
# behind cdx's back (a damaged or hostile store)
plant() {
	case "$CDX_STATE" in
	redis://*)
		R del "cdx:artifact:$1:$2" >/dev/null
		R -x rpush "cdx:artifact:$1:$2" <"$3" >/dev/null ;;
	*)
		enc=$(printf %s "$2" | sed 's,/,%2F,g')
		cp "$3" "$T/.cdx/artifacts/$1/$enc.pack" ;;
	esac
}

suite() {
	w="$T/$1"
	mkdir -p "$w"
	cd "$w"
	cat >ci.yml <<'E'
name: arts
stages:
  - name: build
    jobs:
      - name: compile
        script: |
          mkdir -p dist/sub
          printf 'binary\n' > dist/app && chmod 750 dist/app
          printf 'deep\n' > dist/sub/deep.txt
          ln -sf sub/deep.txt dist/link
          printf 'log\n' > build.log
          printf 'not kept\n' > other.txt
        artifacts:
          paths: [dist/, "**/*.log"]
          expire_in: 1 week
      - name: broken
        script: printf 'why\n' > report.txt; exit 3
        allow_failure: true
        artifacts: {paths: [report.txt], when: on_failure}
      - name: quiet
        script: printf 'x\n' > q.txt; exit 4
        allow_failure: true
        artifacts: {paths: [q.txt]}
E
	expect_status 0 "$CDX" run ci.yml
	printf '%s\n' "$OUT" >run1.out
	id=$(run_id run1.out)
	[ -n "$id" ] || fail "$1: no run id: $OUT"

	# fetched whole
	expect_status 0 "$CDX" artifacts "$id" build/compile -o "$w/out"
	expect_contains "3 files"
	[ "$(cat out/dist/app)" = binary ] || fail "$1: dist/app differs"
	[ "$(cat out/dist/link)" = deep ] || fail "$1: the link does not lead to dist/sub/deep.txt"
	[ "$(readlink out/dist/link)" = sub/deep.txt ] || fail "$1: link target differs"
	[ "$(stat -c %a out/dist/app)" = 750 ] || fail "$1: mode of dist/app not kept"
	[ "$(cat out/build.log)" = log ] || fail "$1: build.log missing"
	[ ! -e out/other.txt ] || fail "$1: other.txt kept though no path selects it"
	expect_status 0 "$CDX" artifacts "$id" build/compile --list
	expect_contains "dist/sub/deep.txt"
	expect_contains "dist/link -> sub/deep.txt"
	"$CDX" artifacts "$id" --json >list.json
	expect_jq list.json '[.[].job]' '["build/broken","build/compile"]'
	expect_jq list.json '.[] | select(.job == "build/compile") | .files' '3'

	# recorded with the run, shown by cdx status
	[ "$(job_field "$id" build/compile .artifacts.files)" = 3 ] || fail "$1: status lacks artifacts"
	expect_status 0 "$CDX" status "$id"
	expect_contains "artifacts: 3 files"

	# on_failure: kept after the failure; on_success of a failed job: nothing
	expect_status 0 "$CDX" artifacts "$id" build/broken -o "$w/fout"
	[ "$(cat fout/report.txt)" = why ] || fail "$1: on_failure artifact missing"
	expect_status 1 "$CDX" artifacts "$id" build/quiet -o "$w/qout"
	expect_contains "no artifacts of build/quiet"

	# make: the module's job recipe keeps them too
	if command -v make >/dev/null 2>&1; then
		printf 'load %s\n$(cdx-pipeline ci.yml)\n' "$CDX_SO" >Makefile
		run_rc run_make -s arts/build/compile >make.out 2>&1
		[ "$RC" -eq 0 ] || fail "$1: make failed: $(cat make.out)"
		mid=$("$CDX" runs --json | jq -r '[.[] | select(.driver == "make")][0].id')
		[ -n "$mid" ] && [ "$mid" != null ] || fail "$1: no make run recorded: $("$CDX" runs)"
		expect_status 0 "$CDX" artifacts "$mid" build/compile -o "$w/mout"
		[ "$(cat mout/dist/app)" = binary ] || fail "$1: artifacts of the make job differ"
	fi

	# the cap: refused clearly, the run fails, nothing kept
	cat >cap.yml <<'E'
name: capped
stages:
  - name: s
    jobs:
      - name: big
        script: head -c 200000 /dev/urandom > big.bin
        artifacts: [big.bin]
E
	CDX_ARTIFACTS_MAX=64K expect_status 1 "$CDX" run cap.yml
	expect_contains "artifacts of s/big not kept: artifacts pass the cap of 65536 bytes"
	cid=$(printf '%s\n' "$OUT" | sed -n 's/.*(run \(.*\))$/\1/p')
	[ -n "$cid" ] || fail "$1: no run id: $OUT"
	expect_status 1 "$CDX" artifacts "$cid" s/big -o "$w/cout"
	expect_contains "no artifacts"
	[ "$(job_field "$cid" s/big '.artifacts.error | test("cap")')" = true ] || fail "$1: cap error not recorded"
	case "$CDX_STATE" in
	redis://*) [ -z "$(R --scan --pattern 'cdx:artupload:*')" ] || fail "$1: an upload was left behind" ;;
	esac
	# under make too: the job's recipe fails, so make does
	if command -v make >/dev/null 2>&1; then
		printf 'load %s\n$(cdx-pipeline cap.yml)\n' "$CDX_SO" >cap.mk
		# shellcheck disable=SC2086 # MAKE_ENV is words
		run_rc env CDX_ARTIFACTS_MAX=64K $MAKE_ENV make -s -f cap.mk capped >make-cap.out 2>&1
		[ "$RC" -ne 0 ] || fail "$1: make succeeded past the cap: $(cat make-cap.out)"
		grep -q "artifacts pass the cap" make-cap.out || fail "$1: make output lacks the cap: $(cat make-cap.out)"
	fi
	# under the default cap it is kept (several 512 KiB chunks in Redis)
	expect_status 0 "$CDX" run cap.yml
	cid=$(printf '%s\n' "$OUT" | sed -n 's/.*(run \(.*\))$/\1/p')
	expect_status 0 "$CDX" artifacts "$cid" s/big -o "$w/bout"
	cmp -s bout/big.bin big.bin || fail "$1: big.bin differs"

	# expiry: refused, then pruned
	cat >exp.yml <<'E'
name: expiring
stages:
  - name: s
    jobs:
      - name: brief
        script: printf 'x\n' > x.txt
        artifacts: {paths: [x.txt], expire_in: 1s}
E
	expect_status 0 "$CDX" run exp.yml
	eid=$(printf '%s\n' "$OUT" | sed -n 's/.*(run \(.*\))$/\1/p')
	i=0
	while "$CDX" artifacts "$eid" s/brief -o "$w/eout" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || fail "$1: artifacts did not expire"
		sleep 0.1
	done
	expect_status 1 "$CDX" artifacts "$eid" s/brief -o "$w/eout"
	case "$CDX_STATE" in
	redis://*) [ "$(R exists "cdx:artifact:$eid:s/brief")" = 0 ] || fail "$1: expired key still there" ;;
	*) [ ! -e "$T/.cdx/artifacts/$eid/s%2Fbrief.pack" ] || fail "$1: expired archive not pruned" ;;
	esac
	# the others are still there
	expect_status 0 "$CDX" artifacts "$id" build/compile -o "$w/out2"

	# planted archives write nothing outside -o DIR
	for kind in dotdot absolute linkout through; do
		"$FORGE" "$kind" "$w/abs-escaped" >"$kind.pack"
		plant "$id" build/compile "$kind.pack"
		mkdir -p "$w/jail/dest"
		expect_status 1 "$CDX" artifacts "$id" build/compile -o "$w/jail/dest"
		[ ! -e "$w/jail/escaped" ] && [ ! -e "$w/jail/escaped-dir" ] && [ ! -e "$w/abs-escaped" ] ||
			fail "$1: $kind wrote outside the destination"
		[ -z "$(ls -A "$w/jail/dest")" ] || fail "$1: $kind wrote into the destination: $(ls -A "$w/jail/dest")"
		rm -rf "$w/jail"
	done
	# a truncated archive too
	head -c 40 linkout.pack >cut.pack
	plant "$id" build/compile cut.pack
	expect_status 1 "$CDX" artifacts "$id" build/compile -o "$w/cut"
	expect_contains "artifact archive"
	cd "$T"
}

suite file
echo "file store: ok"
if have_redis; then
	redis_state
	suite redis
	echo "redis store: ok"
else
	echo "redis: skipped (not installed)"
fi
echo "t_artifacts: ok"
