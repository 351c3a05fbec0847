// SPDX-License-Identifier: Apache-2.0
// ct-app: the app the root attack matrix runs under the wrapper.
//
//   ct-app [--grandchild] [--sh-grandchild] [--static-grandchild PATH] KEY...
//                                  use each secret, report, wait for a signal
//   ct-app hold [FD]               (a grandchild) write "PID\n" to FD once
//                                  its start-up is done, wait for a signal
//
// It reads each KEY with getenv and keeps the pointers (as an app that uses
// its secrets does; in interposer delivery they point into its own
// memfd_secret mapping, in env delivery into its stack), then prints one JSON
// line the attacker uses instead of reading the protected /proc entries
// itself (under the enforcer the harness must not touch them):
//
//   {"app":PID,"wrapper":PPID,"grandchild":PID|0,
//    "app_region":"0x..."|null,"wrapper_region":"0x..."|null,
//    "grandchild_region":"0x..."|null,
//    "sh_grandchild":PID|0,"sh_grandchild_region":"0x..."|null,
//    "static_grandchild":PID|0,"static_error":"EPERM"|null,
//    "wrapper_layout":{"perms":"r--s","before":"---p","after":"---p"}|null,
//    "app_layout":{...}|null,
//    "app_stack":"0x..." (a page of its stack, for process_vm_readv/ptrace
//    when it has no region),
//    "app_fds":[0,1,2],"wrapper_fds":[0,1,2,4],
//    "keys":[{"key":"DB_PASSWORD","len":40,"where":"secretmem"}]}
//
// Grandchildren, the programs an app starts: --grandchild forks and execs
// this program (execl), --sh-grandchild runs it through /bin/sh -c (popen),
// --static-grandchild forks and execs PATH (a static build of this program,
// which cannot load the interposer); static_error is the exec's errno.
//
// The app may read its parent's and children's /proc entries: the enforcer
// lets the wrapper's group inspect itself. Lengths and key names only, never
// a value. Default signal dispositions: SIGSEGV/SIGABRT from outside dump
// core when the attacker allows it; SIGUSR2 makes the app abort() itself
// (its own crash, which no signal filter outside it can stop).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_KEYS 32

static const char *volatile kept[MAX_KEYS];

// The first /secretmem mapping of <pid> and its neighbours' permissions.
struct layout {
  unsigned long start, end;
  char perms[5], before[5], after[5];
};

static int layout_of(pid_t pid, struct layout *l) {
  char path[64], line[512], prev_perms[5] = "";
  unsigned long prev_end = 0, s, e;
  char perms[5];
  int found = 0;
  memset(l, 0, sizeof *l);
  snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-%lx %4s", &s, &e, perms) != 3) continue;
    if (found) {
      if (s == l->end) memcpy(l->after, perms, sizeof perms);
      break;
    }
    if (strstr(line, "/secretmem")) {
      found = 1;
      l->start = s;
      l->end = e;
      memcpy(l->perms, perms, sizeof perms);
      if (prev_end == s) memcpy(l->before, prev_perms, sizeof prev_perms);
    }
    prev_end = e;
    memcpy(prev_perms, perms, sizeof perms);
  }
  if (f) fclose(f);
  return found;
}

static unsigned long region_of(pid_t pid, unsigned long *end_out) {
  struct layout l;
  int found = pid > 0 && layout_of(pid, &l);
  if (end_out) *end_out = found ? l.end : 0;
  return found ? l.start : 0;
}

static void print_region(const char *name, pid_t pid) {
  unsigned long addr = region_of(pid, NULL);
  if (addr)
    printf(",\"%s\":\"0x%lx\"", name, addr);
  else
    printf(",\"%s\":null", name);
}

static void print_layout(const char *name, pid_t pid) {
  struct layout l;
  if (!layout_of(pid, &l)) {
    printf(",\"%s\":null", name);
    return;
  }
  printf(",\"%s\":{\"perms\":\"%s\",\"before\":\"%s\",\"after\":\"%s\"}", name,
         l.perms, l.before, l.after);
}

// The fd numbers open in <pid> (the directory's own fd left out).
static void print_fds(const char *name, pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  printf(",\"%s\":[", name);
  int first = 1, self = d && pid == getpid() ? dirfd(d) : -1;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == self) continue;
    printf("%s%d", first ? "" : ",", fd);
    first = 0;
  }
  if (d) closedir(d);
  printf("]");
}

static const char *where(const char *p) {
  unsigned long end, start = region_of(getpid(), &end);
  if (!p) return "unset";
  uintptr_t a = (uintptr_t)p;
  return start && a >= start && a < end ? "secretmem" : "other";
}

