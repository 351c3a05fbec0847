// posix_spawn, posix_spawnp, system, popen and pclose, interposed for the
// same reason as the exec family (exec.c): glibc's system() and popen()
// spawn /bin/sh -c through its internal posix_spawn with `environ`, which
// in interposer delivery points at the secrets, and no PLT call is left to
// interpose. So both are re-implemented here on the interposed posix_spawn
// when the environment carries a secret, and left to glibc otherwise.
//
// Handing the child's region fd over without leaving it open anywhere else:
//   - with our own file actions (posix_spawn with none, system, popen) an
//     adddup2(fd, fd), which glibc >= 2.29 turns into "clear FD_CLOEXEC in
//     the child" (Austin Group issue 411): the parent's fd stays
//     close-on-exec;
//   - with the caller's file actions (which cannot be extended safely) the
//     fd loses FD_CLOEXEC in the parent for the duration of the call, under
//     a lock that serialises our spawns; a fork() in another thread during
//     that window closes it in the forked child (pthread_atfork). A raw
//     clone() or vfork() in another thread in that window is the one way to
//     inherit it, documented in docs/interposer.md.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interposer.h"

extern char **environ;

typedef int (*spawn_fn)(pid_t *, const char *,
                        const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[],
                        char *const[]);
typedef int (*system_fn)(const char *);
typedef FILE *(*popen_fn)(const char *, const char *);
typedef int (*pclose_fn)(FILE *);

static spawn_fn real_spawn, real_spawnp;
static system_fn real_system;
static popen_fn real_popen;
static pclose_fn real_pclose;
static int dup2_clears_cloexec; // glibc >= 2.29

static pthread_mutex_t g_spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int g_inflight = -1; // an fd without FD_CLOEXEC, or -1

static void close_inflight(void) {
  if (g_inflight >= 0) close(g_inflight);
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  memcpy(&g_spawn_lock, &fresh, sizeof fresh);
}

void ct_spawn_init(void) {
  real_spawn = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
  real_spawnp = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");
  real_system = (system_fn)dlsym(RTLD_NEXT, "system");
  real_popen = (popen_fn)dlsym(RTLD_NEXT, "popen");
  real_pclose = (pclose_fn)dlsym(RTLD_NEXT, "pclose");
  int major = 0, minor = 0;
  sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor);
  dup2_clears_cloexec = major > 2 || (major == 2 && minor >= 29);
  pthread_atfork(NULL, NULL, close_inflight);
}

struct spawn_call {
  spawn_fn fn;
  pid_t *pid;
  const char *file;
  posix_spawn_file_actions_t *own; // ours to extend, or NULL
  const posix_spawn_file_actions_t *fa;
  const posix_spawnattr_t *attr;
  char *const *argv;
};

// posix_spawn returns an error number; ct_exec_with wants -1 and errno.
static int call_spawn(void *ctx, char *const envp[], int fd) {
  struct spawn_call *c = ctx;
  int rc;
  if (fd < 0) {
    rc = c->fn(c->pid, c->file, c->fa, c->attr, c->argv, envp);
  } else if (dup2_clears_cloexec && (c->own || c->fa == NULL)) {
    posix_spawn_file_actions_t mine, *fa = c->own;
    if (fa == NULL) {
      if ((rc = posix_spawn_file_actions_init(&mine)) != 0) goto out;
      fa = &mine;
    }
    rc = posix_spawn_file_actions_adddup2(fa, fd, fd);
    if (rc == 0) rc = c->fn(c->pid, c->file, fa, c->attr, c->argv, envp);
    if (fa == &mine) posix_spawn_file_actions_destroy(&mine);
  } else {
    pthread_mutex_lock(&g_spawn_lock);
    g_inflight = fd;
    rc = fcntl(fd, F_SETFD, 0) < 0 ? errno : 0;
    if (rc == 0) rc = c->fn(c->pid, c->file, c->fa, c->attr, c->argv, envp);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    g_inflight = -1;
    pthread_mutex_unlock(&g_spawn_lock);
  }
out:
  if (rc == 0) return 0;
  errno = rc;
  return -1;
}

