# cloudtaser-enforcer: the BPF object (BPF_CC, Makefile), its skeleton, the
# loader/daemon, and ct-register (the registration step as a small C
# stand-in). The *-static variants go into the VM test's initramfs with the
# attack programs (attacks/build.mk).
ENF_OUT   := $(OUT)/enforcer
ENF_SRC   := enforcer

ENF_BINS   := $(OUT)/cloudtaser-enforcer $(ENF_OUT)/ct-register
ENF_STATIC := $(ENF_OUT)/cloudtaser-enforcer-static $(ENF_OUT)/ct-register-static
ALL += $(ENF_BINS) $(ENF_STATIC)

$(ENF_OUT):
	mkdir -p $(ENF_OUT)

$(ENF_OUT)/enforcer.bpf.o: $(ENF_SRC)/enforcer.bpf.c $(ENF_SRC)/enforcer.h $(OUT)/vmlinux.h | $(ENF_OUT)
	$(BPF_CC) -I$(OUT) -I$(ENF_SRC) -c $< -o $@

$(ENF_OUT)/enforcer.skel.h: $(ENF_OUT)/enforcer.bpf.o
	$(BPFTOOL) gen skeleton $< name enforcer_bpf > $@.tmp && mv $@.tmp $@

ENF_DAEMON := $(ENF_SRC)/enforcer.c $(ENF_SRC)/load.c $(ENF_SRC)/pins.c
ENF_DEPS   := $(ENF_DAEMON) $(ENF_SRC)/daemon.h $(ENF_SRC)/enforcer.h $(ENF_OUT)/enforcer.skel.h

$(OUT)/cloudtaser-enforcer: $(ENF_DEPS)
	$(CC) $(CFLAGS) -I$(ENF_OUT) -I$(ENF_SRC) $(LDFLAGS) -o $@ $(ENF_DAEMON) $(BPF_LIBS)

$(ENF_OUT)/cloudtaser-enforcer-static: $(ENF_DEPS)
	$(CC) $(CFLAGS) -I$(ENF_OUT) -I$(ENF_SRC) -static $(LDFLAGS) -o $@ $(ENF_DAEMON) $(BPF_LIBS)

$(ENF_OUT)/ct-register: $(ENF_SRC)/register.c | $(ENF_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(ENF_OUT)/ct-register-static: $(ENF_SRC)/register.c | $(ENF_OUT)
	$(CC) $(CFLAGS) -static $(LDFLAGS) -o $@ $<

# What the VM test (scripts/vm/run-lsm-test.sh) puts into its initramfs.
vm: $(ENF_OUT)/cloudtaser-enforcer-static $(ENF_OUT)/ct-register-static \
    vm-attacks vm-bench
.PHONY: vm
