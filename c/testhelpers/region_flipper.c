// Test writer for the region's generation seqlock
// (tests/supervisor/generation_test.ts): the supervisor's own in-place
// writer (c/supervisor/region.c region_write_in_place) flips a region
// between two record sets as fast as it can while a reader in another
// process (CMD) reads it.
//
// usage: region_flipper interposer|fd LIB -- CMD [ARGS...]
//   set a: K = 3000 x 'a', M = 100 x 'a'
//   set b: K = 1000 x 'b', M = 2000 x 'b'
// The region starts as set a. CMD gets it as CLOUDTASER_SECRET_FD (and
// LD_PRELOAD=LIB in interposer mode); the flips run until CMD exits; exits
// with CMD's status and prints "flips N" on stderr.
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "../supervisor/log.h"
#include "../supervisor/region.h"
#include "test_region.h"


static char *set(char letter, size_t k, size_t m, size_t *len) {
  char *s = malloc(k + m + 8);
  if (!s) test_die("malloc");
  size_t n = 0;
  s[n++] = 'K', s[n++] = '=';
  memset(s + n, letter, k), n += k;
  s[n++] = '\n', s[n++] = 'M', s[n++] = '=';
  memset(s + n, letter, m), n += m;
  s[n++] = '\n';
  *len = n;
  return s;
}

static int mapped(const char *lines, size_t len, struct region *r) {
  int fd = test_region(lines, len, false, 0);
  if (region_map(fd, r) < 0) test_die("region_map");
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0) {
    fprintf(stderr, "usage: region_flipper interposer|fd LIB -- CMD...\n");
    return 2;
  }
  size_t la, lb;
  char *a = set('a', 3000, 100, &la), *b = set('b', 1000, 2000, &lb);
  struct region live, ra, rb;
  int fd = mapped(a, la, &live); // sized for set a, which is the larger
  close(mapped(a, la, &ra));
  close(mapped(b, lb, &rb));
  char num[16];
  snprintf(num, sizeof num, "%d", fd);
  setenv(CLOUDTASER_FD_ENV, num, 1);
  if (strcmp(argv[1], "interposer") == 0) setenv("LD_PRELOAD", argv[2], 1);
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[4], argv + 4);
    _exit(127);
  }
  close(fd);
  unsigned long flips = 0;
  int ws;
  while (waitpid(pid, &ws, WNOHANG) == 0)
    if (region_write_in_place(&live, flips++ % 2 ? &ra : &rb) < 0)
      test_die("region_write_in_place");
  fprintf(stderr, "flips %lu\n", flips);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}
