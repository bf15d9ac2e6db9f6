/* report.h — the renderers behind cdx_report_generate (cdx.h).
 *
 * A report is first built as one JSON model (report.c): the document that
 * `--format json` prints, described by docs/report.schema.json.  The text
 * and HTML renderers only lay that model out, so the three formats cannot
 * disagree.  The model always carries the timeline and the trend (the
 * HTML shows them for every type); the JSON of a summary or detailed
 * report leaves out what its type does not promise.
 */
#ifndef CDX_REPORT_H
#define CDX_REPORT_H

struct cJSON;

/* cdx_report_html: MODEL as one self-contained HTML page (inline CSS and
 * SVG, no script, nothing fetched); every string of the model is escaped.
 * Caller frees with free(). */
char *cdx_report_html(const struct cJSON *model);

/* cdx_report_text: MODEL as plain text, no line over 80 columns.  Caller
 * frees with free(). */
char *cdx_report_text(const struct cJSON *model);

struct cdx_buf;
/* cdx_report_html_timeline: the timeline section of MODEL (the Gantt chart
 * of its performance part, critical path above it), appended to B; what
 * the HTML report and cdx serve's run page show */
void cdx_report_html_timeline(struct cdx_buf *b, const struct cJSON *model);
/* cdx_report_css: the report's style sheet (its classes: .gantt, .bar,
 * .st-STATUS, .card, ...) */
extern const char cdx_report_css[];

#endif /* CDX_REPORT_H */
