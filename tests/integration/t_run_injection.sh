#!/bin/sh
# t_run_injection.sh — variable values never reach a shell as code: values
# full of shell syntax, from the pipeline file (pipeline, stage and job
# level) and from --var, are never executed, and arrive byte for byte in
# the job's environment.
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir work res
export RES="$T/res"

# the values; each would create a file in the working directory if a shell
# ever evaluated it
V_SEMI='"; touch x1; #'
V_SUBST='$(touch x2)'
V_TICK='`touch x3`'
V_NL='line one
touch x4; echo "line three"'
V_QUOTE="'; touch x5; '"
V_MIX='a\b $HOME ${PATH} %s %n * ? [x] ~ & | < > ( ) { } ; touch x6'

cat >inj.yml <<'EOF'
name: inj
variables:
  V_SEMI: '"; touch x1; #'
  V_SUBST: '$(touch x2)'
  V_TICK: '`touch x3`'
  V_NL: |-
    line one
    touch x4; echo "line three"
stages:
  - name: s
    environment:
      V_QUOTE: "'; touch x5; '"
    jobs:
      - name: show
        variables:
          V_MIX: 'a\b $HOME ${PATH} %s %n * ? [x] ~ & | < > ( ) { } ; touch x6'
        script:
          - for v in V_SEMI V_SUBST V_TICK V_NL V_QUOTE V_MIX; do printenv "$v" >"$RES/$v"; done
          - echo "value is $V_SUBST and $V_TICK"
      # a one-command script runs without a shell: its words come from the
      # file, never from variables
      - {name: direct, script: printenv V_SEMI}
EOF

check_values() {
	for v in V_SEMI V_SUBST V_TICK V_NL V_QUOTE V_MIX; do
		eval "want=\$$v"
		[ -f "$RES/$v" ] || fail "$1: $v not written"
		# byte for byte: printenv adds one newline
		printf '%s\n' "$want" | cmp -s - "$RES/$v" || fail "$1: $v arrived as [$(cat "$RES/$v")], want [$want]"
	done
	for f in x1 x2 x3 x4 x5 x6; do
		[ ! -e "$T/work/$f" ] && [ ! -e "$T/$f" ] || fail "$1: a value was executed ($f exists)"
	done
}

# ---- from the file ----------------------------------------------------------
(cd work && expect_status 0 "$CDX" run ../inj.yml --output prefix && printf '%s\n' "$OUT" >../out1.txt)
check_values "from the file"
grep -qF '[s/show] value is $(touch x2) and `touch x3`' out1.txt || fail "echo of the values: $(cat out1.txt)"
grep -qF '[s/direct] "; touch x1; #' out1.txt || fail "direct: $(cat out1.txt)"

# ---- from --var, which wins over the file ---------------------------------
rm -f res/*
V_SEMI='x"; touch x1; echo "'
V_SUBST='$(touch x2) $((1+1))'
V_TICK='`touch x3` \`touch x3\`'
V_NL='
first line empty
touch x4
'
V_QUOTE="'\"'\"'; touch x5"
V_MIX='=; touch x6 =='
(cd work && expect_status 0 "$CDX" run ../inj.yml --output prefix \
	--var "V_SEMI=$V_SEMI" --var "V_SUBST=$V_SUBST" --var "V_TICK=$V_TICK" \
	--var "V_NL=$V_NL" --var "V_QUOTE=$V_QUOTE" --var "V_MIX=$V_MIX")
# printenv prints V_NL with its leading and trailing newlines; compare bytes
printf '%s\n' "$V_NL" | cmp -s - res/V_NL || fail "--var: V_NL changed: $(od -c res/V_NL)"
check_values "from --var"

# ---- through the environment (from_env) -----------------------------------
cat >fromenv.yml <<'EOF'
name: fromenv
variables:
  V_ENV: {from_env: INJ_SOURCE}
stages:
  - name: s
    jobs:
      - {name: show, script: 'printenv V_ENV >"$RES/V_ENV"'}
EOF
INJ_SOURCE='$(touch x7); `touch x8`; "; touch x9'
export INJ_SOURCE
(cd work && expect_status 0 "$CDX" run ../fromenv.yml)
[ "$(cat res/V_ENV)" = "$INJ_SOURCE" ] || fail "from_env value: $(cat res/V_ENV)"
for f in x7 x8 x9; do [ ! -e "work/$f" ] || fail "from_env value executed ($f)"; done

# ---- names and values do not leak into cdx's own arguments ----------------
(cd work && expect_status 0 "$CDX" run ../inj.yml --output quiet --var 'V_SEMI=--dry-run' --var 'V_SUBST=-j')
[ "$(cat res/V_SEMI)" = "--dry-run" ] || fail "--var value taken as an option"
echo "t_run_injection: ok"
