// The hand-over from the wrapper (Deno) to the resident C supervisor
// (c/supervisor/supervisor.c draws the whole sequence).
//
// ct_capture_signals() runs first thing in the wrapper: until the exec, a
// signal for the forwarded set (ct/signals.h) only lands in a pipe and a bit
// mask.
//
// The runtime would replace these handlers. Deno's signal crate installs
// its own handlers (signal-hook) for SIGHUP, SIGTERM and SIGINT, and for any
// signal something listens to, the first time anything registers a
// listener; Deno's `run` registers one for SIGUSR1 500 ms after start, to
// open the V8 inspector on 127.0.0.1:9229 (Node's behaviour). From then on
// SIGUSR1 opens a debugger and SIGTERM/SIGINT/SIGHUP kill the process
// (signal-hook calls our handler first, then Deno exits). signal-hook
// installs a handler once per signal, when it first sees it, and never
// again. So the wrapper registers a listener for every captured signal
// first thing (ffi/handover.ts), which makes signal-hook install its
// handlers now, and then ct_claim_signals() puts ours back over them: every
// later registration finds the signal known and leaves sigaction alone.
// That holds for `deno run` and a compiled binary alike, whenever the runtime
// registers. ct_foreign_signals() tells whether anything replaced a handler
// since, so the wrapper can check before it trusts the state.
//
// ct_hand_over() then execs the supervisor in the same pid with every
// signal blocked in the calling thread: a signal taken by another thread
// before the exec is in the pipe, one that comes during or after it stays
// pending across the exec; the supervisor reads both. Once the signals are
// blocked it looks at the mask once more: a signal the caller names as
// stopping the start (SIGTERM, SIGINT, SIGQUIT for `run`) that came before
// that instant stops the hand-over, so it never reaches an app that was
// not yet started; one that comes after it goes to the app.
//
// Known window: a signal the kernel has handed to another Deno thread but
// whose handler has not yet run its write() when execve kills that thread is
// lost. It is a few instructions wide; closing it needs every thread to block
// the signals, which Deno's threads do not.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cloudtaser.h"
#include "ct/delivery.h"
#include "ct/shim_steps.h"
#include "ct/signals.h"

#include "exports.h"

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

// What the supervisor needs for refresh (docs/refresh.md "Hand-over"), all
// absent (token_size 0) when nothing resident needs the token.
struct refresh_fds {
  const uint8_t *token; // the token region's data pages
  uint64_t token_size;
  int token_memfd; // its backing is the memfd fallback
  int config_fd, program_fd, args_fd;
};

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_seen; // bit n: signal n arrived
// Wakes ct_wait_signals: a signal arrived, or ct_wake_signals. Only the
// waiter reads it (the pipe goes to the supervisor at the hand-over).
static int sig_wake = -1;

static void wake(void) {
  uint64_t one = 1;
  ssize_t w = write(sig_wake, &one, sizeof one);
  (void)w;
}

// Async-signal-safe only: an atomic OR and two write(2)s. A full pipe drops
// the byte; the mask still records the signal.
static void on_signal(int sig) {
  int saved = errno;
  __atomic_fetch_or(&sig_seen, 1 << sig, __ATOMIC_SEQ_CST);
  unsigned char b = (unsigned char)sig;
  ssize_t w = write(sig_pipe[1], &b, 1);
  (void)w;
  wake();
  errno = saved;
}

// Installs our handler for every captured signal, whatever is there now.
// Returns a mask of the signals whose handler was another one (bit n =
// signal n), or -errno.
static int install_handlers(void) {
  struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < CT_N_FORWARDED; i++)
    sigaddset(&sa.sa_mask, ct_forwarded_signals[i]);
  int replaced = 0;
  for (size_t i = 0; i < CT_N_FORWARDED; i++) {
    int sig = ct_forwarded_signals[i];
    struct sigaction old;
    if (sigaction(sig, &sa, &old) < 0) return -errno;
    if (old.sa_handler != on_signal) replaced |= 1 << sig;
  }
  return replaced;
}

