// The signals the wrapper captures until the hand-over (c/shim/handover.c)
// and the supervisor forwards to the app after it (c/supervisor/), in the
// order both list them. The test apps record the same set.
// TypeScript: ffi/constants.ts CAPTURED_SIGNALS and SIGNAL_NUMBERS
// (tests/ffi/constants_test.ts holds the two equal).
#ifndef CT_SIGNALS_H
#define CT_SIGNALS_H

#include <signal.h>
#include <stddef.h>

#define CT_FORWARDED_SIGNALS(X)                                                \
  X(SIGTERM) X(SIGINT) X(SIGHUP) X(SIGQUIT) X(SIGUSR1) X(SIGUSR2) X(SIGWINCH) \
  X(SIGCONT)

#define CT__SIGNAL_NUMBER(s) s,
static const int ct_forwarded_signals[] = {
    CT_FORWARDED_SIGNALS(CT__SIGNAL_NUMBER)};
#undef CT__SIGNAL_NUMBER
#define CT_N_FORWARDED                                                         \
  (sizeof ct_forwarded_signals / sizeof ct_forwarded_signals[0])

// "SIGTERM" for a forwarded signal, NULL for any other.
static inline const char *ct_signal_name(int sig) {
#define CT__SIGNAL_CASE(s)                                                     \
  case s:                                                                      \
    return #s;
  switch (sig) { CT_FORWARDED_SIGNALS(CT__SIGNAL_CASE) }
#undef CT__SIGNAL_CASE
  return NULL;
}

// True when sig is in the forwarded set.
static inline int ct_is_forwarded(int sig) { return ct_signal_name(sig) != 0; }

#endif
