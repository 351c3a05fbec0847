// SPDX-License-Identifier: Apache-2.0
/* cloudtaser-enforcer: loads the BPF LSM programs (or, where the kernel
 * refuses trampoline programs, the tracepoint detect-and-kill fallback),
 * pins them, protects processes that register on a unix socket, and prints
 * every denial as a JSON line on stdout.
 *
 *   cloudtaser-enforcer [--mode enforce|detect] [--tier auto|lsm|fallback]
 *                       [--socket-mode 0666] [--pin-dir DIR]
 *                       [--allow KINDS:MATCH]... [--verbose] [SOCKET]
 *   cloudtaser-enforcer --uninstall [--pin-dir DIR]
 *
 * Registration protocol: a client connects to SOCKET (default
 * /run/cloudtaser/enforcer.sock) and sends nothing. The daemon reads the
 * peer's pid with SO_PEERCRED (a pid in the daemon's namespace: run it with
 * hostPID), protects that process and every process it forks afterwards,
 * answers one JSON line and closes the connection:
 *   {"registered":true,"pid":N,"mode":"enforce","lsm":true}
 *   {"registered":false,"pid":N,"error":"..."}
 * The entry is keyed on the pid, outlives the connection (and exec), and
 * the kernel side deletes it when the last thread of the process exits.
 *
 * The programs and maps are pinned under the pin directory (default
 * /sys/fs/bpf/cloudtaser): SIGINT/SIGTERM or a crash leave protection in
 * place, a restarted daemon adopts the pins and their registrations, and
 * --uninstall removes them (pins.c).
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "ct/errname.h"
#include "daemon.h"
#include "enforcer.skel.h"

#define CGROUP2_SUPER_MAGIC 0x63677270

/* ---- output ------------------------------------------------------------ */

void log_msg(enum ct_level level, const char *fmt, ...)
{
	char msg[512], line[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stderr); /* libbpf's own messages, in order */
	n = ct_log_format(line, sizeof(line), !isatty(STDERR_FILENO), "cloudtaser-enforcer",
			  level, NULL, msg);
	ct_log_write(STDERR_FILENO, line, n);
}

const char *errname(int err)
{
	static char unknown[24]; /* one thread */

	return ct_errname_in(err, unknown, sizeof(unknown));
}

