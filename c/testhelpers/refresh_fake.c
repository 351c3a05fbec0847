// Plays a refresh process for the supervisor's protocol tests
// (tests/supervisor/refresh_*_test.ts), where the wrapper's real `refresh`
// mode (Vault, src/) is not wanted: the supervisor runs it as
//
//   refresh_fake [BEHAVIOUR...] refresh --op due|revoke --state S
//     --token-fd 3 --app-fd 4 --out-token-fd 5 --out-app-fd 6 --config-fd 7
//     --report-fd 8
//
// BEHAVIOUR (the words before "refresh", from --program-args):
//   --app-change       new app records: each value with its "-r<k>" suffix
//                      replaced by "-r<n>" (n: this refresh's number)
//   --changes K        only the first K refreshes change anything
//   --grow N           and N more bytes per value (a change that does not fit)
//   --token-change     new token records, suffix "-t<n>"
//   --due MS, --apply MS   due_ms and apply_in_ms of the report
//   --fail             status=failed; --exit N: exit N without a report
//   --hang             sleep (until killed) before reporting
//   --junk             unknown keys and lines in the report
//   --leak-pipe        leave a child holding the report pipe for 5 s
//   --flood            a report far beyond the supervisor's limit
//   --revoke ok|fail|hang   what --op revoke does (default ok)
//   --print-env NAME   one stderr line "refresh_fake NAME=value" (not a secret)
//   --log              one stderr line: op, n, the fds open, the environment's
//                      names, the suffixes of the token and app copies, the
//                      blocked and ignored signal sets
// The state is "n<k>": the number of the last refresh. Values never reach an
// output; the suffixes the fake made itself do.
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <time.h>

#include "ct/refresh.h"
#include "test_region.h"

extern char **environ;

struct behaviour {
  bool app_change, token_change, fail, hang, junk, flood, log, leak;
  long changes, grow, due, apply, exit_code;
  const char *revoke;
};

// The suffix the fake put on the first record's value ("r3"), or "-".
static void suffix_of(int fd, char *out, size_t cap) {
  cloudtaser_secrets s;
  cloudtaser_record r;
  size_t cur = 0;
  snprintf(out, cap, "-");
  if (cloudtaser_map_fd(&s, fd) < 0) {
    snprintf(out, cap, "invalid");
    return;
  }
  if (cloudtaser_next(&s, &cur, &r)) {
    const char *dash = memrchr(r.value, '-', r.value_len);
    if (dash && (dash[1] == 'r' || dash[1] == 't'))
      snprintf(out, cap, "%.*s", (int)(r.value + r.value_len - dash - 1),
               dash + 1);
  }
  cloudtaser_close(&s);
}

static void log_line(const char *op, long n) {
  char fds[256] = "", names[512] = "", tok[32], app[32];
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.' && (int)strtol(e->d_name, NULL, 10) != dirfd(d) &&
        strlen(fds) + strlen(e->d_name) + 2 < sizeof fds) {
      if (fds[0]) strcat(fds, ",");
      strcat(fds, e->d_name);
    }
  if (d) closedir(d);
  for (char **p = environ; *p; p++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%.*s",
             names[0] ? "," : "", (int)strcspn(*p, "="), *p);
  suffix_of(CT_RFD_TOKEN, tok, sizeof tok);
  suffix_of(CT_RFD_APP, app, sizeof app);
  char line[256], blk[32] = "?", ign[32] = "?";
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof line, f)) {
    sscanf(line, "SigBlk: %31s", blk);
    sscanf(line, "SigIgn: %31s", ign);
  }
  if (f) fclose(f);
  fprintf(stderr,
          "refresh_fake op=%s n=%ld fds=%s env=%s token=%s app=%s mask=%s "
          "ignored=%s\n",
          op, n, fds, names, tok, app, blk, ign);
}

// Copies the region at `from` into `to` with each value's -<tag><k> suffix
// replaced by -<tag><n> and `grow` bytes more.
static void rewrite(int from, int to, char tag, long n, long grow) {
  cloudtaser_secrets s;
  if (cloudtaser_map_fd(&s, from) < 0) test_die("map region copy");
  size_t cap = s.records_len + s.count * (size_t)(24 + grow) + 1, len = 0;
  char *lines = calloc(1, cap);
  if (!lines) test_die("calloc");
  cloudtaser_record r;
  size_t cur = 0;
  while (cloudtaser_next(&s, &cur, &r)) {
    size_t keep = r.value_len;
    const char *dash = memrchr(r.value, '-', r.value_len);
    if (dash && dash[1] == tag) keep = (size_t)(dash - r.value);
    len += (size_t)snprintf(lines + len, cap - len, "%.*s=%.*s-%c%ld",
                            (int)r.key_len, r.key, (int)keep, r.value, tag, n);
    for (long i = 0; i < grow; i++) lines[len++] = 'x';
    lines[len++] = '\n';
  }
  unsigned char *m;
  size_t size;
  test_region_fill(to, lines, len, s.flags, &m, &size, NULL);
  munmap(m, size);
  explicit_bzero(lines, cap);
  free(lines);
  cloudtaser_close(&s);
}

