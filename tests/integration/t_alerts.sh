#!/bin/sh
# t_alerts.sh — alerts of cdx.yml's monitoring: with real runs and real
# notify commands: an alert fires exactly once per incident (not again on
# later failures, nor when cdx health or five concurrent cdx health
# processes evaluate it again) and resolves exactly once when its
# condition no longer holds; a second incident fires again; the notify
# command gets the alert JSON on stdin and CDX_ALERT in its environment;
# the events are recorded (kind alert / alert_resolved); deployment
# rollbacks and freezes alert and resolve from deployment/transition/event
# records, and a real `cdx deploy` that rolls back alerts at once and
# resolves with the next good deployment; a make-driven run evaluates
# alerts when its watcher ends it.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "python3 not installed" >&2; exit 77; }
cd "$T"
unset CDX_STATE # the project file names the state

cat >al.yml <<'EOF'
name: al
stages:
  - name: test
    jobs:
      - {name: unit, script: 'test -f "$FLAG"'}
EOF
cat >mk.yml <<'EOF'
name: mk
stages:
  - name: test
    jobs:
      - {name: unit, script: 'exit 1'}
EOF
cat >notify.sh <<'EOF'
#!/bin/sh
# one line per notification: the JSON from stdin, then the environment's view
json=$(cat)
printf '%s\t%s\t%s\n' "$CDX_ALERT" "$CDX_ALERT_STATE" "$json" >>"$NOTES"
EOF
chmod +x notify.sh
echo "site" >site.txt
cat >cdx.yml <<'EOF'
state: file:.cdx
pipelines: {al: al.yml, mk: mk.yml}
applications:
  site:
    artifact: site.txt
    environments:
      live:
        strategy: blue_green
        health: {command: 'test "$CDX_VERSION" != bad', retries: 1, interval: 100ms}
monitoring:
  window: 10
  alerts:
    - {name: red, pipeline: al, when: consecutive_failures >= 2, notify: ./notify.sh}
    - {name: rate, pipeline: al, when: success_rate < 50%, window: 4, notify: ./notify.sh}
    - {name: mkred, pipeline: mk, when: consecutive_failures >= 1, notify: ./notify.sh}
    - {name: rollback, when: deployment rolled_back, notify: ./notify.sh}
    - {name: frozen, when: deployment frozen, notify: ./notify.sh}
EOF
export NOTES="$T/notes" FLAG="$T/flag"
: >"$NOTES"
expect_status 0 "$CDX" validate cdx.yml

# count NAME STATE: notifications of alert NAME in STATE (firing|resolved)
count() { awk -F '\t' -v a="$1" -v s="$2" '$1 == a && $2 == s' "$NOTES" | wc -l | tr -d ' '; }
expect_counts() { # NAME FIRING RESOLVED
	f=$(count "$1" firing); r=$(count "$1" resolved)
	[ "$f" = "$2" ] && [ "$r" = "$3" ] || fail "alert $1: $f firing / $r resolved notifications, expected $2 / $3: $(cat "$NOTES")"
}
run_fail() { rm -f "$FLAG"; expect_status 1 "$CDX" run al; }
run_pass() { touch "$FLAG"; expect_status 0 "$CDX" run al; }

# ---- one incident: fires once, resolves once ------------------------------
run_fail
expect_counts red 0 0
run_fail
expect_counts red 1 0
expect_counts rate 0 0  # its window of 4 runs is not full yet
run_fail
run_fail
expect_counts red 1 0
expect_counts rate 1 0  # 0 of the last 4 passed
expect_status 0 "$CDX" health al
expect_contains "alerts firing: "
expect_contains "red"
expect_counts red 1 0
# five evaluations at once: still one notification
for i in 1 2 3 4 5; do "$CDX" health al >/dev/null 2>&1 & done
wait
expect_counts red 1 0
run_pass
expect_counts red 1 1
expect_counts rate 1 0  # 1 of 4
run_pass
expect_counts rate 1 1  # 2 of 4 is not below 50%
run_pass
expect_counts rate 1 1
expect_counts red 1 1

# ---- the notification ---------------------------------------------------------
line=$(awk -F '\t' '$1 == "red" && $2 == "firing"' "$NOTES" | cut -f3)
printf '%s' "$line" | jq -e '.kind == "alert" and .alert == "red" and .state == "firing" and .pipeline == "al"
	and .subject == "pipeline:al" and .value == 2 and .threshold == 2 and (.message | test("2 consecutive"))' >/dev/null ||
	fail "notify got: $line"

# ---- a second incident fires again ------------------------------------------
run_fail
run_fail
expect_counts red 2 1

