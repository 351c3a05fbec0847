// The supervisor's log lines: one per event on stderr, in the format every
// C program of the project shares with the wrapper (ct/log_line.h, after
// src/log.ts). Messages name calls, paths and commands, never an
// environment value.
#ifndef CT_SUPERVISOR_LOG_H
#define CT_SUPERVISOR_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "ct/log_line.h"

#define PROGRAM "cloudtaser-supervisor"

// Set once in main: JSON lines unless stderr is a terminal.
extern bool log_json;

// The errno's name ("EPERM"), or "errno N" (ct/errname.h).
const char *errname(int e);

// One line at `level`.
__attribute__((format(printf, 2, 3))) void say(enum ct_level level,
                                               const char *fmt, ...);

// The same with extra JSON members after "message" (`fields` is the text
// between the braces, e.g. "\"a\":1,\"b\":true"); a terminal gets them as
// they are after the message.
__attribute__((format(printf, 3, 4))) void say_with(enum ct_level level,
                                                    const char *fields,
                                                    const char *fmt, ...);

// Reports a failed call (errno is still the call's) and returns -1.
int fail(const char *call);

// The same once the app runs: a warning, and the supervisor carries on.
void warn_failed(const char *call);

#endif
