// cloudtaser-supervisor: the resident parent of the app.
//
// The wrapper (Deno) fetches the secrets into the secret region, then execs
// this program in its own pid (c/shim/handover.c). What stays resident for
// the life of the pod is this small process, not a 38 MB Deno heap that may
// still hold freed copies of what it fetched.
//
//   wrapper (Deno), pid P                      cloudtaser-supervisor, pid P
//   ---------------------------------          -------------------------------
//   captureSignals(): handlers write the       signals that came before the
//     signal number into a pipe ----------+    exec are in the pipe (M) or
//   fetch secrets -> region fd N           |   still pending (blocked)
//   handOver():                            |
//     block every signal in this thread    |   main:
//     clear FD_CLOEXEC on N and M          |    1 parse args
//     supervisor bytes -> sealed memfd     |    2 dumpable 0, RLIMIT_CORE 0
//     execveat(memfd, AT_EMPTY_PATH) ======+==> 3 signalfd (mask kept)
//       argv: --region-fd N --signal-fd M       4 subreaper unless PID 1
//             --delivery D -- CMD ARGS          5 mmap region N, check magic
//       envp: the child's non-secret env        6 child envp (+ records: env)
//                                               7 fork; the app gets N only in
//                                                 interposer/fd delivery
//                                               8 close N (a mapping cannot be
//                                                 stolen with pidfd_getfd)
//                                               9 forward what the pipe holds
//                                              10 forward signals, reap zombies
//                                              11 canary check, wipe, munmap
//                                              12 exit with the app's status
//
// Phases: until the app's exec succeeds, every failure stops the start
// (non-zero exit and a message naming the call); once the app runs, the
// supervisor never dies first, it only warns.
//
// Renewal, rotation and revocation at exit: docs/refresh.md.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "cloudtaser-supervisor"

// The region layout (src/protect/region_format.ts).
#define REGION_MAGIC "CTREGN01"
#define HEADER_SIZE 48
#define CANARY_SIZE 16
#define OFF_RECORDS_OFFSET 8
#define OFF_RECORDS_LENGTH 12
#define OFF_RECORD_COUNT 16
#define OFF_DATA_SIZE 20
#define OFF_CANARY 32

#ifndef SECRETMEM_MAGIC
#define SECRETMEM_MAGIC 0x5345434d
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

enum delivery {
  DELIVERY_UNSET = -1,
  DELIVERY_ENV,
  DELIVERY_INTERPOSER,
  DELIVERY_FD,
};

// Exit code when the start fails before the app runs (as env(1) and
// container runtimes do); 126/127 stay the shell's codes for exec failures.
#define EXIT_START_FAILED 125

struct options {
  int region_fd;
  int signal_fd; // -1 when the wrapper captured nothing
  enum delivery delivery;
  char **cmd;
};

struct region {
  unsigned char *data;
  size_t size;
};

// What the app's process reports through the exec-error pipe.
enum child_step { STEP_SETPGID, STEP_TCSETPGRP, STEP_SIGNALS, STEP_FDS, STEP_EXEC };
struct child_error {
  int step;
  int err;
};

static const int forwarded[] = {SIGTERM, SIGINT,  SIGHUP,   SIGQUIT,
                                SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
#define N_FORWARDED (sizeof forwarded / sizeof forwarded[0])

// ---------------------------------------------------------------- messages

static bool log_json;

static const char *errname(int e) {
  switch (e) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case ESRCH: return "ESRCH";
  case EINTR: return "EINTR";
  case EIO: return "EIO";
  case ENXIO: return "ENXIO";
  case E2BIG: return "E2BIG";
  case ENOEXEC: return "ENOEXEC";
  case EBADF: return "EBADF";
  case ECHILD: return "ECHILD";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL";
  case EMFILE: return "EMFILE";
  case ENOTTY: return "ENOTTY";
  case ETXTBSY: return "ETXTBSY";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case ENOSYS: return "ENOSYS";
  case ELOOP: return "ELOOP";
  default: return "errno";
  }
}

