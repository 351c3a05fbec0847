// Shim functions for the TypeScript SDK (src/sdk/), bound in ffi/sdk.ts.
// Same contract as shim.c: >= 0 on success, -errno from the failing call.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

#include "exports.h"

// fstat(2) size of fd, in bytes.
EXPORT int64_t ct_fd_size(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  return (int64_t)st.st_size;
}
