/* report_text.c — a report model (report.c) as plain text
 * (report.h's cdx_report_text), for a terminal or a mail.
 *
 * No line is over COLS (80) display columns: free text (job names, error
 * messages, log lines, variable values) is cut with '~' by fit(), counting
 * UTF-8 characters as one column each, and control characters other than
 * tab become '?' so that nothing in a log moves the cursor.  Durations are
 * written by fmt_ms (2.35s, 12.3s, 4m05s, 1h02m).  The sections follow the
 * model: heading, stages, errors; a detailed report's variables and
 * attempts; a performance report's critical path, jobs and a character
 * timeline; the trend of recent runs.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/text.h"
#include "base/util.h"
#include "observe/report.h"
#include "state/runs.h"

#define COLS 80

static void fmt_ms(double ms, char *buf, size_t n)
{
	if (ms >= 3600000)
		snprintf(buf, n, "%.0fh%02lldm", floor(ms / 3600000), (long long)(ms / 60000) % 60);
	else if (ms >= 60000)
		snprintf(buf, n, "%.0fm%02llds", floor(ms / 60000), (long long)(ms / 1000) % 60);
	else if (ms >= 10000)
		snprintf(buf, n, "%.1fs", ms / 1000);
	else
		snprintf(buf, n, "%.2fs", ms / 1000);
}

/* at most W display columns of S (UTF-8 aware), cut with '~' */
static void fit(struct cdx_buf *b, const char *s, size_t w, bool pad)
{
	size_t cols = 0, len = 0, total = 0;
	const unsigned char *c;
	for (c = (const unsigned char *)s; *c; c++)
		if ((*c & 0xc0) != 0x80)
			total++;
	for (c = (const unsigned char *)s; *c; c++) {
		if ((*c & 0xc0) != 0x80) {
			if (cols + 1 > w || (total > w && cols + 1 == w))
				break;
			cols++;
		}
		len++;
	}
	cdx_buf_add(b, s, len);
	if (total > w) {
		cdx_buf_addc(b, '~');
		cols++;
	}
	while (pad && cols < w) {
		cdx_buf_addc(b, ' ');
		cols++;
	}
}

/* one line of free text, cut to the width after INDENT; a tab becomes two
 * spaces, every other control is escaped (base/text.h) so that nothing
 * moves the cursor or starts a line */
static void text_line(struct cdx_buf *b, const char *indent, const char *s, size_t n)
{
	struct cdx_buf raw = {0}, l = {0};
	size_t i;
	for (i = 0; i < n; i++) {
		if (s[i] == '\t')
			cdx_buf_adds(&raw, "  ");
		else
			cdx_buf_addc(&raw, s[i]);
	}
	cdx_text_escape(&l, raw.data ? raw.data : "");
	cdx_buf_adds(b, indent);
	fit(b, l.data, COLS - strlen(indent), false);
	cdx_buf_addc(b, '\n');
	cdx_buf_free(&raw);
	cdx_buf_free(&l);
}

static void text_block(struct cdx_buf *b, const char *indent, const char *s)
{
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		text_line(b, indent, s, n);
		s += n + (nl ? 1 : 0);
	}
}

