// SPDX-License-Identifier: Apache-2.0
/* Pins: the programs' links and the maps live in bpffs under the pin
 * directory, so protection outlives the daemon (a crash, an OOM kill, a
 * `kill -9`, a DaemonSet rollout). A daemon that finds them adopts them and
 * the registrations in them instead of loading afresh; `--uninstall`
 * removes them on purpose. While it runs, the daemon watches the directory
 * and pins again whatever someone removed: the tracepoint tier cannot
 * refuse an unlink (the LSM tier does).
 *
 *   <pin dir>/map_protected  the registrations
 *   <pin dir>/map_events     the ring buffer (events while no daemon ran wait there)
 *   <pin dir>/map_conf       struct ct_config
 *   <pin dir>/link_<prog>    one per attached program
 *
 * Who may adopt or uninstall: the BPF side grants a writable fd for the
 * maps and the unlink of pins to the live daemon, or, while none runs, to a
 * process running the executable that installed them (inode and device). */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon.h"
#include "enforcer.skel.h"

#define BPF_FS_MAGIC 0xcafe4a11
#define DEFAULT_BPFFS "/sys/fs/bpf"

static bool on_bpffs(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && s.f_type == BPF_FS_MAGIC;
}

static void pin_path(char *out, size_t size, const char *dir, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

/* mkdir of the pin directory on a bpffs; mounts one on /sys/fs/bpf when
 * that is where the directory belongs and nothing is mounted there. */
int prepare_pin_dir(struct state *st)
{
	const char *dir = st->opt.pin_dir;
	char parent[PATH_MAX];
	struct stat s;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		log_msg(CT_ERROR, "pin dir %s: give an absolute path below a bpf filesystem", dir);
		return -EINVAL;
	}
	*slash = 0;
	if (!on_bpffs(dir) && !on_bpffs(parent)) {
		if (strcmp(parent, DEFAULT_BPFFS) ||
		    mount("bpf", DEFAULT_BPFFS, "bpf", 0, "mode=0700")) {
			log_msg(CT_ERROR, "%s is not on a bpf filesystem (mount -t bpf bpf %s)", dir,
				parent);
			return -ENOTSUP;
		}
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		log_msg(CT_ERROR, "mkdir %s failed: %s", dir, errname(errno));
		return -errno;
	}
	if (stat(dir, &s) || !on_bpffs(dir)) {
		log_msg(CT_ERROR, "pin dir %s is not on a bpf filesystem", dir);
		return -ENOTSUP;
	}
	st->pin_ino = s.st_ino;
	st->pin_dev = kernel_dev(s.st_dev);
	if (st->conf) {
		st->conf->pin_dir_ino = st->pin_ino;
		st->conf->pin_dev = st->pin_dev;
	}
	return 0;
}

bool pins_exist(const char *dir)
{
	char path[PATH_MAX];
	struct stat s;

	pin_path(path, sizeof(path), dir, "map_conf");
	return stat(path, &s) == 0;
}

static void add_obj(struct state *st, int fd, const char *name)
{
	if (st->nobjs >= (int)(sizeof(st->objs) / sizeof(*st->objs)))
		return;
	if (strlen(name) >= CT_PIN_NAME)
		return;
	st->objs[st->nobjs].fd = fd;
	memcpy(st->objs[st->nobjs].name, name, strlen(name) + 1);
	st->nobjs++;
}

static int pin_one(const struct state *st, const struct pinned *o)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), st->opt.pin_dir, o->name);
	unlink(path); /* a leftover of an install that did not finish */
	if (bpf_obj_pin(o->fd, path)) {
		log_msg(CT_ERROR, "pinning %s failed: %s", path, errname(errno));
		return -errno;
	}
	return 0;
}

/* Pins the maps and every link of a fresh load. */
int pin_all(struct state *st)
{
	struct bpf_program **progs = (struct bpf_program **)&st->skel->progs;
	struct bpf_link **links = (struct bpf_link **)&st->skel->links;
	size_t n = sizeof(st->skel->links) / sizeof(*links);
	char name[CT_PIN_NAME];
	int err;

	st->nobjs = 0;
	add_obj(st, st->protected_fd, "map_protected");
	add_obj(st, st->events_fd, "map_events");
	add_obj(st, st->conf_fd, "map_conf");
	for (size_t i = 0; i < n; i++) {
		if (!links[i])
			continue;
		snprintf(name, sizeof(name), "link_%s", bpf_program__name(progs[i]));
		add_obj(st, bpf_link__fd(links[i]), name);
	}
	for (int i = 0; i < st->nobjs; i++) {
		err = pin_one(st, &st->objs[i]);
		if (err)
			return err;
	}
	return 0;
}