// Installs the handlers (idempotent). Returns 0 or -errno.
EXPORT int ct_capture_signals(void) {
  if (sig_pipe[0] >= 0) return 0;
  sig_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sig_wake < 0) return -errno;
  if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  int r = install_handlers();
  return r < 0 ? r : 0;
}

// Puts our handlers back over whatever replaced them. Returns the mask of
// the signals that had another handler, or -errno.
EXPORT int ct_claim_signals(void) {
  if (sig_pipe[0] < 0) return -EINVAL; // ct_capture_signals first
  return install_handlers();
}

// The captured signals whose handler is no longer ours, as a mask; -errno.
EXPORT int ct_foreign_signals(void) {
  int foreign = 0;
  for (size_t i = 0; i < CT_N_FORWARDED; i++) {
    int sig = ct_forwarded_signals[i];
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) < 0) return -errno;
    if (cur.sa_handler != on_signal) foreign |= 1 << sig;
  }
  return foreign;
}

// The captured signals as a bit mask (bit n = signal n).
EXPORT int ct_pending_signals(void) { return (int)sig_seen; }

// Blocks until a captured signal arrives or ct_wake_signals is called, then
// returns the mask as ct_pending_signals. Runs on one of Deno's blocking
// threads (a nonblocking symbol): the start waits for a stop signal
// without waking up every few milliseconds (200 starts at once spent most
// of their CPU in a 25 ms poll, measured). -errno when nothing is captured.
EXPORT int ct_wait_signals(void) {
  if (sig_wake < 0) return -EINVAL;
  struct pollfd p = {.fd = sig_wake, .events = POLLIN};
  while (poll(&p, 1, -1) < 0) {
    if (errno != EINTR) return -errno;
  }
  uint64_t n;
  ssize_t r = read(sig_wake, &n, sizeof n);
  (void)r;
  return (int)sig_seen;
}

// Makes a ct_wait_signals in flight (or the next one) return.
EXPORT int ct_wake_signals(void) {
  if (sig_wake < 0) return -EINVAL;
  wake();
  return 0;
}

// Splits `len` bytes of NUL-terminated strings into a NULL-ended array of
// pointers into `buf`, after `lead` slots left for the caller.
static char **split(const char *buf, uint64_t len, size_t lead) {
  if (len > 0 && buf[len - 1] != 0) return NULL;
  size_t n = 0;
  for (uint64_t i = 0; i < len; i++) n += buf[i] == 0;
  char **v = calloc(lead + n + 1, sizeof *v);
  if (!v) return NULL;
  for (uint64_t i = 0, k = lead; i < len; k++) {
    v[k] = (char *)buf + i;
    i += strlen(buf + i) + 1;
  }
  return v;
}

// A sealed memfd holding `len` bytes: the supervisor's program (`exec`),
// or the configuration and program arguments a refresh is handed.
static int memfd_with(const char *name, const uint8_t *bytes, uint64_t len,
                      bool exec, int *step) {
  unsigned base = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  *step = CT_STEP_MEMFD;
  int fd = memfd_create(name, base | (exec ? MFD_EXEC : MFD_NOEXEC_SEAL));
  if (fd < 0 && errno == EINVAL) // kernels before 6.3 know neither flag
    fd = memfd_create(name, base);
  if (fd < 0) return -errno;
  *step = CT_STEP_WRITE;
  for (uint64_t off = 0; off < len;) {
    ssize_t n = write(fd, bytes + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) goto fail;
    off += (uint64_t)n;
  }
  // The program is execute-only: an exec whose file its caller cannot read
  // leaves the new image non-dumpable from its first instruction (the
  // kernel's would_dump), where it would otherwise be dumpable, and so open
  // to ptrace by any process of its uid, until the supervisor's own
  // PR_SET_DUMPABLE(0). It holds the region fd from that instruction on.
  // (Root reads it anyway through CAP_DAC_READ_SEARCH; the supervisor's
  // tracer check covers that.) The refresh inputs stay readable: a refresh
  // process reads them.
  *step = CT_STEP_SEAL;
  if (exec && fchmod(fd, 0111) < 0) goto fail;
  // nobody may change the program once it is checked in
  int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
  if (fcntl(fd, F_ADD_SEALS, seals) < 0)
    goto fail;
  return fd;
fail:;
  int e = errno ? errno : EIO;
  close(fd);
  return -e;
}

