#!/bin/sh
# t_report.sh — `cdx report` on real runs: every type in every format; a
# hostile corpus (<script>, "onmouseover=, </style>) in job output, in
# variable values and in the recorded VERSION yields HTML whose parse shows
# no markup but the report's own (python3's html.parser, not grep); JSON
# validates against docs/report.schema.json; text fits 80 columns; -o
# writes atomically; $(cdx-report) expands to the command line; headless
# Chromium renders the performance report to a PNG and its DOM has one
# timeline bar per job that ran.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "python3 not installed" >&2; exit 77; }
cd "$T"
SCHEMA="$TOP/docs/report.schema.json"
CHECK="$TOP/tests/integration/schema_check.py"

long=$(printf 'j%.0s' $(seq 1 60))
cat >ci.yml <<EOF
name: rep
variables:
  HOSTILE: '<script>alert(1)</script> "onmouseover=alert(2) x=" </style><b>bold</b> & <!-- c -->'
  TOKEN: {value: hunter2-secret, secret: true}
stages:
  - name: build
    jobs:
      - name: compile
        script:
          - printf '%s\n' '<script>alert("out")</script>' '"onmouseover=alert(3)' '</style><style>body{display:none}</style>'
          - echo "token is \$TOKEN"
          - sleep 0.4
      - {name: docs, script: "sleep 0.2"}
      - {name: $long, script: "sleep 0.1"}
  - name: test
    jobs:
      - name: unit
        retry: 1
        script: |
          if [ ! -f "\$RES/second" ]; then touch "\$RES/second"; echo 'first attempt fails <i>' >&2; exit 7; fi
          echo passed
      - {name: lint, needs: [build/docs], script: "sleep 0.1"}
EOF
mkdir res
export RES="$T/res"
expect_status 0 "$CDX" run ci.yml -j 2 --var 'VERSION=<img src=x onerror=alert(4)>'

# ---- every type in every format -------------------------------------------
for type in summary detailed performance; do
	for fmt in json html text; do
		expect_status 0 "$CDX" report rep --type "$type" --format "$fmt" -o "rep-$type.$fmt"
		[ -s "rep-$type.$fmt" ] || fail "empty report rep-$type.$fmt"
	done
