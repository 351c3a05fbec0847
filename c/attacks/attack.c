// SPDX-License-Identifier: Apache-2.0
/* ct-attack: one attack on another process's secrets, as root would try
 * it. Prints one JSON line:
 *   {"attack":"environ","pid":N,"result":"ok","bytes":K,"saw_secret":true}
 *   {"attack":"environ","pid":N,"result":"EPERM","errno":1}
 * Exit status: 0 the attack worked, 1 it was refused, 2 usage. (Under the
 * tracepoint fallback the enforcer kills it instead: status 128+9.)
 *
 *   ct-attack WHAT PID [ADDR [FD]]
 *
 * WHAT: environ maps smaps pagemap stack syscall map_files mem
 *       coredump_filter ptrace process_vm_readv process_vm_writev pidfd_getfd
 *       fd_reopen (open /proc/PID/fd/FD and read it)
 *       ptrace_seize (PTRACE_SEIZE + PTRACE_INTERRUPT, then PEEKDATA)
 *       task_environ, task_fd_reopen (PID is a thread id: the same through
 *       /proc/<tgid>/task/<tid>/)
 *       bpf_pinned (PID is a directory: opens every pinned object in it
 *       read-write and tries BPF_LINK_DETACH on each link)
 *       bpf_progs (PID is a program name: exit 1 when one of that name is
 *       loaded, 0 when none is)
 *       bpf_objects (PID ignored: asks a writable fd for every BPF map and
 *       link on the system by id; "EPERM" when any was refused)
 *       bpf_left (PID ignored: one JSON line per BPF map, link and program
 *       that still exists, with its type, name and the pids holding an fd
 *       to it; exit 0 when there is none, 1 when some are left)
 *       bpf_hold (PID ignored: creates a BPF map and holds its fd until
 *       killed: a real leftover, the control for bpf_left)
 * ADDR: address of the secret in the target (mem, ptrace, process_vm_*)
 * FD:   the target's fd to steal (pidfd_getfd)
 * Every PID may be a thread id: the kernel resolves it to the thread's
 * process, and so must the enforcer. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

static int read_proc(const char *entry)
{
	char path[64];
	long n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, entry);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return report_err("open", errno);
	while (total < (long)sizeof(buf) && (n = read(fd, buf + total, sizeof(buf) - total)) > 0)
		total += n;
	if (n < 0 && total == 0)
		return report_err("read", errno);
	close(fd);
	return report_ok(total);
}

static int read_mem(unsigned long addr)
{
	char path[64];
	long n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return report_err("open", errno);
	n = pread(fd, buf, 64, (off_t)addr);
	if (n < 0)
		return report_err("pread", errno);
	return report_ok(n);
}

static int list_map_files(void)
{
	char path[64];
	DIR *d;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%d/map_files", pid);
	d = opendir(path);
	if (!d)
		return report_err("opendir", errno);
	while (readdir(d))
		n++;
	closedir(d);
	return report_ok(n);
}

static int write_coredump_filter(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/coredump_filter", pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return report_err("open", errno);
	if (write(fd, "0x7f", 4) < 0)
		return report_err("write", errno);
	close(fd);
	return report_ok(0);
}

static int ptrace_peek(unsigned long addr)
{
	long word;
	int status;

	if (ptrace(PTRACE_ATTACH, pid, 0, 0))
		return report_err("PTRACE_ATTACH", errno);
	waitpid(pid, &status, __WALL);
	for (int i = 0; i < 4; i++) {
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, pid, addr + i * sizeof(long), 0);
		if (errno)
			return report_err("PTRACE_PEEKDATA", errno);
		memcpy(buf + i * sizeof(long), &word, sizeof(long));
	}
	ptrace(PTRACE_DETACH, pid, 0, 0);
	return report_ok(4 * sizeof(long));
}

/* SEIZE does not stop the target; INTERRUPT does, the way a debugger (or
 * a syscall injector) takes control. */
