/**
 * `install DIR`: puts the wrapper into DIR (an init container's emptyDir)
 * so the app container can run `DIR/cloudtaser-wrapper -- CMD`.
 *
 * From the compiled single binary it copies that binary and, beside it, the
 * getenv interposer (LD_PRELOAD needs a real file). Under `deno run`
 * (development) it writes a launcher script that runs this checkout with
 * this Deno; that is for local use and tests, not for an image.
 * Either way: written to a temporary name, mode 0755, then renamed over the
 * target (atomic); an identical target is left alone (idempotent).
 */

import { nativePath } from "../../ffi/mod.ts";

/** True inside a `deno compile` binary. */
export function isCompiled(): boolean {
  return import.meta.url.includes("/deno-compile-");
}

async function sameBytes(path: string, bytes: Uint8Array): Promise<boolean> {
  try {
    const cur = await Deno.readFile(path);
    return cur.length === bytes.length && cur.every((b, i) => b === bytes[i]);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** What `install` did. */
export interface InstallResult {
  path: string;
  changed: boolean;
  kind: "binary" | "launcher";
}

/** Installs into `dir`; throws with the path and the reason on failure. */
export async function install(dir: string): Promise<InstallResult> {
  const base = dir.replace(/\/+$/, "");
  await Deno.mkdir(base, { recursive: true });
  if (isCompiled()) {
    const interposer = "libcloudtaser_interposer.so";
    await installFile(
      `${base}/${interposer}`,
      await Deno.readFile(nativePath(interposer)),
    );
    return await installFile(
      `${base}/cloudtaser-wrapper`,
      await Deno.readFile(Deno.execPath()),
      "binary",
    );
  }
  const main = new URL("../main.ts", import.meta.url).pathname;
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const launcher = new TextEncoder().encode(
    `#!/bin/sh\n# cloudtaser-wrapper development launcher (written by install)\n` +
      `exec '${Deno.execPath()}' run -A --config '${config}' '${main}' "$@"\n`,
  );
  return await installFile(`${base}/cloudtaser-wrapper`, launcher, "launcher");
}

/** Writes `bytes` to `target` atomically with mode 0755, unless identical. */
async function installFile(
  target: string,
  bytes: Uint8Array,
  kind: InstallResult["kind"] = "binary",
): Promise<InstallResult> {
  if (await sameBytes(target, bytes)) {
    await Deno.chmod(target, 0o755);
    return { path: target, changed: false, kind };
  }
  const tmp = `${target}.tmp-${Deno.pid}`;
  try {
    await Deno.writeFile(tmp, bytes, { mode: 0o755 });
    await Deno.chmod(tmp, 0o755); // the umask may have narrowed mode
    await Deno.rename(tmp, target);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return { path: target, changed: true, kind };
}
