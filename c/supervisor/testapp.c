// Test app for tests/supervisor: what the supervisor runs as "the app".
//
//   cloudtaser-supervisor-testapp signals N  record signals, exit 0 after N
//   cloudtaser-supervisor-testapp sleep MS   sleep, then exit 0
// `signals` prints "ready <pid>" once its handlers are in place, then
// "got SIGNAME" per signal. Both print the signal state they started with
// ("mask <SigBlk> ignored <SigIgn>", from /proc/self/status) first.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s signals N | sleep MS\n", argv[0]);
    return 2;
  }
  print_signal_state();
  fflush(stdout);
  if (strcmp(argv[1], "signals") == 0) return record(atoi(argv[2]));
  long ms = atol(argv[2]);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) < 0) {}
  return 0;
}
