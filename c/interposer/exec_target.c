// What a program exec would run is, seen from the interposer: can it load
// this library (a glibc-dynamic ELF of this architecture, not Go, not
// set-id), or not. The same table as the wrapper's own target inspection
// (src/delivery/elf.ts, docs/interposer.md), checked here at each exec
// because the app decides at run time what it starts.
//
// No allocation and only plain system calls: it runs between vfork and exec.
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "interposer.h"

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#else
#error "unsupported architecture"
#endif

// Linux's BINPRM_BUF_SIZE (what the kernel reads of a #! line) and its
// limit on nested interpreters.
#define SHEBANG_MAX 256
#define MAX_INTERPRETERS 4
#define NT_GO_BUILDID 4

static void foreign(struct ct_target *t, const char *fmt, const char *arg) {
  t->kind = CT_FOREIGN;
  snprintf(t->why, sizeof t->why, fmt, arg);
}

static int open_target(int dirfd, const char *path, int at_flags) {
  if ((at_flags & AT_EMPTY_PATH) && path[0] == '\0') {
    // The fd itself is the program, possibly opened O_PATH: reopen it.
    char p[40];
    snprintf(p, sizeof p, "/proc/self/fd/%d", dirfd);
    return open(p, O_RDONLY | O_CLOEXEC);
  }
  int nofollow = (at_flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0;
  return openat(dirfd, path, O_RDONLY | O_CLOEXEC | nofollow);
}

// True when a PT_NOTE segment carries a Go build ID.
static int has_go_note(int fd, const Elf64_Phdr *ph) {
  unsigned char notes[4096];
  size_t want = ph->p_filesz < sizeof notes ? ph->p_filesz : sizeof notes;
  ssize_t n = pread(fd, notes, want, (off_t)ph->p_offset);
  for (size_t p = 0; n > 0 && p + 12 <= (size_t)n;) {
    Elf64_Nhdr h;
    memcpy(&h, notes + p, sizeof h);
    size_t name = p + 12, desc = name + ((h.n_namesz + 3) & ~3u);
    if (desc > (size_t)n) break;
    if (h.n_type == NT_GO_BUILDID && h.n_namesz == 4 &&
        memcmp(notes + name, "Go\0", 3) == 0)
      return 1;
    p = desc + ((h.n_descsz + 3) & ~3u);
  }
  return 0;
}

static int is_glibc_loader(const char *interp) {
  const char *base = strrchr(interp, '/') ? strrchr(interp, '/') + 1 : interp;
  return (strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "ld64.so.", 8) == 0) &&
         strstr(base, ".so.") != NULL;
}

static void classify_elf(int fd, const unsigned char *head, size_t n,
                         struct ct_target *t) {
  Elf64_Ehdr eh;
  if (n < sizeof eh || head[EI_CLASS] != ELFCLASS64 ||
      head[EI_DATA] != ELFDATA2LSB) {
    foreign(t, "%sit is not a 64-bit little-endian ELF file", "");
    return;
  }
  memcpy(&eh, head, sizeof eh);
  if (eh.e_machine != HOST_MACHINE) {
    foreign(t, "%sit is built for another architecture", "");
    return;
  }
  char interp[256] = "";
  int go = 0, has_interp = 0;
  for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
    Elf64_Phdr ph;
    off_t at = (off_t)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize);
    if (eh.e_phentsize < sizeof ph || pread(fd, &ph, sizeof ph, at) != sizeof ph)
      break;
    if (ph.p_type == PT_INTERP && !has_interp) {
      size_t len = ph.p_filesz < sizeof interp - 1 ? ph.p_filesz
                                                     : sizeof interp - 1;
      ssize_t r = pread(fd, interp, len, (off_t)ph.p_offset);
      interp[r > 0 ? (size_t)r : 0] = '\0';
      has_interp = 1;
    } else if (ph.p_type == PT_NOTE && !go) {
      go = has_go_note(fd, &ph);
    }
  }
  if (!has_interp) {
    foreign(t, "%sit is statically linked (no PT_INTERP), so it ignores "
               "LD_PRELOAD", "");
  } else if (strncmp(strrchr(interp, '/') ? strrchr(interp, '/') + 1 : interp,
                     "ld-musl-", 8) == 0) {
    foreign(t, "it uses musl (%s), whose loader cannot load a glibc library",
            interp);
  } else if (!is_glibc_loader(interp)) {
    foreign(t, "its loader %s is not glibc's", interp);
  } else if (go) {
    foreign(t, "%sit is a Go program, which reads its environment from the "
               "initial stack, not through getenv", "");
  } else {
    t->kind = CT_INTERPOSABLE;
  }
}

// The interpreter path of a #! line, in place in `line`; NULL if none.
static char *shebang(char *line, size_t n) {
  line[n < SHEBANG_MAX ? n : SHEBANG_MAX - 1] = '\0';
  char *p = line + 2;
  p += strspn(p, " \t");
  size_t len = strcspn(p, " \t\n\r");
  if (len == 0) return NULL;
  p[len] = '\0';
  return p;
}

// Set-id programs run with AT_SECURE when they change credentials: the
// loader then ignores an LD_PRELOAD path with a slash. So do programs with
// file capabilities run by anyone but root.
static int secure_exec(int fd, const struct stat *st) {
  if ((st->st_mode & S_ISUID) && st->st_uid != geteuid()) return 1;
  if ((st->st_mode & S_ISGID) && st->st_gid != getegid()) return 1;
  return geteuid() != 0 &&
         fgetxattr(fd, "security.capability", NULL, 0) >= 0;
}

void ct_inspect(int dirfd, const char *path, int at_flags, int sh_fallback,
                struct ct_target *t) {
  t->kind = CT_UNREACHABLE;
  t->why[0] = '\0';
  char line[SHEBANG_MAX], next[SHEBANG_MAX];
  for (int depth = 0; depth <= MAX_INTERPRETERS; depth++) {
    int fd = open_target(dirfd, path, at_flags);
    if (fd < 0) {
      // Execute-only: it would run, but we cannot see what it is.
      if (errno == EACCES && faccessat(dirfd, path, X_OK, AT_EACCESS) == 0)
        foreign(t, "%sit cannot be read to check that it loads the "
                   "interposer", "");
      return;
    }
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
      n = pread(fd, line, sizeof line, 0);
    if (n >= 0 && secure_exec(fd, &st)) {
      foreign(t, "%sit is set-user-ID, set-group-ID or has file "
                 "capabilities, so the loader ignores LD_PRELOAD", "");
    } else if (n >= SELFMAG && memcmp(line, ELFMAG, SELFMAG) == 0) {
      classify_elf(fd, (unsigned char *)line, (size_t)n, t);
    } else if (n >= 2 && line[0] == '#' && line[1] == '!') {
      char *interp = shebang(line, (size_t)n);
      close(fd);
      if (interp == NULL) return; // the kernel refuses it (ENOEXEC)
      snprintf(next, sizeof next, "%s", interp);
      path = next;
      dirfd = AT_FDCWD;
      at_flags = 0;
      sh_fallback = 0;
      continue;
    } else if (n >= 0 && sh_fallback) {
      close(fd);
      path = "/bin/sh"; // execvp runs such a file with the shell
      dirfd = AT_FDCWD;
      at_flags = 0;
      sh_fallback = 0;
      continue;
    }
    // Otherwise: not a regular file, unreadable, or of no format the
    // kernel knows (ENOEXEC): unreachable.
    close(fd);
    return;
  }
  // Nested deeper than Linux follows: the exec fails with ELOOP.
  t->kind = CT_UNREACHABLE;
}
