// Test probe for the interposer: runs a list of environment operations given
// in argv and prints one line per operation. It prints lengths and FNV-1a-64
// hashes of values, never a value, so test output can be searched for the
// secrets. Built three ways by build.mk: glibc-dynamic, static, musl.
//
//   get K        getenv(K)            -> "get K len=N fnv=HEX" | "get K unset"
//   secure K     secure_getenv(K)
//   env K        first K in environ   -> "env K len=N fnv=HEX count=C" | unset
//   where K      where getenv(K) points: "secretmem" (the region) or "other"
//   errno K      errno survives getenv: "errno K kept" | "errno K lost"
//   set K V      setenv(K, V, 1)      set0 K V   setenv(K, V, 0)
//   unset K      unsetenv(K)          put K=V    putenv (a copy)
//   clear        clearenv()
//   smash K      flip the last byte of the mapping getenv(K) points into (the
//                region copy's canary): a stray write the interposer must see
//   wait         print "ready", then block until stdin closes
//   exec P A...  execvp the rest of argv with environ
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static uint64_t fnv64(const char *s) {
  uint64_t h = 14695981039346656037ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void show(const char *op, const char *k, const char *v) {
  if (v == NULL)
    printf("%s %s unset\n", op, k);
  else
    printf("%s %s len=%zu fnv=%016" PRIx64 "\n", op, k, strlen(v), fnv64(v));
}

// The end of the mapping holding p, or 0.
static uintptr_t mapping_end(const void *p) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return 0;
  char line[512];
  uintptr_t a = (uintptr_t)p, end = 0;
  while (!end && fgets(line, sizeof line, f)) {
    uintptr_t lo, hi;
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 && a >= lo &&
        a < hi)
      end = hi;
  }
  fclose(f);
  return end;
}

// True when p lies in a mapping whose path is /secretmem.
static int in_secretmem(const void *p) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return 0;
  char line[512];
  int found = 0;
  uintptr_t a = (uintptr_t)p;
  while (!found && fgets(line, sizeof line, f)) {
    uintptr_t lo, hi;
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 && a >= lo &&
        a < hi && strstr(line, "/secretmem") != NULL)
      found = 1;
  }
  fclose(f);
  return found;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *op = argv[i];
    const char *a = i + 1 < argc ? argv[i + 1] : "";
    const char *b = i + 2 < argc ? argv[i + 2] : "";
    if (strcmp(op, "get") == 0) {
      show(op, a, getenv(a));
      i++;
    } else if (strcmp(op, "secure") == 0) {
      show(op, a, secure_getenv(a));
      i++;
    } else if (strcmp(op, "env") == 0) {
      size_t n = strlen(a), count = 0;
      const char *first = NULL;
      for (char **ep = environ; ep && *ep; ep++)
        if (strncmp(*ep, a, n) == 0 && (*ep)[n] == '=') {
          if (!first) first = *ep + n + 1;
          count++;
        }
      if (first)
        printf("env %s len=%zu fnv=%016" PRIx64 " count=%zu\n", a,
               strlen(first), fnv64(first), count);
      else
        printf("env %s unset\n", a);
      i++;
    } else if (strcmp(op, "where") == 0) {
      const char *v = getenv(a);
      printf("where %s %s\n", a,
             v == NULL ? "unset" : in_secretmem(v) ? "secretmem" : "other");
      i++;
    } else if (strcmp(op, "errno") == 0) {
      errno = 4242;
      const char *v = getenv(a);
      int kept = errno == 4242;
      printf("errno %s %s %s\n", a, kept ? "kept" : "lost", v ? "set" : "unset");
      i++;
    } else if (strcmp(op, "set") == 0 || strcmp(op, "set0") == 0) {
      int rc = setenv(a, b, op[3] != '0');
      printf("%s %s rc=%d\n", op, a, rc);
      i += 2;
    } else if (strcmp(op, "unset") == 0) {
      printf("unset %s rc=%d\n", a, unsetenv(a));
      i++;
    } else if (strcmp(op, "put") == 0) {
      char *copy = strdup(a); // putenv keeps the pointer
      printf("put rc=%d\n", putenv(copy));
      i++;
    } else if (strcmp(op, "clear") == 0) {
      printf("clear rc=%d\n", clearenv());
    } else if (strcmp(op, "smash") == 0) {
      char *v = getenv(a);
      uintptr_t end = v ? mapping_end(v) : 0;
      if (end) ((volatile char *)end)[-1] ^= 0x5a;
      printf("smash %s %s\n", a, end ? "done" : "no mapping");
      i++;
    } else if (strcmp(op, "wait") == 0) {
      printf("ready %d\n", (int)getpid());
      fflush(stdout);
      char buf[64];
      while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
      }
    } else if (strcmp(op, "exec") == 0) {
      fflush(stdout);
      execvp(argv[i + 1], &argv[i + 1]);
      perror("execvp");
      return 127;
    } else {
      fprintf(stderr, "probe: unknown operation %s\n", op);
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
