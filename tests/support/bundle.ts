/**
 * The bundled wrapper: `deno bundle --platform=deno --code-splitting
 * src/main.ts`, an entry file with LogTape and every module of the run
 * path, no npm or module resolution left for start-up, and beside it the
 * chunks that only other commands load (`import()`: the webhook, the
 * refresh process, `install`, ...). What the install layout's `bundle` kind
 * runs (tests/support/images.ts), what `deno task build` writes to
 * build/cloudtaser-wrapper.js and what the benchmark starts. The one place
 * that knows how to make it.
 *
 * Why split: a start parses only what it runs. One file of every command
 * cost `run` 8 ms of CPU and 13 ms per start (31 interleaved runs,
 * docs/startup-profile.md).
 *
 * One fix-up after the bundler ({@linkcode denoUtil}): LogTape's Deno build
 * of its `inspect`, where the bundler picks its Node build.
 *
 * It lives in build/, chunks beside it, so that their
 * `new URL("../build/", import.meta.url)` (ffi/load.ts) is build/ itself,
 * as for ffi/load.ts in a checkout (and lib/build beside the layout's
 * lib/app/).
 *
 * @module
 */
import { bundleFiles } from "../../src/cli/install.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Where `deno task build` puts the bundle. */
export const BUNDLE = `${ROOT}build/cloudtaser-wrapper.js`;

/**
 * LogTape maps its internal `#util` import to `dist/util.node.js` under the
 * `node` condition, which its package.json lists before `deno`, so the
 * bundler takes the Node build. Its top-level `import util from "node:util"`
 * loads Deno's Node compatibility layer at every start, before any of our
 * code runs: about 6 ms of CPU per start, measured (an `import` of
 * `node:util` alone, 31 runs). LogTape's own Deno build
 * (`dist/util.deno.js`) is `Deno.inspect` with these options; the bundle gets
 * that instead. The wrapper's sink never calls it (src/log.ts formats with
 * JSON.stringify). Throws when the bundle imports `node:util` in any other
 * form: a LogTape upgrade that changes it must be looked at, not shipped.
 */
export function denoUtil(code: string): string {
  const parts = code.split(NODE_UTIL);
  if (parts.length > 2) {
    throw new Error(`bundle: ${NODE_UTIL} appears ${parts.length - 1} times`);
  }
  const out = parts.join(DENO_UTIL);
  if (STATIC_NODE_IMPORT.test(out)) {
    throw new Error(
      `bundle: a static import of a node: module is left ` +
        `(${STATIC_NODE_IMPORT.exec(out)![0]}); it would load Deno's Node ` +
        "compatibility layer at every start",
    );
  }
  return out;
}

const NODE_UTIL = 'import util from "node:util";';
const DENO_UTIL = "const util = { inspect: (v, o) => Deno.inspect(v, " +
  "{ colors: o?.colors, depth: o?.depth ?? void 0, compact: o?.compact ?? true }) };";
/** A top-level `import ... from "node:..."` (a dynamic `import()` is fine). */
export const STATIC_NODE_IMPORT =
  /^import\b[^;]*\bfrom\s*["']node:[^"']+["'];?/m;

/**
 * Bundles `entry` (default src/main.ts) into `out` (default
 * {@linkcode BUNDLE}), written to a temporary name and renamed: a reader
 * never sees half a bundle.
 *
 * @example
 * ```ts
 * await bundleWrapper(); // build/cloudtaser-wrapper.js
 * ```
 */
export async function bundleWrapper(
  out = BUNDLE,
  entry = `${ROOT}src/main.ts`,
): Promise<string> {
  const dir = out.replace(/\/[^/]*$/, "");
  const tmp = await Deno.makeTempDir({ dir, prefix: ".bundle-" });
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=deno",
        "--code-splitting",
        "--config",
        `${ROOT}deno.json`,
        "--outdir",
        tmp,
        entry,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) {
      throw new Error(
        `deno bundle ${entry} failed: ${new TextDecoder().decode(r.stderr)}`,
      );
    }
    const main = entry.replace(/^.*\//, "").replace(/\.ts$/, ".js");
    const chunks: string[] = [];
    for (const e of Deno.readDirSync(tmp)) {
      const path = `${tmp}/${e.name}`;
      await Deno.writeTextFile(path, denoUtil(await Deno.readTextFile(path)));
      if (e.name !== main) chunks.push(e.name);
    }
    // The chunks first, the entry last: whoever finds the entry finds its
    // chunks (content-hashed names: one already there is the same file).
    for (const c of chunks) await Deno.rename(`${tmp}/${c}`, `${dir}/${c}`);
    await Deno.rename(`${tmp}/${main}`, out);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  if (out === BUNDLE) await removeStaleChunks(dir);
  return out;
}

/**
 * Removes the chunk files in `dir` that no entry there loads any more
 * (left by earlier builds; the names change with the content).
 */
async function removeStaleChunks(dir: string): Promise<void> {
  const used = new Set<string>();
  const chunk = /^[\w$]+-[A-Z0-9]{8}\.js$/;
  const all: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isFile || !e.name.endsWith(".js")) continue;
    if (chunk.test(e.name)) all.push(e.name);
    else for (const f of bundleFiles(`${dir}/${e.name}`)) used.add(f);
  }
  for (const c of all) {
    if (!used.has(c)) await Deno.remove(`${dir}/${c}`).catch(() => {});
  }
}

if (import.meta.main) {
  console.error(`bundle: wrote ${await bundleWrapper()}`);
}