# ---- the events are in the store ---------------------------------------------
n=$(jq -c 'select(.rec.t == "event" and .rec.alert == "red") | .rec.kind' .cdx/journal.jsonl | tr '\n' ' ')
[ "$n" = '"alert" "alert_resolved" "alert" ' ] || fail "recorded red events: $n"
jq -e 'select(.rec.t == "event" and .rec.alert == "red") | .rec.notify_status == 0' .cdx/journal.jsonl >/dev/null ||
	fail "the notify status is not recorded"

# ---- evaluation without the project at the end of the run, then by health ----
touch "$FLAG"
expect_status 0 env CDX_CONFIG=/nonexistent.yml "$CDX" --state "file:$T/.cdx" run al.yml
expect_counts red 2 1   # that run knew no alerts
for i in 1 2 3 4 5; do "$CDX" health al >/dev/null 2>&1 & done
wait
expect_counts red 2 2   # resolved once, by one of the five

# ---- deployments: rolled back, frozen ----------------------------------------
# append deployment records as lib/deploy.c writes them (journal framing:
# seq, CRC-32 of the payload, the payload)
cat >append.py <<'EOF'
import fcntl, json, os, sys, zlib
path = sys.argv[1]
with open(path, "r+b") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    lines = f.read().splitlines()
    seq = json.loads(lines[-1])["seq"] if lines else 0
    for rec in sys.argv[2:]:
        p = json.dumps(json.loads(rec), separators=(",", ":")).encode()
        seq += 1
        f.write(b'{"seq":%d,"crc":"%08x","rec":%s}\n' % (seq, zlib.crc32(p) & 0xffffffff, p))
    f.flush()
    os.fsync(f.fileno())
EOF
append() { python3 append.py .cdx/journal.jsonl "$@"; }
append '{"t":"deployment","id":"d1","kind":"deploy","app":"web","env":"prod","version":"1.2","start_ms":1}' \
	'{"t":"transition","deployment":"d1","state":"deploying","at_ms":2}' \
	'{"t":"transition","deployment":"d1","state":"rolled_back","at_ms":3,"msg":"health check failed"}'
expect_status 0 "$CDX" health al
expect_counts rollback 1 0
expect_status 0 "$CDX" health al
expect_counts rollback 1 0
awk -F '\t' '$1 == "rollback"' "$NOTES" | cut -f3 | jq -e '.subject == "deploy:web:prod" and .detail.version == "1.2"' >/dev/null ||
	fail "rollback notification: $(cat "$NOTES")"
append '{"t":"deployment","id":"d2","kind":"deploy","app":"web","env":"prod","version":"1.3","start_ms":4}' \
	'{"t":"transition","deployment":"d2","state":"succeeded","at_ms":5}' \
	'{"t":"event","kind":"deployment_frozen","app":"web","env":"staging","at_ms":6,"reason":"change freeze"}'
expect_status 0 "$CDX" health al
expect_counts rollback 1 1
expect_counts frozen 1 0
append '{"t":"event","kind":"deployment_unfrozen","app":"web","env":"staging","at_ms":7}'
expect_status 0 "$CDX" health al --no-alerts
expect_counts frozen 1 0
expect_status 0 "$CDX" health al
expect_counts frozen 1 1

# ---- a real deployment that rolls back: cdx deploy evaluates the alerts -----------
subj() { grep -c "\"subject\":\"deploy:site:live\",\"state\":\"$1\"" "$NOTES" || true; }
expect_status 0 "$CDX" deploy site live 1
expect_status 1 "$CDX" deploy site live bad
expect_contains "rolled back"
[ "$(subj firing)" = 1 ] && [ "$(subj resolved)" = 0 ] || fail "rollback of site/live: $(cat "$NOTES")"
expect_status 0 "$CDX" deploy site live 2
[ "$(subj firing)" = 1 ] && [ "$(subj resolved)" = 1 ] || fail "good deployment of site/live: $(cat "$NOTES")"

# ---- metrics show the alerts and deployments ----------------------------------
expect_status 0 "$CDX" metrics --prometheus
expect_contains 'cdx_alert_firing{alert="red",subject="pipeline:al"} 0'
expect_contains 'cdx_deployments_total{app="web",env="prod",kind="deploy"} 2'
expect_contains 'cdx_deployment_transitions_total{app="site",env="live",state="rolled_back"} 1'
expect_contains 'cdx_deployment_transitions_total{app="web",env="prod",state="rolled_back"} 1'

# ---- a make run: its watcher evaluates the alerts when make is done -----------
printf 'load %s\n$(cdx-pipeline mk.yml)\n' "$CDX_SO" >Makefile
expect_status 2 run_make mk
i=0
while [ "$(count mkred firing)" = 0 ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
expect_counts mkred 1 0
echo "t_alerts: ok"
