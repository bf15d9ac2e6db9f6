#!/bin/sh
# layers.sh — checks that every #include "..." of the sources points to the
# including file's own layer or to one below it (lib/README.md draws them),
# and, given the object directory of a build (make passes build/obj), that
# no object calls a function defined in a higher layer: a call through the
# public cdx.h would otherwise hide an upward dependency.  Prints one line
# per offence and exits 1 when there is any; else a summary, exit 0.
#
# usage: sh tests/layers.sh [OBJDIR]
set -eu
cd "$(dirname "$0")/.."

# rank DIR: the layer of a source directory, lowest first; "" when the
# directory is not part of the layered tree
rank() {
	case "$1" in
	include) echo 0 ;;
	lib/base) echo 1 ;;
	lib/yaml) echo 2 ;;
	lib/pipeline) echo 3 ;;
	lib/project) echo 4 ;;
	lib/state | redis) echo 5 ;;
	lib/exec) echo 6 ;;
	lib/deploy | strategies) echo 7 ;;
	lib/observe) echo 8 ;;
	lib/serve) echo 9 ;;
	gmk-plugin | tools) echo 10 ;;
	*) echo "" ;;
	esac
}

bad=0 files=0 edges=0
for f in include/*.h lib/*/*.[ch] redis/*.[ch] strategies/*.[ch] gmk-plugin/*.[ch] tools/*.[ch]; do
	[ -f "$f" ] || continue
	dir=${f%/*}
	me=$(rank "$dir")
	if [ -z "$me" ]; then
		echo "$f: in no layer (add its folder to tests/layers.sh and lib/README.md)"
		bad=1
		continue
	fi
	files=$((files + 1))
	grep -n '^#[[:space:]]*include[[:space:]]*"' "$f" | sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' >"${TMPDIR:-/tmp}/layers.$$" || true
	while read -r line hdr; do
		# resolved as the compiler does: beside the file, then -Iinclude -Ilib -I.
		if [ -f "$dir/$hdr" ]; then to="$dir/$hdr"
		elif [ -f "include/$hdr" ]; then to="include/$hdr"
		elif [ -f "lib/$hdr" ]; then to="lib/$hdr"
		elif [ -f "$hdr" ]; then to="$hdr"
		else continue # generated (redis_lua.h) or a system header in quotes
		fi
		edges=$((edges + 1))
		tdir=${to%/*}
		them=$(rank "$tdir")
		if [ -z "$them" ] || [ "$them" -gt "$me" ]; then
			echo "$f:$line: $dir includes $hdr ($tdir): a higher layer"
			bad=1
		fi
	done <"${TMPDIR:-/tmp}/layers.$$"
done
rm -f "${TMPDIR:-/tmp}/layers.$$"

calls=0
obj=${1:-}
if [ -n "$obj" ]; then
	# every object's defined (T) and used (U) functions, tagged with its layer
	t=${TMPDIR:-/tmp}/layers-sym.$$
	for o in "$obj"/lib/*/*.o "$obj"/redis/*.o "$obj"/strategies/*.o; do
		[ -f "$o" ] || continue
		d=${o#"$obj"/}
		d=${d%/*}
		nm "$o" | awk -v r="$(rank "$d")" -v f="${o#"$obj"/}" '$1 == "U" { print "U", $2, r, f } $2 == "T" { print "T", $3, r, f }'
	done >"$t"
	out=$(awk 'NR == FNR { if ($1 == "T") { def[$2] = $3; where[$2] = $4 } next }
		$1 == "U" && ($2 in def) { n++; if (def[$2] > $3) printf "%s calls %s of %s: a higher layer\n", $4, $2, where[$2] }
		END { print n + 0 > "/dev/stderr" }' "$t" "$t" 2>"$t.n")
	calls=$(cat "$t.n")
	rm -f "$t" "$t.n"
	if [ -n "$out" ]; then
		printf '%s\n' "$out"
		bad=1
	fi
fi
[ "$bad" -eq 0 ] || exit 1
echo "layers: $files files, $edges includes and $calls calls between objects, all pointing down or within their layer"
