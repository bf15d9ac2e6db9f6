/* duration.c — durations with units (see duration.h).  Parsing is strict:
 * digits, an optional fraction, an optional unit, nothing else; no sign, no
 * exponent, no spaces, so that "1e9" or "-5" are errors, not surprises. */
#include "base/duration.h"

#include <stdio.h>
#include <string.h>

int cdx_duration_parse(const char *s, int64_t *ms, const char **why)
{
	double whole = 0, frac = 0, scale = 1, unit;
	int digits = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9') {
		whole = whole * 10 + (*p++ - '0');
		digits++;
		if (whole > 1e12)
			goto toolarge;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (scale < 1e12) {
				scale *= 10;
				frac = frac * 10 + (*p - '0');
			}
			p++;
			digits++;
		}
	}
	if (!digits) {
		*why = "expected a duration such as 90, 0.5, 500ms, 30s, 10m or 1h";
		return -1;
	}
	if (*p == '\0' || strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "m") == 0)
		unit = 60000;
	else if (strcmp(p, "h") == 0)
		unit = 3600000;
	else {
		*why = "unknown duration unit (use ms, s, m or h)";
		return -1;
	}
	{
		double v = (whole + frac / scale) * unit;
		if (v > (double)CDX_DURATION_MAX_MS)
			goto toolarge;
		*ms = (int64_t)(v + 0.5);
		if (*ms == 0 && v > 0)
			*ms = 1;
	}
	return 0;
toolarge:
	*why = "duration is longer than 30 days";
	return -1;
}

void cdx_duration_format(int64_t ms, char *buf, unsigned size)
{
	if (ms < 1000)
		snprintf(buf, size, "%lldms", (long long)ms);
	else if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, size, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms % 60000 / 1000));
	else
		snprintf(buf, size, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms % 3600000 / 60000));
}
