# The resident supervisor, linked static-pie against musl when musl-tools is
# installed: no shared libraries to map (lower RSS), no dynamic loader, so the
# LD_PRELOAD meant for the app (interposer delivery puts it in the
# supervisor's environment too) is never loaded into the supervisor, and
# still position-independent for ASLR. musl-gcc's specs do not know
# -static-pie, so the self-relocating rcrt1.o is linked by hand. Without
# musl-gcc it falls back to the default compiler, dynamically linked.
# SUPERVISOR_LINK links the target's .c prerequisites (the launcher uses it
# too).
MUSL_GCC := $(shell command -v musl-gcc 2>/dev/null)
MUSL_LIB ?= /usr/lib/$(shell $(CC) -dumpmachine | sed 's/-gnu$$/-musl/')
SUPERVISOR := $(OUT)/cloudtaser-supervisor
SUPERVISOR_SRC := $(filter-out supervisor/testapp.c,$(wildcard supervisor/*.c))

ifneq ($(and $(MUSL_GCC),$(wildcard $(MUSL_LIB)/rcrt1.o)),)
SUPERVISOR_LINK = $(MUSL_GCC) $(CFLAGS) -Os -fPIE -nostartfiles \
  $(MUSL_LIB)/rcrt1.o $(MUSL_LIB)/crti.o $(shell $(CC) -print-file-name=crtbeginS.o) \
  $(filter %.c,$^) $(shell $(CC) -print-file-name=crtendS.o) $(MUSL_LIB)/crtn.o \
  -Wl,-static,-pie,--no-dynamic-linker,-z,text $(LDFLAGS)
else
SUPERVISOR_LINK = $(CC) $(CFLAGS) -Os $(LDFLAGS) $(filter %.c,$^)
endif

$(SUPERVISOR): $(SUPERVISOR_SRC) $(wildcard supervisor/*.h) sdk/cloudtaser.h \
               supervisor/build.mk | $(OUT)
	$(SUPERVISOR_LINK) -o $@

# The app the supervisor tests run (records signals, sleeps).
$(OUT)/cloudtaser-supervisor-testapp: supervisor/testapp.c | $(OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

ALL += $(SUPERVISOR) $(OUT)/cloudtaser-supervisor-testapp \
       $(OUT)/refresh_launch $(OUT)/refresh_fake

# The generation test's writer: the supervisor's own in-place writer.
$(OUT)/region_flipper: testhelpers/region_flipper.c supervisor/region.c \
                       supervisor/log.c testhelpers/test_region.h | $(OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^)
ALL += $(OUT)/region_flipper
