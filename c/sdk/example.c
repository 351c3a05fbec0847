// Example for c/sdk/cloudtaser.h, used by the tests: opens the region from
// CLOUDTASER_SECRET_FD and prints, for each key in argv, its length and
// FNV-1a-64 hash (never the value), then every key in the region.
// With --wait as the first argument it prints "ready" and blocks until stdin
// closes, so a test can inspect /proc/<pid> while the mapping is live.
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cloudtaser.h"

static uint64_t fnv64(const char *p, size_t n) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

int main(int argc, char **argv) {
  int first = 1, wait = 0;
  if (argc > 1 && strcmp(argv[1], "--wait") == 0) wait = first = 2;
  cloudtaser_secrets s;
  int rc = cloudtaser_open(&s);
  if (rc < 0) {
    fprintf(stderr, "cloudtaser_open: %s\n", strerror(-rc));
    return 1;
  }
  printf("count %" PRIu32 "\n", s.count);
  for (int i = first; i < argc; i++) {
    const char *v;
    size_t n;
    if (cloudtaser_get(&s, argv[i], &v, &n) == 1)
      printf("get %s len=%zu fnv=%016" PRIx64 " nul=%d\n", argv[i], n,
             fnv64(v, n), v[n] == '\0');
    else
      printf("get %s unset\n", argv[i]);
  }
  size_t cur = 0;
  cloudtaser_record r;
  while (cloudtaser_next(&s, &cur, &r))
    printf("key %.*s\n", (int)r.key_len, r.key);
  printf("fdvar %s\n", getenv(CLOUDTASER_FD_ENV) ? "set" : "unset");
  if (wait) {
    printf("ready\n");
    fflush(stdout);
    char buf[64];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
  }
  fflush(stdout);
  cloudtaser_close(&s);
  return 0;
}
