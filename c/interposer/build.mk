# The getenv interposer, its test probe (glibc-dynamic, static, and musl when
# musl-gcc exists), exec_probe and the region launcher for tests. Paths are
# relative to c/.
INTERPOSER := $(OUT)/libcloudtaser_interposer.so
PROBES     := $(OUT)/interposer_probe $(OUT)/interposer_probe_static
MUSL_GCC   := $(shell command -v musl-gcc 2>/dev/null)
ifneq ($(MUSL_GCC),)
PROBES     += $(OUT)/interposer_probe_musl
endif
ALL += $(INTERPOSER) $(PROBES) $(OUT)/region_exec $(OUT)/exec_probe

INTERPOSER_SRC := interposer/interposer.c interposer/exec.c \
  interposer/exec_target.c interposer/child_env.c interposer/spawn.c

$(INTERPOSER): $(INTERPOSER_SRC) interposer/interposer.h | $(OUT)
	$(CC) $(CFLAGS) -shared -fvisibility=hidden $(LDFLAGS) -o $@ \
	  $(INTERPOSER_SRC) -ldl -lpthread

$(OUT)/interposer_probe: interposer/probe.c | $(OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# Starts a program through each interposed exec/spawn function.
$(OUT)/exec_probe: interposer/exec_probe.c | $(OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(OUT)/interposer_probe_static: interposer/probe.c | $(OUT)
	$(CC) $(CFLAGS) -static -o $@ $<

$(OUT)/interposer_probe_musl: interposer/probe.c | $(OUT)
	$(MUSL_GCC) $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS)) -o $@ $<
