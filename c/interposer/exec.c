// The exec family, interposed: a program the app starts keeps interposer
// delivery instead of receiving the secrets in its envp.
//
// execve copies the strings envp points to into the new program's stack,
// which the kernel shows in /proc/<pid>/environ and writes into its core.
// So before each exec whose envp carries a secret (child_env.c has the
// rule), the program that would run is inspected (exec_target.c):
//   - glibc-dynamic: its secrets go into a new region (a fresh memfd_secret
//     made from the app's copy), handed over as CLOUDTASER_SECRET_FD with
//     FD_CLOEXEC cleared for this exec only, with LD_PRELOAD naming this
//     library; its envp holds no secret. Its own interposer closes the fd.
//   - static, musl, Go, set-id: it cannot load us. With
//     CLOUDTASER_CHILD_ENV_FALLBACK (the region's flag) it gets envp as the
//     app passed it; otherwise the exec fails with EPERM and an error line
//     naming the program.
//   - not found, not executable, no known format: the exec fails before
//     envp matters; it runs with the secret entries removed, so the errno is
//     the kernel's and a race cannot leak them.
//
// execv, execvp, execvpe, execl, execlp, execle call glibc's execve
// internally (not through the PLT), so each is interposed here, searching
// PATH like glibc (each candidate inspected on its own). posix_spawn,
// system and popen are in spawn.c.
//
// Everything here may run between vfork and exec, in memory shared with the
// parent: no allocation, no locks, the new envp on the stack.
#define _GNU_SOURCE
#include <alloca.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct/errname.h"
#include "interposer.h"

// Larger scratch (an environment of thousands of entries) is mapped
// instead: after a successful exec from a vfork child that mapping stays in
// the parent, a bounded cost for a rare case.
#define SCRATCH_ON_STACK (256u * 1024u)

extern char **environ;

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[],
                           int);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

static execve_fn real_execve, real_execvpe;
static execveat_fn real_execveat;
static fexecve_fn real_fexecve;

void ct_exec_init(void) {
  real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
  real_execvpe = (execve_fn)dlsym(RTLD_NEXT, "execvpe");
  real_execveat = (execveat_fn)dlsym(RTLD_NEXT, "execveat");
  real_fexecve = (fexecve_fn)dlsym(RTLD_NEXT, "fexecve");
}

