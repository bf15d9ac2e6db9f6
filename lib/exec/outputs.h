/* outputs.h — job outputs: the values a job hands to the jobs that need it.
 *
 * An attempt writes lines to the file named by $CDX_OUTPUT (a fresh empty
 * file per attempt): `KEY=VALUE`, or GitHub's block form
 *
 *     KEY<<DELIM
 *     any lines
 *     DELIM
 *
 * KEY is a variable name (A-Z a-z 0-9 _, not starting with a digit, and
 * not starting with CDX_: those are cdx's own); a later line for a KEY
 * replaces an earlier one.  Limits: the file at most
 * CDX_OUTPUTS_MAX_BYTES, at most CDX_OUTPUTS_MAX_KEYS keys, KEY=VALUE at
 * most CDX_VAR_ENTRY_MAX bytes (what an environment string may have).
 * When the job's last attempt ends, its outputs are kept beside its logs
 * (LOG_DIR/RUN/STAGE/JOB.outputs.json) and in its attempt record (masked),
 * and every job that needs it (directly, or through a stage) gets them as
 * environment variables, in cdx run as under make.
 */
#ifndef CDX_OUTPUTS_H
#define CDX_OUTPUTS_H

#include <stddef.h>

#include "pipeline/pipeline.h"

#define CDX_OUTPUTS_MAX_BYTES (256u * 1024)
#define CDX_OUTPUTS_MAX_KEYS 100

/* cdx_outputs_parse: the LEN bytes at BUF (a $CDX_OUTPUT file) into OUT
 * (values set with cdx name/value copies the caller frees with
 * cdx_vars_free).  Returns 0, or -1 with WHY (a sentence naming the line)
 * for the first problem; what came before it is in OUT. */
int cdx_outputs_parse(const char *buf, size_t len, struct cdx_vars *out, char *why, size_t why_n);

#endif /* CDX_OUTPUTS_H */
