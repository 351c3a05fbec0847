/**
 * Builds the benchmark's two small C programs (`native/app.c`,
 * `native/launch.c`) into `build/bench/`, when their source is newer.
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

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/**
 * Compiles what is stale with `cc -O2` (dynamically linked against glibc:
 * the interposer delivery needs a glibc-dynamic app).
 *
 * @example
 * ```ts
 * const tools = await buildBenchTools();
 * console.log(tools.app);
 * ```
 */
export async function buildBenchTools(): Promise<BenchTools> {
  const out = `${REPO}build/bench`;
  await Deno.mkdir(out, { recursive: true });
  const built: Record<string, string> = {};
  for (
    const [name, src] of [["ct-bench-app", "app.c"], [
      "ct-bench-launch",
      "launch.c",
    ]]
  ) {
    const bin = `${out}/${name}`;
    const source = `${HERE}native/${src}`;
    if (mtime(bin) < mtime(source)) {
      const r = await new Deno.Command("cc", {
        args: ["-O2", "-Wall", "-Wextra", "-Werror", "-o", bin, source],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!r.success) {
        throw new Error(
          `cc ${src} failed: ${new TextDecoder().decode(r.stderr)}`,
        );
      }
    }
    built[name] = bin;
  }
  return {
    app: built["ct-bench-app"],
    launch: built["ct-bench-launch"],
    entrypoint: `${HERE}entrypoint.sh`,
  };
}