static const char *signame(int sig) {
  switch (sig) {
  case SIGTERM: return "SIGTERM";
  case SIGINT: return "SIGINT";
  case SIGHUP: return "SIGHUP";
  case SIGQUIT: return "SIGQUIT";
  case SIGUSR1: return "SIGUSR1";
  case SIGUSR2: return "SIGUSR2";
  case SIGWINCH: return "SIGWINCH";
  case SIGCONT: return "SIGCONT";
  default: return "signal";
  }
}

// Appends `s` to buf as the inside of a JSON string.
static size_t json_escape(char *buf, size_t at, size_t cap, const char *s) {
  for (; *s && at + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[at++] = '\\';
      buf[at++] = (char)c;
    } else if (c < 0x20) {
      at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", c);
    } else {
      buf[at++] = (char)c;
    }
  }
  return at;
}

// One line on stderr: JSON when stderr is not a TTY, text when it is (the
// wrapper's own format, src/log.ts). Messages name calls and commands, never
// an environment value.
__attribute__((format(printf, 2, 3))) static void say(const char *level,
                                                      const char *fmt, ...) {
  char msg[1024], line[2560];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t n;
  if (log_json) {
    char when[32] = "";
    struct timespec ts = {0, 0};
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm))
      strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    n = (size_t)snprintf(line, sizeof line,
                         "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"program\":"
                         "\"" PROGRAM "\",\"pid\":%d,\"message\":\"",
                         when, ts.tv_nsec / 1000000, level, (int)getpid());
    n = json_escape(line, n, sizeof line - 3, msg);
    line[n++] = '"';
    line[n++] = '}';
  } else {
    char upper[16];
    size_t i = 0;
    for (; level[i] && i < sizeof upper - 1; i++)
      upper[i] = (char)(level[i] >= 'a' ? level[i] - 32 : level[i]);
    upper[i] = 0;
    n = (size_t)snprintf(line, sizeof line - 1, PROGRAM "[%d] %s %s",
                         (int)getpid(), upper, msg);
    if (n > sizeof line - 2) n = sizeof line - 2;
  }
  line[n++] = '\n';
  for (size_t off = 0; off < n;) {
    ssize_t w = write(STDERR_FILENO, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; // stderr gone: nothing better to do
    off += (size_t)w;
  }
}

// Reports a failed call (errno is still the call's) and returns -1.
static int fail(const char *call) {
  say("error", "%s failed: %s", call, errname(errno));
  return -1;
}

// The same once the app runs: a warning, and the supervisor carries on.
static void warn_failed(const char *call) {
  say("warning", "%s failed: %s", call, errname(errno));
}

// ------------------------------------------------------------- 1 arguments

static int parse_fd(const char *flag, const char *s, int *out) {
  char *end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : -1;
  if (!s || errno || *end || v < -1 || v > INT32_MAX) {
    say("error", "%s needs a file descriptor number", flag);
    return -1;
  }
  *out = (int)v;
  return 0;
}

static int parse_delivery(const char *s, enum delivery *out) {
  if (s && strcmp(s, "env") == 0) *out = DELIVERY_ENV;
  else if (s && strcmp(s, "interposer") == 0) *out = DELIVERY_INTERPOSER;
  else if (s && strcmp(s, "fd") == 0) *out = DELIVERY_FD;
  else {
    say("error", "--delivery must be env, interposer or fd");
    return -1;
  }
  return 0;
}

// argv: --region-fd N [--signal-fd M] --delivery env|interposer|fd -- CMD ...
static int parse_args(int argc, char **argv, struct options *o) {
  *o = (struct options){
      .region_fd = -1, .signal_fd = -1, .delivery = DELIVERY_UNSET};
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int r;
    if (strcmp(argv[i], "--region-fd") == 0)
      r = parse_fd("--region-fd", v, &o->region_fd);
    else if (strcmp(argv[i], "--signal-fd") == 0)
      r = parse_fd("--signal-fd", v, &o->signal_fd);
    else if (strcmp(argv[i], "--delivery") == 0)
      r = parse_delivery(v, &o->delivery);
    else {
      say("error", "unknown argument %s", argv[i]);
      r = -1;
    }
    if (r < 0) return -1;
  }
  if (i + 1 >= argc || o->region_fd < 0 || o->delivery == DELIVERY_UNSET) {
    say("error", "usage: " PROGRAM " --region-fd N [--signal-fd M] "
                 "--delivery env|interposer|fd -- CMD [ARGS...] (started by "
                 "cloudtaser-wrapper, not by hand)");
    return -1;
  }
  o->cmd = argv + i + 1;
  return 0;
}

