// The supervisor's command line (options.h).
#define _GNU_SOURCE
#include "options.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct/refresh.h"
#include "ct/signals.h"
#include "log.h"

// The longest timeout or delay accepted: a day.
#define MAX_MS 86400000L

static int parse_fd(const char *flag, const char *s, int *out) {
  char *end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : -1;
  if (!s || !*s || errno || *end || v < -1 || v > INT32_MAX) {
    say(CT_ERROR, "%s needs a file descriptor number", flag);
    return -1;
  }
  *out = (int)v;
  return 0;
}

static int parse_ms(const char *flag, const char *s, long *out) {
  char *end;
  errno = 0;
  long v = s && *s >= '0' && *s <= '9' ? strtol(s, &end, 10) : -1;
  if (v < 0 || errno || *end || v > MAX_MS) {
    say(CT_ERROR, "%s needs milliseconds (0 to %ld)", flag, MAX_MS);
    return -1;
  }
  *out = v;
  return 0;
}

int signal_by_name(const char *name) {
  if (!name) return 0;
  const char *bare = strncmp(name, "SIG", 3) == 0 ? name + 3 : name;
  if (strcmp(bare, "KILL") == 0) return SIGKILL;
  for (size_t i = 0; i < CT_N_FORWARDED; i++)
    if (strcmp(bare, ct_signal_name(ct_forwarded_signals[i]) + 3) == 0)
      return ct_forwarded_signals[i];
  return 0;
}

static int parse_signal(const char *flag, const char *s, int *out) {
  *out = signal_by_name(s);
  if (*out) return 0;
  say(CT_ERROR, "%s needs a signal name (SIGTERM, SIGHUP, SIGUSR1, ...)",
      flag);
  return -1;
}

static int parse_on_change(const char *s, struct options *o) {
  if (s && strcmp(s, "restart") == 0) o->on_change = ON_CHANGE_RESTART;
  else if (s && strcmp(s, "none") == 0) o->on_change = ON_CHANGE_NONE;
  else if (s && strncmp(s, "signal:", 7) == 0 &&
           (o->change_signal = signal_by_name(s + 7)) != 0 &&
           o->change_signal != SIGKILL)
    o->on_change = ON_CHANGE_SIGNAL;
  else {
    say(CT_ERROR, "--on-change must be restart, none or signal:NAME");
    return -1;
  }
  return 0;
}

bool state_valid(const char *s, unsigned long len) {
  if (len >= CT_STATE_MAX) return false;
  for (unsigned long i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '='))
      return false;
  }
  return true;
}

static int parse_state(const char *s, struct options *o) {
  if (s && state_valid(s, strlen(s))) {
    o->state = s;
    return 0;
  }
  say(CT_ERROR, "--state must be base64url, shorter than %d bytes",
      CT_STATE_MAX);
  return -1;
}

static int parse_bool(const char *flag, const char *s, bool *out) {
  if (s && (strcmp(s, "0") == 0 || strcmp(s, "1") == 0)) {
    *out = s[0] == '1';
    return 0;
  }
  say(CT_ERROR, "%s must be 0 or 1", flag);
  return -1;
}

static int parse_one(const char *a, const char *v, struct options *o,
                     bool *refresh_arg) {
  *refresh_arg = true;
  if (strcmp(a, "--token-fd") == 0) return parse_fd(a, v, &o->token_fd);
  if (strcmp(a, "--config-fd") == 0) return parse_fd(a, v, &o->config_fd);
  if (strcmp(a, "--program-fd") == 0) return parse_fd(a, v, &o->program_fd);
  if (strcmp(a, "--program-args") == 0)
    return parse_fd(a, v, &o->program_args_fd);
  if (strcmp(a, "--state") == 0) return parse_state(v, o);
  if (strcmp(a, "--due-ms") == 0) return parse_ms(a, v, &o->due_ms);
  if (strcmp(a, "--on-change") == 0) return parse_on_change(v, o);
  if (strcmp(a, "--stop-signal") == 0)
    return parse_signal(a, v, &o->stop_signal);
  if (strcmp(a, "--kill-timeout-ms") == 0)
    return parse_ms(a, v, &o->kill_timeout_ms);
  if (strcmp(a, "--refresh-timeout-ms") == 0)
    return parse_ms(a, v, &o->refresh_timeout_ms);
  if (strcmp(a, "--revoke-on-exit") == 0)
    return parse_bool(a, v, &o->revoke_on_exit);
  if (strcmp(a, "--revoke-timeout-ms") == 0)
    return parse_ms(a, v, &o->revoke_timeout_ms);
  if (strcmp(a, "--deno-dir") == 0) {
    if (v && v[0] == '/') {
      o->deno_dir = v;
      return 0;
    }
    say(CT_ERROR, "--deno-dir must be an absolute path");
    return -1;
  }
  *refresh_arg = false;
  if (strcmp(a, "--region-fd") == 0) return parse_fd(a, v, &o->region_fd);
  if (strcmp(a, "--signal-fd") == 0) return parse_fd(a, v, &o->signal_fd);
  if (strcmp(a, "--delivery") == 0) {
    o->delivery = ct_delivery_parse(v);
    if (o->delivery != CT_DELIVERY_UNSET) return 0;
    say(CT_ERROR, "--delivery must be env, interposer or fd");
    return -1;
  }
  say(CT_ERROR, "unknown argument %s", a);
  return -1;
}

// The refresh arguments come as a set: a refresh needs the program, its
// arguments, the token and the configuration.
static int check_refresh(struct options *o, bool any) {
  const char *missing = o->program_fd < 0        ? "--program-fd"
                        : o->program_args_fd < 0 ? "--program-args"
                        : o->token_fd < 0        ? "--token-fd"
                        : o->config_fd < 0       ? "--config-fd"
                                                 : NULL;
  if (!any) return 0;
  if (missing) {
    say(CT_ERROR, "refresh arguments given without %s", missing);
    return -1;
  }
  o->refresh = true;
  return 0;
}

int parse_args(int argc, char **argv, struct options *o) {
  *o = (struct options){.region_fd = -1,
                        .signal_fd = -1,
                        .delivery = CT_DELIVERY_UNSET,
                        .token_fd = -1,
                        .config_fd = -1,
                        .program_fd = -1,
                        .program_args_fd = -1,
                        .state = "",
                        .on_change = ON_CHANGE_RESTART,
                        .stop_signal = SIGTERM,
                        .kill_timeout_ms = 30000,
                        .refresh_timeout_ms = 30000,
                        .revoke_timeout_ms = 5000,
                        .revoke_on_exit = true};
  bool any_refresh = false;
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
    bool refresh_arg;
    if (parse_one(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o,
                  &refresh_arg) < 0)
      return -1;
    any_refresh |= refresh_arg;
  }
  if (i + 1 >= argc || o->region_fd < 0 || o->delivery == CT_DELIVERY_UNSET) {
    say(CT_ERROR, "usage: " PROGRAM " --region-fd N [--signal-fd M] "
                 "--delivery env|interposer|fd [refresh arguments] -- CMD "
                 "[ARGS...] (started by cloudtaser-wrapper, not by hand)");
    return -1;
  }
  if (check_refresh(o, any_refresh) < 0) return -1;
  o->cmd = argv + i + 1;
  return 0;
}
