/* pages.c — cdx serve's HTML pages, rendered on the server.
 *
 * Each page is the JSON of its /api/ twin (api.c) laid out: the same
 * builders, so a page cannot show what the API does not say.  Every value
 * from the store goes through cdx_text_html (base/text.h) and nowhere else
 * than element content or a quoted attribute; URLs are built from names
 * that passed cdx_name_valid only.  The pages load one style sheet and one
 * script of our own (/static/, assets.c); the script follows /events and
 * swaps the parts marked data-swap with a fresh copy of the page, so that
 * a page stays live without a reload, and streams job logs.
 */
#include <ctype.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/text.h"
#include "observe/report.h"
#include "base/json.h"
#include "serve/http.h"

static void H(struct cdx_buf *b, const char *s)
{
	cdx_text_html(b, s ? s : "");
}

static void when(struct cdx_buf *b, double ms)
{
	char w[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0) {
		cdx_buf_adds(b, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(w, sizeof(w), "%Y-%m-%d %H:%M:%S", &tm);
	cdx_buf_adds(b, w);
}

static void dur(struct cdx_buf *b, const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	if (!cJSON_IsNumber(v))
		cdx_buf_adds(b, "-");
	else if (v->valuedouble >= 60000)
		cdx_buf_printf(b, "%.0fm %02.0fs", floor(v->valuedouble / 60000),
			       fmod(v->valuedouble / 1000, 60));
	else
		cdx_buf_printf(b, "%.2fs", v->valuedouble / 1000);
}

/* a status word as a class: letters only */
static const char *st(const char *s)
{
	static const char *const known[] = {"success", "failed",      "timeout",     "skipped", "cancelled",
					    "running", "interrupted", "incomplete",  "healthy", "degraded",
					    "failing", "succeeded",   "rolled_back", "pending", "paused"};
	size_t i;
	for (i = 0; i < CDX_ARRAY_LEN(known); i++)
		if (s && strcmp(s, known[i]) == 0)
			return known[i];
	return "other";
}

static void badge(struct cdx_buf *b, const char *status)
{
	cdx_buf_printf(b, "<span class=\"badge st-%s\">", st(status));
	H(b, status);
	cdx_buf_adds(b, "</span>");
}

/* a scalar as text */
/* S for a URL's query, every byte but the unreserved ones as %XX */
static void url_q(struct cdx_buf *b, const char *s)
{
	for (; *s; s++)
		if (isalnum((unsigned char)*s) || strchr("-._~/", *s))
			cdx_buf_addc(b, *s);
		else
			cdx_buf_printf(b, "%%%02X", (unsigned char)*s);
}

/* the files job JOB of run RUN kept, each a download link (the first 50) */
static void artifact_links(struct srv_req *q, struct cdx_buf *b, const char *run, const char *job)
{
	struct cdx_error err = {0};
	cJSON *files = srv_api_artifacts(q->srv, run, job, &err);
	const cJSON *f;
	int n = 0;
	if (!files) {
		H(b, err.msg);
		return;
	}
	cJSON_ArrayForEach(f, files)
	{
		if (++n > 50) {
			cdx_buf_printf(b, "… %d files in all", cJSON_GetArraySize(files));
			break;
		}
		cdx_buf_adds(b, "<a download href=\"/api/runs/");
		H(b, run);
		cdx_buf_adds(b, "/artifacts/");
		H(b, job);
		cdx_buf_adds(b, "?path=");
		{
			struct cdx_buf u = {0};
			url_q(&u, cdx_js(f, "path"));
			H(b, u.data ? u.data : "");
			cdx_buf_free(&u);
		}
		cdx_buf_adds(b, "\">");
		H(b, cdx_js(f, "path"));
		cdx_buf_adds(b, "</a><br>");
	}
	cJSON_Delete(files);
}

static void scalar(struct cdx_buf *b, const cJSON *v)
{
	if (cJSON_IsString(v))
		H(b, v->valuestring);
	else if (cJSON_IsNumber(v))
		cdx_buf_printf(b, "%.15g", v->valuedouble);
	else if (cJSON_IsBool(v))
		cdx_buf_adds(b, cJSON_IsTrue(v) ? "yes" : "no");
	else if (v && !cJSON_IsNull(v)) {
		char *s = cJSON_PrintUnformatted(v);
		cdx_buf_adds(b, "<code>");
		H(b, s);
		cdx_buf_adds(b, "</code>");
		free(s);
	} else
		cdx_buf_adds(b, "-");
}

/* the members of O as a two-column table */
static void kv_table(struct cdx_buf *b, const cJSON *o)
{
	const cJSON *it;
	cdx_buf_adds(b, "<table class=\"kv\">");
	cJSON_ArrayForEach(it, o)
	{
		cdx_buf_adds(b, "<tr><th>");
		H(b, it->string);
		cdx_buf_adds(b, "</th><td>");
		if (it->string && strstr(it->string, "_ms") && cJSON_IsNumber(it) && it->valuedouble > 1e12)
			when(b, it->valuedouble);
		else
			scalar(b, it);
		cdx_buf_adds(b, "</td></tr>");
	}
	cdx_buf_adds(b, "</table>\n");
}

/* the objects of ARR as a table with columns KEYS (NULL-ended) */
static void arr_table(struct cdx_buf *b, const cJSON *arr, const char *const *keys)
{
	const cJSON *it;
	size_t i;
	if (!cJSON_GetArraySize(arr)) {
		cdx_buf_adds(b, "<p class=\"mute\">none</p>\n");
		return;
	}
	cdx_buf_adds(b, "<table><tr>");
	for (i = 0; keys[i]; i++) {
		cdx_buf_adds(b, "<th>");
		H(b, keys[i]);
		cdx_buf_adds(b, "</th>");
	}
	cdx_buf_adds(b, "</tr>\n");
	cJSON_ArrayForEach(it, arr)
	{
		cdx_buf_adds(b, "<tr>");
		for (i = 0; keys[i]; i++) {
			const cJSON *v = cJSON_GetObjectItem(it, keys[i]);
			cdx_buf_adds(b, "<td>");
			if (strcmp(keys[i], "status") == 0 || strcmp(keys[i], "state") == 0)
				badge(b, cJSON_GetStringValue(v));
			else if (strstr(keys[i], "_ms") && cJSON_IsNumber(v) && v->valuedouble > 1e12)
				when(b, v->valuedouble);
			else if (strstr(keys[i], "_ms"))
				dur(b, it, keys[i]);
			else
				scalar(b, v);
			cdx_buf_adds(b, "</td>");
		}
		cdx_buf_adds(b, "</tr>\n");
	}
	cdx_buf_adds(b, "</table>\n");
}

static void page_start(struct srv_req *q, struct cdx_buf *b, const char *title, const char *events)
{
	char csrf[80];
	const char *tok = srv_auth_csrf(q, csrf, sizeof(csrf));
	cdx_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	H(b, title);
	cdx_buf_adds(b, " — cdx</title>\n<link rel=\"stylesheet\" href=\"/static/cdx.css\">\n"
			"<script src=\"/static/cdx.js\" defer></script>\n");
	if (tok) {
		cdx_buf_adds(b, "<meta name=\"cdx-csrf\" content=\"");
		H(b, tok);
		cdx_buf_adds(b, "\">\n");
	}
	cdx_buf_adds(b, "</head>\n<body data-events=\"");
	H(b, events);
	cdx_buf_adds(
	    b,
	    "\">\n<nav><b>cdx</b> <a href=\"/\">runs</a> <a href=\"/deployments\">deployments</a> "
	    "<a href=\"/workers\">workers</a> <a href=\"/alerts\">alerts</a> <a href=\"/metrics\">metrics</a>"
	    "<span class=\"who\">");
	if (!q->srv->auth)
		cdx_buf_adds(b, "<span class=\"ro\">read-only: started without --token-file</span>");
	else if (tok)
		cdx_buf_adds(b, "<form method=\"post\" action=\"/logout\"><button type=\"submit\">log "
				"out</button></form>");
	else
		cdx_buf_adds(b, "<a href=\"/login\">log in</a> to act");
	cdx_buf_adds(b, "</span> <span id=\"live-state\" class=\"mute\"></span></nav>\n<main>\n<h1>");
	H(b, title);
	cdx_buf_adds(b, "</h1>\n<p id=\"flash\" class=\"flash\" hidden></p>\n");
}

static void page_end(struct srv_reply *r, struct cdx_buf *b)
{
	cdx_buf_adds(b, "</main>\n</body>\n</html>\n");
	r->status = 200;
	r->type = "text/html; charset=utf-8";
	r->body = *b;
}

static void page_error(struct srv_req *q, struct srv_reply *r, const char *title, const struct cdx_error *err)
{
	struct cdx_buf b = {0};
	page_start(q, &b, title, "/events");
	cdx_buf_adds(&b, "<section><p class=\"bad\">");
	H(&b, err->msg);
	cdx_buf_adds(&b, "</p></section>\n");
	page_end(r, &b);
	r->status = err->code == CDX_EUSAGE ? 404 : 503;
}

/* an action button: the script POSTs to URL with the CSRF token */
static void button(struct srv_req *q, struct cdx_buf *b, const char *url, const char *label,
		   const char *confirm)
{
	bool can = q->srv->auth != NULL;
	cdx_buf_adds(b, "<button class=\"act\" data-action=\"");
	H(b, url);
	cdx_buf_adds(b, "\" data-confirm=\"");
	H(b, confirm);
	cdx_buf_printf(b, "\"%s>", can ? "" : " disabled title=\"read-only\"");
	H(b, label);
	cdx_buf_adds(b, "</button> ");
}

/* ---- / : the runs ------------------------------------------------------ */

static void runs_table(struct cdx_buf *b, const cJSON *runs, bool running)
{
	const cJSON *r;
	int n = 0;
	cdx_buf_adds(
	    b,
	    "<table class=\"runs\"><tr><th>run</th><th>pipeline</th><th>status</th><th>started</th>"
	    "<th>by</th><th class=\"n\">duration</th><th class=\"n\">jobs ok/failed/skipped of</th></tr>\n");
	for (r = runs ? runs->child : NULL; r; r = r->next) {
		bool is_running = strcmp(cdx_js(r, "status"), "running") == 0;
		if (is_running != running)
			continue;
		n++;
		cdx_buf_adds(b, "<tr data-run=\"");
		H(b, cdx_js(r, "id"));
		cdx_buf_adds(b, "\"><td><a href=\"/runs/");
		H(b, cdx_js(r, "id"));
		cdx_buf_adds(b, "\">");
		H(b, cdx_js(r, "id"));
		cdx_buf_adds(b, "</a></td><td><a href=\"/pipelines/");
		H(b, cdx_js(r, "pipeline"));
		cdx_buf_adds(b, "\">");
		H(b, cdx_js(r, "pipeline"));
		cdx_buf_adds(b, "</a></td><td>");
		badge(b, cdx_js(r, "status"));
		cdx_buf_adds(b, "</td><td>");
		when(b, cdx_jn(r, "start_ms"));
		cdx_buf_adds(b, "</td><td>");
		H(b, cdx_js(r, "user"));
		cdx_buf_adds(b, "@");
		H(b, cdx_js(r, "host"));
		cdx_buf_adds(b, "</td><td class=\"n\">");
		dur(b, r, "duration_ms");
		cdx_buf_printf(b, "</td><td class=\"n\">%.0f/%.0f/%.0f of %.0f</td></tr>\n",
			       cdx_jn(r, "jobs_success"), cdx_jn(r, "jobs_failed"), cdx_jn(r, "jobs_skipped"),
			       cdx_jn(r, "job_count"));
	}
	cdx_buf_adds(b, "</table>\n");
	if (!n)
		cdx_buf_adds(b, running ? "<p class=\"mute\">nothing is running</p>\n"
					: "<p class=\"mute\">no runs</p>\n");
}

static void page_runs(struct srv_req *q, struct srv_reply *r)
{
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	cJSON *runs = srv_api_runs(q->srv, NULL, 100, &err);
	if (!runs) {
		page_error(q, r, "runs", &err);
		return;
	}
	/* newest first, as cdx_runs_list gives them */
	page_start(q, &b, "runs", "/events");
	cdx_buf_adds(&b, "<div id=\"runs\" data-swap>\n<section><h2>running now</h2>\n");
	runs_table(&b, runs, true);
	cdx_buf_adds(&b, "</section>\n<section><h2>recent</h2>\n");
	runs_table(&b, runs, false);
	cdx_buf_adds(&b, "</section>\n</div>\n");
	cJSON_Delete(runs);
	page_end(r, &b);
}

/* ---- /runs/RUN ------------------------------------------------------------ */

/* the jobs of RUN that have a log: LOG_DIR/RUN/STAGE/JOB.N.log */
static void run_logs(struct srv_req *q, struct cdx_buf *b, const char *run, const cJSON *jobs)
{
	char *dir = cdx_xasprintf("%s/%s", q->srv->log_dir, run);
	DIR *d = opendir(dir), *d2;
	struct dirent *de, *je;
	cdx_buf_adds(b, "<section id=\"logs\"><h2>logs</h2>\n");
	while (d && (de = readdir(d))) {
		char *sd;
		if (!cdx_name_valid(de->d_name))
			continue;
		sd = cdx_xasprintf("%s/%s", dir, de->d_name);
		d2 = opendir(sd);
		while (d2 && (je = readdir(d2))) {
			char job[256], id[600];
			char *dot = strchr(je->d_name, '.');
			const cJSON *j;
			const char *status = "running";
			size_t jl = dot ? (size_t)(dot - je->d_name) : 0;
			if (!dot || jl >= sizeof(job) || strcmp(dot, ".1.log") != 0)
				continue; /* one pane a job: its newest attempt streams */
			memcpy(job, je->d_name, jl);
			job[jl] = '\0';
			if (!cdx_name_valid(job))
				continue;
			snprintf(id, sizeof(id), "%s/%s", de->d_name, job);
			cJSON_ArrayForEach(j, jobs) if (strcmp(cdx_js(j, "id"), id) == 0) status =
			    cdx_js(j, "status");
			cdx_buf_printf(b, "<details class=\"log\"%s><summary>",
				       strcmp(status, "running") == 0 ? " open" : "");
			H(b, id);
			cdx_buf_adds(b, " ");
			badge(b, status);
			cdx_buf_adds(b, "</summary><pre data-log=\"/events/log/");
			H(b, run);
			cdx_buf_adds(b, "/");
			H(b, de->d_name);
			cdx_buf_adds(b, "/");
			H(b, job);
			cdx_buf_adds(b, "\"></pre></details>\n");
		}
		if (d2)
			closedir(d2);
		free(sd);
	}
	if (d)
		closedir(d);
	free(dir);
	cdx_buf_adds(b, "</section>\n");
}

static void page_run(struct srv_req *q, struct srv_reply *r, const char *id)
{
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	char *ev, *rep;
	const cJSON *j, *a;
	cJSON *run = srv_api_run(q->srv, id, &err);
	if (!run) {
		page_error(q, r, "run", &err);
		return;
	}
	ev = cdx_xasprintf("/events?run=%s", id);
	page_start(q, &b, cdx_js(run, "id"), ev);
	free(ev);
	cdx_buf_adds(&b, "<div id=\"summary\" data-swap><p>pipeline <a href=\"/pipelines/");
	H(&b, cdx_js(run, "pipeline"));
	cdx_buf_adds(&b, "\">");
	H(&b, cdx_js(run, "pipeline"));
	cdx_buf_adds(&b, "</a> ");
	badge(&b, cdx_js(run, "status"));
	cdx_buf_adds(&b, " started ");
	when(&b, cdx_jn(run, "start_ms"));
	cdx_buf_adds(&b, " by ");
	H(&b, cdx_js(run, "user"));
	cdx_buf_adds(&b, "@");
	H(&b, cdx_js(run, "host"));
	cdx_buf_adds(&b, " · took ");
	dur(&b, run, "duration_ms");
	cdx_buf_adds(&b, " <a href=\"/api/runs/");
	H(&b, id);
	cdx_buf_adds(&b, "\">json</a> ");
	if (strcmp(cdx_js(run, "status"), "running") == 0) {
		char *u = cdx_xasprintf("/api/runs/%s/cancel", id);
		button(q, &b, u, "cancel", "cancel this run?");
		free(u);
	}
	cdx_buf_adds(&b, "</p></div>\n<div id=\"gantt\" data-swap>");
	rep = cdx_report_generate(q->srv->state, cdx_js(run, "pipeline"), id, "performance", "json", &err);
	if (rep) {
		cJSON *m = cJSON_Parse(rep);
		if (m)
			cdx_report_html_timeline(&b, m);
		cJSON_Delete(m);
		free(rep);
	}
	cdx_buf_adds(&b,
		     "</div>\n<div id=\"jobs\" data-swap><section><h2>jobs</h2>\n<table><tr><th>job</th>"
		     "<th>status</th><th>attempts</th><th>outputs</th><th>artifacts</th><th></th></tr>\n");
	cJSON_ArrayForEach(j, cJSON_GetObjectItem(run, "jobs"))
	{
		const cJSON *last = NULL, *x;
		cdx_buf_adds(&b, "<tr><td>");
		H(&b, cdx_js(j, "id"));
		cdx_buf_adds(&b, "</td><td>");
		badge(&b, cdx_js(j, "status"));
		cdx_buf_adds(&b, "</td><td>");
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "attempts"))
		{
			last = a;
			cdx_buf_printf(&b, "#%.0f ", cdx_jn(a, "attempt"));
			badge(&b, cdx_js(a, "status"));
			cdx_buf_adds(&b, " ");
			dur(&b, a, "wall_ms");
			if (cJSON_GetObjectItem(a, "exit_code"))
				cdx_buf_printf(&b, " exit %.0f", cdx_jn(a, "exit_code"));
			cdx_buf_adds(&b, "<br>");
		}
		cdx_buf_adds(&b, "</td><td>");
		x = last ? cJSON_GetObjectItem(last, "outputs") : NULL;
		if (!x)
			x = cJSON_GetObjectItem(j, "outputs");
		scalar(&b, x);
		cdx_buf_adds(&b, "</td><td>");
		x = last ? cJSON_GetObjectItem(last, "artifacts") : NULL;
		if (!x)
			x = cJSON_GetObjectItem(j, "artifacts");
		if (cJSON_IsObject(x) && !cJSON_GetObjectItem(x, "error"))
			artifact_links(q, &b, id, cdx_js(j, "id"));
		else
			scalar(&b, x);
		cdx_buf_adds(&b, "</td><td>");
		if (strcmp(cdx_js(j, "status"), "manual") == 0) {
			char *u = cdx_xasprintf("/api/runs/%s/jobs/%s/play", id, cdx_js(j, "id"));
			button(q, &b, u, "play", "start this job?");
			free(u);
		}
		cdx_buf_adds(&b, "</td></tr>\n");
	}
	cdx_buf_adds(&b, "</table></section></div>\n");
	run_logs(q, &b, id, cJSON_GetObjectItem(run, "jobs"));
	cJSON_Delete(run);
	page_end(r, &b);
}

