/* measure.c — run one command, report its wall time and peak RSS.
 *
 * bench/run.sh compiles this on the fly (cc, no other dependency) instead of
 * relying on GNU time, whose %e has only 10 ms resolution: the foundation
 * benchmark measures runs of a few tens of milliseconds.  The clock is
 * CLOCK_MONOTONIC read just before fork() and just after wait4() returns;
 * the peak RSS is ru_maxrss of the child as wait4() reports it (KiB on
 * Linux), the same source GNU time's %M reads; the CPU time is its user plus
 * system time from the same rusage.
 *
 * usage: measure [-o OUT] [-C DIR] -- COMMAND [ARG...]
 *   -o OUT   the command's standard output goes to OUT (default: inherited)
 *   -C DIR   run the command in DIR
 * Standard input is /dev/null.  Prints one line "WALL_S CPU_S RSS_KB STATUS"
 * on standard output: times in seconds with microsecond resolution, STATUS
 * the exit status (128 + N for signal N).  Exits 0 when the command ran
 * (whatever its status), 2 on a usage error, 1 when it could not start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fputs("usage: measure [-o OUT] [-C DIR] -- COMMAND [ARG...]\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *dir = NULL;
	struct rusage ru;
	double t0, t1, cpu;
	int i, status, code;
	pid_t pid;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "-C") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else {
			return usage();
		}
	}
	if (i >= argc)
		return usage();

	t0 = now_s();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "measure: cannot fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		if (out) {
			fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0) {
				fprintf(stderr, "measure: cannot open %s: %s\n", out, strerror(errno));
				_exit(127);
			}
			dup2(fd, 1);
			close(fd);
		}
		if (dir && chdir(dir) < 0) {
			fprintf(stderr, "measure: cannot enter %s: %s\n", dir, strerror(errno));
			_exit(127);
		}
		execvp(argv[i], argv + i);
		fprintf(stderr, "measure: cannot run %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "measure: wait4: %s\n", strerror(errno));
			return 1;
		}
	}
	t1 = now_s();
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("%.6f %.6f %ld %d\n", t1 - t0, cpu, ru.ru_maxrss, code);
	return 0;
}
