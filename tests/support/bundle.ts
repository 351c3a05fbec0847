/**
 * The bundled wrapper: `deno bundle --platform=deno src/main.ts`, one file
 * with LogTape and every module of the run path, no npm or module
 * resolution left for start-up. What the install layout's `bundle` kind
 * runs (tests/support/images.ts), what `deno task build` writes to
 * build/cloudtaser-wrapper.js and what the benchmark starts. The one place
 * that knows how to make it.
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
  await Deno.rename(tmp, out);
  return out;
}

if (import.meta.main) {
  console.error(`bundle: wrote ${await bundleWrapper()}`);
}