/* Writes s as a JSON string (quotes included) into out. */
void json_string(char *out, size_t size, const char *s, size_t max)
{
	size_t o = 0;

	if (size < 3)
		return;
	out[o++] = '"';
	for (size_t i = 0; i < max && s[i] && o + 8 < size; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			o += snprintf(out + o, size - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += snprintf(out + o, size - o, "\\u%04x", c);
		else
			out[o++] = c;
	}
	out[o++] = '"';
	out[o] = 0;
}

static const char *mode_name(const struct state *st)
{
	return st->conf->flags & CT_CFG_ENFORCE ? "enforce" : "detect";
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static const char *action_name(unsigned int action)
{
	switch (action) {
	case CT_ACTION_DENIED: return "denied";
	case CT_ACTION_KILLED: return "killed";
	case CT_ACTION_LOGGED: return "logged";
	case CT_ACTION_NEUTRALIZED: return "neutralized";
	default: return "none";
	}
}

static const char *bpf_cmd_name(unsigned int cmd)
{
	switch (cmd) {
	case BPF_PROG_LOAD: return "bpf_prog_load";
	case BPF_OBJ_GET: return "bpf_obj_get";
	case BPF_PROG_ATTACH: return "bpf_prog_attach";
	case BPF_MAP_GET_FD_BY_ID: return "map_get_fd_by_id";
	case BPF_LINK_GET_FD_BY_ID: return "link_get_fd_by_id";
	case BPF_RAW_TRACEPOINT_OPEN: return "bpf_raw_tracepoint_open";
	case BPF_LINK_CREATE: return "bpf_link_create";
	case BPF_LINK_UPDATE: return "bpf_link_update";
	default: return "bpf";
	}
}

static const char *syscall_name(int nr)
{
	switch (nr) {
	case SYS_unlink:
	case SYS_unlinkat: return "unlink";
	case SYS_rmdir: return "rmdir";
	case SYS_rename:
	case SYS_renameat:
	case SYS_renameat2: return "rename";
	case SYS_umount2: return "umount";
	case SYS_io_uring_setup: return "setup";
	case SYS_io_uring_enter: return "enter";
	case SYS_io_uring_register: return "register";
	default: return "other";
	}
}

/* What the accessor tried, from the event's kind and syscall number. */
static void describe(const struct ct_event *e, char *out, size_t size)
{
	char name[CT_NAME_LEN + 1];
	const char *sig = sigabbrev_np(e->detail) ?: "?";

	memcpy(name, e->name, CT_NAME_LEN);
	name[CT_NAME_LEN] = 0;
	switch (e->what) {
	case CT_WHAT_OPEN: snprintf(out, size, "open:%s", name); return;
	case CT_WHAT_WRITE: snprintf(out, size, "write:%s", name); return;
	case CT_WHAT_BPF: snprintf(out, size, "bpf:%s", bpf_cmd_name(e->detail)); return;
	case CT_WHAT_SIGNAL:
		snprintf(out, size, "%s:SIG%s", name[0] ? name : "signal", sig);
		return;
	case CT_WHAT_SIGIO: snprintf(out, size, "fcntl:F_SETSIG:SIG%s", sig); return;
	case CT_WHAT_TRACING: snprintf(out, size, "tracing:%s", bpf_cmd_name(e->detail)); return;
	case CT_WHAT_PERF: snprintf(out, size, "tracing:perf_event_open"); return;
	case CT_WHAT_TRACEFS: snprintf(out, size, "tracing:tracefs:%s", name); return;
	case CT_WHAT_IO_URING:
		snprintf(out, size, "io_uring:%s",
			 e->syscall_nr < 0 ? "submit" : syscall_name(e->syscall_nr));
		return;
	case CT_WHAT_PIN: snprintf(out, size, "pin:%s", syscall_name(e->syscall_nr)); return;
	case CT_WHAT_PTRACE: break;
	default: snprintf(out, size, "other"); return;
	}
	switch (e->syscall_nr) {
	case SYS_ptrace: snprintf(out, size, "ptrace_attach"); return;
	case SYS_process_vm_readv: snprintf(out, size, "process_vm_readv"); return;
	case SYS_process_vm_writev: snprintf(out, size, "process_vm_writev"); return;
	case SYS_pidfd_getfd: snprintf(out, size, "pidfd_getfd"); return;
	case SYS_open:
	case SYS_openat:
	case SYS_openat2: snprintf(out, size, "ptrace_check:open"); return;
	case SYS_readlink:
	case SYS_readlinkat: snprintf(out, size, "ptrace_check:readlink"); return;
	case SYS_perf_event_open: snprintf(out, size, "ptrace_check:perf_event_open"); return;
	default: snprintf(out, size, "ptrace_check:syscall_%d", e->syscall_nr); return;
	}
}

static const char *neutral_name(unsigned int n)
{
	switch (n) {
	case CT_NEUTRAL_CONT: return "sigcont";
	case CT_NEUTRAL_KILL: return "sigkill";
	case CT_NEUTRAL_FAILED: return "failed";
	default: return "none";
	}
}

/* The fallback kills a ptrace attacker at sys_enter, but PTRACE_ATTACH
 * still runs and queues SIGSTOP to the target. Once the attacker is dead
 * (and so detached), SIGCONT undoes that stop. */
static void resume_after_attach(unsigned int attacker, unsigned int target)
{
	int pidfd = syscall(SYS_pidfd_open, attacker, 0);

	if (pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 1000) != 1)
			log_msg(CT_WARNING, "attacker %u still alive after 1 s", attacker);
		close(pidfd);
	} /* ESRCH: already gone */
	if (kill(target, SIGCONT) && errno != ESRCH) /* ESRCH: the target exited */
		log_msg(CT_WARNING, "kill(%u, SIGCONT) failed: %s", target, errname(errno));
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct ct_event *e = data;
	char comm[CT_COMM_LEN * 6 + 3], what[80], more[96] = "";

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	json_string(comm, sizeof(comm), e->comm, CT_COMM_LEN);
	if (e->what == CT_WHAT_RELEASED) {
		printf("{\"event\":\"released\",\"pid\":%u}\n", e->target_pid);
		return 0;
	}
	if (e->what == CT_WHAT_INHERITED) {
		printf("{\"event\":\"inherited\",\"pid\":%u,\"parent\":%u}\n", e->target_pid,
		       e->detail);
		return 0;
	}
	describe(e, what, sizeof(what));
	if (e->what == CT_WHAT_SIGNAL && e->action == CT_ACTION_NEUTRALIZED)
		snprintf(more, sizeof(more), ",\"signal\":%u,\"target_action\":\"%s\"", e->detail,
			 neutral_name(e->extra));
	else if (e->what == CT_WHAT_SIGNAL || e->what == CT_WHAT_SIGIO)
		snprintf(more, sizeof(more), ",\"signal\":%u", e->detail);
	else if (e->what == CT_WHAT_TRACING)
		snprintf(more, sizeof(more), ",\"prog_type\":%u", e->extra);
	else if (e->what == CT_WHAT_IO_URING && e->syscall_nr < 0)
		snprintf(more, sizeof(more), ",\"opcode\":%u", e->detail);
	printf("{\"event\":\"denial\",\"action\":\"%s\",\"accessor\":{\"pid\":%u,\"tid\":%u,"
	       "\"comm\":%s},\"target\":%u,\"what\":\"%s\",\"syscall\":%d%s}\n",
	       action_name(e->action), e->accessor_pid, e->accessor_tid, comm, e->target_pid, what,
	       e->syscall_nr, more);
	/* the stop PTRACE_ATTACH queued is undone in the target when it takes
	 * it; one taken while the attacker still held it is undone here */
	if (e->action == CT_ACTION_KILLED && e->syscall_nr == SYS_ptrace &&
	    e->what == CT_WHAT_PTRACE)
		resume_after_attach(e->accessor_pid, e->target_pid);
	return 0;
}

