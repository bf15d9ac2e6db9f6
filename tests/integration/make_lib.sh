# make_lib.sh — helpers of the GNU Make module tests (t_make_*.sh), sourced
# after lib.sh.  POSIX sh.
#
# The tests run real make on the built cdx.so.  make check runs them from
# make, whose MAKEFLAGS (-k, -j, -s, jobserver fds, VAR=value) would reach
# the make under test and change what it does: it starts clean instead.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS MAKEFILES

command -v make >/dev/null 2>&1 || { echo "make not installed" >&2; exit 77; }
case " $(printf 'x:;@echo $(.FEATURES)\n' | make -s -f - x 2>/dev/null) " in
*" load "*) ;;
*) echo "this make cannot load modules" >&2; exit 77 ;;
esac
command -v jq >/dev/null 2>&1 || { echo "jq not installed (apt-get install jq)" >&2; exit 77; }
[ -f "$CDX_SO" ] || fail "no $CDX_SO: build first"

MDATA="$DATA/make"

# copy the make test data into $T, where the tests run (and write, and
# remove: never anywhere else)
[ -n "${T:-}" ] && [ -d "$T" ] || { echo "make_lib.sh: no \$T (source lib.sh first)" >&2; exit 1; }
cp "$MDATA"/*.yml "$MDATA"/*.yml.in "$MDATA"/*.sh "$T"/
cd "$T" || exit 1

# makefile FILE LINE...: write a makefile, one argument a line
makefile() {
	f=$1
	shift
	printf '%s\n' "$@" >"$f"
}

# runs_json [PIPELINE]: the recorded runs as a JSON list, newest first
runs_json() { "$CDX" runs ${1:+"$1"} -n 0 --json; }

# run_count PIPELINE: how many runs of PIPELINE are recorded
run_count() { runs_json "$1" | jq length; }

# settled_status PIPELINE: the status of the newest run of PIPELINE once
# the watcher has closed it (it reads "running" or, for a moment after make
# exits, "interrupted" until then); gives up after about 5 s
settled_status() {
	i=0
	while :; do
		st=$(runs_json "$1" | jq -r '.[0].status // "none"')
		case $st in
		running | interrupted | none) ;;
		*) break ;;
		esac
		i=$((i + 1))
		[ "$i" -lt 50 ] || break
		sleep 0.1
	done
	printf '%s\n' "$st"
}

# stamp NAME start|end: the time stamps/NAME.start or .end was written (ns)
stamp() {
	[ -f "stamps/$1.$2" ] || fail "job $1 did not record its $2"
	cat "stamps/$1.$2"
}

# before NAME1 WHEN1 NAME2 WHEN2: NAME1's WHEN1 stamp is not after NAME2's
before() {
	a=$(stamp "$1" "$2")
	b=$(stamp "$3" "$4")
	[ "$a" -le "$b" ] || fail "$1 $2 ($a) should come before $3 $4 ($b)"
}

# procs_with TEXT: pids of live processes whose command line holds TEXT
procs_with() {
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$pid" = "$$" ] && continue
		c=$({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
		case $c in *"$1"*) printf '%s\n' "$pid" ;; esac
	done
}
