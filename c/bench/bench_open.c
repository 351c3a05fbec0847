// SPDX-License-Identifier: Apache-2.0
/* ct-bench_open: what the enforcer adds to syscalls, in ns per call:
 * open()+close() of an ordinary file, a trivial syscall (getppid), a
 * harmless bpf() command (BPF_PROG_GET_NEXT_ID past the last id) and, unless
 * --no-perf, perf_event_open()+close() of a software counter on itself. The
 * fallback hooks every syscall's entry and exit, and looks closer at bpf()
 * and perf_event_open(); the LSM tier sees only opens, bpf() and perf.
 * (While anything is protected, perf_event_open() is refused to all but
 * the enforcer and its allow list: a protected run passes --no-perf.)
 *
 *   ct-bench_open FILE [N] [--no-perf]
 * prints {"open_close_ns":X,"getppid_ns":Y,"bpf_ns":Z,"perf_ns":W|null,"n":N} */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	long n = argc > 2 && argv[2][0] != '-' ? atol(argv[2]) : 200000;
	bool perf = !(argc > 2 && strcmp(argv[argc - 1], "--no-perf") == 0);
	double t0, open_ns, ppid_ns, bpf_ns, perf_ns = -1;
	struct perf_event_attr pa;
	union bpf_attr ba;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: ct-bench_open FILE [N] [--no-perf]\n");
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
	memset(&ba, 0, sizeof(ba));
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		ba.start_id = 0xffffffffu; /* ENOENT: nothing after the last id */
		syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &ba, sizeof(ba));
	}
	bpf_ns = (now_ns() - t0) / n;
	if (perf) {
		long m = n / 10 ?: 1; /* an event costs far more than a syscall */

		memset(&pa, 0, sizeof(pa));
		pa.size = sizeof(pa);
		pa.type = PERF_TYPE_SOFTWARE;
		pa.config = PERF_COUNT_SW_DUMMY;
		pa.disabled = 1;
		t0 = now_ns();
		for (long i = 0; i < m; i++) {
			int fd = syscall(SYS_perf_event_open, &pa, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);

			if (fd < 0) {
				perror("perf_event_open");
				return 1;
			}
			close(fd);
		}
		perf_ns = (now_ns() - t0) / m;
	}
	printf("{\"open_close_ns\":%.1f,\"getppid_ns\":%.1f,\"bpf_ns\":%.1f,", open_ns, ppid_ns,
	       bpf_ns);
	if (perf_ns < 0)
		printf("\"perf_ns\":null,");
	else
		printf("\"perf_ns\":%.1f,", perf_ns);
	printf("\"n\":%ld}\n", n);
	return 0;
}
