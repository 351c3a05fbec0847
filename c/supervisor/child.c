// Signal state for the supervisor's children (child.h).
#define _GNU_SOURCE
#include "child.h"

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

// The raw syscall: libc's sigaction refuses the real-time signals it
// reserves (32-34 in musl), and a SIG_IGN there, inherited through the
// wrapper, would otherwise reach the child.
int reset_signals(void) {
  struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } dfl = {0};
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask) < 0)
      return -1;
  }
  sigset_t none;
  sigemptyset(&none);
  return sigprocmask(SIG_SETMASK, &none, NULL);
}
