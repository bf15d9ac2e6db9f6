/* report_html.c — a report model (report.c) as one self-contained HTML page.
 *
 * The page carries everything it shows: CSS in one <style>, charts as
 * inline SVG, no script, no font, no image or anything else fetched (a
 * Content-Security-Policy of default-src 'none' says so to the browser
 * too).  Every string that comes from the model — job names, log lines,
 * variable values, messages — goes through html_text(), which escapes
 * & < > " ' and turns control characters into U+FFFD, in element content
 * and in attribute values alike; nothing from the model is ever placed
 * inside <style> or in a URL.  Numbers are formatted by printf.
 *
 * Charts: the timeline is a Gantt chart with one row per worker lane
 * (derived by report.c from start and end times) and one <rect
 * class="bar ..."> per job that ran, critical-path jobs outlined (class
 * "cp"); the trend is one bar per recent run, coloured by its status, the
 * reported run outlined.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "observe/report.h"
#include "state/runs.h"
#include "base/text.h"
#include "base/util.h"

static void html_text(struct cdx_buf *b, const char *s)
{
	cdx_text_html(b, s);
}

/* the model's string K of O, escaped */
static void esc(struct cdx_buf *b, const cJSON *o, const char *k)
{
	html_text(b, cdx_js(o, k));
}

static void fmt_ms(double ms, char *buf, size_t n)
{
	if (ms >= 3600000)
		snprintf(buf, n, "%.0fh %02lldm", floor(ms / 3600000), (long long)(ms / 60000) % 60);
	else if (ms >= 60000)
		snprintf(buf, n, "%.0fm %02llds", floor(ms / 60000), (long long)(ms / 1000) % 60);
	else if (ms >= 10000)
		snprintf(buf, n, "%.1fs", ms / 1000);
	else
		snprintf(buf, n, "%.2fs", ms / 1000);
}

/* a status word as a CSS class suffix: letters only, else "other" */
static const char *st_class(const char *st)
{
	static const char *const known[] = {"success", "failed", "timeout", "skipped", "cancelled", "running",
					    "interrupted", "incomplete"};
	size_t i;
	for (i = 0; i < CDX_ARRAY_LEN(known); i++)
		if (strcmp(st, known[i]) == 0)
			return known[i];
	return "other";
}

const char cdx_report_css[] =
	":root{--ok:#2e9e5b;--bad:#d64545;--skip:#9aa3ad;--warn:#e0a030;--ink:#1d2733;--mute:#5d6b7a;"
	"--line:#dde3ea;--bg:#f6f8fa;--cp:#1d2733}\n"
	"*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
	"'Helvetica Neue',Arial,sans-serif;color:var(--ink);background:var(--bg)}\n"
	"main{max-width:1040px;margin:0 auto;padding:24px}\n"
	"header h1{margin:0 0 4px;font-size:24px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}\n"
	"header p{margin:0;color:var(--mute)}\n"
	".badge{font-size:13px;font-weight:600;padding:2px 10px;border-radius:999px;color:#fff;"
	"background:var(--skip);text-transform:uppercase;letter-spacing:.04em}\n"
	".badge.st-success{background:var(--ok)}.badge.st-failed,.badge.st-timeout,.badge.st-interrupted"
	"{background:var(--bad)}.badge.st-running,.badge.st-incomplete{background:var(--warn)}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin:20px 0}\n"
	".card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 14px}\n"
	".card b{display:block;font-size:22px}.card span{color:var(--mute);font-size:12px;"
	"text-transform:uppercase;letter-spacing:.05em}\n"
	"section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px;margin:16px 0}\n"
	"h2{font-size:16px;margin:0 0 12px}\n"
	"table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;"
	"border-bottom:1px solid var(--line);vertical-align:top}th{font-size:12px;color:var(--mute);"
	"text-transform:uppercase;letter-spacing:.04em}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	"code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\n"
	"pre{background:#0f1720;color:#e6edf3;padding:10px;border-radius:6px;overflow:auto;max-height:320px;"
	"white-space:pre-wrap;word-break:break-all}\n"
	".st{font-weight:600}.st.st-success{color:var(--ok)}.st.st-failed,.st.st-timeout{color:var(--bad)}"
	".st.st-skipped,.st.st-cancelled{color:var(--skip)}\n"
	"ul.err{margin:0;padding-left:20px;color:var(--bad)}\n"
	"svg{display:block;width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:var(--ink)}\n"
	"svg .grid{stroke:var(--line);stroke-width:1}svg .lane{fill:var(--bg)}\n"
	"svg .bar{fill:var(--skip)}svg .bar.st-success{fill:var(--ok)}svg .bar.st-failed,"
	"svg .bar.st-timeout{fill:var(--bad)}svg .bar.st-running{fill:var(--warn)}\n"
	"svg .bar.cp{stroke:var(--cp);stroke-width:2.5}svg text.in{fill:#fff;font-weight:600}\n"
	"svg .this{stroke:var(--cp);stroke-width:2}\n"
	".legend{display:flex;gap:16px;flex-wrap:wrap;color:var(--mute);font-size:12px;margin-top:8px}\n"
	".legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:4px;"
	"vertical-align:-2px;background:var(--skip)}.legend i.ok{background:var(--ok)}.legend i.bad"
	"{background:var(--bad)}.legend i.cp{background:#fff;border:2.5px solid var(--cp)}\n"
	".cp-path{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:0 0 8px}"
	".cp-path code{background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:1px 6px}\n"
	"details{border-top:1px solid var(--line);padding:8px 0}summary{cursor:pointer}\n"
	"footer{color:var(--mute);font-size:12px;text-align:center;margin:24px 0}\n";

