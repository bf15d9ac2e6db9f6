/* util.h — small shared helpers of libcdx: checked allocation, a growable
 * byte buffer with a size cap, error formatting and name checks.
 *
 * Allocation failure is treated as fatal (cdx_xmalloc and friends print
 * "cdx: out of memory" and abort), as git and redis do: every caller can
 * then rely on a non-NULL result, and no half-built object escapes.
 */
#ifndef CDX_UTIL_H
#define CDX_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdx.h"

#define CDX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *cdx_xmalloc(size_t n);
/* cdx_xmalloc_big: N bytes, freed with free() like any other; from 1 MiB
 * on they are 2 MiB-aligned and offered to the kernel for transparent huge
 * pages, so that filling them costs a page fault per 2 MiB, not per 4 KiB
 * (on a virtual machine most of the time of reading a big pipeline) */
void *cdx_xmalloc_big(size_t n);
void *cdx_xcalloc(size_t n, size_t size);
void *cdx_xrealloc(void *p, size_t n);
/* cdx_xreallocarray: realloc for N elements of SIZE, overflow-checked */
void *cdx_xreallocarray(void *p, size_t n, size_t size);
char *cdx_xstrdup(const char *s);
char *cdx_xstrndup(const char *s, size_t n);
/* cdx_xjoin3: A SEP B as one malloc'd string */
char *cdx_xjoin3(const char *a, const char *sep, const char *b);
/* cdx_xasprintf: a formatted string the caller frees with free() */
char *cdx_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *ARR (holding *CAP elements of SIZE) to fit at least NEED. */
void cdx_grow(void *arr, size_t *cap, size_t need, size_t size);
#define CDX_PUSH(arr, n, cap, v)                                       \
	do {                                                           \
		cdx_grow(&(arr), &(cap), (n) + 1, sizeof(*(arr)));     \
		(arr)[(n)++] = (v);                                    \
	} while (0)

/* A growable byte buffer, always NUL-terminated.  A zeroed struct is an
 * empty buffer; free its memory with cdx_buf_free(). */
struct cdx_buf {
	char *data; /* NUL-terminated contents, NULL when never grown */
	size_t len; /* bytes in use, excluding the NUL */
	size_t cap; /* bytes allocated */
};
void cdx_buf_add(struct cdx_buf *b, const void *p, size_t n);
void cdx_buf_adds(struct cdx_buf *b, const char *s);
void cdx_buf_addc(struct cdx_buf *b, char c);
void cdx_buf_printf(struct cdx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cdx_buf_vprintf(struct cdx_buf *b, const char *fmt, va_list ap);
void cdx_buf_reset(struct cdx_buf *b);
/* cdx_buf_reserve: room for EXTRA more bytes (and the NUL) without another
 * allocation, for a caller that writes at data + len and then sets len */
void cdx_buf_reserve(struct cdx_buf *b, size_t extra);
void cdx_buf_free(struct cdx_buf *b);
/* cdx_buf_detach: the contents as a malloc'd string (never NULL); the
 * buffer is left empty */
char *cdx_buf_detach(struct cdx_buf *b);

/* cdx_error_set: fill ERR (may be NULL) with CODE and a formatted message;
 * returns -1 so that callers can `return cdx_error_set(...)`.  CODE is a
 * non-zero enum cdx_status: every failure says its kind, so that callers
 * use err->code as it is; 0 is a programming error and aborts. */
int cdx_error_set(struct cdx_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* cdx_name_valid: whether S matches [A-Za-z0-9_.-]{1,64} and is neither
 * "." nor "..": such a name cannot escape a directory or a key prefix. */
bool cdx_name_valid(const char *s);
#define CDX_NAME_MAX 64

/* cdx_env_name_valid: S is an environment variable name:
 * [A-Za-z_][A-Za-z0-9_]*, at most 256 characters */
bool cdx_env_name_valid(const char *s);

/* cdx_closest: the candidate closest to WORD by edit distance, or NULL when
 * none is close enough to be a plausible typo. */
const char *cdx_closest(const char *word, const char *const *cands, size_t n);

/* cdx_utf8_check: 0 when BUF holds valid UTF-8, else the byte offset of the
 * first invalid sequence plus one. */
size_t cdx_utf8_check(const char *buf, size_t len);

/* cdx_read_file: the whole file PATH, at most MAX bytes, NUL-terminated,
 * in *OUT (free with free()) and its length in *LEN.  -1 with ERR set when
 * it cannot be read or is larger than MAX. */
int cdx_read_file(const char *path, size_t max, char **out, size_t *len, struct cdx_error *err);

/* cdx_round: X rounded half away from zero, as round() of C99, without
 * libm: the cdx tool then loads one shared library less at every start,
 * and make starts it once per job of a $(cdx-pipeline). */
double cdx_round(double x);

/* cdx_now_ns: monotonic clock in nanoseconds; cdx_wall_ms: realtime ms. */
int64_t cdx_now_ns(void);
int64_t cdx_wall_ms(void);

/* cdx_process_start_time: the start time of process PID in clock ticks
 * since boot (/proc/PID/stat field 22), or -1 when there is no such
 * process; with the pid it identifies a process despite pid reuse. */
long long cdx_process_start_time(int pid);

/* cdx_process_alive: process PID exists and is not a zombie */
bool cdx_process_alive(int pid);

/* cdx_process_owner_alive: whether the process recorded as HOST/PID with
 * start time PID_START (-1: unknown) still runs; a process of another host
 * (or a NULL HOST, or a host name that cannot be read) counts as alive,
 * since it cannot be checked from here */
bool cdx_process_owner_alive(const char *host, int pid, long long pid_start);

/* cdx_who: the user the system knows the process as (the password entry
 * of the effective uid; "uidN" without one) and the host name; never
 * $USER, which anyone can set */
void cdx_who(char *user, size_t un, char *host, size_t hn);
/* cdx_who_claimed: $USER when it is set and differs from USER (as cdx_who
 * gave it): the name the caller claims, recorded beside the real one as
 * `claimed_user`; NULL when there is none (points into the environment) */
const char *cdx_who_claimed(const char *user);

/* cdx_run_id_new: a new id of a run or deployment into BUF of N bytes,
 * sortable by time and random after the millisecond:
 * 20261124T101500.123Z-1a2b3c4d */
void cdx_run_id_new(char *buf, size_t n);

/* 32-bit FNV-1a and CRC-32 (IEEE) */
uint32_t cdx_hash32(const void *p, size_t n);
uint32_t cdx_crc32(uint32_t crc, const void *p, size_t n);

#endif /* CDX_UTIL_H */
