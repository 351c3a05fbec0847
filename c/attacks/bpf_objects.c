/* ct-attack's vectors on BPF objects (probe surface only): the
 * enforcer's own maps, links and pins must stay out of root's reach, and
 * after --uninstall nothing may be left. Each prints its own line.
 *
 *   bpf_pinned DIR   opens every object pinned in DIR read-write and tries
 *                    BPF_LINK_DETACH on each link ("EPERM" when any open
 *                    was refused)
 *   bpf_progs NAME   exit 1 when a program of that name is loaded, 0 when
 *                    none is
 *   bpf_objects      asks a writable fd for every BPF map and link on the
 *                    system by id ("EPERM" when any was refused)
 *   bpf_left         one line per BPF map, link and program that still
 *                    exists, with its type, name and the pids holding an fd
 *                    to it; exit 0 when there is none, 1 when some are left
 *   bpf_hold         creates a BPF map and holds its fd until killed: a
 *                    real leftover, the control for bpf_left */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attack.h"

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

int v_bpf_left(void)
{
	int left = list_left("map", BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID, "map_id") +
		   list_left("link", BPF_LINK_GET_NEXT_ID, BPF_LINK_GET_FD_BY_ID, "link_id") +
		   list_left("prog", BPF_PROG_GET_NEXT_ID, BPF_PROG_GET_FD_BY_ID, "prog_id");

	return left ? 1 : 0;
}

int v_bpf_hold(void)
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
	if (fd < 0) {
		refused("map_create", errno);
		return finish();
	}
	printf("{\"attack\":\"bpf_hold\",\"pid\":%d,\"result\":\"holding\",\"fd\":%d}\n",
	       (int)getpid(), fd);
	for (;;)
		pause();
}

/* Opens every object pinned in dir read-write; links it could open it
 * tries to detach. "EPERM" when any open was refused. */
int v_bpf_pinned(void)
{
	int opened = 0, denied = 0, detached = 0, err = 0;
	union bpf_attr attr;
	struct dirent *d;
	char path[512];
	const char *dir = attack.target;
	DIR *dh = opendir(dir);

	if (!dh) {
		refused("opendir", errno);
		return finish();
	}
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
	       err ? ename(err) : "ok", opened, denied, detached);
	return err ? 1 : 0;
}

int v_bpf_progs(void)
{
	const char *name = attack.target;
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

int v_bpf_objects(void)
{
	int maps_opened = 0, maps_denied = 0, links_opened = 0, links_denied = 0, err = 0;

	open_all(BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID, &maps_opened, &maps_denied, &err);
	open_all(BPF_LINK_GET_NEXT_ID, BPF_LINK_GET_FD_BY_ID, &links_opened, &links_denied, &err);
	printf("{\"attack\":\"bpf_objects\",\"pid\":0,\"result\":\"%s\",\"maps_opened\":%d,"
	       "\"maps_denied\":%d,\"links_opened\":%d,\"links_denied\":%d}\n",
	       err ? ename(err) : "ok", maps_opened, maps_denied, links_opened,
	       links_denied);
	return err ? 1 : 0;
}
