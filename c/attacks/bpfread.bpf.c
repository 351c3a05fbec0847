// SPDX-License-Identifier: GPL-2.0
/* ct-bpfread's program: a foreign tracing program as root would load it.
 * On every syscall entry of the target it reads LEN bytes at ADDR through
 * the target's own page tables (bpf_probe_read_user), which memfd_secret
 * does not stop: its pages are out of the kernel's direct map, not out of
 * the process's mappings. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define LOOT_LEN 64

const volatile __u32 target_tgid = 0;
const volatile __u64 target_addr = 0;

struct loot {
	__u32 done;
	char data[LOOT_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loot);
} loot SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(read_secret, struct pt_regs *regs, long id)
{
	__u32 key = 0;
	struct loot *l;

	if (bpf_get_current_pid_tgid() >> 32 != target_tgid)
		return 0;
	l = bpf_map_lookup_elem(&loot, &key);
	if (!l || l->done)
		return 0;
	if (bpf_probe_read_user(l->data, LOOT_LEN, (void *)target_addr) == 0)
		l->done = 1;
	return 0;
}
