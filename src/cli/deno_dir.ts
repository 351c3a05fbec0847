/**
 * DENO_DIR as the launcher sets it (c/launcher): the layout's own
 * `lib/deno-dir`, so that Deno never loads compiled code or module analysis
 * from a directory the app can write. The app's own DENO_DIR (or none)
 * comes back here, before anything reads the environment for the app.
 */

/** Where the launcher keeps the app's DENO_DIR while the wrapper runs. */
export const APP_DENO_DIR = "CLOUDTASER_APP_DENO_DIR";

let layoutDir: string | undefined;

/**
 * The layout's Deno cache directory when the launcher started this process
 * (found by {@link restoreAppDenoDir}): a refresh process gets it as its
 * DENO_DIR (the supervisor's `--deno-dir`).
 */
export function layoutDenoDir(): string | undefined {
  return layoutDir;
}

/**
 * Puts DENO_DIR back as the app had it when the launcher pointed it at the
 * layout (`ROOT/lib/deno-dir`, beside `ROOT/lib/ld.so`, which is what
 * Deno.execPath() is under the launcher); does nothing otherwise.
 */
export function restoreAppDenoDir(
  execPath = Deno.execPath(),
  env: Pick<typeof Deno.env, "get" | "set" | "delete"> = Deno.env,
): void {
  const lib = execPath.replace(/\/[^/]*$/, "");
  if (env.get("DENO_DIR") !== `${lib}/deno-dir`) return;
  layoutDir = `${lib}/deno-dir`;
  const app = env.get(APP_DENO_DIR);
  if (app === undefined) env.delete("DENO_DIR");
  else env.set("DENO_DIR", app);
  env.delete(APP_DENO_DIR);
}
