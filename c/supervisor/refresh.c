// One refresh process (refresh.h).
#define _GNU_SOURCE
#include "refresh.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif
#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

// The most bytes of --program-args read (a command line is far shorter).
#define MAX_PROGRAM_ARGS 65536
// A refresh's argv after the program's own words: the mode, the op, the
// state and the six fds, NULL.
#define N_REFRESH_WORDS (1 + 2 + 2 + 12 + 1)

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool sealed(int fd) {
  int seals = fcntl(fd, F_GET_SEALS);
  int need = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
  return seals >= 0 && (seals & need) == need;
}

static int read_args(int fd, struct refresh_program *p) {
  struct stat st;
  if (fstat(fd, &st) < 0) return fail("fstat(--program-args)");
  if (!sealed(fd) || st.st_size <= 0 || st.st_size > MAX_PROGRAM_ARGS) {
    say(CT_ERROR, "--program-args fd %d is not a sealed memfd of 1 to %d "
                 "bytes", fd, MAX_PROGRAM_ARGS);
    return -1;
  }
  size_t n = (size_t)st.st_size;
  p->args_buf = calloc(1, n + 1);
  if (!p->args_buf) return fail("calloc(program args)");
  for (size_t off = 0; off < n;) {
    ssize_t r = pread(fd, p->args_buf + off, n - off, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return fail("pread(--program-args)");
    off += (size_t)r;
  }
  size_t words = 0;
  for (size_t i = 0; i < n; i++)
    if (p->args_buf[i] == 0 || i + 1 == n) words++;
  p->args = calloc(words + N_REFRESH_WORDS, sizeof *p->args);
  if (!p->args) return fail("calloc(program args)");
  for (size_t i = 0; i < n; i += strlen(p->args_buf + i) + 1)
    p->args[p->n_args++] = p->args_buf + i;
  if (p->n_args == 0 || p->args[0][0] == 0) {
    say(CT_ERROR, "--program-args fd %d has no program name", fd);
    return -1;
  }
  return 0;
}

int program_open(const struct options *o, struct refresh_program *p) {
  memset(p, 0, sizeof *p);
  p->fd = o->program_fd;
  if (fstat(p->fd, &p->at_start) < 0) return fail("fstat(--program-fd)");
  if (!S_ISREG(p->at_start.st_mode)) {
    say(CT_ERROR, "--program-fd %d is not a regular file", p->fd);
    return -1;
  }
  if (fcntl(p->fd, F_SETFD, FD_CLOEXEC) < 0)
    return fail("fcntl(--program-fd, FD_CLOEXEC)");
  if (!sealed(o->config_fd)) {
    say(CT_ERROR, "--config-fd %d is not a sealed memfd", o->config_fd);
    return -1;
  }
  if (fcntl(o->config_fd, F_SETFD, FD_CLOEXEC) < 0)
    return fail("fcntl(--config-fd, FD_CLOEXEC)");
  if (read_args(o->program_args_fd, p) < 0) return -1;
  if (close(o->program_args_fd) < 0) warn_failed("close(--program-args)");
  if (o->deno_dir) {
    size_t n = strlen("DENO_DIR=") + strlen(o->deno_dir) + 1;
    if (!(p->deno_dir_env = malloc(n))) return fail("malloc(--deno-dir)");
    snprintf(p->deno_dir_env, n, "DENO_DIR=%s", o->deno_dir);
  }
  return 0;
}

bool program_unchanged(const struct refresh_program *p) {
  struct stat now;
  if (fstat(p->fd, &now) < 0) {
    warn_failed("fstat(--program-fd)");
    return false;
  }
  const struct stat *was = &p->at_start;
  if (now.st_size == was->st_size &&
      now.st_mtim.tv_sec == was->st_mtim.tv_sec &&
      now.st_mtim.tv_nsec == was->st_mtim.tv_nsec &&
      now.st_ctim.tv_sec == was->st_ctim.tv_sec &&
      now.st_ctim.tv_nsec == was->st_ctim.tv_nsec)
    return true;
  say(CT_ERROR, "the refresh program (fd %d) changed since start (size, "
               "mtime or ctime): it is not run; the app keeps its values",
      p->fd);
  return false;
}

// A new, empty region file: memfd_secret, or a memfd where the kernel has
// none (logged once).
static int secret_file(void) {
  int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
  if (fd >= 0 || errno != ENOSYS) return fd;
  static bool said;
  if (!said)
    say(CT_WARNING, "memfd_secret unavailable (ENOSYS): refresh copies are "
                   "memfd files");
  said = true;
  return memfd_create("cloudtaser-refresh", MFD_CLOEXEC);
}

// A fresh region file holding a copy of r.
static int copy_of(const struct region *r, const char *what) {
  int fd = secret_file();
  if (fd < 0) {
    say(CT_ERROR, "memfd_secret(%s copy) failed: %s", what, errname(errno));
    return -1;
  }
  void *m = MAP_FAILED;
  if (ftruncate(fd, (off_t)r->size) == 0)
    m = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    say(CT_ERROR, "ftruncate/mmap(%s copy) failed: %s", what, errname(errno));
    close(fd);
    return -1;
  }
  memcpy(m, r->data, r->size);
  munmap(m, r->size);
  return fd;
}

