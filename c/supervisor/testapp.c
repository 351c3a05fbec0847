// Test app for tests/supervisor: what the supervisor runs as "the app".
//
//   cloudtaser-supervisor-testapp signals N  record signals, exit 0 after N
//   cloudtaser-supervisor-testapp sleep MS   sleep, then exit 0
//   cloudtaser-supervisor-testapp watch KEY sdk|getenv
//                                            "ready <pid>", then on each
//                                            SIGHUP/SIGUSR1 the value of KEY
//                                            read by the C SDK's
//                                            cloudtaser_read (fd delivery) or
//                                            getenv (interposer delivery) as
//                                            "value KEY len=N fnv=H" (FNV-1a
//                                            64, never the value); exits 0 on
//                                            SIGTERM
//   cloudtaser-supervisor-testapp torn sdk|getenv|raw MS
//                                            reads K for MS ms while
//                                            region_flipper rewrites it: by
//                                            cloudtaser_read, getenv, or raw
//                                            (no seqlock: the positive
//                                            control); prints "reads N torn
//                                            T a A b B"; a value is torn
//                                            unless it is 3000 'a' or 1000 'b'
// `signals` prints "ready <pid>" once its handlers are in place, then
// "got SIGNAME" per signal. Both print the signal state they started with
// ("mask <SigBlk> ignored <SigIgn>", from /proc/self/status) first.
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cloudtaser.h"
#include "ct/signals.h"

static volatile sig_atomic_t got[NSIG];

static void on_signal(int sig) { got[sig]++; }

static void print_signal_state(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256], blk[64] = "?", ign[64] = "?";
  while (f && fgets(line, sizeof line, f)) {
    sscanf(line, "SigBlk: %63s", blk);
    sscanf(line, "SigIgn: %63s", ign);
  }
  if (f) fclose(f);
  printf("mask %s ignored %s\n", blk, ign);
}

// The forwarded set (ct/signals.h) stays blocked except inside sigsuspend,
// so one that arrives between the check and the wait is not slept through.
static int record(int want) {
  struct sigaction sa = {.sa_handler = on_signal};
  sigset_t set, old;
  sigemptyset(&set);
  for (size_t i = 0; i < CT_N_FORWARDED; i++) {
    sigaddset(&set, ct_forwarded_signals[i]);
    if (sigaction(ct_forwarded_signals[i], &sa, NULL) < 0)
      return perror("sigaction"), 1;
  }
  if (sigprocmask(SIG_BLOCK, &set, &old) < 0) return perror("sigprocmask"), 1;
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  for (int seen = 0; seen < want;) {
    sigsuspend(&old);
    for (int s = 1; s < NSIG; s++)
      for (; got[s] > 0; got[s]--, seen++) {
        printf("got %s\n", sigabbrev_np(s));
        fflush(stdout);
      }
  }
  return 0;
}

static unsigned long long fnv64(const char *p, size_t n) {
  unsigned long long h = 14695981039346656037ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

static void print_value(const char *key, const char *v, size_t n) {
  if (v) printf("value %s len=%zu fnv=%016llx\n", key, n, fnv64(v, n));
  else printf("value %s missing\n", key);
  fflush(stdout);
}

static int watch(const char *key, const char *how) {
  bool sdk = strcmp(how, "sdk") == 0;
  cloudtaser_secrets s;
  if (sdk) {
    int rc = cloudtaser_open(&s);
    if (rc < 0) return fprintf(stderr, "cloudtaser_open: %d\n", rc), 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  for (;;) {
    int sig;
    if (sigwait(&set, &sig) != 0) return 1;
    if (sig == SIGTERM) return 0;
    if (sdk) {
      static char buf[65536];
      size_t n = 0;
      int rc = cloudtaser_read(&s, key, buf, sizeof buf, &n);
      if (rc < 0) return fprintf(stderr, "cloudtaser_read: %d\n", rc), 1;
      print_value(key, rc == 1 ? buf : NULL, n);
    } else {
      const char *v = getenv(key);
      print_value(key, v, v ? strlen(v) : 0);
    }
  }
}

static int torn(const char *how, long ms) {
  cloudtaser_secrets s;
  bool by_getenv = strcmp(how, "getenv") == 0;
  if (!by_getenv && cloudtaser_open(&s) < 0) return 1;
  static char buf[8192];
  unsigned long reads = 0, bad = 0, a = 0, b = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;; reads++) {
    if ((reads & 255) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
        break;
    }
    size_t n = 0;
    int rc = 1;
    if (by_getenv) {
      const char *v = getenv("K");
      rc = v != NULL;
      if (v) n = strlen(v), memcpy(buf, v, n < sizeof buf ? n : sizeof buf);
    } else if (strcmp(how, "raw") == 0) {
      rc = cloudtaser__read_once(&s, "K", 1, buf, sizeof buf, &n);
    } else {
      rc = cloudtaser_read(&s, "K", buf, sizeof buf, &n);
    }
    char c = n ? buf[0] : 0;
    bool ok = rc == 1 && ((c == 'a' && n == 3000) || (c == 'b' && n == 1000));
    for (size_t i = 0; ok && i < n; i++) ok = buf[i] == c;
    if (!ok) bad++;
    else if (c == 'a') a++;
    else b++;
  }
  printf("reads %lu torn %lu a %lu b %lu\n", reads, bad, a, b);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s signals N | sleep MS\n", argv[0]);
    return 2;
  }
  print_signal_state();
  fflush(stdout);
  if (strcmp(argv[1], "signals") == 0) return record(atoi(argv[2]));
  if (strcmp(argv[1], "watch") == 0 && argc > 3) return watch(argv[2], argv[3]);
  if (strcmp(argv[1], "torn") == 0 && argc > 3) return torn(argv[2], atol(argv[3]));
  long ms = atol(argv[2]);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) < 0) {}
  return 0;
}
