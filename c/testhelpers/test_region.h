// A region in the real format (ct/region_write.h) from KEY=VALUE lines, for
// the test programs that make one (region_exec, refresh_launch,
// refresh_fake). Test code: dies on any failure.
#ifndef CT_TEST_REGION_H
#define CT_TEST_REGION_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cloudtaser.h"
#include "ct/exit_codes.h"
#include "ct/region_write.h"

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

static inline void test_die(const char *what) {
  fprintf(stderr, "test region: %s: %s\n", what, strerror(errno));
  exit(CT_EXIT_SUPERVISOR_START_FAILED); // failed before the exec, as env(1)
}

// Writes the newline-separated lines of in as records into the region file
// fd (sized here: it must be empty), with `flags` and a random canary.
// Leaves it mapped read-write at *map (*size bytes) for callers that
// corrupt it; returns the number of records.
static inline uint32_t test_region_fill(int fd, const char *in, size_t len,
                                        uint32_t flags, unsigned char **map,
                                        size_t *size, size_t *records_end) {
  long page = sysconf(_SC_PAGESIZE);
  *size = ct_region_size(len + 1, (size_t)page); // + the last NUL
  if (*size == 0) {
    errno = E2BIG;
    test_die("records");
  }
  if (ftruncate(fd, (off_t)*size) < 0) test_die("ftruncate");
  unsigned char *m =
      mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) test_die("mmap");
  size_t w = CLOUDTASER_HEADER_SIZE;
  uint32_t count = 0;
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(in + i, '\n', len - i);
    size_t l = nl ? (size_t)(nl - (in + i)) : len - i;
    if (l > 0) {
      memcpy(m + w, in + i, l);
      m[w + l] = '\0';
      w += l + 1;
      count++;
    }
    i += l + 1;
  }
  unsigned char canary[CLOUDTASER_CANARY_SIZE];
  if (getrandom(canary, sizeof canary, 0) != (ssize_t)sizeof canary)
    test_die("getrandom");
  ct_region_seal(m, *size, (uint32_t)(w - CLOUDTASER_HEADER_SIZE), count,
                 flags, canary);
  explicit_bzero(canary, sizeof canary);
  *map = m;
  if (records_end) *records_end = w;
  return count;
}

// A new region file (memfd_secret, or memfd_create when use_memfd) holding
// the lines; its fd is inherited across exec (no CLOEXEC).
static inline int test_region(const char *in, size_t len, bool use_memfd,
                              uint32_t flags) {
  int fd = use_memfd ? memfd_create("cloudtaser-secrets", 0)
                     : (int)syscall(SYS_memfd_secret, 0);
  if (fd < 0) test_die(use_memfd ? "memfd_create" : "memfd_secret");
  unsigned char *m;
  size_t size;
  test_region_fill(fd, in, len, flags, &m, &size, NULL);
  if (munmap(m, size) < 0) test_die("munmap");
  return fd;
}

#endif