/* ---- /pipelines/NAME ------------------------------------------------------ */

/* a bar per run: its duration, coloured by status */
static void duration_chart(struct cdx_buf *b, const cJSON *runs)
{
	const cJSON *it;
	double max = 1, x = 0;
	int n = cJSON_GetArraySize(runs);
	double w = n ? 600.0 / n : 600;
	cJSON_ArrayForEach(it, runs) if (cdx_jn(it, "duration_ms") > max) max = cdx_jn(it, "duration_ms");
	cdx_buf_adds(b,
		     "<svg class=\"trend\" viewBox=\"0 0 600 120\" role=\"img\" aria-label=\"duration of the "
		     "recent runs\" xmlns=\"http://www.w3.org/2000/svg\">");
	cJSON_ArrayForEach(it, runs)
	{
		double h = cdx_jn(it, "duration_ms") / max * 110;
		cdx_buf_printf(
		    b,
		    "<rect class=\"bar st-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>",
		    st(cdx_js(it, "status")), x + 1, 115 - h, w > 3 ? w - 2 : 1, h);
		H(b, cdx_js(it, "id"));
		cdx_buf_adds(b, ": ");
		H(b, cdx_js(it, "status"));
		cdx_buf_adds(b, "</title></rect>");
		x += w;
	}
	cdx_buf_adds(b, "</svg>\n");
}

