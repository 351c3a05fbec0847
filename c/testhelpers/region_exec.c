// Test launcher: hands secrets to a program the way cloudtaser-wrapper does,
// without the wrapper, where a test needs what the wrapper never makes (a
// corrupt region, given flags, an app started directly, the benchmark's
// getenv harness).
//
// usage: region_exec [--mode interposer|fd|env] [--preload LIB] [--memfd]
//                    [--corrupt magic|canary|count|unterminated]
//                    [--flags N (the header's CLOUDTASER_FLAG_* bits)]
//                    -- CMD [ARGS...]
//
// Reads KEY=VALUE lines from stdin up to an empty line or EOF (byte by byte,
// so the rest of stdin stays for CMD). Then, by mode:
//   interposer  region + CLOUDTASER_SECRET_FD + LD_PRELOAD (default LIB:
//               libcloudtaser_interposer.so beside this program)
//   fd          region + CLOUDTASER_SECRET_FD (the SDK reads it)
//   env         the secrets in the environment, no region
// The region is a memfd_secret file (memfd_create with --memfd) in the
// layout of cloudtaser.h, written by ct/region_write.h, with a random
// canary; its fd is inherited (no CLOEXEC). Secrets never appear in argv or
// on any output.
#define _GNU_SOURCE
#include <limits.h>

#include "test_region.h"

#define MAX_STDIN (1u << 24)

#define die test_die

// Reads stdin up to "\n\n" or EOF; returns the bytes, *len set.
static char *read_secrets(size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (buf == NULL) die("malloc");
  for (;;) {
    char c;
    ssize_t r = read(STDIN_FILENO, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("read stdin");
    if (r == 0) break;
    if (c == '\n' && (n == 0 || buf[n - 1] == '\n')) break;
    if (n + 1 >= cap) {
      if (cap >= MAX_STDIN) {
        errno = E2BIG;
        die("stdin");
      }
      buf = realloc(buf, cap *= 2);
      if (buf == NULL) die("realloc");
    }
    buf[n++] = c;
  }
  *len = n;
  return buf;
}

// Writes the lines as records into a new region, corrupted as asked;
// returns its fd.
static int make_region(const char *in, size_t len, int use_memfd,
                       const char *corrupt, uint32_t flags) {
  int fd = use_memfd ? memfd_create("cloudtaser-secrets", 0)
                     : (int)syscall(SYS_memfd_secret, 0);
  if (fd < 0) die(use_memfd ? "memfd_create" : "memfd_secret");
  unsigned char *m;
  size_t size, w;
  uint32_t count = test_region_fill(fd, in, len, flags, &m, &size, &w);
  if (corrupt != NULL) {
    if (strcmp(corrupt, "magic") == 0) m[0] ^= 0x20;
    else if (strcmp(corrupt, "canary") == 0) m[size - 1] ^= 0xff;
    else if (strcmp(corrupt, "count") == 0)
      ct_region_put32(m, CLOUDTASER_OFF_RECORD_COUNT, count + 1);
    else if (strcmp(corrupt, "unterminated") == 0 && w > CLOUDTASER_HEADER_SIZE)
      m[w - 1] = 'x';
    else {
      fprintf(stderr, "region_exec: unknown --corrupt %s\n", corrupt);
      exit(2);
    }
  }
  if (munmap(m, size) < 0) die("munmap");
  return fd;
}

// Adds the lines to this process's environment (env delivery).
static void put_env(char *in, size_t len) {
  for (size_t i = 0; i < len;) {
    char *nl = memchr(in + i, '\n', len - i);
    size_t l = nl ? (size_t)(nl - (in + i)) : len - i;
    in[i + l] = '\0'; // the last line may end at len: buffer has room
    char *eq = strchr(in + i, '=');
    if (eq != NULL && eq != in + i) {
      *eq = '\0';
      if (setenv(in + i, eq + 1, 1) < 0) die("setenv");
    }
    i += l + 1;
  }
}

int main(int argc, char **argv) {
  const char *mode = "interposer", *preload = NULL, *corrupt = NULL;
  int use_memfd = 0, i = 1;
  uint32_t flags = 0;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
      mode = argv[++i];
    } else if (strcmp(argv[i], "--preload") == 0 && i + 1 < argc) {
      preload = argv[++i];
    } else if (strcmp(argv[i], "--corrupt") == 0 && i + 1 < argc) {
      corrupt = argv[++i];
    } else if (strcmp(argv[i], "--flags") == 0 && i + 1 < argc) {
      flags = (uint32_t)strtoul(argv[++i], NULL, 0);
    } else if (strcmp(argv[i], "--memfd") == 0) {
      use_memfd = 1;
    } else {
      break;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "usage: %s [--mode interposer|fd|env] [--preload LIB] "
                    "[--memfd] [--corrupt WHAT] [--flags N] -- CMD [ARGS...]\n",
            argv[0]);
    return 2;
  }
  size_t len;
  char *in = read_secrets(&len);
  if (strcmp(mode, "env") == 0) {
    put_env(in, len);
  } else if (strcmp(mode, "interposer") == 0 || strcmp(mode, "fd") == 0) {
    int fd = make_region(in, len, use_memfd, corrupt, flags);
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    if (setenv(CLOUDTASER_FD_ENV, num, 1) < 0) die("setenv");
    if (strcmp(mode, "interposer") == 0) {
      char path[PATH_MAX];
      if (preload == NULL) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 64);
        if (n < 0) die("readlink /proc/self/exe");
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        strcpy(slash ? slash + 1 : path, "libcloudtaser_interposer.so");
        preload = path;
      }
      if (setenv("LD_PRELOAD", preload, 1) < 0) die("setenv");
    }
  } else {
    fprintf(stderr, "region_exec: unknown mode %s\n", mode);
    return 2;
  }
  explicit_bzero(in, len);
  free(in);
  execvp(argv[i], &argv[i]);
  int e = errno;
  fprintf(stderr, "region_exec: exec %s: %s\n", argv[i], strerror(e));
  return e == ENOENT ? CT_EXIT_NOT_FOUND : CT_EXIT_NOT_EXECUTABLE;
}
