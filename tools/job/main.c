/* main.c — cdx-job: runs one job of a $(cdx-pipeline) rule for GNU make.
 *
 * The recipe of every job that the make module defines calls this program
 * (`cdx-job --run ID --owner MAKEPID STAGE/JOB`), which is exactly
 * `cdx job` (tools/cmd_job.c): the same code, through the very runner of
 * `cdx run`.  It is a program of its own because it is started once per
 * job: linked statically (and without libcjson, see json.c), it starts
 * with a third of the page faults of the cdx tool, whose dynamic loading
 * was most of what a no-op job cost.  The module falls back to `cdx job`
 * where cdx-job is not installed beside it.
 *
 * Global settings come from the environment only, as make gives it to the
 * recipe: CDX_CONFIG (the project file, default cdx.yml) and CDX_STATE.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../cli.h"

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
	cli_init(&g);
	rc = cmd_job(&g, argc, argv);
	free(g.state_owned);
	return rc;
}