/* The conf entry, read through a read-only fd (allowed to anyone). */
static int read_conf(const char *dir, struct ct_config *out)
{
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
	char path[PATH_MAX];
	__u32 key = 0;
	int fd, err = 0;

	pin_path(path, sizeof(path), dir, "map_conf");
	fd = bpf_obj_get_opts(path, &ro);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &key, out))
		err = -errno;
	close(fd);
	return err;
}

/* Whether `c` may be taken over by this process: the layout is ours, no
 * daemon runs, and this is the executable the BPF side will let in. */
static int check_takeover(const char *dir, const struct ct_config *c)
{
	unsigned long long ino;
	unsigned int dev;
	int err;

	if (c->layout != CT_LAYOUT) {
		log_msg(CT_ERROR, "the pins in %s have layout %u, this enforcer %u: run the binary "
			"that made them with --uninstall", dir, c->layout, CT_LAYOUT);
		return -EPROTO;
	}
	if (c->enforcer_tgid && kill(c->enforcer_tgid, 0) == 0) {
		log_msg(CT_ERROR, "the enforcer with pid %u still runs on the pins in %s",
			c->enforcer_tgid, dir);
		return -EBUSY;
	}
	err = exe_identity(&ino, &dev);
	if (err)
		return err;
	if (ino != c->enforcer_exe_ino || dev != c->enforcer_exe_dev) {
		log_msg(CT_ERROR, "the pins in %s were made by another executable (inode %llu): the "
			"kernel side lets only that one adopt or uninstall them", dir,
			c->enforcer_exe_ino);
		return -EPERM;
	}
	return 0;
}

/* Opens the conf map read-write, maps it and records this process as the
 * daemon: from here on the BPF side treats it as the enforcer. */
static int take_conf(const char *dir, struct ct_config **conf, int *conf_fd)
{
	char path[PATH_MAX];
	struct ct_config *c;
	int fd;

	pin_path(path, sizeof(path), dir, "map_conf");
	fd = bpf_obj_get(path);
	if (fd < 0) {
		log_msg(CT_ERROR, "opening %s read-write failed: %s", path, errname(errno));
		return -errno;
	}
	c = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		int err = -errno;

		log_msg(CT_ERROR, "mmap of %s failed: %s", path, errname(-err));
		close(fd);
		return err;
	}
	__atomic_store_n(&c->enforcer_tgid, getpid(), __ATOMIC_SEQ_CST);
	*conf = c;
	*conf_fd = fd;
	return 0;
}

static int get_pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		log_msg(CT_ERROR, "opening %s failed: %s", path, errname(errno));
	return fd < 0 ? -errno : fd;
}

/* Takes over the pins a previous daemon left: the same programs keep
 * running, the registrations in the map stay protected. */
int adopt_pins(struct state *st)
{
	const char *dir = st->opt.pin_dir;
	struct ct_config cur;
	struct dirent *d;
	bool lsm;
	DIR *dh;
	int err;

	err = read_conf(dir, &cur);
	if (err) {
		log_msg(CT_ERROR, "reading %s/map_conf failed: %s", dir, errname(-err));
		return err;
	}
	err = check_takeover(dir, &cur);
	if (err)
		return err;
	lsm = cur.flags & CT_CFG_LSM;
	if ((st->opt.tier == TIER_LSM && !lsm) || (st->opt.tier == TIER_FALLBACK && lsm)) {
		log_msg(CT_ERROR, "the pins in %s run the %s tier: --uninstall to change tiers", dir,
			lsm ? "lsm" : "tracepoint");
		return -EINVAL;
	}
	err = take_conf(dir, &st->conf, &st->conf_fd);
	if (err)
		return err;
	st->lsm = lsm;
	st->kfuncs = st->conf->flags & CT_CFG_KFUNCS;
	st->adopted = true;
	/* the mode and the allow list are this daemon's */
	if (st->opt.detect)
		__atomic_and_fetch(&st->conf->flags, ~CT_CFG_ENFORCE, __ATOMIC_SEQ_CST);
	else
		__atomic_or_fetch(&st->conf->flags, CT_CFG_ENFORCE, __ATOMIC_SEQ_CST);
	__atomic_store_n(&st->conf->nallow, 0, __ATOMIC_SEQ_CST);
	memcpy(st->conf->allow, st->opt.allow, sizeof(st->conf->allow));
	__atomic_store_n(&st->conf->nallow, st->opt.nallow, __ATOMIC_SEQ_CST);

	st->protected_fd = get_pinned(dir, "map_protected");
	st->events_fd = get_pinned(dir, "map_events");
	if (st->protected_fd < 0 || st->events_fd < 0)
		return st->protected_fd < 0 ? st->protected_fd : st->events_fd;
	st->nobjs = 0;
	add_obj(st, st->protected_fd, "map_protected");
	add_obj(st, st->events_fd, "map_events");
	add_obj(st, st->conf_fd, "map_conf");
	dh = opendir(dir);
	if (!dh)
		return -errno;
	while ((d = readdir(dh))) {
		int fd;

		if (strncmp(d->d_name, "link_", 5))
			continue;
		fd = get_pinned(dir, d->d_name);
		if (fd >= 0)
			add_obj(st, fd, d->d_name);
	}
	closedir(dh);
	return prepare_pin_dir(st);
}

