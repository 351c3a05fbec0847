# cloudtaser-enforcer: the BPF object (clang -target bpf against a vmlinux.h
# dumped from the build host's BTF), its skeleton, the loader/daemon, and the
# test programs (registration stand-in, target, attacks). The *-static
# variants go into the VM test's initramfs.
BPF_CLANG ?= clang
BPFTOOL   ?= bpftool
ENF_OUT   := $(OUT)/enforcer
ENF_SRC   := enforcer
ENF_LIBS  := -lbpf -lelf -lz

ENF_ATTACKS := ct-target ct-attack ct-uring ct-signal ct-perf ct-bench_open
ENF_BINS := $(OUT)/cloudtaser-enforcer $(ENF_OUT)/ct-register $(ENF_OUT)/ct-bpfread \
            $(ENF_ATTACKS:%=$(ENF_OUT)/%)
ENF_STATIC := $(ENF_OUT)/cloudtaser-enforcer-static $(ENF_OUT)/ct-register-static \
              $(ENF_OUT)/ct-bpfread-static $(ENF_ATTACKS:%=$(ENF_OUT)/%-static)
ALL += $(ENF_BINS) $(ENF_STATIC)

$(ENF_OUT):
	mkdir -p $(ENF_OUT)

$(OUT)/vmlinux.h: | $(OUT)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(ENF_OUT)/enforcer.bpf.o: $(ENF_SRC)/enforcer.bpf.c $(ENF_SRC)/enforcer.h $(OUT)/vmlinux.h | $(ENF_OUT)
	$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
		-I$(OUT) -I$(ENF_SRC) -c $< -o $@

$(ENF_OUT)/enforcer.skel.h: $(ENF_OUT)/enforcer.bpf.o
	$(BPFTOOL) gen skeleton $< name enforcer_bpf > $@.tmp && mv $@.tmp $@

ENF_DAEMON := $(ENF_SRC)/enforcer.c $(ENF_SRC)/load.c $(ENF_SRC)/pins.c
ENF_DEPS   := $(ENF_DAEMON) $(ENF_SRC)/daemon.h $(ENF_SRC)/enforcer.h $(ENF_OUT)/enforcer.skel.h

$(OUT)/cloudtaser-enforcer: $(ENF_DEPS)
	$(CC) $(CFLAGS) -I$(ENF_OUT) -I$(ENF_SRC) $(LDFLAGS) -o $@ $(ENF_DAEMON) $(ENF_LIBS)

$(ENF_OUT)/cloudtaser-enforcer-static: $(ENF_DEPS)
	$(CC) $(CFLAGS) -I$(ENF_OUT) -I$(ENF_SRC) -static $(LDFLAGS) -o $@ $(ENF_DAEMON) $(ENF_LIBS)

# ct-bpfread: a foreign tracing program (the attack), built like the enforcer
$(ENF_OUT)/bpfread.bpf.o: $(ENF_SRC)/attacks/bpfread.bpf.c $(OUT)/vmlinux.h | $(ENF_OUT)
	$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(OUT) -c $< -o $@

$(ENF_OUT)/bpfread.skel.h: $(ENF_OUT)/bpfread.bpf.o
	$(BPFTOOL) gen skeleton $< name bpfread_bpf > $@.tmp && mv $@.tmp $@

$(ENF_OUT)/ct-bpfread: $(ENF_SRC)/attacks/bpfread.c $(ENF_SRC)/attacks/report.h $(ENF_OUT)/bpfread.skel.h
	$(CC) $(CFLAGS) -I$(ENF_OUT) $(LDFLAGS) -o $@ $< $(ENF_LIBS)

$(ENF_OUT)/ct-bpfread-static: $(ENF_SRC)/attacks/bpfread.c $(ENF_SRC)/attacks/report.h $(ENF_OUT)/bpfread.skel.h
	$(CC) $(CFLAGS) -I$(ENF_OUT) -static $(LDFLAGS) -o $@ $< $(ENF_LIBS)

$(ENF_OUT)/ct-register: $(ENF_SRC)/register.c | $(ENF_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(ENF_OUT)/ct-%: $(ENF_SRC)/attacks/%.c $(ENF_SRC)/attacks/report.h | $(ENF_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(ENF_OUT)/ct-register-static: $(ENF_SRC)/register.c | $(ENF_OUT)
	$(CC) $(CFLAGS) -static $(LDFLAGS) -o $@ $<

$(ENF_OUT)/ct-%-static: $(ENF_SRC)/attacks/%.c $(ENF_SRC)/attacks/report.h | $(ENF_OUT)
	$(CC) $(CFLAGS) -static $(LDFLAGS) -o $@ $< -lpthread
