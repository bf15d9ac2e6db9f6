/* runner_bench.c — cost of the real runner per attempt, against a bare
 * fork/exec/waitpid loop on the same machine in the same run.
 *
 * N attempts of `true`, J at a time, four ways: the runner with a direct
 * exec (argv) and with `/bin/sh -e -c true`, and the baseline loop doing
 * each of those with nothing else (no pipe, no pidfd, no /proc scan).  The
 * ratio runner/baseline is the number to compare across machines; the
 * absolute times depend on the machine and its load.
 *
 *   make && cc -O2 -D_GNU_SOURCE -Iinclude -Ilib bench/runner_bench.c \
 *       build/libcdx.a -o build/runner_bench && build/runner_bench [N [J]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

extern char **environ;

static char *const argv_true[] = {"true", NULL};
static char *const argv_sh[] = {"sh", "-e", "-c", "true", NULL};

/* per_attempt_runner: microseconds per attempt through the runner */
static double per_attempt_runner(int n, int jobs, bool direct)
{
	struct cdx_runner *r = cdx_runner_new(NULL, NULL);
	const struct cdx_runner_ops *ops = cdx_runner_ops();
	struct cdx_proc_result res;
	struct cdx_error err;
	int started = 0, ended = 0;
	int64_t t0 = cdx_now_ns();

	while (ended < n) {
		while (started < n && ops->running(r) < (size_t)jobs) {
			struct cdx_proc_spec s;
			memset(&s, 0, sizeof(s));
			s.token = (uint64_t)started;
			s.envp = environ;
			if (direct)
				s.argv = argv_true;
			else
				s.script = "true";
			if (ops->start(r, &s, &err) < 0) {
				fprintf(stderr, "runner_bench: %s\n", err.msg);
				exit(1);
			}
			started++;
		}
		if (ops->wait(r, -1, &res) != 1)
			continue;
		if (res.end != CDX_PROC_EXITED || res.exit_code != 0) {
			fprintf(stderr, "runner_bench: attempt %llu failed\n", (unsigned long long)res.token);
			exit(1);
		}
		ended++;
	}
	cdx_runner_free(r);
	return (double)(cdx_now_ns() - t0) / 1e3 / n;
}

/* per_attempt_bare: the same with fork, execv and waitpid only */
static double per_attempt_bare(int n, int jobs, bool direct)
{
	int started = 0, ended = 0, running = 0;
	int64_t t0 = cdx_now_ns();

	while (ended < n) {
		int st;
		while (started < n && running < jobs) {
			pid_t pid = fork();
			if (pid == 0) {
				execve(direct ? "/bin/true" : "/bin/sh", direct ? argv_true : argv_sh, environ);
				_exit(127);
			}
			if (pid < 0) {
				perror("runner_bench: fork");
				exit(1);
			}
			started++;
			running++;
		}
		if (waitpid(-1, &st, 0) < 0)
			continue;
		running--;
		ended++;
	}
	return (double)(cdx_now_ns() - t0) / 1e3 / n;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int jobs = argc > 2 ? atoi(argv[2]) : 2;
	double bd = per_attempt_bare(n, jobs, true), rd = per_attempt_runner(n, jobs, true);
	double bs = per_attempt_bare(n, jobs, false), rs = per_attempt_runner(n, jobs, false);

	printf("%d attempts of true, %d at a time (us per attempt)\n", n, jobs);
	printf("%-12s %10s %10s %8s\n", "", "runner", "baseline", "ratio");
	printf("%-12s %10.0f %10.0f %8.2f\n", "direct", rd, bd, rd / bd);
	printf("%-12s %10.0f %10.0f %8.2f\n", "/bin/sh", rs, bs, rs / bs);
	return 0;
}