#define W 1000.0     /* SVG width */
#define LABEL 110.0  /* left margin for lane labels */
#define ROW 30.0     /* lane height */

static void timeline(struct cdx_buf *b, const cJSON *perf)
{
	const cJSON *tl = cJSON_GetObjectItem(perf, "timeline"), *it;
	double wall = cdx_jn(perf, "wall_ms"), span = wall, chart = W - LABEL - 20, h, step;
	int lanes = (int)cdx_jn(perf, "lanes"), l, k;
	char d[32];
	cJSON_ArrayForEach(it, tl) if (cdx_jn(it, "end_ms") > span) span = cdx_jn(it, "end_ms");
	if (span <= 0)
		span = 1;
	if (lanes < 1)
		lanes = 1;
	h = 30 + lanes * ROW + 10;
	cdx_buf_printf(b, "<svg class=\"gantt\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
			  "aria-label=\"timeline of jobs on their workers\" xmlns=\"http://www.w3.org/2000/svg\">\n",
		       W, h);
	/* time axis: about 8 ticks at round steps */
	{
		static const double steps[] = {100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000,
					       300000, 600000, 900000, 1800000, 3600000};
		size_t i;
		step = steps[CDX_ARRAY_LEN(steps) - 1];
		for (i = 0; i < CDX_ARRAY_LEN(steps); i++)
			if (span / steps[i] <= 8) {
				step = steps[i];
				break;
			}
	}
	for (l = 0; l < lanes; l++)
		cdx_buf_printf(b, "<rect class=\"lane\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
				  "<text x=\"8\" y=\"%.1f\">worker %d</text>\n",
			       LABEL, 30 + l * ROW + 2, chart, ROW - 4, 30 + l * ROW + ROW / 2 + 4, l + 1);
	for (k = 0; k * step <= span + 0.5; k++) {
		double x = LABEL + k * step / span * chart;
		fmt_ms(k * step, d, sizeof(d));
		cdx_buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"24\" x2=\"%.1f\" y2=\"%.1f\"/>"
				  "<text x=\"%.1f\" y=\"16\" text-anchor=\"middle\">%s</text>\n",
			       x, x, h - 8, x, d);
	}
	cJSON_ArrayForEach(it, tl)
	{
		double x, y, w;
		bool cp = cdx_jb(it, "critical", false);
		l = (int)cdx_jn(it, "lane");
		if (l < 0)
			continue; /* never ran: no bar */
		x = LABEL + cdx_jn(it, "start_ms") / span * chart;
		w = (cdx_jn(it, "end_ms") - cdx_jn(it, "start_ms")) / span * chart;
		if (w < 2)
			w = 2;
		y = 30 + l * ROW + 5;
		fmt_ms(cdx_jn(it, "wall_ms"), d, sizeof(d));
		cdx_buf_printf(b, "<g class=\"job\"><rect class=\"bar st-%s%s\" data-job=\"",
			       st_class(cdx_js(it, "status")), cp ? " cp" : "");
		esc(b, it, "job");
		cdx_buf_printf(b, "\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"3\"><title>", x, y, w,
			       ROW - 10);
		esc(b, it, "job");
		cdx_buf_printf(b, ": %s, %s%s</title></rect>", st_class(cdx_js(it, "status")), d,
			       cp ? ", on the critical path" : "");
		/* a label inside the bar when it fits (about 6.5 px a character) */
		if (w > 40) {
			struct cdx_buf lab = {0};
			const char *job = cdx_js(it, "job");
			size_t fitc = (size_t)((w - 8) / 6.5), len = strlen(job);
			if (len > fitc) {
				/* cut on a character boundary, mark it */
				size_t cut = fitc > 1 ? fitc - 1 : 0;
				while (cut > 0 && ((unsigned char)job[cut] & 0xc0) == 0x80)
					cut--;
				cdx_buf_add(&lab, job, cut);
				cdx_buf_adds(&lab, "\xe2\x80\xa6");
			} else {
				cdx_buf_adds(&lab, job);
			}
			cdx_buf_printf(b, "<text class=\"in\" x=\"%.1f\" y=\"%.1f\">", x + 4, y + (ROW - 10) / 2 + 4);
			html_text(b, lab.data ? lab.data : "");
			cdx_buf_adds(b, "</text>");
			cdx_buf_free(&lab);
		}
		cdx_buf_adds(b, "</g>\n");
	}
	cdx_buf_adds(b, "</svg>\n<div class=\"legend\"><span><i class=\"ok\"></i>succeeded</span><span><i "
			"class=\"bad\"></i>failed</span><span><i></i>other</span><span><i class=\"cp\"></i>critical "
			"path</span></div>\n");
}

