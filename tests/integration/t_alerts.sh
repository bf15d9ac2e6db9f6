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
# alerts when its watcher ends it.  Delivery: a notify command that fails
# and a webhook (a real HTTP listener on loopback) that answers 500 are
# tried three times, recorded undelivered, listed by cdx health, tried
# again by later evaluations after retry_backoff (doubling) until they are
# delivered, once (also by cdx monitor --follow with nothing else
# happening); the webhook gets the alert JSON with a Slack `text`.
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
# ---- delivery: retried, undelivered, delivered later; a webhook ---------------
mkdir "$T/wh"
cd "$T/wh"
cat >hookd.py <<'EOF'
# a webhook receiver: answers 500 while the number in FAIL is above 0
# (taking one off), else 200; logs "TIME STATUS BODY" per POST to LOG
import http.server, os, sys, time
FAIL, LOG, PORT = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        n = int(open(FAIL).read().strip() or 0)
        code = 500 if n > 0 else 200
        if n > 0:
            open(FAIL, "w").write("%d\n" % (n - 1))
        if self.headers.get("Content-Type") != "application/json":
            code = 415
        with open(LOG, "a") as f:
            f.write("%.3f\t%d\t%s\n" % (time.time(), code, body))
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(PORT + ".tmp", "w").write("%d\n" % s.server_address[1])
os.rename(PORT + ".tmp", PORT)
s.serve_forever()
EOF
echo 4 >hook.fail
python3 hookd.py hook.fail hook.log port &
HOOKD=$!
trap 'kill "$HOOKD" 2>/dev/null || true; cleanup' EXIT
i=0
while [ ! -s port ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s port ] || fail "the webhook receiver did not start"
PORT=$(cat port)
cat >fails.sh <<'EOF'
#!/bin/sh
# fails while cmd.fail holds a number above 0 (taking one off)
n=$(cat cmd.fail)
if [ "$n" -gt 0 ]; then echo $((n - 1)) >cmd.fail; exit 1; fi
cat >>cmd.log
echo >>cmd.log
EOF
chmod +x fails.sh
echo 4 >cmd.fail
cat >wh.yml <<'EOF'
name: wh
stages:
  - name: test
    jobs:
      - {name: unit, script: 'test -f "$FLAG"'}
EOF
cat >cdx.yml <<EOF
state: file:.cdx
pipelines: {wh: wh.yml}
monitoring:
  notify_timeout: 5s
  retry_backoff: 1s
  alerts:
    - {name: hook, pipeline: wh, when: consecutive_failures >= 1, webhook: 'http://user:secret@127.0.0.1:$PORT/hook/T0K3N'}
    - {name: cmd, pipeline: wh, when: consecutive_failures >= 1, notify: ./fails.sh}
EOF
expect_status 0 "$CDX" validate cdx.yml
rm -f "$FLAG"
expect_status 1 "$CDX" run wh
expect_contains "exited with status 1 (try 3)"
expect_contains "HTTP 500 (try 3)"
[ "$(wc -l <hook.log)" = 3 ] || fail "webhook: 3 tries expected: $(cat hook.log)"
[ "$(cat cmd.fail)" = 1 ] || fail "notify: 3 tries expected, $(cat cmd.fail) failures left"
J=.cdx/journal.jsonl
jq -e -s '[.[].rec | select(.t == "event" and .kind == "alert")] | length == 2 and
	all(.delivery == "undelivered" and .attempts == 3) and
	(map(select(.alert == "hook"))[0] | .undelivered == ["webhook"] and .webhook == "http://127.0.0.1:'"$PORT"'"
		and .webhook_status == 500 and (.error | test("HTTP 500")))' "$J" >/dev/null ||
	fail "undelivered alerts as recorded: $(jq -c 'select(.rec.t == "event") | .rec' "$J")"
! grep -q T0K3N "$J" || fail "the webhook's path (its token) is recorded"
! grep -q secret "$J" || fail "the webhook's password is recorded"
expect_status 0 "$CDX" health wh --no-alerts
expect_contains "undelivered alert: hook firing (pipeline:wh), 3 tries"
expect_contains "undelivered alert: cmd firing (pipeline:wh), 3 tries"
expect_status 0 "$CDX" health wh --json --no-alerts
printf '%s' "$OUT" | jq -e '.alerts_undelivered | length == 2 and (map(.alert) | sort) == ["cmd", "hook"]' >/dev/null ||
	fail "health --json: $OUT"
