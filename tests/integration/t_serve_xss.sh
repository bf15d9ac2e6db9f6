#!/bin/sh
# t_serve_xss.sh — the hostile corpus of t_report.sh (<script>,
# "onmouseover=, </style>, <img onerror>, comments) in variable values, job
# output, a deployment's reason and an alert's text, through every page of
# cdx serve: each page, parsed (python3's html.parser, not grep), holds no
# element, attribute, comment or script but the server's own, and shows the
# hostile text as text; the log stream carries it as JSON strings.  The
# headless Chromium check of the same corpus is in t_serve_browser.sh.  And
# the roll back action: refused without the token, cdx rollback with it.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "python3 not installed" >&2; exit 77; }
. "$(dirname "$0")/deploy_lib.sh"
. "$TOP/tests/integration/serve_lib.sh"
trap '[ -z "$SERVE_PID" ] || kill "$SERVE_PID" 2>/dev/null; stop_scale_downs; cleanup' EXIT
HOSTILE='<script>alert(1)</script> "onmouseover=alert(2) x=" </style><b>bold</b> & <!-- c --> <img src=x onerror=alert(4)>'
{
	web_app_yaml
	echo "      prod:"
	echo "        strategy: blue_green"
	echo "        slots: {s1: {}, s2: {}}"
	echo "        blue_green: {scale_down_delay: 0s}"
	echo "monitoring:"
	echo "  alerts:"
	echo "    - {name: broken, pipeline: hostile, when: consecutive_failures >= 1, notify: 'true'}"
} >cdx.yml
cat >hostile.yml <<EOF2
name: hostile
variables:
  HOSTILE: '$(printf '%s' "$HOSTILE" | sed "s/'/''/g")'
stages:
  - name: build
    jobs:
      - name: compile
        script:
          - printf '%s\n' '<script>alert("out")</script>' '"onmouseover=alert(3)' '</style><style>body{display:none}</style>'
          - printf '%s\n' "\$HOSTILE"
          - exit 3
EOF2
"$CDX" validate cdx.yml >/dev/null || fail "cdx.yml"
run_rc "$CDX" run hostile.yml >/dev/null 2>&1
[ "$RC" -eq 1 ] || fail "hostile.yml: exit $RC"
"$CDX" deploy web prod 1.0 --reason "$HOSTILE" >/dev/null 2>&1 || fail "deploy 1.0"
"$CDX" deploy web prod 1.1 --reason "$HOSTILE" >/dev/null 2>&1 || fail "deploy 1.1"
"$CDX" health hostile >/dev/null 2>&1 || true # evaluates the alerts: one fires
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >token
start_serve --token-file token
RUN=$("$CDX" runs --json | jq -r '.[0].id')
pages="/ /runs/$RUN /pipelines/hostile /deployments /deployments/web/prod /workers /alerts /login"
n=0
for p in $pages; do
	n=$((n + 1))
	[ "$(code GET "$p")" = 200 ] || fail "GET $p: $(head -c 300 "$T/body")"
	cp "$T/body" "page$n.html"
	echo "$p" >"page$n.url"
done
cat >check.py <<'EOF2'
import sys
from html.parser import HTMLParser
ALLOWED = {"html", "head", "meta", "title", "link", "script", "body", "nav", "main", "h1", "h2", "h3", "p", "span",
           "a", "b", "i", "code", "pre", "div", "section", "table", "tr", "th", "td", "ul", "li", "details",
           "summary", "svg", "rect", "text", "line", "g", "form", "button", "input", "label", "br"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.bad, self.text = [], []
    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED:
            self.bad.append("element <%s>" % tag)
        a = dict(attrs)
        if tag == "script" and a != {"src": "/static/cdx.js", "defer": None}:
            self.bad.append("script %r" % a)
        if tag == "link" and a != {"rel": "stylesheet", "href": "/static/cdx.css"}:
            self.bad.append("link %r" % a)
        for k, v in attrs:
            if k.startswith("on") or k in ("style", "srcset", "formaction", "xlink:href"):
                self.bad.append("attribute %s=%r on <%s>" % (k, v, tag))
            if k in ("href", "action", "src", "data-action", "data-log") and v and not v.startswith("/"):
                self.bad.append("URL %s=%r on <%s>" % (k, v, tag))
            if v and ("javascript:" in v or "url(" in v or "<" in v):
                self.bad.append("attribute value %r" % v)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
    def handle_data(self, data):
        self.text.append(data)
    def handle_comment(self, data):
        self.bad.append("comment <!--%s-->" % data)
    def handle_pi(self, data):
        self.bad.append("processing instruction")
hostile = sys.argv[1]
seen = set()
for f in sys.argv[2:]:
    p = P()
    p.feed(open(f, encoding="utf-8").read())
    p.close()
    url = open(f.replace(".html", ".url")).read().strip()
    assert not p.bad, (url, p.bad)
    text = "".join(p.text)
    if hostile in text:
        seen.add(url)
for want in ("/deployments", "/deployments/web/prod"):
    assert want in seen, ("the hostile reason is not shown as text on", want, sorted(seen))
print("pages ok:", len(sys.argv) - 2, "hostile text shown as text on", sorted(seen))
EOF2
python3 check.py "$HOSTILE" page*.html || fail "a page holds markup of the corpus"
# the log: JSON strings, decoded they are the corpus as it was printed
curl -sN --max-time 3 "$URL/events/log/$RUN/build/compile" >log.out || true
sed -n 's/^data: //p' log.out | jq -r . >log.txt
grep -qF '<script>alert("out")</script>' log.txt || fail "the log stream lost the corpus: $(cat log.out)"
grep -qF "$HOSTILE" log.txt || fail "the log stream lost the variable"
! grep -q '[<>]' log.out || fail "raw markup in the event stream"
# the roll back button's POST: cdx rollback, with who asked as its reason
[ "$(code POST /api/deployments/web/prod/rollback)" = 403 ] || fail "rollback without the token"
[ "$(live_version)" = 1.1 ] || fail "a refused rollback changed what serves: $(live_version)"
c=$(code POST /api/deployments/web/prod/rollback -H "Authorization: Bearer $(cat token)")
[ "$c" = 200 ] || fail "rollback: $c $(cat "$T/body")"
[ "$(live_version)" = 1.0 ] || fail "after the rollback: $(live_version)"
# scale_down_delay 0s: the slot it took the traffic from is stopped, as by cdx rollback
[ "$(ls state | grep -c '^s[12]$')" -eq 1 ] || fail "the old slot still runs after the rollback: $(ls state)"
"$CDX" history web prod --json | jq -e '.[-1] | .kind == "rollback" and .reason == "cdx serve: token from 127.0.0.1"' >/dev/null ||
	fail "the rollback's record: $("$CDX" history web prod --json | jq -c '.[-1]')"
[ "$(code POST /api/deployments/web/prod/promote -H "Authorization: Bearer $(cat token)")" = 409 ] ||
	fail "promote with nothing in progress: $(cat "$T/body")"
[ "$(code POST /api/deployments/web/nope/promote -H "Authorization: Bearer $(cat token)")" = 409 ] ||
	fail "promote of no environment"
stop_serve
echo "t_serve_xss: ok"
