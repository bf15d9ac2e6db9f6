/* fortify.c — the checked copies of glibc's _FORTIFY_SOURCE, for musl.
 *
 * Where musl-gcc is installed, cdx-job is linked statically against musl
 * (configure), whose start costs half what a static glibc's does (no
 * CPUID probing, no tunables, no IFUNC relocations: under a hypervisor
 * each CPUID is a trap).  Debian's libhiredis.a and libyaml.a are built
 * against glibc with _FORTIFY_SOURCE, so they call these four functions,
 * which glibc exports and musl does not.  Each does what glibc's does:
 * refuse to write past the size the compiler knew (abort, as glibc's
 * __chk_fail does), then call the plain function.  Everything else those
 * archives call, musl provides under the same name and with the same
 * binary interface on x86-64 Linux (struct addrinfo, errno, the
 * __ctype_*_loc tables).  Under glibc this file compiles to nothing.
 */
#include <stdlib.h> /* first: under glibc, it defines __GLIBC__ */
#ifndef __GLIBC__
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* the prototypes glibc declares in its headers, given here for -Wextra */
void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen,
		    const char *fmt, va_list ap);
int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen,
		   const char *fmt, ...);
int __sprintf_chk(char *s, int flag, size_t slen, const char *fmt, ...);

static void __attribute__((noreturn)) chk_fail(void)
{
	static const char msg[] = "*** buffer overflow detected ***: terminated\n";
	fputs(msg, stderr);
	abort();
}

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (n > dstlen)
		chk_fail();
	return memcpy(dst, src, n);
}

int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, va_list ap)
{
	(void)flag;
	if (maxlen > slen)
		chk_fail();
	return vsnprintf(s, maxlen, fmt, ap);
}

int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = __vsnprintf_chk(s, maxlen, flag, slen, fmt, ap);
	va_end(ap);
	return n;
}

int __sprintf_chk(char *s, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int n;
	(void)flag;
	va_start(ap, fmt);
	n = vsnprintf(s, slen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= slen)
		chk_fail();
	return n;
}
#endif