# later evaluations try again, once each, after 1 s, then 2 s..., until delivered
i=0
until grep -q "	200	" hook.log && [ -s cmd.log ]; do
	i=$((i + 1)); [ "$i" -lt 60 ] || fail "never delivered: $(cat hook.log)"
	"$CDX" health wh >/dev/null 2>&1 || true
	sleep 0.5
done
for k in 1 2 3; do "$CDX" health wh >/dev/null 2>&1; done
[ "$(cut -f2 hook.log | tr '\n' ' ')" = "500 500 500 500 200 " ] || fail "webhook tries: $(cut -f1,2 hook.log)"
[ "$(cat cmd.fail)" = 0 ] && [ "$(grep -c . cmd.log)" = 1 ] || fail "notify delivered $(grep -c . cmd.log) times"
# the waits before the later tries: at least retry_backoff, then double
awk -F '\t' '{ t[NR] = $1 } END { if (t[4] - t[3] < 1 || t[5] - t[4] < 2) exit 1 }' hook.log ||
	fail "the later tries came too soon: $(cut -f1,2 hook.log)"
# every try carried the same alert, with a Slack text
cut -f3 hook.log | jq -s -e 'length == 5 and (map(del(.text)) | unique | length) == 1 and
	all(.alert == "hook" and .state == "firing" and .subject == "pipeline:wh" and
	    (.text | test("^cdx: alert hook firing \\(pipeline:wh\\): 1 consecutive failed run")) and
	    has("delivery") == false and has("t") == false)' >/dev/null || fail "webhook bodies: $(cut -f3 hook.log)"
jq -e '.kind == "alert" and .state == "firing" and .alert == "cmd"' cmd.log >/dev/null || fail "notify got: $(cat cmd.log)"
jq -e -s '[.[].rec | select(.kind == "alert_delivery")] | length == 4 and (map(select(.delivery == "delivered")) | length) == 2' "$J" >/dev/null ||
	fail "delivery events: $(jq -c 'select(.rec.kind == "alert_delivery") | .rec' "$J")"
expect_status 0 "$CDX" health wh --json
printf '%s' "$OUT" | jq -e '.alerts_undelivered == []' >/dev/null || fail "still undelivered: $OUT"
expect_status 0 "$CDX" health wh
expect_not_contains "undelivered"
# resolved: delivered at the first try
touch "$FLAG"
expect_status 0 "$CDX" run wh
[ "$(grep -c "	200	" hook.log)" = 2 ] || fail "resolved: $(cut -f1,2 hook.log)"
tail -n 1 hook.log | cut -f3 | jq -e '.state == "resolved"' >/dev/null || fail "resolved: $(tail -n 1 hook.log)"
# an undelivered notification is given up when a newer one supersedes it
echo 1000 >hook.fail
rm -f "$FLAG"
expect_status 1 "$CDX" run wh
touch "$FLAG"
expect_status 0 "$CDX" run wh
expect_status 0 "$CDX" health wh --json --no-alerts
printf '%s' "$OUT" | jq -e '.alerts_undelivered | length == 1 and .[0].state == "resolved"' >/dev/null ||
	fail "superseded: $OUT"
# cdx monitor --follow tries it again while nothing else happens
echo 0 >hook.fail
n=$(grep -c "	200	" hook.log)
"$CDX" monitor wh --follow >follow.out 2>&1 &
MON=$!
i=0
while [ "$(grep -c "	200	" hook.log)" = "$n" ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT "$MON"
wait "$MON" || true
[ "$(grep -c "	200	" hook.log)" = $((n + 1)) ] || fail "monitor --follow did not deliver: $(cut -f1,2 hook.log); $(cat follow.out)"
tail -n 1 hook.log | cut -f3 | jq -e '.state == "resolved"' >/dev/null || fail "follow delivered: $(tail -n 1 hook.log)"
# a webhook must be http(s)
mkdir bad
sed 's|webhook: .http://[^}]*|webhook: ftp://127.0.0.1/x|' cdx.yml >bad/cdx.yml
expect_status 2 "$CDX" validate bad/cdx.yml
expect_contains "webhook 'ftp://127.0.0.1/x' must be an http:// or https:// URL"
kill "$HOOKD"
wait "$HOOKD" 2>/dev/null || true
cd "$T"
echo "t_alerts: ok"
