// cloudtaser-wrapper launcher: the file `install DIR` puts at
// DIR/cloudtaser-wrapper, and the wrapper image's entrypoint.
//
// The wrapper (the `deno compile` binary, or Deno running the bundled
// program) links glibc dynamically, but the app image it is copied into may
// hold no glibc at all (FROM scratch, musl). So the layout brings its own
// loader and libraries, and this static program starts the wrapper through
// them:
//
//   ROOT/cloudtaser-wrapper       this launcher (static: needs no libc)
//   ROOT/lib/ld.so                glibc's dynamic loader
//   ROOT/lib/*.so*                the libraries the wrapper needs
//   ROOT/lib/cloudtaser-wrapper   the compiled wrapper, or else
//   ROOT/lib/deno + ROOT/lib/app/main.js   Deno and the bundled wrapper
//
//   exec ROOT/lib/ld.so --library-path ROOT/lib --inhibit-cache
//        --argv0 ARGV0 PROGRAM [run -A ... main.js] ARGS...
//
// The loader's options, not the environment, name the libraries: nothing
// such as LD_LIBRARY_PATH enters the wrapper's environment, so none can
// reach the app, and the app's own programs load their own libraries. The
// environment is passed on unchanged. ROOT is where this file is
// (/proc/self/exe), so the layout works wherever it was installed.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct/v8_flags.h"
#include "ct/errname.h"
#include "ct/exit_codes.h"
#include "ct/log_line.h"

#define PROGRAM "cloudtaser-wrapper"

extern char **environ;

// Fails the start before the wrapper runs, in the wrapper's log format
// (README: exit 1 for anything else).
static int fail(const char *what, const char *path, int err) {
  char msg[PATH_MAX + 128], name[24], line[PATH_MAX + 512];
  snprintf(msg, sizeof msg, "launcher: %s %s failed: %s", what, path,
           ct_errname_in(err, name, sizeof name));
  size_t n = ct_log_format(line, sizeof line, !isatty(STDERR_FILENO), PROGRAM,
                           CT_ERROR, NULL, msg);
  ct_log_write(STDERR_FILENO, line, n);
  return CT_EXIT_FAILED;
}

// ROOT: the directory holding this launcher.
static int layout_root(char *root, size_t size) {
  ssize_t n = readlink("/proc/self/exe", root, size - 1);
  if (n < 0) return -errno;
  root[n] = '\0';
  char *slash = strrchr(root, '/');
  if (!slash) return -ENOENT;
  *slash = '\0';
  return 0;
}

static int join(char *out, size_t size, const char *root, const char *rel) {
  int n = snprintf(out, size, "%s/%s", root, rel);
  return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int main(int argc, char **argv) {
  char root[PATH_MAX], lib[PATH_MAX], loader[PATH_MAX], prog[PATH_MAX],
      bundle[PATH_MAX];
  int err = layout_root(root, sizeof root);
  if (err) return fail("readlink", "/proc/self/exe", -err);
  if (join(lib, sizeof lib, root, "lib") || join(loader, sizeof loader, lib, "ld.so") ||
      join(prog, sizeof prog, lib, PROGRAM) ||
      join(bundle, sizeof bundle, lib, "app/main.js"))
    return fail("building a path under", root, ENAMETOOLONG);

  // The compiled wrapper when the layout holds one, else Deno + the bundle.
  const char *pre[16]; // 13 used: loader options, deno run flags, bundle
  size_t npre = 0;
  pre[npre++] = loader;
  pre[npre++] = "--library-path";
  pre[npre++] = lib;
  pre[npre++] = "--inhibit-cache";
  pre[npre++] = "--argv0";
  pre[npre++] = argc > 0 ? argv[0] : PROGRAM;
  if (access(prog, X_OK) == 0) {
    pre[npre++] = prog;
  } else {
    if (join(prog, sizeof prog, lib, "deno"))
      return fail("building a path under", root, ENAMETOOLONG);
    pre[npre++] = prog;
    pre[npre++] = "run";
    pre[npre++] = "-A";
    pre[npre++] = "--no-config";
    pre[npre++] = "--no-lock";
    pre[npre++] = CT_V8_FLAGS;
    pre[npre++] = bundle;
  }

  // Deno's caches (compiled code, module analysis) are code the wrapper
  // runs before it hardens anything: they live in the layout, as trusted as
  // its other files, never under the app's HOME or DENO_DIR, which the app
  // can write (a crafted V8 code cache would run in the wrapper). In a pod
  // the layout is mounted read-only and Deno keeps its caches in memory.
  // The app's own DENO_DIR goes back to it: the wrapper restores it from
  // CLOUDTASER_APP_DENO_DIR (src/cli/deno_dir.ts).
  char deno_dir[PATH_MAX];
  if (join(deno_dir, sizeof deno_dir, lib, "deno-dir"))
    return fail("building a path under", root, ENAMETOOLONG);
  const char *app_deno_dir = getenv("DENO_DIR");
  if ((app_deno_dir && setenv("CLOUDTASER_APP_DENO_DIR", app_deno_dir, 1)) ||
      (!app_deno_dir && unsetenv("CLOUDTASER_APP_DENO_DIR")) ||
      setenv("DENO_DIR", deno_dir, 1))
    return fail("setenv", "DENO_DIR", errno);

  size_t nargs = argc > 1 ? (size_t)argc - 1 : 0;
  char **args = calloc(npre + nargs + 1, sizeof *args);
  if (!args) return fail("calloc", "for the arguments", ENOMEM);
  for (size_t i = 0; i < npre; i++) args[i] = (char *)pre[i];
  for (size_t i = 0; i < nargs; i++) args[npre + i] = argv[i + 1];
  execve(loader, args, environ);
  return fail("execve", loader, errno);
}
