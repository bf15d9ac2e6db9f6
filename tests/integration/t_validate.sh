#!/bin/sh
# t_validate.sh — cdx validate: the ok line, several files at once, the
# summary and exit status, --json, missing files, and project files
# (cdx.yml) whose registered pipelines are validated with them.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null 2>&1 || { echo "jq not installed (apt-get install jq)" >&2; exit 77; }

cd "$T"
cat >good.yml <<'EOF'
name: good
stages:
  - name: build
    jobs:
      - {name: compile, script: make}
      - {name: docs, script: make docs}
  - name: test
    jobs:
      - {name: unit, script: make check}
EOF
cat >other.yml <<'EOF'
stages:
  - name: only
    jobs:
      - {name: job, script: "true"}
EOF
cat >bad.yml <<'EOF'
name: bad
stages:
  - name: build
    jobs:
      - {name: compile, script: make, retry: lots}
      - {name: link, script: "", needs: [build/compil]}
EOF
cat >worse.yml <<'EOF'
stages: {}
EOF

# run CMD, keeping stdout, stderr and the status apart
run() {
	set +e
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
}

# the ok line, on stdout; nothing on stderr
run "$CDX" validate good.yml
[ "$RC" -eq 0 ] || fail "good.yml: exit $RC: $(cat "$T/err")"
[ "$(cat "$T/out")" = "good.yml: ok (pipeline good, 2 stages, 3 jobs)" ] || fail "ok line: $(cat "$T/out")"
[ ! -s "$T/err" ] || fail "good.yml: stderr: $(cat "$T/err")"
# the name defaults to the file's stem
run "$CDX" validate other.yml
[ "$(cat "$T/out")" = "other.yml: ok (pipeline other, 1 stage, 1 job)" ] || fail "stem: $(cat "$T/out")"
# a path is printed as given
mkdir sub
cp good.yml sub/
run "$CDX" validate ./sub/good.yml
[ "$(cat "$T/out")" = "./sub/good.yml: ok (pipeline good, 2 stages, 3 jobs)" ] || fail "path: $(cat "$T/out")"

# several files: each reported, problems summed, exit 2 if any
run "$CDX" validate good.yml other.yml
[ "$RC" -eq 0 ] || fail "two good files: exit $RC"
[ "$(wc -l <"$T/out")" -eq 2 ] || fail "two good files: $(cat "$T/out")"
run "$CDX" validate good.yml bad.yml other.yml worse.yml
[ "$RC" -eq 2 ] || fail "mixed files: exit $RC"
cat >"$T/want" <<'EOF'
bad.yml:5:46: retry must be a whole number from 0 to 100, not 'lots'
bad.yml:6:30: empty script
bad.yml:6:42: unknown job 'build/compil' in needs (did you mean 'build/compile'?)
worse.yml:1:9: stages must be a list, not a mapping
cdx validate: 4 problems found
EOF
diff "$T/want" "$T/err" || fail "mixed files: stderr differs"
printf '%s\n' "good.yml: ok (pipeline good, 2 stages, 3 jobs)" "other.yml: ok (pipeline other, 1 stage, 1 job)" >"$T/want"
diff "$T/want" "$T/out" || fail "mixed files: stdout differs"
# one problem: singular
run "$CDX" validate worse.yml
[ "$(tail -n 1 "$T/err")" = "cdx validate: 1 problem found" ] || fail "singular: $(cat "$T/err")"

# --json: one document on stdout, nothing on stderr, same exit status
run "$CDX" validate --json good.yml bad.yml
[ "$RC" -eq 2 ] || fail "--json: exit $RC"
[ ! -s "$T/err" ] || fail "--json: stderr: $(cat "$T/err")"
jq -e . "$T/out" >/dev/null || fail "--json does not parse: $(cat "$T/out")"
check() { expect_jq "$T/out" "$@"; } # check JQ-FILTER EXPECTED
check '.valid' 'false'
check '.problems' '3'
check '.files | length' '2'
check '.files[0]' '{"file":"good.yml","kind":"pipeline","valid":true,"pipeline":"good","stages":2,"jobs":3,"problems":[]}'
check '.files[1] | {file, kind, valid}' '{"file":"bad.yml","kind":"pipeline","valid":false}'
check '.files[1] | has("pipeline")' 'false'
check '.files[1].problems[0]' '{"file":"bad.yml","line":5,"column":46,"message":"retry must be a whole number from 0 to 100, not '"'lots'"'"}'
check '[.files[1].problems[] | .line]' '[5,6,6]'
check '[.files[1].problems[] | .column]' '[46,30,42]'
# --json may come after the files; an all-valid run says so
run "$CDX" validate good.yml other.yml --json
[ "$RC" -eq 0 ] || fail "--json last: exit $RC"
check '.valid' 'true'
check '.problems' '0'
check '[.files[].pipeline]' '["good","other"]'

