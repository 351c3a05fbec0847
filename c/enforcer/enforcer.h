/* Structures shared by enforcer.bpf.c (kernel) and enforcer.c (loader).
 *
 * The protected set is a hash map keyed by tgid (initial pid namespace).
 * Its value names the protection group: the tgid that registered. Members
 * of one group may inspect each other (the wrapper and its app); nobody
 * else may, root included.
 *
 * Everything the programs need at run time lives in maps that are pinned
 * in bpffs, so a restarted daemon finds them again: the protected set, the
 * event ring buffer and one configuration entry (struct ct_config). */
#ifndef CLOUDTASER_ENFORCER_H
#define CLOUDTASER_ENFORCER_H

#define CT_MAX_PROTECTED 16384
#define CT_MAX_OWN_IDS   32
#define CT_MAX_ALLOW     16
#define CT_NAME_LEN      32
#define CT_COMM_LEN      16

/* Bumped whenever the pinned maps' layout or meaning changes: a daemon
 * adopts only pins of its own layout. */
#define CT_LAYOUT 2

/* What an accessor tried: the `what` field of an event. */
enum ct_what {
	CT_WHAT_OPEN = 1,       /* open of a guarded /proc/<pid>/ entry (name says which) */
	CT_WHAT_WRITE = 2,      /* open for write (coredump_filter) */
	CT_WHAT_PTRACE = 3,     /* ptrace_access_check: the syscall nr says how */
	CT_WHAT_BPF = 4,        /* an fd for one of the enforcer's own BPF objects */
	CT_WHAT_RELEASED = 5,   /* not a denial: a protected process exited */
	CT_WHAT_INHERITED = 6,  /* not a denial: a protected process forked */
	CT_WHAT_SIGNAL = 7,     /* a stop or core-dumping signal; detail: the signal */
	CT_WHAT_TRACING = 8,    /* a tracing-class BPF program; detail: bpf cmd, extra: prog type */
	CT_WHAT_PERF = 9,       /* perf_event_open */
	CT_WHAT_IO_URING = 10,  /* io_uring use; detail: the opcode (submit) or 0 */
	CT_WHAT_PIN = 11,       /* unlink/rename/umount of the pinned objects */
	CT_WHAT_TRACEFS = 12,   /* a tracefs file opened for writing (name says which) */
	CT_WHAT_SIGIO = 13,     /* F_SETSIG to a stop or core signal (tracepoint tier) */
};

/* What the enforcer did about it. */
enum ct_action {
	CT_ACTION_DENIED = 1,      /* LSM: the call returned -EPERM */
	CT_ACTION_KILLED = 2,      /* fallback: SIGKILL sent to the accessor */
	CT_ACTION_LOGGED = 3,      /* detect mode: nothing done */
	CT_ACTION_NONE = 4,        /* bookkeeping events */
	CT_ACTION_NEUTRALIZED = 5, /* fallback: a refused signal repaired in its target */
};

/* What the tracepoint tier did in the target of a signal it could not
 * refuse (the `extra` field of a neutralized CT_WHAT_SIGNAL event). */
enum ct_neutral {
	CT_NEUTRAL_NONE = 0,   /* nothing needed (the target handles the signal) */
	CT_NEUTRAL_CONT = 1,   /* SIGCONT: the stop it was entering is undone */
	CT_NEUTRAL_KILL = 2,   /* SIGKILL: it dies without writing a core */
	CT_NEUTRAL_FAILED = 3, /* bpf_send_signal() failed */
};

/* ct_protected.flags */
#define CT_PROT_ENFORCER 1 /* the daemon itself: not counted as protected */

struct ct_protected {
	unsigned int group; /* tgid of the registered root of this tree */
	unsigned int flags;
};

struct ct_event {
	unsigned int accessor_pid; /* tgid */
	unsigned int accessor_tid;
	unsigned int target_pid;   /* tgid */
	unsigned int what;         /* enum ct_what */
	unsigned int action;       /* enum ct_action */
	int syscall_nr;            /* -1 when unknown */
	unsigned int detail;       /* ptrace mode, bpf cmd, signal, or the parent tgid */
	unsigned int extra;        /* prog type, enum ct_neutral */
	char comm[CT_COMM_LEN];
	char name[CT_NAME_LEN];    /* the /proc entry, when what is OPEN/WRITE */
};

/* Who may use tracing (BPF tracing programs, perf_event_open, tracefs
 * writes) or io_uring while something is protected. A process matches an
 * entry when every field set in it matches: its executable (inode and
 * device of mm->exe_file) and/or its cgroup (v2 id, or an ancestor's). */
#define CT_ALLOW_TRACING  1
#define CT_ALLOW_IO_URING 2

struct ct_allow {
	unsigned int kinds;         /* CT_ALLOW_* */
	unsigned int dev;           /* kernel dev_t of the executable, 0: any */
	unsigned long long ino;     /* inode of the executable, 0: any */
	unsigned long long cgroup;  /* cgroup v2 id, 0: any */
};

/* The enforcer's own BPF objects: ids live in separate id spaces; zero
 * ends each list. */
struct ct_own_ids {
	unsigned int map[CT_MAX_OWN_IDS];
	unsigned int link[CT_MAX_OWN_IDS];
};

/* ct_config.flags */
#define CT_CFG_ENFORCE 1 /* deny/kill; without it only log (detect mode) */
#define CT_CFG_LSM     2 /* the LSM tier is loaded (else the tracepoint tier) */
#define CT_CFG_KFUNCS  4 /* the tracepoint programs use the 6.13 kfuncs */

/* The one entry of the `config` map (mmapable: the daemon writes it
 * directly, counters with atomics). */
struct ct_config {
	unsigned int layout;             /* CT_LAYOUT of the loader that installed */
	unsigned int flags;              /* CT_CFG_* */
	unsigned int enforcer_tgid;      /* the live daemon; 0 once it exited */
	unsigned int enforcer_exe_dev;   /* who may adopt or uninstall the pins: */
	unsigned long long enforcer_exe_ino; /* a process running this executable */
	unsigned long long pin_dir_ino;  /* the pin directory (unlink/rename guard) */
	unsigned int pin_dev;            /* and its bpffs (umount guard) */
	unsigned int nallow;
	long long nprotected;            /* protected processes besides the daemon */
	struct ct_allow allow[CT_MAX_ALLOW];
	struct ct_own_ids ids;
};

#endif