// ------------------------------------------------------ 2 process hardening

// execve resets the dumpable flag, so the wrapper's PR_SET_DUMPABLE(0) is
// gone. The name: exec from a memfd would leave "memfd:cloudtase" in ps.
static int harden(void) {
  if (prctl(PR_SET_NAME, "ct-supervisor", 0, 0, 0) < 0)
    return fail("prctl(PR_SET_NAME)");
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return fail("prctl(PR_SET_DUMPABLE)");
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) < 0) return fail("setrlimit(RLIMIT_CORE)");
  return 0;
}

// --------------------------------------------------------------- 3 signals

// Keeps every signal blocked (the hand-over blocked them before the exec, so
// none was lost), except the faults, and returns a signalfd for the
// forwarded set plus SIGCHLD.
static int open_signalfd(void) {
  sigset_t all, wanted;
  sigfillset(&all);
  const int faults[] = {SIGSEGV, SIGBUS,  SIGFPE, SIGILL,
                        SIGABRT, SIGTRAP, SIGSYS};
  for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
    sigdelset(&all, faults[i]);
  if (sigprocmask(SIG_SETMASK, &all, NULL) < 0) return fail("sigprocmask");
  sigemptyset(&wanted);
  for (size_t i = 0; i < N_FORWARDED; i++) sigaddset(&wanted, forwarded[i]);
  sigaddset(&wanted, SIGCHLD);
  int fd = signalfd(-1, &wanted, SFD_CLOEXEC);
  if (fd < 0) return fail("signalfd");
  return fd;
}

// --------------------------------------------------------------- 4 reaping

// As PID 1 every orphan comes to us; elsewhere ask for them.
static int become_subreaper(void) {
  if (getpid() == 1) return 0;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return fail("prctl(PR_SET_CHILD_SUBREAPER)");
  return 0;
}

// ---------------------------------------------------------------- 5 region

static uint32_t header_u32(const struct region *r, size_t off) {
  uint32_t v;
  memcpy(&v, r->data + off, sizeof v); // little-endian host (x86_64, arm64)
  return v;
}

// memfd_secret mappings are locked by the kernel (mlock says ENOMEM); the
// memfd fallback's lock died with the wrapper's mapping and is taken again.
static void lock_region(int fd, const struct region *r) {
  struct statfs fs;
  if (fstatfs(fd, &fs) < 0) {
    warn_failed("fstatfs(region)");
  } else if (fs.f_type != SECRETMEM_MAGIC && mlock(r->data, r->size) < 0) {
    say("warning", "mlock(region) failed: %s: the secret region can be "
                   "swapped to disk", errname(errno));
  }
}

static int map_region(int fd, struct region *r) {
  struct stat st;
  if (fstat(fd, &st) < 0) return fail("fstat(region)");
  if (st.st_size < HEADER_SIZE + CANARY_SIZE || st.st_size > UINT32_MAX) {
    say("error", "region fd %d is not a secret region (size %lld)", fd,
        (long long)st.st_size);
    return -1;
  }
  struct region m = {.size = (size_t)st.st_size};
  m.data = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m.data == MAP_FAILED) return fail("mmap(region)");
  uint32_t off = header_u32(&m, OFF_RECORDS_OFFSET);
  uint32_t len = header_u32(&m, OFF_RECORDS_LENGTH);
  if (memcmp(m.data, REGION_MAGIC, 8) != 0 ||
      header_u32(&m, OFF_DATA_SIZE) != m.size || off < HEADER_SIZE ||
      (uint64_t)off + len > m.size - CANARY_SIZE) {
    // Not ours to wipe: unmap it untouched.
    say("error", "region fd %d has no valid " REGION_MAGIC " header", fd);
    if (munmap(m.data, m.size) < 0) fail("munmap(region)");
    return -1;
  }
  *r = m; // from here on, wipe_region() owns it
  if (madvise(m.data, m.size, MADV_DONTDUMP) < 0)
    return fail("madvise(MADV_DONTDUMP)");
  lock_region(fd, r);
  return 0;
}

