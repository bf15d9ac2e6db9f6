#!/bin/sh
# t_make_functions.sh — the functions of cdx.so in real GNU make:
# $(cdx-version) (function and variable), $(cdx-stages), $(cdx-jobs) with
# and without a stage, $(cdx-runs) before and after runs, and how problems
# stop make: `Makefile:LINE: *** cdx-FUNC: message.  Stop.` with the line
# of the makefile (or included makefile) being read, for a bad pipeline, a
# missing file, an unknown stage, a bad pipeline name.  Loading the module
# twice is harmless.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/make_lib.sh"
export LC_ALL=C # strerror texts in messages

version=$(sed -n 's/^#define CDX_VERSION "\(.*\)"/\1/p' "$TOP/include/cdx.h")
[ -n "$version" ] || fail "cannot read CDX_VERSION from include/cdx.h"

# ---- version, stages, jobs -------------------------------------------------
makefile Makefile \
	"load $CDX_SO" \
	'all:' \
	'	@echo "version=[$(cdx-version)] var=[$(value cdx-version)] call=[$(cdx-version )]"' \
	'	@echo "stages=[$(cdx-stages ci.yml)]"' \
	'	@echo "jobs=[$(cdx-jobs ci.yml)]"' \
	'	@echo "build=[$(cdx-jobs ci.yml,build)] test=[$(cdx-jobs  ci.yml , test )]"' \
	'	@echo "words=$(words $(cdx-jobs ci.yml))"'
expect_status 0 run_make
expect_contains "version=[$version] var=[$version] call=[$version]"
expect_contains "stages=[build test]"
expect_contains "jobs=[build/compile build/lint test/unit test/matrix-linux test/matrix-bsd]"
expect_contains "build=[build/compile build/lint] test=[test/unit test/matrix-linux test/matrix-bsd]"
expect_contains "words=5"

# the module's functions work in ifeq and in immediate assignments too
makefile Makefile \
	"load $CDX_SO" \
	'STAGES := $(cdx-stages ci.yml)' \
	'ifeq ($(firstword $(STAGES)),build)' \
	'RESULT := first-is-build' \
	'endif' \
	'all: ; @echo $(RESULT) $(lastword $(cdx-jobs ci.yml,test))'
expect_status 0 run_make
[ "$OUT" = "first-is-build test/matrix-bsd" ] || fail "ifeq on cdx-stages: [$OUT]"

# ---- problems stop make at the makefile's line --------------------------------
# an unknown stage
makefile Makefile \
	"load $CDX_SO" \
	'' \
	'JOBS := $(cdx-jobs ci.yml,deploy)' \
	'all: ; @echo never'
expect_status 2 run_make
[ "$OUT" = "Makefile:3: *** cdx-jobs: ci.yml: no stage 'deploy' in pipeline ci.  Stop." ] ||
	fail "unknown stage: [$OUT]"

# a stage name with make's and the shell's characters is shown as written,
# and the line is the included makefile's
makefile Makefile \
	"load $CDX_SO" \
	'include inc.mk' \
	'all: ; @echo never'
makefile inc.mk \
	'# inc.mk' \
	'X := $(cdx-jobs ci.yml,$$(x);#y)'
expect_status 2 run_make
[ "$OUT" = "inc.mk:2: *** cdx-jobs: ci.yml: no stage '\$(x);#y' in pipeline ci.  Stop." ] ||
	fail "stage with \$ and #: [$OUT]"

# a pipeline file with a problem: FILE:LINE:COL: message, for every function
for fn in cdx-pipeline cdx-stages cdx-jobs; do
	makefile Makefile \
		"load $CDX_SO" \
		'# a comment' \
		'' \
		"X := \$($fn bad.yml)" \
		'all: ; @echo never'
	expect_status 2 run_make
	want="Makefile:4: *** $fn: bad.yml:11:17: unknown job 'build/compil' in needs (did you mean 'build/compile'?).  Stop."
	[ "$OUT" = "$want" ] || fail "$fn on bad.yml: [$OUT], expected [$want]"
done

# $(cdx-pipeline) on a line of its own (its usual place)
makefile Makefile \
	"load $CDX_SO" \
	'$(cdx-pipeline ci.yml)' \
	'$(cdx-pipeline bad.yml)' \
	'all: ; @echo never'
expect_status 2 run_make all
[ "$OUT" = "Makefile:3: *** cdx-pipeline: bad.yml:11:17: unknown job 'build/compil' in needs (did you mean 'build/compile'?).  Stop." ] ||
	fail "cdx-pipeline bad.yml: [$OUT]"

# several problems: the first, and how many more ("1 more problem", not
# "problems": once the count was plural for one, unlike cdx validate's)
makefile Makefile \
	"load $CDX_SO" \
	'X := $(cdx-stages bad2.yml)'
expect_status 2 run_make
expect_contains "Makefile:2: *** cdx-stages: bad2.yml:6:46: retry must be a whole number from 0 to 100, not 'many' (and 1 more "
expect_contains "(and 1 more problem; see cdx validate bad2.yml).  Stop."

