/* fuzz_project.c — libFuzzer target for the project file (cdx.yml)
 * loader: any bytes give a project or diagnostics, never a crash, a leak
 * or a sanitizer report; a monitoring: section that loads is within its
 * limits.  The loader reads a path, so the input goes
 * through a temporary file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cdx.h"
#include "observe/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/cdx-fuzz-project-XXXXXX";
	int fd = mkstemp(path);
	struct cdx_diags *d;
	struct cdx_project *pr;
	size_t i;
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	d = cdx_diags_new();
	pr = cdx_project_load(path, d);
	for (i = 0; pr && i < cdx_project_pipeline_count(pr); i++) {
		(void)cdx_project_pipeline_name(pr, i);
		(void)cdx_project_find(pr, cdx_project_pipeline_name(pr, i));
	}
	if (pr) {
		(void)cdx_project_state(pr);
		/* monitoring: (monitor_config.c) parsed into limits */
		const struct cdx_monitor_config *m = cdx_project_monitoring(pr);
		if (m->window < 1 || m->window > CDX_MONITOR_WINDOW_MAX || m->n_alerts > 100 || m->failing > m->healthy)
			abort();
		for (i = 0; i < m->n_alerts; i++)
			if (!m->alerts[i].name || !m->alerts[i].when)
				abort();
	}
	cdx_project_free(pr);
	cdx_diags_free(d);
	unlink(path);
	return 0;
}