// The file posix_spawnp would run: the first PATH entry holding an
// executable regular file of that name (glibc's own search decides; this
// only picks what to inspect). NULL when there is none.
static const char *spawnp_target(const char *file, char *buf, size_t len) {
  if (strchr(file, '/')) return file;
  const char *path = getenv("PATH");
  if (path == NULL) path = "/bin:/usr/bin";
  size_t flen = strlen(file);
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p);
    if (dlen + 1 + flen < len) {
      memcpy(buf, p, dlen);
      if (dlen) buf[dlen++] = '/';
      memcpy(buf + dlen, file, flen + 1);
      struct stat st;
      if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
          access(buf, X_OK) == 0)
        return buf;
    }
    if (*end == '\0') return NULL;
    p = end;
  }
}

static int spawn_with(spawn_fn fn, pid_t *pid, const char *file,
                      posix_spawn_file_actions_t *own,
                      const posix_spawn_file_actions_t *fa,
                      const posix_spawnattr_t *attr, char *const argv[],
                      char *const envp[], int use_path) {
  if (fn == NULL) return ENOSYS;
  char buf[PATH_MAX];
  const char *target = use_path ? spawnp_target(file, buf, sizeof buf) : file;
  struct ct_where w = {AT_FDCWD, target, 0, 0};
  struct spawn_call c = {fn, pid, file, own, own ? own : fa, attr, argv};
  int saved = errno;
  if (ct_exec_with(&w, envp, file, CT_VIA_SPAWN, call_spawn, &c) == 0) {
    errno = saved;
    return 0;
  }
  int rc = errno;
  errno = saved;
  return rc;
}

EXPORT int posix_spawn(pid_t *pid, const char *path,
                       const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[],
                       char *const envp[]) {
  if (real_spawn == NULL) ct_spawn_init();
  return spawn_with(real_spawn, pid, path, NULL, fa, attr, argv, envp, 0);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file,
                        const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[]) {
  if (real_spawnp == NULL) ct_spawn_init();
  return spawn_with(real_spawnp, pid, file, NULL, fa, attr, argv, envp, 1);
}

// True when the environment carries a secret (only then we take over).
static int environ_has_secret(void) {
  size_t secret = 0;
  if (ct_region.map == NULL) return 0;
  if (!ct_region_ok()) return 1; // damaged: ct_exec_with refuses, says why
  ct_count(environ, &secret);
  return secret > 0;
}

// --- system ---------------------------------------------------------------

// glibc's sysdeps/posix/system.c: SIGINT and SIGQUIT ignored in the caller
// while any system() runs (counted), SIGCHLD blocked, the child with the
// caller's mask and those two signals reset; 127 << 8 when no shell ran.
static pthread_mutex_t g_system_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_system_refs;
static struct sigaction g_intr, g_quit;

static int do_system(const char *line) {
  struct sigaction ign = {.sa_handler = SIG_IGN};
  sigemptyset(&ign.sa_mask);
  pthread_mutex_lock(&g_system_lock);
  if (g_system_refs++ == 0) {
    sigaction(SIGINT, &ign, &g_intr);
    sigaction(SIGQUIT, &ign, &g_quit);
  }
  pthread_mutex_unlock(&g_system_lock);
  sigset_t chld, omask, reset;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &omask);
  sigemptyset(&reset);
  if (g_intr.sa_handler != SIG_IGN) sigaddset(&reset, SIGINT);
  if (g_quit.sa_handler != SIG_IGN) sigaddset(&reset, SIGQUIT);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &omask);
  posix_spawnattr_setsigdefault(&attr, &reset);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  char *argv[] = {"sh", "-c", "--", (char *)line, NULL};
  pid_t pid;
  int status = -1;
  int ret = spawn_with(real_spawn, &pid, "/bin/sh", NULL, NULL, &attr, argv,
                       environ, 0);
  posix_spawnattr_destroy(&attr);
  if (ret == 0) {
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
    if (w != pid) status = -1;
  } else {
    status = 127 << 8;
  }
  pthread_mutex_lock(&g_system_lock);
  if (--g_system_refs == 0) {
    sigaction(SIGINT, &g_intr, NULL);
    sigaction(SIGQUIT, &g_quit, NULL);
  }
  pthread_mutex_unlock(&g_system_lock);
  sigprocmask(SIG_SETMASK, &omask, NULL);
  if (ret != 0) errno = ret;
  return status;
}

