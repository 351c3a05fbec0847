// SPDX-License-Identifier: GPL-2.0
/* cloudtaser-enforcer, kernel side.
 *
 * Two tiers share one object; the loader picks which programs to load:
 *
 *   LSM tier (synchronous deny, -EPERM):
 *     lsm/file_open            /proc/<pid>/{environ,mem,maps,...}, map_files/,
 *                              writes to coredump_filter; tracefs writes
 *     lsm/ptrace_access_check  ptrace attach, process_vm_readv/writev,
 *                              pidfd_getfd, /proc/<pid>/mem, fd/ links,
 *                              per-task perf events
 *     lsm/bpf                  tracing-class program loads and attaches,
 *                              fds for the enforcer's own links
 *     lsm/bpf_map              writable fds for the enforcer's own maps
 *     lsm/perf_event_open      perf events (samples read user stacks)
 *     lsm/task_kill            stop and core-dumping signals
 *     lsm/file_send_sigiotask  the same signals through F_SETSIG
 *     lsm/inode_unlink|rmdir|rename, lsm/sb_umount   the pins
 *
 *   Fallback tier (kernel refuses trampolines: detect, then SIGKILL):
 *     tp_btf/sys_enter         ptrace, process_vm_*, pidfd_getfd, bpf,
 *                              perf_event_open, io_uring_*, fcntl(F_SETSIG)
 *     tp_btf/sys_exit          what a successful open()/bpf() returned;
 *                              senders of refused signals
 *     tp_btf/signal_generate   stop and core-dumping signals (all routes):
 *                              the sender is killed, the signal marked
 *     tp_btf/signal_deliver    the target repairs a marked one (SIGCONT,
 *                              or SIGKILL before a core dump starts)
 *     tp_btf/io_uring_submit_req  io_uring submissions (SQPOLL included)
 *
 *   Both tiers:
 *     tp_btf/sched_process_fork  children of protected processes inherit
 *     tp_btf/sched_process_exit  the last thread's exit clears the entry
 *
 * Every target is resolved to its thread group: the LSM hooks get a task
 * (task->tgid), the fallback resolves pid numbers in the caller's own pid
 * namespace with bpf_task_from_vpid() where the kernel has it.
 *
 * Everything kernel-internal is read with BPF_CORE_READ so that the object
 * built against a 6.18 vmlinux.h loads on 6.1 (no bpf_rdonly_cast, and
 * sched_process_exit has one argument there, two here: we read only one).
 * The fallback program that needs kfuncs of 6.13 comes in two variants.
 * Syscall numbers and pt_regs fields are x86_64.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "enforcer.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1
#define SIGKILL 9
#define SIGCONT 18
#define PROC_SUPER_MAGIC 0x9fa0
#define TRACEFS_MAGIC 0x74726163
#define FMODE_WRITE 0x2
#define PTRACE_MODE_NOAUDIT 0x04
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206
#define F_SETSIG 10
#define SIG_DFL 0
#define POLL_IN 1
#define POLL_HUP 6
#define TRACE_SIGNAL_IGNORED 1

/* x86_64 syscall numbers */
#define NR_open 2
#define NR_fcntl 72
#define NR_ptrace 101
#define NR_kill 62
#define NR_rt_sigqueueinfo 129
#define NR_tkill 200
#define NR_tgkill 234
#define NR_openat 257
#define NR_perf_event_open 298
#define NR_rt_tgsigqueueinfo 297
#define NR_open_by_handle_at 304
#define NR_process_vm_readv 310
#define NR_process_vm_writev 311
#define NR_bpf 321
#define NR_pidfd_send_signal 424
#define NR_io_uring_setup 425
#define NR_io_uring_enter 426
#define NR_io_uring_register 427
#define NR_openat2 437
#define NR_pidfd_getfd 438

/* Stop signals and the signals whose default action dumps core. */
#define SIGBIT(s) (1ULL << ((s) - 1))
#define STOP_SIGNALS (SIGBIT(19) | SIGBIT(20) | SIGBIT(21) | SIGBIT(22))
#define CORE_SIGNALS                                                                   \
	(SIGBIT(3) | SIGBIT(4) | SIGBIT(5) | SIGBIT(6) | SIGBIT(7) | SIGBIT(8) |        \
	 SIGBIT(11) | SIGBIT(24) | SIGBIT(25) | SIGBIT(31))

/* kfuncs of 6.13 and later. The program that calls them comes in two
 * variants (`_kf` and without); the loader loads the one the kernel can
 * run, so on older kernels these stay unresolved in a program never loaded. */
extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CT_MAX_PROTECTED);
	__type(key, __u32);
	__type(value, struct ct_protected);
} protected SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct ct_config);
} conf SEC(".maps");

/* Threads that sent a refused signal, killed on their way out of the
 * syscall (signal_generate runs with interrupts off, where a signal can
 * only be deferred). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} doomed SEC(".maps");

/* Per protected tgid, the stop and core signals sent to it from outside
 * (tracepoint tier): signal_deliver repairs them in the target. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CT_MAX_PROTECTED);
	__type(key, __u32);
	__type(value, __u64);
} foreign_signals SEC(".maps");

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline struct ct_config *cfg(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&conf, &key);
}

static __always_inline bool enforcing(const struct ct_config *c)
{
	return c && (c->flags & CT_CFG_ENFORCE);
}

/* The protection entry of `target`, or NULL when the current task may
 * access it (unprotected, itself, or in the same group). */
