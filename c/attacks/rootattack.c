// SPDX-License-Identifier: Apache-2.0
// ct-rootattack: one attack by root on another process's secrets, for the
// root attack matrix (tests/attacks/matrix.ts). The markers to look for come
// on stdin, one per line; the output names how many were found and where,
// never a marker.
//
//   ct-rootattack VECTOR PID [ADDR] [FDS] < markers
//
// VECTOR:
//   environ          read /proc/PID/environ
//   mem              pread /proc/PID/mem at ADDR (the secret region)
//   scan             every readable mapping of /proc/PID/maps via /proc/PID/mem
//   vm_readv         process_vm_readv at ADDR, then every readable mapping
//   ptrace           PTRACE_ATTACH, PEEKDATA at ADDR, then every writable or
//                    anonymous mapping word by word, detach
//   getfd            pidfd_getfd each fd of FDS (comma list), then read/mmap
//                    what was stolen
//   reopen           open /proc/PID/fd/N for each of FDS, then read/mmap
//   map_files        open every /proc/PID/map_files/ entry, read/mmap the
//                    memory-backed ones (secretmem, memfd, deleted)
//   coredump_filter  write 0x1ff to /proc/PID/coredump_filter
//   prlimit_core     raise PID's RLIMIT_CORE to unlimited
//   prlimit_soft0    lower PID's soft RLIMIT_CORE to 0 (hard kept): allowed
//                    without CAP_SYS_RESOURCE, and at 0 a pipe core_pattern
//                    dumps (the kernel aborts pipe cores only at 1)
// ADDR is 0 when the target has no region.
//
// Output: {"step":"..."} before each guarded call (under the enforcer's
// tracepoint fallback the process is SIGKILLed there, so the last step says
// where), then one line:
//   {"vector":V,"pid":P,"hits":H,"items":[{"what":"...","err":"EIO"} |
//                                         {"what":"...","bytes":N,"hits":H}]}
// Exit status 0 (facts reported), 2 usage.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECRETMEM_MAGIC
#define SECRETMEM_MAGIC 0x5345434d
#endif

#define MAX_MARKERS 16
#define MAX_MARKER 512
#define CHUNK (1 << 20)
#define MAX_ITEMS 256
#define PTRACE_CAP (16UL << 20)

static char *markers[MAX_MARKERS];
static size_t marker_len[MAX_MARKERS];
static int n_markers;
static size_t max_len = 1;

static const char *vector;
static pid_t pid;
static long total_hits;
static char items[64 * 1024];
static size_t items_len;
static unsigned char buf[CHUNK + MAX_MARKER];

static void step(const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("{\"step\":\"%s\"}\n", msg);
  fflush(stdout);
}

static const char *ename(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "errno?";
}

static void item(const char *fmt, ...) {
  if (items_len + 512 > sizeof items) return;
  va_list ap;
  va_start(ap, fmt);
  items_len += (size_t)snprintf(items + items_len, sizeof items - items_len,
                                "%s{", items_len ? "," : "");
  items_len += (size_t)vsnprintf(items + items_len, sizeof items - items_len,
                                 fmt, ap);
  items_len += (size_t)snprintf(items + items_len, sizeof items - items_len,
                                "}");
  va_end(ap);
}

static void item_err(const char *what, int err) {
  item("\"what\":\"%s\",\"err\":\"%s\"", what, ename(err));
}

static int finish(void) {
  printf("{\"vector\":\"%s\",\"pid\":%d,\"hits\":%ld,\"items\":[%s]}\n", vector,
         (int)pid, total_hits, items);
  return 0;
}

static void read_markers(void) {
  char line[MAX_MARKER + 2];
  while (n_markers < MAX_MARKERS && fgets(line, sizeof line, stdin)) {
    size_t n = strcspn(line, "\n");
    if (n == 0) continue;
    markers[n_markers] = strndup(line, n);
    marker_len[n_markers] = n;
    if (n > max_len) max_len = n;
    n_markers++;
  }
  explicit_bzero(line, sizeof line);
}

// Markers that end in the last `n` bytes of p[0..tail+n).
static long count_new(const unsigned char *p, size_t tail, size_t n) {
  long hits = 0;
  size_t len = tail + n;
  for (int m = 0; m < n_markers; m++) {
    size_t ml = marker_len[m];
    const unsigned char *s = p, *end = p + len;
    while ((size_t)(end - s) >= ml) {
      const unsigned char *h = memmem(s, (size_t)(end - s), markers[m], ml);
      if (!h) break;
      if ((size_t)(h - p) + ml > tail) hits++;
      s = h + 1;
    }
  }
  return hits;
}

// A streaming scanner: feed chunks in order, markers spanning chunks count.
struct scanner {
  size_t tail;
  long hits;
  unsigned long bytes;
};

