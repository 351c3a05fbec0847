// SPDX-License-Identifier: Apache-2.0
/* ct-seize: a neighbour racing for the tracer slot. It spins PTRACE_SEIZE
 * over the pids [LO, HI) for SECONDS, so that it attaches to a process the
 * moment that process is attachable (a same-uid process needs no capability
 * for a dumpable target), and keeps every attachment: a tracer stays
 * attached through the target's PR_SET_DUMPABLE(0) and its execs, with
 * register access from then on (the start of a syscall injection, see
 * inject.c). Each attachment prints one line:
 *
 *   {"attached":TID,"tgid":PID,"comm":"deno"}
 *
 * Tracees run on (SEIZE does not stop them); a signal-delivery stop is
 * continued with its signal, so the targets behave as untraced. At the end
 * (or when killed) the kernel detaches them.
 *
 *   ct-seize LO HI SECONDS
 *   ct-seize --after-harden PID SECONDS
 *
 * --after-harden waits until PID, dumpable first, has made itself
 * non-dumpable (its /proc/PID/environ readable by this same-uid process,
 * then refused), then spins on PID
 * alone: it gets in only if an exec makes PID dumpable again (the window
 * between the wrapper's exec into the supervisor and the supervisor's own
 * PR_SET_DUMPABLE(0)). It prints {"hardened":PID} when the wait is over. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"

static void comm_of(int pid, char *out, size_t n)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	out[0] = 0;
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)n, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
	for (char *c = out; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = '?';
}

/* Continues every tracee that stopped, with the signal it stopped for. */
static void service(void)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, __WALL | WNOHANG)) > 0) {
		if (!WIFSTOPPED(st))
			continue;
		int sig = WSTOPSIG(st);

		/* a group-stop or an event stop: no signal to pass on */
		if ((st >> 16) != 0 || sig == SIGTRAP)
			sig = 0;
		ptrace(PTRACE_CONT, p, 0, sig);
	}
}

static bool past(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > end->tv_sec ||
	       (now.tv_sec == end->tv_sec && now.tv_nsec >= end->tv_nsec);
}

/* The real uid of PID, from /proc/PID/status; -1 if unknown. */
static int uid_of(int pid)
{
	char path[64], line[128];
	int uid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %d", &uid) == 1)
			break;
	fclose(f);
	return uid;
}

/* Waits for PID, running as a user other than root, to give this process
 * its /proc/PID/environ (dumpable: a program it exec'd) and then refuse it
 * (non-dumpable: that program hardened), then spins on PID. A setuid
 * launcher in front (setpriv) is non-dumpable after its setuid but before
 * its exec, hence the first step. */
static int after_harden(int pid, const struct timespec *end)
{
	char path[64], comm[32];

	bool seen_open = false;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	for (;;) {
		int fd;

		if (past(end))
			return 1;
		if (uid_of(pid) <= 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			seen_open = true; /* the exec'd program, still dumpable */
			close(fd);
		} else if (seen_open && (errno == EACCES || errno == EPERM)) {
			break; /* and now it has hardened */
		}
	}
	printf("{\"hardened\":%d}\n", pid);
	while (!past(end)) {
		if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
			comm_of(pid, comm, sizeof(comm));
			printf("{\"attached\":%d,\"tgid\":%d,\"comm\":\"%s\"}\n", pid,
			       tgid_of(pid), comm);
			while (!past(end))
				service();
			return 0;
		}
		if (errno == ESRCH)
			return 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec end;

	if (argc != 4) {
		fprintf(stderr, "usage: ct-seize LO HI SECONDS | --after-harden PID SECONDS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(argv[3]);
	if (strcmp(argv[1], "--after-harden") == 0)
		return after_harden(atoi(argv[2]), &end);

	int lo = atoi(argv[1]), hi = atoi(argv[2]);
	char *held = calloc((size_t)(hi > lo ? hi - lo : 1), 1);

	if (!held)
		return 1;
	while (!past(&end)) {
		for (int p = lo; p < hi; p++) {
			char comm[32];

			if (held[p - lo] || ptrace(PTRACE_SEIZE, p, 0, 0) < 0)
				continue;
			held[p - lo] = 1;
			comm_of(p, comm, sizeof(comm));
			printf("{\"attached\":%d,\"tgid\":%d,\"comm\":\"%s\"}\n", p, tgid_of(p),
			       comm);
		}
		service();
	}
	return 0;
}
