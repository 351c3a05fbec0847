// The C shim: thin, checked wrappers around the syscalls the wrapper needs.
//
// Contract (STYLE.md "Distilled" 1): every export returns >= 0 on success or
// -errno captured immediately after the failing call, so the TypeScript side
// (ffi/) can name the call and the errno in a typed SyscallError. Pointers are
// returned through out-parameters so a return value is never both an address
// and an error code.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cloudtaser.h"
#include "ct/shim_steps.h"

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

#include "exports.h"
#define RET(expr) ((expr) < 0 ? -errno : 0)

EXPORT int ct_memfd_secret(unsigned int flags) {
  long fd = syscall(SYS_memfd_secret, flags);
  return fd < 0 ? -errno : (int)fd;
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

EXPORT int ct_mlock(uint64_t addr, uint64_t len) {
  return RET(mlock((void *)(uintptr_t)addr, len));
}

EXPORT int ct_madvise(uint64_t addr, uint64_t len, int advice) {
  return RET(madvise((void *)(uintptr_t)addr, len, advice));
}

EXPORT int ct_get_dumpable(void) {
  int r = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  return r < 0 ? -errno : r;
}

// The tracer of any thread of this process (cloudtaser_find_tracer): its
// pid with the thread's id in *tid, 0 for none, or -errno.
EXPORT int ct_find_tracer(int32_t *tid) {
  int t = 0;
  int rc = cloudtaser_find_tracer(&t);
  *tid = t;
  return rc;
}

EXPORT int ct_set_dumpable(int on) {
  return RET(prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0));
}

// RLIMIT_CORE: out[0] soft, out[1] hard (RLIM_INFINITY is ~0).
EXPORT int ct_get_core_limit(uint64_t *out) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_CORE, &rl) < 0) return -errno;
  out[0] = rl.rlim_cur;
  out[1] = rl.rlim_max;
  return 0;
}

EXPORT int ct_set_core_limit(uint64_t soft, uint64_t hard) {
  struct rlimit rl = {soft, hard};
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

// Reads the file at path into buf (cap bytes) with read(2) alone: no stdio
// or runtime buffer ever holds the bytes, so a credential file (the mTLS
// key, a token file) leaves no freed copy on the heap (Deno.readFileSync
// did: the attack matrix found the client key's PEM in a freed chunk).
// Returns the size, -EFBIG when the file holds more than cap bytes, or
// -errno.
EXPORT int64_t ct_read_file(const char *path, uint8_t *buf, uint64_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return -errno;
  uint64_t n = 0;
  int64_t r = 0;
  for (;;) {
    uint8_t extra = 0;
    ssize_t got = n < cap ? read(fd, buf + n, cap - n) : read(fd, &extra, 1);
    explicit_bzero(&extra, sizeof extra);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      r = -errno;
      break;
    }
    if (got == 0) {
      r = (int64_t)n;
      break;
    }
    if (n == cap) {
      r = -EFBIG;
      break;
    }
    n += (uint64_t)got;
  }
  close(fd);
  if (r < 0) explicit_bzero(buf, n);
  return r;
}

// faccessat(AT_EACCESS): whether this process may execute/read path with its
// effective ids, as execve will judge it (ACLs and capabilities included).
EXPORT int ct_access(const char *path, int mode) {
  return RET(faccessat(AT_FDCWD, path, mode, AT_EACCESS));
}

// A new secret file of `size` bytes mapped MAP_SHARED between two PROT_NONE
// guard pages, in one call, so its fd lives only for a few syscalls (an open
// fd can be stolen with pidfd_getfd; a mapping cannot): memfd_secret (kind
// 0) or memfd_create (kind 1), ftruncate, a PROT_NONE reservation of
// size + 2 pages, the file mapped over its middle, close.
// out[0] reservation, out[1] data address, out[2] ns the fd was open,
// out[3] the failed step on error (enum ct_shim_step: CT_STEP_REGION,
// CT_STEP_REGION_SIZE, CT_STEP_REGION_MAP).
EXPORT int ct_region_map(int kind, uint64_t size, uint64_t *out) {
  long page = sysconf(_SC_PAGESIZE);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  out[3] = CT_STEP_REGION;
  int fd = kind == 0 ? (int)syscall(SYS_memfd_secret, O_CLOEXEC)
                     : memfd_create("cloudtaser-secrets", MFD_CLOEXEC);
  if (fd < 0) return -errno;
  void *reserve = MAP_FAILED;
  int err = 0;
  out[3] = CT_STEP_REGION_SIZE;
  if (ftruncate(fd, (off_t)size) < 0) goto fail;
  out[3] = CT_STEP_REGION_MAP;
  reserve = mmap(NULL, size + 2 * (uint64_t)page, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserve == MAP_FAILED) goto fail;
  void *data = mmap((char *)reserve + page, size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_FIXED, fd, 0);
  if (data == MAP_FAILED) goto fail;
  close(fd);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  out[0] = (uint64_t)(uintptr_t)reserve;
  out[1] = (uint64_t)(uintptr_t)data;
  out[2] = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
           (uint64_t)(t1.tv_nsec - t0.tv_nsec);
  out[3] = CT_STEP_NONE;
  return 0;
fail:
  err = errno;
  if (reserve != MAP_FAILED) munmap(reserve, size + 2 * (uint64_t)page);
  close(fd);
  return -err;
}