static void close_if(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// In the refresh process: fds 3..8 as docs/refresh.md lists them, the
// program at 9 (close-on-exec: execveat needs it until the exec), nothing
// else; stdin /dev/null; default signals; PATH only, and DENO_DIR when
// --deno-dir gave the layout's (Deno's caches are code the refresh runs:
// without it Deno would look under the passwd home, which the app can
// write).
static void refresh_child(const int src[7], char **argv,
                          char *deno_dir_env) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  int tmp[7];
  for (int i = 0; i < 7; i++)
    if ((tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10)) < 0) _exit(126);
  for (int i = 0; i < 6; i++)
    if (dup2(tmp[i], CT_RFD_TOKEN + i) < 0) _exit(126);
  if (dup3(tmp[6], 9, O_CLOEXEC) < 0) _exit(126);
  int null = open("/dev/null", O_RDONLY);
  if (null >= 0 && null != 0) {
    dup2(null, 0);
    close(null);
  }
  if (syscall(SYS_close_range, 10u, ~0U, 0) < 0) _exit(126);
  if (reset_signals() < 0) _exit(126);
  char *envp[] = {CT_REFRESH_PATH, deno_dir_env, NULL};
  syscall(SYS_execveat, 9, "", argv, envp, AT_EMPTY_PATH);
  _exit(errno == ENOENT ? 127 : 126);
}

int refresh_start(struct refresh_run *run, const struct refresh_program *p,
                  const char *op, const char *state,
                  const struct region *token, const struct region *app,
                  int config_fd, uint64_t deadline) {
  memset(run, 0, sizeof *run);
  run->report_fd = run->out_token_fd = run->out_app_fd = -1;
  if (!program_unchanged(p)) return -1;
  int tok = copy_of(token, "token region");
  int appc = tok < 0 ? -1 : copy_of(app, "app region");
  int pipe_fds[2] = {-1, -1};
  run->out_token_fd = appc < 0 ? -1 : secret_file();
  run->out_app_fd = run->out_token_fd < 0 ? -1 : secret_file();
  bool ok = run->out_app_fd >= 0 && pipe2(pipe_fds, O_CLOEXEC) == 0;
  if (!ok && run->out_app_fd >= 0) warn_failed("pipe2(report)");
  if (ok && lseek(config_fd, 0, SEEK_SET) < 0) {
    warn_failed("lseek(--config-fd)");
    ok = false;
  }
  char fdnum[6][4];
  static const char *const flags[6] = {
#define CT__RFD_FLAG(id, fd, flag) flag,
      CT_REFRESH_FDS(CT__RFD_FLAG)
#undef CT__RFD_FLAG
  };
  char **argv = p->args;
  size_t n = p->n_args;
  argv[n++] = CT_REFRESH_MODE;
  argv[n++] = "--op";
  argv[n++] = (char *)op;
  argv[n++] = "--state";
  argv[n++] = (char *)state;
  for (int i = 0; i < 6; i++) {
    snprintf(fdnum[i], sizeof fdnum[i], "%d", CT_RFD_TOKEN + i);
    argv[n++] = (char *)flags[i];
    argv[n++] = fdnum[i];
  }
  argv[n] = NULL;
  pid_t pid = ok ? fork() : -1;
  if (ok && pid < 0) warn_failed("fork(refresh)");
  if (pid == 0) {
    int src[7] = {tok,       appc,         run->out_token_fd, run->out_app_fd,
                  config_fd, pipe_fds[1], p->fd};
    refresh_child(src, argv, p->deno_dir_env);
  }
  argv[p->n_args] = NULL;
  close_if(&tok);
  close_if(&appc);
  close_if(&pipe_fds[1]);
  if (pid < 0) {
    close_if(&pipe_fds[0]);
    refresh_clear(run);
    return -1;
  }
  fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  run->pid = pid;
  run->op = op;
  run->report_fd = pipe_fds[0];
  run->deadline = deadline;
  return 0;
}