static int ptrace_seize(unsigned long addr)
{
	long word;
	int status;

	if (ptrace(PTRACE_SEIZE, pid, 0, 0))
		return report_err("PTRACE_SEIZE", errno);
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0))
		return report_err("PTRACE_INTERRUPT", errno);
	waitpid(pid, &status, __WALL);
	for (int i = 0; i < 4; i++) {
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, pid, addr + i * sizeof(long), 0);
		if (errno)
			return report_err("PTRACE_PEEKDATA", errno);
		memcpy(buf + i * sizeof(long), &word, sizeof(long));
	}
	ptrace(PTRACE_DETACH, pid, 0, 0);
	return report_ok(4 * sizeof(long));
}

/* The thread group of a thread id, as /proc/<tid>/status says. */
static int tgid_of(int tid)
{
	char path[64], line[128];
	int tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

static int read_task(const char *entry)
{
	char path[96];
	long n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", tgid_of(pid), pid, entry);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return report_err("open", errno);
	while (total < (long)sizeof(buf) && (n = pread(fd, buf + total, sizeof(buf) - total, total)) > 0)
		total += n;
	close(fd);
	return report_ok(total);
}

static int vm_rw(unsigned long addr, int write)
{
	struct iovec local = { .iov_base = buf, .iov_len = 32 };
	struct iovec remote = { .iov_base = (void *)addr, .iov_len = 32 };
	long n;

	if (write) {
		/* write back what is there (read by the same call's twin) so a
		 * control target keeps working; fall back to a marker */
		memcpy(buf, MARK "overwritten!!!!!!!!!!!!!", 32);
		n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
		if (n < 0)
			return report_err("process_vm_writev", errno);
		return report_ok(0);
	}
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return report_err("process_vm_readv", errno);
	return report_ok(n);
}

static int reopen_fd(int target_fd)
{
	char path[64];
	long n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, target_fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return report_err("open", errno);
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return report_err("pread", errno);
	return report_ok(n);
}

static int steal_fd(int target_fd)
{
	int pidfd, fd;
	long n;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 && (errno == EINVAL || errno == ENOENT)) /* a thread id: a thread pidfd (6.9+) */
		pidfd = syscall(SYS_pidfd_open, pid, O_EXCL /* PIDFD_THREAD */);
	if (pidfd < 0)
		return report_err("pidfd_open", errno);
	fd = syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
	if (fd < 0)
		return report_err("pidfd_getfd", errno);
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return report_err("pread", errno);
	return report_ok(n);
}

/* Asks for an fd of every object of one kind, by id, read-write. */
static void open_all(int next_cmd, int get_cmd, int *opened, int *denied, int *first_err)
{
	union bpf_attr attr;
	__u32 id = 0;

	for (;;) {
		int fd;

		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (syscall(SYS_bpf, next_cmd, &attr, sizeof(attr)))
			return; /* ENOENT: no more */
		id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		if (get_cmd == BPF_MAP_GET_FD_BY_ID)
			attr.map_id = id;
		else
			attr.link_id = id;
		fd = syscall(SYS_bpf, get_cmd, &attr, sizeof(attr));
		if (fd >= 0) {
			(*opened)++;
			close(fd);
		} else if (errno != ENOENT) { /* ENOENT: freed meanwhile */
			(*denied)++;
			if (!*first_err)
				*first_err = errno;
		}
	}
}

/* The pids with an fd whose fdinfo names "<key>:\t<id>" (map_id, prog_id,
 * link_id), as a JSON array into out. */
static void holders(const char *key, __u32 id, char *out, size_t size)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;
	size_t len = 0;
	char want[48];

	snprintf(want, sizeof(want), "%s:\t%u\n", key, id);
	len += snprintf(out + len, size - len, "[");
	while (proc && (p = readdir(proc)) != NULL) {
		char dir[300];
		DIR *fds;
		struct dirent *f;
		int found = 0;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(dir, sizeof(dir), "/proc/%s/fdinfo", p->d_name);
		fds = opendir(dir);
		while (fds && !found && (f = readdir(fds)) != NULL) {
			char path[600], info[512];
			ssize_t n;
			int fd;

			if (f->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, info, sizeof(info) - 1);
			close(fd);
			if (n <= 0)
				continue;
			info[n] = 0;
			found = strstr(info, want) != NULL;
		}
		if (fds)
			closedir(fds);
		if (found && len < size - 16)
			len += snprintf(out + len, size - len, "%s%s", len > 1 ? "," : "",
					p->d_name);
	}
	if (proc)
		closedir(proc);
	snprintf(out + len, size - len, "]");
}