// --------------------------------------------------------- 6 the child's env

static size_t key_length(const char *entry) {
  const char *eq = strchr(entry, '=');
  return eq ? (size_t)(eq - entry) : strlen(entry);
}

// Points `recs` at each KEY=VALUE record in place: nothing is copied out of
// the region; execve copies the strings into the app's stack.
static int list_records(const struct region *r, char **recs, size_t count) {
  char *p = (char *)r->data + header_u32(r, OFF_RECORDS_OFFSET);
  char *end = p + header_u32(r, OFF_RECORDS_LENGTH);
  size_t i = 0;
  while (p < end && i < count) {
    char *nul = memchr(p, 0, (size_t)(end - p));
    if (!nul || !strchr(p, '=') || *p == '=') break;
    recs[i++] = p;
    p = nul + 1;
  }
  if (i != count || p != end) {
    say("error", "the secret region's records are malformed (record %zu)", i);
    return -1;
  }
  return 0;
}

// Fails closed unless interposer/fd delivery names the region fd for the app.
static int check_secret_fd(const struct options *o, char *const *env,
                           size_t n) {
  if (o->delivery == DELIVERY_ENV) return 0;
  char want[48];
  snprintf(want, sizeof want, "CLOUDTASER_SECRET_FD=%d", o->region_fd);
  for (size_t i = 0; i < n; i++)
    if (strcmp(env[i], want) == 0) return 0;
  say("error", "%s delivery needs %s in the environment",
      o->delivery == DELIVERY_FD ? "fd" : "interposer", want);
  return -1;
}

// envp = this process's environ (the wrapper's buildChildEnv output, secret
// free) plus, in env delivery, every record; a record wins over an entry of
// the same name. The records are checked in every delivery.
static int build_child_env(const struct options *o, const struct region *r,
                           char ***out) {
  size_t n_env = 0, n_rec = header_u32(r, OFF_RECORD_COUNT), n = 0;
  while (environ[n_env]) n_env++;
  char **env = calloc(n_env + n_rec + 1, sizeof *env);
  if (!env) return fail("calloc(child env)");
  if (list_records(r, env + n_env, n_rec) < 0) goto fail;
  if (o->delivery != DELIVERY_ENV) n_rec = 0;
  for (size_t i = 0; i < n_env; i++) {
    size_t k = key_length(environ[i]);
    bool shadowed = false;
    for (size_t j = 0; j < n_rec && !shadowed; j++)
      shadowed = key_length(env[n_env + j]) == k &&
                 strncmp(env[n_env + j], environ[i], k) == 0;
    if (!shadowed) env[n++] = environ[i];
  }
  memmove(env + n, env + n_env, n_rec * sizeof *env);
  env[n + n_rec] = NULL;
  if (check_secret_fd(o, env, n) < 0) goto fail;
  *out = env;
  return 0;
fail:
  free(env);
  return -1;
}

// ----------------------------------------------------------------- 7 spawn

static void child_fail(int pipe_fd, enum child_step step) {
  struct child_error e = {step, errno};
  ssize_t w = write(pipe_fd, &e, sizeof e);
  (void)w; // the parent reads EOF and still sees our exit code
  _exit(e.err == ENOENT && step == STEP_EXEC ? 127 : 126);
}

// Marks every fd >= 3 close-on-exec (the exec-error pipe must live until the
// exec), except `keep`.
static int cloexec_from(unsigned first, int keep) {
  if (keep >= (int)first) {
    if (keep > (int)first &&
        syscall(SYS_close_range, first, (unsigned)keep - 1,
                CLOSE_RANGE_CLOEXEC) < 0)
      return -1;
    first = (unsigned)keep + 1;
  }
  return (int)syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC);
}

