// SPDX-License-Identifier: Apache-2.0
/* ct-perf: reads another process's user stack through perf_event_open, no
 * BPF involved: a software event sampled at each of the target's context
 * switches, each sample carrying up to 64 KiB of its user stack (where its
 * environment strings live). SIGUSR1 wakes the target so that it switches.
 *
 *   ct-perf PID
 *
 * Prints one line as report.h describes ("bytes": the stack bytes seen). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "report.h"

#define STACK_BYTES 65528
#define DATA_PAGES  64

int main(int argc, char **argv)
{
	struct perf_event_attr attr;
	struct perf_event_mmap_page *meta;
	long page = sysconf(_SC_PAGESIZE);
	size_t data_len = DATA_PAGES * page;
	char *ring;
	long seen = 0;
	bool found = false;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: ct-perf PID\n");
		return 2;
	}
	what = "perf_stack";
	pid = atoi(argv[1]);
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CONTEXT_SWITCHES;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_STACK_USER | PERF_SAMPLE_REGS_USER;
	attr.sample_regs_user = 1ULL << 7; /* sp, so the kernel knows where to copy from */
	attr.sample_stack_user = STACK_BYTES;
	attr.wakeup_events = 1;
	fd = syscall(SYS_perf_event_open, &attr, pid, -1, -1, 0);
	if (fd < 0)
		return report_err("perf_event_open", errno);
	ring = mmap(NULL, page + data_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED)
		return report_err("mmap", errno);
	meta = (struct perf_event_mmap_page *)ring;
	/* every sample of up to 20 wake-ups; the first one that holds a secret
	 * is kept, else the first one */
	for (int round = 0; round < 20 && !found; round++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		__u64 head, tail;

		kill(pid, SIGUSR1);
		poll(&pfd, 1, 150);
		head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
		tail = meta->data_tail;
		while (tail < head && !found) {
			struct perf_event_header h;
			char *base = ring + page;
			size_t off = tail % data_len;

			memcpy(&h, base + off, sizeof(h)); /* headers never wrap (8-aligned) */
			if (h.type == PERF_RECORD_SAMPLE && h.size > sizeof(h)) {
				static char rec[1 << 16];

				for (size_t i = 0; i < h.size; i++) /* it may wrap */
					rec[i] = base[(off + i) % data_len];
				found = memmem(rec, h.size, MARK, strlen(MARK)) != NULL;
				if (!seen || found) {
					memcpy(buf, rec, h.size);
					seen = h.size;
				}
			}
			tail += h.size;
		}
		__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
	}
	return report_ok(seen);
}
