#!/bin/sh
# t_serve_browser.sh — cdx serve in a real headless Chromium, driven by
# puppeteer-core (tests/browser/serve.js; installed from npm into the build
# directory at the first run, then reused): live runs and run pages without
# a reload, a job's log streamed while it runs, the hostile corpus inert
# in every page, a paused canary promoted by its button once logged in
# and refused without.  Skipped (77) without node/npm, chromium, or when
# npm cannot install puppeteer-core.  CDX_SERVE_SHOTS=DIR writes the
# screenshots docs/serve-run.png and docs/serve-deployments.png there
# (CDX_SERVE_SHOTS=docs from the top directory refreshes the README's).
. "$(dirname "$0")/lib.sh"
SHOTS= # resolved before deploy_lib.sh moves into the project directory
if [ -n "${CDX_SERVE_SHOTS:-}" ]; then SHOTS=$(cd "$CDX_SERVE_SHOTS" && pwd); fi
. "$(dirname "$0")/deploy_lib.sh"
. "$TOP/tests/integration/serve_lib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { echo "node/npm not installed" >&2; exit 77; }
[ -x "$CHROMIUM" ] || { echo "chromium not installed" >&2; exit 77; }
NODE_DIR="$CDX_BUILD/tests/browser-node"
if [ ! -d "$NODE_DIR/node_modules/puppeteer-core" ] || ! cmp -s "$TOP/tests/browser/package.json" "$NODE_DIR/package.json"; then
	mkdir -p "$NODE_DIR"
	cp "$TOP/tests/browser/package.json" "$NODE_DIR/package.json"
	npm install --no-audit --no-fund --loglevel=error --prefix "$NODE_DIR" >"$T/npm.log" 2>&1 ||
		{ echo "npm cannot install puppeteer-core: $(tail -3 "$T/npm.log")" >&2; exit 77; }
fi
bg=
trap '[ -z "$bg" ] || kill "$bg" 2>/dev/null; [ -z "$SERVE_PID" ] || kill "$SERVE_PID" 2>/dev/null; stop_scale_downs; cleanup' EXIT

# the project: web/slow, a canary that pauses 10 minutes at 20%
{
	web_app_yaml
	echo "      slow:"
	echo "        strategy: canary"
	echo "        slots: {s1: {}, s2: {}}"
	echo "        blue_green: {scale_down_delay: 0s}"
	echo "        canary: {steps: [20], pause: 10m}"
} >cdx.yml
cat >ci.yml <<'EOF2'
name: demo
stages:
  - name: build
    jobs:
      - {name: compile, script: "echo compiled"}
  - name: test
    jobs:
      - {name: unit, script: "echo unit ok"}
EOF2
cat >gate.yml <<'EOF2'
name: gated
stages:
  - name: build
    jobs:
      - name: wait
        script:
          - echo first-line-1234
          - printf '%s\n' '<img src=x onerror="window.__xss=1">'
          - while [ ! -f go ]; do sleep 0.05; done
          - echo second-line-5678
      - {name: docs, script: "echo docs built"}
  - name: test
    jobs:
      - {name: unit, script: "echo unit ok"}
EOF2
# the hostile corpus of t_report.sh, in variables, output and a reason
cat >hostile.yml <<'EOF2'
name: hostile
variables:
  HOSTILE: '<script>alert(1)</script> "onmouseover=alert(2) x=" </style><b id=x>bold</b> & <!-- c --> <img src=x onerror="window.__xss=1">'
stages:
  - name: build
    jobs:
      - name: compile
        script:
          - printf '%s\n' '<script>alert("out")</script>' '"onmouseover=alert(3)' '</style><style>body{display:none}</style>'
          - printf '%s\n' '<img src=x onerror="window.__xss=1">' "$HOSTILE"
EOF2
"$CDX" run hostile.yml >/dev/null 2>&1 || fail "hostile.yml"
"$CDX" deploy web slow 1.0 --reason '<img src=x onerror="window.__xss=1"> </td><script>alert(6)</script>' >/dev/null 2>&1 ||
	fail "slow 1.0"
"$CDX" deploy web slow 1.1 >slow.out 2>&1 &
bg=$!
i=0
until grep -q ' 20$' state/weight 2>/dev/null; do
	i=$((i + 1)); [ "$i" -lt 600 ] || fail "the canary never got 20%: $(cat slow.out)"
	sleep 0.05
done
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >token
start_serve --token-file token
run_rc env NODE_PATH="$NODE_DIR/node_modules" URL="$URL" CDX="$CDX" DIR="$P" TOKEN_FILE="$P/token" SHOTS="$SHOTS" \
	CHROMIUM="$CHROMIUM" node "$TOP/tests/browser/serve.js"
[ "$RC" -eq 0 ] || fail "the browser checks failed (exit $RC); server: $(tail -5 "$T/serve.err")"
run_rc wait "$bg"
bg=
[ "$RC" -eq 0 ] || fail "the promoted deployment: exit $RC: $(cat slow.out)"
[ "$(live_version)" = 1.1 ] || fail "after promote: $(live_version)"
grep -q "promote web/slow by session from 127.0.0.1: done" "$T/serve.err" || fail "the promote is not logged: $(cat "$T/serve.err")"
[ "$("$CDX" deployments --json | jq '[.[-1].controls[] | select(.kind == "promote" and .via == "session from 127.0.0.1")] | length')" -eq 1 ] ||
	fail "one promote recorded: $("$CDX" deployments --json | jq -c '.[-1].controls')"
stop_serve
echo "t_serve_browser: ok"