void refresh_read(struct refresh_run *run) {
  char scratch[512];
  while (run->report_fd >= 0) {
    char *to = run->len < CT_REPORT_MAX ? run->buf + run->len : scratch;
    size_t room = run->len < CT_REPORT_MAX ? CT_REPORT_MAX - run->len
                                           : sizeof scratch;
    ssize_t r = read(run->report_fd, to, room);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) {
      close_if(&run->report_fd);
      return;
    }
    if (to == scratch) run->overflow = true;
    else run->len += (size_t)r;
  }
}

static bool parse_num(const char *v, long *out) {
  char *end;
  errno = 0;
  long n = *v >= '0' && *v <= '9' ? strtol(v, &end, 10) : -1;
  if (n < 0 || errno || *end || n > 86400000L) return false;
  *out = n;
  return true;
}

// One KEY=VALUE line; false when a known key has a bad value.
static bool report_line(char *line, struct report *r, bool *has_status) {
  char *eq = strchr(line, '=');
  if (!eq) return true; // not a KEY=VALUE line: ignored
  *eq = 0;
  const char *k = line, *v = eq + 1;
  static const char *const keys[CT_REPORT_N_KEYS] = {
#define CT__REPORT_KEY(id, key) key,
      CT_REPORT_KEYS(CT__REPORT_KEY)
#undef CT__REPORT_KEY
  };
  int which = -1;
  for (int i = 0; i < CT_REPORT_N_KEYS; i++)
    if (strcmp(k, keys[i]) == 0) which = i;
  switch (which) {
  case CT_REPORT_STATUS:
    *has_status = strcmp(v, "ok") == 0 || strcmp(v, "failed") == 0;
    r->ok = strcmp(v, "ok") == 0;
    return *has_status;
  case CT_REPORT_TOKEN:
    if (strcmp(v, "same") == 0) r->token = TOKEN_SAME;
    else if (strcmp(v, "changed") == 0) r->token = TOKEN_CHANGED;
    else if (strcmp(v, "revoked") == 0) r->token = TOKEN_REVOKED;
    else return false;
    return true;
  case CT_REPORT_APP:
    r->app_changed = strcmp(v, "changed") == 0;
    return r->app_changed || strcmp(v, "same") == 0;
  case CT_REPORT_APPLY_IN_MS:
    return parse_num(v, &r->apply_in_ms);
  case CT_REPORT_DUE_MS:
    return (r->has_due = parse_num(v, &r->due_ms));
  case CT_REPORT_STATE:
    if (!state_valid(v, strlen(v))) return false;
    snprintf(r->state, sizeof r->state, "%s", v);
    return (r->has_state = true);
  case CT_REPORT_MESSAGE:
    snprintf(r->message, sizeof r->message, "%s", v);
    return true;
  default:
    return true; // unknown keys are ignored
  }
}

static void failed(struct report *r, const char *why) {
  r->ok = false;
  r->app_changed = false;
  if (r->token == TOKEN_CHANGED) r->token = TOKEN_SAME;
  if (!r->message[0]) snprintf(r->message, sizeof r->message, "%s", why);
}

void refresh_report(const struct refresh_run *run, struct report *r) {
  memset(r, 0, sizeof *r);
  char buf[CT_REPORT_MAX + 1];
  memcpy(buf, run->buf, run->len);
  buf[run->len] = 0;
  bool has_status = false, valid = true;
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    valid &= report_line(line, r, &has_status);
    line = nl ? nl + 1 : NULL;
  }
  char why[96];
  if (run->killed) failed(r, "killed past --refresh-timeout-ms");
  else if (!WIFEXITED(run->ws) || WEXITSTATUS(run->ws) != 0) {
    if (WIFSIGNALED(run->ws))
      snprintf(why, sizeof why, "the refresh process died of signal %d",
               WTERMSIG(run->ws));
    else
      snprintf(why, sizeof why, "the refresh process exited %d",
               WEXITSTATUS(run->ws));
    failed(r, why);
  } else if (run->overflow)
    failed(r, "the report is longer than its limit");
  else if (!valid || !has_status)
    failed(r, "the report has no valid status or a bad value");
}

void refresh_stop_reading(struct refresh_run *run) {
  if (run->report_fd < 0) return;
  say(CT_WARNING, "refresh %s: its report pipe is still open after it "
                  "exited (past the deadline): read no further", run->op);
  close_if(&run->report_fd);
}

void refresh_clear(struct refresh_run *run) {
  close_if(&run->report_fd);
  close_if(&run->out_token_fd);
  close_if(&run->out_app_fd);
  run->pid = 0;
}
