/**
 * getenv benchmark: nanoseconds per call through the interposer against
 * glibc's own, with 10, 100 and 1,000 environment entries, hit and miss.
 *
 * Builds the C parts, then runs build/getenv_bench twice under a cleared
 * environment with five secrets: once without the interposer (glibc alone,
 * `glibcAloneNs`), once with LD_PRELOAD and a region, where the harness times
 * the interposer's getenv and glibc's own on the same environ, run after run
 * alternately (`interposerNs`, `glibcNs`): on a busy machine the alternation
 * keeps the comparison fair. Each figure is a median of several runs.
 *
 * Run directly to print a table: `deno run -A scripts/bench/getenv.ts`.
 */
import { nativePath } from "../../ffi/mod.ts";

/** One measurement. */
export interface GetenvBenchRow {
  entries: number;
  kind: "hit" | "miss";
  /** glibc's getenv, same process and environ as the interposer's. */
  glibcNs: number;
  /** The interposer's getenv. */
  interposerNs: number;
  /** glibc's getenv in a process without the interposer. */
  glibcAloneNs: number;
}

const REPO = new URL("../../", import.meta.url).pathname;
const SECRETS = Array.from(
  { length: 5 },
  (_, i) => `CT_BENCH_SECRET_${i}=bench-value-${i}-0123456789abcdef`,
).join("\n") + "\n\n";

async function runBench(mode: "env" | "interposer", runs: number) {
  const child = new Deno.Command(nativePath("region_exec"), {
    args: ["--mode", mode, "--", nativePath("getenv_bench"), String(runs)],
    clearEnv: true,
    env: {},
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(SECRETS));
  await w.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(
      `getenv_bench (${mode}) exited ${out.code}: ` +
        new TextDecoder().decode(out.stderr),
    );
  }
  const want = mode === "env" ? "glibc" : "interposer";
  if (!text.startsWith(`mode=${want}\n`)) {
    throw new Error(`getenv_bench ran in ${text.split("\n")[0]}, not ${want}`);
  }
  const rows = new Map<string, Record<string, number>>();
  for (const m of text.matchAll(/^entries=(\d+) kind=(\w+) (.*)$/gm)) {
    const vals: Record<string, number> = {};
    for (const kv of m[3].split(" ")) {
      const [k, v] = kv.split("=");
      vals[k] = Number(v);
    }
    rows.set(`${m[1]} ${m[2]}`, vals);
  }
  return rows;
}

/**
 * Builds and runs the harness; resolves to one row per size and kind.
 *
 * @example
 * ```ts
 * for (const r of await benchGetenv()) console.log(r.entries, r.kind, r.interposerNs);
 * ```
 */
export async function benchGetenv(
  opts: { runs?: number } = {},
): Promise<GetenvBenchRow[]> {
  const runs = opts.runs ?? 9;
  const make = await new Deno.Command("make", {
    args: ["-s", "-C", `${REPO}c`],
  })
    .output();
  if (make.code !== 0) {
    throw new Error(`make failed: ${new TextDecoder().decode(make.stderr)}`);
  }
  const alone = await runBench("env", runs);
  const both = await runBench("interposer", runs);
  const out: GetenvBenchRow[] = [];
  for (const entries of [10, 100, 1000]) {
    for (const kind of ["hit", "miss"] as const) {
      const a = alone.get(`${entries} ${kind}`);
      const b = both.get(`${entries} ${kind}`);
      if (!a || !b) throw new Error(`no result for ${entries} ${kind}`);
      out.push({
        entries,
        kind,
        glibcNs: b.glibc,
        interposerNs: b.interposer,
        glibcAloneNs: a.glibc,
      });
    }
  }
  return out;
}

/** The rows as a Markdown table. */
export function formatGetenvTable(rows: GetenvBenchRow[]): string {
  const lines = [
    "| entries | kind | glibc ns | interposer ns | ratio | glibc alone ns |",
    "|---:|---|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.entries} | ${r.kind} | ${r.glibcNs.toFixed(1)} | ${
        r.interposerNs.toFixed(1)
      } | ${(r.interposerNs / r.glibcNs).toFixed(2)} | ${
        r.glibcAloneNs.toFixed(1)
      } |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  console.log(formatGetenvTable(await benchGetenv()));
}
