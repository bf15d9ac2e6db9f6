#!/bin/sh
# t_make_job_runner.sh — the program make's job recipes call.
#
# The module calls cdx-job, `cdx job` linked statically (tools/job/), when
# it lies beside cdx.so (in the build tree, and in PREFIX/lib/cdx after
# make install), and `cdx job` otherwise: both run the same jobs
# with the same output and records.  cdx-job reaches a Redis store by
# address and by host name (the resolver of a static program), and tells
# the same usage errors as `cdx job`.  A make run on a Redis store is
# recorded like one on a file store (its marker, which makes the first job
# write the run record and start the watcher, is kept in the store's local
# directory: it was never made, so such runs went unrecorded).
. "$(dirname "$0")/lib.sh"
. "$DATA/make/make_lib.sh"

JOB="$CDX_BUILD/cdx-job"
[ -x "$JOB" ] || fail "no $JOB: build first"
# the static one, unless the build could not link it so (sanitizers)
if [ "${SANITIZE:-no}" != yes ] && command -v file >/dev/null 2>&1; then
	file "$JOB" | grep -q "statically linked" || fail "cdx-job is not static: $(file "$JOB")"
fi

makefile Makefile "load $CDX_SO" '$(cdx-pipeline ci.yml)'

# ---- cdx-job beside cdx.so: what the recipes call ------------------------
expect_status 0 run_make -n ci
printf '%s\n' "$OUT" | grep -q "^'\\{0,1\\}$JOB'\\{0,1\\} --run " || fail "make -n ci: no cdx-job recipe in: $OUT"
expect_status 0 run_make -s -j2 ci CC=clang
printf '%s\n' "$OUT" | sort >out.static
grep -qx "compile with clang" out.static || fail "cdx-job: no override: $OUT"
[ "$(settled_status ci)" = success ] || fail "cdx-job run not success: $(runs_json ci)"

# ---- a module without cdx-job beside it: `cdx job` ------------------------
mkdir alone
cp "$CDX_SO" alone/cdx.so
ln -s "$CDX" alone/cdx
makefile Makefile.alone "load $T/alone/cdx.so" '$(cdx-pipeline ci.yml)'
expect_status 0 run_make -f Makefile.alone -n ci
printf '%s\n' "$OUT" | grep -q " job --run " || fail "make -n without cdx-job: no cdx job recipe in: $OUT"
printf '%s\n' "$OUT" | grep -q "cdx-job" && fail "make -n without cdx-job still calls it: $OUT"
expect_status 0 run_make -f Makefile.alone -s -j2 ci CC=clang
printf '%s\n' "$OUT" | sort >out.tool
cmp out.static out.tool || fail "cdx-job and cdx job differ: $(diff out.static out.tool)"
[ "$(settled_status ci)" = success ] || fail "cdx job run not success: $(runs_json ci)"
[ "$(run_count ci)" -eq 2 ] || fail "expected 2 runs of ci: $(runs_json ci)"

# ---- installed (make install): cdx-job beside cdx.so in PREFIX/lib/cdx ----
make -s -C "$TOP" install DESTDIR="$T/inst" >inst.log 2>&1 || fail "make install: $(cat inst.log)"
so=$(find "$T/inst" -name cdx.so | head -n 1)
[ -n "$so" ] || fail "make install put no cdx.so under $T/inst"
[ -x "${so%/*}/cdx-job" ] || fail "make install put no cdx-job beside $so"
makefile Makefile.inst "load $so" '$(cdx-pipeline ci.yml)'
expect_status 0 run_make -f Makefile.inst -n ci
printf '%s\n' "$OUT" | grep -q "^'\\{0,1\\}${so%/*}/cdx-job'\\{0,1\\} --run " ||
	fail "installed module: no installed cdx-job recipe in: $OUT"
expect_status 0 run_make -f Makefile.inst -s -j2 ci CC=clang
printf '%s\n' "$OUT" | sort >out.inst
cmp out.static out.inst || fail "installed cdx-job differs: $(diff out.static out.inst)"

# ---- usage errors, as `cdx job` -------------------------------------------
expect_status 2 "$JOB" --owner x build/compile
expect_contains "--owner needs a process id"
expect_status 2 "$JOB" --run r1 build/compile
expect_contains "cdx job"
expect_status 0 "$JOB" --help
expect_contains "usage: cdx-job"

# ---- a Redis store, by address and by name (last: skipped without one) ----
start_redis
for url in "$REDIS_URL" "redis://localhost:$REDIS_PORT"; do
	CDX_STATE=$url
	export CDX_STATE
	expect_status 0 run_make -s -j2 ci
	[ "$(settled_status ci)" = success ] || fail "$url: run not success: $(runs_json ci)"
	[ "$(runs_json ci | jq '.[0].jobs_success')" -eq 5 ] || fail "$url: jobs not recorded: $(runs_json ci)"
done
[ "$(run_count ci)" -eq 2 ] || fail "expected 2 runs of ci in redis: $(runs_json ci)"
