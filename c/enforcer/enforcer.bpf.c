// SPDX-License-Identifier: GPL-2.0
/* cloudtaser-enforcer, kernel side.
 *
 * Two tiers share one object; the loader picks which programs to load:
 *
 *   LSM tier (synchronous deny, -EPERM):
 *     lsm/file_open            /proc/<pid>/{environ,mem,maps,...}, map_files/,
 *                              writes to coredump_filter
 *     lsm/ptrace_access_check  ptrace attach, process_vm_readv/writev,
 *                              pidfd_getfd, /proc/<pid>/mem, fd/ links
 *     lsm/bpf                  writable fds for the enforcer's own maps and links
 *
 *   Fallback tier (kernel refuses trampolines: detect, then SIGKILL):
 *     tp_btf/sys_enter         ptrace, process_vm_*, pidfd_getfd, bpf by id
 *     tp_btf/sys_exit          a successful open() of a guarded /proc file
 *
 *   Both tiers:
 *     tp_btf/sched_process_fork  children of protected processes inherit
 *     tp_btf/sched_process_exit  the last thread's exit clears the entry
 *
 * Everything kernel-internal is read with BPF_CORE_READ so that the object
 * built against a 6.18 vmlinux.h loads on 6.1 (no bpf_rdonly_cast, and
 * sched_process_exit has one argument there, two here: we read only one).
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
#define PROC_SUPER_MAGIC 0x9fa0
#define FMODE_WRITE 0x2
#define PTRACE_MODE_NOAUDIT 0x04
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206
#define BPF_F_RDONLY (1U << 3)

/* x86_64 syscall numbers */
#define NR_open 2
#define NR_ptrace 101
#define NR_open_by_handle_at 304
#define NR_process_vm_readv 310
#define NR_process_vm_writev 311
#define NR_bpf 321
#define NR_openat 257
#define NR_openat2 437
#define NR_pidfd_getfd 438

/* Set by the loader before load (frozen afterwards). */
const volatile __u32 enforcer_tgid = 0;
const volatile bool enforce = true;

/* The enforcer's own object ids, written by the loader after attach. */
struct ct_own_ids own_ids = {};

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

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
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

static __always_inline void report(__u32 target, __u32 what, __u32 action, int nr,
				   __u32 detail, const char *name)
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
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->name[0] = 0;
	if (name)
		bpf_probe_read_kernel_str(e->name, sizeof(e->name), name);
	bpf_ringbuf_submit(e, 0);
}

/* tgid of the task a struct pid stands for, 0 when none. */
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
 * entry and fills *target and name, or 0 for anything else. */
static __always_inline __u32 classify_file(struct file *file, __u32 *target, char name[16])
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct dentry *dentry, *parent;
	struct pid *pid;
	__u32 what;
	bool write;

	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != PROC_SUPER_MAGIC)
		return 0;
	/* every procfs inode is embedded in a proc_inode */
	pid = BPF_CORE_READ((struct proc_inode *)((void *)inode -
						  bpf_core_field_offset(struct proc_inode,
									vfs_inode)),
			    pid);
	*target = pid_to_tgid(pid);
	if (!*target)
		return 0;
	write = BPF_CORE_READ(file, f_mode) & FMODE_WRITE;
	dentry = BPF_CORE_READ(file, f_path.dentry);
	bpf_probe_read_kernel_str(name, 16, BPF_CORE_READ(dentry, d_name.name));
	what = guarded_entry(name, write);
	if (what)
		return what;
	/* an entry inside /proc/<pid>/map_files/ */
	parent = BPF_CORE_READ(dentry, d_parent);
	bpf_probe_read_kernel_str(name, 16, BPF_CORE_READ(parent, d_name.name));
	return name_is(name, "map_files", 9) ? CT_WHAT_OPEN : 0;
}

static __always_inline bool is_own_id(int cmd, __u32 id)
{
	for (int i = 0; i < CT_MAX_OWN_IDS; i++) {
		__u32 own = cmd == BPF_MAP_GET_FD_BY_ID ? own_ids.map[i] : own_ids.link[i];
		if (own == 0)
			return false;
		if (own == id)
			return true;
	}
	return false;
}

