// SPDX-License-Identifier: Apache-2.0
/* ct-attack: one attack by root on another process's secrets, run as its
 * own process (the enforcer's tracepoint tier kills the attacker). One
 * program with two surfaces over the same vectors:
 *
 *   ct-attack VECTOR PID [ADDR [FDS]]
 *   ct-attack --hunt VECTOR PID [ADDR [FDS]] < markers    (or as
 *                                                           ct-rootattack)
 *
 * The probe (the enforcer's tests and VM, tests/enforcer/, scripts/vm/)
 * asks whether the access works: it reads at ADDR only, looks for the
 * secrets' prefix (report.h) and prints one line, exit 0 worked, 1 refused:
 *   {"attack":"environ","pid":N,"result":"ok","bytes":K,"saw_secret":true}
 *   {"attack":"environ","pid":N,"result":"EPERM","errno":1,"step":"..."}
 * The hunt (the root attack matrix, tests/attacks/) takes everything the
 * vector reaches and counts the markers that come on stdin, one per line;
 * it prints {"step":"..."} before each guarded call (where a kill lands),
 * then one line of facts, exit 0:
 *   {"vector":V,"pid":P,"hits":H,"items":[{"what":"...","err":"EIO"} |
 *                                         {"what":"...","bytes":N,"hits":H}]}
 * Neither ever prints a secret or a marker: counts, names, errnos.
 *
 * VECTOR (PID may be a thread id: the kernel resolves it to the thread's
 * process, and so must the enforcer):
 *   environ maps smaps pagemap stack syscall   read /proc/PID/<entry>
 *   task_environ, task_fd_reopen  the same through /proc/TGID/task/PID/
 *                    (environ; fd/FDS)
 *   mem              pread /proc/PID/mem at ADDR
 *   scan             every readable mapping through /proc/PID/mem
 *   vm_readv, process_vm_readv   process_vm_readv at ADDR (the hunt: then
 *                    every readable mapping)
 *   process_vm_writev   overwrite the secret at ADDR
 *   ptrace, ptrace_seize   PTRACE_ATTACH (SEIZE + INTERRUPT), PEEKDATA at
 *                    ADDR (the hunt: then every writable or anonymous
 *                    mapping), detach
 *   ptrace_inject    attach, make the target write its secretmem mappings
 *                    into a pipe and steal its read end (inject.c)
 *   getfd, pidfd_getfd   pidfd_getfd each fd of FDS (comma list, or `all`:
 *                    every fd below 256), then read and map what was stolen
 *   getfd_race       (probe) pidfd_getfd over fds 0..FDS in a loop until the
 *                    target exits: the start-up window (files.c)
 *   getfd_sibling    (probe) pidfd_getfd of fd FDS, with a clone(CLONE_FILES)
 *                    sibling that looks for the stolen fd after the
 *                    attacker is done or dead (files.c)
 *   tokens           (hunt) every token-shaped string ("s." + 24) in the
 *                    readable mappings, listed in the final line's "tokens"
 *                    for the harness to try: the one output that holds a
 *                    credential, never printed by the harness
 *   reopen, fd_reopen   open /proc/PID/fd/N for each N of FDS, the same
 *   map_files        open every /proc/PID/map_files/ entry, read the
 *                    memory-backed ones
 *   coredump_filter  write 0x1ff to /proc/PID/coredump_filter
 *   prlimit_core     raise PID's RLIMIT_CORE to unlimited
 *   prlimit_soft0    lower PID's soft RLIMIT_CORE to 0, hard kept
 *   bpf_pinned bpf_progs bpf_objects bpf_left bpf_hold   BPF objects, the
 *                    probe only (bpf_objects.c)
 * ADDR is 0 when the target has no secret address. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack.h"

struct attack attack;

static const struct vector {
	const char *name;
	int (*run)(void);
	bool probe_only;
} vectors[] = {
	{ "environ", v_environ, false },
	{ "maps", v_proc_file, false },
	{ "smaps", v_proc_file, false },
	{ "pagemap", v_proc_file, false },
	{ "stack", v_proc_file, false },
	{ "syscall", v_proc_file, false },
	{ "task_environ", v_task_environ, false },
	{ "task_fd_reopen", v_task_fd_reopen, false },
	{ "mem", v_mem, false },
	{ "scan", v_scan, false },
	{ "vm_readv", v_vm_readv, false },
	{ "process_vm_readv", v_vm_readv, false },
	{ "process_vm_writev", v_vm_writev, false },
	{ "ptrace", v_ptrace, false },
	{ "ptrace_seize", v_ptrace_seize, false },
	{ "ptrace_inject", v_ptrace_inject, false },
	{ "getfd", v_getfd, false },
	{ "pidfd_getfd", v_getfd, false },
	{ "getfd_race", v_getfd_race, true },
	{ "getfd_sibling", v_getfd_sibling, true },
	{ "tokens", v_tokens, false },
	{ "reopen", v_reopen, false },
	{ "fd_reopen", v_reopen, false },
	{ "map_files", v_map_files, false },
	{ "coredump_filter", v_coredump_filter, false },
	{ "prlimit_core", v_prlimit_core, false },
	{ "prlimit_soft0", v_prlimit_soft0, false },
	{ "bpf_pinned", v_bpf_pinned, true },
	{ "bpf_progs", v_bpf_progs, true },
	{ "bpf_objects", v_bpf_objects, true },
	{ "bpf_left", v_bpf_left, true },
	{ "bpf_hold", v_bpf_hold, true },
};

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');
	int i = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	self = self ? self + 1 : argv[0];
	attack.hunt = strcmp(self, "ct-rootattack") == 0;
	if (i < argc && strcmp(argv[i], "--hunt") == 0) {
		attack.hunt = true;
		i++;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: ct-attack [--hunt] VECTOR PID [ADDR [FDS]]%s\n",
			attack.hunt ? " < markers" : "");
		return 2;
	}
	attack.vector = argv[i];
	attack.target = argv[i + 1];
	attack.pid = atoi(argv[i + 1]);
	attack.addr = argc > i + 2 ? strtoul(argv[i + 2], NULL, 0) : 0;
	attack.fds = argc > i + 3 ? argv[i + 3] : "";
	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		if (strcmp(vectors[v].name, attack.vector) != 0)
			continue;
		if (vectors[v].probe_only && attack.hunt) {
			fprintf(stderr, "ct-attack: %s has no hunt\n", attack.vector);
			return 2;
		}
		read_markers();
		return vectors[v].run();
	}
	fprintf(stderr, "ct-attack: unknown vector %s\n", attack.vector);
	return 2;
}