/* ---- registration ------------------------------------------------------ */

/* Protects pid. Registered processes are counted (the kernel side refuses
 * tracing and io_uring only while the count is not zero); the daemon's own
 * entry is not. */
static int protect_pid(struct state *st, unsigned int pid, unsigned int flags)
{
	struct ct_protected v = { .group = pid, .flags = flags };

	if (bpf_map_update_elem(st->protected_fd, &pid, &v, BPF_NOEXIST) == 0) {
		if (!(flags & CT_PROT_ENFORCER))
			__atomic_add_fetch(&st->conf->nprotected, 1, __ATOMIC_SEQ_CST);
		return 0;
	}
	/* already protected (a member of a registered tree registers again):
	 * keep its group so the tree can still inspect it */
	return errno == EEXIST ? 0 : -errno;
}

static void unprotect_pid(struct state *st, unsigned int pid)
{
	if (bpf_map_delete_elem(st->protected_fd, &pid) == 0)
		__atomic_sub_fetch(&st->conf->nprotected, 1, __ATOMIC_SEQ_CST);
}

static void answer(int fd, const char *line)
{
	size_t len = strlen(line);

	/* the client may be gone; MSG_NOSIGNAL keeps EPIPE an error code */
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
		log_msg(CT_WARNING, "send of the registration answer failed: %s", errname(errno));
}

/* One client: read its pid, protect it, answer, close. The pidfd taken
 * before the map update tells whether the process exited meanwhile (its
 * exit would have run before the entry existed, leaving a stale pid). */
static void register_client(struct state *st, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char line[256];
	struct pollfd pfd;
	int pidfd, err;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		log_msg(CT_WARNING, "getsockopt(SO_PEERCRED) failed: %s", errname(errno));
		return;
	}
	pidfd = syscall(SYS_pidfd_open, cred.pid, 0);
	if (pidfd < 0) {
		snprintf(line, sizeof(line), "{\"registered\":false,\"pid\":%d,\"error\":\"pidfd_open: %s\"}\n",
			 cred.pid, errname(errno));
		answer(fd, line);
		return;
	}
	err = protect_pid(st, cred.pid, 0);
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	if (err == 0 && poll(&pfd, 1, 0) == 1) {
		unprotect_pid(st, cred.pid);
		err = -ESRCH;
	}
	close(pidfd);
	if (err) {
		snprintf(line, sizeof(line), "{\"registered\":false,\"pid\":%d,\"error\":\"%s\"}\n",
			 cred.pid, errname(-err));
		answer(fd, line);
		return;
	}
	snprintf(line, sizeof(line), "{\"registered\":true,\"pid\":%d,\"mode\":\"%s\",\"lsm\":%s}\n",
		 cred.pid, mode_name(st), st->lsm ? "true" : "false");
	answer(fd, line);
	printf("{\"event\":\"registered\",\"pid\":%d,\"uid\":%u}\n", cred.pid, cred.uid);
}

