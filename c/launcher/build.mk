# The launcher that `install` writes as DIR/cloudtaser-wrapper: linked
# static-pie against musl exactly as the supervisor is (SUPERVISOR_LINK in
# supervisor/build.mk), so it runs in an image with no libc at all.
LAUNCHER := $(OUT)/cloudtaser-launcher

$(LAUNCHER): launcher/launcher.c launcher/build.mk supervisor/build.mk | $(OUT)
	$(SUPERVISOR_LINK) -o $@

# What a wrapper image needs at run time (the Containerfile builds only
# this: the rest of `all` wants the host's BTF and the BPF toolchain).
runtime: $(OUT)/libcloudtaser_shim.so $(OUT)/cloudtaser-supervisor \
         $(OUT)/libcloudtaser_interposer.so $(LAUNCHER)

ALL += $(LAUNCHER)
.PHONY: runtime
