// SPDX-License-Identifier: Apache-2.0
/* ct-bpfread: loads a tp_btf/sys_enter program that reads 64 bytes at
 * ADDR in PID's memory while PID makes a syscall (SIGUSR1 makes it make
 * some), and reports what came back. The enforcer must refuse the load
 * (LSM: EPERM) or kill the loader (tracepoint tier) while anything is
 * protected.
 *
 *   ct-bpfread PID ADDR
 *
 * Prints one line as report.h describes. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "bpfread.skel.h"

struct loot {
	__u32 done;
	char data[64];
};

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpfread_bpf *skel;
	struct loot l = { 0 };
	__u32 key = 0;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3) {
		fprintf(stderr, "usage: ct-bpfread PID ADDR\n");
		return 2;
	}
	what = "bpf_read";
	pid = atoi(argv[1]);
	libbpf_set_print(quiet);
	skel = bpfread_bpf__open();
	if (!skel)
		return report_err("open", errno);
	skel->rodata->target_tgid = pid;
	skel->rodata->target_addr = strtoull(argv[2], NULL, 0);
	err = bpfread_bpf__load(skel);
	if (err)
		return report_err("bpf_prog_load", errno ?: -err);
	err = bpfread_bpf__attach(skel);
	if (err)
		return report_err("attach", errno ?: -err);
	for (int i = 0; i < 30 && !l.done; i++) {
		kill(pid, SIGUSR1);
		usleep(100000);
		if (bpf_map__lookup_elem(skel->maps.loot, &key, sizeof(key), &l, sizeof(l), 0))
			return report_err("lookup", errno);
	}
	bpfread_bpf__destroy(skel);
	if (!l.done)
		return report_err("no read", ETIMEDOUT);
	memcpy(buf, l.data, sizeof(l.data));
	return report_ok(sizeof(l.data));
}
