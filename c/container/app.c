// The app the container tests run under the wrapper (tests/container/).
// Built three ways from this one file: glibc dynamic, glibc static and musl,
// each put alone into an image of its own.
//
//   ct-container-app NAME...
//
// Reports, one "app ..." line each, never a secret value:
//   - who it is: pid, ppid, uid, CapEff, seccomp mode, RLIMIT_MEMLOCK;
//   - the names (not values) in its environment;
//   - per NAME: getenv's length and FNV-1a 64 fingerprint, and whether the
//     value is also in its own /proc/self/environ (not with the interposer);
//   - what this container allows an unprivileged process: memfd_secret +
//     mmap, and mlock of one page;
//   - whether the interposer is mapped;
// then starts an orphan (a grandchild whose parent exits at once, so PID 1
// must reap it), prints "app ready" and reports each signal:
//   SIGTERM exits 42; SIGINT dies of SIGINT; SIGUSR2 lets the orphan exit;
//   the others the wrapper forwards (ct/signals.h) are only reported.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct/errname.h"
#include "ct/signals.h"

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

extern char **environ;

static const char *errname(int e) {
  static char buf[24];
  return ct_errname_in(e, buf, sizeof buf);
}

// "TERM" for SIGTERM.
static const char *signame(int sig) {
  const char *name = ct_signal_name(sig);
  return name ? name + 3 : "?";
}

static void status_field(const char *name, char *out, size_t size) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t len = strlen(name);
  snprintf(out, size, "?");
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      char *v = line + len + 1;
      v += strspn(v, " \t");
      v[strcspn(v, "\n")] = '\0';
      snprintf(out, size, "%s", v);
    }
  }
  if (f) fclose(f);
}

static void report_self(void) {
  char cap[64], sec[16], nnp[16];
  struct rlimit ml;
  status_field("CapEff", cap, sizeof cap);
  status_field("Seccomp", sec, sizeof sec);
  status_field("NoNewPrivs", nnp, sizeof nnp);
  getrlimit(RLIMIT_MEMLOCK, &ml);
  printf("app pid=%d ppid=%d uid=%d gid=%d\n", (int)getpid(), (int)getppid(),
         (int)getuid(), (int)getgid());
  printf("app capeff=%s seccomp=%s nonewprivs=%s memlock=%lld:%lld\n", cap, sec,
         nnp, (long long)ml.rlim_cur, (long long)ml.rlim_max);
  printf("app env=");
  for (char **e = environ; *e; e++)
    printf("%s%.*s", e == environ ? "" : ",", (int)strcspn(*e, "="), *e);
  printf("\n");
}

// Whether `value` occurs in this process's /proc/self/environ.
static int in_own_environ(const char *value) {
  static char buf[1 << 16];
  FILE *f = fopen("/proc/self/environ", "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return memmem(buf, n, value, strlen(value)) != NULL;
}

static void report_secret(const char *name) {
  const char *v = getenv(name);
  if (!v) {
    printf("app secret %s missing\n", name);
    return;
  }
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    h = (h ^ *p) * 0x100000001b3ULL;
  printf("app secret %s len=%zu fnv=%016llx environ=%d\n", name, strlen(v),
         (unsigned long long)h, in_own_environ(v));
}

static void probe(void) {
  long page = sysconf(_SC_PAGESIZE);
  int fd = (int)syscall(SYS_memfd_secret, 0);
  const char *map = "skipped";
  if (fd >= 0) {
    if (ftruncate(fd, page) < 0) {
      map = errname(errno);
    } else {
      void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      map = p == MAP_FAILED ? errname(errno) : "ok";
      if (p != MAP_FAILED) munmap(p, page);
    }
    close(fd);
  }
  printf("app probe memfd_secret=%s mmap=%s\n", fd >= 0 ? "ok" : errname(errno),
         map);
  void *a = mmap(NULL, page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int ml = a == MAP_FAILED ? -1 : mlock(a, page);
  printf("app probe mlock=%s\n", ml == 0 ? "ok" : errname(errno));
  if (a != MAP_FAILED) munmap(a, page);

  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int loaded = 0;
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, "libcloudtaser_interposer.so")) loaded = 1;
  if (f) fclose(f);
  printf("app interposer=%s\n", loaded ? "loaded" : "absent");
}

// A grandchild that outlives its parent: reparented to PID 1 (the
// supervisor), which must reap it. It exits when `release` closes.
static int start_orphan(int *release) {
  int p[2];
  if (pipe(p) < 0) return -1;
  pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    if (fork() == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, NULL);
      close(p[1]);
      char b;
      while (read(p[0], &b, 1) < 0 && errno == EINTR) {
      }
      _exit(0);
    }
    _exit(0);
  }
  close(p[0]);
  waitpid(child, NULL, 0);
  *release = p[1];
  return 0;
}

int main(int argc, char **argv) {
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < CT_N_FORWARDED; i++)
    sigaddset(&set, ct_forwarded_signals[i]);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return perror("sigprocmask"), 1;

  report_self();
  for (int i = 1; i < argc; i++) report_secret(argv[i]);
  probe();
  int release = -1;
  printf("app orphan=%s\n", start_orphan(&release) == 0 ? "started" : "failed");
  printf("app ready\n");
  fflush(stdout);

  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    if (sig < 0) continue;
    printf("app signal %s\n", signame(sig));
    fflush(stdout);
    if (sig == SIGTERM) return 42;
    if (sig == SIGINT) {
      signal(SIGINT, SIG_DFL);
      sigprocmask(SIG_UNBLOCK, &set, NULL);
      raise(SIGINT);
    }
    if (sig == SIGUSR2 && release >= 0) {
      close(release);
      release = -1;
    }
  }
}
