// One refresh process (docs/refresh.md "The cycle"): the supervisor starts
// the wrapper's own program in its `refresh` mode with fresh copies of the
// token and app regions, two empty regions for what is new, the config
// memfd and a report pipe; it reads the report (KEY=VALUE lines) while it
// keeps forwarding signals. The supervisor parses no JSON and knows nothing
// of Vault.
#ifndef CT_SUPERVISOR_REFRESH_H
#define CT_SUPERVISOR_REFRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ct/refresh.h"
#include "options.h"
#include "region.h"

// The program a refresh runs: an fd opened by the wrapper before the app
// existed, its arguments, and what fstat said at start.
struct refresh_program {
  int fd;
  struct stat at_start;
  char *args_buf;  // the --program-args memfd's bytes
  char **args;     // pointers into args_buf, NULL-terminated
  size_t n_args;
  char *deno_dir_env; // "DENO_DIR=<--deno-dir>", or NULL
};

// Takes --program-fd and --program-args (read, checked sealed, closed) and
// checks --config-fd is a sealed memfd. Fails closed (-1, said why).
int program_open(const struct options *o, struct refresh_program *p);

// True unless the program's size, mtime or ctime changed since start
// (logged).
bool program_unchanged(const struct refresh_program *p);

enum report_token { TOKEN_SAME, TOKEN_CHANGED, TOKEN_REVOKED };

struct report {
  bool ok;           // status=ok
  bool app_changed;  // app=changed
  enum report_token token;
  bool has_due;
  long due_ms, apply_in_ms;
  bool has_state;
  char state[CT_STATE_MAX];
  char message[256];
};

// A running refresh process.
struct refresh_run {
  pid_t pid; // 0 when none
  const char *op;
  int report_fd;   // read end, -1 at EOF
  int out_token_fd, out_app_fd;
  uint64_t deadline; // CLOCK_MONOTONIC ms
  bool reaped, killed, overflow;
  int ws;
  size_t len;
  char buf[CT_REPORT_MAX + 1];
};

// Starts a refresh with --op op. Returns 0, or -1 (said why, nothing left
// open) when it could not start.
int refresh_start(struct refresh_run *run, const struct refresh_program *p,
                  const char *op, const char *state,
                  const struct region *token, const struct region *app,
                  int config_fd, uint64_t deadline);

// Reads what the pipe holds (non-blocking); closes it at EOF.
void refresh_read(struct refresh_run *run);

// Closes the pipe before EOF: past the deadline, when the process is reaped
// and something it started still holds the write end.
void refresh_stop_reading(struct refresh_run *run);

// True once the process was reaped and the pipe is at EOF (or closed).
static inline bool refresh_done(const struct refresh_run *run) {
  return run->pid && run->reaped && run->report_fd < 0;
}

// Parses the report read so far into r. The report counts as failed
// (r->ok false, r->message says why) when the process did not exit 0, was
// killed, wrote more than CT_REPORT_MAX bytes, or gave no valid status.
void refresh_report(const struct refresh_run *run, struct report *r);

// Closes what is left of run (pipe, out fds) and clears it.
void refresh_clear(struct refresh_run *run);

// CLOCK_MONOTONIC in milliseconds.
uint64_t now_ms(void);

#endif
