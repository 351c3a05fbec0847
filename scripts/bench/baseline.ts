/**
 * The wrapper before issue 16's work, measured in the same run: the "half
 * the CPU per start" target compares against it, not against a number from
 * another day (this machine's speed drifts by a third within hours). The
 * tree of {@link BASELINE_COMMIT} is exported with `git archive` into the
 * bench cache and its native parts built once (the shim, the supervisor and
 * the interposer; `CLOUDTASER_BENCH_CACHE`); it runs as it ran then:
 * `deno run` of its `src/main.ts` with its own deno.json.
 */
import { benchCacheDir } from "./go_tools.ts";

/** The last commit before issue 16's start-up work. */
export const BASELINE_COMMIT = "29034d1";

const REPO = new URL("../../", import.meta.url).pathname;

/** What {@link prepareBaseline} found: the tree, or why there is none. */
export type Baseline = { dir: string } | { skipped: string };

async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${
        new TextDecoder().decode(out.stderr).trim().slice(-400)
      }`,
    );
  }
}

/** Exports and builds the baseline tree once; later runs reuse it. */
export async function prepareBaseline(): Promise<Baseline> {
  const dir = `${benchCacheDir()}/baseline-${BASELINE_COMMIT}`;
  const done = `${dir}/.built`;
  try {
    await Deno.stat(done);
    return { dir };
  } catch { /* not built yet */ }
  try {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir, { recursive: true });
    await run("sh", [
      "-c",
      `git -C "$1" archive "$2" | tar -x -C "$3"`,
      "sh",
      REPO,
      BASELINE_COMMIT,
      dir,
    ]);
    await run("make", [
      "-s",
      "-C",
      `${dir}/c`,
      "../build/libcloudtaser_shim.so",
      "../build/cloudtaser-supervisor",
      "../build/libcloudtaser_interposer.so",
    ]);
    await Deno.writeTextFile(done, `${BASELINE_COMMIT}\n`);
    return { dir };
  } catch (e) {
    return {
      skipped: `the baseline ${BASELINE_COMMIT} could not be built: ${
        (e as Error).message
      }`,
    };
  }
}

/** `deno run` of the baseline as its bench ran it. */
export function baselineArgv(dir: string): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    `${dir}/deno.json`,
    `${dir}/src/main.ts`,
    "--",
  ];
}
