// SPDX-License-Identifier: Apache-2.0
/* cloudtaser-enforcer: loads the BPF LSM programs (or, where the kernel
 * refuses trampoline programs, the tracepoint detect-and-kill fallback),
 * protects processes that register on a unix socket, and prints every
 * denial as a JSON line on stdout.
 *
 *   cloudtaser-enforcer [--mode enforce|detect] [--tier auto|lsm|fallback]
 *                       [--socket-mode 0666] [SOCKET]
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
 * Runs until SIGINT/SIGTERM; nothing is pinned, so exiting detaches all.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "enforcer.h"
#include "enforcer.skel.h"

#define DEFAULT_SOCKET "/run/cloudtaser/enforcer.sock"
#define LSM_LIST "/sys/kernel/security/lsm"

enum tier { TIER_AUTO, TIER_LSM, TIER_FALLBACK };

struct options {
	const char *socket_path;
	mode_t socket_mode;
	bool detect;
	enum tier tier;
	bool verbose;
};

struct state {
	struct options opt;
	struct enforcer_bpf *skel;
	struct ring_buffer *rb;
	bool lsm;              /* the LSM tier runs */
	char lsm_error[160];   /* why it does not, when it does not */
	int listen_fd;
	int signal_fd;
	int epoll_fd;
};

/* ---- output ------------------------------------------------------------ */

static void log_msg(const char *level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "{\"program\":\"cloudtaser-enforcer\",\"pid\":%d,\"level\":\"%s\",\"msg\":\"",
		getpid(), level);
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', stderr);
		fputc((unsigned char)*p < 0x20 ? ' ' : *p, stderr);
	}
	fputs("\"}\n", stderr);
}

/* Writes s as a JSON string (quotes included) into out. */
static void json_string(char *out, size_t size, const char *s, size_t max)
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
	return st->opt.detect ? "detect" : "enforce";
}

static const char *action_name(unsigned int action)
{
	switch (action) {
	case CT_ACTION_DENIED: return "denied";
	case CT_ACTION_KILLED: return "killed";
	case CT_ACTION_LOGGED: return "logged";
	default: return "none";
	}
}

/* What the accessor tried, from the event's kind and syscall number. */
static void describe(const struct ct_event *e, char *out, size_t size)
{
	char name[CT_NAME_LEN + 1];

	memcpy(name, e->name, CT_NAME_LEN);
	name[CT_NAME_LEN] = 0;
	switch (e->what) {
	case CT_WHAT_OPEN: snprintf(out, size, "open:%s", name); return;
	case CT_WHAT_WRITE: snprintf(out, size, "write:%s", name); return;
	case CT_WHAT_BPF:
		snprintf(out, size, "bpf:%s_get_fd_by_id",
			 e->detail == BPF_MAP_GET_FD_BY_ID	? "map"
			 : e->detail == BPF_PROG_GET_FD_BY_ID ? "prog"
							      : "link");
		return;
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
	default: snprintf(out, size, "ptrace_check:syscall_%d", e->syscall_nr); return;
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
			log_msg("warn", "attacker %u still alive after 1 s", attacker);
		close(pidfd);
	} /* ESRCH: already gone */
	if (kill(target, SIGCONT) && errno != ESRCH) /* ESRCH: the target exited */
		log_msg("warn", "kill(%u, SIGCONT) failed: %s", target, strerror(errno));
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct ct_event *e = data;
	char comm[CT_COMM_LEN * 6 + 3], what[64];

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
	printf("{\"event\":\"denial\",\"action\":\"%s\",\"accessor\":{\"pid\":%u,\"tid\":%u,"
	       "\"comm\":%s},\"target\":%u,\"what\":\"%s\",\"syscall\":%d}\n",
	       action_name(e->action), e->accessor_pid, e->accessor_tid, comm, e->target_pid, what,
	       e->syscall_nr);
	if (e->action == CT_ACTION_KILLED && e->syscall_nr == SYS_ptrace)
		resume_after_attach(e->accessor_pid, e->target_pid);
	return 0;
}

/* ---- loading ----------------------------------------------------------- */

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

/* Whether `bpf` is an active LSM. Attaching an LSM program "succeeds" even
 * when it is not, and then enforces nothing. */
static bool bpf_lsm_active(void)
{
	char buf[512];
	FILE *f = fopen(LSM_LIST, "r");

	if (!f && errno == ENOENT &&
	    mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL) == 0)
		f = fopen(LSM_LIST, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	for (char *save = NULL, *tok = strtok_r(buf, ",\n", &save); tok;
	     tok = strtok_r(NULL, ",\n", &save))
		if (strcmp(tok, "bpf") == 0)
			return true;
	return false;
}

/* Opens, configures, loads and attaches one tier. Returns 0 or -errno;
 * on failure nothing is left loaded. */