// Calls made before our constructor ran (another library's constructor)
// resolve here; dlsym is safe there, it is not a vfork child yet.
#define REAL(fn)                                                               \
  do {                                                                         \
    if (real_##fn == NULL) ct_exec_init();                                     \
    if (real_##fn == NULL) return errno = ENOSYS, -1;                          \
  } while (0)

static int refuse(const char *program, const char *why) {
  char msg[1024];
  snprintf(msg, sizeof msg,
           "exec of %s refused: %s; it would receive its secrets in its "
           "environment (set CLOUDTASER_CHILD_ENV_FALLBACK=true to allow "
           "that)",
           program, why);
  ct_log(CT_ERROR, msg);
  errno = EPERM;
  return -1;
}

static void fallback_once(const char *program, const char *why) {
  static int said; // shared with a vfork parent: at worst said twice
  if (said) return;
  said = 1;
  char msg[1024];
  snprintf(msg, sizeof msg,
           "exec of %s: %s; it receives its secrets in its environment "
           "(CLOUDTASER_CHILD_ENV_FALLBACK)",
           program, why);
  ct_log(CT_WARNING, msg);
}

int ct_exec_with(const struct ct_where *where, char *const envp[],
                 const char *program, enum ct_handover how, ct_exec_call call,
                 void *ctx) {
  if (ct_region.map == NULL) return call(ctx, envp, -1);
  // The copy is writable (see interposer.c): check it before walking it.
  if (!ct_region_ok())
    return refuse(program, "the app's secret region is damaged (its canary "
                           "or records changed)");
  size_t secret = 0, n = ct_count(envp, &secret);
  if (secret == 0) return call(ctx, envp, -1);
  struct ct_target tt = {CT_UNREACHABLE, ""};
  if (where->path != NULL)
    ct_inspect(where->dirfd, where->path, where->at_flags, where->sh_fallback,
               &tt);
  if (tt.kind == CT_INTERPOSABLE && ct_self_path() == NULL) {
    tt.kind = CT_FOREIGN;
    snprintf(tt.why, sizeof tt.why, "the interposer's own path is unknown");
  }
  if (tt.kind == CT_FOREIGN) {
    if (!(ct_region.flags & CLOUDTASER_FLAG_CHILD_ENV_FALLBACK))
      return refuse(program, tt.why);
    fallback_once(program, tt.why);
    return call(ctx, envp, -1);
  }
  // The new envp and LD_PRELOAD entry: on the stack (no allocation between
  // vfork and exec); a huge environment gets a private mapping instead.
  size_t plen = tt.kind == CT_INTERPOSABLE ? ct_preload_size(envp) : 1;
  size_t need = (n + 3) * sizeof(char *) + plen;
  int mapped = need > SCRATCH_ON_STACK;
  void *scratch = mapped ? mmap(NULL, need, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                         : alloca(need);
  if (scratch == MAP_FAILED) return -1;
  char **out = scratch;
  char *preload = (char *)(out + n + 3);
  char fd_entry[32];
  int rc, e;
  if (tt.kind == CT_UNREACHABLE) {
    ct_child_envp(&ct_region, envp, -1, out, fd_entry, preload);
    rc = call(ctx, out, -1);
    e = errno;
  } else {
    int fd = ct_child_region(&ct_region, envp);
    if (fd < 0) {
      char msg[512], name[24];
      snprintf(msg, sizeof msg,
               "exec of %s failed: cannot make its secret region: %s",
               program, ct_errname_in(-fd, name, sizeof name));
      ct_log(CT_ERROR, msg);
      rc = -1;
      e = -fd;
    } else {
      ct_child_envp(&ct_region, envp, fd, out, fd_entry, preload);
      rc = how == CT_VIA_EXEC && fcntl(fd, F_SETFD, 0) < 0
               ? -1
               : call(ctx, out, fd);
      e = errno;
      close(fd); // the exec failed (or the spawn holds its own copy)
    }
  }
  if (mapped) munmap(scratch, need);
  errno = e;
  return rc;
}

// --- the calls ----------------------------------------------------------

struct path_call {
  const char *path;
  char *const *argv;
  int sh_fallback; // on ENOEXEC run the file with /bin/sh (execvp)
};

static int call_execve(void *ctx, char *const envp[], int fd) {
  (void)fd;
  const struct path_call *c = ctx;
  real_execve(c->path, c->argv, envp);
  if (errno != ENOEXEC || !c->sh_fallback) return -1;
  // glibc's execvp: a file of no known format is a shell script.
  size_t argc = 0;
  while (c->argv[argc]) argc++;
  char *argv[argc + 2];
  argv[0] = (char *)"/bin/sh";
  argv[1] = (char *)c->path;
  for (size_t i = 1; i <= argc; i++) argv[i + 1] = c->argv[i];
  if (argc == 0) argv[2] = NULL;
  real_execve("/bin/sh", argv, envp);
  return -1;
}

static int exec_path(const char *path, char *const argv[], char *const envp[],
                     int sh_fallback) {
  struct ct_where w = {AT_FDCWD, path, 0, sh_fallback};
  struct path_call c = {path, argv, sh_fallback};
  return ct_exec_with(&w, envp, path, CT_VIA_EXEC, call_execve, &c);
}

// glibc's PATH search (posix/execvpe.c): each candidate is tried in turn;
// EACCES is remembered, ENOENT-like errors move on, anything else stops.
static int search_exec(const char *file, char *const argv[],
                       char *const envp[]) {
  size_t secret = 0;
  int ok = ct_region_ok();
  if (ok) ct_count(envp, &secret);
  // Nothing to hand over: glibc's own search. (A damaged copy goes on to
  // exec_path, which refuses.)
  if ((ct_region.map == NULL || (ok && secret == 0)) && real_execvpe != NULL)
    return real_execvpe(file, argv, envp);
  if (file[0] == '\0') return errno = ENOENT, -1;
  if (strchr(file, '/')) return exec_path(file, argv, envp, 1);
  const char *path = getenv("PATH");
  if (path == NULL) path = "/bin:/usr/bin";
  size_t flen = strlen(file);
  int eacces = 0;
  char buf[PATH_MAX];
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p);
    if (dlen + 1 + flen < sizeof buf) {
      memcpy(buf, p, dlen);
      if (dlen) buf[dlen++] = '/'; // an empty entry: the current directory
      memcpy(buf + dlen, file, flen + 1);
      exec_path(buf, argv, envp, 1);
      switch (errno) {
      case EACCES: eacces = 1; break;
      case ENOENT: case ESTALE: case ENOTDIR: case ENODEV: case ETIMEDOUT:
        break;
      default: return -1;
      }
    }
    if (*end == '\0') break;
    p = end;
  }
  if (eacces) errno = EACCES;
  return -1;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  REAL(execve);
  return exec_path(path, argv, envp, 0);
}

EXPORT int execv(const char *path, char *const argv[]) {
  REAL(execve);
  return exec_path(path, argv, environ, 0);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  REAL(execve);
  return search_exec(file, argv, envp);
}

EXPORT int execvp(const char *file, char *const argv[]) {
  REAL(execve);
  return search_exec(file, argv, environ);
}

struct fd_call {
  int dirfd;
  const char *path;
  char *const *argv;
  int flags;
};

static int call_execveat(void *ctx, char *const envp[], int fd) {
  (void)fd;
  const struct fd_call *c = ctx;
  return real_execveat(c->dirfd, c->path, c->argv, envp, c->flags);
}

static int call_fexecve(void *ctx, char *const envp[], int fd) {
  (void)fd;
  const struct fd_call *c = ctx;
  return real_fexecve(c->dirfd, c->argv, envp);
}

static int exec_at(int dirfd, const char *path, char *const argv[],
                   char *const envp[], int flags, ct_exec_call call) {
  struct ct_where w = {dirfd, path, flags, 0};
  char name[PATH_MAX + 32];
  if (path[0] == '\0')
    snprintf(name, sizeof name, "fd %d", dirfd);
  else
    snprintf(name, sizeof name, "%s", path);
  struct fd_call c = {dirfd, path, argv, flags};
  return ct_exec_with(&w, envp, name, CT_VIA_EXEC, call, &c);
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[],
                    char *const envp[], int flags) {
  REAL(execveat);
  return exec_at(dirfd, path, argv, envp, flags, call_execveat);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  REAL(fexecve);
  return exec_at(fd, "", argv, envp, AT_EMPTY_PATH, call_fexecve);
}

// execl, execlp, execle: argv from the variadic list, on the stack.
#define COLLECT_ARGS(arg0, last, envp_out)                                     \
  size_t argc_ = 1;                                                            \
  va_list ap_;                                                                 \
  va_start(ap_, arg0);                                                         \
  while (va_arg(ap_, char *) != NULL) argc_++;                                 \
  va_end(ap_);                                                                 \
  char *argv_[argc_ + 1];                                                      \
  argv_[0] = (char *)(arg0);                                                   \
  va_start(ap_, arg0);                                                         \
  for (size_t i_ = 1; i_ <= argc_; i_++) argv_[i_] = va_arg(ap_, char *);      \
  if (last) envp_out = va_arg(ap_, char *const *);                             \
  va_end(ap_)

EXPORT int execl(const char *path, const char *arg, ...) {
  REAL(execve);
  char *const *envp = environ;
  COLLECT_ARGS(arg, 0, envp);
  return exec_path(path, argv_, envp, 0);
}

EXPORT int execle(const char *path, const char *arg, ...) {
  REAL(execve);
  char *const *envp = environ;
  COLLECT_ARGS(arg, 1, envp);
  return exec_path(path, argv_, envp, 0);
}

EXPORT int execlp(const char *file, const char *arg, ...) {
  REAL(execve);
  char *const *envp = environ;
  COLLECT_ARGS(arg, 0, envp);
  return search_exec(file, argv_, envp);
}