static __always_inline struct ct_protected *guarded_from_current(__u32 target)
{
	struct ct_protected *t, *a;
	__u32 me = current_tgid();

	t = bpf_map_lookup_elem(&protected, &target);
	if (!t || me == target)
		return NULL;
	a = bpf_map_lookup_elem(&protected, &me);
	if (a && a->group == t->group)
		return NULL;
	return t;
}

static __always_inline bool current_protected(void)
{
	__u32 me = current_tgid();

	return bpf_map_lookup_elem(&protected, &me) != NULL;
}

static __always_inline void report(__u32 target, __u32 what, __u32 action, int nr,
				   __u32 detail, __u32 extra, const char *name)
{
	struct ct_event *e;
	__u64 id = bpf_get_current_pid_tgid();

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->accessor_pid = id >> 32;
	e->accessor_tid = (__u32)id;
	e->target_pid = target;
	e->what = what;
	e->action = action;
	e->syscall_nr = nr;
	e->detail = detail;
	e->extra = extra;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->name[0] = 0;
	if (name)
		bpf_probe_read_kernel_str(e->name, sizeof(e->name), name);
	bpf_ringbuf_submit(e, 0);
}

/* ---- who is asking ------------------------------------------------------ */

/* The live daemon. Its tgid is cleared by the exit handler before the pid
 * can be reused (the zombie holds it), so a recycled pid is never it. */
static __always_inline bool is_enforcer(const struct ct_config *c)
{
	return c && c->enforcer_tgid && current_tgid() == c->enforcer_tgid;
}

static __always_inline bool exe_is(__u64 ino, __u32 dev)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct inode *inode;

	if (!exe)
		return false;
	inode = BPF_CORE_READ(exe, f_inode);
	return BPF_CORE_READ(inode, i_ino) == ino && BPF_CORE_READ(inode, i_sb, s_dev) == dev;
}

/* The daemon, or, while none runs, a process running the executable that
 * installed the pins: it may adopt them (or --uninstall them). */
static __always_inline bool may_manage(const struct ct_config *c)
{
	if (!c)
		return false;
	if (is_enforcer(c))
		return true;
	return c->enforcer_tgid == 0 && c->enforcer_exe_ino &&
	       exe_is(c->enforcer_exe_ino, c->enforcer_exe_dev);
}

#define CT_MAX_CGROUP_DEPTH 16

static __always_inline bool in_cgroup(__u64 id)
{
	if (bpf_get_current_cgroup_id() == id)
		return true;
	for (int level = 0; level < CT_MAX_CGROUP_DEPTH; level++)
		if (bpf_get_current_ancestor_cgroup_id(level) == id)
			return true;
	return false;
}

/* Whether the configuration's allow list grants `kind` to the caller:
 * every field set in an entry must match. */
static __always_inline bool allowed(const struct ct_config *c, __u32 kind)
{
	for (int i = 0; i < CT_MAX_ALLOW; i++) {
		const struct ct_allow *a = &c->allow[i];

		if (i >= c->nallow)
			return false;
		if (!(a->kinds & kind))
			continue;
		if (a->ino && !exe_is(a->ino, a->dev))
			continue;
		if (a->cgroup && !in_cgroup(a->cgroup))
			continue;
		if (a->ino || a->cgroup)
			return true;
	}
	return false;
}

/* Tracing (BPF tracing programs, perf events, tracefs writes) is refused
 * to everyone but the daemon and the allow list while anything is
 * protected: such code runs in the protected process's context and reads
 * through its page tables, where memfd_secret does not help. */
static __always_inline bool refuse_tracing(const struct ct_config *c)
{
	return c && c->nprotected > 0 && !is_enforcer(c) && !allowed(c, CT_ALLOW_TRACING);
}

/* io_uring runs opens and reads that no syscall tracepoint sees: the
 * tracepoint tier refuses it to all but protected processes themselves,
 * the daemon and the allow list while anything is protected. */
static __always_inline bool refuse_io_uring(const struct ct_config *c)
{
	return c && c->nprotected > 0 && !is_enforcer(c) && !current_protected() &&
	       !allowed(c, CT_ALLOW_IO_URING);
}

static __always_inline bool tracing_prog_type(__u32 type)
{
	switch (type) {
	case BPF_PROG_TYPE_KPROBE:
	case BPF_PROG_TYPE_TRACEPOINT:
	case BPF_PROG_TYPE_PERF_EVENT:
	case BPF_PROG_TYPE_RAW_TRACEPOINT:
	case BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE:
	case BPF_PROG_TYPE_TRACING:    /* tp_btf, fentry/fexit, iterators */
	case BPF_PROG_TYPE_EXT:        /* replaces functions of loaded programs */
	case BPF_PROG_TYPE_LSM:
	case BPF_PROG_TYPE_STRUCT_OPS: /* sched_ext runs in every task's context */
	case BPF_PROG_TYPE_SYSCALL:    /* its bpf_sys_bpf() loads skip sys_enter */
		return true;
	default:
		return false;
	}
}

static __always_inline bool denied_signal(int sig)
{
	return sig > 0 && sig < 64 && ((STOP_SIGNALS | CORE_SIGNALS) & SIGBIT(sig));
}