# a missing file, and no file at all
makefile Makefile \
	"load $CDX_SO" \
	'X := $(cdx-stages missing.yml)'
expect_status 2 run_make
[ "$OUT" = "Makefile:2: *** cdx-stages: missing.yml: cannot open missing.yml: No such file or directory.  Stop." ] ||
	fail "missing file: [$OUT]"
makefile Makefile \
	"load $CDX_SO" \
	'$(cdx-pipeline missing.yml)'
expect_status 2 run_make
[ "$OUT" = "Makefile:2: *** cdx-pipeline: missing.yml: cannot open missing.yml: No such file or directory.  Stop." ] ||
	fail "cdx-pipeline missing file: [$OUT]"
makefile Makefile \
	"load $CDX_SO" \
	'X := $(cdx-jobs  ,build)'
expect_status 2 run_make
[ "$OUT" = "Makefile:2: *** cdx-jobs: name a pipeline file.  Stop." ] || fail "no file: [$OUT]"

# nothing of the makefile runs after the problem
makefile Makefile \
	"load $CDX_SO" \
	'all: ; @touch ran' \
	'X := $(cdx-stages missing.yml)'
expect_status 2 run_make
[ ! -e ran ] || fail "a recipe ran although make stopped while reading"

# ---- $(cdx-runs) ----------------------------------------------------------------
makefile Makefile \
	"load $CDX_SO" \
	'$(cdx-pipeline ci.yml)' \
	'runs: ; @echo "runs=[$(cdx-runs ci)] other=[$(cdx-runs nothing)]"'
expect_status 0 run_make runs
[ "$OUT" = "runs=[] other=[]" ] || fail "cdx-runs with nothing recorded: [$OUT]"
[ ! -e "$T/.cdx" ] || fail "cdx-runs created the state directory"

expect_status 0 run_make ci/build/lint
[ "$(settled_status ci)" = success ] || fail "the make run did not end in success: $(runs_json)"
first=$(runs_json ci | jq -r '.[0].id')
expect_status 0 run_make runs
[ "$OUT" = "runs=[$first] other=[]" ] || fail "cdx-runs after one run: [$OUT], expected [$first]"

# a run of cdx run counts too; newest first
expect_status 0 "$CDX" run ci.yml --only build/lint
second=$(runs_json ci | jq -r '.[0].id')
[ "$second" != "$first" ] || fail "cdx run recorded no new run"
expect_status 0 run_make runs
[ "$OUT" = "runs=[$second $first] other=[]" ] || fail "cdx-runs after two runs: [$OUT]"

# CDX_STATE decides where runs are read
expect_status 0 env CDX_STATE="file:$T/elsewhere" $MAKE_ENV make runs
[ "$OUT" = "runs=[] other=[]" ] || fail "cdx-runs with another CDX_STATE: [$OUT]"

# at most 10, newest first
i=0
while [ "$i" -lt 10 ]; do
	"$CDX" run ci.yml --only build/lint --output quiet >/dev/null || fail "cdx run failed"
	i=$((i + 1))
done
expect_status 0 run_make runs
ids=$(runs_json ci | jq -r '.[0:10] | map(.id) | join(" ")')
[ "$OUT" = "runs=[$ids] other=[]" ] || fail "cdx-runs after 12 runs: [$OUT], expected the newest 10 [$ids]"

# a name that is no pipeline name
makefile Makefile \
	"load $CDX_SO" \
	'X := $(cdx-runs a b)'
expect_status 2 run_make
[ "$OUT" = "Makefile:2: *** cdx-runs: 'a b' is not a pipeline name.  Stop." ] || fail "cdx-runs a b: [$OUT]"

# ---- loading ------------------------------------------------------------------
# twice, and by `cdx plugin-path`: harmless, one module, same results
makefile Makefile \
	"load $CDX_SO" \
	"load $CDX_SO" \
	"load \$(shell '$CDX' plugin-path)" \
	'$(cdx-pipeline ci.yml)' \
	'all: ; @echo "loaded=[$(.LOADED)] $(cdx-version) $(cdx-stages ci.yml)"'
expect_status 0 run_make all
[ "$OUT" = "loaded=[$CDX_SO] $version build test" ] || fail "loading twice: [$OUT]"
[ "$("$CDX" plugin-path)" = "$CDX_SO" ] || fail "cdx plugin-path is not $CDX_SO"

# -load of a module that is there
makefile Makefile \
	"-load $CDX_SO" \
	'all: ; @echo "[$(cdx-stages ci.yml)]"'
expect_status 0 run_make
[ "$OUT" = "[build test]" ] || fail "-load: [$OUT]"

# without load the functions are unknown: empty variable references
makefile Makefile 'all: ; @echo "[$(cdx-stages ci.yml)]"'
expect_status 0 run_make
[ "$OUT" = "[]" ] || fail "without load: [$OUT]"

echo "t_make_functions: ok"
