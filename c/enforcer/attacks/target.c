// SPDX-License-Identifier: Apache-2.0
/* ct-target: a process holding a secret where attackers look for it: in
 * its environment (CT_SECRET), in a heap buffer, and in a memfd it keeps
 * open. Prints one JSON line with what an attacker needs, then waits.
 * SIGUSR1 makes it re-check that it can still read its own /proc entries
 * and memory (protection must not hurt the protected process).
 *
 *   CT_SECRET=CT-SECRET-... ct-target [--fork]
 *
 * --fork: also fork a child that does the same (an inherited protection). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char *secret_buf;
static int secret_fd = -1;

static int contains(const char *buf, size_t len, const char *needle)
{
	return memmem(buf, len, needle, strlen(needle)) != NULL;
}

/* Reads a file of its own /proc; returns its length, or -errno. */
static long read_self(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size);
	n = n < 0 ? -errno : n;
	close(fd);
	return n;
}

/* "ok", or the first check that failed. */
static const char *self_check(const char *secret)
{
	static char buf[65536];
	char path[64];
	long n;
	int fd;

	n = read_self("/proc/self/environ", buf, sizeof(buf));
	if (n < 0 || !contains(buf, n, secret))
		return "environ";
	if (read_self("/proc/self/maps", buf, sizeof(buf)) <= 0)
		return "maps";
	snprintf(path, sizeof(path), "/proc/%d/mem", getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "mem-open";
	n = pread(fd, buf, strlen(secret), (off_t)(unsigned long)secret_buf);
	close(fd);
	if (n != (long)strlen(secret) || memcmp(buf, secret, n))
		return "mem-read";
	return "ok";
}

static void announce(const char *role, const char *secret)
{
	printf("{\"target\":\"%s\",\"pid\":%d,\"addr\":\"%p\",\"fd\":%d,\"self_check\":\"%s\"}\n",
	       role, getpid(), (void *)secret_buf, secret_fd, self_check(secret));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *secret = getenv("CT_SECRET");
	const char *role = "parent";
	sigset_t mask;
	pid_t child = -1;
	int sig;

	if (!secret || strncmp(secret, "CT-SECRET-", 10)) {
		fprintf(stderr, "ct-target: set CT_SECRET=CT-SECRET-...\n");
		return 2;
	}
	secret_buf = strdup(secret);
	secret_fd = memfd_create("ct-secret", MFD_CLOEXEC);
	if (!secret_buf || secret_fd < 0 || write(secret_fd, secret, strlen(secret)) < 0) {
		perror("ct-target: setup");
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if (argc > 1 && strcmp(argv[1], "--fork") == 0) {
		child = fork();
		if (child < 0) {
			perror("ct-target: fork");
			return 1;
		}
		if (child == 0) {
			role = "child";
			child = -1;
		}
	}
	announce(role, secret);
	for (;;) {
		if (sigwait(&mask, &sig))
			return 1;
		if (sig != SIGUSR1)
			break;
		announce(role, secret);
	}
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	return 0;
}