static void page_pipeline(struct srv_req *q, struct srv_reply *r, const char *name)
{
	static const char *const flaky[] = {"job", "runs", "failing", "flips", "passed_on_retry", NULL};
	static const char *const slow[] = {"job", "runs", "duration_ms", "slowdown", NULL};
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	cJSON *h = srv_api_pipeline(q->srv, name, &err), *runs, *sc = cJSON_CreateObject();
	const cJSON *it;
	double ok = 0, fin = 0;
	if (!h) {
		cJSON_Delete(sc);
		page_error(q, r, name, &err);
		return;
	}
	runs = srv_api_runs(q->srv, name, 50, &err);
	page_start(q, &b, name, "/events");
	cdx_buf_adds(&b, "<div id=\"health\" data-swap><section><h2>health ");
	badge(&b, cdx_js(h, "status"));
	cdx_buf_adds(&b, "</h2>\n<ul>");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(h, "reasons"))
	{
		cdx_buf_adds(&b, "<li>");
		scalar(&b, it);
		cdx_buf_adds(&b, "</li>");
	}
	cdx_buf_adds(&b, "</ul>\n");
	cJSON_ArrayForEach(it, runs) if (strcmp(cdx_js(it, "status"), "running") != 0)
	{
		fin++;
		ok += strcmp(cdx_js(it, "status"), "success") == 0;
	}
	cdx_buf_printf(&b,
		       "<div class=\"cards\"><div class=\"card\"><b>%.0f%%</b><span>success rate, last %.0f "
		       "runs</span></div>",
		       fin ? ok * 100 / fin : 0, fin);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(h, "duration_ms"))
	{
		if (!cJSON_IsNumber(it))
			continue;
		cdx_buf_adds(&b, "<div class=\"card\"><b>");
		dur(&b, cJSON_GetObjectItem(h, "duration_ms"), it->string);
		cdx_buf_adds(&b, "</b><span>");
		H(&b, it->string);
		cdx_buf_adds(&b, " duration</span></div>");
	}
	cdx_buf_adds(&b, "</div>\n<h2>duration trend</h2>\n");
	{
		/* oldest to newest, left to right */
		cJSON *chrono = cJSON_CreateArray();
		const cJSON *x;
		for (x = cJSON_GetArrayItem(runs, cJSON_GetArraySize(runs) - 1); x;
		     x = x == runs->child ? NULL : x->prev)
			cJSON_AddItemToArray(chrono, cJSON_Duplicate(x, 1));
		duration_chart(&b, chrono);
		cJSON_Delete(chrono);
	}
	cJSON_ArrayForEach(it, h) if (!cJSON_IsObject(it) && !cJSON_IsArray(it))
	    cJSON_AddItemToObject(sc, it->string, cJSON_Duplicate(it, 0));
	kv_table(&b, sc);
	kv_table(&b, cJSON_GetObjectItem(h, "trend"));
	cdx_buf_adds(&b, "</section>\n<section><h2>flaky jobs</h2>\n");
	arr_table(&b, cJSON_GetObjectItem(h, "flaky_jobs"), flaky);
	cdx_buf_adds(&b, "</section>\n<section><h2>slowest jobs</h2>\n");
	arr_table(&b, cJSON_GetObjectItem(h, "slowest_jobs"), slow);
	cdx_buf_adds(&b, "</section>\n<section><h2>runs</h2>\n");
	runs_table(&b, runs, true);
	runs_table(&b, runs, false);
	cdx_buf_adds(&b, "</section></div>\n");
	cJSON_Delete(sc);
	cJSON_Delete(runs);
	cJSON_Delete(h);
	page_end(r, &b);
}