/* Prints one line per object of one kind that still exists; returns how
 * many. Objects the caller may not open are still listed (by id). */
static int list_left(const char *kind, int next_cmd, int get_cmd, const char *key)
{
	union bpf_attr attr;
	__u32 id = 0;
	int left = 0;

	for (;;) {
		char name[BPF_OBJ_NAME_LEN + 1] = "", held[256];
		unsigned int type = 0;
		int fd;

		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (syscall(SYS_bpf, next_cmd, &attr, sizeof(attr)))
			return left;
		id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		if (get_cmd == BPF_MAP_GET_FD_BY_ID)
			attr.map_id = id;
		else if (get_cmd == BPF_PROG_GET_FD_BY_ID)
			attr.prog_id = id;
		else
			attr.link_id = id;
		fd = syscall(SYS_bpf, get_cmd, &attr, sizeof(attr));
		if (fd < 0 && errno == ENOENT)
			continue; /* freed meanwhile */
		if (fd >= 0) {
			union {
				struct bpf_map_info map;
				struct bpf_prog_info prog;
				struct bpf_link_info link;
			} info;

			memset(&info, 0, sizeof(info));
			memset(&attr, 0, sizeof(attr));
			attr.info.bpf_fd = fd;
			attr.info.info_len = sizeof(info);
			attr.info.info = (__u64)(unsigned long)&info;
			if (syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) == 0) {
				if (get_cmd == BPF_MAP_GET_FD_BY_ID) {
					type = info.map.type;
					memcpy(name, info.map.name, BPF_OBJ_NAME_LEN);
				} else if (get_cmd == BPF_PROG_GET_FD_BY_ID) {
					type = info.prog.type;
					memcpy(name, info.prog.name, BPF_OBJ_NAME_LEN);
				} else {
					type = info.link.type;
				}
			}
			close(fd);
		}
		holders(key, id, held, sizeof(held));
		printf("{\"left\":\"%s\",\"id\":%u,\"type\":%u,\"name\":\"%s\",\"opened\":%s,"
		       "\"held_by\":%s}\n",
		       kind, id, type, name, fd >= 0 ? "true" : "false", held);
		left++;
	}
}

static int bpf_left(void)
{
	int left = list_left("map", BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID, "map_id") +
		   list_left("link", BPF_LINK_GET_NEXT_ID, BPF_LINK_GET_FD_BY_ID, "link_id") +
		   list_left("prog", BPF_PROG_GET_NEXT_ID, BPF_PROG_GET_FD_BY_ID, "prog_id");

	return left ? 1 : 0;
}

static int bpf_hold(void)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	memcpy(attr.map_name, "ct_hold", sizeof("ct_hold"));
	fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		return report_err("map_create", errno);
	printf("{\"attack\":\"bpf_hold\",\"pid\":%d,\"result\":\"holding\",\"fd\":%d}\n",
	       (int)getpid(), fd);
	for (;;)
		pause();
}

/* Opens every object pinned in dir read-write; links it could open it
 * tries to detach. "EPERM" when any open was refused. */
static int bpf_pinned(const char *dir)
{
	int opened = 0, denied = 0, detached = 0, err = 0;
	union bpf_attr attr;
	struct dirent *d;
	char path[512];
	DIR *dh = opendir(dir);

	if (!dh)
		return report_err("opendir", errno);
	while ((d = readdir(dh))) {
		int fd;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		memset(&attr, 0, sizeof(attr));
		attr.pathname = (__u64)(unsigned long)path;
		fd = syscall(SYS_bpf, BPF_OBJ_GET, &attr, sizeof(attr));
		if (fd < 0) {
			denied++;
			err = err ?: errno;
			continue;
		}
		opened++;
		if (strncmp(d->d_name, "link_", 5) == 0) {
			memset(&attr, 0, sizeof(attr));
			attr.link_detach.link_fd = fd;
			if (syscall(SYS_bpf, BPF_LINK_DETACH, &attr, sizeof(attr)) == 0)
				detached++;
		}
		close(fd);
	}
	closedir(dh);
	printf("{\"attack\":\"bpf_pinned\",\"pid\":0,\"result\":\"%s\",\"opened\":%d,"
	       "\"denied\":%d,\"detached\":%d}\n",
	       err ? strerrorname_np(err) : "ok", opened, denied, detached);
	return err ? 1 : 0;
}

