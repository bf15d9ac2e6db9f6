#!/bin/sh
# t_rules.sh — rules: and when: never, through `cdx run` and through make:
# `rules: [{if: '$CDX_BRANCH == "main"'}]` on a real git checkout on and
# off main (CDX_BRANCH/CDX_COMMIT read from the checkout and exported to
# the job, a rule's variables reach the job); a job no rule matches is
# skipped with why (summary, --json, cdx status); `changes:` runs a job the
# first time, skips it on the next run when nothing in its directory
# changed, and runs it again after a file in it changed (by content:
# touching a file is no change); a variable on make's command line counts
# as a --var for rules, and a job decided `never` has no make target.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/make_lib.sh"
command -v git >/dev/null 2>&1 || { echo "git not installed" >&2; exit 77; }

mkdir "$T/repo"
cd "$T/repo"
git init -q -b main .
git config user.email t@example.com
git config user.name t
mkdir -p src docs
echo 'int main(void) { return 0; }' >src/a.c
echo '# doc' >docs/index.md
cat >p.yml <<'YML'
name: rp
stages:
  - name: build
    jobs:
      - name: onmain
        script: 'echo "on-main branch=$CDX_BRANCH commit=$CDX_COMMIT rv=$RV"'
        rules:
          - if: '$CDX_BRANCH == "main"'
            variables: {RV: from-rule}
      - name: offmain
        script: echo off-main
        rules:
          - if: '$CDX_BRANCH != "main"'
      - name: src
        script: echo src-built
        rules:
          - changes: ["src/**/*.c"]
      - name: docs
        script: echo docs-built
        rules:
          - changes: ["docs/"]
      - name: deploy
        script: echo deployed
        rules:
          - if: '$DEPLOY == "yes" && $CDX_BRANCH =~ /^(main|release-[0-9]+)$/'
      - name: disabled
        script: echo never-runs
        when: never
      - name: flaky
        script: exit 3
        rules:
          - if: $CDX_BRANCH
            allow_failure: true
  - name: after
    jobs:
      - name: report
        script: echo report-ran
YML
git add -A
git commit -qm init
commit=$(git rev-parse HEAD)

# ---- cdx run on main --------------------------------------------------------
expect_status 0 "$CDX" run p.yml
expect_contains "on-main branch=main commit=$commit rv=from-rule"
expect_contains "skipped build/offmain (rules: no rule matched)"
expect_contains "skipped build/deploy (rules: no rule matched)"
expect_contains "skipped build/disabled (when: never)"
expect_contains "src-built"
expect_contains "docs-built"
expect_contains "report-ran"
expect_contains "allowed build/flaky"
expect_not_contains "off-main"
expect_not_contains "never-runs"
run1=$("$CDX" runs rp -n 1 --json | jq -r '.[0].id')
[ "$(job_field "$run1" build/offmain .status)" = skipped ] || fail "offmain not recorded skipped"
[ "$(job_field "$run1" build/offmain .why)" = "rules: no rule matched" ] || fail "offmain's why not recorded"
expect_status 0 "$CDX" status "$run1"
expect_contains "skipped    build/offmain  (rules: no rule matched)"

# --dry-run says what rules decide, and runs nothing
expect_status 0 "$CDX" run --dry-run p.yml
expect_contains "skipped    build/offmain (rules: no rule matched)"
expect_contains "runs       build/onmain (rules: rule 1 matched (\$CDX_BRANCH == \"main\"))"
expect_contains "skipped    build/src (rules: no rule matched (src/**/*.c unchanged since its last success))"
expect_not_contains "src-built"
expect_status 0 "$CDX" run --dry-run --json p.yml --var DEPLOY=yes
printf '%s\n' "$OUT" | jq -e '.decisions | map(select(.job == "build/deploy"))[0].when == "on_success"' >/dev/null ||
	fail "dry-run --json: deploy not decided to run with --var DEPLOY=yes: $OUT"

# --var wins over the checkout's CDX_COMMIT, in rules and in the job
expect_status 0 "$CDX" run p.yml --var CDX_COMMIT=given
expect_contains "on-main branch=main commit=given rv=from-rule"

# a --var counts for rules
expect_status 0 "$CDX" run p.yml --var DEPLOY=yes
expect_contains "deployed"

# ---- changes: nothing changed, then touched (same content), then changed --
expect_status 0 "$CDX" run p.yml
expect_contains "skipped build/src (rules: no rule matched (src/**/*.c unchanged since its last success))"
expect_contains "skipped build/docs"
expect_not_contains "src-built"
touch src/a.c
expect_status 0 "$CDX" run p.yml
expect_not_contains "src-built"
echo '/* changed */' >>src/a.c
expect_status 0 "$CDX" run --json p.yml
printf '%s\n' "$OUT" | jq -s -e 'map(select(.event == "job_end" and .job == "build/docs")) | .[0].status == "skipped" and (.[0].why | test("unchanged"))' >/dev/null ||
	fail "docs not skipped in --json: $OUT"