# a missing file: the message names it, exit 2
run "$CDX" validate nope.yml
[ "$RC" -eq 2 ] || fail "missing file: exit $RC"
printf '%s\n' "nope.yml: cannot open nope.yml: No such file or directory" "cdx validate: 1 problem found" >"$T/want"
diff "$T/want" "$T/err" || fail "missing file: stderr differs"
run "$CDX" validate --json nope.yml
check '.files[0].problems[0]' '{"file":"nope.yml","line":0,"column":0,"message":"cannot open nope.yml: No such file or directory"}'
# a directory
run "$CDX" validate sub
[ "$RC" -eq 2 ] || fail "directory: exit $RC"
grep -q '^sub: sub is a directory$' "$T/err" || fail "directory: $(cat "$T/err")"
# no file at all
run "$CDX" validate
[ "$RC" -eq 2 ] || fail "no file: exit $RC"
grep -q '^cdx validate: name at least one file$' "$T/err" || fail "no file: $(cat "$T/err")"
run "$CDX" validate --json
[ "$RC" -eq 2 ] || fail "only --json: exit $RC"

# ---- project files -------------------------------------------------------
mkdir -p proj/pipelines
cp good.yml proj/pipelines/ci.yml
cp other.yml proj/nightly.yml
cat >proj/cdx.yml <<'EOF'
state: file:.cdx
pipelines:
  ci: pipelines/ci.yml
  nightly: nightly.yml
EOF
# registered files resolve against the project's directory, from anywhere
run sh -c "cd / && '$CDX' validate '$T/proj/cdx.yml'"
[ "$RC" -eq 0 ] || fail "project: exit $RC: $(cat "$T/err")"
cat >"$T/want" <<EOF
$T/proj/cdx.yml: ok (project, 2 pipelines)
$T/proj/pipelines/ci.yml: ok (pipeline good, 2 stages, 3 jobs)
$T/proj/nightly.yml: ok (pipeline nightly, 1 stage, 1 job)
EOF
diff "$T/want" "$T/out" || fail "project: stdout differs"
# relative to the working directory
run sh -c "cd '$T/proj' && '$CDX' validate cdx.yml"
[ "$(head -n 2 "$T/out" | tail -n 1)" = "pipelines/ci.yml: ok (pipeline good, 2 stages, 3 jobs)" ] ||
	fail "project, relative: $(cat "$T/out")"
# cdx.yaml is a project file too
cp proj/cdx.yml proj/cdx.yaml
run "$CDX" validate proj/cdx.yaml
[ "$RC" -eq 0 ] || fail "cdx.yaml: exit $RC"
grep -q '^proj/cdx.yaml: ok (project, 2 pipelines)$' "$T/out" || fail "cdx.yaml: $(cat "$T/out")"
rm proj/cdx.yaml
# --json: the project and its pipelines
run "$CDX" validate --json proj/cdx.yml
check '[.files[] | .kind]' '["project","pipeline","pipeline"]'
check '[.files[] | .file]' '["proj/cdx.yml","proj/pipelines/ci.yml","proj/nightly.yml"]'
check '.valid' 'true'

# a registered pipeline with problems makes the project fail
cp bad.yml proj/nightly.yml
run "$CDX" validate proj/cdx.yml
[ "$RC" -eq 2 ] || fail "project with a bad pipeline: exit $RC"
grep -q '^proj/cdx.yml: ok (project, 2 pipelines)$' "$T/out" || fail "project ok line: $(cat "$T/out")"
grep -q '^proj/nightly.yml:5:46: retry must be' "$T/err" || fail "bad registered pipeline: $(cat "$T/err")"
[ "$(tail -n 1 "$T/err")" = "cdx validate: 3 problems found" ] || fail "project summary: $(cat "$T/err")"
# a registered file that does not exist
printf 'pipelines:\n  gone: missing.yml\n' >proj/cdx.yml
run "$CDX" validate proj/cdx.yml
[ "$RC" -eq 2 ] || fail "missing registered file: exit $RC"
grep -q '^proj/missing.yml: cannot open proj/missing.yml: No such file or directory$' "$T/err" ||
	fail "missing registered file: $(cat "$T/err")"
# problems in the project file itself
cat >proj/cdx.yml <<'EOF'
state: ftp://nowhere
pipeline:
  ci: pipelines/ci.yml
EOF
run "$CDX" validate proj/cdx.yml
[ "$RC" -eq 2 ] || fail "bad project: exit $RC"
cat >"$T/want" <<'EOF'
proj/cdx.yml:1:8: state 'ftp://nowhere' is not file:DIR or redis://HOST[:PORT][/DB]
proj/cdx.yml:2:1: unknown key 'pipeline' in project file (did you mean 'pipelines'?)
cdx validate: 2 problems found
EOF
diff "$T/want" "$T/err" || fail "bad project: stderr differs"
cat >proj/cdx.yml <<'EOF'
pipelines:
  "bad name": ci.yml
  ok: [a, b]
