// The resident loop when refresh is configured (docs/refresh.md): forwards
// signals and reaps like the plain loop, and also runs a refresh process
// when one is due (a timerfd), applies what it reports (a new token region;
// a change of the app's records by --on-change: restart, signal:NAME in
// place, none) and, after the app exits, revokes (--revoke-on-exit).
#ifndef CT_SUPERVISOR_CYCLE_H
#define CT_SUPERVISOR_CYCLE_H

#include <stdbool.h>
#include <sys/types.h>

#include "options.h"
#include "refresh.h"
#include "region.h"

struct cycle {
  const struct options *o;
  struct region *app;   // the resident app region (replaced by a restart)
  struct region token;  // the token region, mapped read-only
  struct refresh_program prog;
  int sfd;              // the signalfd (forwarded set + SIGCHLD)
  bool take_tty;
  pid_t child;          // the running app
};

// Runs until the app exits for good; returns the supervisor's exit code
// (the last app's). Wipes the token region; the app region is the
// caller's to wipe.
int cycle_run(struct cycle *c);

#endif
