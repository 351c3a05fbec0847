// SPDX-License-Identifier: Apache-2.0
/* ct-register: registers itself with cloudtaser-enforcer, prints the
 * answer line on stdout, then execs the command (the pid, and so the
 * protection, carries over exec). A stand-in for the wrapper's
 * registration step, used by the tests and the VM initramfs.
 *
 *   ct-register SOCKET [-- COMMAND [ARGS...]]
 *
 * Exits 1 without exec when the enforcer does not answer
 * {"registered":true,...}: fail closed. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int read_answer(int fd, char *buf, size_t size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n;

		if (poll(&pfd, 1, 5000) != 1)
			return -ETIMEDOUT;
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = 0;
	return len ? 0 : -ECONNRESET;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char answer[512];
	int fd, err;

	if (argc < 2 || (argc > 2 && strcmp(argv[2], "--")) || argc == 3) {
		fprintf(stderr, "usage: ct-register SOCKET [-- COMMAND [ARGS...]]\n");
		return 2;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "ct-register: connect %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = read_answer(fd, answer, sizeof(answer));
	close(fd);
	if (err) {
		fprintf(stderr, "ct-register: no answer: %s\n", strerror(-err));
		return 1;
	}
	fputs(answer, stdout);
	fflush(stdout);
	if (!strstr(answer, "\"registered\":true"))
		return 1;
	if (argc < 4)
		return 0;
	execvp(argv[3], argv + 3);
	fprintf(stderr, "ct-register: exec %s: %s\n", argv[3], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
