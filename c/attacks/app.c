// SPDX-License-Identifier: Apache-2.0
// ct-app: the app the root attack matrix runs under the wrapper.
//
//   ct-app [--grandchild] KEY...   use each secret, report, wait for a signal
//   ct-app hold                    (the grandchild) wait for a signal
//
// It reads each KEY with getenv and keeps the pointers (as an app that uses
// its secrets does; in interposer delivery they point into its own
// memfd_secret mapping, in env delivery into its stack), then prints one JSON
// line the attacker uses instead of reading the protected /proc entries
// itself (under the enforcer the harness must not touch them):
//
//   {"app":PID,"wrapper":PPID,"grandchild":PID|0,
//    "app_region":"0x..."|null,"wrapper_region":"0x..."|null,
//    "app_stack":"0x..." (a page of its stack, for process_vm_readv/ptrace
//    when it has no region),
//    "app_fds":[0,1,2],"wrapper_fds":[0,1,2,4],
//    "keys":[{"key":"DB_PASSWORD","len":40,"where":"secretmem"}]}
//
// The app may read its parent's /proc entries: the enforcer lets the
// wrapper's group inspect itself. Lengths and key names only, never a value.
// Default signal dispositions: SIGSEGV/SIGABRT from outside dump core when
// the attacker allows it.
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_KEYS 32

static const char *volatile kept[MAX_KEYS];

// Start of the first /secretmem mapping in /proc/<pid>/maps, or 0.
static unsigned long region_of(pid_t pid, unsigned long *end_out) {
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
  FILE *f = fopen(path, "r");
  unsigned long start = 0, end = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (!strstr(line, "/secretmem")) continue;
    if (sscanf(line, "%lx-%lx", &start, &end) == 2) break;
    start = 0;
  }
  if (f) fclose(f);
  if (end_out) *end_out = end;
  return start;
}

static void print_region(const char *name, unsigned long addr) {
  if (addr)
    printf(",\"%s\":\"0x%lx\"", name, addr);
  else
    printf(",\"%s\":null", name);
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

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "hold") == 0) {
    for (;;) pause();
  }
  int first = 1;
  pid_t gc = 0;
  if (argc >= 2 && strcmp(argv[1], "--grandchild") == 0) {
    first = 2;
    gc = fork();
    if (gc == 0) {
      // What a program the app starts gets: the app's whole environ.
      execl("/proc/self/exe", "ct-app", "hold", (char *)NULL);
      _exit(127);
    }
    if (gc < 0) perror("fork");
  }
  size_t total = 0;
  int n = 0;
  for (int i = first; i < argc && n < MAX_KEYS; i++, n++) {
    kept[n] = getenv(argv[i]);
    if (kept[n]) total += strlen(kept[n]);
  }
  printf("{\"app\":%d,\"wrapper\":%d,\"grandchild\":%d", (int)getpid(),
         (int)getppid(), (int)(gc > 0 ? gc : 0));
  print_region("app_region", region_of(getpid(), NULL));
  print_region("wrapper_region", region_of(getppid(), NULL));
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
