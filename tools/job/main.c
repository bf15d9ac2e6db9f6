/* main.c — cdx-job: runs one job of a $(cdx-pipeline) rule for GNU make.
 *
 * The recipe of every job that the make module defines calls this program
 * (`cdx-job --run ID --owner MAKEPID STAGE/JOB`), which is exactly
 * `cdx job` (tools/cmd_job.c): the same code, through the very runner of
 * `cdx run`.  It is a program of its own because it is started once per
 * job: linked statically (without libcjson, see json.c; against musl where
 * configure finds musl-gcc, with alloc.c as its allocator), it starts
 * without the dynamic loading that was most of what a no-op job cost
 * through the cdx tool.  The module falls back to `cdx job` where cdx-job
 * is not installed beside it.
 *
 * Global settings come from the environment only, as make gives it to the
 * recipe: CDX_CONFIG (the project file, default cdx.yml) and CDX_STATE.
 */
#include <link.h> /* dl_iterate_phdr */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "../cli.h"

#ifndef MADV_POPULATE_READ /* Linux 5.14; musl 1.2.3's headers lack them */
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/* prefault: map now, in one call per segment, the pages of this program
 * and of its stack that a job touches anyway: a page fault costs this
 * kind of VM several microseconds, and a job took 16 of them on cdx-job's
 * code, data and stack (now 0; tools/job/alloc.c does the same for the
 * heap).  About 0.2 ms less a job (1000 jobs run back to back, alternated
 * with and without).  Advice only: a kernel without MADV_POPULATE_*
 * (before 5.14) faults the pages in as before. */
static int prefault_segments(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t page = 4096;
	size_t i;
	(void)size;
	(void)data;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a, b;
		if (ph->p_type != PT_LOAD)
			continue;
		a = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		b = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
		madvise((void *)a, b - a, (ph->p_flags & PF_W) ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
	}
	return 1; /* the program itself comes first; not its libraries, if any */
}

static void prefault(void)
{
	char here;
	uintptr_t top = (uintptr_t)&here & ~(uintptr_t)4095;
	dl_iterate_phdr(prefault_segments, NULL);
	madvise((void *)(top - 32 * 1024), 32 * 1024, MADV_POPULATE_WRITE);
}

int main(int argc, char **argv)
{
	struct cli g;
	int rc;
	if (argc > 1 && cli_is_help(argv[1])) {
		printf("usage: cdx-job --run ID --owner PID [--override VAR]... STAGE/JOB\n"
		       "\n"
		       "The job runner of $(cdx-pipeline) rules: GNU make runs it as the recipe of\n"
		       "each job. It is `cdx job`; see cdx-make(7).\n");
		return 0;
	}
	prefault();
	cli_init(&g);
	rc = cmd_job(&g, argc, argv);
	free(g.state_owned);
	return rc;
}
