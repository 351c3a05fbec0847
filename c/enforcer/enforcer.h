/* Structures shared by enforcer.bpf.c (kernel) and enforcer.c (loader).
 *
 * The protected set is a hash map keyed by tgid (initial pid namespace).
 * Its value names the protection group: the tgid that registered. Members
 * of one group may inspect each other (the wrapper and its app); nobody
 * else may, root included. */
#ifndef CLOUDTASER_ENFORCER_H
#define CLOUDTASER_ENFORCER_H

#define CT_MAX_PROTECTED 16384
#define CT_MAX_OWN_IDS   32
#define CT_NAME_LEN      32
#define CT_COMM_LEN      16

/* What an accessor tried: the `what` field of an event. */
enum ct_what {
	CT_WHAT_OPEN = 1,       /* open of a guarded /proc/<pid>/ entry (name says which) */
	CT_WHAT_WRITE = 2,      /* open for write (coredump_filter) */
	CT_WHAT_PTRACE = 3,     /* ptrace_access_check: the syscall nr says how */
	CT_WHAT_BPF = 4,        /* an fd for one of the enforcer's own BPF objects */
	CT_WHAT_RELEASED = 5,   /* not a denial: a protected process exited */
	CT_WHAT_INHERITED = 6,  /* not a denial: a protected process forked */
};

/* What the enforcer did about it. */
enum ct_action {
	CT_ACTION_DENIED = 1,   /* LSM: the call returned -EPERM */
	CT_ACTION_KILLED = 2,   /* fallback: SIGKILL sent to the accessor */
	CT_ACTION_LOGGED = 3,   /* detect mode: nothing done */
	CT_ACTION_NONE = 4,     /* bookkeeping events */
};

struct ct_protected {
	unsigned int group; /* tgid of the registered root of this tree */
};

struct ct_event {
	unsigned int accessor_pid; /* tgid */
	unsigned int accessor_tid;
	unsigned int target_pid;   /* tgid */
	unsigned int what;         /* enum ct_what */
	unsigned int action;       /* enum ct_action */
	int syscall_nr;            /* -1 when unknown */
	unsigned int detail;       /* ptrace mode, bpf cmd, or the parent tgid */
	char comm[CT_COMM_LEN];
	char name[CT_NAME_LEN];    /* the /proc entry, when what is OPEN/WRITE */
};

/* The enforcer's own BPF object ids (.bss, written by the loader after
 * attach). Ids live in three separate id spaces; zero ends each list. */
struct ct_own_ids {
	unsigned int map[CT_MAX_OWN_IDS];
	unsigned int prog[CT_MAX_OWN_IDS];
	unsigned int link[CT_MAX_OWN_IDS];
};

#endif