static int load_tier(struct state *st, bool lsm)
{
	struct enforcer_bpf *skel;
	int err;

	skel = enforcer_bpf__open();
	if (!skel)
		return -errno;
	skel->rodata->enforcer_tgid = getpid();
	skel->rodata->enforce = !st->opt.detect;
	bpf_program__set_autoload(skel->progs.ct_file_open, lsm);
	bpf_program__set_autoload(skel->progs.ct_ptrace_check, lsm);
	bpf_program__set_autoload(skel->progs.ct_bpf, lsm);
	bpf_program__set_autoload(skel->progs.ct_sys_enter, !lsm);
	bpf_program__set_autoload(skel->progs.ct_sys_exit, !lsm);
	err = enforcer_bpf__load(skel);
	if (err) {
		err = -errno ?: err;
		enforcer_bpf__destroy(skel);
		return err;
	}
	err = enforcer_bpf__attach(skel);
	if (err) {
		err = -errno ?: err;
		enforcer_bpf__destroy(skel);
		return err;
	}
	st->skel = skel;
	st->lsm = lsm;
	return 0;
}

static int load_enforcer(struct state *st)
{
	int err;

	if (st->opt.tier != TIER_FALLBACK) {
		if (!bpf_lsm_active()) {
			snprintf(st->lsm_error, sizeof(st->lsm_error),
				 "bpf is not in " LSM_LIST " (boot with lsm=...,bpf)");
		} else {
			err = load_tier(st, true);
			if (err == 0)
				return 0;
			snprintf(st->lsm_error, sizeof(st->lsm_error),
				 "loading the LSM programs failed: %s", strerror(-err));
		}
		if (st->opt.tier == TIER_LSM) {
			log_msg("error", "%s (--tier lsm)", st->lsm_error);
			return -ENOTSUP;
		}
		log_msg("warn", "%s; using the tracepoint fallback (detect and kill)",
			st->lsm_error);
	}
	err = load_tier(st, false);
	if (err)
		log_msg("error", "loading the tracepoint fallback failed: %s", strerror(-err));
	return err;
}

static unsigned int object_id(int fd)
{
	struct bpf_prog_info info; /* id is the first field of every *_info */
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* Tells the kernel side which BPF objects are ours, so that the lsm/bpf
 * hook (or the fallback) refuses fds for them to everyone else. */
static void record_own_ids(struct state *st)
{
	struct ct_own_ids *ids = &st->skel->bss->own_ids;
	struct bpf_link **links = (struct bpf_link **)&st->skel->links;
	size_t nlinks = sizeof(st->skel->links) / sizeof(*links);
	struct bpf_program *prog;
	struct bpf_map *map;
	int n;

	n = 0;
	bpf_object__for_each_map(map, st->skel->obj) {
		/* .rodata is frozen (no syscall can write it) and bpftool reads
		 * it to show a program's metadata: leave it open to all */
		if (strstr(bpf_map__name(map), ".rodata"))
			continue;
		if (n < CT_MAX_OWN_IDS && bpf_map__fd(map) >= 0)
			ids->map[n++] = object_id(bpf_map__fd(map));
	}
	n = 0;
	bpf_object__for_each_program(prog, st->skel->obj)
		if (n < CT_MAX_OWN_IDS && bpf_program__fd(prog) >= 0)
			ids->prog[n++] = object_id(bpf_program__fd(prog));
	n = 0;
	for (size_t i = 0; i < nlinks && n < CT_MAX_OWN_IDS; i++)
		if (links[i])
			ids->link[n++] = object_id(bpf_link__fd(links[i]));
}

/* ---- registration ------------------------------------------------------ */

static int protect_pid(struct state *st, unsigned int pid)
{
	struct ct_protected v = { .group = pid };

	if (bpf_map__update_elem(st->skel->maps.protected, &pid, sizeof(pid), &v, sizeof(v),
				 BPF_NOEXIST) == 0)
		return 0;
	/* already protected (a member of a registered tree registers again):
	 * keep its group so the tree can still inspect it */
	return errno == EEXIST ? 0 : -errno;
}

static void unprotect_pid(struct state *st, unsigned int pid)
{
	bpf_map__delete_elem(st->skel->maps.protected, &pid, sizeof(pid), 0);
}

static void answer(int fd, const char *line)
{
	size_t len = strlen(line);

	/* the client may be gone; MSG_NOSIGNAL keeps EPIPE an error code */
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
		log_msg("warn", "send of the registration answer failed: %s", strerror(errno));
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
		log_msg("warn", "getsockopt(SO_PEERCRED) failed: %s", strerror(errno));
		return;
	}
	pidfd = syscall(SYS_pidfd_open, cred.pid, 0);
	if (pidfd < 0) {
		snprintf(line, sizeof(line), "{\"registered\":false,\"pid\":%d,\"error\":\"pidfd_open: %s\"}\n",
			 cred.pid, strerror(errno));
		answer(fd, line);
		return;
	}
	err = protect_pid(st, cred.pid);
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	if (err == 0 && poll(&pfd, 1, 0) == 1) {
		unprotect_pid(st, cred.pid);
		err = -ESRCH;
	}
	close(pidfd);
	if (err) {
		snprintf(line, sizeof(line), "{\"registered\":false,\"pid\":%d,\"error\":\"%s\"}\n",
			 cred.pid, strerror(-err));
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
		log_msg("warn", "accept4 failed: %s", strerror(errno));
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
			log_msg("warn", "mkdir %s failed: %s", dir, strerror(errno));
		*p = '/';
	}
}