static int bpf_progs(const char *name)
{
	union bpf_attr attr;
	__u32 id = 0;

	for (;;) {
		struct bpf_prog_info info;
		int fd;

		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof(attr)))
			break;
		id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = id;
		fd = syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &attr, sizeof(attr));
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = fd;
		attr.info.info_len = sizeof(info);
		attr.info.info = (__u64)(unsigned long)&info;
		if (syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) == 0 &&
		    strncmp(info.name, name, sizeof(info.name)) == 0) {
			printf("{\"attack\":\"bpf_progs\",\"pid\":0,\"result\":\"loaded\",\"id\":%u}\n", id);
			close(fd);
			return 1;
		}
		close(fd);
	}
	printf("{\"attack\":\"bpf_progs\",\"pid\":0,\"result\":\"none\"}\n");
	return 0;
}

static int bpf_objects(void)
{
	int maps_opened = 0, maps_denied = 0, links_opened = 0, links_denied = 0, err = 0;

	open_all(BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID, &maps_opened, &maps_denied, &err);
	open_all(BPF_LINK_GET_NEXT_ID, BPF_LINK_GET_FD_BY_ID, &links_opened, &links_denied, &err);
	printf("{\"attack\":\"bpf_objects\",\"pid\":0,\"result\":\"%s\",\"maps_opened\":%d,"
	       "\"maps_denied\":%d,\"links_opened\":%d,\"links_denied\":%d}\n",
	       err ? strerrorname_np(err) : "ok", maps_opened, maps_denied, links_opened,
	       links_denied);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const char *const proc_entries[] = { "environ", "maps",	  "smaps",
						    "pagemap", "stack",	  "syscall" };
	unsigned long addr;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: ct-attack WHAT PID [ADDR [FD]]\n");
		return 2;
	}
	what = argv[1];
	if (strcmp(what, "bpf_pinned") == 0)
		return bpf_pinned(argv[2]);
	if (strcmp(what, "bpf_progs") == 0)
		return bpf_progs(argv[2]);
	pid = atoi(argv[2]);
	addr = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
	for (size_t i = 0; i < sizeof(proc_entries) / sizeof(*proc_entries); i++)
		if (strcmp(what, proc_entries[i]) == 0)
			return read_proc(what);
	if (strcmp(what, "map_files") == 0)
		return list_map_files();
	if (strcmp(what, "mem") == 0)
		return read_mem(addr);
	if (strcmp(what, "coredump_filter") == 0)
		return write_coredump_filter();
	if (strcmp(what, "ptrace") == 0)
		return ptrace_peek(addr);
	if (strcmp(what, "ptrace_seize") == 0)
		return ptrace_seize(addr);
	if (strcmp(what, "task_environ") == 0)
		return read_task("environ");
	if (strcmp(what, "task_fd_reopen") == 0) {
		char entry[32];

		snprintf(entry, sizeof(entry), "fd/%d", argc > 4 ? atoi(argv[4]) : 0);
		return read_task(entry);
	}
	if (strcmp(what, "process_vm_readv") == 0)
		return vm_rw(addr, 0);
	if (strcmp(what, "process_vm_writev") == 0)
		return vm_rw(addr, 1);
	if (strcmp(what, "bpf_objects") == 0)
		return bpf_objects();
	if (strcmp(what, "bpf_left") == 0)
		return bpf_left();
	if (strcmp(what, "bpf_hold") == 0)
		return bpf_hold();
	if (strcmp(what, "fd_reopen") == 0)
		return reopen_fd(argc > 4 ? atoi(argv[4]) : 0);
	if (strcmp(what, "pidfd_getfd") == 0)
		return steal_fd(argc > 4 ? atoi(argv[4]) : 0);
	fprintf(stderr, "ct-attack: unknown attack %s\n", what);
	return 2;
}
