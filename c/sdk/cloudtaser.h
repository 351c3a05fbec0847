/*
 * cloudtaser.h: read the secrets cloudtaser-wrapper hands to the app.
 *
 * Single header, no allocation, no copies (cloudtaser_read copies into the
 * caller's buffer). The wrapper passes a secret region
 * (a memfd_secret file) as the fd named in CLOUDTASER_SECRET_FD.
 * cloudtaser_open() maps it read-only, closes the fd at once (an open fd can
 * be stolen by root with pidfd_getfd; a mapping cannot) and removes
 * CLOUDTASER_SECRET_FD from the environment. Lookups return a pointer into
 * the mapping and a length; the bytes are followed by a NUL.
 *
 *     cloudtaser_secrets s;
 *     int rc = cloudtaser_open(&s);
 *     if (rc < 0) { fprintf(stderr, "cloudtaser_open: %s\n", strerror(-rc)); }
 *     const char *v; size_t n;
 *     if (cloudtaser_get(&s, "DB_PASSWORD", &v, &n) == 1) use(v, n);
 *     cloudtaser_close(&s);    // pointers from cloudtaser_get die here
 *
 * When the wrapper delivers changes in place (CLOUDTASER_ON_CHANGE=
 * signal:NAME, docs/refresh.md), the bytes behind those pointers change
 * under them: read with cloudtaser_read instead, on the signal or each time,
 *
 *     char buf[256]; size_t n;
 *     if (cloudtaser_read(&s, "DB_PASSWORD", buf, sizeof buf, &n) == 1) ...
 *
 * Region layout (docs/region-format.md, src/region/format.ts):
 *
 *     offset  size  field (little-endian)
 *      0       8    magic "CTREGN01"
 *      8       4    records offset (48)
 *     12       4    records length in bytes
 *     16       4    record count
 *     20       4    data size (the fd's size, a page multiple)
 *     24       4    generation: 0 at start, odd while records change
 *                   in place (docs/refresh.md), then even
 *     28       4    flags (CLOUDTASER_FLAG_*: the wrapper's policy)
 *     32      16    canary copy (the same 16 bytes end the data)
 *     48     ...    records: KEY=VALUE\0 KEY=VALUE\0 ...
 *
 * Errors are -errno: -ENOENT (CLOUDTASER_SECRET_FD unset), -EINVAL (not a
 * number), -EBADF (not an open fd), -EMEDIUMTYPE (the fd is not a secret
 * region: no magic, too small; the fd is left open, it is not ours),
 * -EBADMSG (a region whose header or records are malformed: the fd is
 * closed), -EBUSY (cloudtaser_open: a tracer is attached to the process;
 * nothing mapped, the fd left open), or the errno of a failed
 * prctl/fstat/mmap.
 *
 * Define CLOUDTASER_NO_UNSETENV before including to keep the variable.
 */
#ifndef CLOUDTASER_H
#define CLOUDTASER_H

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLOUDTASER_FD_ENV "CLOUDTASER_SECRET_FD"
#define CLOUDTASER_MAGIC "CTREGN01"
#define CLOUDTASER_HEADER_SIZE 48u
#define CLOUDTASER_CANARY_SIZE 16u
#define CLOUDTASER_OFF_RECORDS_OFFSET 8u
#define CLOUDTASER_OFF_RECORDS_LENGTH 12u
#define CLOUDTASER_OFF_RECORD_COUNT 16u
#define CLOUDTASER_OFF_DATA_SIZE 20u
#define CLOUDTASER_OFF_RESERVED 24u
/* The generation (docs/refresh.md): odd while the wrapper's supervisor
 * writes new records in place, even otherwise; the old "reserved" field. */
#define CLOUDTASER_OFF_GENERATION CLOUDTASER_OFF_RESERVED
#define CLOUDTASER_OFF_FLAGS 28u
#define CLOUDTASER_OFF_CANARY 32u
/* Flag bits (src/region/format.ts FLAGS). A region from an older
 * wrapper has 0 here: the strict default of each. */
#define CLOUDTASER_FLAG_CHILD_ENV_FALLBACK 0x1u /* non-glibc children get env */
#define CLOUDTASER_FLAG_APP_CORE_DUMPS 0x2u     /* the app stays dumpable, its
                                                   RLIMIT_CORE kept */
#define CLOUDTASER_FLAG_ALLOW_TRACER 0x4u       /* a tracer may stay attached
                                                   (debugging) */
#define CLOUDTASER_MAX_SIZE 0xffff0000u

#ifndef EMEDIUMTYPE
#define EMEDIUMTYPE 124
#endif

