// The log line of every C program of the project, in the wrapper's format
// (src/log.ts): one line per event on stderr, JSON when stderr is not a
// terminal,
//   {"time":"2025-01-31T12:00:00.000Z","level":"warning","program":"P",
//    "pid":N,"message":"...",<extra members>}
// and text on a terminal:
//   P[N] WARNING message <extra members>
// Level names are LogTape's. Only constants, numbers, calls and paths go
// into a message, never a secret value. No allocation and no libc time
// functions (the interposer logs from vfork children, whose memory is the
// parent's); tests/ffi/constants_test.ts compares a line with src/log.ts.
#ifndef CT_LOG_LINE_H
#define CT_LOG_LINE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define CT_LOG_LEVELS(X)                                                       \
  X(CT_INFO, "info") X(CT_WARNING, "warning") X(CT_ERROR, "error")

#define CT__LEVEL_ENUM(id, name) id,
enum ct_level { CT_LOG_LEVELS(CT__LEVEL_ENUM) };
#undef CT__LEVEL_ENUM

static inline const char *ct_level_name(enum ct_level level) {
#define CT__LEVEL_CASE(id, name)                                               \
  case id:                                                                     \
    return name;
  switch (level) {
    CT_LOG_LEVELS(CT__LEVEL_CASE)
  default:
    return "error";
  }
#undef CT__LEVEL_CASE
}

// Appends s to buf as the inside of a JSON string; returns the new length.
// Stops where fewer than 8 bytes would be left.
static inline size_t ct_json_escape(char *buf, size_t at, size_t cap,
                                    const char *s) {
  static const char hex[] = "0123456789abcdef";
  for (; *s && at + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[at++] = '\\';
      buf[at++] = (char)c;
    } else if (c < 0x20) {
      const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      for (int i = 0; i < 6; i++) buf[at++] = esc[i];
    } else {
      buf[at++] = (char)c;
    }
  }
  return at;
}

static inline char *ct__digits(char *p, unsigned long long v, int width) {
  for (int i = width - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
  return p + width;
}

// "2025-01-31T12:00:00.000Z" (24 bytes and a NUL) for a CLOCK_REALTIME
// instant at or after 1970: the civil date from the day count (Howard
// Hinnant's days-to-civil algorithm).
static inline void ct_iso_time(const struct timespec *ts, char out[25]) {
  unsigned long long secs = ts->tv_sec > 0 ? (unsigned long long)ts->tv_sec : 0;
  unsigned long long days = secs / 86400 + 719468, rem = secs % 86400;
  unsigned long long era = days / 146097;
  unsigned doe = (unsigned)(days - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned day = doy - (153 * mp + 2) / 5 + 1;
  unsigned month = mp < 10 ? mp + 3 : mp - 9;
  unsigned long long year = yoe + era * 400 + (month <= 2);
  char *p = ct__digits(out, year % 10000, 4);
  *p++ = '-';
  p = ct__digits(p, month, 2);
  *p++ = '-';
  p = ct__digits(p, day, 2);
  *p++ = 'T';
  p = ct__digits(p, rem / 3600, 2);
  *p++ = ':';
  p = ct__digits(p, rem % 3600 / 60, 2);
  *p++ = ':';
  p = ct__digits(p, rem % 60, 2);
  *p++ = '.';
  p = ct__digits(p, (unsigned long long)ts->tv_nsec / 1000000 % 1000, 3);
  *p++ = 'Z';
  *p = 0;
}

// Formats one line, newline included, into buf; returns its length.
// `fields`: extra JSON members ("\"a\":1,\"b\":true") or NULL.
// Needs cap >= 256; a longer message is cut.
static inline size_t ct_log_format(char *buf, size_t cap, bool json,
                                   const char *program, enum ct_level level,
                                   const char *fields, const char *msg) {
  const char *name = ct_level_name(level);
  int w;
  size_t n;
  if (json) {
    char when[25] = "";
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_REALTIME, &ts);
    ct_iso_time(&ts, when);
    w = snprintf(buf, cap,
                 "{\"time\":\"%s\",\"level\":\"%s\",\"program\":\"%s\","
                 "\"pid\":%d,\"message\":\"",
                 when, name, program, (int)getpid());
    n = w < 0 ? 0 : (size_t)w < cap - 8 ? (size_t)w : cap - 8;
    n = ct_json_escape(buf, n, cap - 3, msg);
    buf[n++] = '"';
    if (fields && *fields) {
      size_t room = cap - n - 2;
      w = snprintf(buf + n, room, ",%s", fields);
      if (w > 0) n += (size_t)w < room ? (size_t)w : room - 1;
    }
    buf[n++] = '}';
  } else {
    char upper[16];
    size_t i = 0;
    for (; name[i] && i < sizeof upper - 1; i++)
      upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32
                                                         : name[i]);
    upper[i] = 0;
    w = snprintf(buf, cap - 1, "%s[%d] %s %s%s%s", program, (int)getpid(),
                 upper, msg, fields ? " " : "", fields ? fields : "");
    n = w < 0 ? 0 : (size_t)w < cap - 2 ? (size_t)w : cap - 2;
  }
  buf[n++] = '\n';
  return n;
}

// Writes the whole line to fd; a closed stderr is ignored (nothing better
// to do), errno is left as it was.
static inline void ct_log_write(int fd, const char *buf, size_t n) {
  int saved = errno;
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  errno = saved;
}

#endif