/* ---- /deployments ----------------------------------------------------------- */

static const char *const dep_cols[] = {"id",       "kind",     "app",         "env",  "version",
				       "previous", "strategy", "state",       "user", "host",
				       "reason",   "start_ms", "duration_ms", NULL};

static void page_deployments(struct srv_req *q, struct srv_reply *r)
{
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	cJSON *arr = srv_api_deployments(q->srv, &err), *seen, *rev;
	const cJSON *it;
	if (!arr) {
		page_error(q, r, "deployments", &err);
		return;
	}
	seen = cJSON_CreateObject();
	rev = cJSON_CreateArray();
	page_start(q, &b, "deployments", "/events");
	cdx_buf_adds(
	    &b, "<div id=\"deps\" data-swap><section><h2>what serves where</h2>\n<table><tr><th>application"
		"</th><th>environment</th><th>version</th><th>state</th><th>since</th></tr>\n");
	for (it = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1); it;
	     it = it == arr->child ? NULL : it->prev) {
		char key[200];
		cJSON_AddItemToArray(rev, cJSON_Duplicate(it, 1));
		snprintf(key, sizeof(key), "%s/%s", cdx_js(it, "app"), cdx_js(it, "env"));
		if (cJSON_GetObjectItem(seen, key) || !cdx_name_valid(cdx_js(it, "app")) ||
		    !cdx_name_valid(cdx_js(it, "env")))
			continue;
		cJSON_AddTrueToObject(seen, key);
		cdx_buf_adds(&b, "<tr><td>");
		H(&b, cdx_js(it, "app"));
		cdx_buf_adds(&b, "</td><td><a href=\"/deployments/");
		H(&b, cdx_js(it, "app"));
		cdx_buf_adds(&b, "/");
		H(&b, cdx_js(it, "env"));
		cdx_buf_adds(&b, "\">");
		H(&b, cdx_js(it, "env"));
		cdx_buf_adds(&b, "</a></td><td>");
		H(&b, cdx_jsn(it, "serving") ? cdx_js(it, "serving") : cdx_js(it, "version"));
		cdx_buf_adds(&b, "</td><td>");
		badge(&b, cdx_js(it, "state"));
		cdx_buf_adds(&b, "</td><td>");
		when(&b, cdx_jn(it, "start_ms"));
		cdx_buf_adds(&b, "</td></tr>\n");
	}
	cdx_buf_adds(&b, "</table></section>\n<section><h2>history</h2>\n");
	arr_table(&b, rev, dep_cols);
	cdx_buf_adds(&b, "</section></div>\n");
	cJSON_Delete(seen);
	cJSON_Delete(rev);
	cJSON_Delete(arr);
	page_end(r, &b);
}