EXPORT int system(const char *line) {
  if (real_system == NULL) ct_spawn_init();
  if (!environ_has_secret()) return real_system(line);
  if (line == NULL) return do_system("exit 0") == 0;
  return do_system(line);
}

// --- popen / pclose -------------------------------------------------------

struct piped {
  FILE *fp;
  pid_t pid;
  int fd;
  struct piped *next;
};

static pthread_mutex_t g_popen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct piped *g_piped;

EXPORT FILE *popen(const char *command, const char *mode) {
  if (real_popen == NULL) ct_spawn_init();
  if (!environ_has_secret()) return real_popen(command, mode);
  int reading = mode[0] == 'r', cloexec = strchr(mode, 'e') != NULL;
  if (!reading && mode[0] != 'w') {
    errno = EINVAL;
    return NULL;
  }
  struct piped *rec = malloc(sizeof *rec);
  int p[2];
  if (rec == NULL || pipe2(p, O_CLOEXEC) < 0) {
    free(rec);
    return NULL;
  }
  int mine = reading ? p[0] : p[1], theirs = reading ? p[1] : p[0];
  int target = reading ? STDOUT_FILENO : STDIN_FILENO;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int rc = posix_spawn_file_actions_adddup2(&fa, theirs, target);
  // POSIX: the child closes the streams of earlier popen() calls.
  pthread_mutex_lock(&g_popen_lock);
  for (struct piped *q = g_piped; q && rc == 0; q = q->next)
    if (q->fd != target) rc = posix_spawn_file_actions_addclose(&fa, q->fd);
  pthread_mutex_unlock(&g_popen_lock);
  char *argv[] = {"sh", "-c", (char *)command, NULL};
  pid_t pid;
  if (rc == 0)
    rc = spawn_with(real_spawn, &pid, "/bin/sh", &fa, NULL, NULL, argv,
                    environ, 0);
  posix_spawn_file_actions_destroy(&fa);
  close(theirs);
  FILE *fp = NULL;
  if (rc == 0 && (cloexec || fcntl(mine, F_SETFD, 0) == 0))
    fp = fdopen(mine, reading ? "r" : "w");
  if (fp == NULL) {
    int e = rc ? rc : errno;
    close(mine);
    free(rec);
    if (rc == 0) {
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    errno = e;
    return NULL;
  }
  *rec = (struct piped){fp, pid, mine, NULL};
  pthread_mutex_lock(&g_popen_lock);
  rec->next = g_piped;
  g_piped = rec;
  pthread_mutex_unlock(&g_popen_lock);
  return fp;
}

EXPORT int pclose(FILE *fp) {
  if (real_pclose == NULL) ct_spawn_init();
  pthread_mutex_lock(&g_popen_lock);
  struct piped **at = &g_piped;
  while (*at && (*at)->fp != fp) at = &(*at)->next;
  struct piped *rec = *at;
  if (rec) *at = rec->next;
  pthread_mutex_unlock(&g_popen_lock);
  if (rec == NULL) return real_pclose(fp);
  pid_t pid = rec->pid;
  free(rec);
  fclose(fp);
  int status;
  pid_t w;
  while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
  return w == pid ? status : -1;
}
