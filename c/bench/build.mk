# getenv benchmark harness (scripts/bench/getenv.ts runs it).
ALL += $(OUT)/getenv_bench

$(OUT)/getenv_bench: bench/getenv_bench.c | $(OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -ldl