static int set_cloexec(int fd, int on) {
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0) return -1;
  return fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
}

// Blocks signals, lets the two fds survive, execs. Returns only on failure,
// with everything restored; -ECANCELED when a signal in `stop_mask` has
// arrived by the time the signals are blocked.
// The region's copy for the supervisor: a mapping does not survive exec, an
// fd does. It is made here, with every signal blocked, right before the
// exec, so no fd to the secrets exists before this instant (an open fd can
// be stolen with pidfd_getfd; the wrapper's own region has had none since
// it was mapped). Pages are mapped one at a time: memfd_secret pages count
// against RLIMIT_MEMLOCK, and the wrapper's region already does.
static int copy_region(const uint8_t *src, uint64_t size, int memfd,
                       int *step) {
  long page = sysconf(_SC_PAGESIZE);
  *step = CT_STEP_REGION;
  int fd = memfd ? memfd_create("cloudtaser-secrets", MFD_CLOEXEC)
                 : (int)syscall(SYS_memfd_secret, O_CLOEXEC);
  if (fd < 0) return -errno;
  *step = CT_STEP_REGION_SIZE;
  if (ftruncate(fd, (off_t)size) < 0) goto fail;
  *step = CT_STEP_REGION_MAP;
  for (uint64_t off = 0; off < size; off += (uint64_t)page) {
    void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   (off_t)off);
    if (p == MAP_FAILED) goto fail;
    memcpy(p, src + off, (size_t)page);
    munmap(p, (size_t)page);
  }
  return fd;
fail:;
  int e = errno;
  close(fd); // pages of a closed memfd_secret are zeroed as they are freed
  return -e;
}

// Zeroes the copy page by page and closes it (a failed exec: the memfd
// fallback's pages are not zeroed when freed).
static void drop_region(int fd, uint64_t size) {
  long page = sysconf(_SC_PAGESIZE);
  for (uint64_t off = 0; off < size; off += (uint64_t)page) {
    void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   (off_t)off);
    if (p == MAP_FAILED) break;
    explicit_bzero(p, (size_t)page);
    munmap(p, (size_t)page);
  }
  close(fd);
}

// Blocks signals, makes the region's copy, lets it and the signal pipe
// survive, execs. Returns only on failure, with everything restored and the
// copy zeroed and closed. `argv[2]` and, for interposer/fd delivery,
// `*secret_fd_env` are filled with the copy's fd number.
static int exec_blocked(int exe_fd, const uint8_t *region, uint64_t size,
                        int memfd, struct refresh_fds *rf, char **argv,
                        char **secret_fd_env, char **envp, int stop_mask,
                        int *step) {
  static char region_arg[16], token_arg[16], env_entry[48];
  sigset_t all, old;
  sigfillset(&all);
  *step = CT_STEP_SIGMASK;
  int e = pthread_sigmask(SIG_SETMASK, &all, &old);
  if (e) return -e;
  if (__atomic_load_n(&sig_seen, __ATOMIC_SEQ_CST) & stop_mask) {
    *step = CT_STEP_STOPPED;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -ECANCELED;
  }
  int fd = copy_region(region, size, memfd, step);
  if (fd < 0) {
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return fd;
  }
  snprintf(region_arg, sizeof region_arg, "%d", fd);
  argv[2] = region_arg;
  int tfd = -1;
  if (rf->token_size) {
    tfd = copy_region(rf->token, rf->token_size, rf->token_memfd, step);
    if (tfd < 0) {
      drop_region(fd, size);
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      return tfd;
    }
    snprintf(token_arg, sizeof token_arg, "%d", tfd);
    argv[8] = token_arg; // after the lead's 7 words and "--token-fd"
  }
  if (secret_fd_env) {
    snprintf(env_entry, sizeof env_entry, CLOUDTASER_FD_ENV "=%d", fd);
    *secret_fd_env = env_entry;
  }
  *step = CT_STEP_CLOEXEC;
  if (set_cloexec(fd, 0) == 0 && set_cloexec(sig_pipe[0], 0) == 0 &&
      (tfd < 0 || (set_cloexec(tfd, 0) == 0 &&
                   set_cloexec(rf->config_fd, 0) == 0 &&
                   set_cloexec(rf->program_fd, 0) == 0 &&
                   set_cloexec(rf->args_fd, 0) == 0))) {
    *step = CT_STEP_EXEC;
    syscall(SYS_execveat, exe_fd, "", argv, envp, AT_EMPTY_PATH);
  }
  e = errno;
  drop_region(fd, size);
  if (tfd >= 0) drop_region(tfd, rf->token_size);
  set_cloexec(sig_pipe[0], 1);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return -e;
}

