#!/bin/sh
# t_make_job_runner.sh — the program make's job recipes call.
#
# Every job recipe of a $(cdx-pipeline) is `cdx job` of the cdx tool the
# module found: the one beside cdx.so (the build tree), the installed one
# (PREFIX/bin after make install), else `cdx` on PATH.  It runs the jobs
# with the same output and records as `cdx run`.  A make run on a Redis
# store is recorded like one on a file store (its marker, which makes the
# first job write the run record and start the watcher, is kept in the
# store's local directory: it was never made, so such runs went
# unrecorded).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/make_lib.sh"

makefile Makefile "load $CDX_SO" '$(cdx-pipeline ci.yml)'

# ---- the build tree: cdx beside cdx.so -----------------------------------
expect_status 0 run_make -n ci
printf '%s\n' "$OUT" | grep -q "^'\\{0,1\\}$CDX'\\{0,1\\} job --run " || fail "make -n ci: no '$CDX job' recipe in: $OUT"
expect_status 0 run_make -s -j2 ci CC=clang
printf '%s\n' "$OUT" | sort >out.build
grep -qx "compile with clang" out.build || fail "cdx job: no override: $OUT"
[ "$(settled_status ci)" = success ] || fail "cdx job run not success: $(runs_json ci)"

# ---- installed (make install): PREFIX/bin/cdx ------------------------------
make -s -C "$TOP" install DESTDIR="$T/inst" >inst.log 2>&1 || fail "make install: $(cat inst.log)"
so=$(find "$T/inst" -name cdx.so | head -n 1)
[ -n "$so" ] || fail "make install put no cdx.so under $T/inst"
[ ! -e "${so%/*}/cdx-job" ] || fail "make install still puts a cdx-job beside $so"
makefile Makefile.inst "load $so" '$(cdx-pipeline ci.yml)'
expect_status 0 run_make -f Makefile.inst -n ci
printf '%s\n' "$OUT" | grep -q " job --run " || fail "installed module: no cdx job recipe in: $OUT"
expect_status 0 run_make -f Makefile.inst -s -j2 ci CC=clang
printf '%s\n' "$OUT" | sort >out.inst
cmp out.build out.inst || fail "installed cdx job differs: $(diff out.build out.inst)"
[ "$(run_count ci)" -eq 2 ] || fail "expected 2 runs of ci: $(runs_json ci)"

# ---- the installed cdx.pc links a program, also from the staging tree ------
pc=$(find "$T/inst" -name cdx.pc | head -n 1)
[ -n "$pc" ] || fail "make install put no cdx.pc under $T/inst"
PKG_CONFIG_PATH=${pc%/*} pkg-config --cflags --libs cdx >pc.out 2>&1 || fail "pkg-config cdx: $(cat pc.out)"
printf '#include <cdx.h>\nint main(void) { return cdx_strstatus(0)[0] ? 0 : 1; }\n' >v.c
# shellcheck disable=SC2046 # pkg-config's words
cc -o v v.c $(cat pc.out) -Wl,-rpath,"${pc%/pkgconfig/*}" >cc.out 2>&1 || fail "cannot link with cdx.pc: $(cat cc.out)"
# shellcheck disable=SC2086 # MAKE_ENV: the ASan runtime an ASan-built libcdx needs loaded first
env $MAKE_ENV ./v || fail "a program linked with cdx.pc does not run"
# a static link needs libcdx's own libraries: --static names them
PKG_CONFIG_PATH=${pc%/*} pkg-config --libs --static cdx >pcs.out 2>&1 || fail "pkg-config --static cdx: $(cat pcs.out)"
for l in -lcdx -lyaml -lcjson; do
	grep -q -- "$l" pcs.out || fail "pkg-config --libs --static cdx lacks $l: $(cat pcs.out)"
done

# ---- usage errors of `cdx job` --------------------------------------------
expect_status 2 "$CDX" job --owner x build/compile
expect_contains "--owner needs a process id"
expect_status 2 "$CDX" job --run r1 build/compile
expect_contains "cdx job"

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
