// SPDX-License-Identifier: Apache-2.0
/* ct-signal: sends a signal to another process the ways root can, to
 * freeze it (stop signals) or make it dump core (core-dumping signals).
 *
 *   ct-signal HOW:SIG PID
 *
 * HOW: kill      kill(PID, SIG)
 *      tkill     tgkill(tgid, PID, SIG): PID may be a thread id
 *      sigqueue  rt_sigqueueinfo(PID, SIG, ...) with a forged si_pid
 *      pidfd     pidfd_send_signal (a thread pidfd for a thread id)
 *      pgrp      kill(-pgid of PID, SIG)
 *      sigio     F_SETOWN(PID) + F_SETSIG(SIG) + O_ASYNC on a pipe, then a
 *                write to it: the kernel sends SIG when the pipe is ready
 * SIG: a name without SIG (STOP, QUIT, SEGV, ...)
 * Prints {"attack":"kill:STOP","pid":N,"result":"ok"} or the errno. Whether
 * the signal did anything the caller judges from the target. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfs.h"
#include "report.h"

static int signum(const char *name)
{
	for (int s = 1; s < 32; s++)
		if (sigabbrev_np(s) && strcmp(sigabbrev_np(s), name) == 0)
			return s;
	return 0;
}

static int via_sigio(int sig)
{
	int p[2];

	if (pipe(p))
		return report_err("pipe", errno);
	if (fcntl(p[0], F_SETOWN, pid) || fcntl(p[0], F_SETSIG, sig))
		return report_err("fcntl", errno);
	if (fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK))
		return report_err("fcntl(O_ASYNC)", errno);
	if (write(p[1], "x", 1) != 1)
		return report_err("write", errno);
	return report_ok(0);
}

int main(int argc, char **argv)
{
	char how[32], *colon;
	siginfo_t si;
	int sig, fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3 || strlen(argv[1]) >= sizeof(how) || !(colon = strchr(argv[1], ':'))) {
		fprintf(stderr, "usage: ct-signal HOW:SIG PID\n");
		return 2;
	}
	what = argv[1];
	pid = atoi(argv[2]);
	snprintf(how, sizeof(how), "%.*s", (int)(colon - argv[1]), argv[1]);
	sig = signum(colon + 1);
	if (!sig || pid <= 0) {
		fprintf(stderr, "ct-signal: bad signal or pid\n");
		return 2;
	}
	if (strcmp(how, "kill") == 0)
		return kill(pid, sig) ? report_err("kill", errno) : report_ok(0);
	if (strcmp(how, "tkill") == 0)
		return syscall(SYS_tgkill, tgid_of(pid), pid, sig) ? report_err("tgkill", errno)
								    : report_ok(0);
	if (strcmp(how, "sigqueue") == 0) {
		memset(&si, 0, sizeof(si));
		si.si_signo = sig;
		si.si_code = SI_QUEUE;
		si.si_pid = 1; /* anyone can claim to be init */
		return syscall(SYS_rt_sigqueueinfo, pid, sig, &si) ? report_err("rt_sigqueueinfo", errno)
								   : report_ok(0);
	}
	if (strcmp(how, "pidfd") == 0) {
		fd = syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0 && (errno == EINVAL || errno == ENOENT)) /* a thread id: a thread pidfd (6.9+) */
			fd = syscall(SYS_pidfd_open, pid, O_EXCL /* PIDFD_THREAD */);
		if (fd < 0)
			return report_err("pidfd_open", errno);
		return syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0)
			       ? report_err("pidfd_send_signal", errno)
			       : report_ok(0);
	}
	if (strcmp(how, "pgrp") == 0) {
		pid_t pgid = getpgid(pid);

		if (pgid <= 0 || pgid == getpgid(0))
			return report_err("getpgid", pgid <= 0 ? errno : EDEADLK);
		return kill(-pgid, sig) ? report_err("kill(-pgid)", errno) : report_ok(0);
	}
	if (strcmp(how, "sigio") == 0)
		return via_sigio(sig);
	fprintf(stderr, "ct-signal: unknown way %s\n", how);
	return 2;
}
