# The attack programs (c/attacks/), into build/attacks/: root's attacks on
# another process and the processes they aim at, for the root attack matrix
# (tests/attacks/), the enforcer's tests (tests/enforcer/) and its VM test
# (scripts/vm/, which takes the -static builds). Paths are relative to c/.
#
#   ct-attack        one attack, probe or hunt (attack.c has the usage);
#                    ct-rootattack is the same program, hunting
#   ct-target        a process holding a secret everywhere attackers look
#   ct-app           the app the matrix runs under the wrapper (and a
#                    static build, a grandchild that cannot load the
#                    interposer)
#   ct-seize         a neighbour racing for the tracer slot of what starts
#   ct-uring, ct-signal, ct-perf, ct-bpfread   io_uring reads, signals,
#                    perf stack samples, a foreign tracing BPF program
ATK_OUT   := $(OUT)/attacks
ATK_SRC   := attacks/attack.c attacks/output.c attacks/memory.c attacks/inject.c \
             attacks/files.c \
             attacks/bpf_objects.c
ATK_H     := $(wildcard attacks/*.h)
ATK_TOOLS := ct-target ct-uring ct-signal ct-perf ct-seize
ATK_VM    := ct-attack ct-bpfread $(ATK_TOOLS)

ALL += $(ATK_OUT)/ct-attack $(ATK_OUT)/ct-rootattack $(ATK_OUT)/ct-bpfread \
       $(ATK_TOOLS:%=$(ATK_OUT)/%) $(ATK_OUT)/ct-app $(ATK_OUT)/ct-app-static \
       $(ATK_VM:%=$(ATK_OUT)/%-static)

$(ATK_OUT):
	mkdir -p $(ATK_OUT)

$(ATK_OUT)/ct-attack: $(ATK_SRC) $(ATK_H) | $(ATK_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(ATK_SRC)

$(ATK_OUT)/ct-attack-static: $(ATK_SRC) $(ATK_H) | $(ATK_OUT)
	$(CC) $(CFLAGS) -static $(LDFLAGS) -o $@ $(ATK_SRC)

# The hunt surface by name (attack.c), for the matrix.
$(ATK_OUT)/ct-rootattack: $(ATK_OUT)/ct-attack
	ln -sf ct-attack $@

# ct-bpfread: its BPF object and skeleton, built like the enforcer's.
$(ATK_OUT)/bpfread.bpf.o: attacks/bpfread.bpf.c $(OUT)/vmlinux.h | $(ATK_OUT)
	$(BPF_CC) -I$(OUT) -c $< -o $@

$(ATK_OUT)/bpfread.skel.h: $(ATK_OUT)/bpfread.bpf.o
	$(BPFTOOL) gen skeleton $< name bpfread_bpf > $@.tmp && mv $@.tmp $@

$(ATK_OUT)/ct-bpfread: attacks/bpfread.c $(ATK_H) $(ATK_OUT)/bpfread.skel.h
	$(CC) $(CFLAGS) -I$(ATK_OUT) $(LDFLAGS) -o $@ $< $(BPF_LIBS)

$(ATK_OUT)/ct-bpfread-static: attacks/bpfread.c $(ATK_H) $(ATK_OUT)/bpfread.skel.h
	$(CC) $(CFLAGS) -I$(ATK_OUT) -static $(LDFLAGS) -o $@ $< $(BPF_LIBS)

# The one-file programs.
$(ATK_OUT)/ct-%: attacks/%.c $(ATK_H) | $(ATK_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(ATK_OUT)/ct-%-static: attacks/%.c $(ATK_H) | $(ATK_OUT)
	$(CC) $(CFLAGS) -static $(LDFLAGS) -o $@ $< -lpthread

# The static builds the VM's initramfs holds.
vm-attacks: $(ATK_VM:%=$(ATK_OUT)/%-static)
.PHONY: vm-attacks
