// The environment a program the app starts gets, and the region that
// carries its secrets instead (exec.c decides which program gets which).
//
// Which entries carry a secret: runtimes copy the environment (Python's
// os.environ, bash's variables, node's process.env), so a child's envp
// rarely points into our mapping; entries are matched by content against the
// records of the app's region:
//   - KEY=VALUE equal to a record (same key, same value), or
//   - a value that contains a record's value of at least MIN_SUBSTRING bytes
//     (a secret passed on under another name, or inside a URL).
// Shorter values are matched only under their own key, as the wrapper's own
// environ check does: a 3-byte secret would otherwise match half the
// environment. A match only moves the entry into the child's region, where
// a glibc child still reads it through getenv.
//
// No allocation: this runs between vfork and exec, in the parent's memory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct/region_write.h"
#include "interposer.h"

#define MIN_SUBSTRING 6

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

static int is_key(const char *entry, const char *key, size_t n) {
  return strncmp(entry, key, n) == 0 && entry[n] == '=';
}

int ct_region_ok(void) {
  cloudtaser_secrets check;
  return ct_region.map != NULL &&
         cloudtaser_parse(ct_region.data, ct_region.size, &check) == 0;
}

int ct_is_secret_entry(const cloudtaser_secrets *r, const char *entry) {
  const char *eq = strchr(entry, '=');
  if (eq == NULL || eq == entry) return 0;
  size_t klen = (size_t)(eq - entry);
  const char *val = eq + 1;
  size_t vlen = strlen(val);
  size_t cur = 0;
  cloudtaser_record rec;
  while (cloudtaser_next(r, &cur, &rec)) {
    if (rec.key_len == klen && rec.value_len == vlen &&
        memcmp(rec.key, entry, klen) == 0 && memcmp(rec.value, val, vlen) == 0)
      return 1;
    if (rec.value_len >= MIN_SUBSTRING && vlen >= rec.value_len &&
        memmem(val, vlen, rec.value, rec.value_len) != NULL)
      return 1;
  }
  return 0;
}

size_t ct_count(char *const envp[], size_t *secret) {
  size_t n = 0, s = 0;
  for (; envp && envp[n]; n++)
    if (ct_region.map && ct_is_secret_entry(&ct_region, envp[n])) s++;
  if (secret) *secret = s;
  return n;
}

int ct_child_region(const cloudtaser_secrets *r, char *const envp[]) {
  size_t recs = 0, count = 0;
  for (size_t i = 0; envp[i]; i++)
    if (ct_is_secret_entry(r, envp[i])) {
      recs += strlen(envp[i]) + 1;
      count++;
    }
  long pg = sysconf(_SC_PAGESIZE);
  size_t size = ct_region_size(recs, pg > 0 ? (size_t)pg : 4096u);
  if (size == 0) return -E2BIG;
  // memfd_secret as the wrapper's, a locked memfd where the kernel lacks it.
  int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
  if (fd < 0) fd = memfd_create("cloudtaser-secrets", MFD_CLOEXEC);
  if (fd < 0) return -errno;
  unsigned char *m = MAP_FAILED;
  if (ftruncate(fd, (off_t)size) < 0) goto fail;
  m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) goto fail;
  unsigned char canary[CLOUDTASER_CANARY_SIZE];
  for (size_t got = 0; got < sizeof canary;) {
    long k = syscall(SYS_getrandom, canary + got, sizeof canary - got, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) goto fail;
    got += (size_t)k;
  }
  ct_region_seal(m, size, (uint32_t)recs, (uint32_t)count, r->flags, canary);
  explicit_bzero(canary, sizeof canary);
  unsigned char *w = m + CLOUDTASER_HEADER_SIZE;
  for (size_t i = 0; envp[i]; i++)
    if (ct_is_secret_entry(r, envp[i])) {
      size_t len = strlen(envp[i]) + 1;
      memcpy(w, envp[i], len);
      w += len;
    }
  // Unmapped before the exec: in a vfork child this address space is the
  // parent's, which must not keep a mapping per child.
  munmap(m, size);
  return fd;
fail:;
  int e = errno ? errno : EIO;
  if (m != MAP_FAILED) {
    explicit_bzero(m, size);
    munmap(m, size);
  }
  close(fd);
  return -e;
}

// LD_PRELOAD's list without this library (by path or by file name).
static size_t others(const char *list, const char *self, char *out) {
  const char *base = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
  size_t blen = strlen(base), slen = strlen(self), n = 0;
  for (const char *p = list; *p;) {
    size_t tl = strcspn(p, ": ");
    const char *tb = p + tl;
    while (tb > p && tb[-1] != '/') tb--;
    int mine = (tl == slen && memcmp(p, self, tl) == 0) ||
               ((size_t)(p + tl - tb) == blen && memcmp(tb, base, blen) == 0);
    if (tl > 0 && !mine) {
      if (out) {
        if (n) out[n] = ':';
        memcpy(out + n + (n ? 1 : 0), p, tl);
      }
      n += tl + (n ? 1 : 0);
    }
    p += tl;
    if (*p) p++;
  }
  return n;
}

static const char *preload_of(char *const envp[]) {
  for (size_t i = 0; envp[i]; i++)
    if (is_key(envp[i], "LD_PRELOAD", 10)) return envp[i] + 11;
  return NULL;
}

size_t ct_preload_size(char *const envp[]) {
  const char *self = ct_self_path(), *prior = preload_of(envp);
  size_t n = sizeof "LD_PRELOAD=" + (self ? strlen(self) : 0) + 1;
  return n + (prior && self ? others(prior, self, NULL) : 0);
}

void ct_child_envp(const cloudtaser_secrets *r, char *const envp[], int fd,
                   char **out, char *fd_entry, char *preload) {
  size_t k = 0;
  const char *prior = preload_of(envp);
  for (size_t i = 0; envp[i]; i++) {
    const char *e = envp[i];
    if (ct_is_secret_entry(r, e)) continue;
    if (fd >= 0 && (is_key(e, CLOUDTASER_FD_ENV, sizeof CLOUDTASER_FD_ENV - 1) ||
                    is_key(e, "LD_PRELOAD", 10)))
      continue;
    out[k++] = (char *)e;
  }
  const char *self = ct_self_path();
  if (fd >= 0 && self) {
    snprintf(fd_entry, 32, CLOUDTASER_FD_ENV "=%d", fd);
    out[k++] = fd_entry;
    char *w = stpcpy(stpcpy(preload, "LD_PRELOAD="), self);
    if (prior) {
      size_t n = others(prior, self, w + 1);
      if (n) {
        *w = ':';
        w += n + 1;
      }
    }
    *w = '\0';
    out[k++] = preload;
  }
  out[k] = NULL;
}