static int open_socket(struct state *st)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = st->opt.socket_path;
	int fd, probe;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_msg("error", "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	make_parent_dirs(path);
	/* a live enforcer answers; a stale socket file is removed */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(probe);
		log_msg("error", "another enforcer listens on %s", path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	if (unlink(path) && errno != ENOENT)
		log_msg("warn", "unlink %s failed: %s", path, strerror(errno));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_msg("error", "socket failed: %s", strerror(errno));
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || chmod(path, st->opt.socket_mode) ||
	    listen(fd, 64)) {
		int err = -errno;

		log_msg("error", "bind/chmod/listen on %s failed: %s", path, strerror(-err));
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
		log_msg("error", "signalfd/epoll setup failed: %s", strerror(errno));
		return -errno;
	}
	st->rb = ring_buffer__new(bpf_map__fd(st->skel->maps.events), handle_event, st, NULL);
	if (!st->rb) {
		log_msg("error", "ring_buffer__new failed: %s", strerror(errno));
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
			log_msg("error", "epoll_wait failed: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == st->listen_fd) {
				accept_clients(st);
			} else if (evs[i].data.fd == st->signal_fd) {
				if (read(st->signal_fd, &si, sizeof(si)) == sizeof(si))
					log_msg("info", "signal %u: detaching and exiting", si.ssi_signo);
				ring_buffer__consume(st->rb);
				return 0;
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
		   "                           [--socket-mode OCTAL] [--verbose] [SOCKET]\n"
		   "SOCKET defaults to " DEFAULT_SOCKET ".\n");
}

static int parse_args(int argc, char **argv, struct options *opt)
{
	static const struct option longs[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "tier", required_argument, NULL, 't' },
		{ "socket-mode", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*opt = (struct options){ .socket_path = DEFAULT_SOCKET, .socket_mode = 0666 };
	while ((c = getopt_long(argc, argv, "m:t:s:vh", longs, NULL)) != -1) {
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
		case 'v': opt->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind < argc)
		opt->socket_path = argv[optind++];
	return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct state st = { .listen_fd = -1, .signal_fd = -1, .epoll_fd = -1 };
	char reason[sizeof(st.lsm_error) * 6 + 3], sock[108 * 6 + 3];
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv, &st.opt)) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(st.opt.verbose ? libbpf_print : libbpf_quiet);
	if (!in_initial_pid_namespace()) {
		log_msg("error", "not in the initial pid namespace: run with hostPID");
		return 1;
	}

	err = load_enforcer(&st);
	if (err)
		goto cleanup;
	record_own_ids(&st);
	err = protect_pid(&st, getpid()); /* its fds and memory are the keys */
	if (err) {
		log_msg("error", "protecting the enforcer itself failed: %s", strerror(-err));
		goto cleanup;
	}
	err = open_socket(&st);
	if (err)
		goto cleanup;
	err = setup_loop(&st);
	if (err)
		goto cleanup;

	json_string(reason, sizeof(reason), st.lsm_error, sizeof(st.lsm_error));
	json_string(sock, sizeof(sock), st.opt.socket_path, 108);
	printf("{\"event\":\"ready\",\"pid\":%d,\"mode\":\"%s\",\"lsm\":%s,\"tier\":\"%s\","
	       "\"socket\":%s%s%s}\n",
	       getpid(), mode_name(&st), st.lsm ? "true" : "false",
	       st.lsm ? "lsm" : "tracepoint-kill", sock,
	       st.lsm ? "" : ",\"lsm_unavailable\":", st.lsm ? "" : reason);
	err = run_loop(&st);

cleanup:
	if (st.listen_fd >= 0) {
		close(st.listen_fd);
		unlink(st.opt.socket_path);
	}
	ring_buffer__free(st.rb);
	enforcer_bpf__destroy(st.skel);
	if (st.epoll_fd >= 0)
		close(st.epoll_fd);
	if (st.signal_fd >= 0)
		close(st.signal_fd);
	return err ? 1 : 0;
}
