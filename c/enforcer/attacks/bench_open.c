// SPDX-License-Identifier: Apache-2.0
/* ct-bench_open: the cost of open()+close() of an ordinary file, and of a
 * trivial syscall (getppid), in ns per call. The enforcer's fallback hooks
 * every syscall's entry and exit; the LSM tier only file_open.
 *
 *   ct-bench_open FILE [N]
 * prints {"open_close_ns":X,"getppid_ns":Y,"n":N} */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 200000;
	double t0, open_ns, ppid_ns;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: ct-bench_open FILE [N]\n");
		return 2;
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int fd = open(argv[1], O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			perror("open");
			return 1;
		}
		close(fd);
	}
	open_ns = (now_ns() - t0) / n;
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	ppid_ns = (now_ns() - t0) / n;
	printf("{\"open_close_ns\":%.1f,\"getppid_ns\":%.1f,\"n\":%ld}\n", open_ns, ppid_ns, n);
	return 0;
}