/* ---- targets ------------------------------------------------------------ */

/* tgid of the task a struct pid stands for (a thread's pid gives its
 * group), 0 when none. */
static __always_inline __u32 pid_to_tgid(struct pid *pid)
{
	struct hlist_node *first;
	struct task_struct *task;

	if (!pid)
		return 0;
	first = BPF_CORE_READ(pid, tasks[PIDTYPE_PID].first);
	if (!first)
		return 0;
	task = (void *)first - bpf_core_field_offset(struct task_struct, pid_links);
	return BPF_CORE_READ(task, tgid);
}

/* The thread group (initial-namespace tgid) of the task a pid or thread id
 * names in the caller's pid namespace. Without the kfuncs (kf false: before
 * 6.13) the number is taken as an initial-namespace tgid, as it was. */
static __always_inline __u32 vpid_tgid(long nr, bool kf)
{
	struct task_struct *t;
	__u32 tgid;

	if (nr <= 0 || nr > 0x3fffffff)
		return 0;
	if (!kf)
		return nr;
	t = bpf_task_from_vpid(nr);
	if (!t)
		return 0;
	tgid = t->tgid;
	bpf_task_release(t);
	return tgid;
}

static __always_inline bool name_is(const char *buf, const char *lit, int len)
{
	for (int i = 0; i <= len; i++)
		if (buf[i] != lit[i])
			return false;
	return true;
}

/* The /proc/<pid>/ entries that expose a process's memory or secrets. */
static __always_inline __u32 guarded_entry(const char *n, bool write)
{
	if (name_is(n, "environ", 7) || name_is(n, "mem", 3) || name_is(n, "maps", 4) ||
	    name_is(n, "smaps", 5) || name_is(n, "smaps_rollup", 12) ||
	    name_is(n, "numa_maps", 9) || name_is(n, "pagemap", 7) || name_is(n, "stack", 5) ||
	    name_is(n, "syscall", 7) || name_is(n, "map_files", 9))
		return CT_WHAT_OPEN;
	if (write && name_is(n, "coredump_filter", 15))
		return CT_WHAT_WRITE;
	return 0;
}

/* Classifies an opened file. Returns the CT_WHAT_* of a guarded procfs
 * entry (target = the owner's tgid, for /proc/<pid>/task/<tid>/ too) or of
 * a tracefs file opened for writing (target 0), and fills name; 0 for
 * anything else. */
static __always_inline __u32 classify_file(struct file *file, __u32 *target, char name[16])
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct dentry *dentry, *parent;
	unsigned long magic;
	struct pid *pid;
	__u32 what;
	bool write;

	if (!inode)
		return 0;
	magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (magic != PROC_SUPER_MAGIC && magic != TRACEFS_MAGIC)
		return 0;
	write = BPF_CORE_READ(file, f_mode) & FMODE_WRITE;
	dentry = BPF_CORE_READ(file, f_path.dentry);
	bpf_probe_read_kernel_str(name, 16, BPF_CORE_READ(dentry, d_name.name));
	if (magic == TRACEFS_MAGIC) {
		*target = 0;
		return write ? CT_WHAT_TRACEFS : 0;
	}
	/* every procfs inode is embedded in a proc_inode */
	pid = BPF_CORE_READ((struct proc_inode *)((void *)inode -
						  bpf_core_field_offset(struct proc_inode,
									vfs_inode)),
			    pid);
	*target = pid_to_tgid(pid);
	if (!*target)
		return 0;
	what = guarded_entry(name, write);
	if (what)
		return what;
	/* an entry inside /proc/<pid>/map_files/ */
	parent = BPF_CORE_READ(dentry, d_parent);
	bpf_probe_read_kernel_str(name, 16, BPF_CORE_READ(parent, d_name.name));
	return name_is(name, "map_files", 9) ? CT_WHAT_OPEN : 0;
}

/* ---- the enforcer's own objects ---------------------------------------- */

static __always_inline bool own_map(const struct ct_config *c, __u32 id)
{
	for (int i = 0; i < CT_MAX_OWN_IDS; i++) {
		if (c->ids.map[i] == 0)
			return false;
		if (c->ids.map[i] == id)
			return true;
	}
	return false;
}

static __always_inline bool own_link(const struct ct_config *c, __u32 id)
{
	for (int i = 0; i < CT_MAX_OWN_IDS; i++) {
		if (c->ids.link[i] == 0)
			return false;
		if (c->ids.link[i] == id)
			return true;
	}
	return false;
}

