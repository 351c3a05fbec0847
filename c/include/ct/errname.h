// The errno names in messages ("mmap failed: ENOMEM"): the supervisor's,
// the interposer's and the enforcer's log lines, as the wrapper's own
// SyscallError names them. An errno outside the list is "errno N".
// TypeScript: ffi/constants.ts ERRNO_NAMES (tests/ffi/constants_test.ts
// holds the two equal; numbers come from the libc's <errno.h> here).
#ifndef CT_ERRNAME_H
#define CT_ERRNAME_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#define CT_ERRNOS(X)                                                           \
  X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(ENOEXEC)     \
  X(EBADF) X(ECHILD) X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(EBUSY)         \
  X(EEXIST) X(ENODEV) X(ENOTDIR) X(EISDIR) X(EINVAL) X(ENFILE) X(EMFILE)      \
  X(ENOTTY) X(ETXTBSY) X(EFBIG) X(ENOSPC) X(ENAMETOOLONG) X(ENOSYS) X(ELOOP)  \
  X(EOVERFLOW) X(EOPNOTSUPP) X(ECONNREFUSED) X(ETIMEDOUT) X(ECANCELED)

// "EPERM", or NULL for an errno outside the list.
static inline const char *ct_errname(int e) {
#define CT__ERRNO_CASE(name)                                                   \
  case name:                                                                   \
    return #name;
  switch (e) { CT_ERRNOS(CT__ERRNO_CASE) }
#undef CT__ERRNO_CASE
  return NULL;
}

// ct_errname, or "errno N" written into buf.
static inline const char *ct_errname_in(int e, char *buf, size_t cap) {
  const char *name = ct_errname(e);
  if (name != NULL) return name;
  snprintf(buf, cap, "errno %d", e);
  return buf;
}

#endif
