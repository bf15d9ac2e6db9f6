#!/bin/sh
# t_make_valgrind.sh — make, with cdx.so loaded, under valgrind's memcheck:
# every function of the module expanded (the pipeline's rules defined, with
# and without lanes, and make -n walking them), and every way a function
# stops make.  No memory error may involve cdx.so, and no block may be
# definitely lost from an allocation made through cdx.so.
# Skipped without valgrind, and in ASan builds (the two do not mix).
. "$(dirname "$0")/lib.sh"
[ "${SANITIZE:-no}" != yes ] || { echo "ASan build: valgrind does not apply" >&2; exit 77; }
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not installed" >&2; exit 77; }
. "$(dirname "$0")/make_lib.sh"

# a run to read back with $(cdx-runs)
"$CDX" run ci.yml --only build/lint --output quiet >/dev/null || fail "cdx run ci.yml failed"

makefile Makefile \
	"load $CDX_SO" \
	"load $CDX_SO" \
	'V := $(cdx-version) $(cdx-version )' \
	'S := $(cdx-stages ci.yml) $(cdx-stages par.yml) $(cdx-stages ci.yml)' \
	'J := $(cdx-jobs ci.yml) $(cdx-jobs ci.yml,test) $(cdx-jobs par.yml, build )' \
	'R := $(cdx-runs ci) $(cdx-runs nothing)' \
	'$(cdx-pipeline ci.yml)' \
	'$(cdx-pipeline par.yml)' \
	'$(cdx-pipeline meta.yml)' \
	'$(cdx-pipeline par.yml)' \
	'all: ci par meta' \
	'	@echo "$(V) | $(S) | $(J) | $(R)"'

# vg NAME MAKE-ARGS...: run make under memcheck; the XML report in vg.NAME.xml
vg() {
	name=$1
	shift
	set +e
	env $MAKE_ENV valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite --xml=yes --xml-file="vg.$name.xml" \
		make "$@" >"vg.$name.out" 2>&1
	vg_rc=$?
	set -e
	[ -s "vg.$name.xml" ] || fail "$name: valgrind wrote no report: $(cat "vg.$name.out")"
	grep -q '</valgrindoutput>' "vg.$name.xml" || fail "$name: the report is incomplete"
}

# cdx_errors NAME: the errors of report NAME with a frame in cdx.so, as
# "KIND: what; functions"; then the definite leaks of make itself, as info
cdx_errors() {
	awk -v so="$CDX_SO" '
	/<error>/ { inerr = 1; kind = ""; what = ""; fns = ""; ours = 0; stacks = 0; next }
	inerr && /<kind>/ { k = $0; sub(/.*<kind>/, "", k); sub(/<\/kind>.*/, "", k); kind = k }
	inerr && /<(what|text)>/ && what == "" { t = $0; sub(/.*<(what|text)>/, "", t); sub(/<\/(what|text)>.*/, "", t); what = t }
	inerr && /<\/stack>/ { stacks++ }
	inerr && /<fn>/ && stacks == 0 { f = $0; sub(/.*<fn>/, "", f); sub(/<\/fn>.*/, "", f); fns = fns " " f }
	inerr && /<obj>/ && index($0, so) { ours = 1 }
	/<\/error>/ {
		inerr = 0
		if (ours) print "cdx " kind ": " what ";" fns
		else if (kind == "Leak_DefinitelyLost") print "make " kind ": " what ";" fns
	}' "vg.$1.xml"
}

check() {
	name=$1
	want_rc=$2
	shift 2
	vg "$name" "$@"
	[ "$vg_rc" -eq "$want_rc" ] || fail "$name: make exited $vg_rc, expected $want_rc: $(cat "vg.$name.out")"
	cdx_errors "$name" >"vg.$name.txt"
	if grep -q '^make ' "vg.$name.txt"; then
		echo "$name: definite leaks of make itself (not cdx):"
		grep '^make ' "vg.$name.txt"
	fi
	if grep -q '^cdx ' "vg.$name.txt"; then
		grep '^cdx ' "vg.$name.txt" >&2
		fail "$name: memcheck found errors involving cdx.so"
	fi
	echo "$name: clean"
}

# every function; the rules of three pipelines; make -n walks them
check all-n 0 -n all
grep -q " job --run .* package/tar\$" vg.all-n.out || fail "all-n: no job lines: $(cat vg.all-n.out)"
grep -q "| build test build test package build test | build/compile " vg.all-n.out || fail "all-n: no echo line: $(cat vg.all-n.out)"
# with pinned lanes (-j2, goals not only jobs), and a job goal (no lanes)
check lanes 0 -n -j2 all
check job-goal 0 -n -j2 par/test/unit

# every way of stopping make while it reads the makefile
stop() {
	name=$1
	line=$2
	makefile Makefile "load $CDX_SO" "$line" 'all: ; @echo never'
	check "$name" 2
	grep -q '\*\*\* cdx-' "vg.$name.out" || fail "$name: make did not stop with a cdx message: $(cat "vg.$name.out")"
}
stop bad-pipeline '$(cdx-pipeline bad.yml)'
stop bad-stages 'X := $(cdx-stages bad2.yml)'
stop missing-file 'X := $(cdx-jobs missing.yml)'
stop no-file 'X := $(cdx-jobs )'
stop unknown-stage 'X := $(cdx-jobs ci.yml,deploy)'
stop bad-run-name 'X := $(cdx-runs a b)'

echo "t_make_valgrind: ok"