// Every signal back to SIG_DFL. The raw syscall: libc's sigaction refuses
// the real-time signals it reserves (32-34 in musl), and a SIG_IGN there,
// inherited through the wrapper, would otherwise reach the app.
static int reset_dispositions(void) {
  struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } dfl = {0};
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask) < 0)
      return -1;
  }
  return 0;
}

// In the app's process: take the terminal, restore what the app expects
// (default dispositions: Deno ignored SIGPIPE and exec keeps SIG_IGN; an
// empty mask), keep only stdio (and the region fd for interposer/fd), exec.
static void child_exec(const struct options *o, char **env, int err_fd,
                       bool take_tty) {
  if (take_tty) {
    if (setpgid(0, 0) < 0) child_fail(err_fd, STEP_SETPGID);
    // SIGTTOU is still blocked, so a background group may take the terminal.
    if (tcsetpgrp(STDIN_FILENO, getpgrp()) < 0 && errno != ENOTTY &&
        errno != ENXIO) // no terminal after all: nothing to take
      child_fail(err_fd, STEP_TCSETPGRP);
  }
  if (reset_dispositions() < 0) child_fail(err_fd, STEP_SIGNALS);
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
    child_fail(err_fd, STEP_SIGNALS);
  if (cloexec_from(3, o->delivery == DELIVERY_ENV ? -1 : o->region_fd) < 0)
    child_fail(err_fd, STEP_FDS);
  environ = env; // execvpe searches the PATH of the app's own environment
  execvpe(o->cmd[0], o->cmd, env);
  child_fail(err_fd, STEP_EXEC);
}

static const char *step_call(int step) {
  switch (step) {
  case STEP_SETPGID: return "setpgid";
  case STEP_TCSETPGRP: return "tcsetpgrp";
  case STEP_SIGNALS: return "rt_sigaction/sigprocmask";
  case STEP_FDS: return "close_range";
  default: return "exec";
  }
}

// Forks and execs the app. Returns its pid, or -1 with *status set to the
// exit code for the failure: 127 not found, 126 found but not executable (or
// any other exec error), 125 when a step before the exec failed.
static pid_t spawn(const struct options *o, char **env, bool take_tty,
                   int *status) {
  *status = EXIT_START_FAILED;
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) < 0) return fail("pipe2");
  pid_t pid = fork();
  if (pid < 0) {
    fail("fork");
    close(errp[0]);
    close(errp[1]);
    return -1;
  }
  if (pid == 0) child_exec(o, env, errp[1], take_tty);
  // The app has its copy (interposer/fd) or needs none; ours goes at once.
  if (close(o->region_fd) < 0) warn_failed("close(region fd)");
  close(errp[1]);
  struct child_error e;
  ssize_t n;
  do n = read(errp[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  close(errp[0]);
  if (n == 0) return pid; // EOF: the exec closed the pipe
  int ws;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
  if (n != sizeof e) {
    say("error", "read(exec status) failed: %s",
        n < 0 ? errname(errno) : "short read");
  } else if (e.step == STEP_EXEC) {
    say("error", "exec %s failed: %s", o->cmd[0], errname(e.err));
    *status = e.err == ENOENT ? 127 : 126;
  } else {
    say("error", "%s failed before exec %s: %s", step_call(e.step), o->cmd[0],
        errname(e.err));
  }
  return -1;
}

// --------------------------------------------- 8-10 forward, reap, wait

static void forward(pid_t child, int sig) {
  if (kill(child, sig) == 0) return;
  if (errno == ESRCH) // the app is gone and reaped: nobody left to tell
    say("info", "%s not forwarded: the app has already exited", signame(sig));
  else
    say("warning", "kill(%d, %s) failed: %s", (int)child, signame(sig),
        errname(errno));
}

static bool is_forwarded(int sig) {
  for (size_t i = 0; i < N_FORWARDED; i++)
    if (forwarded[i] == sig) return true;
  return false;
}

// The wrapper's handlers wrote each signal that came before the hand-over
// into this pipe, in order. The write end died with the exec.
static void forward_early_signals(int pipe_fd, pid_t child) {
  if (pipe_fd < 0) return;
  unsigned char buf[64];
  for (;;) {
    ssize_t n = read(pipe_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) warn_failed("read(signal pipe)");
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++)
      if (is_forwarded(buf[i])) forward(child, buf[i]);
  }
  if (close(pipe_fd) < 0) warn_failed("close(signal pipe)");
}

