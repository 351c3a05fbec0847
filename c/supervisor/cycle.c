// The resident loop with refresh (cycle.h, docs/refresh.md).
//
//   poll: signalfd | timerfd | report pipe
//     signal   forward to the app; held while a restart has it down
//     SIGCHLD  reap: the app, the refresh process, orphans
//     timer    one timerfd armed at the earliest of: the next refresh, the
//              running refresh's deadline, a pending change's apply time,
//              a restart's kill timeout
//     pipe     the report, up to CT_REPORT_MAX bytes
#define _GNU_SOURCE
#include "cycle.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "ct/signals.h"
#include "log.h"

#define MAX_HELD 32
#define FIRST_RETRY_MS 1000
// How long a restart waits for the SIGKILLed group to be gone.
#define GROUP_GONE_MS 5000

struct pending {
  bool set;
  struct region r;
  int fd;
  uint64_t at;
};

struct loop {
  struct cycle *c;
  int tfd;
  struct refresh_run run;
  char state[CT_STATE_MAX];
  uint64_t due_at; // 0: none
  long last_due_ms;
  struct pending pending;
  bool stopping, group_killed, terminate;
  uint64_t kill_at;
  int held[MAX_HELD];
  size_t n_held;
  bool app_done;
  int app_ws;
  bool token_revoked;
  unsigned refreshes;
};

static const char *sig_name(int sig) {
  const char *n = ct_signal_name(sig);
  return n ? n : sig == SIGKILL ? "SIGKILL" : "signal";
}

static void schedule(struct loop *L, long due_ms) {
  L->last_due_ms = due_ms;
  L->due_at = due_ms > 0 ? now_ms() + (uint64_t)due_ms : 0;
}

// A failed refresh without a due time of its own: the previous one doubled,
// at most CT_RETRY_MAX_MS.
static void retry_later(struct loop *L) {
  long d = L->last_due_ms > 0 ? L->last_due_ms * 2 : FIRST_RETRY_MS;
  schedule(L, d > CT_RETRY_MAX_MS ? CT_RETRY_MAX_MS : d);
}

