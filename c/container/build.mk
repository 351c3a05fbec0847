# The app of the container tests (tests/container/), one source built three
# ways, each then put alone into an image: glibc dynamic (the image holds its
# loader and libc), glibc static (FROM scratch) and musl (the image holds
# musl's loader, as Alpine does). Paths are relative to c/.
MUSL_GCC ?= $(shell command -v musl-gcc 2>/dev/null)
CTR_OUT  := $(OUT)/container
CTR_APPS := $(CTR_OUT)/ct-app-glibc $(CTR_OUT)/ct-app-static
ifneq ($(MUSL_GCC),)
CTR_APPS += $(CTR_OUT)/ct-app-musl
endif
ALL += $(CTR_APPS)

$(CTR_OUT):
	mkdir -p $(CTR_OUT)

$(CTR_OUT)/ct-app-glibc: container/app.c | $(CTR_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(CTR_OUT)/ct-app-static: container/app.c | $(CTR_OUT)
	$(CC) $(CFLAGS) -static $(LDFLAGS) -o $@ $<

# musl ignores _FORTIFY_SOURCE; the flag alone would only warn.
$(CTR_OUT)/ct-app-musl: container/app.c | $(CTR_OUT)
	$(MUSL_GCC) $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS)) $(LDFLAGS) -o $@ $<
