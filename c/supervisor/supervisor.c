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
//             --delivery D -- CMD ARGS          5 map region N read-only
//       envp: the child's non-secret env          between guard pages; check
//                                                 header, canary, records;
//                                                 measure it (smaps), fail
//                                                 closed when short (region.c)
//                                               6 the app's RLIMIT_CORE (1/1
//                                                 unless the header allows
//                                                 cores)
//                                               7 child envp (+ records: env)
//                                               8 fork; the app gets N only in
//                                                 interposer/fd delivery
//                                               9 close N (a mapping cannot be
//                                                 stolen with pidfd_getfd);
//                                                 log what stays resident
//                                              10 forward what the pipe holds
//                                              11 forward signals, reap zombies
//                                              12 canary check, wipe, munmap
//                                              13 exit with the app's status
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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ct/delivery.h"
#include "ct/exit_codes.h"
#include "ct/signals.h"
#include "app.h"
#include "child.h"
#include "cycle.h"
#include "log.h"
#include "options.h"
#include "region.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

// Exit code when the start fails before the app runs (as env(1) and
// container runtimes do); 126/127 stay the shell's codes for exec failures.
#define EXIT_START_FAILED CT_EXIT_SUPERVISOR_START_FAILED

// What the app's process reports through the exec-error pipe.
enum child_step { STEP_SETPGID, STEP_TCSETPGRP, STEP_SIGNALS, STEP_FDS, STEP_EXEC };
struct child_error {
  int step;
  int err;
};

// ---------------------------------------------------------------- messages

// Only forwarded signals are ever named (ct/signals.h).
static const char *signame(int sig) {
  const char *name = ct_signal_name(sig);
  return name ? name : "signal";
}

// ------------------------------------------------------ 2 process hardening

// execve resets the dumpable flag, so the wrapper's PR_SET_DUMPABLE(0) is
// gone. The name: exec from a memfd would leave "memfd:cloudtase" in ps.
// The core limit waits for the region's flags (limit_app_cores).
// Between the exec and this call the process may be dumpable (root's: the
// wrapper's execute-only program keeps others' supervisors from it): a
// process of the same uid may attach then and would own the region fd.
// Attaching is refused from here on; one already attached is returned in
// *tracer and stops the start once the region's flags are known
// (refuse_tracer).
static int harden(int *tracer) {
  if (prctl(PR_SET_NAME, "ct-supervisor", 0, 0, 0) < 0)
    return fail("prctl(PR_SET_NAME)");
  int rc = cloudtaser_refuse_tracing(tracer);
  if (rc < 0 && rc != -EBUSY) {
    errno = -rc;
    return fail("prctl(PR_SET_DUMPABLE)");
  }
  return 0;
}

