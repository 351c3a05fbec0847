/*
 * The benchmark's app: its first instruction takes a CLOCK_REALTIME stamp,
 * then it counts the environment entries that start with PREFIX (through
 * `environ`, so interposer delivery, which rebuilds environ, is counted
 * too), writes "STAMP_NS PID PPID COUNT\n" to STAMPFILE and exits, or, with
 * HOLD_MS, sleeps that long first (SIGTERM ends it) so the bench can read
 * its parent's /proc/<ppid>/status while it runs.
 *
 * Usage: ct-bench-app STAMPFILE PREFIX [HOLD_MS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (argc < 3) {
		fprintf(stderr, "usage: ct-bench-app STAMPFILE PREFIX [HOLD_MS]\n");
		return 2;
	}
	size_t plen = strlen(argv[2]);
	long count = 0;
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, argv[2], plen) == 0)
			count++;
	char line[128];
	int n = snprintf(line, sizeof line, "%lld %d %d %ld\n",
			 (long long)now.tv_sec * 1000000000LL + now.tv_nsec,
			 (int)getpid(), (int)getppid(), count);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("ct-bench-app: open STAMPFILE");
		return 1;
	}
	if (write(fd, line, (size_t)n) != n) {
		perror("ct-bench-app: write STAMPFILE");
		return 1;
	}
	close(fd);
	long hold = argc > 3 ? atol(argv[3]) : 0;
	if (hold > 0) {
		struct timespec ts = { hold / 1000, (hold % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0) {
		}
	}
	return 0;
}
