#!/bin/sh
# t_run_vars_fixed.sh — regression test (these bugs are fixed):
#
# `cdx run --var NAME=VALUE` does not check NAME: lib/run.c cdx_run_new()
# and tools/cmd_run.c parse() only require a '=' not in first position, so
# `--var 'BAD NAME;x=1'` or `--var 1X=2` run with exit 0 and put entries
# such as "BAD NAME;x=1" into the jobs' environment (and the run record's
# vars), while the same names in a pipeline file are rejected ("variable
# name ... is invalid: use A-Z a-z 0-9 _, not starting with a digit").
# Expected: exit 2 with a usage error, nothing run.
. "$(dirname "$0")/lib.sh"
cd "$T"
cat >v.yml <<'EOF'
name: v
stages:
  - name: s
    jobs:
      - {name: a, script: touch ran}
EOF
for bad in 'BAD NAME=1' '1X=2' 'A;touch x=3' 'A-B=4' "$(printf 'A\nB=5')"; do
	expect_status 2 "$CDX" run v.yml --var "$bad"
	[ ! -e ran ] || fail "--var '$bad' was accepted and the job ran"
done
echo "pending_run_vars: ok"