// A tracer found by harden() stops the start unless the region's flags say
// CLOUDTASER_ALLOW_TRACER (debugging: logged).
static int refuse_tracer(int tracer, uint32_t flags) {
  if (tracer <= 0) return 0;
  if (flags & CLOUDTASER_FLAG_ALLOW_TRACER) {
    say(CT_WARNING, "a tracer (pid %d) is attached to the supervisor "
                    "(CLOUDTASER_ALLOW_TRACER)", tracer);
    return 0;
  }
  say(CT_ERROR, "a tracer (pid %d) is attached to the supervisor: the app "
                "does not start", tracer);
  return -1;
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
  for (size_t i = 0; i < CT_N_FORWARDED; i++)
    sigaddset(&wanted, ct_forwarded_signals[i]);
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

// ---------------------------------------------------------- 6 core limit

// The app inherits this process's RLIMIT_CORE. Unless the region's flags
// allow cores (CLOUDTASER_APP_CORE_DUMPS), it is 1 byte, soft and hard: too
// small for any file core, and the value at which the kernel aborts a core
// for a pipe core_pattern (a crash collector such as systemd-coredump), which
// otherwise ignores the limit. The hard limit cannot be raised again without
// CAP_SYS_RESOURCE. This process itself is not dumpable either way.
static void limit_app_cores(uint32_t flags) {
  if (flags & CLOUDTASER_FLAG_APP_CORE_DUMPS) return;
  struct rlimit now;
  if (getrlimit(RLIMIT_CORE, &now) < 0) {
    warn_failed("getrlimit(RLIMIT_CORE)");
    return;
  }
  struct rlimit one = {1, 1};
  if (now.rlim_max == 0) {
    // Cannot be raised: 0 stops file cores but not pipe ones.
    say(CT_WARNING, "RLIMIT_CORE hard limit is 0 and cannot be raised to 1: "
                   "a pipe core_pattern still gets a core of the app");
  } else if (setrlimit(RLIMIT_CORE, &one) < 0) {
    warn_failed("setrlimit(RLIMIT_CORE, 1)");
  }
}

// Copies the next blank-separated word of *p into out (cap bytes).
static void word(const char **p, char *out, size_t cap) {
  *p += strspn(*p, " ");
  size_t n = strcspn(*p, " ");
  snprintf(out, cap, "%.*s", (int)n, *p);
  *p += n;
}

// The app's RLIMIT_CORE as /proc/<app>/limits shows it ("1", "unlimited").
static bool app_core_limit(pid_t app, char soft[24], char hard[24]) {
  char path[64], line[256];
  const char *key = "Max core file size";
  snprintf(path, sizeof path, "/proc/%d/limits", (int)app);
  struct line_reader f;
  if (lines_open(&f, path) < 0) return false;
  bool found = false;
  while (lines_next(&f, line, sizeof line))
    if (!found && strncmp(line, key, strlen(key)) == 0) {
      const char *p = line + strlen(key);
      word(&p, soft, 24);
      word(&p, hard, 24);
      found = soft[0] && hard[0];
    }
  return found;
}

// One line with what stays resident, measured: the region's mapping and the
// app's core limit. "checks" uses the protection score's names.
static void report_resident(const struct resident *m, pid_t app) {
  char soft[24] = "unknown", hard[24] = "unknown", fields[1024];
  bool read = app_core_limit(app, soft, hard);
  bool no_core = read && strcmp(soft, "1") == 0 && strcmp(hard, "1") == 0;
  size_t n = region_fields(m, fields, 0, sizeof fields);
  bool guards = strncmp(m->before, "---", 3) == 0 &&
                strncmp(m->after, "---", 3) == 0;
  snprintf(fields + n, sizeof fields - n,
           ",\"app\":{\"pid\":%d,\"core_soft\":\"%s\",\"core_hard\":\"%s\"},"
           "\"checks\":{\"memfd_secret\":%s,\"mlock\":%s,"
           "\"core_dump_exclusion\":%s,\"guard_pages\":%s,"
           "\"buffer_canary\":%s,\"read_only\":%s,\"app_core_limit\":%s}",
           (int)app, soft, hard,
           strncmp(m->path, "/secretmem", 10) == 0 ? "true" : "false",
           m->locked ? "true" : "false", m->dontdump ? "true" : "false",
           guards ? "true" : "false", m->canary ? "true" : "false",
           strncmp(m->perms, "r--", 3) == 0 ? "true" : "false",
           no_core ? "true" : "false");
  say_with(CT_INFO, fields, "resident: region %s %s between %s and %s; app "
                           "RLIMIT_CORE %s/%s",
           m->path, m->perms, m->before, m->after, soft, hard);
}

// --------------------------------------------------------- 7 the child's env

static size_t key_length(const char *entry) {
  const char *eq = strchr(entry, '=');
  return eq ? (size_t)(eq - entry) : strlen(entry);
}

// Fails closed unless interposer/fd delivery names the region fd for the app.
static int check_secret_fd(const struct options *o, char *const *env,
                           size_t n) {
  if (o->delivery == CT_DELIVERY_ENV) return 0;
  char want[48];
  snprintf(want, sizeof want, CLOUDTASER_FD_ENV "=%d", o->region_fd);
  for (size_t i = 0; i < n; i++)
    if (strcmp(env[i], want) == 0) return 0;
  say(CT_ERROR, "%s delivery needs %s in the environment",
      ct_delivery_name(o->delivery), want);
  return -1;
}

// envp = this process's environ (the wrapper's buildChildEnv output, secret
// free) plus, in env delivery, every record (validated by region_map),
// pointed at in place: nothing is copied out of the region; execve copies
// the strings into the app's stack. A record wins over an entry of the same
// name.
static int build_child_env(const struct options *o, const struct region *r,
                           char ***out) {
  size_t n_env = 0, n_rec = 0, n = 0;
  while (environ[n_env]) n_env++;
  if (o->delivery == CT_DELIVERY_ENV) n_rec = r->parsed.count;
  char **env = calloc(n_env + n_rec + 1, sizeof *env);
  if (!env) return fail("calloc(child env)");
  size_t cur = 0;
  cloudtaser_record rec;
  for (size_t j = 0; j < n_rec && cloudtaser_next(&r->parsed, &cur, &rec); j++)
    env[n_env + j] = (char *)rec.key; // "KEY=VALUE", NUL-terminated
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
  if (check_secret_fd(o, env, n) < 0) {
    free(env);
    return -1;
  }
  *out = env;
  return 0;
}

// ----------------------------------------------------------------- 8 spawn

static void child_fail(int pipe_fd, enum child_step step) {
  struct child_error e = {step, errno};
  ssize_t w = write(pipe_fd, &e, sizeof e);
  (void)w; // the parent reads EOF and still sees our exit code
  _exit(e.err == ENOENT && step == STEP_EXEC ? CT_EXIT_NOT_FOUND
                                             : CT_EXIT_NOT_EXECUTABLE);
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

// In the app's process: take the terminal, restore what the app expects
// (default dispositions: Deno ignored SIGPIPE and exec keeps SIG_IGN; an
// empty mask), keep only stdio (and the region fd for interposer/fd), exec.
static void child_exec(const struct options *o, char **env, int app_fd,
                       int err_fd, bool take_tty, bool own_group) {
  if (take_tty || own_group) {
    if (setpgid(0, 0) < 0) child_fail(err_fd, STEP_SETPGID);
  }
  if (take_tty) {
    // SIGTTOU is still blocked, so a background group may take the terminal.
    if (tcsetpgrp(STDIN_FILENO, getpgrp()) < 0 && errno != ENOTTY &&
        errno != ENXIO) // no terminal after all: nothing to take
      child_fail(err_fd, STEP_TCSETPGRP);
  }
  if (reset_signals() < 0) child_fail(err_fd, STEP_SIGNALS);
  // After a restart the region is a new file: the app finds it under the
  // number its CLOUDTASER_SECRET_FD names.
  if (o->delivery != CT_DELIVERY_ENV && app_fd != o->region_fd &&
      dup2(app_fd, o->region_fd) < 0)
    child_fail(err_fd, STEP_FDS);
  if (cloexec_from(3, o->delivery == CT_DELIVERY_ENV ? -1 : o->region_fd) < 0)
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
static pid_t spawn(const struct options *o, char **env, int app_fd,
                   bool take_tty, bool own_group, int *status) {
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
  if (pid == 0) child_exec(o, env, app_fd, errp[1], take_tty, own_group);
  // Before the exec too, so a signal to the group never misses the app.
  if (own_group && setpgid(pid, pid) < 0 && errno != EACCES)
    warn_failed("setpgid(app)");
  // The app has its copy (interposer/fd) or needs none; ours goes at once.
  if (close(app_fd) < 0) warn_failed("close(region fd)");
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
    say(CT_ERROR, "read(exec status) failed: %s",
        n < 0 ? errname(errno) : "short read");
  } else if (e.step == STEP_EXEC) {
    say(CT_ERROR, "exec %s failed: %s", o->cmd[0], errname(e.err));
    *status = e.err == ENOENT ? CT_EXIT_NOT_FOUND : CT_EXIT_NOT_EXECUTABLE;
  } else {
    say(CT_ERROR, "%s failed before exec %s: %s", step_call(e.step), o->cmd[0],
        errname(e.err));
  }
  return -1;
}

// -------------------------------------------- 10-11 forward, reap, wait

void forward(pid_t child, int sig) {
  if (kill(child, sig) == 0) return;
  if (errno == ESRCH) // the app is gone and reaped: nobody left to tell
    say(CT_INFO, "%s not forwarded: the app has already exited", signame(sig));
  else
    say(CT_WARNING, "kill(%d, %s) failed: %s", (int)child, signame(sig),
        errname(errno));
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
      if (ct_is_forwarded(buf[i])) forward(child, buf[i]);
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
      say(CT_WARNING, "read(signalfd) failed: %s; signals are no longer "
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

// ------------------------------------------------------------ 12-13 exit

int exit_code(int ws) {
  if (WIFEXITED(ws)) return WEXITSTATUS(ws);
  if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
  return 1;
}

// ------------------------------------------------------------------- main

// Step 5: the region, mapped, validated and measured; fails closed.
static int resident_region(int fd, struct region *r, struct resident *m) {
  if (region_map(fd, r) < 0) return -1;
  if (region_measure(r, m) < 0 || region_require(m) < 0) {
    region_wipe(r);
    return -1;
  }
  return 0;
}

pid_t start_app(const struct options *o, const struct region *r, int app_fd,
                bool take_tty, bool own_group, int *status) {
  char **env = NULL;
  *status = EXIT_START_FAILED;
  if (build_child_env(o, r, &env) < 0) return -1;
  pid_t child = spawn(o, env, app_fd, take_tty, own_group, status);
  free(env); // pointers only: the strings are the region and our environ
  return child;
}

// With refresh: the token region (mapped like the app's, its fd closed at
// once) and the program a refresh runs. Fails closed.
static int refresh_inputs(const struct options *o, struct cycle *c) {
  struct resident m;
  if (region_map(o->token_fd, &c->token) < 0) {
    say(CT_ERROR, "--token-fd %d is not a valid token region", o->token_fd);
    return -1;
  }
  if (region_measure(&c->token, &m) < 0 || region_require(&m) < 0) {
    say(CT_ERROR, "the token region is not held as the app region is");
    region_wipe(&c->token);
    return -1;
  }
  if (close(o->token_fd) < 0) warn_failed("close(--token-fd)");
  if (program_open(o, &c->prog) < 0) {
    region_wipe(&c->token);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  struct options o;
  struct region r = {0};
  struct resident m;
  struct cycle c = {.o = &o, .app = &r};
  int status = EXIT_START_FAILED;
  log_json = !isatty(STDERR_FILENO);

  int tracer = 0;
  if (parse_args(argc, argv, &o) < 0 || harden(&tracer) < 0)
    return EXIT_START_FAILED;
  int sfd = open_signalfd();
  if (sfd < 0 || become_subreaper() < 0 ||
      resident_region(o.region_fd, &r, &m) < 0)
    return EXIT_START_FAILED;
  if (refuse_tracer(tracer, r.parsed.flags) < 0) {
    region_wipe(&r);
    return EXIT_START_FAILED;
  }
  if (o.refresh && refresh_inputs(&o, &c) < 0) {
    region_wipe(&r);
    return EXIT_START_FAILED;
  }
  limit_app_cores(r.parsed.flags);
  // Hand the terminal to the app only when it is ours to give (foreground).
  bool take_tty =
      isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
  pid_t child = start_app(&o, &r, o.region_fd, take_tty, o.refresh, &status);
  if (child < 0) {
    region_wipe(&c.token);
    region_wipe(&r);
    return status;
  }
  report_resident(&m, child);
  forward_early_signals(o.signal_fd, child);
  if (o.refresh) {
    c.sfd = sfd;
    c.take_tty = take_tty;
    c.child = child;
    status = cycle_run(&c);
  } else {
    status = exit_code(supervise(sfd, child));
  }
  region_wipe(&r);
  // Take the terminal back for whoever started us (SIGTTOU is blocked).
  if (take_tty && tcsetpgrp(STDIN_FILENO, getpgrp()) < 0 && errno != ENOTTY)
    warn_failed("tcsetpgrp");
  return status;
}
