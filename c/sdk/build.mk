# The C SDK example (a single header, nothing else to build).
ALL += $(OUT)/cloudtaser_sdk_example

$(OUT)/cloudtaser_sdk_example: sdk/example.c sdk/cloudtaser.h | $(OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
