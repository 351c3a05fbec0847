/**
 * The bundled wrapper: `deno bundle --platform=deno src/main.ts`, one file
 * with LogTape and every module of the run path, no npm or module
 * resolution left for start-up. What the install layout's `bundle` kind
 * runs (tests/support/images.ts), what `deno task build` writes to
 * build/cloudtaser-wrapper.js and what the benchmark starts. The one place
 * that knows how to make it.
 *
 * One fix-up after the bundler ({@linkcode denoUtil}): LogTape's Deno build
 * of its `inspect`, where the bundler picks its Node build.
 *
 * It lives in build/ so that its `new URL("../build/", import.meta.url)`
 * (ffi/load.ts) is build/ itself, as for ffi/load.ts in a checkout.
 *
 * @module
 */
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
  const tmp = `${out}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform=deno",
      "--config",
      `${ROOT}deno.json`,
      "-o",
      tmp,
      entry,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(
      `deno bundle ${entry} failed: ${new TextDecoder().decode(r.stderr)}`,
    );
  }
  try {
    await Deno.writeTextFile(tmp, denoUtil(await Deno.readTextFile(tmp)));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await Deno.rename(tmp, out);
  return out;
}

if (import.meta.main) {
  console.error(`bundle: wrote ${await bundleWrapper()}`);
}
