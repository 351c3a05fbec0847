// The refresh protocol between the supervisor and a refresh process
// (docs/refresh.md "Interfaces"): the fds a refresh process gets, the
// words of its command line, the report's keys and values, and the bounds
// the supervisor puts on them.
// TypeScript: ffi/constants.ts REFRESH (tests/ffi/constants_test.ts holds
// the two equal).
#ifndef CT_REFRESH_H
#define CT_REFRESH_H

// fds of a refresh process, in the order of its arguments.
#define CT_REFRESH_FDS(X)                                                      \
  X(CT_RFD_TOKEN, 3, "--token-fd")         /* copy of the token region */     \
  X(CT_RFD_APP, 4, "--app-fd")             /* copy of the app region */       \
  X(CT_RFD_OUT_TOKEN, 5, "--out-token-fd") /* empty: the new token region */  \
  X(CT_RFD_OUT_APP, 6, "--out-app-fd")     /* empty: the new app region */    \
  X(CT_RFD_CONFIG, 7, "--config-fd")       /* the config memfd, as is */      \
  X(CT_RFD_REPORT, 8, "--report-fd")       /* write end of the report pipe */

#define CT__RFD_ENUM(id, fd, flag) id = fd,
enum ct_refresh_fd { CT_REFRESH_FDS(CT__RFD_ENUM) };
#undef CT__RFD_ENUM

// The mode word and the operations.
#define CT_REFRESH_MODE "refresh"
#define CT_REFRESH_OP_DUE "due"
#define CT_REFRESH_OP_REVOKE "revoke"
// The refresh process's whole environment.
#define CT_REFRESH_PATH "PATH=/usr/bin:/bin"

// The report: KEY=VALUE lines; unknown keys are ignored.
#define CT_REPORT_KEYS(X)                                                      \
  X(CT_REPORT_STATUS, "status")           /* ok | failed */                   \
  X(CT_REPORT_TOKEN, "token")             /* same | changed | revoked */      \
  X(CT_REPORT_APP, "app")                 /* same | changed */                \
  X(CT_REPORT_APPLY_IN_MS, "apply_in_ms") /* splay before a change */         \
  X(CT_REPORT_DUE_MS, "due_ms")           /* next refresh; 0 none */          \
  X(CT_REPORT_STATE, "state")             /* opaque, base64url */             \
  X(CT_REPORT_MESSAGE, "message")         /* what failed, for the log */

#define CT__REPORT_ENUM(id, key) id,
enum ct_report_key { CT_REPORT_KEYS(CT__REPORT_ENUM) CT_REPORT_N_KEYS };
#undef CT__REPORT_ENUM

// The longest report the supervisor reads (a longer one fails the refresh),
// the longest state string, and the ceiling of a doubled retry delay.
#define CT_REPORT_MAX 4096
#define CT_STATE_MAX 2048
#define CT_RETRY_MAX_MS 60000

#endif