static void accept_clients(struct state *st)
{
	int fd;

	while ((fd = accept4(st->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		register_client(st, fd);
		close(fd);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
		log_msg(CT_WARNING, "accept4 failed: %s", errname(errno));
}

/* mkdir -p of the socket's directory */
static void make_parent_dirs(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0755) && errno != EEXIST)
			log_msg(CT_WARNING, "mkdir %s failed: %s", dir, errname(errno));
		*p = '/';
	}
}

static int open_socket(struct state *st)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = st->opt.socket_path;
	int fd, probe;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_msg(CT_ERROR, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	make_parent_dirs(path);
	/* a live enforcer answers; a stale socket file is removed */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(probe);
		log_msg(CT_ERROR, "another enforcer listens on %s", path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	if (unlink(path) && errno != ENOENT)
		log_msg(CT_WARNING, "unlink %s failed: %s", path, errname(errno));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_msg(CT_ERROR, "socket failed: %s", errname(errno));
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || chmod(path, st->opt.socket_mode) ||
	    listen(fd, 64)) {
		int err = -errno;

		log_msg(CT_ERROR, "bind/chmod/listen on %s failed: %s", path, errname(-err));
		close(fd);
		return err;
	}
	st->listen_fd = fd;
	return 0;
}

/* ---- main loop --------------------------------------------------------- */

/* The pid SO_PEERCRED reports is in the daemon's pid namespace; the BPF
 * side keys on initial-namespace tgids. Refuse to run anywhere else. */
static bool in_initial_pid_namespace(void)
{
	char line[256];
	bool initial = true;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return true; /* no procfs: cannot tell, assume the host */
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "NSpid:", 6) == 0)
			initial = strchr(line + 7, '\t') == NULL && strchr(line + 7, ' ') == NULL;
	fclose(f);
	return initial;
}

static int setup_loop(struct state *st)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) ||
	    (st->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0 ||
	    (st->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_msg(CT_ERROR, "signalfd/epoll setup failed: %s", errname(errno));
		return -errno;
	}
	st->rb = ring_buffer__new(st->events_fd, handle_event, st, NULL);
	if (!st->rb) {
		log_msg(CT_ERROR, "ring_buffer__new failed: %s", errname(errno));
		return -errno;
	}
	ev.data.fd = st->signal_fd;
	if (epoll_ctl(st->epoll_fd, EPOLL_CTL_ADD, st->signal_fd, &ev))
		return -errno;
	ev.data.fd = st->listen_fd;
	if (epoll_ctl(st->epoll_fd, EPOLL_CTL_ADD, st->listen_fd, &ev))
		return -errno;
	ev.data.fd = ring_buffer__epoll_fd(st->rb);
	if (epoll_ctl(st->epoll_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(st->rb), &ev))
		return -errno;
	ev.data.fd = st->inotify_fd;
	if (epoll_ctl(st->epoll_fd, EPOLL_CTL_ADD, st->inotify_fd, &ev))
		return -errno;
	return 0;
}

