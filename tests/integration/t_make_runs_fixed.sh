#!/bin/sh
# t_make_runs_fixed.sh — regression test (this bug, found by
# pending_make_runs.sh, is fixed): several $(cdx-pipeline) calls in one
# make got the same run id (ms clock and pid only), and their jobs were
# recorded as one run; run ids now carry 32 random bits.
. "$(dirname "$0")/lib.sh"
. "$DATA/make/make_lib.sh"

makefile Makefile "load $CDX_SO" \
	'$(cdx-pipeline ci.yml)' '$(cdx-pipeline vars.yml)' '$(cdx-pipeline par.yml)' '$(cdx-pipeline meta.yml)'
i=0
while [ "$i" -lt 5 ]; do
	n=$(run_make -n ci vars par meta | sed 's/.* --run \([^ ]*\) .*/\1/' | sort -u | wc -l)
	[ "$n" -eq 4 ] || fail "4 pipelines in one make got $n distinct run ids"
	i=$((i + 1))
done
# one make, two pipelines: a run of each, each with its own jobs
expect_status 0 run_make -s ci vars
[ "$(settled_status ci)" = success ] || fail "make ci vars: ci's run not success: $(runs_json)"
[ "$(settled_status vars)" = success ] || fail "make ci vars: vars has no run of its own: $(runs_json)"
[ "$(runs_json ci | jq -r '.[0].jobs_success')" = 5 ] || fail "make ci vars: ci's run: $(runs_json ci)"
[ "$(runs_json vars | jq -r '.[0].jobs_success')" = 2 ] || fail "make ci vars: vars' run: $(runs_json vars)"
[ "$(run_count ci)" -eq 1 ] && [ "$(run_count vars)" -eq 1 ] || fail "make ci vars: $(runs_json)"

echo "t_make_runs_fixed: ok"