static void trend(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *tr = cJSON_GetObjectItem(m, "trend"), *it;
	const char *this_run = cdx_js(cJSON_GetObjectItem(m, "run"), "id");
	double max = 0, h = 180, chart = W - 80, bw, x;
	int n = cJSON_GetArraySize(tr), i = 0;
	char d[32];
	cJSON_ArrayForEach(it, tr) if (cdx_jn(it, "duration_ms") > max) max = cdx_jn(it, "duration_ms");
	if (max <= 0)
		max = 1;
	bw = n ? chart / n : chart;
	cdx_buf_printf(b, "<svg class=\"trend\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"duration of "
			  "recent runs\" xmlns=\"http://www.w3.org/2000/svg\">\n",
		       W, h + 30);
	fmt_ms(max, d, sizeof(d));
	cdx_buf_printf(b, "<line class=\"grid\" x1=\"70\" y1=\"10\" x2=\"%.0f\" y2=\"10\"/><text x=\"64\" y=\"14\" "
			  "text-anchor=\"end\">%s</text>\n<line class=\"grid\" x1=\"70\" y1=\"%.0f\" x2=\"%.0f\" "
			  "y2=\"%.0f\"/><text x=\"64\" y=\"%.0f\" text-anchor=\"end\">0</text>\n",
		       W - 10, d, h + 10, W - 10, h + 10, h + 14);
	cJSON_ArrayForEach(it, tr)
	{
		double bh = cdx_jn(it, "duration_ms") / max * (h - 10);
		bool me = strcmp(cdx_js(it, "run"), this_run) == 0;
		x = 70 + i * bw + bw * 0.15;
		fmt_ms(cdx_jn(it, "duration_ms"), d, sizeof(d));
		cdx_buf_printf(b, "<rect class=\"bar st-%s%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				  "rx=\"2\"><title>",
			       st_class(cdx_js(it, "status")), me ? " this" : "", x, h + 10 - bh, bw * 0.7,
			       bh < 1 ? 1 : bh);
		esc(b, it, "run");
		cdx_buf_printf(b, ": %s, %s</title></rect>\n", st_class(cdx_js(it, "status")), d);
		i++;
	}
	cdx_buf_printf(b, "<text x=\"70\" y=\"%.0f\">oldest</text><text x=\"%.0f\" y=\"%.0f\" "
			  "text-anchor=\"end\">newest</text>\n</svg>\n",
		       h + 26, W - 10, h + 26);
}