static bool final_state(const char *s)
{
	static const char *const fin[] = {
	    "succeeded", "success",   "failed", "rolled_back", "rollback_failed", "aborted",
	    "done",      "completed", "live",   "frozen",      "cancelled"};
	size_t i;
	for (i = 0; i < CDX_ARRAY_LEN(fin); i++)
		if (strcmp(s, fin[i]) == 0)
			return true;
	return false;
}

static void page_environment(struct srv_req *q, struct srv_reply *r, const char *app, const char *env)
{
	static const char *const tr_cols[] = {"state", "at_ms", "msg", "serving", NULL};
	static const char *const ck_cols[] = {"target", "kind", "ok", "detail", "at_ms", NULL};
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	cJSON *hist = srv_api_environment(q->srv, app, env, &err), *rev;
	const cJSON *it, *last;
	struct cdx_orchestrator *o = NULL;
	char title[200], *u;
	if (!hist) {
		page_error(q, r, "deployments", &err);
		return;
	}
	snprintf(title, sizeof(title), "%s / %s", app, env);
	page_start(q, &b, title, "/events");
	cdx_buf_adds(&b, "<div id=\"env\" data-swap><section><h2>serving</h2>\n");
	if (cdx_orchestrator_open(q->srv->config, q->srv->state, &o, &err) == 0) {
		char *cur = cdx_current_version(o, app, env, &err);
		cJSON *cfg = cdx_environment_config(o, app, env, &err);
		cdx_buf_adds(&b, "<p>version <b class=\"serving\">");
		H(&b, cur ? cur : "(nothing)");
		cdx_buf_adds(&b, "</b></p>\n");
		if (cfg) {
			cdx_buf_adds(&b, "<details><summary>environment (slots, instances, hosts)</summary>");
			kv_table(&b, cfg);
			cdx_buf_adds(&b, "</details>\n");
		}
		free(cur);
		cJSON_Delete(cfg);
	}
	last = cJSON_GetArrayItem(hist, cJSON_GetArraySize(hist) - 1);
	if (last && o) {
		cJSON *d = cdx_deployment_status(o, cdx_js(last, "id"), &err);
		cJSON *trs = cJSON_GetObjectItem(d, "transitions");
		const cJSON *sv =
		    cJSON_GetObjectItem(cJSON_GetArrayItem(trs, cJSON_GetArraySize(trs) - 1), "serving");
		if (sv) {
			cdx_buf_adds(&b, "<h3>what serves where</h3>\n");
			kv_table(&b, sv);
		}
		cJSON_Delete(d);
	}
	if (last && !final_state(cdx_js(last, "state")) && o) {
		cJSON *d = cdx_deployment_status(o, cdx_js(last, "id"), &err);
		const cJSON *t, *weight = NULL;
		cdx_buf_adds(&b, "</section>\n<section class=\"progress\"><h2>in progress: ");
		H(&b, cdx_js(last, "kind"));
		cdx_buf_adds(&b, " of ");
		H(&b, cdx_js(last, "version"));
		cdx_buf_adds(&b, " ");
		badge(&b, cdx_js(last, "state"));
		cdx_buf_adds(&b, "</h2>\n");
		cJSON_ArrayForEach(t, cJSON_GetObjectItem(d, "transitions"))
		{
			const cJSON *sv = cJSON_GetObjectItem(t, "serving");
			weight = cJSON_GetObjectItem(sv, "weight");
		}
		if (weight) {
			cdx_buf_adds(&b, "<p>canary weight <b class=\"weight\">");
			scalar(&b, weight);
			cdx_buf_printf(&b, "%%</b></p><div class=\"meter\"><i data-w=\"%.0f\"></i></div>\n",
				       cJSON_IsNumber(weight) ? weight->valuedouble : 0);
		}
		u = cdx_xasprintf("/api/deployments/%s/%s/promote", app, env);
		button(q, &b, u, "promote", "promote this deployment now?");
		free(u);
		u = cdx_xasprintf("/api/deployments/%s/%s/abort", app, env);
		button(q, &b, u, "abort", "abort this deployment and roll back?");
		free(u);
		cdx_buf_adds(&b, "<h3>transitions</h3>\n");
		arr_table(&b, cJSON_GetObjectItem(d, "transitions"), tr_cols);
		cdx_buf_adds(&b, "<h3>checks and analysis</h3>\n");
		arr_table(&b, cJSON_GetObjectItem(d, "checks"), ck_cols);
		cJSON_Delete(d);
	} else {
		u = cdx_xasprintf("/api/deployments/%s/%s/rollback", app, env);
		button(q, &b, u, "roll back", "roll back to the previous good version?");
		free(u);
	}
	cdx_orchestrator_free(o);
	cdx_buf_adds(&b, "</section>\n<section><h2>history</h2>\n");
	rev = cJSON_CreateArray();
	for (it = last; it; it = it->prev) {
		cJSON_AddItemToArray(rev, cJSON_Duplicate(it, 1));
		if (it == hist->child)
			break;
	}
	arr_table(&b, rev, dep_cols);
	cdx_buf_adds(&b, "</section></div>\n");
	cJSON_Delete(rev);
	cJSON_Delete(hist);
	page_end(r, &b);
}