static void feed(struct scanner *sc, const void *data, size_t n) {
  while (n > 0) {
    size_t take = n < CHUNK ? n : CHUNK;
    memcpy(buf + sc->tail, data, take);
    sc->hits += count_new(buf, sc->tail, take);
    sc->bytes += take;
    size_t len = sc->tail + take, keep = max_len - 1 < len ? max_len - 1 : len;
    memmove(buf, buf + len - keep, keep);
    sc->tail = keep;
    data = (const unsigned char *)data + take;
    n -= take;
  }
}

// ------------------------------------------------------------- maps

struct mapping {
  unsigned long start, end;
  char perms[5];
  char name[256];
};

static int read_maps(struct mapping **out) {
  char path[64], line[768];
  snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
  step("open %s", path);
  FILE *f = fopen(path, "r");
  if (!f) return -errno;
  int n = 0, cap = 64;
  struct mapping *v = calloc((size_t)cap, sizeof *v);
  while (v && fgets(line, sizeof line, f)) {
    if (n == cap) {
      cap *= 2;
      struct mapping *w = realloc(v, (size_t)cap * sizeof *v);
      if (!w) break;
      v = w;
    }
    struct mapping *m = &v[n];
    int off = 0;
    if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &m->start, &m->end,
               m->perms, &off) < 3)
      continue;
    char *name = line + off;
    name[strcspn(name, "\n")] = 0;
    snprintf(m->name, sizeof m->name, "%s", *name ? name : "[anon]");
    // JSON-safe: names are paths; drop quotes and backslashes
    for (char *c = m->name; *c; c++)
      if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '?';
    n++;
  }
  fclose(f);
  *out = v;
  return n;
}

// Reads [start, end) with `rd` in chunks; returns the errno that stopped it.
typedef long (*reader)(void *ctx, unsigned long addr, void *dst, size_t n);

static int scan_range(reader rd, void *ctx, unsigned long start,
                      unsigned long end, struct scanner *sc) {
  for (unsigned long a = start; a < end;) {
    size_t want = end - a < CHUNK ? end - a : CHUNK;
    static unsigned char tmp[CHUNK];
    long n = rd(ctx, a, tmp, want);
    if (n <= 0) return n < 0 ? (int)-n : EIO;
    feed(sc, tmp, (size_t)n);
    a += (unsigned long)n;
  }
  return 0;
}

static void scan_mappings(reader rd, void *ctx, int only_writable) {
  struct mapping *maps = NULL;
  int n = read_maps(&maps);
  if (n < 0) {
    item_err("open maps", -n);
    return;
  }
  unsigned long budget = PTRACE_CAP;
  int clean = 0;
  for (int i = 0; i < n; i++) {
    struct mapping *m = &maps[i];
    if (m->perms[0] != 'r' || strcmp(m->name, "[vsyscall]") == 0) continue;
    if (only_writable && m->perms[1] != 'w' && strcmp(m->name, "[anon]") != 0 &&
        strcmp(m->name, "[stack]") != 0 && !strstr(m->name, "secretmem"))
      continue;
    if (only_writable && m->end - m->start > budget) continue;
    if (only_writable) budget -= m->end - m->start;
    struct scanner sc = {0};
    int err = scan_range(rd, ctx, m->start, m->end, &sc);
    total_hits += sc.hits;
    if (err)
      item("\"what\":\"%s\",\"bytes\":%lu,\"hits\":%ld,\"err\":\"%s\"",
           m->name, sc.bytes, sc.hits, ename(err));
    else if (sc.hits)
      item("\"what\":\"%s\",\"bytes\":%lu,\"hits\":%ld", m->name, sc.bytes,
           sc.hits);
    else
      clean++;
  }
  item("\"what\":\"other readable mappings\",\"count\":%d,\"hits\":0", clean);
  free(maps);
}

// ------------------------------------------------------------- readers

static long rd_mem(void *ctx, unsigned long addr, void *dst, size_t n) {
  ssize_t r = pread(*(int *)ctx, dst, n, (off_t)addr);
  return r < 0 ? -errno : r;
}

static long rd_vm(void *ctx, unsigned long addr, void *dst, size_t n) {
  (void)ctx;
  struct iovec local = {dst, n}, remote = {(void *)addr, n};
  ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return r < 0 ? -errno : r;
}

static long rd_peek(void *ctx, unsigned long addr, void *dst, size_t n) {
  (void)ctx;
  size_t done = 0;
  for (; done + sizeof(long) <= n; done += sizeof(long)) {
    errno = 0;
    long w = ptrace(PTRACE_PEEKDATA, pid, addr + done, 0);
    if (errno) return done ? (long)done : -errno;
    memcpy((char *)dst + done, &w, sizeof w);
  }
  return (long)done;
}

