/*
 * The benchmark's launcher: takes the start stamp (CLOCK_REALTIME, the clock
 * ct-bench-app stamps with), forks, execs CMD, waits, and prints
 * "T0_NS STATUS CPU_US\n" on stdout, STATUS being the exit code or 128+N for a
 * death by signal N, CPU_US the user + system CPU time, in microseconds, of
 * every process CMD started and waited for (getrusage(RUSAGE_CHILDREN): the
 * launcher itself has no other child, and a process's threads count with it,
 * also those an exec ended). It makes itself a process-group leader so the bench can kill
 * everything it started with one kill(-pgid).
 *
 * With --at NS it first sleeps until that CLOCK_REALTIME instant: many
 * launchers started ahead of time then start their commands together.
 *
 * Usage: ct-bench-launch [--at NS] -- CMD [ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

int main(int argc, char **argv)
{
	int i = 1;
	long long at = 0;
	if (i + 1 < argc && strcmp(argv[i], "--at") == 0) {
		at = atoll(argv[i + 1]);
		i += 2;
	}
	if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
		fprintf(stderr, "usage: ct-bench-launch [--at NS] -- CMD [ARGS...]\n");
		return 2;
	}
	char **cmd = &argv[i + 1];
	if (setpgid(0, 0) != 0)
		perror("ct-bench-launch: setpgid"); /* still measurable */
	if (at > 0) {
		struct timespec t = { at / 1000000000LL, at % 1000000000LL };
		int r;
		while ((r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &t, NULL)) == EINTR) {
		}
		if (r != 0) {
			fprintf(stderr, "ct-bench-launch: clock_nanosleep: %s\n", strerror(r));
			return 1;
		}
	}
	fflush(stdout);
	struct timespec t0;
	clock_gettime(CLOCK_REALTIME, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("ct-bench-launch: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(cmd[0], cmd);
		fprintf(stderr, "ct-bench-launch: exec %s: %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			perror("ct-bench-launch: waitpid");
			return 1;
		}
	}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	struct rusage ru;
	long long cpu_us = -1;
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
		cpu_us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
			 ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	printf("%lld %d %lld\n", ns(&t0), code, cpu_us);
	return 0;
}