// Reads the "PID\n" a grandchild writes once its start-up is done; 0 when
// it wrote nothing (its exec failed, or it died).
static pid_t read_pid(int fd) {
  char buf[32];
  size_t n = 0;
  while (n < sizeof buf - 1) {
    ssize_t r = read(fd, buf + n, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || buf[n] == '\n') break;
    n++;
  }
  buf[n] = 0;
  return (pid_t)atoi(buf);
}

// Forks; the child puts the pipe's write end on fd 3 and execs
// PATH hold 3. Returns the pid that reported (0 if none); *err is the exec's
// errno when it failed.
static pid_t fork_exec(const char *path, int *err) {
  int rep[2], ex[2];
  *err = 0;
  if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
    *err = errno;
    return 0;
  }
  pid_t pid = fork();
  if (pid == 0) {
    if (dup2(rep[1], 3) < 0) _exit(126);
    execl(path, "ct-app", "hold", "3", (char *)NULL);
    int e = errno;
    ssize_t w = write(ex[1], &e, sizeof e);
    (void)w;
    _exit(126);
  }
  close(rep[1]);
  close(ex[1]);
  if (pid < 0) {
    *err = errno;
    close(rep[0]);
    close(ex[0]);
    return 0;
  }
  int e = 0;
  if (read(ex[0], &e, sizeof e) == (ssize_t)sizeof e) {
    *err = e;
    waitpid(pid, NULL, 0);
    pid = 0;
  } else {
    pid = read_pid(rep[0]);
  }
  close(rep[0]);
  close(ex[0]);
  return pid;
}

static void crash(int sig) {
  (void)sig;
  abort();
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "hold") == 0) {
    if (argc >= 3) {
      int fd = atoi(argv[2]);
      dprintf(fd, "%d\n", (int)getpid());
      close(fd);
    }
    for (;;) pause();
  }
  signal(SIGUSR2, crash);
  int first = 1;
  pid_t gc = 0, sh_gc = 0, static_gc = 0;
  int static_err = -1;
  FILE *sh_pipe = NULL;
  for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
    if (strcmp(argv[first], "--grandchild") == 0) {
      // What a program the app starts gets: the app's whole environ.
      int e;
      gc = fork_exec("/proc/self/exe", &e);
      if (!gc) fprintf(stderr, "ct-app: grandchild: %s\n", strerror(e));
    } else if (strcmp(argv[first], "--sh-grandchild") == 0) {
      char self[4096], cmd[4200];
      ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
      self[n > 0 ? n : 0] = 0;
      snprintf(cmd, sizeof cmd, "'%s' hold 1", self);
      sh_pipe = popen(cmd, "r"); // kept open: the grandchild lives on
      if (sh_pipe) sh_gc = read_pid(fileno(sh_pipe));
    } else if (strcmp(argv[first], "--static-grandchild") == 0 &&
               first + 1 < argc) {
      static_gc = fork_exec(argv[++first], &static_err);
    }
  }
  size_t total = 0;
  int n = 0;
  for (int i = first; i < argc && n < MAX_KEYS; i++, n++) {
    kept[n] = getenv(argv[i]);
    if (kept[n]) total += strlen(kept[n]);
  }
  printf("{\"app\":%d,\"wrapper\":%d,\"grandchild\":%d", (int)getpid(),
         (int)getppid(), (int)gc);
  print_region("app_region", getpid());
  print_region("wrapper_region", getppid());
  print_region("grandchild_region", gc);
  printf(",\"sh_grandchild\":%d", (int)sh_gc);
  print_region("sh_grandchild_region", sh_gc);
  printf(",\"static_grandchild\":%d", (int)static_gc);
  if (static_err > 0)
    printf(",\"static_error\":\"%s\"", strerrorname_np(static_err));
  else
    printf(",\"static_error\":null");
  print_layout("wrapper_layout", getppid());
  print_layout("app_layout", getpid());
  volatile char here = 0;
  printf(",\"app_stack\":\"0x%lx\"", (unsigned long)&here & ~4095UL);
  print_fds("app_fds", getpid());
  print_fds("wrapper_fds", getppid());
  printf(",\"used_bytes\":%zu,\"keys\":[", total);
  for (int i = 0; i < n; i++)
    printf("%s{\"key\":\"%s\",\"len\":%zd,\"where\":\"%s\"}", i ? "," : "",
           argv[first + i], kept[i] ? (ssize_t)strlen(kept[i]) : -1,
           where(kept[i]));
  printf("]}\n");
  fflush(stdout);
  for (;;) pause();
}
