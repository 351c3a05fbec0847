// The supervisor's resident copy of the secret region (region.h).
#define _GNU_SOURCE
#include "region.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ct/region_write.h"
#include "log.h"

#ifndef SECRETMEM_MAGIC
#define SECRETMEM_MAGIC 0x5345434d
#endif

static size_t page_size(void) {
  long pg = sysconf(_SC_PAGESIZE);
  return pg > 0 ? (size_t)pg : 4096u;
}

bool region_canary_intact(const struct region *r) {
  const volatile unsigned char *a = r->data + CLOUDTASER_OFF_CANARY;
  const volatile unsigned char *b = r->data + r->size - CLOUDTASER_CANARY_SIZE;
  unsigned char d = 0;
  for (size_t i = 0; i < CLOUDTASER_CANARY_SIZE; i++)
    d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

static void unmap(struct region *r) {
  if (r->map && munmap(r->map, r->map_len) < 0) warn_failed("munmap(region)");
  memset(r, 0, sizeof *r);
}

// memfd_secret mappings are locked by the kernel (mlock says ENOMEM); the
// memfd fallback's lock died with the wrapper's mapping and is taken again.
static void lock_fallback(int fd, const struct region *r) {
  struct statfs fs;
  if (fstatfs(fd, &fs) < 0) {
    warn_failed("fstatfs(region)");
  } else if (fs.f_type != SECRETMEM_MAGIC &&
             mlock(r->data, r->span) < 0) {
    say(CT_WARNING, "mlock(region) failed: %s: the secret region can be "
                   "swapped to disk", errname(errno));
  }
}

int region_map(int fd, struct region *r) {
  memset(r, 0, sizeof *r);
  struct stat st;
  if (fstat(fd, &st) < 0) return fail("fstat(region)");
  if (st.st_size < (off_t)(CLOUDTASER_HEADER_SIZE + CLOUDTASER_CANARY_SIZE) ||
      (uint64_t)st.st_size > CLOUDTASER_MAX_SIZE) {
    say(CT_ERROR, "region fd %d is not a secret region (size %lld)", fd,
        (long long)st.st_size);
    return -1;
  }
  size_t page = page_size();
  r->size = (size_t)st.st_size;
  r->span = (r->size + page - 1) / page * page;
  r->map_len = r->span + 2 * page;
  r->map = mmap(NULL, r->map_len, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r->map == MAP_FAILED) {
    r->map = NULL;
    return fail("mmap(guard pages)");
  }
  void *data = mmap((char *)r->map + page, r->size, PROT_READ,
                    MAP_SHARED | MAP_FIXED, fd, 0);
  if (data == MAP_FAILED) {
    fail("mmap(region, PROT_READ)");
    unmap(r);
    return -1;
  }
  r->data = data;
  if (memcmp(r->data, CLOUDTASER_MAGIC, 8) != 0) {
    // Not ours to wipe: unmap it untouched.
    say(CT_ERROR, "region fd %d has no valid " CLOUDTASER_MAGIC " header", fd);
    unmap(r);
    return -1;
  }
  if (!region_canary_intact(r)) {
    say(CT_ERROR, "the secret region's canary is broken (bytes %u-%u differ "
                 "from its last %u bytes): something wrote past the records; "
                 "the app is not started",
        CLOUDTASER_OFF_CANARY, CLOUDTASER_OFF_CANARY + CLOUDTASER_CANARY_SIZE,
        CLOUDTASER_CANARY_SIZE);
    unmap(r);
    return -1;
  }
  int rc = cloudtaser_parse((const char *)r->data, r->size, &r->parsed);
  if (rc < 0) {
    say(CT_ERROR, "region fd %d has no valid " CLOUDTASER_MAGIC
                 " header or records", fd);
    unmap(r);
    return -1;
  }
  if (madvise(data, r->span, MADV_DONTDUMP) < 0) {
    fail("madvise(MADV_DONTDUMP)");
    unmap(r);
    return -1;
  }
  lock_fallback(fd, r);
  return 0;
}

int lines_open(struct line_reader *r, const char *path) {
  r->len = r->off = 0;
  r->fd = open(path, O_RDONLY | O_CLOEXEC);
  return r->fd < 0 ? -1 : 0;
}

bool lines_next(struct line_reader *r, char *out, size_t cap) {
  size_t n = 0;
  for (;;) {
    if (r->off == r->len) {
      ssize_t got = r->fd < 0 ? 0 : read(r->fd, r->buf, sizeof r->buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        if (r->fd >= 0) close(r->fd);
        r->fd = -1;
        out[n] = 0;
        return n > 0;
      }
      r->len = (size_t)got;
      r->off = 0;
    }
    char c = r->buf[r->off++];
    if (c == '\n') break;
    if (n + 1 < cap) out[n++] = c;
  }
  out[n] = 0;
  return true;
}

// An smaps header line: "start-end perms offset dev inode [path]".
static int parse_vma(const char *line, unsigned long *start,
                     unsigned long *end, char perms[5], char *path,
                     size_t path_len) {
  char *e;
  *start = strtoul(line, &e, 16);
  if (e == line || *e != '-') return -1;
  const char *p = e + 1;
  *end = strtoul(p, &e, 16);
  if (e == p || *e != ' ' || strlen(e + 1) < 4 || e[5] != ' ') return -1;
  memcpy(perms, e + 1, 4);
  perms[4] = 0;
  p = e + 6;
  for (int field = 0; field < 3; field++) { // offset, dev, inode
    p += strspn(p, " ");
    p += strcspn(p, " ");
  }
  p += strspn(p, " ");
  snprintf(path, path_len, "%s", p);
  return 0;
}

static bool has_flag(const char *vmflags, const char *flag) {
  size_t n = strlen(flag);
  for (const char *p = vmflags; (p = strstr(p, flag)) != NULL; p += n)
    if (p[-1] == ' ' && (p[n] == ' ' || p[n] == 0))
      return true;
  return false;
}

int region_measure(const struct region *r, struct resident *m) {
  memset(m, 0, sizeof *m);
  unsigned long lo = (unsigned long)r->data, hi = lo + r->span;
  struct line_reader f;
  if (lines_open(&f, "/proc/self/smaps") < 0)
    return fail("open(/proc/self/smaps)");
  char line[512], perms[5], path[64];
  bool in_region = false, found = false;
  unsigned long s, e;
  while (lines_next(&f, line, sizeof line)) {
    if (parse_vma(line, &s, &e, perms, path, sizeof path) == 0) {
      in_region = s == lo;
      if (e == lo) memcpy(m->before, perms, sizeof perms);
      if (s == hi) memcpy(m->after, perms, sizeof perms);
      if (in_region) {
        found = true;
        memcpy(m->perms, perms, sizeof perms);
        snprintf(m->path, sizeof m->path, "%s", path);
      }
    } else if (in_region && strncmp(line, "VmFlags:", 8) == 0) {
      m->locked = has_flag(line, "lo");
      m->dontdump = has_flag(line, "dd");
    }
  }
  if (!found) {
    say(CT_ERROR, "the secret region's mapping is not in /proc/self/smaps");
    return -1;
  }
  m->canary = region_canary_intact(r);
  return 0;
}

static bool is_guard(const char *perms) {
  return strncmp(perms, "---", 3) == 0;
}

int region_require(const struct resident *m) {
  const char *missing = strncmp(m->perms, "r--", 3) != 0 ? "read-only"
                        : !is_guard(m->before)          ? "a guard page before"
                        : !is_guard(m->after)           ? "a guard page after"
                        : !m->dontdump                  ? "VmFlags dd"
                        : !m->canary                    ? "an intact canary"
                                                        : NULL;
  if (!missing) return 0;
  say(CT_ERROR, "the resident secret region lacks %s (%s %s, neighbours %s "
               "and %s): the app is not started",
      missing, m->perms, m->path, m->before[0] ? m->before : "none",
      m->after[0] ? m->after : "none");
  return -1;
}

size_t region_fields(const struct resident *m, char *buf, size_t at,
                     size_t cap) {
  int w = snprintf(buf + at, cap - at, "\"region\":{\"mapping\":\"");
  if (w < 0 || (size_t)w >= cap - at) return at;
  at = ct_json_escape(buf, at + (size_t)w, cap, m->path);
  w = snprintf(buf + at, cap - at,
               "\",\"perms\":\"%s\",\"guard_before\":\"%s\",\"guard_after\":"
               "\"%s\",\"locked\":%s,\"dontdump\":%s,\"canary_intact\":%s}",
               m->perms, m->before, m->after, m->locked ? "true" : "false",
               m->dontdump ? "true" : "false", m->canary ? "true" : "false");
  if (w < 0 || (size_t)w >= cap - at) return at;
  return at + (size_t)w;
}

void region_wipe(struct region *r) {
  if (!r->data) return;
  if (!region_canary_intact(r))
    say(CT_ERROR, "the secret region's canary is broken: something wrote past "
                 "the records");
  // Read-only while resident; writable for this moment only.
  if (mprotect((void *)r->data, r->span, PROT_READ | PROT_WRITE) < 0)
    warn_failed("mprotect(region, PROT_WRITE) for the wipe");
  else
    explicit_bzero((void *)r->data, r->size);
  unmap(r);
}

long region_write_in_place(struct region *r, const struct region *src) {
  size_t room = r->size - CLOUDTASER_HEADER_SIZE - CLOUDTASER_CANARY_SIZE;
  size_t len = src->parsed.records_len;
  if (len > room) return -1;
  unsigned char *d = (unsigned char *)r->data;
  if (mprotect(d, r->span, PROT_READ | PROT_WRITE) < 0) {
    warn_failed("mprotect(region, PROT_WRITE) for a change in place");
    return -1;
  }
  uint32_t *gen = (uint32_t *)(d + CLOUDTASER_OFF_GENERATION);
  uint32_t g = __atomic_load_n(gen, __ATOMIC_RELAXED);
  if (g & 1u) g++; // a writer that died midway: start from even
  __atomic_store_n(gen, g + 1, __ATOMIC_SEQ_CST);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  memcpy(d + CLOUDTASER_HEADER_SIZE, src->parsed.records, len);
  memset(d + CLOUDTASER_HEADER_SIZE + len, 0, room - len);
  ct_region_put32(d, CLOUDTASER_OFF_RECORDS_OFFSET, CLOUDTASER_HEADER_SIZE);
  ct_region_put32(d, CLOUDTASER_OFF_RECORDS_LENGTH, (uint32_t)len);
  ct_region_put32(d, CLOUDTASER_OFF_RECORD_COUNT, src->parsed.count);
  ct_region_put32(d, CLOUDTASER_OFF_FLAGS, src->parsed.flags);
  __atomic_store_n(gen, g + 2, __ATOMIC_RELEASE);
  if (mprotect(d, r->span, PROT_READ) < 0)
    warn_failed("mprotect(region, PROT_READ) after a change in place");
  if (cloudtaser_parse((const char *)r->data, r->size, &r->parsed) < 0)
    say(CT_ERROR, "the region written in place does not parse");
  return (long)(g + 2);
}
