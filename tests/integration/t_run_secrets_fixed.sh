#!/bin/sh
# t_run_secrets_fixed.sh — regression test (these bugs are fixed):
#
# A --var override of a JOB-level secret variable is neither masked nor kept
# out of the records.  lib/run.c, cdx_run_new(): for each --var,
#     secret = cdx_vars_find(&p->vars, name) && cdx_vars_find(&p->vars, name)->secret;
# looks at the pipeline's variables only, so for a job variable declared
# {secret: true} the new value is not added to the mask (shown on the
# terminal and in the log) and is stored in the "run" record's vars (journal,
# `cdx runs --json`, the --json run_start event).  Fix: a --var name is
# secret when any variable of that name (pipeline, or any job's) is.
. "$(dirname "$0")/lib.sh"
cd "$T"
S='override-s3cr3t-Qv42'
cat >s.yml <<'EOF'
name: sec
stages:
  - name: s
    jobs:
      - name: a
        variables:
          TOK: {value: job-secret-Hp10, secret: true}
        script: echo "tok=$TOK"
EOF
expect_status 0 "$CDX" run s.yml --var "TOK=$S"
expect_not_contains "$S"
expect_contains "tok=***"
if grep -r -l -F -e "$S" "$T/.cdx" >/dev/null; then
	fail "secret stored in: $(grep -r -l -F -e "$S" "$T/.cdx" | tr '\n' ' ')"
fi
expect_status 0 "$CDX" run s.yml --var "TOK=$S" --json
expect_not_contains "$S"
echo "pending_run_secrets: ok"
