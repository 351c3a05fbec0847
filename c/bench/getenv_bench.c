// getenv nanoseconds per call with 10, 100 and 1,000 environment entries,
// for present keys (hit) and absent keys (miss).
//
// Without the interposer it measures glibc's getenv. With the interposer
// preloaded (and a region) it measures both, on the same environ, run after
// run alternately, so a noisy machine slows both alike: the interposer's
// getenv (what the program resolves) and glibc's own (looked up in
// libc.so.6 directly). scripts/bench/getenv.ts runs it both ways.
//
// usage: getenv_bench [RUNS]   prints "mode=glibc|interposer|inactive", then
//   "entries=N kind=hit|miss glibc=X [interposer=Y]" (ns per call) each.
// The environment is padded with setenv to exactly N entries (start it with
// fewer: env -i). Hit keys are 16 entries spread evenly over environ, so a
// linear scan walks half of it on average; misses walk all of it. Each figure
// is the median of RUNS runs (default 9).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

#define NKEYS 16

static size_t env_count(void) {
  size_t n = 0;
  while (environ && environ[n]) n++;
  return n;
}

// Diverse names, as in a real environment: the first two letters vary.
static void pad_to(size_t n) {
  static unsigned seq;
  while (env_count() < n) {
    char key[64], val[64];
    unsigned s = seq++;
    snprintf(key, sizeof key, "%c%c_SETTING_%04u", 'A' + s % 26,
             'A' + (s / 26) % 26, s);
    snprintf(val, sizeof val, "value-%u-abcdefghijklmnop", s * 7919u);
    if (setenv(key, val, 1) < 0) {
      perror("setenv");
      exit(1);
    }
  }
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static volatile uintptr_t sink;

typedef char *(*getenv_fn)(const char *);

static double once(getenv_fn fn, char keys[NKEYS][64], long calls) {
  uintptr_t acc = 0;
  double t0 = now_ns();
  for (long i = 0; i < calls; i++) acc ^= (uintptr_t)fn(keys[i & (NKEYS - 1)]);
  sink ^= acc;
  return (now_ns() - t0) / (double)calls;
}

// Medians of `runs` alternating runs of a and (when set) b.
static void measure(getenv_fn a, getenv_fn b, char keys[NKEYS][64],
                    long calls, int runs, double *ma, double *mb) {
  double ta[64], tb[64];
  once(a, keys, calls / 4); // warm up
  if (b) once(b, keys, calls / 4);
  for (int r = 0; r < runs; r++) {
    ta[r] = once(a, keys, calls);
    if (b) tb[r] = once(b, keys, calls);
  }
  qsort(ta, (size_t)runs, sizeof ta[0], cmp_double);
  *ma = ta[runs / 2];
  if (b) {
    qsort(tb, (size_t)runs, sizeof tb[0], cmp_double);
    *mb = tb[runs / 2];
  }
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 9;
  if (runs < 1 || runs > 64) runs = 9;
  int (*active)(void) =
      (int (*)(void))dlsym(RTLD_DEFAULT, "cloudtaser_interposer_active");
  void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  getenv_fn glibc = libc ? (getenv_fn)dlsym(libc, "getenv") : NULL;
  if (glibc == NULL) {
    fprintf(stderr, "getenv_bench: cannot find glibc's getenv\n");
    return 1;
  }
  getenv_fn resolved = getenv; // the interposer's when preloaded
  getenv_fn other = resolved == glibc ? NULL : resolved;
  printf("mode=%s\n", active == NULL ? "glibc" : active() ? "interposer" : "inactive");
  const size_t sizes[] = {10, 100, 1000};
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    size_t n = sizes[si];
    if (env_count() > n) {
      fprintf(stderr, "getenv_bench: %zu entries already (run under env -i)\n",
              env_count());
      return 1;
    }
    pad_to(n);
    char hit[NKEYS][64], miss[NKEYS][64];
    for (int k = 0; k < NKEYS; k++) {
      const char *e = environ[(k * n) / NKEYS + n / (2 * NKEYS)];
      size_t kl = strcspn(e, "=");
      if (kl >= sizeof hit[k]) kl = sizeof hit[k] - 1;
      memcpy(hit[k], e, kl);
      hit[k][kl] = '\0';
      snprintf(miss[k], sizeof miss[k], "MISSING_KEY_%02d_X", k);
    }
    long calls = (long)(4000000.0 / (1.0 + (double)n / 20.0));
    for (int kind = 0; kind < 2; kind++) {
      double g = 0, ip = 0;
      measure(glibc, other, kind ? miss : hit, calls, runs, &g, &ip);
      printf("entries=%zu kind=%s glibc=%.2f", n, kind ? "miss" : "hit", g);
      if (other) printf(" interposer=%.2f", ip);
      printf("\n");
    }
    fflush(stdout);
  }
  return 0;
}