static void report(const char *text) {
  size_t n = strlen(text);
  if (write(CT_RFD_REPORT, text, n) != (ssize_t)n) test_die("write report");
}

static void hang(void) {
  for (;;) pause();
}

int main(int argc, char **argv) {
  struct behaviour b = {.changes = -1, .revoke = "ok"};
  const char *print_env = NULL;
  int i = 1;
  for (; i < argc && strcmp(argv[i], CT_REFRESH_MODE) != 0; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
    if (strcmp(a, "--app-change") == 0) b.app_change = true;
    else if (strcmp(a, "--token-change") == 0) b.token_change = true;
    else if (strcmp(a, "--fail") == 0) b.fail = true;
    else if (strcmp(a, "--hang") == 0) b.hang = true;
    else if (strcmp(a, "--junk") == 0) b.junk = true;
    else if (strcmp(a, "--flood") == 0) b.flood = true;
    else if (strcmp(a, "--log") == 0) b.log = true;
    else if (strcmp(a, "--leak-pipe") == 0) b.leak = true;
    else if (strcmp(a, "--changes") == 0) b.changes = atol(v), i++;
    else if (strcmp(a, "--grow") == 0) b.grow = atol(v), i++;
    else if (strcmp(a, "--due") == 0) b.due = atol(v), i++;
    else if (strcmp(a, "--apply") == 0) b.apply = atol(v), i++;
    else if (strcmp(a, "--exit") == 0) b.exit_code = atol(v), i++;
    else if (strcmp(a, "--revoke") == 0) b.revoke = v, i++;
    else if (strcmp(a, "--print-env") == 0) print_env = v, i++;
    else return fprintf(stderr, "refresh_fake: unknown %s\n", a), 2;
  }
  const char *op = "", *state = "";
  for (i++; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--op") == 0) op = argv[i + 1];
    if (strcmp(argv[i], "--state") == 0) state = argv[i + 1];
  }
  long n = (state[0] == 'n' ? atol(state + 1) : 0) + 1;
  if (b.log) log_line(op, n);
  if (print_env) {
    const char *value = getenv(print_env);
    fprintf(stderr, "refresh_fake %s=%s\n", print_env, value ? value : "");
  }
  char text[512];
  if (strcmp(op, CT_REFRESH_OP_REVOKE) == 0) {
    if (strcmp(b.revoke, "hang") == 0) hang();
    snprintf(text, sizeof text, "status=%s\ntoken=%s\nstate=n%ld\n",
             strcmp(b.revoke, "ok") == 0 ? "ok" : "failed",
             strcmp(b.revoke, "ok") == 0 ? "revoked" : "same", n);
    report(text);
    return 0;
  }
  if (b.hang) hang();
  if (b.exit_code) return (int)b.exit_code;
  if (b.flood) {
    char line[128];
    memset(line, 'a', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    for (int k = 0; k < 512; k++)
      if (write(CT_RFD_REPORT, line, sizeof line) < 0) break;
    return 0;
  }
  bool change = b.changes < 0 || n <= b.changes;
  if (!b.fail && change && b.app_change)
    rewrite(CT_RFD_APP, CT_RFD_OUT_APP, 'r', n, b.grow);
  if (!b.fail && change && b.token_change)
    rewrite(CT_RFD_TOKEN, CT_RFD_OUT_TOKEN, 't', n, 0);
  snprintf(text, sizeof text,
           "%sstatus=%s\ntoken=%s\napp=%s\napply_in_ms=%ld\ndue_ms=%ld\n"
           "state=n%ld\n%s%s",
           b.junk ? "not a key value line\nfuture_key=1\n" : "",
           b.fail ? "failed" : "ok",
           !b.fail && change && b.token_change ? "changed" : "same",
           !b.fail && change && b.app_change ? "changed" : "same", b.apply,
           b.due, n, b.fail ? "message=the fake was told to fail\n" : "",
           b.junk ? "message_extra=x\n" : "");
  report(text);
  if (b.leak && fork() == 0) { // holds fd 8 open, not the test's stdio
    close(0), close(1), close(2);
    struct timespec ts = {5, 0};
    nanosleep(&ts, NULL);
    _exit(0);
  }
  return 0;
}
