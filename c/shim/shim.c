// The C shim: thin, checked wrappers around the syscalls the wrapper needs.
//
// Contract (STYLE.md "Distilled" 1): every export returns >= 0 on success or
// -errno captured immediately after the failing call, so the TypeScript side
// (ffi/) can name the call and the errno in a typed SyscallError. Pointers are
// returned through out-parameters so a return value is never both an address
// and an error code.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <unistd.h>

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

#define EXPORT __attribute__((visibility("default")))
#define RET(expr) ((expr) < 0 ? -errno : 0)

EXPORT int ct_memfd_secret(unsigned int flags) {
  long fd = syscall(SYS_memfd_secret, flags);
  return fd < 0 ? -errno : (int)fd;
}

EXPORT int ct_memfd_create(const char *name, unsigned int flags) {
  int fd = memfd_create(name, flags);
  return fd < 0 ? -errno : fd;
}

EXPORT int ct_ftruncate(int fd, uint64_t len) {
  return RET(ftruncate(fd, (off_t)len));
}

EXPORT int ct_close(int fd) { return RET(close(fd)); }

// mmap; the address is stored in *out (never returned, so it cannot be
// confused with -errno).
EXPORT int ct_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd,
                   uint64_t off, uint64_t *out) {
  void *p = mmap((void *)(uintptr_t)addr, len, prot, flags, fd, (off_t)off);
  if (p == MAP_FAILED) return -errno;
  *out = (uint64_t)(uintptr_t)p;
  return 0;
}

EXPORT int ct_munmap(uint64_t addr, uint64_t len) {
  return RET(munmap((void *)(uintptr_t)addr, len));
}

EXPORT int ct_mprotect(uint64_t addr, uint64_t len, int prot) {
  return RET(mprotect((void *)(uintptr_t)addr, len, prot));
}

EXPORT int ct_mlock(uint64_t addr, uint64_t len) {
  return RET(mlock((void *)(uintptr_t)addr, len));
}

EXPORT int ct_munlock(uint64_t addr, uint64_t len) {
  return RET(munlock((void *)(uintptr_t)addr, len));
}

EXPORT int ct_madvise(uint64_t addr, uint64_t len, int advice) {
  return RET(madvise((void *)(uintptr_t)addr, len, advice));
}

EXPORT int ct_get_dumpable(void) {
  int r = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  return r < 0 ? -errno : r;
}

EXPORT int ct_set_dumpable(int on) {
  return RET(prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0));
}

EXPORT int ct_set_core_limit_zero(void) {
  struct rlimit rl = {0, 0};
  return RET(setrlimit(RLIMIT_CORE, &rl));
}

// explicit_bzero: the compiler may not drop it, unlike memset before free.
EXPORT int ct_explicit_bzero(uint64_t addr, uint64_t len) {
  explicit_bzero((void *)(uintptr_t)addr, len);
  return 0;
}

// Copy len bytes from a JS buffer to an address (the region). Used where a
// view over the mapping is not at hand; bounds are checked by the caller.
EXPORT int ct_copy_in(uint64_t dst, const void *src, uint64_t len) {
  memcpy((void *)(uintptr_t)dst, src, len);
  return 0;
}

// Constant-time compare so a canary check does not leak where it differs.
EXPORT int ct_memeq(uint64_t a, const void *b, uint64_t len) {
  const volatile unsigned char *x = (const unsigned char *)(uintptr_t)a;
  const unsigned char *y = b;
  unsigned char d = 0;
  for (uint64_t i = 0; i < len; i++) d |= (unsigned char)(x[i] ^ y[i]);
  return d == 0;
}

EXPORT int ct_page_size(void) {
  long r = sysconf(_SC_PAGESIZE);
  return r < 0 ? -errno : (int)r;
}

EXPORT int ct_getpid(void) { return (int)getpid(); }

// Reads len bytes at addr of this process's own memory into buf through
// process_vm_readv, the path /proc/self/environ takes (access_remote_vm): an
// unmapped range is EFAULT, not a crash. Reading one's own memory needs no
// privilege, dumpable or not (ptrace_may_access allows the same thread
// group). Returns the bytes read or -errno.
EXPORT int64_t ct_read_self(uint64_t addr, void *buf, uint64_t len) {
  struct iovec local = {buf, len};
  struct iovec remote = {(void *)(uintptr_t)addr, len};
  ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  return n < 0 ? -errno : (int64_t)n;
}

// faccessat(AT_EACCESS): whether this process may execute/read path with its
// effective ids, as execve will judge it (ACLs and capabilities included).
EXPORT int ct_access(const char *path, int mode) {
  return RET(faccessat(AT_FDCWD, path, mode, AT_EACCESS));
}