// ------------------------------------------------------------- vectors

static int do_environ(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
  step("open %s", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return item_err("open environ", errno), finish();
  struct scanner sc = {0};
  static unsigned char tmp[CHUNK];
  step("read %s", path);
  ssize_t n;
  while ((n = read(fd, tmp, sizeof tmp)) > 0) feed(&sc, tmp, (size_t)n);
  if (n < 0) item_err("read environ", errno);
  close(fd);
  total_hits = sc.hits;
  item("\"what\":\"environ\",\"bytes\":%lu,\"hits\":%ld", sc.bytes, sc.hits);
  return finish();
}

static void read_at(reader rd, void *ctx, unsigned long addr,
                    const char *what) {
  static unsigned char tmp[4096];
  long n = rd(ctx, addr, tmp, sizeof tmp);
  if (n < 0) return item_err(what, (int)-n);
  struct scanner sc = {0};
  feed(&sc, tmp, (size_t)n);
  total_hits += sc.hits;
  item("\"what\":\"%s\",\"bytes\":%ld,\"hits\":%ld", what, n, sc.hits);
}

static int open_mem(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
  step("open %s", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) item_err("open mem", errno);
  return fd;
}

static int do_mem(unsigned long addr) {
  int fd = open_mem();
  if (fd < 0) return finish();
  step("pread mem at region");
  if (addr) read_at(rd_mem, &fd, addr, "pread region");
  close(fd);
  return finish();
}

static int do_scan(void) {
  int fd = open_mem();
  if (fd < 0) return finish();
  scan_mappings(rd_mem, &fd, 0);
  close(fd);
  return finish();
}

static int do_vm_readv(unsigned long addr) {
  step("process_vm_readv");
  if (addr)
    read_at(rd_vm, NULL, addr, "process_vm_readv region");
  else
    read_at(rd_vm, NULL, 0x1000, "process_vm_readv probe");
  scan_mappings(rd_vm, NULL, 0);
  return finish();
}

static int do_ptrace(unsigned long addr) {
  step("PTRACE_ATTACH");
  if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0)
    return item_err("PTRACE_ATTACH", errno), finish();
  int st;
  waitpid(pid, &st, __WALL);
  if (addr) read_at(rd_peek, NULL, addr, "PEEKDATA region");
  scan_mappings(rd_peek, NULL, 1);
  ptrace(PTRACE_DETACH, pid, 0, 0);
  return finish();
}

// What a stolen or reopened fd is, and whether it gave up a marker.
static void loot(int fd, const char *what) {
  char link[64], target[256] = "?";
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t l = readlink(link, target, sizeof target - 1);
  target[l > 0 ? l : 0] = 0;
  for (char *c = target; *c; c++)
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '?';
  struct statfs fs;
  struct stat st;
  const char *kind = "other";
  int memory = 0;
  if (fstat(fd, &st) == 0) {
    if (S_ISFIFO(st.st_mode)) kind = "pipe";
    else if (S_ISSOCK(st.st_mode)) kind = "socket";
    else if (S_ISCHR(st.st_mode)) kind = "chardev";
    else if (S_ISREG(st.st_mode)) kind = "file";
  }
  if (fstatfs(fd, &fs) == 0 && fs.f_type == SECRETMEM_MAGIC) {
    kind = "secretmem";
    memory = 1;
  } else if (strncmp(target, "/memfd:", 7) == 0 || strstr(target, "(deleted)")) {
    memory = S_ISREG(st.st_mode);
    if (memory) kind = "memfd";
  } else if (strncmp(target, "anon_inode:", 11) == 0) {
    kind = "anon_inode";
  }
  if (!memory) {
    item("\"what\":\"%s\",\"kind\":\"%s\",\"target\":\"%s\"", what, kind,
         target);
    return;
  }
  // Memory-backed: take it all, by read and by mmap.
  struct scanner sc = {0};
  const char *read_err = "", *map_err = "";
  static unsigned char tmp[CHUNK];
  off_t off = 0;
  ssize_t n;
  while ((n = pread(fd, tmp, sizeof tmp, off)) > 0) {
    feed(&sc, tmp, (size_t)n);
    off += n;
  }
  if (n < 0) read_err = ename(errno);
  if (st.st_size > 0) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      map_err = ename(errno);
    } else {
      struct scanner ms = {0};
      feed(&ms, p, (size_t)st.st_size);
      if (ms.hits > sc.hits) sc.hits = ms.hits;
      munmap(p, (size_t)st.st_size);
    }
  }
  total_hits += sc.hits;
  item("\"what\":\"%s\",\"kind\":\"%s\",\"target\":\"%s\",\"size\":%lld,"
       "\"hits\":%ld,\"read_err\":\"%s\",\"mmap_err\":\"%s\"",
       what, kind, target, (long long)st.st_size, sc.hits, read_err, map_err);
}

