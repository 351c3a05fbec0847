/* The one-line JSON report of a probe attack (ct-attack's probe surface,
 * ct-uring, ct-signal, ct-perf, ct-bpfread), and its exit status: 0 the
 * attack worked, 1 it was refused, 2 usage. (Under the tracepoint fallback
 * the enforcer kills the attacker instead: 128+9.)
 *   {"attack":"environ","pid":N,"result":"ok","bytes":K,"saw_secret":true}
 *   {"attack":"environ","pid":N,"result":"EPERM","errno":1,"step":"open"}
 * Secrets are recognised by their prefix (MARK); a report never holds a
 * value. Each program is one file that sets `what` and `pid` (ct-attack:
 * only its output.c includes this). */
#ifndef CT_ATTACK_REPORT_H
#define CT_ATTACK_REPORT_H

#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#define MARK "CT-SECRET-"

static const char *what;
static int pid;
static char buf[1 << 16];

static inline int report_result(long bytes, int saw_secret)
{
	printf("{\"attack\":\"%s\",\"pid\":%d,\"result\":\"ok\",\"bytes\":%ld,\"saw_secret\":%s}\n",
	       what, pid, bytes, saw_secret ? "true" : "false");
	return 0;
}

/* What came back is in buf[0..bytes). */
static inline int report_ok(long bytes)
{
	return report_result(bytes, bytes > 0 && memmem(buf, bytes, MARK, strlen(MARK)) != NULL);
}

static inline int report_err(const char *step, int err)
{
	printf("{\"attack\":\"%s\",\"pid\":%d,\"result\":\"%s\",\"errno\":%d,\"step\":\"%s\"}\n",
	       what, pid, strerrorname_np(err) ?: "unknown", err, step);
	return 1;
}

#endif
