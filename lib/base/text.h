/* text.h — values made safe for a terminal: the one escaping of cdx's text
 * output.
 *
 * Every text (non-JSON) printer of cdx that shows a value a user or a
 * record supplied (a --reason, a version, a user name, an error quoting an
 * argument, a job's error) prints it through here, so that the value can
 * never start a new line, move the cursor or send an escape sequence to
 * the terminal: a forged line in `cdx history` is then impossible.  The
 * rules, in cdx_text_escape: \n \r \t as the two characters "\n" "\r"
 * "\t"; every other C0 control (0x00-0x1f) and DEL as "\xHH"; the C1
 * controls (U+0080-U+009F) and the Unicode line and paragraph separators
 * and bidirectional overrides (U+2028, U+2029, U+202A-U+202E,
 * U+2066-U+2069) as "\uHHHH"; each byte that is not part of valid UTF-8 as
 * "\xHH".  Everything else, a backslash included, is copied as it is.
 * JSON output needs none of this: cJSON escapes its strings.
 */
#ifndef CDX_TEXT_H
#define CDX_TEXT_H

#include <stdarg.h>
#include <stdio.h>

#include "base/util.h"

/* cdx_text_escape: append S (NULL: "(null)") to B, escaped */
void cdx_text_escape(struct cdx_buf *b, const char *s);

/* cdx_text_vprintf, cdx_text_bprintf: printf into B where every %s
 * argument is escaped (cdx_text_escape) and the format itself is copied
 * as it is; flags, widths and precisions (also "*") apply to the escaped
 * string.  The conversions of C99 printf are understood; %n is not. */
void cdx_text_vprintf(struct cdx_buf *b, const char *fmt, va_list ap);
void cdx_text_bprintf(struct cdx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cdx_text_printf: the same printed on F; what fprintf returns */
int cdx_text_printf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cdx_shq: append S to B as one single-quoted shell word ('\'' for a
 * quote): the one shell quoting of cdx (SSH remote commands, the make
 * module's recipes and results) */
void cdx_shq(struct cdx_buf *b, const char *s);
/* cdx_shq_words: the NULL-terminated WORDS each quoted, joined by blanks;
 * caller frees */
char *cdx_shq_words(char *const *words);

/* cdx_text_html: append S to B escaped for HTML, the same in element
 * content and in quoted attribute values: & < > " ' as entities, control
 * characters other than \n and \t as U+FFFD; every value an HTML page of
 * cdx shows (the report, cdx serve) goes through here */
void cdx_text_html(struct cdx_buf *b, const char *s);

#endif /* CDX_TEXT_H */