EOF
run "$CDX" validate proj/cdx.yml
cat >"$T/want" <<'EOF'
proj/cdx.yml:2:3: pipeline name 'bad name' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -
proj/cdx.yml:3:7: pipeline 'ok' must name a file, not a list
cdx validate: 2 problems found
EOF
diff "$T/want" "$T/err" || fail "bad project pipelines: stderr differs"
# an invalid name does not hide what is under it (a fixed defect: an
# invalid environment name under an invalid application name was missed)
cat >proj/cdx.yml <<'EOF'
applications:
  "bad app":
    environments:
      "bad env": {strategy: blue_gren}
      ok: {}
EOF
run "$CDX" validate proj/cdx.yml
[ "$RC" -eq 2 ] || fail "bad application: exit $RC"
cat >"$T/want" <<'EOF'
proj/cdx.yml:2:3: application name 'bad app' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -
proj/cdx.yml:4:7: environment name 'bad env' is invalid: use 1 to 64 characters from A-Z a-z 0-9 _ . -
proj/cdx.yml:4:29: unknown strategy 'blue_gren' (did you mean 'blue_green'?)
cdx validate: 3 problems found
EOF
diff "$T/want" "$T/err" || fail "bad application and environment names: stderr differs"

# ---- the sizes of variables ---------------------------------------------------
# (a fixed defect: a 15 MiB variable passed validate, and cdx run failed
# with exit 4 when the store refused the run record that held it)
# xs N: N bytes of x
xs() { head -c "$1" /dev/zero | tr '\0' x; }
# sized FILE VALUE...: a pipeline with variables V0, V1, ... of the VALUEs
sized() {
	f=$1
	shift
	{
		printf 'name: sized\nvariables:\n'
		i=0
		for v in "$@"; do printf '  V%d: %s\n' "$i" "$v"; i=$((i + 1)); done
		printf 'stages:\n  - name: s\n    jobs:\n      - name: a\n        script: echo "${#V0}"\n'
	} >"$f"
}
sized huge.yml "$(xs 15728640)"
run "$CDX" validate huge.yml
[ "$RC" -eq 2 ] || fail "15 MiB variable: validate exit $RC"
printf '%s\n' "huge.yml:3:7: variable 'V0' is too long: V0=VALUE is 15728643 bytes, over the 131071 a job's environment takes" \
	"cdx validate: 1 problem found" >"$T/want"
diff "$T/want" "$T/err" || fail "15 MiB variable: stderr differs"
run "$CDX" run huge.yml
[ "$RC" -eq 2 ] || fail "15 MiB variable: run exit $RC (not refused by the loader)"
# the limit is the one a job's environment has: just under it, the job
# gets the whole value; one byte more is refused
sized edge.yml "$(xs 131068)"
run "$CDX" validate edge.yml
[ "$RC" -eq 0 ] || fail "variable at the limit: validate exit $RC: $(cat "$T/err")"
run "$CDX" run edge.yml --output quiet
[ "$RC" -eq 0 ] || fail "variable at the limit: run exit $RC: $(cat "$T/err")"
[ "$("$CDX" logs "$("$CDX" runs sized --json | jq -r '.[0].id')" s/a)" = 131068 ] ||
	fail "variable at the limit: the job did not get all of it"
sized edge.yml "$(xs 131069)"
run "$CDX" validate edge.yml
[ "$RC" -eq 2 ] || fail "variable over the limit: validate exit $RC"
grep -q "^edge.yml:3:7: variable 'V0' is too long: V0=VALUE is 131072 bytes" "$T/err" || fail "over the limit: $(cat "$T/err")"
# the run record holds the pipeline's variables: together they must fit it
x=$(xs 100000)
sized many.yml "$x" "$x" "$x" "$x" "$x" "$x"
run "$CDX" validate many.yml
[ "$RC" -eq 2 ] || fail "variables over the record's limit: validate exit $RC"
printf '%s\n' "many.yml:8:3: variables too large: with 'V5' they take 600050 bytes in the run record, over its limit of 524288" \
	"cdx validate: 1 problem found" >"$T/want"
diff "$T/want" "$T/err" || fail "variables over the record's limit: stderr differs"
# values known only when the run starts (--var, from_env): cdx run
# refuses them as validate would, with exit 2
sized few.yml "$x"
run "$CDX" run few.yml --var "A=$x" --var "B=$x" --var "C=$x" --var "D=$x" --var "E=$x"
[ "$RC" -eq 2 ] || fail "--var over the record's limit: run exit $RC: $(cat "$T/err")"
grep -q "variables too large: they take [0-9]* bytes in the run record, over its limit of 524288" "$T/err" ||
	fail "--var over the record's limit: $(cat "$T/err")"
# a project file and a pipeline file in one call
printf 'pipelines:\n  ci: pipelines/ci.yml\n' >proj/cdx.yml
run "$CDX" validate proj/cdx.yml good.yml
[ "$RC" -eq 0 ] || fail "project + pipeline: exit $RC"
[ "$(wc -l <"$T/out")" -eq 3 ] || fail "project + pipeline: $(cat "$T/out")"
exit 0
