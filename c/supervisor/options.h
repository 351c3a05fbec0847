// The supervisor's command line (c/shim/handover.c builds it):
//   --region-fd N [--signal-fd M] --delivery env|interposer|fd
//   [refresh arguments, docs/refresh.md "Hand-over"] -- CMD [ARGS...]
// Without the refresh arguments the supervisor never starts a refresh.
#ifndef CT_SUPERVISOR_OPTIONS_H
#define CT_SUPERVISOR_OPTIONS_H

#include <stdbool.h>

#include "ct/delivery.h"

enum on_change { ON_CHANGE_RESTART, ON_CHANGE_SIGNAL, ON_CHANGE_NONE };

struct options {
  int region_fd;
  int signal_fd; // -1 when the wrapper captured nothing
  enum ct_delivery delivery;
  char **cmd;
  // Refresh (docs/refresh.md); `refresh` is true when --program-fd was
  // given, and then the token, config and program-args fds are required.
  bool refresh;
  int token_fd, config_fd, program_fd, program_args_fd;
  const char *state; // opaque base64url, "" when none
  long due_ms;       // first refresh from now; 0: none
  enum on_change on_change;
  int change_signal; // signal:NAME
  int stop_signal;
  long kill_timeout_ms, refresh_timeout_ms, revoke_timeout_ms;
  bool revoke_on_exit;
  // --deno-dir: the layout's Deno cache directory, the refresh process's
  // DENO_DIR (src/cli/deno_dir.ts says why); NULL: none given.
  const char *deno_dir;
};

// Fills o from argv; says what is wrong (naming the argument) and returns
// -1 on a bad or missing value.
int parse_args(int argc, char **argv, struct options *o);

// The number of a signal named "SIGHUP" or "HUP" (the forwarded set of
// ct/signals.h plus SIGKILL), or 0.
int signal_by_name(const char *name);

// True when s is a non-empty base64url string (with '=' padding) shorter
// than CT_STATE_MAX: the only state the supervisor passes on.
bool state_valid(const char *s, unsigned long len);

#endif