/* Waits up to `ms` for a process to exit. */
static bool wait_exit(unsigned int pid, int ms)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	struct pollfd pfd;
	bool gone;

	if (pidfd < 0)
		return errno == ESRCH;
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	gone = poll(&pfd, 1, ms) == 1;
	close(pidfd);
	return gone;
}

/* --uninstall: stops a running daemon (SIGTERM), takes the pins over and
 * removes them; the programs are detached and freed once this process, the
 * last holder, exits. */
int uninstall_pins(const struct options *opt)
{
	const char *dir = opt->pin_dir;
	struct ct_config cur, *conf;
	int conf_fd, removed = 0, err;
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dh;

	if (!pins_exist(dir)) {
		printf("{\"event\":\"uninstalled\",\"removed\":0,\"note\":\"nothing pinned\"}\n");
		return 0;
	}
	err = read_conf(dir, &cur);
	if (err) {
		log_msg(CT_ERROR, "reading %s/map_conf failed: %s", dir, errname(-err));
		return err;
	}
	if (cur.enforcer_tgid && kill(cur.enforcer_tgid, 0) == 0) {
		log_msg(CT_INFO, "stopping the enforcer with pid %u", cur.enforcer_tgid);
		if (kill(cur.enforcer_tgid, SIGTERM) && errno != ESRCH)
			return -errno;
		if (!wait_exit(cur.enforcer_tgid, 10000)) {
			log_msg(CT_ERROR, "the enforcer with pid %u did not exit", cur.enforcer_tgid);
			return -EBUSY;
		}
		cur.enforcer_tgid = 0;
	}
	err = check_takeover(dir, &cur);
	if (!err)
		err = take_conf(dir, &conf, &conf_fd);
	if (err)
		return err;
	dh = opendir(dir);
	if (!dh)
		return -errno;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		pin_path(path, sizeof(path), dir, d->d_name);
		if (unlink(path)) {
			log_msg(CT_ERROR, "unlink %s failed: %s", path, errname(errno));
			err = -errno;
		} else {
			removed++;
		}
	}
	closedir(dh);
	if (!err && rmdir(dir)) {
		log_msg(CT_WARNING, "rmdir %s failed: %s", dir, errname(errno));
	}
	munmap(conf, sysconf(_SC_PAGESIZE));
	close(conf_fd);
	printf("{\"event\":\"uninstalled\",\"removed\":%d}\n", removed);
	return err;
}

/* ---- keeping the pins ---------------------------------------------------- */

int watch_pins(struct state *st)
{
	if (st->inotify_fd < 0)
		st->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (st->inotify_fd < 0)
		return -errno;
	st->pin_watch = inotify_add_watch(st->inotify_fd, st->opt.pin_dir,
					  IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |
						  IN_MOVE_SELF | IN_UNMOUNT);
	return st->pin_watch < 0 ? -errno : 0;
}

/* Someone removed pins (or the directory, or unmounted its bpffs): pin
 * again from the fds this daemon holds. */
void repin(struct state *st)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char path[PATH_MAX];
	bool rewatch = false;
	struct stat s;
	ssize_t n;

	while ((n = read(st->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
				rewatch = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (rewatch && prepare_pin_dir(st) == 0)
		watch_pins(st);
	for (int i = 0; i < st->nobjs; i++) {
		pin_path(path, sizeof(path), st->opt.pin_dir, st->objs[i].name);
		if (stat(path, &s) == 0)
			continue;
		if (pin_one(st, &st->objs[i]) == 0)
			printf("{\"event\":\"repinned\",\"name\":\"%s\"}\n", st->objs[i].name);
	}
	fflush(stdout);
}