/* Whether a bpf() call from the current task reaches one of our objects
 * for writing. Without an fd nobody can change a map, detach a link or
 * replace a program; fds come from *_GET_FD_BY_ID (we pin nothing) or from
 * the enforcer's own fd table, which the ptrace hook guards. */
static __always_inline bool touches_own_object(int cmd, __u32 id, __u32 open_flags)
{
	/* a program fd cannot change a program (they are immutable; replacing
	 * one takes its link), so `bpftool prog show` keeps working */
	if (cmd != BPF_MAP_GET_FD_BY_ID && cmd != BPF_LINK_GET_FD_BY_ID)
		return false;
	if (current_tgid() == enforcer_tgid)
		return false;
	/* a read-only map fd cannot change anything (bpftool map dump) */
	if (cmd == BPF_MAP_GET_FD_BY_ID && (open_flags & BPF_F_RDONLY))
		return false;
	return is_own_id(cmd, id);
}

static __always_inline int current_syscall(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return BPF_CORE_READ(regs, orig_ax);
}

/* ---- LSM tier ---------------------------------------------------------- */

SEC("lsm/file_open")
int BPF_PROG(ct_file_open, struct file *file, int ret)
{
	__u32 target = 0, what;
	char name[16];

	if (ret)
		return ret;
	what = classify_file(file, &target, name);
	if (!what || !guarded_from_current(target))
		return 0;
	report(target, what, enforce ? CT_ACTION_DENIED : CT_ACTION_LOGGED, current_syscall(), 0,
	       name);
	return enforce ? -EPERM : 0;
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(ct_ptrace_check, struct task_struct *child, unsigned int mode, int ret)
{
	__u32 target;

	if (ret)
		return ret;
	target = BPF_CORE_READ(child, tgid);
	if (!guarded_from_current(target))
		return 0;
	/* NOAUDIT checks are the quiet ones (ps reading /proc/<pid>/stat):
	 * deny them too, but do not flood the log. */
	if (!(mode & PTRACE_MODE_NOAUDIT))
		report(target, CT_WHAT_PTRACE, enforce ? CT_ACTION_DENIED : CT_ACTION_LOGGED,
		       current_syscall(), mode, NULL);
	return enforce ? -EPERM : 0;
}

/* The third argument and the previous verdict moved in 6.13 (a `bool
 * kernel` argument was added before it), so this hook reads only cmd and
 * attr and does not chain on `ret`. */
SEC("lsm/bpf")
int BPF_PROG(ct_bpf, int cmd, union bpf_attr *attr)
{
	__u32 id, flags;

	if (cmd != BPF_MAP_GET_FD_BY_ID && cmd != BPF_LINK_GET_FD_BY_ID)
		return 0;
	id = BPF_CORE_READ(attr, start_id);
	flags = BPF_CORE_READ(attr, open_flags);
	if (!touches_own_object(cmd, id, flags))
		return 0;
	report(enforcer_tgid, CT_WHAT_BPF, enforce ? CT_ACTION_DENIED : CT_ACTION_LOGGED, NR_bpf,
	       cmd, NULL);
	return enforce ? -EPERM : 0;
}

/* ---- fallback tier ----------------------------------------------------- */

static __always_inline void fallback_hit(__u32 target, __u32 what, int nr, __u32 detail,
					 const char *name)
{
	report(target, what, enforce ? CT_ACTION_KILLED : CT_ACTION_LOGGED, nr, detail, name);
	if (enforce)
		bpf_send_signal(SIGKILL);
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

/* The tgid a pidfd refers to: file->private_data up to 6.8, the pidfs
 * inode's i_private from 6.9 on. */
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

/* The pid in a path "/proc/<pid>/fd/...", else 0. Reopening another
 * process's fd through its /proc link yields that process's file, which
 * sys_exit cannot tell from an ordinary open: so look at the path. */
static __always_inline __u32 proc_fd_path_pid(const char *p)
{
	__u32 pid = 0;
	int state = 0, digits = 0;

	if (p[0] != '/' || p[1] != 'p' || p[2] != 'r' || p[3] != 'o' || p[4] != 'c' ||
	    p[5] != '/')
		return 0;
#pragma unroll
	for (int i = 6; i < 24; i++) {
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
			return pid;
		} else {
			return 0;
		}
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ct_sys_enter, struct pt_regs *regs, long id)
{
	static const char fd_name[] = "fd";
	unsigned long a0, a1;
	__u32 target, bpf_id = 0, flags = 0;
	char path[24] = {};

	if (id != NR_ptrace && id != NR_process_vm_readv && id != NR_process_vm_writev &&
	    id != NR_pidfd_getfd && id != NR_bpf && id != NR_open && id != NR_openat &&
	    id != NR_openat2)
		return 0;
	a0 = BPF_CORE_READ(regs, di);
	a1 = BPF_CORE_READ(regs, si);
	if (id == NR_open || id == NR_openat || id == NR_openat2) {
		bpf_probe_read_user_str(path, sizeof(path), (void *)(id == NR_open ? a0 : a1));
		target = proc_fd_path_pid(path);
		if (target && guarded_from_current(target))
			fallback_hit(target, CT_WHAT_OPEN, id, 0, fd_name);
		return 0;
	}
	switch (id) {
	case NR_ptrace: /* pids are resolved in the initial pid namespace */
		if (a0 != PTRACE_ATTACH && a0 != PTRACE_SEIZE)
			return 0;
		target = a1;
		break;
	case NR_process_vm_readv:
	case NR_process_vm_writev:
		target = a0;
		break;
	case NR_pidfd_getfd:
		target = pidfd_tgid(a0);
		break;
	default: /* NR_bpf: a0 = cmd, a1 = user pointer to union bpf_attr */
		bpf_probe_read_user(&bpf_id, sizeof(bpf_id), (void *)a1);
		bpf_probe_read_user(&flags, sizeof(flags), (void *)a1 + 8);
		if (touches_own_object(a0, bpf_id, flags))
			fallback_hit(enforcer_tgid, CT_WHAT_BPF, id, a0, NULL);
		return 0;
	}
	if (target && guarded_from_current(target))
		fallback_hit(target, CT_WHAT_PTRACE, id, 0, NULL);
	return 0;
}

/* An open of a guarded file has succeeded: the accessor dies on its way
 * back to user space, before it can read() the fd. */
SEC("tp_btf/sys_exit")
int BPF_PROG(ct_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 target = 0, what;
	struct file *file;
	char name[16];
	long nr;

	if (ret < 0)
		return 0;
	nr = BPF_CORE_READ(regs, orig_ax);
	if (nr != NR_open && nr != NR_openat && nr != NR_openat2 && nr != NR_open_by_handle_at)
		return 0;
	file = current_fd_file(ret);
	if (!file)
		return 0;
	what = classify_file(file, &target, name);
	if (what && guarded_from_current(target))
		fallback_hit(target, what, nr, 0, name);
	return 0;
}

/* ---- both tiers: inheritance and cleanup ------------------------------- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ct_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct ct_protected *p, v;

	if (BPF_CORE_READ(child, pid) != ctgid) /* a new thread, same tgid */
		return 0;
	p = bpf_map_lookup_elem(&protected, &ptgid);
	if (!p)
		return 0;
	v = *p;
	if (bpf_map_update_elem(&protected, &ctgid, &v, BPF_ANY) == 0)
		report(ctgid, CT_WHAT_INHERITED, CT_ACTION_NONE, -1, ptgid, NULL);
	return 0;
}

/* signal->live drops to 0 before this tracepoint (6.1 and 6.18): the
 * last thread of the group is exiting, and its tgid is still held by the
 * zombie, so it cannot have been reused yet. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(ct_exit, struct task_struct *p)
{
	__u32 tgid;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	tgid = BPF_CORE_READ(p, tgid);
	if (bpf_map_delete_elem(&protected, &tgid) == 0)
		report(tgid, CT_WHAT_RELEASED, CT_ACTION_NONE, -1, 0, NULL);
	return 0;
}
