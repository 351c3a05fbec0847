// libcloudtaser_interposer.so: secrets reach a glibc-dynamic app through
// getenv and `environ` without entering its /proc/<pid>/environ.
//
// Loaded with LD_PRELOAD next to CLOUDTASER_SECRET_FD=N (docs/interposer.md).
// The constructor, before the app's main:
//   0. makes the app non-dumpable (refuse_tracing: a process of the app's
//      uid could otherwise ptrace it and make it copy its region out), and
//      stops the start if a tracer is attached, unless the region's flags
//      say CLOUDTASER_ALLOW_TRACER (stop_if_traced); dumpable again after
//      the mapping when they say CLOUDTASER_APP_CORE_DUMPS;
//   1. maps the region behind fd N read-only (c/sdk/cloudtaser.h validates
//      it) and closes the fd at once: an open fd can be stolen by root with
//      pidfd_getfd, a mapping cannot;
//   2. copies it into a secret mapping of the app's own (memfd_secret, fd
//      closed at once; memfd + mlock where memfd_secret fails) and keeps the
//      wrapper's mapped read-only for its generation only. Programs write
//      into environment strings: bash's start-up turns each '=' into NUL and
//      back. On the wrapper's region mapped read-only that is a SIGSEGV,
//      mapped writable it would let the app change the wrapper's memory. The
//      copy is writable, private to the app, and out of the kernel's direct
//      map like the original;
//   3. rebuilds `environ`: the inherited entries minus CLOUDTASER_SECRET_FD
//      (and minus this library in LD_PRELOAD, so programs the app runs do not
//      load it for nothing), plus one pointer per record. A record is
//      `KEY=VALUE\0`, which is already an environment entry, so the pointer
//      goes straight into the mapping: runtimes that copy `environ` at start
//      (Python, Perl, Ruby, Node, bash) see the secrets, the kernel's copy of
//      the initial environment (/proc/<pid>/environ) never held them;
//   4. indexes `environ` in an open-addressing hash table.
//
// getenv: a hash lookup, no allocation, errno preserved. First it compares
// the wrapper's region's generation with the one copied: when the supervisor
// wrote a change in place (CLOUDTASER_ON_CHANGE=signal:NAME, docs/refresh.md)
// it makes a new copy, under the seqlock, and a new environ; the old copy
// stays mapped so every pointer returned before stays valid. A hit is checked
// against `environ` itself (same slot, same pointer), so a program that edits
// `environ` behind our back gets glibc's linear scan, never a stale answer.
// setenv, unsetenv, putenv, clearenv call glibc's own and re-index, which
// keeps glibc's semantics exactly: a setenv of a secret key replaces the
// entry, unsetenv removes it.
//
// Thread safety equals glibc's: getenv may run concurrently with getenv;
// environment writers are serialised; a getenv racing a writer is undefined
// in POSIX and in glibc 2.36 (which reallocates `environ`). The previous
// index is kept alive for one generation to make that race benign in practice.
//
// Programs the app starts keep interposer delivery: exec.c and spawn.c
// interpose the exec family, posix_spawn, system and popen, and hand a
// glibc-dynamic child a region of its own instead of secrets in its envp.
//
// Never logs a value. Warns once on stderr when CLOUDTASER_SECRET_FD is
// missing or unusable; the app then runs as if the library were not loaded.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ct/errname.h"
#include "ct/exit_codes.h"
#include "interposer.h"

extern char **environ;

// --- the index -------------------------------------------------------------

struct slot {
  const char *entry; // "KEY=VALUE"; NULL marks an empty slot
  uint32_t hash;
  uint32_t key_len;
  uint32_t pos; // index of entry in env
};

struct index {
  char **env; // the environ array this index describes
  size_t n;   // entries in env
  size_t mask;
  // One bit per first-two-bytes of an entry, the bytes glibc's getenv
  // compares first: a name whose bit is clear is a miss at once.
  uint64_t prefix[64];
  struct slot slots[];
};