/* ---- /workers, /alerts ------------------------------------------------------ */

static void page_workers(struct srv_req *q, struct srv_reply *r)
{
	static const char *const cols[] = {"name",   "host", "slots", "busy", "last_heartbeat_ms",
					   "status", NULL};
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	cJSON *w = srv_api_workers(q->srv, &err);
	page_start(q, &b, "workers", "/events");
	cdx_buf_adds(&b, "<div id=\"workers\" data-swap><section>\n");
	if (!w) {
		cdx_buf_adds(&b, "<p class=\"mute\">");
		H(&b, err.msg);
		cdx_buf_adds(&b, "</p>\n");
	} else {
		arr_table(&b, cJSON_IsArray(w) ? w : cJSON_GetObjectItem(w, "workers"), cols);
	}
	cdx_buf_adds(&b, "</section></div>\n");
	cJSON_Delete(w);
	page_end(r, &b);
}

static void page_alerts(struct srv_req *q, struct srv_reply *r)
{
	static const char *const cols[] = {"kind", "alert", "subject", "at_ms", "delivery", "message", NULL};
	struct cdx_error err = {0};
	struct cdx_buf b = {0};
	cJSON *a = srv_api_alerts(q->srv, &err), *rev;
	const cJSON *it;
	if (!a) {
		page_error(q, r, "alerts", &err);
		return;
	}
	page_start(q, &b, "alerts", "/events");
	cdx_buf_adds(&b, "<div id=\"alerts\" data-swap><section><h2>open</h2>\n");
	arr_table(&b, cJSON_GetObjectItem(a, "open"), cols);
	cdx_buf_adds(&b, "</section>\n<section><h2>opened and resolved, newest first</h2>\n");
	rev = cJSON_CreateArray();
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "events"),
				cJSON_GetArraySize(cJSON_GetObjectItem(a, "events")) - 1);
	for (; it; it = it->prev) {
		cJSON_AddItemToArray(rev, cJSON_Duplicate(it, 1));
		if (it == cJSON_GetObjectItem(a, "events")->child)
			break;
	}
	arr_table(&b, rev, cols);
	cdx_buf_adds(&b, "</section></div>\n");
	cJSON_Delete(rev);
	cJSON_Delete(a);
	page_end(r, &b);
}