/* An open region. Treat the fields as read-only. */
typedef struct cloudtaser_secrets {
  const char *data;    /* offset 0 of the region (the header) */
  size_t size;         /* data size */
  const char *records; /* the first record */
  size_t records_len;  /* bytes of records */
  uint32_t count;      /* number of records */
  uint32_t flags;      /* CLOUDTASER_FLAG_* bits of the header */
  void *map;           /* the reservation: guard page, data, guard page */
  size_t map_len;
} cloudtaser_secrets;

/* One record, as pointers into the mapping. */
typedef struct cloudtaser_record {
  const char *key; /* not NUL-terminated: ends at '=' */
  size_t key_len;
  const char *value; /* NUL-terminated */
  size_t value_len;
} cloudtaser_record;

static inline uint32_t cloudtaser__le32(const char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

/*
 * Validates a region in memory (pure: no system calls). Fills s->records,
 * records_len, count, flags. Returns 0, -EMEDIUMTYPE (no magic) or -EBADMSG.
 */
static inline int cloudtaser_parse(const char *data, size_t size,
                                   cloudtaser_secrets *s) {
  if (size < CLOUDTASER_HEADER_SIZE + CLOUDTASER_CANARY_SIZE ||
      memcmp(data, CLOUDTASER_MAGIC, 8) != 0)
    return -EMEDIUMTYPE;
  uint32_t roff = cloudtaser__le32(data + CLOUDTASER_OFF_RECORDS_OFFSET);
  uint32_t rlen = cloudtaser__le32(data + CLOUDTASER_OFF_RECORDS_LENGTH);
  uint32_t count = cloudtaser__le32(data + CLOUDTASER_OFF_RECORD_COUNT);
  uint32_t dsize = cloudtaser__le32(data + CLOUDTASER_OFF_DATA_SIZE);
  uint32_t flags = cloudtaser__le32(data + CLOUDTASER_OFF_FLAGS);
  size_t limit = size - CLOUDTASER_CANARY_SIZE; /* records end before this */
  if (dsize != size || roff < CLOUDTASER_HEADER_SIZE || roff > limit ||
      rlen > limit - roff)
    return -EBADMSG;
  if (memcmp(data + CLOUDTASER_OFF_CANARY, data + limit,
             CLOUDTASER_CANARY_SIZE) != 0)
    return -EBADMSG;
  const char *p = data + roff, *end = p + rlen;
  uint32_t n = 0;
  while (p < end) {
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    if (nul == NULL) return -EBADMSG; /* last record unterminated */
    const char *eq = memchr(p, '=', (size_t)(nul - p));
    if (eq == NULL || eq == p) return -EBADMSG; /* no key */
    if (n == UINT32_MAX) return -EBADMSG;
    n++;
    p = nul + 1;
  }
  if (n != count) return -EBADMSG;
  s->data = data;
  s->size = size;
  s->records = data + roff;
  s->records_len = rlen;
  s->count = count;
  s->flags = flags;
  return 0;
}

/*
 * Maps the region behind fd read-only between two PROT_NONE guard pages and
 * validates it. Does not close fd. Returns 0 or -errno (see the top).
 */
static inline int cloudtaser_map_fd(cloudtaser_secrets *s, int fd) {
  memset(s, 0, sizeof *s);
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (st.st_size < (off_t)(CLOUDTASER_HEADER_SIZE + CLOUDTASER_CANARY_SIZE) ||
      (uint64_t)st.st_size > CLOUDTASER_MAX_SIZE)
    return -EMEDIUMTYPE;
  size_t size = (size_t)st.st_size;
  long pg = sysconf(_SC_PAGESIZE);
  size_t page = pg > 0 ? (size_t)pg : 4096u;
  size_t span = (size + page - 1) / page * page;
  size_t map_len = span + 2 * page;
  char *res = mmap(NULL, map_len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED) return -errno;
  char *data = mmap(res + page, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
  if (data == MAP_FAILED) {
    int e = errno;
    munmap(res, map_len);
    return e == ENODEV || e == EACCES ? -EMEDIUMTYPE : -e;
  }
  (void)madvise(data, span, MADV_DONTDUMP); /* secretmem is already "dd" */
  /* The header and records are validated under the generation seqlock: a
   * change written in place while this parses (odd, or a new generation
   * after) is parsed again, a bounded number of times. */
  const uint32_t *gen = (const uint32_t *)(data + CLOUDTASER_OFF_GENERATION);
  int rc = -EBADMSG;
  for (int tries = 0; tries < 1000000; tries++) {
    uint32_t g1 = __atomic_load_n(gen, __ATOMIC_ACQUIRE);
    if (g1 & 1u) {
      if (tries > 64) { /* the writer was preempted: let it finish */
        struct timespec ts = {0, 10000};
        nanosleep(&ts, NULL);
      }
      continue;
    }
    rc = cloudtaser_parse(data, size, s);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(gen, __ATOMIC_RELAXED) == g1) break;
    rc = -EBADMSG;
  }
  if (rc < 0) {
    munmap(res, map_len);
    memset(s, 0, sizeof *s);
    return rc;
  }
  s->map = res;
  s->map_len = map_len;
  return 0;
}

/* Unmaps the region; every pointer it handed out becomes invalid. */
static inline void cloudtaser_close(cloudtaser_secrets *s) {
  if (s->map != NULL) munmap(s->map, s->map_len);
  memset(s, 0, sizeof *s);
}

/*
 * The tracer of any thread of this process, from /proc/self/task/<tid>/
 * status (TracerPid): its pid, with the thread in *tid, or 0 when none
 * has one, or -errno when /proc/self/task cannot be read. ptrace is per
 * thread: every thread is looked at.
 */
static inline int cloudtaser_find_tracer(int *tid) {
  char path[64], buf[2048];
  *tid = 0;
  DIR *d = opendir("/proc/self/task");
  if (d == NULL) return -errno;
  struct dirent *e;
  int tracer = 0;
  while (tracer == 0 && (e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/self/task/%.20s/status", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue; /* the thread has exited */
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    const char *t = strstr(buf, "\nTracerPid:");
    if (t == NULL) continue;
    tracer = atoi(t + sizeof "\nTracerPid:" - 1);
    if (tracer > 0) *tid = atoi(e->d_name);
  }
  closedir(d);
  return tracer;
}

/*
 * Makes the calling process non-dumpable, then checks that nothing traces
 * it. A dumpable process can be ptraced by any process of its uid (a
 * neighbour in the pod, no capability needed), which can make it copy its
 * own memfd_secret region out (docs/security.md, "a neighbour in the pod").
 * Non-dumpable refuses every new attach but CAP_SYS_PTRACE's; a tracer
 * attached before this call is not detached by it, hence the check.
 * Returns 0, -EBUSY when a tracer is attached (its pid in *tracer), or
 * -errno of prctl. Without a readable /proc/self/task the check cannot
 * be made: 0 (the attach refusal still holds).
 */
static inline int cloudtaser_refuse_tracing(int *tracer) {
  int tid;
  *tracer = 0;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return -errno;
  int t = cloudtaser_find_tracer(&tid);
  if (t <= 0) return 0;
  *tracer = t;
  return -EBUSY;
}

/* The region's policy says the app stays debuggable: dumpable again. */
static inline void cloudtaser_apply_dump_policy(const cloudtaser_secrets *s) {
  if (s->flags & CLOUDTASER_FLAG_APP_CORE_DUMPS)
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* Parses a decimal fd number; -EINVAL unless it is all digits and an int. */
static inline int cloudtaser_parse_fd(const char *str) {
  if (str == NULL || *str == '\0') return -EINVAL;
  long v = 0;
  for (const char *p = str; *p; p++) {
    if (*p < '0' || *p > '9') return -EINVAL;
    v = v * 10 + (*p - '0');
    if (v > 0x7fffffffL) return -EINVAL;
  }
  return (int)v;
}

/*
 * Opens the region named by CLOUDTASER_SECRET_FD: makes the process
 * non-dumpable, maps, validates, refuses with -EBUSY (unmapped, the fd left
 * open) while a tracer is attached unless the region's flags say
 * CLOUDTASER_ALLOW_TRACER, closes the fd (when it is a region, valid or
 * not), makes the process dumpable again when they say
 * CLOUDTASER_APP_CORE_DUMPS, and unsets the variable.
 */
static inline int cloudtaser_open(cloudtaser_secrets *s) {
  memset(s, 0, sizeof *s);
  const char *str = getenv(CLOUDTASER_FD_ENV);
  if (str == NULL) return -ENOENT;
  int fd = cloudtaser_parse_fd(str);
  if (fd < 0) return fd;
  int tracer;
  int rc = cloudtaser_refuse_tracing(&tracer);
  if (rc < 0 && rc != -EBUSY) return rc;
  rc = cloudtaser_map_fd(s, fd);
  if (rc == 0 && tracer > 0 && !(s->flags & CLOUDTASER_FLAG_ALLOW_TRACER)) {
    cloudtaser_close(s);
    return -EBUSY;
  }
  if (rc == 0) cloudtaser_apply_dump_policy(s);
  if (rc == 0 || rc == -EBADMSG) {
    close(fd);
#ifndef CLOUDTASER_NO_UNSETENV
    unsetenv(CLOUDTASER_FD_ENV);
#endif
  }
  return rc;
}

/*
 * Iterates records: start with *cursor = 0; returns 1 and fills r, or 0 at
 * the end.
 */
static inline int cloudtaser_next(const cloudtaser_secrets *s, size_t *cursor,
                                  cloudtaser_record *r) {
  if (s->records == NULL || *cursor >= s->records_len) return 0;
  const char *p = s->records + *cursor;
  size_t left = s->records_len - *cursor;
  /* Validated at open; a change written in place since (docs/refresh.md)
   * can leave less: stop there rather than read past it. */
  const char *nul = memchr(p, '\0', left);
  const char *eq = nul ? memchr(p, '=', (size_t)(nul - p)) : NULL;
  if (eq == NULL) return 0;
  r->key = p;
  r->key_len = (size_t)(eq - p);
  r->value = eq + 1;
  r->value_len = (size_t)(nul - eq - 1);
  *cursor += (size_t)(nul - p) + 1;
  return 1;
}

/*
 * Looks up key (key_len bytes, need not be NUL-terminated). Returns 1 and
 * sets *value / *value_len to the bytes in the mapping, or 0. The first
 * record with the key wins.
 */
static inline int cloudtaser_getn(const cloudtaser_secrets *s, const char *key,
                                  size_t key_len, const char **value,
                                  size_t *value_len) {
  size_t cur = 0;
  cloudtaser_record r;
  while (cloudtaser_next(s, &cur, &r)) {
    if (r.key_len == key_len && memcmp(r.key, key, key_len) == 0) {
      *value = r.value;
      *value_len = r.value_len;
      return 1;
    }
  }
  return 0;
}

/*
 * The region's generation (docs/refresh.md): 0 for a region never changed,
 * odd while the wrapper's supervisor writes new records in place, even
 * after. Acquire order: reads after it see at least that generation's bytes.
 */
static inline uint32_t cloudtaser_generation(const cloudtaser_secrets *s) {
  return __atomic_load_n((const uint32_t *)(s->data + CLOUDTASER_OFF_GENERATION),
                         __ATOMIC_ACQUIRE);
}

/* One attempt of cloudtaser_read on whatever the bytes are now: every
 * length is checked against the mapping, never trusted. */
static inline int cloudtaser__read_once(const cloudtaser_secrets *s,
                                        const char *key, size_t key_len,
                                        char *buf, size_t cap, size_t *len) {
  size_t limit = s->size - CLOUDTASER_CANARY_SIZE;
  uint32_t roff = cloudtaser__le32(s->data + CLOUDTASER_OFF_RECORDS_OFFSET);
  uint32_t rlen = cloudtaser__le32(s->data + CLOUDTASER_OFF_RECORDS_LENGTH);
  if (roff < CLOUDTASER_HEADER_SIZE || roff > limit || rlen > limit - roff)
    return -EBADMSG;
  const char *p = s->data + roff, *end = p + rlen;
  while (p < end) {
    const char *nul = (const char *)memchr(p, '\0', (size_t)(end - p));
    if (nul == NULL) return -EBADMSG;
    if ((size_t)(nul - p) > key_len && p[key_len] == '=' &&
        memcmp(p, key, key_len) == 0) {
      size_t n = (size_t)(nul - p) - key_len - 1;
      *len = n;
      if (n + 1 > cap) return -ERANGE;
      memcpy(buf, p + key_len + 1, n);
      buf[n] = '\0';
      return 1;
    }
    p = nul + 1;
  }
  return 0;
}

/*
 * The value of key copied into buf (cap bytes, NUL-terminated), consistent
 * with one generation: a change written in place while this reads (the
 * wrapper's CLOUDTASER_ON_CHANGE=signal:NAME) makes it read again, so a
 * record is never half old, half new. Use it instead of cloudtaser_get when
 * the region can change; pointers from cloudtaser_get keep pointing into
 * the mapping, whose bytes a change rewrites. Returns 1 (*len set), 0 (no
 * such key), -ERANGE (*len is the value's length; buf too small), -EAGAIN
 * (the writer did not finish within many tries) or -EBADMSG.
 */
static inline int cloudtaser_read(const cloudtaser_secrets *s, const char *key,
                                  char *buf, size_t cap, size_t *len) {
  size_t key_len = strlen(key);
  for (int attempt = 0; attempt < 1000000; attempt++) {
    uint32_t g1 = cloudtaser_generation(s);
    if (g1 & 1u) {
      if (attempt > 64) { /* the writer was preempted: let it finish */
        struct timespec ts = {0, 10000};
        nanosleep(&ts, NULL);
      }
      continue;
    }
    int rc = cloudtaser__read_once(s, key, key_len, buf, cap, len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint32_t g2 = __atomic_load_n(
        (const uint32_t *)(s->data + CLOUDTASER_OFF_GENERATION),
        __ATOMIC_RELAXED);
    if (g1 == g2) return rc;
  }
  return -EAGAIN;
}

/* cloudtaser_getn with a NUL-terminated key. */
static inline int cloudtaser_get(const cloudtaser_secrets *s, const char *key,
                                 const char **value, size_t *value_len) {
  return cloudtaser_getn(s, key, strlen(key), value, value_len);
}

#endif /* CLOUDTASER_H */
