/* The loader/daemon's own state, shared by enforcer.c (main loop,
 * registration, events), load.c (a fresh load of one tier) and pins.c
 * (pinning, adoption, --uninstall). */
#ifndef CLOUDTASER_DAEMON_H
#define CLOUDTASER_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "ct/log_line.h"
#include "enforcer.h"

#define DEFAULT_SOCKET  "/run/cloudtaser/enforcer.sock"
#define DEFAULT_PIN_DIR "/sys/fs/bpf/cloudtaser"
#define CT_MAX_LINKS    24
#define CT_PIN_NAME     48

enum tier { TIER_AUTO, TIER_LSM, TIER_FALLBACK };

struct options {
	const char *socket_path;
	mode_t socket_mode;
	bool detect;
	enum tier tier;
	bool verbose;
	const char *pin_dir;
	bool uninstall;
	struct ct_allow allow[CT_MAX_ALLOW];
	unsigned int nallow;
};

/* A pinned object the daemon holds an fd for (so it can pin it again). */
struct pinned {
	int fd;
	char name[CT_PIN_NAME]; /* file name in the pin directory */
};

struct state {
	struct options opt;
	struct enforcer_bpf *skel; /* a fresh load; NULL when adopted */
	int protected_fd;
	int events_fd;
	int conf_fd;
	struct ct_config *conf; /* the conf map, mmapped read-write */
	unsigned long long pin_ino; /* the pin directory, once it exists */
	unsigned int pin_dev;       /* (kernel dev_t of its bpffs) */
	struct pinned objs[CT_MAX_LINKS + 3];
	int nobjs;
	bool lsm;               /* the LSM tier runs */
	bool kfuncs;            /* the tracepoint tier has the 6.13 kfuncs */
	bool adopted;           /* the programs were pinned by an earlier daemon */
	char lsm_error[160];    /* why the LSM tier does not run, when it does not */
	char hooks_missing[160];/* LSM hooks this kernel lacks (left out) */
	struct ring_buffer *rb;
	int listen_fd;
	int signal_fd;
	int epoll_fd;
	int inotify_fd;
	int pin_watch;
};

/* enforcer.c: log lines on stderr in the format all C programs share
 * (ct/log_line.h), errno names as ct/errname.h has them ("errno N" for
 * another) */
void log_msg(enum ct_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *errname(int err);
void json_string(char *out, size_t size, const char *s, size_t max);

/* load.c: a fresh load of the best tier the options allow, configured,
 * attached; 0 or -errno (then nothing is left loaded). */
int load_enforcer(struct state *st);
unsigned int object_id(int fd);
int exe_identity(unsigned long long *ino, unsigned int *dev);
unsigned int kernel_dev(dev_t dev);

/* pins.c */
int prepare_pin_dir(struct state *st);
bool pins_exist(const char *dir);
int pin_all(struct state *st);
int adopt_pins(struct state *st);
int uninstall_pins(const struct options *opt);
int watch_pins(struct state *st);
void repin(struct state *st);

#endif