static void card(struct cdx_buf *b, const char *label, const char *value)
{
	cdx_buf_adds(b, "<div class=\"card\"><span>");
	html_text(b, label);
	cdx_buf_adds(b, "</span><b>");
	html_text(b, value);
	cdx_buf_adds(b, "</b></div>\n");
}

static void td_ms(struct cdx_buf *b, const cJSON *o, const char *k)
{
	char d[32];
	double ms = cdx_jnd(o, k, NAN);
	if (isnan(ms)) {
		cdx_buf_adds(b, "<td class=\"n\">-</td>");
		return;
	}
	fmt_ms(ms, d, sizeof(d));
	cdx_buf_printf(b, "<td class=\"n\">%s</td>", d);
}

/* <head> with the CSS, and the <header>: pipeline, status, run, when */
static void html_head(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *run = cJSON_GetObjectItem(m, "run");
	const char *type = cdx_js(m, "type");
	char d[64], w[64];
	time_t when = (time_t)(cdx_jn(run, "start_ms") / 1000);
	struct tm tm;
	localtime_r(&when, &tm);
	strftime(w, sizeof(w), "%Y-%m-%d %H:%M:%S", &tm);
	fmt_ms(cdx_jn(run, "duration_ms"), d, sizeof(d));
	cdx_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			"style-src 'unsafe-inline'\">\n"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	esc(b, m, "pipeline");
	cdx_buf_printf(b, " — %s report — run ", type);
	esc(b, run, "id");
	cdx_buf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<header>\n<h1>", cdx_report_css);
	esc(b, m, "pipeline");
	cdx_buf_printf(b, " <span class=\"badge st-%s\">", st_class(cdx_js(run, "status")));
	esc(b, run, "status");
	cdx_buf_adds(b, "</span></h1>\n<p>run <code>");
	esc(b, run, "id");
	cdx_buf_printf(b, "</code> · started %s · %s · ", w, d);
	esc(b, run, "user");
	cdx_buf_adds(b, "@");
	esc(b, run, "host");
	if (*cdx_js(run, "version")) {
		cdx_buf_adds(b, " · version ");
		esc(b, run, "version");
	}
	cdx_buf_printf(b, " · %s report</p>\n</header>\n", type);
}

/* the cards: duration, jobs succeeded and failed, efficiency, critical path */
static void html_cards(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *run = cJSON_GetObjectItem(m, "run"), *perf = cJSON_GetObjectItem(m, "performance");
	const cJSON *bs = cJSON_GetObjectItem(run, "jobs_by_status");
	char d[64];
	cdx_buf_adds(b, "<div class=\"cards\">\n");
	fmt_ms(cdx_jn(run, "duration_ms"), d, sizeof(d));
	card(b, "duration", d);
	snprintf(d, sizeof(d), "%.0f / %.0f", cdx_jn(bs, "success"), cdx_jn(run, "jobs"));
	card(b, "jobs succeeded", d);
	snprintf(d, sizeof(d), "%.0f", cdx_jn(bs, "failed") + cdx_jn(bs, "timeout"));
	card(b, "jobs failed", d);
	if (cJSON_IsNumber(cJSON_GetObjectItem(perf, "parallel_efficiency"))) {
		snprintf(d, sizeof(d), "%.0f%% on %.0f", cdx_jn(perf, "parallel_efficiency") * 100,
			 cdx_jn(perf, "workers"));
		card(b, "parallel efficiency", d);
	}
	fmt_ms(cdx_jn(cJSON_GetObjectItem(perf, "critical_path"), "length_ms"), d, sizeof(d));
	card(b, "critical path", d);
	cdx_buf_adds(b, "</div>\n");
}