// Counts the NUL-terminated strings in `len` bytes; -1 when malformed.
static long count_strings(const char *buf, uint64_t len) {
  if (len > 0 && buf[len - 1] != 0) return -1;
  long n = 0;
  for (uint64_t i = 0; i < len; i++) n += buf[i] == 0;
  return n;
}

// The fds a refresh needs that hold nothing secret, made before the exec:
// the sealed configuration and program-argument memfds and the program.
// Returns 0 or -errno (*step names the call); closes what it made on
// failure.
static int open_refresh_fds(struct refresh_fds *rf, const uint8_t *config,
                            uint64_t config_len, const uint8_t *prog_args,
                            uint64_t prog_args_len, int *step) {
  rf->config_fd = rf->program_fd = rf->args_fd = -1;
  int r = memfd_with("cloudtaser-config", config, config_len, false, step);
  if (r < 0) return r;
  rf->config_fd = r;
  r = memfd_with("cloudtaser-program-args", prog_args, prog_args_len, false,
                 step);
  if (r < 0) goto fail;
  rf->args_fd = r;
  // The program by fd, opened before the app exists: a refresh never
  // execs a path the app could have replaced (docs/refresh.md).
  *step = CT_STEP_PROGRAM;
  r = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (r < 0) {
    r = -errno;
    goto fail;
  }
  rf->program_fd = r;
  return 0;
fail:
  if (rf->config_fd >= 0) close(rf->config_fd);
  if (rf->args_fd >= 0) close(rf->args_fd);
  rf->config_fd = rf->args_fd = -1;
  return r;
}

