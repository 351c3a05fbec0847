// What the interposer's files share (interposer.c, exec_target.c,
// child_env.c, exec.c, spawn.c). Nothing here is exported from the library.
#ifndef CT_INTERPOSER_H
#define CT_INTERPOSER_H

#include <stddef.h>

#include "cloudtaser.h"
#include "ct/log_line.h"

#define CT_HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))

// The app's own copy of the region (interposer.c); .map is NULL when the
// interposer is inactive (no region was handed over).
CT_HIDDEN extern cloudtaser_secrets ct_region;

// This library's path as the loader found it (for a child's LD_PRELOAD), or
// NULL when unknown.
CT_HIDDEN const char *ct_self_path(void);

// One line on stderr (ct/log_line.h: JSON unless stderr is a terminal)
// naming the program and pid. Never give it a value.
CT_HIDDEN void ct_log(enum ct_level level, const char *msg);

// --- exec_target.c -----------------------------------------------------------

enum ct_kind {
  CT_INTERPOSABLE, // a glibc-dynamic ELF of this architecture: loads us
  CT_FOREIGN,      // runs, but cannot load us (static, musl, Go, set-id, ...)
  CT_UNREACHABLE,  // the exec fails without reading envp (not found, ...)
};

struct ct_target {
  enum ct_kind kind;
  char why[192];  // CT_FOREIGN: why it cannot load the interposer
};

// What exec would run for (dirfd, path, at_flags) as execveat(2) takes them,
// `#!` lines followed as the kernel does. `sh_fallback`: a file with neither
// ELF magic nor `#!` runs under /bin/sh, as execvp(3) does on ENOEXEC.
CT_HIDDEN void ct_inspect(int dirfd, const char *path, int at_flags,
                          int sh_fallback, struct ct_target *t);

// --- child_env.c ---------------------------------------------------------

// True when the app's copy is active and still valid (header, canary,
// records): only then may its records be walked.
CT_HIDDEN int ct_region_ok(void);

// True when an envp entry carries a secret of r (child_env.c has the rule).
CT_HIDDEN int ct_is_secret_entry(const cloudtaser_secrets *r,
                                 const char *entry);

// Number of entries in envp, and how many carry a secret.
CT_HIDDEN size_t ct_count(char *const envp[], size_t *secret);

// A new region (close-on-exec fd, -errno on failure) whose records are the
// secret entries of envp, with r's flags.
CT_HIDDEN int ct_child_region(const cloudtaser_secrets *r, char *const envp[]);

// Bytes ct_child_envp needs in `preload` for envp.
CT_HIDDEN size_t ct_preload_size(char *const envp[]);

// Writes the child's envp into out (room for n + 3 pointers): envp minus
// its secret entries, minus CLOUDTASER_SECRET_FD and LD_PRELOAD; then, when
// fd >= 0, CLOUDTASER_SECRET_FD=fd (in fd_entry, 32 bytes) and LD_PRELOAD
// naming this library first (in preload, ct_preload_size bytes).
CT_HIDDEN void ct_child_envp(const cloudtaser_secrets *r, char *const envp[],
                             int fd, char **out, char *fd_entry,
                             char *preload);

// --- exec.c --------------------------------------------------------------

// Resolves glibc's exec and spawn functions (from the constructor, so that
// no dlsym runs in a vfork child).
CT_HIDDEN void ct_exec_init(void);

// How exec_with hands the region fd to the new program.
enum ct_handover {
  CT_VIA_EXEC,  // exec in this process: the fd loses FD_CLOEXEC for the call
  CT_VIA_SPAWN, // the callback passes it on (spawn file actions)
};

// Where the program to run is, as execveat(2) takes it (ct_inspect's
// arguments); path NULL: nothing to run (the exec will fail).
struct ct_where {
  int dirfd;
  const char *path;
  int at_flags;
  int sh_fallback;
};

// Runs `call` with the envp the program at `where` must get:
// unchanged when envp carries no secret; for an interposable program a
// fresh region fd and LD_PRELOAD instead of the secret entries; for an
// unreachable one the envp without them (the exec fails anyway); for a
// foreign one envp unchanged if CLOUDTASER_CHILD_ENV_FALLBACK allowed it,
// else -1 with errno EPERM and an error line naming `program`. `call`
// returns -1 with errno on failure; the region fd is closed after it.
typedef int (*ct_exec_call)(void *ctx, char *const envp[], int region_fd);
CT_HIDDEN int ct_exec_with(const struct ct_where *where, char *const envp[],
                           const char *program, enum ct_handover how,
                           ct_exec_call call, void *ctx);

// --- spawn.c -------------------------------------------------------------

CT_HIDDEN void ct_spawn_init(void);

#endif