static void text_printf(struct cdx_buf *b, const char *indent, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void text_printf(struct cdx_buf *b, const char *indent, const char *fmt, ...)
{
	struct cdx_buf l = {0};
	va_list ap;
	va_start(ap, fmt);
	cdx_text_vprintf(&l, fmt, ap); /* a value with a newline stays on its line */
	va_end(ap);
	text_line(b, indent, l.data, l.len);
	cdx_buf_free(&l);
}

/* the heading: type, pipeline, run, when and by whom */
static void text_head(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *run = cJSON_GetObjectItem(m, "run");
	char d[32], w[32];
	time_t when = (time_t)(cdx_jn(run, "start_ms") / 1000);
	struct tm tm;
	localtime_r(&when, &tm);
	strftime(w, sizeof(w), "%Y-%m-%d %H:%M:%S", &tm);
	fmt_ms(cdx_jn(run, "duration_ms"), d, sizeof(d));
	text_printf(b, "", "%s report: pipeline %s", cdx_js(m, "type"), cdx_js(m, "pipeline"));
	text_printf(b, "", "run %s: %s in %s", cdx_js(run, "id"), cdx_js(run, "status"), d);
	text_printf(b, "", "started %s by %s@%s%s%s%s", w, cdx_js(run, "user"), cdx_js(run, "host"),
		    *cdx_js(run, "claimed_user") ? " (claims " : "", cdx_js(run, "claimed_user"),
		    *cdx_js(run, "claimed_user") ? ")" : "");
}

/* the stages table, then the errors when there are any */
static void text_stages(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *it;
	char d[32];
	cdx_buf_adds(b, "\nSTAGE                STATUS        JOBS    OK  FAILED  SKIPPED   DURATION\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "stages"))
	{
		fit(b, cdx_js(it, "name"), 20, true);
		cdx_buf_addc(b, ' ');
		fit(b, cdx_js(it, "status"), 12, true);
		fmt_ms(cdx_jn(it, "duration_ms"), d, sizeof(d));
		cdx_buf_printf(b, " %5.0f %5.0f %7.0f %8.0f %10s\n", cdx_jn(it, "jobs"), cdx_jn(it, "succeeded"),
			       cdx_jn(it, "failed"), cdx_jn(it, "skipped"), d);
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItem(m, "errors"))) {
		cdx_buf_adds(b, "\nERRORS\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "errors")) text_printf(b, "  ", "%s", it->valuestring);
	}
}

/* a detailed report's variables, and every job with its attempts */
static void text_detailed(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *it, *a;
	char d[32];
	if (cJSON_GetArraySize(cJSON_GetObjectItem(m, "variables"))) {
		cdx_buf_adds(b, "\nVARIABLES\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "variables"))
			text_printf(b, "  ", "%s=%s", cdx_js(it, "name"), cdx_js(it, "value"));
	}
	cdx_buf_adds(b, "\nJOBS\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "jobs"))
	{
		text_printf(b, "  ", "%s: %s", cdx_js(it, "id"), cdx_js(it, "status"));
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(it, "attempts"))
		{
			char code[48] = "";
			fmt_ms(cdx_jn(a, "wall_ms"), d, sizeof(d));
			if (cJSON_GetObjectItem(a, "exit_code"))
				snprintf(code, sizeof(code), "exit %.0f", cdx_jn(a, "exit_code"));
			else if (cJSON_GetObjectItem(a, "signal"))
				snprintf(code, sizeof(code), "signal %.0f", cdx_jn(a, "signal"));
			text_printf(b, "    ", "attempt %.0f: %s, %s, %s, cpu %.2fs, max rss %.0f KiB", cdx_jn(a, "attempt"),
				    cdx_js(a, "status"), code, d, (cdx_jn(a, "user_ms") + cdx_jn(a, "sys_ms")) / 1000,
				    cdx_jn(a, "maxrss_kb"));
			if (*cdx_js(a, "error"))
				text_printf(b, "      ", "error: %s", cdx_js(a, "error"));
			if (*cdx_js(a, "log_tail"))
				text_block(b, "      | ", cdx_js(a, "log_tail"));
		}
	}
}

/* the performance's table of jobs: lane, start, wall, queue, CPU, RSS */
static void text_job_table(struct cdx_buf *b, const cJSON *perf)
{
	const cJSON *it;
	cdx_buf_adds(b, "\n  JOB                        LANE  START   WALL    QUEUE     CPU  MAX RSS\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(perf, "timeline"))
	{
		char s1[32], s2[32], s3[32] = "-", s4[32];
		cdx_buf_adds(b, cdx_jb(it, "critical", false) ? "* " : "  ");
		fit(b, cdx_js(it, "job"), 26, true);
		fmt_ms(cdx_jn(it, "start_ms"), s1, sizeof(s1));
		fmt_ms(cdx_jn(it, "wall_ms"), s2, sizeof(s2));
		if (cJSON_IsNumber(cJSON_GetObjectItem(it, "queue_ms")))
			fmt_ms(cdx_jn(it, "queue_ms"), s3, sizeof(s3));
		fmt_ms(cdx_jn(it, "cpu_ms"), s4, sizeof(s4));
		cdx_buf_printf(b, " %4.0f %6s %6s %8s %7s %6.0fM\n", cdx_jn(it, "lane") + 1, s1, s2, s3, s4,
			       cdx_jn(it, "maxrss_kb") / 1024);
	}
}

/* the timeline in characters: 50 columns for the WALL time */
static void text_timeline(struct cdx_buf *b, const cJSON *perf, double wall)
{
	const cJSON *it;
	cdx_buf_adds(b, "\n  TIMELINE (* critical path)\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(perf, "timeline"))
	{
		int from = (int)(cdx_jn(it, "start_ms") / wall * 50), to = (int)(cdx_jn(it, "end_ms") / wall * 50), c;
		if (cdx_jn(it, "lane") < 0)
			continue;
		if (to <= from)
			to = from + 1;
		if (to > 50)
			to = 50;
		cdx_buf_adds(b, "  ");
		fit(b, cdx_js(it, "job"), 22, true);
		cdx_buf_adds(b, " |");
		for (c = 0; c < 50; c++)
			cdx_buf_addc(b, c >= from && c < to ? (cdx_jb(it, "critical", false) ? '*' : '=')
							     : ' ');
		cdx_buf_adds(b, "|\n");
	}
}

/* a performance report's efficiency, critical path, jobs and timeline */
static void text_performance(struct cdx_buf *b, const cJSON *perf)
{
	const cJSON *cp = cJSON_GetObjectItem(perf, "critical_path"), *it;
	double wall = cdx_jn(perf, "wall_ms");
	char d[32], w[32];
	int i = 0;
	fmt_ms(cdx_jn(perf, "work_ms"), d, sizeof(d));
	fmt_ms(wall, w, sizeof(w));
	cdx_buf_adds(b, "\nPERFORMANCE\n");
	if (cJSON_IsNumber(cJSON_GetObjectItem(perf, "parallel_efficiency")))
		text_printf(b, "  ", "work %s over %s wall on %.0f workers: parallel efficiency %.0f%%", d, w,
			    cdx_jn(perf, "workers"), cdx_jn(perf, "parallel_efficiency") * 100);
	fmt_ms(cdx_jn(cp, "length_ms"), d, sizeof(d));
	text_printf(b, "  ", "critical path (%s, from the %s):", d,
		    strcmp(cdx_js(cp, "source"), "pipeline") == 0 ? "job graph" : "observed times");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(cp, "jobs"))
		text_printf(b, "    ", "%s %s", i++ ? "->" : "  ", it->valuestring);
	text_job_table(b, perf);
	if (wall > 0)
		text_timeline(b, perf, wall);
}

/* the trend of recent runs as bars, when there is more than one */
static void text_trend(struct cdx_buf *b, const cJSON *m)
{
	const cJSON *it, *tr = cJSON_GetObjectItem(m, "trend");
	double max = 0;
	char d[32];
	if (cJSON_GetArraySize(tr) <= 1)
		return;
	cdx_buf_adds(b, "\nTREND (recent runs, oldest first)\n");
	cJSON_ArrayForEach(it, tr) if (cdx_jn(it, "duration_ms") > max) max = cdx_jn(it, "duration_ms");
	cJSON_ArrayForEach(it, tr)
	{
		int bar = max > 0 ? (int)(cdx_jn(it, "duration_ms") / max * 28 + 0.5) : 0, c;
		cdx_buf_adds(b, "  ");
		fit(b, cdx_js(it, "run"), 29, true);
		cdx_buf_addc(b, ' ');
		fit(b, cdx_js(it, "status"), 11, true);
		fmt_ms(cdx_jn(it, "duration_ms"), d, sizeof(d));
		cdx_buf_printf(b, " %7s ", d);
		for (c = 0; c < bar; c++)
			cdx_buf_addc(b, '#');
		cdx_buf_addc(b, '\n');
	}
}

char *cdx_report_text(const cJSON *m)
{
	struct cdx_buf b = {0};
	const cJSON *perf = cJSON_GetObjectItem(m, "performance");
	const char *type = cdx_js(m, "type");
	text_head(&b, m);
	text_stages(&b, m);
	if (strcmp(type, "detailed") == 0)
		text_detailed(&b, m);
	if (strcmp(type, "performance") == 0 && perf)
		text_performance(&b, perf);
	text_trend(&b, m);
	return cdx_buf_detach(&b);
}
