// The supervisor's log lines (log.h).
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool log_json;

const char *errname(int e) {
  switch (e) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case ESRCH: return "ESRCH";
  case EINTR: return "EINTR";
  case EIO: return "EIO";
  case ENXIO: return "ENXIO";
  case E2BIG: return "E2BIG";
  case ENOEXEC: return "ENOEXEC";
  case EBADF: return "EBADF";
  case ECHILD: return "ECHILD";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL";
  case EMFILE: return "EMFILE";
  case ENOTTY: return "ENOTTY";
  case ETXTBSY: return "ETXTBSY";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case ENOSYS: return "ENOSYS";
  case ELOOP: return "ELOOP";
  case ENODEV: return "ENODEV";
  default: return "errno";
  }
}

size_t json_escape(char *buf, size_t at, size_t cap, const char *s) {
  for (; *s && at + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[at++] = '\\';
      buf[at++] = (char)c;
    } else if (c < 0x20) {
      at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", c);
    } else {
      buf[at++] = (char)c;
    }
  }
  return at;
}

static void emit(const char *level, const char *fields, const char *msg) {
  char line[2048];
  size_t n;
  if (log_json) {
    char when[32] = "";
    struct timespec ts = {0, 0};
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm))
      strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    n = (size_t)snprintf(line, sizeof line,
                         "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"program\":"
                         "\"" PROGRAM "\",\"pid\":%d,\"message\":\"",
                         when, ts.tv_nsec / 1000000, level, (int)getpid());
    n = json_escape(line, n, sizeof line - 3, msg);
    line[n++] = '"';
    if (fields && *fields) {
      size_t room = sizeof line - n - 2;
      int w = snprintf(line + n, room, ",%s", fields);
      if (w > 0) n += (size_t)w < room ? (size_t)w : room - 1;
    }
    line[n++] = '}';
  } else {
    char upper[16];
    size_t i = 0;
    for (; level[i] && i < sizeof upper - 1; i++)
      upper[i] = (char)(level[i] >= 'a' ? level[i] - 32 : level[i]);
    upper[i] = 0;
    n = (size_t)snprintf(line, sizeof line - 1, PROGRAM "[%d] %s %s%s%s",
                         (int)getpid(), upper, msg, fields ? " " : "",
                         fields ? fields : "");
    if (n > sizeof line - 2) n = sizeof line - 2;
  }
  line[n++] = '\n';
  for (size_t off = 0; off < n;) {
    ssize_t w = write(STDERR_FILENO, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; // stderr gone: nothing better to do
    off += (size_t)w;
  }
}

void say(const char *level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  emit(level, NULL, msg);
}

void say_with(const char *level, const char *fields, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  emit(level, fields, msg);
}

int fail(const char *call) {
  say("error", "%s failed: %s", call, errname(errno));
  return -1;
}

void warn_failed(const char *call) {
  say("warning", "%s failed: %s", call, errname(errno));
}
