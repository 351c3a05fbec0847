/**
 * The benchmark's small C programs (`c/bench/bench_app.c`,
 * `c/bench/bench_launch.c`), built by c/Makefile's `bench` target into
 * `build/bench/`: the Makefile is the only thing that compiles C.
 */
const HERE = new URL("./", import.meta.url).pathname;
const REPO = new URL("../../", import.meta.url).pathname;

/** Paths of the benchmark's native helpers. */
export interface BenchTools {
  /** ct-bench-app: stamps its first instruction, counts secrets, may hold. */
  app: string;
  /** ct-bench-launch: stamps the start, forks, execs, waits. */
  launch: string;
  /** The curl + jq shell entrypoint. */
  entrypoint: string;
}

/**
 * Runs `make -C c bench` (a no-op when nothing is stale) and returns where
 * the programs are. They are linked dynamically against glibc: the
 * interposer delivery needs a glibc-dynamic app.
 *
 * @example
 * ```ts
 * const tools = await buildBenchTools();
 * console.log(tools.app);
 * ```
 */
export async function buildBenchTools(): Promise<BenchTools> {
  const r = await new Deno.Command("make", {
    args: ["-s", "-C", `${REPO}c`, "bench"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    throw new Error(
      `make -C c bench failed: ${new TextDecoder().decode(r.stderr)}`,
    );
  }
  return {
    app: `${REPO}build/bench/ct-bench-app`,
    launch: `${REPO}build/bench/ct-bench-launch`,
    entrypoint: `${HERE}entrypoint.sh`,
  };
}
