# The benchmarks' native programs (scripts/bench/ runs them), into
# build/bench/ (getenv_bench: build/, where scripts/bench/getenv.ts finds it).
# Paths are relative to c/.
#
#   ct-bench-app     the app: stamps its first instruction, counts secrets
#   ct-bench-launch  stamps the start, forks, execs, waits
#   ct-bench_open    what the enforcer adds to open(2), in ns per call (also
#                    static, for the VM test)
#   getenv_bench     getenv cost with and without the interposer
#
# The bench app is glibc-dynamic: interposer delivery needs one.
BENCH_OUT := $(OUT)/bench
ALL += $(OUT)/getenv_bench $(BENCH_OUT)/ct-bench-app $(BENCH_OUT)/ct-bench-launch \
       $(BENCH_OUT)/ct-bench_open $(BENCH_OUT)/ct-bench_open-static

$(BENCH_OUT):
	mkdir -p $(BENCH_OUT)

$(OUT)/getenv_bench: bench/getenv_bench.c | $(OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -ldl

$(BENCH_OUT)/ct-bench-app: bench/bench_app.c | $(BENCH_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BENCH_OUT)/ct-bench-launch: bench/bench_launch.c | $(BENCH_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BENCH_OUT)/ct-bench_open: bench/bench_open.c | $(BENCH_OUT)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BENCH_OUT)/ct-bench_open-static: bench/bench_open.c | $(BENCH_OUT)
	$(CC) $(CFLAGS) -static $(LDFLAGS) -o $@ $<

# What scripts/bench/ needs (scripts/bench/native.ts builds it).
bench: $(OUT)/getenv_bench $(BENCH_OUT)/ct-bench-app $(BENCH_OUT)/ct-bench-launch \
       $(BENCH_OUT)/ct-bench_open
vm-bench: $(BENCH_OUT)/ct-bench_open-static
.PHONY: bench vm-bench
