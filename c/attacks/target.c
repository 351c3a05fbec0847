// SPDX-License-Identifier: Apache-2.0
/* ct-target: a process holding a secret where attackers look for it: in
 * its environment (CT_SECRET), in a heap buffer, in a memfd it keeps open
 * and in a memfd_secret region (out of the kernel's direct map, but mapped
 * in its own page tables). Prints one JSON line with what an attacker
 * needs, then waits. SIGUSR1 makes it re-check that it can still read its
 * own /proc entries and memory (protection must not hurt the protected
 * process). It never writes a core (RLIMIT_CORE 0): the tests judge
 * core-dumping signals by how it died.
 *
 *   CT_SECRET=CT-SECRET-... ct-target [--fork] [--thread]
 *
 * --fork:   also fork a child that does the same (an inherited protection).
 * --thread: start a second thread and report its id ("tid"): attacks aimed
 *           at a thread id must reach the same protection.
 * --keep-region-fd: keep the memfd_secret fd open and report it
 *           ("region_fd"): what a stolen region fd gives (the positive
 *           control of the matrix's pidfd_getfd rows).
 *
 *   CT_SECRET=CT-SECRET-... ct-target --late-region FILE
 *
 * The start-up window (the VM test): announce {"target":"late","pid":N},
 * wait until FILE exists, then create a memfd_secret region, write the
 * secret, say so ({"open":true,"region_fd":N}) and hold its fd open for
 * LATE_WINDOW_MS (a window as long as
 * root stretches one with SIGSTOP), close it, report and exit 0. Nothing
 * else holds the secret, so a thief can only have it from that fd. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *secret_buf;
static int secret_fd = -1;
static char *region; /* memfd_secret, NULL where the kernel lacks it */
static pid_t thread_id;
static bool keep_region_fd;
static int region_fd = -1;

#define LATE_WINDOW_MS 300

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
	printf("{\"target\":\"%s\",\"pid\":%d,\"tid\":%d,\"pgid\":%d,\"addr\":\"%p\","
	       "\"region\":\"%p\",\"fd\":%d,\"region_fd\":%d,\"self_check\":\"%s\"}\n",
	       role, getpid(), thread_id ? thread_id : getpid(), getpgid(0), (void *)secret_buf,
	       (void *)region, secret_fd, region_fd, self_check(secret));
	fflush(stdout);
}

/* The secret in a memfd_secret mapping; the fd is closed at once. */
static void secret_region(const char *secret)
{
	int fd = syscall(SYS_memfd_secret, 0);
	size_t len = sysconf(_SC_PAGESIZE);

	if (fd < 0)
		return; /* ENOSYS: no region, the JSON says (nil) */
	if (ftruncate(fd, len) == 0)
		region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (keep_region_fd)
		region_fd = fd;
	else
		close(fd);
	if (region == MAP_FAILED)
		region = NULL;
	if (region)
		memcpy(region, secret, strlen(secret) + 1);
}

/* The kernel leaves a random gap (up to 8 KiB) between the environment
 * strings at the top of the stack and the pointer arrays below them; a page
 * in it may never be mapped, and a user-stack sample (ct-perf) stops at
 * the first unmapped page. Reading one byte per page maps them (the zero
 * page), so the sample's reach does not depend on that draw. */
static void touch_stack_up_to(const char *top)
{
	volatile const char *p = (const char *)&p;

	for (; p < top; p += 4096)
		(void)*p;
}

/* --late-region: the region created after the wait, its fd open only for
 * the window. */
static int late_region(const char *file, const char *secret)
{
	struct timespec tick = { 0, 1000000 }, window = { 0, LATE_WINDOW_MS * 1000000L };
	size_t len = sysconf(_SC_PAGESIZE);
	char *p;
	int fd;

	printf("{\"target\":\"late\",\"pid\":%d}\n", getpid());
	fflush(stdout);
	while (access(file, F_OK) != 0)
		nanosleep(&tick, NULL);
	fd = syscall(SYS_memfd_secret, 0);
	if (fd < 0 || ftruncate(fd, len)) {
		perror("ct-target: memfd_secret");
		return 1;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("ct-target: mmap");
		return 1;
	}
	memcpy(p, secret, strlen(secret) + 1);
	printf("{\"target\":\"late\",\"pid\":%d,\"region_fd\":%d,\"open\":true}\n", getpid(), fd);
	fflush(stdout);
	nanosleep(&window, NULL);
	close(fd);
	printf("{\"target\":\"late\",\"pid\":%d,\"region_fd\":%d,\"window_ms\":%d}\n",
	       getpid(), fd, LATE_WINDOW_MS);
	return 0;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	__atomic_store_n(&thread_id, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *secret = getenv("CT_SECRET");
	const char *role = "parent";
	struct rlimit nocore = { 0, 0 };
	bool fork_child = false, thread = false;
	sigset_t mask;
	pid_t child = -1;
	int sig;

	if (!secret || strncmp(secret, "CT-SECRET-", 10)) {
		fprintf(stderr, "ct-target: set CT_SECRET=CT-SECRET-...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fork") == 0)
			fork_child = true;
		else if (strcmp(argv[i], "--thread") == 0)
			thread = true;
		else if (strcmp(argv[i], "--keep-region-fd") == 0)
			keep_region_fd = true;
		else if (strcmp(argv[i], "--late-region") == 0 && i + 1 < argc)
			return late_region(argv[i + 1], secret);
	}
	setrlimit(RLIMIT_CORE, &nocore);
	touch_stack_up_to(secret);
	/* a shell starts background jobs with SIGINT and SIGQUIT ignored: the
	 * tests judge default dispositions */
	for (int s = 1; s < 32; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	setpgid(0, 0); /* its own process group: a group signal reaches it alone */
	secret_buf = strdup(secret);
	secret_region(secret);
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
	if (fork_child) {
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
	if (thread) {
		pthread_t t;

		if (pthread_create(&t, NULL, idle_thread, NULL)) {
			perror("ct-target: pthread_create");
			return 1;
		}
		while (!__atomic_load_n(&thread_id, __ATOMIC_SEQ_CST))
			usleep(1000);
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