/* the errors, when there are any */
static void html_errors(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *it;
	if (!cJSON_GetArraySize(cJSON_GetObjectItem(m, "errors")))
		return;
	cdx_buf_adds(b, "<section>\n<h2>Errors</h2>\n<ul class=\"err\">\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "errors"))
	{
		cdx_buf_adds(b, "<li>");
		html_text(b, cJSON_GetStringValue(it) ? it->valuestring : "");
		cdx_buf_adds(b, "</li>\n");
	}
	cdx_buf_adds(b, "</ul>\n</section>\n");
}

/* the critical path in words, then the timeline chart */
void cdx_report_html_timeline(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *perf = cJSON_GetObjectItem(m, "performance"), *cp = cJSON_GetObjectItem(perf, "critical_path");
	const cJSON *it;
	int i = 0;
	cdx_buf_adds(b, "<section>\n<h2>Timeline</h2>\n");
	cdx_buf_adds(b, "<p class=\"cp-path\"><span>critical path");
	cdx_buf_adds(b, strcmp(cdx_js(cp, "source"), "pipeline") == 0 ? " (job graph):" : " (observed):");
	cdx_buf_adds(b, "</span>");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(cp, "jobs"))
	{
		cdx_buf_adds(b, i++ ? " → <code>" : " <code>");
		html_text(b, cJSON_GetStringValue(it) ? it->valuestring : "");
		cdx_buf_adds(b, "</code>");
	}
	cdx_buf_adds(b, "</p>\n");
	timeline(b, perf);
	cdx_buf_adds(b, "</section>\n");
}