done
ls ./*.tmp.* 2>/dev/null && fail "a temporary file was left behind"

# ---- JSON: the schema, and what each type promises ------------------------
python3 "$CHECK" "$SCHEMA" rep-summary.json rep-detailed.json rep-performance.json ||
	fail "a JSON report does not follow $SCHEMA"
python3 - <<'EOF' || fail "JSON report content"
import json
s = json.load(open("rep-summary.json"))
d = json.load(open("rep-detailed.json"))
p = json.load(open("rep-performance.json"))
assert s["type"] == "summary" and "jobs" not in s and "performance" not in s, s.keys()
assert [st["name"] for st in s["stages"]] == ["build", "test"], s["stages"]
assert s["run"]["status"] == "success" and s["run"]["jobs"] == 5, s["run"]
# detailed: every attempt with its exit code; the retry is there
unit = [j for j in d["jobs"] if j["id"] == "test/unit"][0]
assert [a["exit_code"] for a in unit["attempts"]] == [7, 0], unit
assert "first attempt fails" in unit["attempts"][0]["log_tail"], unit
comp = [j for j in d["jobs"] if j["id"] == "build/compile"][0]
tail = comp["attempts"][0]["log_tail"]
assert "<script>alert(\"out\")</script>" in tail and "hunter2-secret" not in tail and "token is ***" in tail, tail
vars = {v["name"]: v for v in d["variables"]}
assert vars["TOKEN"]["value"] == "***" and vars["TOKEN"]["secret"], vars
assert vars["HOSTILE"]["value"].startswith("<script>"), vars
assert "hunter2" not in open("rep-detailed.json").read()
# performance: critical path by the job graph, lanes within -j 2
perf = p["performance"]
assert perf["critical_path"]["source"] == "pipeline", perf["critical_path"]
assert perf["critical_path"]["jobs"][0] == "build/compile", perf["critical_path"]
assert perf["lanes"] <= 2 and perf["workers"] == 2, perf
assert 0 < perf["parallel_efficiency"] <= 1.0, perf
assert all(e["queue_ms"] is not None and e["queue_ms"] >= 0 for e in perf["timeline"]), perf["timeline"]
assert len(perf["timeline"]) == 5
EOF

# ---- HTML: parsed, nothing but our own markup -----------------------------
cat >htmlcheck.py <<'EOF'
import sys
from html.parser import HTMLParser
ALLOWED = {"html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "span", "p",
           "code", "div", "b", "section", "table", "tr", "th", "td", "ul", "li", "svg", "rect", "text",
           "line", "g", "details", "summary", "pre", "footer", "i"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.bad, self.text, self.style, self.stack = [], [], [], [], []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.stack.append(tag)
        if tag not in ALLOWED:
            self.bad.append("element <%s>" % tag)
        for k, v in attrs:
            if k.startswith("on") or k in ("src", "href", "xlink:href", "srcset", "action", "formaction"):
                self.bad.append("attribute %s=%r on <%s>" % (k, v, tag))
            if v and ("javascript:" in v or "url(" in v):
                self.bad.append("attribute value %r" % v)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.stack.pop()
    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass
    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            self.style.append(data)
        else:
            self.text.append(data)
    def handle_comment(self, data):
        self.bad.append("comment <!--%s-->" % data)
    def handle_pi(self, data):
        self.bad.append("processing instruction")
for f in sys.argv[1:]:
    p = P()
    p.feed(open(f, encoding="utf-8").read())
    p.close()
    assert not p.bad, (f, p.bad)
    assert p.tags.count("style") == 1, (f, "one <style> only", p.tags.count("style"))
    css = "".join(p.style)
    for word in ("script", "onmouseover", "display:none", "alert"):
        assert word not in css, (f, "user text inside <style>", word)
    text = "".join(p.text)
    # the hostile text is shown, as text
    assert "<img src=x onerror=alert(4)>" in text, (f, "the version is not shown as text")
    if "detailed" in f:
        for s in ('<script>alert("out")</script>', '"onmouseover=alert(3)', "</style><style>body{display:none}</style>",
                  "<script>alert(1)</script> \"onmouseover=alert(2) x=\" </style><b>bold</b> & <!-- c -->"):
            assert s in text, (f, "missing as text", s)
        assert "hunter2" not in open(f).read(), (f, "secret value in the report")
print("html ok")
EOF
python3 htmlcheck.py rep-summary.html rep-detailed.html rep-performance.html || fail "unescaped markup in the HTML"
# self-contained: nothing that would fetch
for f in rep-*.html; do
	python3 -c "import sys,re; s=open(sys.argv[1]).read(); sys.exit(1 if re.search(r'https?://(?!www\.w3\.org/2000/svg)', s) or '@import' in s or '<script' in s else 0)" "$f" ||
		fail "$f refers to something outside itself"
done

# ---- text: within 80 columns ----------------------------------------------
for f in rep-*.text; do
	python3 -c "import sys; w=[l for l in open(sys.argv[1], encoding='utf-8').read().split('\n') if len(l) > 80]; sys.exit('\n'.join(w) if w else 0)" "$f" ||
		fail "$f has lines over 80 columns"
done
grep -q "hunter2" rep-detailed.text && fail "secret in the text report"
grep -q "attempt 1: failed, exit 7" rep-detailed.text || fail "no failed attempt in the detailed text: $(cat rep-detailed.text)"

# ---- runs, errors, atomic -o ----------------------------------------------
RUN=$(python3 -c "import json; print(json.load(open('rep-summary.json'))['run']['id'])")
expect_status 0 "$CDX" report rep --run "$RUN" --format text
expect_contains "run $RUN: success"
expect_status 2 "$CDX" report rep --run 20990101T000000.000Z-00000000
expect_contains "no run"
expect_status 2 "$CDX" report rep --type fancy
expect_status 2 "$CDX" report rep --format pdf
expect_status 2 "$CDX" report nosuch
echo old >keep.html
expect_status 0 "$CDX" report rep --format html -o keep.html
grep -q '<!DOCTYPE html>' keep.html || fail "-o did not replace the file"
expect_status 1 "$CDX" report rep -o "$T/no/such/dir/r.json"
expect_contains "cannot create"

# ---- $(cdx-report): the command line, run by make -------------------------
cat >Makefile <<EOF
load $CDX_SO
report: ; \$(cdx-report rep,performance,,made.html)
EOF
expect_status 0 run_make -n report
expect_contains "report 'rep' --type performance --format html -o 'made.html'"
expect_status 0 run_make report
grep -q '<svg class="gantt"' made.html || fail "make report did not write the report"

# ---- Chromium: render, one bar per job -------------------------------------
if ! command -v chromium >/dev/null 2>&1; then
	echo "chromium not installed: the rendering check is skipped" >&2
	exit 77
fi
chrome() {
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--user-data-dir="$T/chrome" --hide-scrollbars --window-size=1100,1300 "$@" 2>>chrome.log
}
chrome --screenshot="$T/perf.png" "file://$T/rep-performance.html" >/dev/null || fail "chromium failed: $(tail -5 chrome.log)"
python3 -c "import sys; d=open(sys.argv[1],'rb').read(); sys.exit(0 if d[:8]==b'\x89PNG\r\n\x1a\n' and len(d) > 10000 else 1)" perf.png ||
	fail "no PNG from chromium"
chrome --dump-dom "file://$T/rep-performance.html" >dom.html || fail "chromium --dump-dom failed"
python3 - <<'EOF' || fail "the rendered DOM has not one bar per job"
import json
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.bars, self.scripts = [], 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "rect" and "data-job" in a and "bar" in a.get("class", "").split():
            self.bars.append(a["data-job"])
        if tag == "script":
            self.scripts += 1
p = P()
p.feed(open("dom.html", encoding="utf-8").read())
ran = [e["job"] for e in json.load(open("rep-performance.json"))["performance"]["timeline"] if e["lane"] >= 0]
assert sorted(p.bars) == sorted(ran) and len(ran) == 5, (p.bars, ran)
assert p.scripts == 0
print("bars:", len(p.bars))
EOF
echo "t_report: ok"