printf '%s\n' "$OUT" | jq -s -e 'map(select(.event == "attempt_end" and .job == "build/src")) | .[0].changes | length == 1' >/dev/null ||
	fail "src's attempt does not record its changes digest: $OUT"
expect_status 0 "$CDX" run p.yml
expect_not_contains "src-built"

# a failed run of the job does not count: it runs again
sed 's/echo src-built/echo src-built; exit 1/' p.yml >p2.yml
sed -i 's/^name: rp/name: rp/' p2.yml
echo '/* again */' >>src/a.c
expect_status 1 "$CDX" run p2.yml
expect_contains "src-built"
expect_status 0 "$CDX" run p.yml
expect_contains "src-built"

# a store inside the workspace is no change of its own, nor are the logs
cat >all.yml <<'YML'
name: all
stages:
  - name: s
    jobs:
      - name: everything
        script: echo everything-ran
        rules:
          - changes: ["**"]
YML
expect_status 0 "$CDX" --state "file:$T/repo/state" run all.yml
expect_contains "everything-ran"
expect_status 0 "$CDX" --state "file:$T/repo/state" run all.yml
expect_not_contains "everything-ran"
expect_contains "skipped s/everything"

# ---- off main ---------------------------------------------------------------
git checkout -q -b dev
expect_status 0 "$CDX" run p.yml --var DEPLOY=yes
expect_contains "off-main"
expect_contains "skipped build/onmain (rules: no rule matched)"
expect_contains "skipped build/deploy"
expect_not_contains "on-main"

# ---- CDX_BRANCH/CDX_COMMIT from packed refs, a worktree, a detached HEAD ------
git checkout -q main
git pack-refs --all
[ ! -f .git/refs/heads/main ] || fail "pack-refs left the loose ref"
expect_status 0 "$CDX" run p.yml
expect_contains "on-main branch=main commit=$commit rv=from-rule"
git worktree add -q -b wt-branch "$T/wt" main
cp p.yml "$T/wt/"
(cd "$T/wt" && "$CDX" run p.yml) >"$T/wt.out" 2>&1 || fail "run in a worktree: $(cat "$T/wt.out")"
grep -q "off-main" "$T/wt.out" || fail "worktree's branch not seen: $(cat "$T/wt.out")"
git checkout -q --detach
expect_status 0 "$CDX" run p.yml
expect_contains "skipped build/onmain"
expect_contains "off-main" # CDX_BRANCH is not set: null != "main"
expect_contains "skipped build/flaky"
git checkout -q main

# ---- through make -------------------------------------------------------------
git checkout -q main
makefile Makefile "load $CDX_SO" '$(cdx-pipeline p.yml)'
expect_status 0 run_make -s rp
expect_contains "on-main branch=main commit=$commit rv=from-rule"
expect_not_contains "off-main"
expect_not_contains "deployed"
expect_not_contains "src-built"
expect_contains "report-ran"
# a job decided never has no target
expect_status 2 run_make -s rp/build/offmain
expect_contains "No rule to make target"
expect_status 2 run_make -s rp/build/disabled
# make's command line counts as --var, and reaches `cdx job`, which decides again
expect_status 0 run_make -s rp DEPLOY=yes
expect_contains "deployed"
# changes: under make
echo '/* make */' >>src/a.c
expect_status 0 run_make -s rp
expect_contains "src-built"
expect_status 0 run_make -s rp
expect_not_contains "src-built"
git checkout -q dev
expect_status 0 run_make -s rp
expect_contains "off-main"
expect_not_contains "on-main"

# ---- changes: with the Redis store -------------------------------------------
if have_redis; then
	start_redis
	git checkout -q main
	expect_status 0 "$CDX" --state "$REDIS_URL" run p.yml
	expect_contains "src-built"
	expect_status 0 "$CDX" --state "$REDIS_URL" run p.yml
	expect_contains "skipped build/src (rules: no rule matched (src/**/*.c unchanged since its last success))"
	echo '/* redis */' >>src/a.c
	expect_status 0 "$CDX" --state "$REDIS_URL" run p.yml
	expect_contains "src-built"
	expect_contains "skipped build/docs"
else
	echo "t_rules: redis-server not installed: the Redis store part is skipped" >&2
fi
echo "t_rules: ok"
