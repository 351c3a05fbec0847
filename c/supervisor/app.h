// Starting and signalling the app (supervisor.c), shared with the refresh
// cycle (cycle.c), which starts it again after a restart.
#ifndef CT_SUPERVISOR_APP_H
#define CT_SUPERVISOR_APP_H

#include <stdbool.h>
#include <sys/types.h>

#include "options.h"
#include "region.h"

// Builds the app's envp from r (records in env delivery), forks and execs
// the app with the region file app_fd under the number --region-fd named
// (interposer/fd delivery); closes app_fd in this process. own_group puts
// the app in a process group of its own (a restart signals the group).
// Returns the app's pid, or -1 with *status the exit code for the failure
// (125, 126, 127).
pid_t start_app(const struct options *o, const struct region *r, int app_fd,
                bool take_tty, bool own_group, int *status);

// kill(child, sig), logged when it fails.
void forward(pid_t child, int sig);

// The supervisor's exit code for a wait status: the app's code, 128 + N
// for a death by signal N.
int exit_code(int ws);

#endif