static __always_inline struct file *current_fd_file(unsigned long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

enum bpf_fd_kind { FD_OTHER, FD_MAP, FD_PROG, FD_LINK };

/* What kind of BPF object an fd holds, from its anon inode's name. */
static __always_inline int bpf_fd_kind(struct file *file)
{
	char n[12] = {};

	if (!file)
		return FD_OTHER;
	bpf_probe_read_kernel_str(n, sizeof(n), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	if (name_is(n, "bpf-map", 7))
		return FD_MAP;
	if (name_is(n, "bpf-prog", 8))
		return FD_PROG;
	/* /proc shows "bpf_link"; the dentry says "bpf-link" on 6.18 */
	if (name_is(n, "bpf_link", 8) || name_is(n, "bpf-link", 8))
		return FD_LINK;
	return FD_OTHER;
}

/* The type of the program behind a program fd, or -1. */
static __always_inline int fd_prog_type(unsigned long fd)
{
	struct file *file = current_fd_file(fd);
	struct bpf_prog *prog;

	if (bpf_fd_kind(file) != FD_PROG)
		return -1;
	prog = BPF_CORE_READ(file, private_data);
	return prog ? BPF_CORE_READ(prog, type) : -1;
}

/* ---- LSM tier ---------------------------------------------------------- */

static __always_inline int current_syscall(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return BPF_CORE_READ(regs, orig_ax);
}

SEC("lsm/file_open")
int BPF_PROG(ct_file_open, struct file *file, int ret)
{
	struct ct_config *c;
	__u32 target = 0, what;
	char name[16];

	if (ret)
		return ret;
	what = classify_file(file, &target, name);
	if (!what)
		return 0;
	c = cfg();
	if (what == CT_WHAT_TRACEFS) {
		if (!refuse_tracing(c))
			return 0;
	} else if (!guarded_from_current(target)) {
		return 0;
	}
	report(target, what, enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED,
	       current_syscall(), 0, 0, name);
	return enforcing(c) ? -EPERM : 0;
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(ct_ptrace_check, struct task_struct *child, unsigned int mode, int ret)
{
	struct ct_config *c;
	__u32 target;

	if (ret)
		return ret;
	target = BPF_CORE_READ(child, tgid); /* a thread's check is its group's */
	if (!guarded_from_current(target))
		return 0;
	c = cfg();
	/* NOAUDIT checks are the quiet ones (ps reading /proc/<pid>/stat):
	 * deny them too, but do not flood the log. */
	if (!(mode & PTRACE_MODE_NOAUDIT))
		report(target, CT_WHAT_PTRACE, enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED,
		       current_syscall(), mode, 0, NULL);
	return enforcing(c) ? -EPERM : 0;
}

/* The third argument and the previous verdict moved in 6.13 (a `bool
 * kernel` argument was added before it), so this hook reads only cmd and
 * attr and does not chain on `ret`. */
SEC("lsm/bpf")
int BPF_PROG(ct_bpf, int cmd, union bpf_attr *attr)
{
	struct ct_config *c = cfg();
	int type = -1;

	if (!c)
		return 0;
	switch (cmd) {
	case BPF_LINK_GET_FD_BY_ID:
		/* a link fd keeps a link alive; ours are not anyone's to hold */
		if (is_enforcer(c) || !own_link(c, BPF_CORE_READ(attr, link_id)))
			return 0;
		report(c->enforcer_tgid, CT_WHAT_BPF,
		       enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED, NR_bpf, cmd, 0, NULL);
		return enforcing(c) ? -EPERM : 0;
	case BPF_PROG_LOAD:
		type = BPF_CORE_READ(attr, prog_type);
		break;
	case BPF_LINK_CREATE:
		type = fd_prog_type(BPF_CORE_READ(attr, link_create.prog_fd));
		break;
	case BPF_RAW_TRACEPOINT_OPEN:
		type = fd_prog_type(BPF_CORE_READ(attr, raw_tracepoint.prog_fd));
		break;
	case BPF_LINK_UPDATE:
		type = fd_prog_type(BPF_CORE_READ(attr, link_update.new_prog_fd));
		break;
	case BPF_PROG_ATTACH:
		type = fd_prog_type(BPF_CORE_READ(attr, attach_bpf_fd));
		break;
	default:
		return 0;
	}
	if (type < 0 || !tracing_prog_type(type) || !refuse_tracing(c))
		return 0;
	report(0, CT_WHAT_TRACING, enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED, NR_bpf,
	       cmd, type, NULL);
	return enforcing(c) ? -EPERM : 0;
}

/* Every new fd for a map passes here (by id, from a pin, at creation):
 * nobody but the daemon gets a writable one for ours. */
SEC("lsm/bpf_map")
int BPF_PROG(ct_bpf_map, struct bpf_map *map, fmode_t fmode, int ret)
{
	struct ct_config *c;

	if (ret)
		return ret;
	if (!(fmode & FMODE_WRITE))
		return 0;
	c = cfg();
	if (!c || !own_map(c, BPF_CORE_READ(map, id)) || may_manage(c))
		return 0;
	report(c->enforcer_tgid, CT_WHAT_BPF, enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED,
	       NR_bpf, BPF_MAP_GET_FD_BY_ID, 0, NULL);
	return enforcing(c) ? -EPERM : 0;
}

SEC("lsm/perf_event_open")
int BPF_PROG(ct_perf_open, struct perf_event_attr *attr, int type, int ret)
{
	struct ct_config *c;

	if (ret)
		return ret;
	c = cfg();
	if (!refuse_tracing(c))
		return 0;
	report(0, CT_WHAT_PERF, enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED,
	       NR_perf_event_open, BPF_CORE_READ(attr, type), type, NULL);
	return enforcing(c) ? -EPERM : 0;
}

SEC("lsm/task_kill")
int BPF_PROG(ct_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	struct ct_config *c;
	__u32 target;

	if (ret)
		return ret;
	if (!denied_signal(sig))
		return 0;
	target = BPF_CORE_READ(p, tgid);
	if (!guarded_from_current(target))
		return 0;
	c = cfg();
	report(target, CT_WHAT_SIGNAL, enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED,
	       current_syscall(), sig, CT_NEUTRAL_NONE, NULL);
	return enforcing(c) ? -EPERM : 0;
}

/* F_SETOWN + F_SETSIG deliver any signal when an fd becomes ready; the one
 * who armed it is not known here (current only made the fd ready), so a
 * stop or core signal to a protected process is refused whoever triggers
 * it. */
SEC("lsm/file_send_sigiotask")
int BPF_PROG(ct_sigio, struct task_struct *tsk, struct fown_struct *fown, int sig, int ret)
{
	struct ct_config *c;
	__u32 target;

	if (ret)
		return ret;
	if (!denied_signal(sig))
		return 0;
	target = BPF_CORE_READ(tsk, tgid);
	if (!bpf_map_lookup_elem(&protected, &target))
		return 0;
	c = cfg();
	report(target, CT_WHAT_SIGNAL, enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED, -1,
	       sig, CT_NEUTRAL_NONE, "sigio");
	return enforcing(c) ? -EPERM : 0;
}

/* ---- LSM tier: the pins -------------------------------------------------- */

static __always_inline bool is_pin_dir(const struct ct_config *c, struct inode *dir)
{
	return dir && c->pin_dir_ino && BPF_CORE_READ(dir, i_ino) == c->pin_dir_ino &&
	       BPF_CORE_READ(dir, i_sb, s_dev) == c->pin_dev;
}

static __always_inline int pin_touched(const struct ct_config *c, int nr)
{
	report(c->enforcer_tgid, CT_WHAT_PIN, enforcing(c) ? CT_ACTION_DENIED : CT_ACTION_LOGGED,
	       nr, 0, 0, NULL);
	return enforcing(c) ? -EPERM : 0;
}

SEC("lsm/inode_unlink")
int BPF_PROG(ct_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	struct ct_config *c;

	if (ret)
		return ret;
	c = cfg();
	if (!c || !is_pin_dir(c, dir) || may_manage(c))
		return 0;
	return pin_touched(c, current_syscall());
}

SEC("lsm/inode_rmdir")
int BPF_PROG(ct_rmdir, struct inode *dir, struct dentry *dentry, int ret)
{
	struct ct_config *c;

	if (ret)
		return ret;
	c = cfg();
	if (!c || (!is_pin_dir(c, dir) && !is_pin_dir(c, BPF_CORE_READ(dentry, d_inode))) ||
	    may_manage(c))
		return 0;
	return pin_touched(c, current_syscall());
}

SEC("lsm/inode_rename")
int BPF_PROG(ct_rename, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
	     struct dentry *new_dentry)
{
	struct ct_config *c = cfg();

	/* the flags argument moved over the years: read only these four and
	 * do not chain on a verdict */
	if (!c || may_manage(c))
		return 0;
	if (!is_pin_dir(c, old_dir) && !is_pin_dir(c, new_dir) &&
	    !is_pin_dir(c, BPF_CORE_READ(old_dentry, d_inode)))
		return 0;
	return pin_touched(c, current_syscall());
}

/* Unmounting the bpffs that holds the pins drops them all. */
SEC("lsm/sb_umount")
int BPF_PROG(ct_umount, struct vfsmount *mnt, int flags, int ret)
{
	struct ct_config *c;

	if (ret)
		return ret;
	c = cfg();
	if (!c || !c->pin_dev || BPF_CORE_READ(mnt, mnt_sb, s_dev) != c->pin_dev ||
	    may_manage(c))
		return 0;
	return pin_touched(c, current_syscall());
}

/* ---- fallback tier ----------------------------------------------------- */

static __always_inline void fallback_hit(const struct ct_config *c, __u32 target, __u32 what,
					 int nr, __u32 detail, __u32 extra, const char *name)
{
	report(target, what, enforcing(c) ? CT_ACTION_KILLED : CT_ACTION_LOGGED, nr, detail,
	       extra, name);
	if (enforcing(c))
		bpf_send_signal(SIGKILL);
}

/* The tgid a pidfd refers to: file->private_data up to 6.8, the pidfs
 * inode's i_private from 6.9 on. A thread pidfd (PIDFD_THREAD) gives its
 * group. */
static __always_inline __u32 pidfd_tgid(unsigned long fd)
{
	struct file *file = current_fd_file(fd);
	struct pid *pid;

	if (!file)
		return 0;
	pid = BPF_CORE_READ(file, private_data);
	if (!pid)
		pid = BPF_CORE_READ(file, f_inode, i_private);
	return pid_to_tgid(pid);
}

#define PATH_LEN 40

/* The tgid behind a path "/proc/<pid>/fd/..." or
 * "/proc/<pid>/task/<tid>/fd/...", else 0. Reopening another process's fd
 * through its /proc link yields that process's file, which sys_exit cannot
 * tell from an ordinary open: so look at the path. */
static __always_inline __u32 proc_fd_path_tgid(const char *p, bool kf)
{
	/* states: 0 pid digits, 1 after "<pid>/", 2 "f", 3 "fd", 4 "t", 5 "ta",
	 * 6 "tas", 7 "task", 8 "task/" + tid digits */
	__u32 pid = 0, tid = 0;
	int state = 0, digits = 0;

	if (p[0] != '/' || p[1] != 'p' || p[2] != 'r' || p[3] != 'o' || p[4] != 'c' ||
	    p[5] != '/')
		return 0;
#pragma unroll
	for (int i = 6; i < PATH_LEN; i++) {
		char c = p[i];

		if (state == 0 && c >= '0' && c <= '9') {
			pid = pid * 10 + (c - '0');
			digits++;
		} else if (state == 0 && c == '/' && digits) {
			state = 1;
		} else if (state == 1 && c == 'f') {
			state = 2;
		} else if (state == 2 && c == 'd') {
			state = 3;
		} else if (state == 3 && c == '/') {
			return vpid_tgid(tid ? tid : pid, kf);
		} else if (state == 1 && c == 't') {
			state = 4;
		} else if (state == 4 && c == 'a') {
			state = 5;
		} else if (state == 5 && c == 's') {
			state = 6;
		} else if (state == 6 && c == 'k') {
			state = 7;
		} else if (state == 7 && c == '/') {
			state = 8;
			digits = 0;
		} else if (state == 8 && c >= '0' && c <= '9') {
			tid = tid * 10 + (c - '0');
			digits++;
		} else if (state == 8 && c == '/' && digits) {
			state = 1;
		} else {
			return 0;
		}
	}
	return 0;
}

static __always_inline bool signal_syscall(long nr)
{
	return nr == NR_kill || nr == NR_tkill || nr == NR_tgkill || nr == NR_rt_sigqueueinfo ||
	       nr == NR_rt_tgsigqueueinfo || nr == NR_pidfd_send_signal || nr == NR_ptrace;
}

/* bpf() at entry: a tracing-class program load or attach. The attr is user
 * memory another thread may change after this read: sys_exit checks what
 * the call really returned. Killed here, the load itself fails (the
 * verifier gives up on a pending signal). */
static __always_inline void bpf_enter(const struct ct_config *c, unsigned long cmd,
				      void *uattr)
{
	__u32 v = 0;
	int type;

	switch (cmd) {
	case BPF_PROG_LOAD:
		bpf_probe_read_user(&v, sizeof(v), uattr); /* prog_type */
		type = v;
		break;
	case BPF_LINK_CREATE:
		bpf_probe_read_user(&v, sizeof(v), uattr); /* link_create.prog_fd */
		type = fd_prog_type(v);
		break;
	case BPF_RAW_TRACEPOINT_OPEN:
		bpf_probe_read_user(&v, sizeof(v), uattr + 8); /* raw_tracepoint.prog_fd */
		type = fd_prog_type(v);
		break;
	case BPF_LINK_UPDATE:
	case BPF_PROG_ATTACH:
		bpf_probe_read_user(&v, sizeof(v), uattr + 4); /* new_prog_fd, attach_bpf_fd */
		type = fd_prog_type(v);
		break;
	default:
		return;
	}
	if (type >= 0 && tracing_prog_type(type) && refuse_tracing(c))
		fallback_hit(c, 0, CT_WHAT_TRACING, NR_bpf, cmd, type, NULL);
}

static __always_inline int sys_enter(struct pt_regs *regs, long id, bool kf)
{
	static const char fd_name[] = "fd";
	struct ct_config *c;
	unsigned long a0, a1;
	__u32 target, v = 0;
	char path[PATH_LEN] = {};

	if (id != NR_ptrace && id != NR_process_vm_readv && id != NR_process_vm_writev &&
	    id != NR_pidfd_getfd && id != NR_bpf && id != NR_open && id != NR_openat &&
	    id != NR_openat2 && id != NR_perf_event_open && id != NR_io_uring_setup &&
	    id != NR_io_uring_enter && id != NR_io_uring_register && id != NR_fcntl)
		return 0;
	c = cfg();
	a0 = BPF_CORE_READ(regs, di);
	a1 = BPF_CORE_READ(regs, si);
	switch (id) {
	case NR_open:
	case NR_openat:
	case NR_openat2:
		bpf_probe_read_user_str(path, sizeof(path), (void *)(id == NR_open ? a0 : a1));
		target = proc_fd_path_tgid(path, kf);
		if (target && guarded_from_current(target))
			fallback_hit(c, target, CT_WHAT_OPEN, id, 0, 0, fd_name);
		return 0;
	case NR_ptrace:
		if (a0 != PTRACE_ATTACH && a0 != PTRACE_SEIZE)
			return 0;
		target = vpid_tgid(a1, kf);
		break;
	case NR_process_vm_readv:
	case NR_process_vm_writev:
		target = vpid_tgid(a0, kf);
		break;
	case NR_pidfd_getfd:
		target = pidfd_tgid(a0);
		break;
	case NR_bpf:
		bpf_enter(c, a0, (void *)a1);
		return 0;
	case NR_perf_event_open:
		if (refuse_tracing(c)) {
			bpf_probe_read_user(&v, sizeof(v), (void *)a0); /* attr->type */
			fallback_hit(c, 0, CT_WHAT_PERF, id, v, 0, NULL);
		}
		return 0;
	case NR_fcntl:
		if (a1 == F_SETSIG && denied_signal(BPF_CORE_READ(regs, dx)) && c &&
		    c->nprotected > 0 && !is_enforcer(c) && !current_protected())
			fallback_hit(c, 0, CT_WHAT_SIGIO, id, BPF_CORE_READ(regs, dx), 0, NULL);
		return 0;
	default: /* io_uring_setup, io_uring_enter, io_uring_register */
		if (refuse_io_uring(c))
			fallback_hit(c, 0, CT_WHAT_IO_URING, id, 0, 0, NULL);
		return 0;
	}
	if (target && guarded_from_current(target))
		fallback_hit(c, target, CT_WHAT_PTRACE, id, 0, 0, NULL);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ct_sys_enter_kf, struct pt_regs *regs, long id)
{
	return sys_enter(regs, id, true);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ct_sys_enter, struct pt_regs *regs, long id)
{
	return sys_enter(regs, id, false);
}

/* bpf() returned an fd: an untrusted tracing program or link, or a
 * writable fd for one of our maps or any fd for one of our links (by id
 * or from a pin: paths are not looked at, the object is). */
static __always_inline void bpf_exit(const struct ct_config *c, unsigned long cmd, long fd)
{
	struct file *file;
	void *obj;
	int kind, type = -1;

	if (cmd != BPF_PROG_LOAD && cmd != BPF_LINK_CREATE && cmd != BPF_RAW_TRACEPOINT_OPEN &&
	    cmd != BPF_OBJ_GET && cmd != BPF_MAP_GET_FD_BY_ID && cmd != BPF_LINK_GET_FD_BY_ID)
		return;
	file = current_fd_file(fd);
	kind = bpf_fd_kind(file);
	obj = BPF_CORE_READ(file, private_data);
	if (!obj)
		return;
	if (kind == FD_MAP) {
		if (!(BPF_CORE_READ(file, f_mode) & FMODE_WRITE) ||
		    !own_map(c, BPF_CORE_READ((struct bpf_map *)obj, id)) || may_manage(c))
			return;
		fallback_hit(c, c->enforcer_tgid, CT_WHAT_BPF, NR_bpf, cmd, 0, NULL);
		return;
	}
	if (kind == FD_LINK && own_link(c, BPF_CORE_READ((struct bpf_link *)obj, id))) {
		if (!may_manage(c))
			fallback_hit(c, c->enforcer_tgid, CT_WHAT_BPF, NR_bpf, cmd, 0, NULL);
		return;
	}
	if (kind == FD_PROG)
		type = BPF_CORE_READ((struct bpf_prog *)obj, type);
	else if (kind == FD_LINK)
		type = BPF_CORE_READ((struct bpf_link *)obj, prog, type);
	if (type >= 0 && tracing_prog_type(type) && refuse_tracing(c))
		fallback_hit(c, 0, CT_WHAT_TRACING, NR_bpf, cmd, type, NULL);
}

/* A call has succeeded: the accessor dies on its way back to user space,
 * before it can read() the fd or use what it got. */
SEC("tp_btf/sys_exit")
int BPF_PROG(ct_sys_exit, struct pt_regs *regs, long ret)
{
	struct ct_config *c;
	__u32 target = 0, what, tid;
	struct file *file;
	char name[16];
	long nr;

	nr = BPF_CORE_READ(regs, orig_ax);
	if (signal_syscall(nr)) {
		tid = (__u32)bpf_get_current_pid_tgid();
		if (bpf_map_lookup_elem(&doomed, &tid)) {
			bpf_map_delete_elem(&doomed, &tid);
			bpf_send_signal(SIGKILL);
		}
		return 0;
	}
	if (ret < 0)
		return 0;
	if (nr != NR_open && nr != NR_openat && nr != NR_openat2 && nr != NR_open_by_handle_at &&
	    nr != NR_bpf)
		return 0;
	c = cfg();
	if (nr == NR_bpf) {
		if (c)
			bpf_exit(c, BPF_CORE_READ(regs, di), ret);
		return 0;
	}
	file = current_fd_file(ret);
	if (!file)
		return 0;
	what = classify_file(file, &target, name);
	if (what == CT_WHAT_TRACEFS) {
		if (refuse_tracing(c))
			fallback_hit(c, 0, what, nr, 0, 0, name);
	} else if (what && guarded_from_current(target)) {
		fallback_hit(c, target, what, nr, 0, 0, name);
	}
	return 0;
}

/* Every signal passes here, by whatever route (kill, tgkill, a process
 * group, pidfd_send_signal, sigqueue, ptrace's SIGSTOP, F_SETSIG), in the
 * sender's context with the target's siglock held. A signal cannot be
 * refused here: it is marked foreign for signal_deliver to repair in the
 * target, and its sender is killed on its way out of the syscall. Foreign
 * are signals sent from another thread group's syscall, and F_SETSIG ones
 * (si_code POLL_*) from outside the target's group; the kernel's own (a
 * fault, a tty's ^Z) pass, as under LSM. A member of the tree that passes
 * on a foreign signal it took through a signalfd (the supervisor forwards
 * SIGQUIT) passes the mark on with it. */
SEC("tp_btf/signal_generate")
int BPF_PROG(ct_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	__u32 target, me, tid, one = 1;
	__u64 bit = SIGBIT(sig), *mine, *theirs, zero = 0;
	struct ct_config *c;
	bool from_syscall;
	long nr;
	int code;

	if (!denied_signal(sig) || result == TRACE_SIGNAL_IGNORED || !task)
		return 0;
	target = BPF_CORE_READ(task, tgid);
	if (!bpf_map_lookup_elem(&protected, &target))
		return 0;
	c = cfg();
	if (!c)
		return 0;
	nr = current_syscall();
	from_syscall = signal_syscall(nr);
	if (!guarded_from_current(target)) {
		/* inside the tree: a forward of a foreign signal stays foreign */
		me = current_tgid();
		mine = bpf_map_lookup_elem(&foreign_signals, &me);
		if (!from_syscall || !mine || !(*mine & bit) || !enforcing(c))
			return 0;
		__sync_fetch_and_and(mine, ~bit);
		goto mark;
	}
	if (!from_syscall) {
		if ((unsigned long)info <= 1) /* SEND_SIG_NOINFO, SEND_SIG_PRIV */
			return 0;
		code = BPF_CORE_READ(info, si_code);
		if (code < POLL_IN || code > POLL_HUP)
			return 0;
	} else {
		report(target, CT_WHAT_SIGNAL, enforcing(c) ? CT_ACTION_KILLED : CT_ACTION_LOGGED,
		       nr, sig, CT_NEUTRAL_NONE, NULL);
		if (enforcing(c)) {
			tid = (__u32)bpf_get_current_pid_tgid();
			bpf_map_update_elem(&doomed, &tid, &one, BPF_ANY);
		}
	}
	if (!enforcing(c))
		return 0;
mark:
	theirs = bpf_map_lookup_elem(&foreign_signals, &target);
	if (!theirs) {
		bpf_map_update_elem(&foreign_signals, &target, &zero, BPF_NOEXIST);
		theirs = bpf_map_lookup_elem(&foreign_signals, &target);
	}
	if (theirs)
		__sync_fetch_and_or(theirs, bit);
	return 0;
}

/* The target dequeued a signal to act on it; its siglock is held, with
 * interrupts off, so a signal sent from here is deferred to the moment
 * that lock drops: before the stop (do_signal_stop) or the core dump
 * (vfs_coredump) it is about to start. A foreign stop gets a SIGCONT, which
 * wakes it before it sleeps; a foreign core-dumping signal the process does
 * not handle gets a SIGKILL, so coredump_wait() finds the group already
 * exiting and writes no core: the process dies, as the signal would have
 * made it, with its memory unread. */
SEC("tp_btf/signal_deliver")
int BPF_PROG(ct_signal_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	__u32 me = current_tgid(), what = CT_NEUTRAL_NONE;
	__u64 bit, *marks;

	if (!denied_signal(sig))
		return 0;
	bit = SIGBIT(sig);
	marks = bpf_map_lookup_elem(&foreign_signals, &me);
	if (!marks || !(*marks & bit))
		return 0;
	__sync_fetch_and_and(marks, ~bit);
	if (STOP_SIGNALS & bit)
		what = bpf_send_signal(SIGCONT) ? CT_NEUTRAL_FAILED : CT_NEUTRAL_CONT;
	else if ((unsigned long)BPF_CORE_READ(ka, sa.sa_handler) == SIG_DFL)
		what = bpf_send_signal(SIGKILL) ? CT_NEUTRAL_FAILED : CT_NEUTRAL_KILL;
	report(me, CT_WHAT_SIGNAL, CT_ACTION_NEUTRALIZED, -1, sig, what, NULL);
	return 0;
}

/* Fires for each submission in the submitter's context: the caller of
 * io_uring_enter(), or a SQPOLL ring's kernel thread, which belongs to the
 * ring owner's thread group. */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(ct_uring_submit, struct io_kiocb *req)
{
	struct ct_config *c = cfg();

	if (refuse_io_uring(c))
		fallback_hit(c, 0, CT_WHAT_IO_URING, -1, BPF_CORE_READ(req, opcode), 0, NULL);
	return 0;
}

/* ---- both tiers: inheritance and cleanup ------------------------------- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ct_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct ct_protected *p, v;
	struct ct_config *c;

	if (BPF_CORE_READ(child, pid) != ctgid) /* a new thread, same tgid */
		return 0;
	p = bpf_map_lookup_elem(&protected, &ptgid);
	if (!p)
		return 0;
	v.group = p->group;
	v.flags = p->flags & ~CT_PROT_ENFORCER;
	if (bpf_map_update_elem(&protected, &ctgid, &v, BPF_NOEXIST) == 0) {
		c = cfg();
		if (c)
			__sync_fetch_and_add(&c->nprotected, 1);
		report(ctgid, CT_WHAT_INHERITED, CT_ACTION_NONE, -1, ptgid, 0, NULL);
	}
	return 0;
}

/* signal->live drops to 0 before this tracepoint (6.1 and 6.18): the
 * last thread of the group is exiting, and its tgid is still held by the
 * zombie, so it cannot have been reused yet. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(ct_exit, struct task_struct *p)
{
	struct ct_protected *e;
	struct ct_config *c;
	__u32 tgid, flags;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	tgid = BPF_CORE_READ(p, tgid);
	c = cfg();
	if (c && c->enforcer_tgid == tgid)
		c->enforcer_tgid = 0;
	e = bpf_map_lookup_elem(&protected, &tgid);
	if (!e)
		return 0;
	flags = e->flags;
	if (bpf_map_delete_elem(&protected, &tgid) == 0) {
		if (c && !(flags & CT_PROT_ENFORCER))
			__sync_fetch_and_add(&c->nprotected, -1);
		report(tgid, CT_WHAT_RELEASED, CT_ACTION_NONE, -1, 0, 0, NULL);
	}
	return 0;
}
