#!/bin/sh
# t_run_logs_fixed.sh — regression test (these bugs are fixed):
#
# With a relative state URL (the default is file:.cdx), the attempt records
# hold log paths relative to the directory cdx ran in: lib/store_file.c
# sets log_dir = "DIR/logs" from the URL as given, lib/run.c log_path()
# records it as is.  `cdx logs` (and anything reading "log" from
# `cdx status --json`) then fails from any other directory, even with a
# --state that names the same store.  Fix: make log_dir absolute when the
# store is opened (or record paths relative to the store and resolve them
# against it when reading).
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir proj
cat >proj/p.yml <<'EOF'
name: p
stages:
  - name: s
    jobs:
      - {name: a, script: echo hello-log}
EOF
(cd proj && CDX_STATE=file:.cdx "$CDX" run p.yml >/dev/null) || fail "run failed"
id=$(cd proj && CDX_STATE=file:.cdx "$CDX" runs --json | sed -n 's/.*"id":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)
[ -n "$id" ] || fail "no run id"
# from the project directory it works
(cd proj && CDX_STATE=file:.cdx "$CDX" logs "$id" s/a) | grep -q hello-log || fail "cdx logs in the project directory"
# from elsewhere, naming the same store
expect_status 0 env CDX_STATE="file:$T/proj/.cdx" "$CDX" logs "$id" s/a
expect_contains hello-log
echo "pending_run_logs: ok"