/* the stages table */
static void html_stages(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *it;
	cdx_buf_adds(b, "<section>\n<h2>Stages</h2>\n<table>\n<tr><th>stage</th><th>status</th><th class=\"n\">jobs</th>"
			"<th class=\"n\">ok</th><th class=\"n\">failed</th><th class=\"n\">skipped</th>"
			"<th class=\"n\">duration</th></tr>\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "stages"))
	{
		cdx_buf_adds(b, "<tr><td>");
		esc(b, it, "name");
		cdx_buf_printf(b, "</td><td class=\"st st-%s\">", st_class(cdx_js(it, "status")));
		esc(b, it, "status");
		cdx_buf_printf(b, "</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f</td>"
				  "<td class=\"n\">%.0f</td>",
			       cdx_jn(it, "jobs"), cdx_jn(it, "succeeded"), cdx_jn(it, "failed"), cdx_jn(it, "skipped"));
		td_ms(b, it, "duration_ms");
		cdx_buf_adds(b, "</tr>\n");
	}
	cdx_buf_adds(b, "</table>\n</section>\n");
}

/* a performance report's table of jobs: worker, times, CPU, RSS */
static void html_perf_jobs(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *it;
	cdx_buf_adds(b, "<section>\n<h2>Jobs</h2>\n<table>\n<tr><th>job</th><th class=\"n\">worker</th>"
			"<th class=\"n\">start</th><th class=\"n\">wall</th><th class=\"n\">queue wait</th>"
			"<th class=\"n\">cpu</th><th class=\"n\">max rss</th><th class=\"n\">attempts</th></tr>\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(cJSON_GetObjectItem(m, "performance"), "timeline"))
	{
		cdx_buf_adds(b, "<tr><td>");
		if (cdx_jb(it, "critical", false))
			cdx_buf_adds(b, "<b>");
		esc(b, it, "job");
		if (cdx_jb(it, "critical", false))
			cdx_buf_adds(b, "</b>");
		if (cdx_jn(it, "lane") >= 0)
			cdx_buf_printf(b, "</td><td class=\"n\">%.0f</td>", cdx_jn(it, "lane") + 1);
		else
			cdx_buf_adds(b, "</td><td class=\"n\">-</td>");
		td_ms(b, it, "start_ms");
		td_ms(b, it, "wall_ms");
		td_ms(b, it, "queue_ms");
		td_ms(b, it, "cpu_ms");
		cdx_buf_printf(b, "<td class=\"n\">%.1f MiB</td><td class=\"n\">%.0f</td></tr>\n",
			       cdx_jn(it, "maxrss_kb") / 1024, cdx_jn(it, "attempts"));
	}
	cdx_buf_adds(b, "</table>\n</section>\n");
}

/* one attempt A as a table row, its error and log tail in a row below */
static void html_attempt(struct cdx_buf *b, const cJSON *a)
{
	char cpu[32];
	cdx_buf_printf(b, "<tr><td class=\"n\">%.0f</td><td class=\"st st-%s\">", cdx_jn(a, "attempt"),
		       st_class(cdx_js(a, "status")));
	esc(b, a, "status");
	if (cJSON_GetObjectItem(a, "exit_code"))
		cdx_buf_printf(b, "</td><td class=\"n\">%.0f</td>", cdx_jn(a, "exit_code"));
	else if (cJSON_GetObjectItem(a, "signal"))
		cdx_buf_printf(b, "</td><td class=\"n\">signal %.0f</td>", cdx_jn(a, "signal"));
	else
		cdx_buf_adds(b, "</td><td class=\"n\">-</td>");
	td_ms(b, a, "wall_ms");
	fmt_ms(cdx_jn(a, "user_ms") + cdx_jn(a, "sys_ms"), cpu, sizeof(cpu));
	cdx_buf_printf(b, "<td class=\"n\">%s</td><td class=\"n\">%.1f MiB</td></tr>\n", cpu,
		       cdx_jn(a, "maxrss_kb") / 1024);
	if (!*cdx_js(a, "error") && !*cdx_js(a, "log_tail"))
		return;
	cdx_buf_adds(b, "<tr><td colspan=\"6\">");
	if (*cdx_js(a, "error")) {
		cdx_buf_adds(b, "<p>");
		esc(b, a, "error");
		cdx_buf_adds(b, "</p>");
	}
	if (*cdx_js(a, "log_tail")) {
		cdx_buf_adds(b, "<pre>");
		esc(b, a, "log_tail");
		cdx_buf_adds(b, "</pre>");
	}
	cdx_buf_adds(b, "</td></tr>\n");
}

/* a detailed report's jobs, each with its attempts (open unless it
 * succeeded) */
static void html_attempts(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *it, *a;
	cdx_buf_adds(b, "<section>\n<h2>Jobs and attempts</h2>\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "jobs"))
	{
		const char *st = cdx_js(it, "status");
		cdx_buf_printf(b, "<details%s><summary><b>", strcmp(st, "success") == 0 ? "" : " open");
		esc(b, it, "id");
		cdx_buf_printf(b, "</b> <span class=\"st st-%s\">", st_class(st));
		esc(b, it, "status");
		cdx_buf_adds(b, "</span></summary>\n<table>\n<tr><th>attempt</th><th>status</th><th>exit</th>"
				"<th>wall</th><th>cpu</th><th>max rss</th></tr>\n");
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(it, "attempts"))
			html_attempt(b, a);
		cdx_buf_adds(b, "</table>\n</details>\n");
	}
	cdx_buf_adds(b, "</section>\n");
}

/* a detailed report's variables, when there are any */
static void html_variables(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *it;
	if (!cJSON_GetArraySize(cJSON_GetObjectItem(m, "variables")))
		return;
	cdx_buf_adds(b, "<section>\n<h2>Variables</h2>\n<table>\n<tr><th>name</th><th>value</th></tr>\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "variables"))
	{
		cdx_buf_adds(b, "<tr><td><code>");
		esc(b, it, "name");
		cdx_buf_adds(b, "</code></td><td><code>");
		esc(b, it, "value");
		cdx_buf_adds(b, cdx_jb(it, "secret", false) ? "</code> (secret)</td></tr>\n"
										 : "</code></td></tr>\n");
	}
	cdx_buf_adds(b, "</table>\n</section>\n");
}

/* the duration trend chart, when there are runs */
static void html_trend(struct cdx_buf *b, const cJSON *m)
{
	if (!cJSON_GetArraySize(cJSON_GetObjectItem(m, "trend")))
		return;
	cdx_buf_adds(b, "<section>\n<h2>Duration trend</h2>\n");
	trend(b, m);
	cdx_buf_adds(b, "</section>\n");
}

char *cdx_report_html(const cJSON *m)
{
	struct cdx_buf b = {0};
	const char *type = cdx_js(m, "type");
	html_head(&b, m);
	html_cards(&b, m);
	html_errors(&b, m);
	cdx_report_html_timeline(&b, m);
	html_stages(&b, m);
	if (strcmp(type, "performance") == 0)
		html_perf_jobs(&b, m);
	if (strcmp(type, "detailed") == 0) {
		html_attempts(&b, m);
		html_variables(&b, m);
	}
	html_trend(&b, m);
	cdx_buf_printf(&b, "<footer>generated by cdx %s</footer>\n</main>\n</body>\n</html>\n", CDX_VERSION);
	return cdx_buf_detach(&b);
}
