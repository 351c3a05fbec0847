// The supervisor's log lines: one per event on stderr, JSON when stderr is
// not a terminal, text when it is (the wrapper's own format, src/log.ts).
// Messages name calls, paths and commands, never an environment value.
#ifndef CT_SUPERVISOR_LOG_H
#define CT_SUPERVISOR_LOG_H

#include <stdbool.h>
#include <stddef.h>

#define PROGRAM "cloudtaser-supervisor"

// Set once in main: JSON lines unless stderr is a terminal.
extern bool log_json;

// The errno's name ("EPERM"), or "errno".
const char *errname(int e);

// Appends `s` to buf as the inside of a JSON string; returns the new length.
size_t json_escape(char *buf, size_t at, size_t cap, const char *s);

// One line at `level` ("info", "warning", "error").
__attribute__((format(printf, 2, 3))) void say(const char *level,
                                               const char *fmt, ...);

// The same with extra JSON members after "message" (`fields` is the text
// between the braces, e.g. "\"a\":1,\"b\":true"); a terminal gets them as
// they are after the message.
__attribute__((format(printf, 3, 4))) void say_with(const char *level,
                                                    const char *fields,
                                                    const char *fmt, ...);

// Reports a failed call (errno is still the call's) and returns -1.
int fail(const char *call);

// The same once the app runs: a warning, and the supervisor carries on.
void warn_failed(const char *call);

#endif