static int do_getfd(const char *fds) {
  step("pidfd_open");
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return item_err("pidfd_open", errno), finish();
  char *list = strdup(fds ? fds : ""), *save = NULL;
  for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char what[32];
    snprintf(what, sizeof what, "fd %s", t);
    step("pidfd_getfd %s", t);
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(t), 0);
    if (fd < 0) {
      item_err(what, errno);
      continue;
    }
    loot(fd, what);
    close(fd);
  }
  free(list);
  return finish();
}

static int do_reopen(const char *fds) {
  char *list = strdup(fds ? fds : ""), *save = NULL;
  for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char path[64], what[32];
    snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)pid, t);
    snprintf(what, sizeof what, "fd %s", t);
    step("open %s", path);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      item_err(what, errno);
      continue;
    }
    loot(fd, what);
    close(fd);
  }
  free(list);
  return finish();
}

static int do_map_files(void) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/map_files", (int)pid);
  step("opendir %s", dir);
  DIR *d = opendir(dir);
  if (!d) return item_err("opendir map_files", errno), finish();
  int opened = 0, plain = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char target[256] = "";
    ssize_t l = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
    target[l > 0 ? l : 0] = 0;
    int memory = strstr(target, "secretmem") || strstr(target, "memfd:") ||
                 strstr(target, "(deleted)");
    step("open map_files entry");
    int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      char what[300];
      for (char *c = target; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '?';
      snprintf(what, sizeof what, "map_files %s", *target ? target : "?");
      item_err(what, errno);
      continue;
    }
    opened++;
    if (memory) loot(fd, "map_files entry");
    else plain++;
    close(fd);
  }
  closedir(d);
  item("\"what\":\"file-backed entries opened\",\"count\":%d,\"hits\":0",
       plain);
  (void)opened;
  return finish();
}

static int do_coredump_filter(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/coredump_filter", (int)pid);
  step("open %s for writing", path);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return item_err("open coredump_filter", errno), finish();
  step("write coredump_filter");
  if (write(fd, "0x1ff", 5) < 0) item_err("write coredump_filter", errno);
  else item("\"what\":\"write 0x1ff\",\"bytes\":5,\"hits\":0");
  close(fd);
  return finish();
}

static int do_prlimit_core(void) {
  struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
  step("prlimit RLIMIT_CORE");
  if (prlimit(pid, RLIMIT_CORE, &inf, NULL) < 0)
    item_err("prlimit", errno);
  else
    item("\"what\":\"RLIMIT_CORE unlimited\",\"bytes\":0,\"hits\":0");
  return finish();
}

static int do_prlimit_soft0(void) {
  struct rlimit now;
  step("prlimit RLIMIT_CORE soft 0");
  if (prlimit(pid, RLIMIT_CORE, NULL, &now) < 0) {
    item_err("prlimit (read)", errno);
  } else {
    struct rlimit soft0 = {0, now.rlim_max};
    if (prlimit(pid, RLIMIT_CORE, &soft0, NULL) < 0)
      item_err("prlimit", errno);
    else
      item("\"what\":\"RLIMIT_CORE soft 0\",\"bytes\":0,\"hits\":0");
  }
  return finish();
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 3) {
    fprintf(stderr, "usage: ct-rootattack VECTOR PID [ADDR] [FDS] < markers\n");
    return 2;
  }
  vector = argv[1];
  pid = atoi(argv[2]);
  unsigned long addr = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
  const char *fds = argc > 4 ? argv[4] : "";
  read_markers();
  if (strcmp(vector, "environ") == 0) return do_environ();
  if (strcmp(vector, "mem") == 0) return do_mem(addr);
  if (strcmp(vector, "scan") == 0) return do_scan();
  if (strcmp(vector, "vm_readv") == 0) return do_vm_readv(addr);
  if (strcmp(vector, "ptrace") == 0) return do_ptrace(addr);
  if (strcmp(vector, "getfd") == 0) return do_getfd(fds);
  if (strcmp(vector, "reopen") == 0) return do_reopen(fds);
  if (strcmp(vector, "map_files") == 0) return do_map_files();
  if (strcmp(vector, "coredump_filter") == 0) return do_coredump_filter();
  if (strcmp(vector, "prlimit_core") == 0) return do_prlimit_core();
  if (strcmp(vector, "prlimit_soft0") == 0) return do_prlimit_soft0();
  fprintf(stderr, "ct-rootattack: unknown vector %s\n", vector);
  return 2;
}
