/* What the files of ct-attack share (attack.c has the usage): the attack
 * the command line names, and the output of its two surfaces. Each vector
 * is written once and reports through these calls; output.c turns them
 * into the probe's one line or the hunt's facts. */
#ifndef CT_ATTACK_H
#define CT_ATTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One attack per process. */
struct attack {
	const char *vector; /* as named on the command line */
	const char *target; /* the PID argument (a directory, a name for bpf_*) */
	pid_t pid;          /* the target: a process, or a thread id */
	unsigned long addr; /* the secret's address in the target, 0: none */
	const char *fds;    /* the target's fds, a comma list */
	bool hunt;          /* hunt surface: everything the vector reaches */
};
extern struct attack attack;

/* How much one read at the secret's address takes: the probe needs the
 * secret's prefix, the hunt a page around it. */
#define AT_LEN (attack.hunt ? 4096u : 64u)

/* ---- output.c ---- */

/* The hunt announces each guarded call ({"step":...}): under the
 * tracepoint fallback the attacker dies there. */
void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The vector's access was refused: the probe reports the first refusal
 * (exit 1), the hunt lists it ({"what":...,"err":...}). */
void refused(const char *what, int err);

/* A detail of the hunt ("what":..., members in fmt); the probe keeps none. */
void item(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void item_err(const char *what, int err);

/* Bytes that came back and the markers in them: the probe sums them, the
 * hunt's total counts the hits. */
void took(unsigned long bytes, long hits);

/* Prints the result line; returns the exit status. */
int finish(void);

/* "EPERM" (the libc's name). */
const char *ename(int err);

/* Reads the markers: from stdin for the hunt (one per line), the
 * secrets' prefix for the probe. */
void read_markers(void);

/* A streaming search for the markers: chunks fed in order, markers that
 * span two chunks count. */
#define MAX_MARKERS 16
struct scanner {
	size_t tail;
	long hits;
	unsigned long bytes;
	long per[MAX_MARKERS]; /* hits of each marker, in stdin order */
};
void feed(struct scanner *sc, const void *data, size_t n);

/* The hits of each marker as a JSON array ("[2,0,1]"); a static buffer. */
const char *per_marker(const struct scanner *sc);

/* A member of the hunt's final line besides vector, pid, hits and items
 * ("\"tokens\":[...]"). */
void fact(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The largest chunk any reader takes at once. */
#define CHUNK (1 << 20)

/* The target's /proc/PID/maps, names made JSON-safe ("[anon]" for none):
 * the count (*out malloc'd, the caller frees it), or -errno. */
struct mapping {
	unsigned long start, end;
	char perms[5];
	char name[256];
};
int read_maps(struct mapping **out);

/* ---- the vectors (attack.c lists them): each runs the attack and
 * returns finish() ---- */

/* files.c: procfs files, fds, limits */
int v_environ(void);
int v_proc_file(void);     /* maps smaps pagemap stack syscall */
int v_task_environ(void);
int v_task_fd_reopen(void);
int v_map_files(void);
int v_getfd(void);
int v_getfd_race(void);
int v_getfd_sibling(void);
int v_reopen(void);
int v_coredump_filter(void);
int v_prlimit_core(void);
int v_prlimit_soft0(void);

/* memory.c: the target's memory */
int v_mem(void);
int v_scan(void);
int v_vm_readv(void);
int v_vm_writev(void);
int v_ptrace(void);
int v_ptrace_seize(void);
int v_tokens(void);

/* inject.c: code run by the target itself */
int v_ptrace_inject(void);

/* bpf_objects.c: BPF objects (probe only; PID names a directory or a
 * program, or is ignored) */
int v_bpf_pinned(void);
int v_bpf_progs(void);
int v_bpf_objects(void);
int v_bpf_left(void);
int v_bpf_hold(void);

#endif
