// SPDX-License-Identifier: Apache-2.0
/* A fresh load of the enforcer's programs: pick the tier (BPF LSM where the
 * kernel allows it, the tracepoint fallback elsewhere), pick the programs
 * this kernel has hooks and kfuncs for, write the configuration, attach,
 * and record which BPF objects are ours. Pinning is pins.c's. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daemon.h"
#include "enforcer.skel.h"

#define LSM_LIST "/sys/kernel/security/lsm"

/* The kernel's own dev_t encoding (what inode->i_sb->s_dev holds). */
unsigned int kernel_dev(dev_t dev)
{
	return (major(dev) << 20) | minor(dev);
}

/* The inode and device of this process's executable: the BPF side lets a
 * process running it adopt or uninstall the pins once the daemon is gone. */
int exe_identity(unsigned long long *ino, unsigned int *dev)
{
	struct stat s;

	if (stat("/proc/self/exe", &s))
		return -errno;
	*ino = s.st_ino;
	*dev = kernel_dev(s.st_dev);
	return 0;
}

unsigned int object_id(int fd)
{
	struct bpf_prog_info info; /* id is the first field of every *_info */
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* Whether `bpf` is an active LSM. Attaching an LSM program "succeeds" even
 * when it is not, and then enforces nothing. */
static bool bpf_lsm_active(void)
{
	char buf[512];
	FILE *f = fopen(LSM_LIST, "r");

	if (!f && errno == ENOENT &&
	    mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL) == 0)
		f = fopen(LSM_LIST, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	for (char *save = NULL, *tok = strtok_r(buf, ",\n", &save); tok;
	     tok = strtok_r(NULL, ",\n", &save))
		if (strcmp(tok, "bpf") == 0)
			return true;
	return false;
}

static struct btf *vmlinux_btf(void)
{
	static struct btf *btf;

	if (!btf)
		btf = btf__load_vmlinux_btf();
	return btf;
}

static bool kernel_has(const char *prefix, const char *name, int kind)
{
	char full[128];
	struct btf *btf = vmlinux_btf();

	snprintf(full, sizeof(full), "%s%s", prefix, name);
	return btf && btf__find_by_name_kind(btf, full, kind) >= 0;
}

/* The tracepoint tier resolves pid numbers in the caller's namespace with
 * kfuncs of 6.13. */
static bool kernel_has_kfuncs(void)
{
	return kernel_has("", "bpf_task_from_vpid", BTF_KIND_FUNC) &&
	       kernel_has("", "bpf_task_release", BTF_KIND_FUNC);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void note_missing(struct state *st, const char *what)
{
	size_t len = strlen(st->hooks_missing);

	snprintf(st->hooks_missing + len, sizeof(st->hooks_missing) - len, "%s%s",
		 len ? "," : "", what);
}

/* Which programs to load: a tier's own, in the variant this kernel can
 * run, and only for hooks it has (the ones left out are reported). */
static void choose_programs(struct state *st, struct enforcer_bpf *skel, bool lsm)
{
	struct bpf_program *prog;

	st->hooks_missing[0] = 0;
	bpf_object__for_each_program(prog, skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		const char *name = bpf_program__name(prog);
		bool want;

		if (strncmp(sec, "lsm/", 4) == 0) {
			want = lsm;
			if (want && !kernel_has("bpf_lsm_", sec + 4, BTF_KIND_FUNC)) {
				note_missing(st, sec + 4);
				want = false;
			}
		} else if (strcmp(sec, "tp_btf/sched_process_fork") == 0 ||
			   strcmp(sec, "tp_btf/sched_process_exit") == 0) {
			want = true;
		} else {
			want = !lsm;
			if (has_suffix(name, "_kf"))
				want = want && st->kfuncs;
			else if (!strcmp(name, "ct_sys_enter"))
				want = want && !st->kfuncs;
			/* io_uring (or its tracepoint) may be compiled out */
			if (want && !kernel_has("btf_trace_", sec + 7, BTF_KIND_TYPEDEF)) {
				note_missing(st, sec + 7);
				want = false;
			}
		}
		bpf_program__set_autoload(prog, want);
	}
}

/* Maps the conf map and writes what the programs need before they run:
 * who the daemon is, the mode, the allow list, the pin directory. */
static int init_conf(struct state *st, bool lsm)
{
	struct ct_config *c;
	int fd = bpf_map__fd(st->skel->maps.conf), err;

	c = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED)
		return -errno;
	c->layout = CT_LAYOUT;
	c->flags = (st->opt.detect ? 0 : CT_CFG_ENFORCE) | (lsm ? CT_CFG_LSM : 0) |
		   (!lsm && st->kfuncs ? CT_CFG_KFUNCS : 0);
	err = exe_identity(&c->enforcer_exe_ino, &c->enforcer_exe_dev);
	if (err) {
		munmap(c, sysconf(_SC_PAGESIZE));
		return err;
	}
	c->pin_dir_ino = st->pin_ino;
	c->pin_dev = st->pin_dev;
	memcpy(c->allow, st->opt.allow, sizeof(c->allow));
	c->nallow = st->opt.nallow;
	c->nprotected = 0;
	__atomic_store_n(&c->enforcer_tgid, getpid(), __ATOMIC_SEQ_CST);
	st->conf = c;
	st->conf_fd = fd;
	return 0;
}

/* Tells the kernel side which BPF objects are ours: nobody else gets a
 * writable fd for our maps or any fd for our links. */
static void record_own_ids(struct state *st)
{
	struct ct_own_ids *ids = &st->conf->ids;
	struct bpf_link **links = (struct bpf_link **)&st->skel->links;
	size_t nlinks = sizeof(st->skel->links) / sizeof(*links);
	struct bpf_map *map;
	int n = 0;

	/* every map, the frozen .rodata included: a writable fd for it can
	 * change nothing, but nobody needs one either */
	bpf_object__for_each_map(map, st->skel->obj)
		if (n < CT_MAX_OWN_IDS && bpf_map__fd(map) >= 0)
			ids->map[n++] = object_id(bpf_map__fd(map));
	n = 0;
	for (size_t i = 0; i < nlinks && n < CT_MAX_OWN_IDS; i++)
		if (links[i])
			ids->link[n++] = object_id(bpf_link__fd(links[i]));
}

/* Opens, configures, loads and attaches one tier. Returns 0 or -errno;
 * on failure nothing is left loaded. */
static int load_tier(struct state *st, bool lsm)
{
	int err;

	st->skel = enforcer_bpf__open();
	if (!st->skel)
		return -errno;
	choose_programs(st, st->skel, lsm);
	err = enforcer_bpf__load(st->skel);
	if (!err)
		err = init_conf(st, lsm);
	if (!err)
		err = enforcer_bpf__attach(st->skel);
	if (err) {
		err = -errno ?: err;
		if (st->conf)
			munmap(st->conf, sysconf(_SC_PAGESIZE));
		st->conf = NULL;
		enforcer_bpf__destroy(st->skel);
		st->skel = NULL;
		return err;
	}
	st->lsm = lsm;
	st->protected_fd = bpf_map__fd(st->skel->maps.protected);
	st->events_fd = bpf_map__fd(st->skel->maps.events);
	record_own_ids(st);
	return 0;
}

int load_enforcer(struct state *st)
{
	int err;

	st->kfuncs = kernel_has_kfuncs();
	if (st->opt.tier != TIER_FALLBACK) {
		if (!bpf_lsm_active()) {
			snprintf(st->lsm_error, sizeof(st->lsm_error),
				 "bpf is not in " LSM_LIST " (boot with lsm=...,bpf)");
		} else {
			err = load_tier(st, true);
			if (err == 0)
				return 0;
			snprintf(st->lsm_error, sizeof(st->lsm_error),
				 "loading the LSM programs failed: %s", errname(-err));
		}
		if (st->opt.tier == TIER_LSM) {
			log_msg(CT_ERROR, "%s (--tier lsm)", st->lsm_error);
			return -ENOTSUP;
		}
		log_msg(CT_WARNING, "%s; using the tracepoint fallback (detect and kill)",
			st->lsm_error);
	}
	err = load_tier(st, false);
	if (err)
		log_msg(CT_ERROR, "loading the tracepoint fallback failed: %s", errname(-err));
	return err;
}