bool srv_pages_route(struct srv_req *q, struct srv_reply *r)
{
	size_t n = q->n_seg;
	if (n == 2 && strcmp(q->seg[0], "static") == 0) {
		r->status = 200;
		if (strcmp(q->seg[1], "cdx.js") == 0) {
			r->type = "text/javascript; charset=utf-8";
			cdx_buf_adds(&r->body, srv_script);
		} else if (strcmp(q->seg[1], "cdx.css") == 0) {
			r->type = "text/css; charset=utf-8";
			cdx_buf_adds(&r->body, cdx_report_css);
			cdx_buf_adds(&r->body, srv_style);
		} else {
			srv_error_json(r, 404, "no such file");
		}
		return true;
	}
	if (strcmp(q->method, "GET") != 0)
		return false;
	if (n == 1 && strcmp(q->seg[0], "favicon.ico") == 0) {
		r->status = 204; /* none: browsers ask anyway */
		return true;
	}
	if (n == 0)
		page_runs(q, r);
	else if (n == 2 && strcmp(q->seg[0], "runs") == 0)
		page_run(q, r, q->seg[1]);
	else if (n == 2 && strcmp(q->seg[0], "pipelines") == 0)
		page_pipeline(q, r, q->seg[1]);
	else if (n == 1 && strcmp(q->seg[0], "deployments") == 0)
		page_deployments(q, r);
	else if (n == 3 && strcmp(q->seg[0], "deployments") == 0)
		page_environment(q, r, q->seg[1], q->seg[2]);
	else if (n == 1 && strcmp(q->seg[0], "workers") == 0)
		page_workers(q, r);
	else if (n == 1 && strcmp(q->seg[0], "alerts") == 0)
		page_alerts(q, r);
	else
		return false;
	return true;
}
