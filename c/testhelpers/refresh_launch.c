// Test launcher for the supervisor's refresh protocol (tests/supervisor/
// refresh_*_test.ts): starts cloudtaser-supervisor the way the wrapper's
// hand-over does with refresh configured, without the wrapper.
//
// usage: refresh_launch --supervisor PATH --program PATH [--arg WORD]...
//          [--config KEY=VALUE]... [--fd-env] [--unsealed-config]
//          [--omit token|config|program|program-args] [--memfd]
//          -- SUPERVISOR-ARGS... (--delivery D --due-ms T ... -- CMD ...)
//
// stdin: the app's KEY=VALUE lines up to an empty line, then the token
// region's lines up to an empty line or EOF (byte by byte: the rest of stdin
// stays for the app). Makes the app region and the token region (memfd_secret
// files in the real format), the config memfd (KEY=VALUE\0 entries, sealed),
// the program fd (PATH opened read-only) and the program-args memfd (the
// --arg words, NUL-separated, sealed; the first is the program's name), then
// execs the supervisor with --region-fd, --token-fd, --config-fd,
// --program-fd and --program-args before SUPERVISOR-ARGS. --fd-env puts
// CLOUDTASER_SECRET_FD=<region fd> in the environment (interposer and fd
// delivery need it). Secrets never appear in argv or on any output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_region.h"

#define MAX_WORDS 64

// Reads stdin up to "\n\n" or EOF.
static char *read_block(size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf) test_die("malloc");
  for (;;) {
    char c;
    ssize_t r = read(STDIN_FILENO, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) test_die("read stdin");
    if (r == 0) break;
    if (c == '\n' && (n == 0 || buf[n - 1] == '\n')) break;
    if (n + 1 >= cap && !(buf = realloc(buf, cap *= 2))) test_die("realloc");
    buf[n++] = c;
  }
  *len = n;
  return buf;
}

// A memfd holding the words, each followed by a NUL; sealed unless told.
static int words_memfd(const char *name, char **words, size_t n, bool seal) {
  int fd = memfd_create(name, MFD_ALLOW_SEALING);
  if (fd < 0) test_die("memfd_create");
  for (size_t i = 0; i < n; i++)
    if (write(fd, words[i], strlen(words[i]) + 1) < 0) test_die("write");
  if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
                                         F_SEAL_GROW | F_SEAL_SEAL) < 0)
    test_die("F_ADD_SEALS");
  return fd;
}

static void add_fd_arg(char **out, size_t *n, const char *flag, int fd) {
  char *num = malloc(16);
  if (!num) test_die("malloc");
  snprintf(num, 16, "%d", fd);
  out[(*n)++] = (char *)flag;
  out[(*n)++] = num;
}

int main(int argc, char **argv) {
  const char *supervisor = NULL, *program = NULL, *omit = "";
  char *args[MAX_WORDS], *config[MAX_WORDS];
  size_t n_args = 0, n_config = 0;
  bool fd_env = false, unsealed = false, use_memfd = false;
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--fd-env") == 0) fd_env = true;
    else if (strcmp(a, "--unsealed-config") == 0) unsealed = true;
    else if (strcmp(a, "--memfd") == 0) use_memfd = true;
    else if (!v) break;
    else if (strcmp(a, "--supervisor") == 0) supervisor = argv[++i];
    else if (strcmp(a, "--program") == 0) program = argv[++i];
    else if (strcmp(a, "--omit") == 0) omit = argv[++i];
    else if (strcmp(a, "--arg") == 0 && n_args < MAX_WORDS) args[n_args++] = argv[++i];
    else if (strcmp(a, "--config") == 0 && n_config < MAX_WORDS)
      config[n_config++] = argv[++i];
    else break;
  }
  if (i >= argc || !supervisor || !program) {
    fprintf(stderr, "usage: refresh_launch --supervisor PATH --program PATH "
                    "[--arg W]... [--config K=V]... -- SUPERVISOR-ARGS...\n");
    return 2;
  }
  size_t app_len, token_len;
  char *app = read_block(&app_len);
  char *token = read_block(&token_len);
  int region = test_region(app, app_len, use_memfd, 0);
  int token_fd = test_region(token, token_len, use_memfd, 0);
  explicit_bzero(app, app_len);
  explicit_bzero(token, token_len);
  int config_fd = words_memfd("cloudtaser-config", config, n_config, !unsealed);
  int args_fd = words_memfd("cloudtaser-args", args, n_args, true);
  int program_fd = open(program, O_RDONLY); // inherited, as the wrapper's
  if (program_fd < 0) test_die("open --program");

  char **out = calloc((size_t)argc + 16, sizeof *out);
  if (!out) test_die("calloc");
  size_t n = 0;
  out[n++] = (char *)supervisor;
  add_fd_arg(out, &n, "--region-fd", region);
  if (strcmp(omit, "token")) add_fd_arg(out, &n, "--token-fd", token_fd);
  if (strcmp(omit, "config")) add_fd_arg(out, &n, "--config-fd", config_fd);
  if (strcmp(omit, "program")) add_fd_arg(out, &n, "--program-fd", program_fd);
  if (strcmp(omit, "program-args"))
    add_fd_arg(out, &n, "--program-args", args_fd);
  for (i++; i < argc; i++) out[n++] = argv[i];
  out[n] = NULL;
  if (fd_env) {
    char num[16];
    snprintf(num, sizeof num, "%d", region);
    if (setenv(CLOUDTASER_FD_ENV, num, 1) < 0) test_die("setenv");
  }
  execv(supervisor, out);
  test_die("exec supervisor");
}