// Execs the supervisor (its bytes in `exe`) in this pid:
//   cloudtaser-supervisor --region-fd N --signal-fd M --delivery D
//       [--token-fd T --config-fd C --program-fd P --program-args A EXTRA...]
//       -- ARGS
// with `env` (both NUL-separated string lists) as its environment, plus
// CLOUDTASER_SECRET_FD=N in interposer/fd delivery. N is a copy of the
// region (`size` bytes at `region`; memfd_secret, or memfd_create when
// `memfd`), made just before the exec. When `token_size` is not 0 the
// token region (`token`, `token_size`, `token_memfd` as for the region) is
// copied the same way into T, and C, P, A are the sealed configuration
// memfd, the wrapper's program and the sealed program-argument memfd
// (docs/refresh.md "Hand-over"); EXTRA (NUL-separated) are the --state,
// --due-ms and policy arguments. A signal in `stop_mask` (bit n = signal n)
// captured before the signals are blocked cancels it. Returns only on
// failure: -errno, and *step names the call (enum ct_shim_step).
EXPORT int ct_hand_over(const uint8_t *exe, uint64_t exe_len, uint64_t region,
                        uint64_t size, int memfd, const char *delivery,
                        const char *args, uint64_t args_len, const char *env,
                        uint64_t env_len, int32_t stop_mask, uint64_t token,
                        uint64_t token_size, int token_memfd,
                        const uint8_t *config, uint64_t config_len,
                        const uint8_t *prog_args, uint64_t prog_args_len,
                        const char *extra, uint64_t extra_len,
                        int32_t *step) {
  *step = CT_STEP_ARGS;
  enum ct_delivery how = ct_delivery_parse(delivery);
  bool env_delivery = how == CT_DELIVERY_ENV;
  long page = sysconf(_SC_PAGESIZE);
  long n_extra = count_strings(extra, extra_len);
  if (region == 0 || size == 0 || size % (uint64_t)page != 0 ||
      args_len == 0 || exe_len == 0 || how == CT_DELIVERY_UNSET ||
      n_extra < 0 || token_size % (uint64_t)page != 0 ||
      (token_size && (token == 0 || prog_args_len == 0)))
    return -EINVAL;
  int r = ct_capture_signals();
  if (r < 0) return r;
  struct refresh_fds rf = {.token = (const uint8_t *)(uintptr_t)token,
                           .token_size = token_size,
                           .token_memfd = token_memfd,
                           .config_fd = -1,
                           .program_fd = -1,
                           .args_fd = -1};
  size_t lead_n = 7 + (token_size ? 8 + (size_t)n_extra : 0) + 1;
  char pipe_fd[16], config_arg[16], program_arg[16], args_arg[16];
  snprintf(pipe_fd, sizeof pipe_fd, "%d", sig_pipe[0]);
  char **argv = split(args, args_len, lead_n);
  char **extras = token_size ? split(extra, extra_len, 0) : NULL;
  // One slot more for CLOUDTASER_SECRET_FD (split leaves the first empty).
  char **envp = split(env, env_len, 1);
  if (!argv || !envp || (token_size && !extras)) {
    free(argv);
    free(envp);
    free(extras);
    return -EINVAL;
  }
  if (token_size) {
    r = open_refresh_fds(&rf, config, config_len, prog_args, prog_args_len,
                         step);
    if (r < 0) {
      free(argv);
      free(envp);
      free(extras);
      return r;
    }
    snprintf(config_arg, sizeof config_arg, "%d", rf.config_fd);
    snprintf(program_arg, sizeof program_arg, "%d", rf.program_fd);
    snprintf(args_arg, sizeof args_arg, "%d", rf.args_fd);
  }
  const char *lead[7] = {"cloudtaser-supervisor", "--region-fd", "",
                         "--signal-fd", pipe_fd, "--delivery", delivery};
  memcpy(argv, lead, sizeof lead);
  size_t k = 7;
  if (token_size) {
    // argv[8] (the token fd) is filled in with the copy, signals blocked.
    const char *more[8] = {"--token-fd",   "",          "--config-fd",
                           config_arg,     "--program-fd", program_arg,
                           "--program-args", args_arg};
    memcpy(argv + k, more, sizeof more);
    k += 8;
    for (long i = 0; i < n_extra; i++) argv[k++] = extras[i];
  }
  argv[k] = "--";
  // env delivery: the first slot is dropped, the list starts after it.
  char **env_list = env_delivery ? envp + 1 : envp;
  int fd = memfd_with("cloudtaser-supervisor", exe, exe_len, true, step);
  r = fd < 0 ? fd
             : exec_blocked(fd, (const uint8_t *)(uintptr_t)region, size,
                            memfd, &rf, argv, env_delivery ? NULL : &envp[0],
                            env_list, stop_mask, step);
  if (fd >= 0) close(fd);
  if (rf.config_fd >= 0) close(rf.config_fd);
  if (rf.args_fd >= 0) close(rf.args_fd);
  if (rf.program_fd >= 0) close(rf.program_fd);
  free(argv);
  free(envp);
  free(extras);
  return r;
}
