// The supervisor's log lines (log.h).
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "ct/errname.h"

bool log_json;

const char *errname(int e) {
  static char unknown[24]; // one thread: the supervisor has no other
  return ct_errname_in(e, unknown, sizeof unknown);
}

static void emit(enum ct_level level, const char *fields, const char *fmt,
                 va_list ap) {
  char msg[1024], line[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n =
      ct_log_format(line, sizeof line, log_json, PROGRAM, level, fields, msg);
  ct_log_write(STDERR_FILENO, line, n);
}

void say(enum ct_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(level, NULL, fmt, ap);
  va_end(ap);
}

void say_with(enum ct_level level, const char *fields, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(level, fields, fmt, ap);
  va_end(ap);
}

int fail(const char *call) {
  say(CT_ERROR, "%s failed: %s", call, errname(errno));
  return -1;
}

void warn_failed(const char *call) {
  say(CT_WARNING, "%s failed: %s", call, errname(errno));
}
