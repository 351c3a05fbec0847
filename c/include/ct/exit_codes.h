// Exit codes before the app runs (README "Exit status"); once it runs, the
// app's own status (128 + N for a death by signal N).
// TypeScript: ffi/constants.ts EXIT (tests/ffi/constants_test.ts holds the
// two equal).
#ifndef CT_EXIT_CODES_H
#define CT_EXIT_CODES_H

// Named as in TypeScript, after the CT_EXIT_ prefix.
#define CT_EXIT_CODES(X)                                                       \
  X(CT_EXIT_FAILED, 1)                    /* any other failure */             \
  X(CT_EXIT_USAGE, 2)                     /* bad usage or configuration */    \
  X(CT_EXIT_PROTECTION_MISSING, 3)        /* REQUIRE_*, MIN_SCORE */          \
  X(CT_EXIT_SUPERVISOR_START_FAILED, 125) /* before the app's exec */         \
  X(CT_EXIT_NOT_EXECUTABLE, 126)          /* found, cannot be executed */     \
  X(CT_EXIT_NOT_FOUND, 127)               /* the command was not found */

#define CT__EXIT_ENUM(id, code) id = code,
enum ct_exit_code { CT_EXIT_CODES(CT__EXIT_ENUM) };
#undef CT__EXIT_ENUM

#endif