// Reaps every zombie, orphans included. True once `child` was among them.
static bool reap_zombies(pid_t child, int *child_status) {
  bool done = false;
  for (;;) {
    int ws;
    pid_t p = waitpid(-1, &ws, WNOHANG);
    if (p > 0) {
      if (p == child) {
        *child_status = ws;
        done = true;
      }
      continue;
    }
    if (p < 0 && errno == EINTR) continue;
    if (p < 0 && errno != ECHILD) warn_failed("waitpid");
    return done;
  }
}

// The resident loop: forward the set, reap on SIGCHLD, until the app exits.
// If the signalfd ever fails, degrade to a plain blocking wait (still
// reaping, no longer forwarding) rather than leave the app parentless.
static int supervise(int sfd, pid_t child) {
  int status = 0;
  struct signalfd_siginfo si;
  for (;;) {
    ssize_t n = read(sfd, &si, sizeof si);
    if (n < 0 && errno == EINTR) continue;
    if (n != sizeof si) {
      say("warning", "read(signalfd) failed: %s; signals are no longer "
                     "forwarded", n < 0 ? errname(errno) : "short read");
      break;
    }
    if (si.ssi_signo != SIGCHLD) forward(child, (int)si.ssi_signo);
    else if (reap_zombies(child, &status)) return status;
  }
  for (;;) {
    int ws;
    pid_t p = waitpid(-1, &ws, 0);
    if (p == child) return ws;
    if (p < 0 && errno != EINTR) {
      warn_failed("waitpid");
      return status;
    }
  }
}

// ----------------------------------------------------------------- 11 wipe

static bool canary_intact(const struct region *r) {
  const volatile unsigned char *a = r->data + OFF_CANARY;
  const volatile unsigned char *b = r->data + r->size - CANARY_SIZE;
  unsigned char d = 0;
  for (size_t i = 0; i < CANARY_SIZE; i++) d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

static void wipe_region(struct region *r) {
  if (!r->data) return;
  if (!canary_intact(r))
    say("error", "the secret region's canary is broken: something wrote past "
                 "the records");
  explicit_bzero(r->data, r->size);
  if (munmap(r->data, r->size) < 0) warn_failed("munmap(region)");
  r->data = NULL;
}

static int exit_code(int ws) {
  if (WIFEXITED(ws)) return WEXITSTATUS(ws);
  if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
  return 1;
}

// ------------------------------------------------------------------- main

int main(int argc, char **argv) {
  struct options o;
  struct region r = {0};
  char **env = NULL;
  int status = EXIT_START_FAILED;
  log_json = !isatty(STDERR_FILENO);

  if (parse_args(argc, argv, &o) < 0 || harden() < 0)
    return EXIT_START_FAILED;
  int sfd = open_signalfd();
  if (sfd < 0 || become_subreaper() < 0 || map_region(o.region_fd, &r) < 0 ||
      build_child_env(&o, &r, &env) < 0) {
    wipe_region(&r);
    return EXIT_START_FAILED;
  }
  // Hand the terminal to the app only when it is ours to give (foreground).
  bool take_tty =
      isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
  pid_t child = spawn(&o, env, take_tty, &status);
  free(env); // pointers only: the strings are the region and our environ
  if (child < 0) {
    wipe_region(&r);
    return status;
  }
  forward_early_signals(o.signal_fd, child);
  status = exit_code(supervise(sfd, child));
  wipe_region(&r);
  // Take the terminal back for whoever started us (SIGTTOU is blocked).
  if (take_tty && tcsetpgrp(STDIN_FILENO, getpgrp()) < 0 && errno != ENOTTY)
    warn_failed("tcsetpgrp");
  return status;
}
