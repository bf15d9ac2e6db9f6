/* runner_bench.c — cost of the real runner per attempt, against a bare
 * fork/exec/waitpid loop on the same machine in the same run.
 *
 * N attempts of `true`, J at a time, four ways: the runner with a direct
 * exec (argv) and with `/bin/sh -e -c true`, and the baseline loop doing
 * each of those with nothing else (no pipe, no pidfd, no /proc scan).  The
 * ratio runner/baseline is the number to compare across machines; the
 * absolute times depend on the machine and its load.  The CPU time of the
 * parent process per attempt (RUSAGE_SELF: fork, pipes, pidfd, reading,
 * the /proc scan at each end) is the runner's own cost, and does not
 * depend on how long the children waited for a CPU.
 *
 *   make && cc -O2 -D_GNU_SOURCE -Iinclude -Ilib bench/runner_bench.c \
 *       build/libcdx.a -o build/runner_bench && build/runner_bench [N [J]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/runner.h"

extern char **environ;

static char *const argv_true[] = {"true", NULL};
static char *const argv_sh[] = {"sh", "-e", "-c", "true", NULL};

struct cost {
	double wall_us; /* elapsed per attempt */
	double cpu_us;  /* CPU of this process (not its children) per attempt */
};

static int64_t self_cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static struct cost cost_since(int64_t t0, int64_t c0, int n)
{
	struct cost c;
	c.wall_us = (double)(cdx_now_ns() - t0) / 1e3 / n;
	c.cpu_us = (double)(self_cpu_us() - c0) / n;
	return c;
}

/* per_attempt_runner: microseconds per attempt through the runner */
static struct cost per_attempt_runner(int n, int jobs, bool direct)
{
	struct cdx_runner *r = cdx_runner_new(NULL, NULL);
	const struct cdx_runner_ops *ops = cdx_runner_ops();
	struct cdx_proc_result res;
	struct cdx_error err;
	int started = 0, ended = 0;
	int64_t t0 = cdx_now_ns(), c0 = self_cpu_us();

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
	return cost_since(t0, c0, n);
}

/* per_attempt_bare: the same with fork, execv and waitpid only */
static struct cost per_attempt_bare(int n, int jobs, bool direct)
{
	int started = 0, ended = 0, running = 0;
	int64_t t0 = cdx_now_ns(), c0 = self_cpu_us();

	while (ended < n) {
		int st;
		while (started < n && running < jobs) {
			pid_t pid = fork();
			if (pid == 0) {
				execve(direct ? "/bin/true" : "/bin/sh", direct ? argv_true : argv_sh,
				       environ);
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
	return cost_since(t0, c0, n);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int jobs = argc > 2 ? atoi(argv[2]) : 2;
	struct cost bd = per_attempt_bare(n, jobs, true), rd = per_attempt_runner(n, jobs, true);
	struct cost bs = per_attempt_bare(n, jobs, false), rs = per_attempt_runner(n, jobs, false);

	printf("%d attempts of true, %d at a time (us per attempt)\n", n, jobs);
	printf("%-10s %8s %8s %6s   %10s %10s\n", "", "runner", "baseline", "ratio", "runner CPU",
	       "base CPU");
	printf("%-10s %8.0f %8.0f %6.2f   %10.0f %10.0f\n", "direct", rd.wall_us, bd.wall_us,
	       rd.wall_us / bd.wall_us, rd.cpu_us, bd.cpu_us);
	printf("%-10s %8.0f %8.0f %6.2f   %10.0f %10.0f\n", "/bin/sh", rs.wall_us, bs.wall_us,
	       rs.wall_us / bs.wall_us, rs.cpu_us, bs.cpu_us);
	return 0;
}
