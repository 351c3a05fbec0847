// Test helper: starts PROG with one of the interposed functions, with the
// calling process's environment, so tests can check what the started
// program received.
//
//   exec_probe VARIANT PROG [ARGS...]
//
// VARIANT: execve execv execvp execvpe execl execle execlp fexecve execveat
// (replace this process), posix_spawn posix_spawnp system popen (start it,
// wait, exit with its status; popen copies its output to stdout).
// execl* pass at most 6 arguments. On failure: "VARIANT failed: ERRNO" on
// stderr, exit 126 (EPERM/EACCES) or 127.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int failed(const char *v, int e) {
  fprintf(stderr, "%s failed: %s\n", v, strerrorname_np(e));
  return e == ENOENT ? 127 : 126;
}

static int wait_for(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return 125;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: exec_probe VARIANT PROG [ARGS...]\n");
    return 2;
  }
  const char *v = argv[1], *prog = argv[2];
  char **args = argv + 2;
  char *a[7] = {0};
  for (int i = 0; i < 6 && args[i]; i++) a[i] = args[i];
  fflush(stdout);
  if (!strcmp(v, "execve")) execve(prog, args, environ);
  else if (!strcmp(v, "execv")) execv(prog, args);
  else if (!strcmp(v, "execvp")) execvp(prog, args);
  else if (!strcmp(v, "execvpe")) execvpe(prog, args, environ);
  else if (!strcmp(v, "execl"))
    execl(prog, a[0], a[1], a[2], a[3], a[4], a[5], (char *)NULL);
  else if (!strcmp(v, "execle"))
    execle(prog, a[0], a[1], a[2], a[3], a[4], a[5], (char *)NULL, environ);
  else if (!strcmp(v, "execlp"))
    execlp(prog, a[0], a[1], a[2], a[3], a[4], a[5], (char *)NULL);
  else if (!strcmp(v, "fexecve")) {
    int fd = open(prog, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failed("open", errno);
    fexecve(fd, args, environ);
  } else if (!strcmp(v, "execveat"))
    execveat(AT_FDCWD, prog, args, environ, 0);
  else if (!strcmp(v, "posix_spawn") || !strcmp(v, "posix_spawnp")) {
    pid_t pid;
    int rc = (v[11] == 'p' ? posix_spawnp : posix_spawn)(&pid, prog, NULL,
                                                         NULL, args, environ);
    if (rc != 0) return failed(v, rc);
    return wait_for(pid);
  } else if (!strcmp(v, "posix_spawn_fa")) {
    // The caller's own file actions: stdout through a pipe we copy.
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return failed("pipe2", errno);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    pid_t pid;
    int rc = posix_spawn(&pid, prog, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) return failed(v, rc);
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) {
      fwrite(buf, 1, (size_t)n, stdout);
      fflush(stdout);
    }
    return wait_for(pid);
  } else if (!strcmp(v, "system")) {
    int st = system(prog); // PROG is the shell command
    if (st == -1) return failed(v, errno);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  } else if (!strcmp(v, "popen")) {
    FILE *f = popen(prog, "r");
    if (!f) return failed(v, errno);
    char buf[4096];
    ssize_t n;
    while ((n = read(fileno(f), buf, sizeof buf)) > 0) {
      fwrite(buf, 1, (size_t)n, stdout);
      fflush(stdout);
    }
    int st = pclose(f);
    if (st == -1) return failed("pclose", errno);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  } else {
    fprintf(stderr, "exec_probe: unknown variant %s\n", v);
    return 2;
  }
  return failed(v, errno);
}
