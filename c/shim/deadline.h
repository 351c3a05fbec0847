// Deadlines for the shim's blocking calls (http.c, enforcer.c), which run
// on Deno's blocking pool: a monotonic clock and one wait on an fd.
#ifndef CT_SHIM_DEADLINE_H
#define CT_SHIM_DEADLINE_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>

static inline int64_t ct_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits until `fd` is ready for `events`, `cancel_fd` (when >= 0) is
// readable, or `deadline` (ct_now_ms) passes. Returns 0 when ready,
// -ECANCELED, -ETIMEDOUT, or -errno of poll(2).
static inline int ct_wait_fd(int fd, short events, int cancel_fd,
                             int64_t deadline) {
  for (;;) {
    int64_t left = deadline - ct_now_ms();
    if (left <= 0) return -ETIMEDOUT;
    struct pollfd p[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
    int n = poll(p, cancel_fd >= 0 ? 2 : 1, left > 60000 ? 60000 : (int)left);
    if (n < 0) {
      if (errno != EINTR) return -errno;
      continue;
    }
    if (cancel_fd >= 0 && p[1].revents) return -ECANCELED;
    if (n > 0 && p[0].revents) return 0;
  }
}

#endif
