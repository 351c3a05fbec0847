/* The one-line JSON report every attack program prints, and its exit
 * status: 0 the attack worked, 1 it was refused, 2 usage. (Under the
 * tracepoint fallback the enforcer kills the attacker instead: 128+9.)
 *   {"attack":"environ","pid":N,"result":"ok","bytes":K,"saw_secret":true}
 *   {"attack":"environ","pid":N,"result":"EPERM","errno":1,"step":"open"}
 * Secrets are recognised by their prefix; a report never holds a value. */
#ifndef CT_ATTACK_REPORT_H
#define CT_ATTACK_REPORT_H

#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#define MARK "CT-SECRET-"

static const char *what;
static int pid;
static char buf[1 << 16];

static inline int report_ok(long bytes)
{
	int saw = bytes > 0 && memmem(buf, bytes, MARK, strlen(MARK)) != NULL;

	printf("{\"attack\":\"%s\",\"pid\":%d,\"result\":\"ok\",\"bytes\":%ld,\"saw_secret\":%s}\n",
	       what, pid, bytes, saw ? "true" : "false");
	return 0;
}

static inline int report_err(const char *step, int err)
{
	printf("{\"attack\":\"%s\",\"pid\":%d,\"result\":\"%s\",\"errno\":%d,\"step\":\"%s\"}\n",
	       what, pid, strerrorname_np(err) ?: "unknown", err, step);
	return 1;
}

#endif