static int run_loop(struct state *st)
{
	struct epoll_event evs[4];
	struct signalfd_siginfo si;

	for (;;) {
		int n = epoll_wait(st->epoll_fd, evs, 4, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_msg(CT_ERROR, "epoll_wait failed: %s", errname(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == st->listen_fd) {
				accept_clients(st);
			} else if (evs[i].data.fd == st->signal_fd) {
				if (read(st->signal_fd, &si, sizeof(si)) == sizeof(si))
					log_msg(CT_INFO, "signal %u: exiting; protection stays pinned "
						"in %s (--uninstall removes it)", si.ssi_signo,
						st->opt.pin_dir);
				ring_buffer__consume(st->rb);
				return 0;
			} else if (evs[i].data.fd == st->inotify_fd) {
				repin(st);
			} else {
				ring_buffer__consume(st->rb);
			}
		}
		fflush(stdout);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: cloudtaser-enforcer [--mode enforce|detect] [--tier auto|lsm|fallback]\n"
		   "                           [--socket-mode OCTAL] [--pin-dir DIR]\n"
		   "                           [--allow KINDS:MATCH]... [--verbose] [SOCKET]\n"
		   "       cloudtaser-enforcer --uninstall [--pin-dir DIR]\n"
		   "SOCKET defaults to " DEFAULT_SOCKET ", DIR to " DEFAULT_PIN_DIR ".\n"
		   "KINDS: tracing, io_uring or both (tracing,io_uring); MATCH: exe=PATH and/or\n"
		   "cgroup=PATH (a cgroup v2 directory; its descendants match too), comma-separated.\n");
}

/* One --allow: "KINDS:exe=PATH,cgroup=PATH". The executable is matched by
 * inode and device, the cgroup by its v2 id (or an ancestor's). */
static int parse_allow(const char *spec, struct ct_allow *a)
{
	char buf[2 * PATH_MAX], *fields, *save = NULL;
	struct statfs fs;
	struct stat s;

	*a = (struct ct_allow){ 0 };
	snprintf(buf, sizeof(buf), "%s", spec);
	fields = strchr(buf, ':');
	if (!fields) {
		log_msg(CT_ERROR, "--allow %s: expected KINDS:MATCH", spec);
		return -1;
	}
	*fields++ = 0;
	for (char *k = strtok_r(buf, ",+", &save); k; k = strtok_r(NULL, ",+", &save)) {
		if (strcmp(k, "tracing") == 0) {
			a->kinds |= CT_ALLOW_TRACING;
		} else if (strcmp(k, "io_uring") == 0) {
			a->kinds |= CT_ALLOW_IO_URING;
		} else {
			log_msg(CT_ERROR, "--allow %s: unknown kind %s (tracing, io_uring)", spec, k);
			return -1;
		}
	}
	for (char *f = strtok_r(fields, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		if (strncmp(f, "exe=", 4) == 0) {
			if (stat(f + 4, &s) || !S_ISREG(s.st_mode)) {
				log_msg(CT_ERROR, "--allow %s: %s is no executable file", spec, f + 4);
				return -1;
			}
			a->ino = s.st_ino;
			a->dev = kernel_dev(s.st_dev);
		} else if (strncmp(f, "cgroup=", 7) == 0) {
			if (statfs(f + 7, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC || stat(f + 7, &s)) {
				log_msg(CT_ERROR, "--allow %s: %s is no cgroup v2 directory", spec, f + 7);
				return -1;
			}
			a->cgroup = s.st_ino; /* a cgroup2 directory's inode is its id */
		} else {
			log_msg(CT_ERROR, "--allow %s: unknown match %s (exe=, cgroup=)", spec, f);
			return -1;
		}
	}
	if (!a->kinds || (!a->ino && !a->cgroup)) {
		log_msg(CT_ERROR, "--allow %s: needs a kind and exe= and/or cgroup=", spec);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct options *opt)
{
	static const struct option longs[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "tier", required_argument, NULL, 't' },
		{ "socket-mode", required_argument, NULL, 's' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "allow", required_argument, NULL, 'a' },
		{ "uninstall", no_argument, NULL, 'u' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*opt = (struct options){ .socket_path = DEFAULT_SOCKET,
				 .socket_mode = 0666,
				 .pin_dir = DEFAULT_PIN_DIR };
	while ((c = getopt_long(argc, argv, "m:t:s:p:a:uvh", longs, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "enforce") && strcmp(optarg, "detect"))
				return -1;
			opt->detect = strcmp(optarg, "detect") == 0;
			break;
		case 't':
			if (strcmp(optarg, "auto") == 0)
				opt->tier = TIER_AUTO;
			else if (strcmp(optarg, "lsm") == 0)
				opt->tier = TIER_LSM;
			else if (strcmp(optarg, "fallback") == 0)
				opt->tier = TIER_FALLBACK;
			else
				return -1;
			break;
		case 's': opt->socket_mode = strtoul(optarg, NULL, 8) & 07777; break;
		case 'p':
			if (optarg[0] != '/' || strlen(optarg) >= PATH_MAX - CT_PIN_NAME)
				return -1;
			opt->pin_dir = optarg;
			break;
		case 'a':
			if (opt->nallow >= CT_MAX_ALLOW) {
				log_msg(CT_ERROR, "at most %d --allow entries", CT_MAX_ALLOW);
				return -1;
			}
			if (parse_allow(optarg, &opt->allow[opt->nallow++]))
				return -1;
			break;
		case 'u': opt->uninstall = true; break;
		case 'v': opt->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind < argc)
		opt->socket_path = argv[optind++];
	return optind == argc ? 0 : -1;
}

/* A fresh load that failed after pinning must not leave a half install. */
static void unpin_partial(struct state *st)
{
	char path[PATH_MAX];

	for (int i = 0; i < st->nobjs; i++) {
		snprintf(path, sizeof(path), "%s/%s", st->opt.pin_dir, st->objs[i].name);
		unlink(path);
	}
	rmdir(st->opt.pin_dir);
}

static void print_ready(const struct state *st)
{
	char reason[sizeof(st->lsm_error) * 6 + 3], sock[108 * 6 + 3], pins[PATH_MAX * 6 + 3];
	char missing[sizeof(st->hooks_missing) * 6 + 3];

	json_string(reason, sizeof(reason), st->lsm_error, sizeof(st->lsm_error));
	json_string(sock, sizeof(sock), st->opt.socket_path, 108);
	json_string(pins, sizeof(pins), st->opt.pin_dir, PATH_MAX);
	json_string(missing, sizeof(missing), st->hooks_missing, sizeof(st->hooks_missing));
	printf("{\"event\":\"ready\",\"pid\":%d,\"mode\":\"%s\",\"lsm\":%s,\"tier\":\"%s\","
	       "\"socket\":%s,\"pin_dir\":%s,\"adopted\":%s,\"registrations\":%lld,"
	       "\"kfuncs\":%s,\"hooks_missing\":%s%s%s}\n",
	       getpid(), mode_name(st), st->lsm ? "true" : "false",
	       st->lsm ? "lsm" : "tracepoint-kill", sock, pins, st->adopted ? "true" : "false",
	       __atomic_load_n(&st->conf->nprotected, __ATOMIC_SEQ_CST),
	       !st->lsm && st->kfuncs ? "true" : "false", missing,
	       st->lsm || st->adopted ? "" : ",\"lsm_unavailable\":",
	       st->lsm || st->adopted ? "" : reason);
}

int main(int argc, char **argv)
{
	struct state st = { .listen_fd = -1, .signal_fd = -1, .epoll_fd = -1,
			    .inotify_fd = -1, .protected_fd = -1, .events_fd = -1,
			    .conf_fd = -1 };
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv, &st.opt)) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(st.opt.verbose ? libbpf_print : libbpf_quiet);
	if (!in_initial_pid_namespace()) {
		log_msg(CT_ERROR, "not in the initial pid namespace: run with hostPID");
		return 1;
	}
	if (st.opt.uninstall)
		return uninstall_pins(&st.opt) ? 1 : 0;

	if (pins_exist(st.opt.pin_dir)) {
		err = adopt_pins(&st);
	} else {
		err = prepare_pin_dir(&st);
		if (!err)
			err = load_enforcer(&st);
		if (!err)
			err = pin_all(&st);
	}
	if (err)
		goto cleanup;
	err = protect_pid(&st, getpid(), CT_PROT_ENFORCER); /* its fds are the keys */
	if (err) {
		log_msg(CT_ERROR, "protecting the enforcer itself failed: %s", errname(-err));
		goto cleanup;
	}
	err = open_socket(&st);
	if (!err)
		err = watch_pins(&st);
	if (!err)
		err = setup_loop(&st);
	if (err)
		goto cleanup;
	print_ready(&st);
	ring_buffer__consume(st.rb); /* what happened while no daemon ran */
	err = run_loop(&st);

cleanup:
	if (err && st.skel && !st.adopted)
		unpin_partial(&st);
	if (st.listen_fd >= 0) {
		close(st.listen_fd);
		unlink(st.opt.socket_path);
	}
	ring_buffer__free(st.rb);
	/* the links stay attached through their pins */
	enforcer_bpf__destroy(st.skel);
	if (st.epoll_fd >= 0)
		close(st.epoll_fd);
	if (st.signal_fd >= 0)
		close(st.signal_fd);
	return err ? 1 : 0;
}
