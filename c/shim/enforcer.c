// The wrapper's registration with cloudtaser-enforcer, in C: connect to its
// unix socket, send nothing, read the one answer line (the protocol:
// src/enforcer/client.ts). In C on one of Deno's blocking threads (a
// nonblocking FFI symbol) instead of Deno.connect + a timer: 2-3 ms less
// of every start's CPU. The enforcer reads the caller with SO_PEERCRED and
// resolves the connecting thread to this process.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "deadline.h"
#include "exports.h"

// Connects to `path` and reads the answer into out (cap bytes) until its
// newline, EOF or cap, within timeout_ms. Returns the bytes read, or
// -errno: ENOENT / ECONNREFUSED (no daemon), ETIMEDOUT (no answer in time).
EXPORT int ct_enforcer_register(const char *path, uint32_t timeout_ms,
                                uint8_t *out, uint64_t cap) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return -ENAMETOOLONG;
  strcpy(sa.sun_path, path);
  int64_t deadline = ct_now_ms() + timeout_ms;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  int r = 0;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      r = -errno;
      goto out;
    }
    if ((r = ct_wait_fd(fd, POLLOUT, -1, deadline)) < 0) goto out;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      r = -err;
      goto out;
    }
  }
  size_t got = 0;
  while (got < cap) {
    ssize_t n = read(fd, out + got, cap - got);
    if (n > 0) {
      got += (size_t)n;
      if (memchr(out, '\n', got)) break;
      continue;
    }
    if (n == 0) break;
    if (errno != EAGAIN && errno != EINTR) {
      r = -errno;
      goto out;
    }
    if ((r = ct_wait_fd(fd, POLLIN, -1, deadline)) < 0) goto out;
  }
  r = (int)got;
out:
  close(fd);
  return r;
}
