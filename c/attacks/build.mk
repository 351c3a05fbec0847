# The root attack matrix's native pieces (tests/attacks/, scripts/attacks.ts):
# ct-rootattack, one attack by root on another process, and ct-app, the app
# the matrix runs under the wrapper (and a static build, as a grandchild that
# cannot load the interposer). Paths are relative to c/.
ATK_OUT := $(OUT)/attacks

ALL += $(ATK_OUT)/ct-rootattack $(ATK_OUT)/ct-app $(ATK_OUT)/ct-app-static

$(ATK_OUT):
	mkdir -p $(ATK_OUT)

$(ATK_OUT)/ct-%: attacks/%.c | $(ATK_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# A grandchild that cannot load the interposer (statically linked).
$(ATK_OUT)/ct-app-static: attacks/app.c | $(ATK_OUT)
	$(CC) $(CFLAGS) -static -o $@ $<