static inline unsigned prefix_bit(unsigned char c0, unsigned char c1) {
  return (c0 * 67u + c1) & 4095u;
}

static struct index *_Atomic g_index;
// The wrapper's region, kept mapped read-only for its generation (the
// supervisor writes changes in place, docs/refresh.md); .data is NULL when
// there is none to follow.
static cloudtaser_secrets g_source;
static _Atomic uint32_t g_seen_gen;
static void follow_generation(uint32_t g);
static struct index *g_retired; // kept one generation (see the top)
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
cloudtaser_secrets ct_region;

static inline uint64_t load64(const char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline uint32_t load32(const char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

// Hashes a key of n bytes from its first and last 8 bytes (overlapping for
// short keys) and its length: two independent multiplies, no per-byte loop.
// Keys that share those bytes collide and are told apart by the comparison.
static inline uint32_t hash_key(const char *p, size_t n) {
  uint64_t a, b;
  if (n >= 8) {
    a = load64(p);
    b = load64(p + n - 8);
  } else if (n >= 4) {
    a = load32(p);
    b = load32(p + n - 4);
  } else {
    a = n ? (uint64_t)(unsigned char)p[0] << 16 |
                (uint64_t)(unsigned char)p[n / 2] << 8 |
                (unsigned char)p[n - 1]
          : 0;
    b = 0;
  }
  uint64_t h = (a ^ 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
  h ^= (b + n) * 0xc4ceb9fe1a85ec53ull;
  h = (h ^ (h >> 32)) * 0x9e3779b97f4a7c15ull; // every input bit reaches the top
  return (uint32_t)(h >> 32);
}

// strlen with aligned 8-byte loads, inlined: the call to glibc's strlen was
// a fifth of a short lookup. An aligned load never crosses a page, so
// reading the bytes around the string is safe (glibc's own strlen does it).
typedef uint64_t __attribute__((may_alias, aligned(8))) aligned_word;
static inline size_t word_strlen(const char *s) {
  uintptr_t a = (uintptr_t)s;
  const aligned_word *w = (const aligned_word *)(a & ~(uintptr_t)7);
  uint64_t v = *w | ((1ull << ((a & 7) * 8)) - 1); // bytes before s: nonzero
  for (;;) {
    uint64_t z = (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
    if (z) return (size_t)((const char *)w - s) + (size_t)(__builtin_ctzll(z) >> 3);
    v = *++w;
  }
}

// memcmp(a, b, n) == 0 for the key lengths environments use, without a call.
static inline int same_key(const char *a, const char *b, size_t n) {
  if (n >= 8 && n <= 16)
    return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
  if (n >= 4 && n < 8)
    return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  return memcmp(a, b, n) == 0;
}

// True when a byte of w is '=' (the classic has-zero-byte test on w ^ "====").
static inline int has_eq(uint64_t w) {
  uint64_t x = w ^ 0x3d3d3d3d3d3d3d3dull;
  return ((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) != 0;
}

// glibc's getenv, reproduced: the first entry whose bytes start with name and
// continue with '='. Used before the index exists and when it is stale.
static char *scan(char **env, const char *name) {
  if (env == NULL || name[0] == '\0') return NULL;
  size_t len = strlen(name);
  for (char **ep = env; *ep != NULL; ep++)
    if ((*ep)[0] == name[0] && strncmp(*ep, name, len) == 0 &&
        (*ep)[len] == '=')
      return *ep + len + 1;
  return NULL;
}

// Builds an index of env (first occurrence of a key wins, as in glibc).
// Returns NULL when out of memory or env is huge; callers then scan().
static struct index *build_index(char **env) {
  size_t n = 0;
  if (env != NULL)
    while (env[n] != NULL) n++;
  if (n >= UINT32_MAX / 4) return NULL;
  size_t cap = 16;
  while (cap < 2 * n + 2) cap <<= 1; // load factor <= 1/2
  struct index *ix = calloc(1, sizeof *ix + cap * sizeof(struct slot));
  if (ix == NULL) return NULL;
  ix->env = env;
  ix->n = n;
  ix->mask = cap - 1;
  for (size_t pos = 0; pos < n; pos++) {
    const char *e = env[pos];
    const char *eq = strchr(e, '=');
    if (eq == NULL || eq == e) continue; // getenv can never return these
    unsigned bit = prefix_bit((unsigned char)e[0], (unsigned char)e[1]);
    ix->prefix[bit >> 6] |= 1ull << (bit & 63);
    if (eq - e >= (ptrdiff_t)UINT32_MAX) { // absurd; keep glibc's answer
      free(ix);
      return NULL;
    }
    uint32_t klen = (uint32_t)(eq - e);
    uint32_t h = hash_key(e, klen);
    for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
      struct slot *s = &ix->slots[i];
      if (s->entry == NULL) {
        *s = (struct slot){.entry = e, .hash = h, .key_len = klen,
                           .pos = (uint32_t)pos};
        break;
      }
      if (s->hash == h && s->key_len == klen && memcmp(s->entry, e, klen) == 0)
        break; // a later duplicate: glibc returns the first
    }
  }
  return ix;
}

// Returned by index_lookup when the answer must come from scan().
static char stale_marker;
#define STALE (&stale_marker)

// Looks name up in ix: the value, NULL, or STALE.
__attribute__((always_inline)) static inline char *
index_lookup(const struct index *ix, char **env, const char *name) {
  unsigned char c0 = (unsigned char)name[0];
  if (c0 == 0) return NULL;
  // A one-byte name matches an entry starting "X=", as in glibc.
  unsigned char c1 = name[1] ? (unsigned char)name[1] : '=';
  unsigned bit = prefix_bit(c0, c1);
  if (!(ix->prefix[bit >> 6] >> (bit & 63) & 1)) return NULL;
  size_t len = word_strlen(name);
  if (len == 0) return NULL;
  uint32_t h = hash_key(name, len);
  for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
    const struct slot *s = &ix->slots[i];
    if (s->entry == NULL) break;
    if (s->hash == h && s->key_len == len && same_key(s->entry, name, len)) {
      if (s->pos < ix->n && env[s->pos] == s->entry)
        return (char *)s->entry + len + 1;
      return STALE; // environ was edited directly: answer like glibc
    }
  }
  // glibc also matches a name holding '=' ("A=B" finds "A=B=C"); no key in
  // the index holds one, so only such a miss needs the scan. Names of up to
  // 16 bytes are checked in the two words hash_key loaded.
  if (len <= 16 && len >= 8) {
    if (!has_eq(load64(name)) && !has_eq(load64(name + len - 8))) return NULL;
  } else if (len >= 4 && len < 8) {
    if (!has_eq(load32(name)) && !has_eq(load32(name + len - 4))) return NULL;
  }
  return memchr(name, '=', len) != NULL ? STALE : NULL;
}

__attribute__((always_inline)) static inline char *lookup(const char *name) {
  if (g_source.data != NULL) { // one load and compare on the hot path
    uint32_t g = __atomic_load_n(
        (const uint32_t *)(g_source.data + CLOUDTASER_OFF_GENERATION),
        __ATOMIC_ACQUIRE);
    if (__builtin_expect(
            g != atomic_load_explicit(&g_seen_gen, memory_order_relaxed), 0))
      follow_generation(g);
  }
  char **env = environ;
  const struct index *ix = atomic_load_explicit(&g_index, memory_order_acquire);
  if (ix == NULL || ix->env != env) return scan(env, name);
  char *v = index_lookup(ix, env, name);
  return v == STALE ? scan(env, name) : v;
}

// Re-indexes environ after a write. Caller holds g_lock.
static void reindex(void) {
  struct index *next = build_index(environ);
  struct index *prev =
      atomic_exchange_explicit(&g_index, next, memory_order_acq_rel);
  free(g_retired);
  g_retired = prev;
}

// --- glibc's own writers -----------------------------------------------------

typedef int (*setenv_fn)(const char *, const char *, int);
typedef int (*unsetenv_fn)(const char *);
typedef int (*putenv_fn)(char *);
typedef int (*clearenv_fn)(void);

static setenv_fn real_setenv;
static unsetenv_fn real_unsetenv;
static putenv_fn real_putenv;
static clearenv_fn real_clearenv;

static void resolve_real(void) {
  if (real_setenv == NULL)
    real_setenv = (setenv_fn)dlsym(RTLD_NEXT, "setenv");
  if (real_unsetenv == NULL)
    real_unsetenv = (unsetenv_fn)dlsym(RTLD_NEXT, "unsetenv");
  if (real_putenv == NULL)
    real_putenv = (putenv_fn)dlsym(RTLD_NEXT, "putenv");
  if (real_clearenv == NULL)
    real_clearenv = (clearenv_fn)dlsym(RTLD_NEXT, "clearenv");
}

// --- exported API ------------------------------------------------------------

EXPORT char *getenv(const char *name) {
  int saved = errno;
  char *v = lookup(name);
  errno = saved;
  return v;
}

EXPORT char *secure_getenv(const char *name) {
  int saved = errno;
  char *v = getauxval(AT_SECURE) ? NULL : lookup(name);
  errno = saved;
  return v;
}

// Each writer: glibc's function, then a fresh index, errno from glibc.
#define WRITER(call)                                                           \
  do {                                                                         \
    resolve_real();                                                            \
    pthread_mutex_lock(&g_lock);                                               \
    int rc_ = (call);                                                          \
    int errno_ = errno;                                                        \
    reindex();                                                                 \
    pthread_mutex_unlock(&g_lock);                                             \
    errno = errno_;                                                            \
    return rc_;                                                                \
  } while (0)

EXPORT int setenv(const char *name, const char *value, int overwrite) {
  if (real_setenv == NULL) resolve_real();
  if (real_setenv == NULL) return errno = ENOSYS, -1;
  WRITER(real_setenv(name, value, overwrite));
}

EXPORT int unsetenv(const char *name) {
  if (real_unsetenv == NULL) resolve_real();
  if (real_unsetenv == NULL) return errno = ENOSYS, -1;
  WRITER(real_unsetenv(name));
}

EXPORT int putenv(char *string) {
  if (real_putenv == NULL) resolve_real();
  if (real_putenv == NULL) return errno = ENOSYS, -1;
  WRITER(real_putenv(string));
}

EXPORT int clearenv(void) {
  if (real_clearenv == NULL) resolve_real();
  if (real_clearenv == NULL) return errno = ENOSYS, -1;
  WRITER(real_clearenv());
}

// For the benchmark and tests: 1 when a region was mapped, 0 otherwise.
EXPORT int cloudtaser_interposer_active(void) {
  return ct_region.map != NULL;
}

// --- start-up ----------------------------------------------------------------

static char g_self[4096];

const char *ct_self_path(void) { return g_self[0] ? g_self : NULL; }

#define PROGRAM "cloudtaser-interposer"

// No allocation: it runs in vfork children, whose memory is the parent's.
void ct_log(enum ct_level level, const char *msg) {
  char buf[1536];
  size_t n = ct_log_format(buf, sizeof buf, !isatty(STDERR_FILENO), PROGRAM,
                           level, NULL, msg);
  ct_log_write(STDERR_FILENO, buf, n);
}

// A warning on stderr, once per process. Messages are constants and
// numbers, never a value.
static void warn_once(const char *msg, int err) {
  static int said;
  if (said) return;
  said = 1;
  char line[512], name[24];
  snprintf(line, sizeof line, "%s%s%s", msg, err ? ": " : "",
           err ? ct_errname_in(err, name, sizeof name) : "");
  ct_log(CT_WARNING, line);
}

static int is_key(const char *entry, const char *key) {
  size_t n = strlen(key);
  return strncmp(entry, key, n) == 0 && entry[n] == '=';
}

// LD_PRELOAD without this library (the loader has read it already; programs
// the app execs must not load us without a region). Returns entry itself when
// nothing changes, NULL when nothing is left, or a new string.
static char *strip_self(char *entry) {
  Dl_info info;
  if (!dladdr((void *)strip_self, &info) || info.dli_fname == NULL)
    return entry;
  const char *self = info.dli_fname;
  const char *self_base = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
  const char *list = entry + sizeof "LD_PRELOAD=" - 1;
  size_t len = strlen(list);
  char *out = malloc(sizeof "LD_PRELOAD=" + len);
  if (out == NULL) return entry;
  char *w = stpcpy(out, "LD_PRELOAD=");
  int dropped = 0;
  for (const char *p = list; *p;) {
    size_t tl = strcspn(p, ": ");
    if (tl > 0) {
      const char *tb = p + tl;
      while (tb > p && tb[-1] != '/') tb--;
      size_t bl = (size_t)(p + tl - tb);
      int self_tok = (strlen(self) == tl && memcmp(p, self, tl) == 0) ||
                     (strlen(self_base) == bl && memcmp(tb, self_base, bl) == 0);
      if (self_tok) {
        dropped = 1;
      } else {
        if (w[-1] != '=') *w++ = ':';
        memcpy(w, p, tl);
        w += tl;
      }
    }
    p += tl;
    if (*p) p++;
  }
  *w = '\0';
  if (!dropped) {
    free(out);
    return entry;
  }
  if (w[-1] == '=') {
    free(out);
    return NULL;
  }
  return out;
}

// The new environ: the inherited entries minus CLOUDTASER_SECRET_FD and minus
// any entry a secret overrides, then one pointer per record into the mapping.
// `drop`: a previous copy whose records leave environ (a new generation);
// the previous array is not freed (a concurrent reader may still walk it).
static int rebuild_environ(const cloudtaser_secrets *r,
                           const cloudtaser_secrets *drop) {
  char **old = environ;
  size_t n = 0;
  if (old != NULL)
    while (old[n] != NULL) n++;
  size_t total = n + (r ? r->count : 0) + 1;
  char **env = calloc(total, sizeof *env);
  char **recs = calloc((r ? r->count : 0) + 1, sizeof *recs);
  if (env == NULL || recs == NULL) {
    free(env);
    free(recs);
    return -ENOMEM;
  }
  size_t nr = 0, cur = 0;
  cloudtaser_record rec;
  while (r && cloudtaser_next(r, &cur, &rec)) recs[nr++] = (char *)rec.key;
  struct index *secret_keys = build_index(recs);
  if (secret_keys == NULL) {
    free(env);
    free(recs);
    return -ENOMEM;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char *e = old[i];
    if (is_key(e, CLOUDTASER_FD_ENV)) continue;
    if (drop && e >= drop->data && e < drop->data + drop->size) continue;
    if (is_key(e, "LD_PRELOAD")) {
      e = strip_self(e);
      if (e == NULL) continue;
    }
    const char *eq = strchr(e, '=');
    if (eq != NULL && eq != e && nr > 0) {
      uint32_t h = hash_key(e, (size_t)(eq - e));
      size_t klen = (size_t)(eq - e);
      int shadowed = 0;
      for (size_t j = h & secret_keys->mask;; j = (j + 1) & secret_keys->mask) {
        const struct slot *s = &secret_keys->slots[j];
        if (s->entry == NULL) break;
        if (s->hash == h && s->key_len == klen &&
            memcmp(s->entry, e, klen) == 0) {
          shadowed = 1;
          break;
        }
      }
      if (shadowed) continue; // the region is authoritative
    }
    env[k++] = e;
  }
  for (size_t i = 0; i < nr; i++) env[k++] = recs[i];
  env[k] = NULL;
  free(secret_keys);
  free(recs);
  environ = env; // the old array (on the stack) is simply no longer used
  return 0;
}

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

// A writable copy of src (the wrapper's region, mapped read-only) in a
// mapping of our own, between guard pages, consistent with one generation
// of src (docs/refresh.md: the supervisor may write new records in place;
// its generation is odd meanwhile). The copy's fd is closed before this
// returns; *gen is the generation copied.
static int copy_region(const cloudtaser_secrets *src, cloudtaser_secrets *out,
                       uint32_t *gen) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t span = (src->size + page - 1) / page * page;
  int secret = 1;
  int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
  if (fd < 0) {
    secret = 0;
    fd = memfd_create("cloudtaser-secrets", MFD_CLOEXEC);
  }
  if (fd < 0) return -errno;
  int rc = 0;
  char *res = MAP_FAILED, *data = MAP_FAILED;
  size_t map_len = span + 2 * page;
  if (ftruncate(fd, (off_t)src->size) < 0) goto fail;
  res = mmap(NULL, map_len, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED) goto fail;
  data = mmap(res + page, src->size, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_FIXED, fd, 0);
  if (data == MAP_FAILED) goto fail;
  close(fd);
  fd = -1;
  (void)madvise(data, span, MADV_DONTDUMP);
  if (!secret) (void)mlock(data, span); // best effort, as the wrapper's own
  cloudtaser_secrets copy;
  rc = -EAGAIN;
  for (int attempt = 0; attempt < 100000 && rc == -EAGAIN; attempt++) {
    uint32_t g1 = cloudtaser_generation(src);
    if (g1 & 1u) { // the writer is midway: let it finish
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
      continue;
    }
    memcpy(data, src->data, src->size);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n((const uint32_t *)(src->data +
                                           CLOUDTASER_OFF_GENERATION),
                        __ATOMIC_RELAXED) != g1)
      continue;
    *gen = g1;
    rc = cloudtaser_parse(data, src->size, &copy) < 0 ? -EBADMSG : 0;
  }
  if (rc < 0) {
    munmap(res, map_len);
    return rc;
  }
  copy.map = res;
  copy.map_len = map_len;
  *out = copy;
  return 0;
fail:
  rc = -errno;
  if (res != MAP_FAILED) munmap(res, map_len);
  if (fd >= 0) close(fd);
  return rc;
}

// Before the region is mapped: the app becomes non-dumpable, so that no
// process of its uid can ptrace it and make it copy its region out (a
// neighbour in the pod needs no capability to attach to a dumpable
// process). Returns the pid of a tracer already attached, or 0.
static int refuse_tracing(void) {
  int tracer;
  int rc = cloudtaser_refuse_tracing(&tracer);
  if (rc < 0 && rc != -EBUSY)
    warn_once("prctl(PR_SET_DUMPABLE, 0) failed: processes of the app's uid "
              "can ptrace it",
              -rc);
  return tracer;
}

// A tracer already attached owns the process: unless the region's flags
// say CLOUDTASER_ALLOW_TRACER (debugging), the start stops here with
// CT_EXIT_PROTECTION_MISSING, the region unmapped and its fd closed, rather
// than hand it the secrets. (One that attached between the exec and this
// constructor could also skip this check: only an LSM closes that window,
// docs/security.md.)
static void stop_if_traced(int tracer, int fd) {
  char line[200];
  if (tracer <= 0) return;
  if (ct_region.flags & CLOUDTASER_FLAG_ALLOW_TRACER) {
    snprintf(line, sizeof line,
             "a tracer (pid %d) is attached to the app "
             "(CLOUDTASER_ALLOW_TRACER)",
             tracer);
    ct_log(CT_WARNING, line);
    return;
  }
  cloudtaser_close(&ct_region);
  close(fd);
  snprintf(line, sizeof line,
           "a tracer (pid %d) is attached to the app: the secret region is "
           "unmapped and the app does not start",
           tracer);
  ct_log(CT_ERROR, line);
  _exit(CT_EXIT_PROTECTION_MISSING);
}

// A new generation of the wrapper's region: a new copy, environ and index
// point at it; the old copy stays mapped, so every pointer getenv returned
// stays valid (its value is the old one).
__attribute__((noinline, cold)) static void follow_generation(uint32_t g) {
  int saved = errno;
  pthread_mutex_lock(&g_lock);
  if (g != atomic_load_explicit(&g_seen_gen, memory_order_relaxed)) {
    cloudtaser_secrets next;
    uint32_t got = g;
    int rc = copy_region(&g_source, &next, &got);
    if (rc == 0 && rebuild_environ(&next, &ct_region) == 0) {
      ct_region = next; // the old copy: kept mapped, never reused
      reindex();
    } else if (rc == 0) {
      munmap(next.map, next.map_len);
    }
    if (rc < 0)
      ct_log(CT_WARNING, "cannot copy a new generation of the secret region; "
                         "getenv keeps the previous values");
    atomic_store_explicit(&g_seen_gen, got, memory_order_release);
  }
  pthread_mutex_unlock(&g_lock);
  errno = saved;
}

static void after_fork_child(void) {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  memcpy(&g_lock, &fresh, sizeof fresh);
}

__attribute__((constructor)) static void cloudtaser_interposer_init(void) {
  int saved = errno;
  resolve_real();
  ct_exec_init();
  ct_spawn_init();
  Dl_info self;
  if (dladdr((void *)cloudtaser_interposer_init, &self) && self.dli_fname &&
      strlen(self.dli_fname) < sizeof g_self)
    strcpy(g_self, self.dli_fname);
  pthread_atfork(NULL, NULL, after_fork_child);

  const char *str = scan(environ, CLOUDTASER_FD_ENV);
  int fd = str ? cloudtaser_parse_fd(str) : -ENOENT;
  int rc = fd;
  int tracer = fd >= 0 ? refuse_tracing() : 0;
  if (fd >= 0) rc = cloudtaser_map_fd(&ct_region, fd);
  if (rc == 0) stop_if_traced(tracer, fd);
  if (rc == 0 || rc == -EBADMSG) close(fd); // ours: never leave it open
  if (rc == 0) cloudtaser_apply_dump_policy(&ct_region);

  if (str == NULL) {
    warn_once("CLOUDTASER_SECRET_FD is not set; the interposer is inactive",
              0);
  } else if (rc == -EINVAL) {
    warn_once("CLOUDTASER_SECRET_FD is not an fd number; the interposer is "
              "inactive",
              0);
  } else if (rc == -EBADMSG) {
    warn_once("the secret region is malformed (header, records or canary); "
              "no secrets were delivered",
              0);
  } else if (rc == -EMEDIUMTYPE) {
    warn_once("CLOUDTASER_SECRET_FD does not name a secret region; the "
              "interposer is inactive",
              0);
  } else if (rc < 0) {
    warn_once("cannot map CLOUDTASER_SECRET_FD; the interposer is inactive",
              -rc);
  }

  if (rc == 0) {
    cloudtaser_secrets copy;
    uint32_t gen = 0;
    int c = copy_region(&ct_region, &copy, &gen);
    if (c < 0) { // keep the read-only mapping: still correct, less compatible
      warn_once("cannot copy the secret region into a writable mapping; "
                "programs that write into environment strings will fault",
                -c);
    } else { // the wrapper's stays mapped read-only for its generation
      g_source = ct_region;
      ct_region = copy;
      atomic_store_explicit(&g_seen_gen, gen, memory_order_relaxed);
    }
  }
  if (rc == 0 || rc == -EBADMSG) {
    if (rebuild_environ(rc == 0 ? &ct_region : NULL, NULL) < 0) {
      // Out of memory before main: the app cannot get its secrets.
      warn_once("out of memory while rebuilding environ; no secrets were "
                "delivered",
                ENOMEM);
    }
  }
  pthread_mutex_lock(&g_lock);
  reindex();
  pthread_mutex_unlock(&g_lock);
  errno = saved;
}