static void arm(struct loop *L) {
  uint64_t next = 0;
#define EARLIER(t) if ((t) && (!next || (t) < next)) next = (t)
  if (!L->run.pid && !L->app_done) EARLIER(L->due_at);
  if (L->run.pid && !L->run.killed) EARLIER(L->run.deadline);
  if (L->pending.set && !L->stopping) EARLIER(L->pending.at);
  if (L->stopping && !L->group_killed) EARLIER(L->kill_at);
#undef EARLIER
  struct itimerspec its = {0};
  if (next) {
    its.it_value.tv_sec = (time_t)(next / 1000);
    its.it_value.tv_nsec = (long)(next % 1000) * 1000000L;
  }
  if (timerfd_settime(L->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
    warn_failed("timerfd_settime");
}

static void drop_pending(struct loop *L) {
  if (!L->pending.set) return;
  region_wipe(&L->pending.r);
  close(L->pending.fd);
  L->pending.set = false;
}

// ------------------------------------------------------------ the report

static const char *token_word(enum report_token t) {
  return t == TOKEN_CHANGED ? "changed" : t == TOKEN_REVOKED ? "revoked"
                                                             : "same";
}

static void log_report(const struct loop *L, const struct report *r) {
  char fields[256];
  snprintf(fields, sizeof fields,
           "\"refresh\":{\"op\":\"%s\",\"n\":%u,\"status\":\"%s\","
           "\"token\":\"%s\",\"app\":\"%s\",\"due_ms\":%ld}",
           L->run.op, L->refreshes, r->ok ? "ok" : "failed",
           token_word(r->token), r->app_changed ? "changed" : "same",
           r->has_due ? r->due_ms : -1L);
  if (r->ok)
    say_with(CT_INFO, fields, "refresh %s: ok; token %s, app %s", L->run.op,
             token_word(r->token), r->app_changed ? "changed" : "same");
  else
    say_with(CT_WARNING, fields, "refresh %s failed: %s", L->run.op,
             r->message);
}

// token=changed: the out-token region replaces the resident one, once it
// maps and checks (magic, canary, records).
static void take_token(struct loop *L) {
  struct region fresh;
  if (region_map(L->run.out_token_fd, &fresh) < 0) {
    say(CT_ERROR, "the refreshed token region is not valid: the old one is "
                 "kept");
    return;
  }
  region_wipe(&L->c->token);
  L->c->token = fresh;
}

// app=changed: pending for apply_in_ms; a newer change replaces an older
// one still pending and keeps its apply time (debounce: one delivery).
static void take_app(struct loop *L, long apply_in_ms) {
  struct region fresh;
  if (region_map(L->run.out_app_fd, &fresh) < 0) {
    say(CT_ERROR, "the refreshed app region is not valid: the change is "
                 "dropped");
    return;
  }
  uint64_t at = now_ms() + (uint64_t)apply_in_ms;
  if (L->pending.set) {
    // Merged into one delivery at the time the first change got.
    say(CT_INFO, "a newer change replaces the one still pending");
    if (L->pending.at < at) at = L->pending.at;
  }
  drop_pending(L);
  L->pending = (struct pending){.set = true, .r = fresh,
                                .fd = L->run.out_app_fd, .at = at};
  L->run.out_app_fd = -1; // the pending change owns it now
}

static void finish_refresh(struct loop *L) {
  struct report r;
  refresh_report(&L->run, &r);
  log_report(L, &r);
  if (r.ok && r.token == TOKEN_CHANGED) take_token(L);
  if (r.ok && r.token == TOKEN_REVOKED) L->token_revoked = true;
  if (r.ok && r.app_changed) take_app(L, r.apply_in_ms);
  if (r.has_state) memcpy(L->state, r.state, sizeof L->state);
  if (r.has_due) schedule(L, r.due_ms);
  else if (r.ok) schedule(L, 0);
  else retry_later(L);
  refresh_clear(&L->run);
}

static void start_refresh(struct loop *L, const char *op, long timeout_ms) {
  L->due_at = 0;
  L->refreshes++;
  if (refresh_start(&L->run, &L->c->prog, op, L->state, &L->c->token,
                    L->c->app, L->c->o->config_fd,
                    now_ms() + (uint64_t)timeout_ms) < 0) {
    say(CT_WARNING, "refresh %s could not start", op);
    retry_later(L);
  }
}

// ------------------------------------------------------- applying a change

static void kill_app(struct loop *L, int sig) {
  pid_t pg = L->c->child; // the app leads a group of its own
  if (kill(-pg, sig) < 0 && errno != ESRCH)
    say(CT_WARNING, "kill(-%d, %s) failed: %s", (int)pg, sig_name(sig),
        errname(errno));
  // An app that moved itself to another group still gets it.
  if (getpgid(pg) != pg && kill(pg, sig) < 0 && errno != ESRCH)
    say(CT_WARNING, "kill(%d, %s) failed: %s", (int)pg, sig_name(sig),
        errname(errno));
}

static void begin_restart(struct loop *L) {
  say(CT_INFO, "restart: %s to the app's process group (pid %d), SIGKILL "
               "after %ld ms", sig_name(L->c->o->stop_signal),
      (int)L->c->child, L->c->o->kill_timeout_ms);
  L->stopping = true;
  L->group_killed = false;
  L->kill_at = now_ms() + (uint64_t)L->c->o->kill_timeout_ms;
  kill_app(L, L->c->o->stop_signal);
}

static void apply_pending(struct loop *L) {
  const struct options *o = L->c->o;
  if (o->on_change == ON_CHANGE_NONE) {
    say(CT_INFO, "a change is not delivered (--on-change none): the app "
                 "keeps its values");
    drop_pending(L);
    return;
  }
  if (o->on_change == ON_CHANGE_SIGNAL) {
    long gen = region_write_in_place(L->c->app, &L->pending.r);
    if (gen >= 0) {
      say(CT_INFO, "a change is written in place (generation %ld); %s to "
                   "the app", gen, sig_name(o->change_signal));
      drop_pending(L);
      forward(L->c->child, o->change_signal);
      return;
    }
    say(CT_WARNING, "a change does not fit the app's region (%zu bytes of "
                    "records, region %zu bytes): restarting instead",
        L->pending.r.parsed.records_len, L->c->app->size);
  }
  begin_restart(L);
}

// Until no process of the app's group is left: reaps what dies.
static void reap(struct loop *L);
static void clear_group(struct loop *L) {
  pid_t pg = L->c->child;
  kill(-pg, SIGKILL);
  uint64_t end = now_ms() + GROUP_GONE_MS;
  while (kill(-pg, 0) == 0 && now_ms() < end) {
    reap(L);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  if (kill(-pg, 0) == 0)
    say(CT_WARNING, "process group %d still has members after SIGKILL",
        (int)pg);
}

// The old app and its group are gone: start the app with the new records.
// Returns false when the app could not start (L->app_ws says how).
static bool finish_restart(struct loop *L) {
  clear_group(L);
  L->stopping = false;
  if (L->terminate || !L->pending.set) return false;
  region_wipe(L->c->app);
  *L->c->app = L->pending.r;
  L->pending.set = false;
  int status;
  pid_t child = start_app(L->c->o, L->c->app, L->pending.fd, L->c->take_tty,
                          true, &status);
  if (child < 0) {
    L->app_ws = status << 8; // an exit status, as the wait would say
    return false;
  }
  say(CT_INFO, "restart: the app runs again with the new values (pid %d)",
      (int)child);
  L->c->child = child;
  L->app_done = false;
  for (size_t i = 0; i < L->n_held; i++) forward(child, L->held[i]);
  L->n_held = 0;
  return true;
}

// ------------------------------------------------------ signals, reaping

static void reap(struct loop *L) {
  for (;;) {
    int ws;
    pid_t p = waitpid(-1, &ws, WNOHANG);
    if (p > 0) {
      if (p == L->c->child && !L->app_done) {
        L->app_done = true;
        L->app_ws = ws;
      } else if (p == L->run.pid) {
        L->run.reaped = true;
        L->run.ws = ws;
      }
      continue;
    }
    if (p < 0 && errno == EINTR) continue;
    if (p < 0 && errno != ECHILD) warn_failed("waitpid");
    return;
  }
}

static void on_signal(struct loop *L, int sig) {
  if (sig == SIGCHLD) {
    reap(L);
  } else if (L->app_done) {
    say(CT_INFO, "%s not forwarded: the app has exited", sig_name(sig));
  } else if (L->stopping) {
    if (sig == SIGTERM) {
      // Stops the restart: the supervisor ends as with the old app.
      say(CT_INFO, "SIGTERM during a restart: the app is not started again");
      L->terminate = true;
      if (L->c->o->stop_signal != SIGTERM) kill_app(L, SIGTERM);
    } else if (L->n_held < MAX_HELD) {
      L->held[L->n_held++] = sig;
    }
  } else {
    forward(L->c->child, sig);
  }
}

static void read_signals(struct loop *L) {
  struct signalfd_siginfo si;
  for (;;) {
    ssize_t n = read(L->c->sfd, &si, sizeof si);
    if (n < 0 && errno == EINTR) continue;
    if (n != sizeof si) return; // EAGAIN: drained
    on_signal(L, (int)si.ssi_signo);
  }
}

// Waits (signals still read, children reaped) until the running refresh is
// done or its deadline passed (then SIGKILL).
static void wait_refresh(struct loop *L) {
  while (L->run.pid && !refresh_done(&L->run)) {
    uint64_t now = now_ms();
    if (now >= L->run.deadline && !L->run.killed && !L->run.reaped) {
      kill(L->run.pid, SIGKILL);
      L->run.killed = true;
    }
    if (now >= L->run.deadline && L->run.reaped) {
      refresh_stop_reading(&L->run);
      break;
    }
    struct pollfd fds[2] = {{L->c->sfd, POLLIN, 0},
                            {L->run.report_fd, POLLIN, 0}};
    int ms = now >= L->run.deadline ? 100 : (int)(L->run.deadline - now);
    if (poll(fds, L->run.report_fd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR) {
      warn_failed("poll");
      break;
    }
    read_signals(L);
    refresh_read(&L->run);
  }
}

// ------------------------------------------------------------- the exit

static int finish(struct loop *L) {
  int status = L->terminate ? 128 + SIGTERM : exit_code(L->app_ws);
  drop_pending(L);
  if (L->run.pid) { // a refresh still running: it has nobody left to serve
    if (!L->run.reaped) kill(L->run.pid, SIGKILL);
    L->run.killed = true;
    L->run.deadline = 0;
    wait_refresh(L);
    refresh_clear(&L->run);
  }
  const struct options *o = L->c->o;
  if (o->revoke_on_exit) {
    start_refresh(L, CT_REFRESH_OP_REVOKE, o->revoke_timeout_ms);
    wait_refresh(L);
    if (L->run.pid) finish_refresh(L);
  }
  region_wipe(&L->c->token);
  char fields[96];
  snprintf(fields, sizeof fields, "\"exit_status\":%d,\"token_revoked\":%s",
           status, L->token_revoked ? "true" : "false");
  say_with(CT_INFO, fields, "exit %d; token %s", status,
           L->token_revoked ? "revoked at exit"
           : o->revoke_on_exit ? "not reported revoked"
                               : "kept (--revoke-on-exit 0)");
  return status;
}

int cycle_run(struct cycle *c) {
  struct loop L = {.c = c};
  snprintf(L.state, sizeof L.state, "%s", c->o->state);
  L.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (L.tfd < 0) warn_failed("timerfd_create: no refresh will run");
  int fl = fcntl(c->sfd, F_GETFL);
  if (fl < 0 || fcntl(c->sfd, F_SETFL, fl | O_NONBLOCK) < 0)
    warn_failed("fcntl(signalfd, O_NONBLOCK)");
  if (L.tfd >= 0) schedule(&L, c->o->due_ms);
  for (;;) {
    uint64_t now = now_ms();
    if (L.run.pid && now >= L.run.deadline) {
      if (!L.run.reaped && !L.run.killed) {
        say(CT_WARNING, "refresh %s outlived --refresh-timeout-ms (%ld ms): "
                        "SIGKILL", L.run.op, c->o->refresh_timeout_ms);
        kill(L.run.pid, SIGKILL);
        L.run.killed = true;
      }
      if (L.run.reaped) refresh_stop_reading(&L.run);
    }
    if (L.run.pid && refresh_done(&L.run)) finish_refresh(&L);
    if (!L.run.pid && L.due_at && now >= L.due_at && !L.app_done)
      start_refresh(&L, CT_REFRESH_OP_DUE, c->o->refresh_timeout_ms);
    if (L.pending.set && !L.stopping && !L.app_done && now >= L.pending.at)
      apply_pending(&L);
    if (L.stopping && !L.group_killed && now >= L.kill_at) {
      say(CT_WARNING, "restart: the app outlived --kill-timeout-ms: SIGKILL "
                      "to its process group");
      kill_app(&L, SIGKILL);
      L.group_killed = true;
    }
    if (L.app_done && (!L.stopping || !finish_restart(&L)))
      return finish(&L);
    if (L.tfd >= 0) arm(&L);
    struct pollfd fds[3] = {{c->sfd, POLLIN, 0},
                            {L.tfd, POLLIN, 0},
                            {L.run.report_fd, POLLIN, 0}};
    if (poll(fds, L.run.pid && L.run.report_fd >= 0 ? 3 : 2, -1) < 0 &&
        errno != EINTR) {
      warn_failed("poll");
      struct timespec ts = {0, 100000000};
      nanosleep(&ts, NULL);
    }
    uint64_t expirations;
    if (L.tfd >= 0 && read(L.tfd, &expirations, sizeof expirations) < 0 &&
        errno != EAGAIN)
      warn_failed("read(timerfd)");
    read_signals(&L);
    if (L.run.pid) refresh_read(&L.run);
  }
}
