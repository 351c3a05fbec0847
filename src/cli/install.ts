/**
 * `install DIR`: puts the wrapper into DIR (an init container's emptyDir)
 * so the app container can run `DIR/cloudtaser-wrapper -- CMD`, whatever
 * its image holds: nothing but the app (FROM scratch), musl, or its own
 * glibc. The wrapper links glibc dynamically, so it brings its loader and
 * libraries along, in one layout (the wrapper image holds the same one
 * under /opt/cloudtaser, and installs it by copying itself):
 *
 * ```text
 * ROOT/cloudtaser-wrapper        the launcher (c/launcher, static): runs
 *                                lib/ld.so --library-path ROOT/lib PROGRAM
 * ROOT/lib/ld.so                 glibc's dynamic loader
 * ROOT/lib/libc.so.6, ...        the libraries PROGRAM needs (ld.so --list)
 * compiled:  ROOT/lib/cloudtaser-wrapper            the `deno compile` binary
 *            ROOT/lib/libcloudtaser_interposer.so   beside it (interposerPath)
 * bundle:    ROOT/lib/deno, ROOT/lib/app/main.js    Deno and the bundled program
 *            ROOT/lib/app/*-XXXXXXXX.js             its chunks (bundleFiles)
 *            ROOT/lib/build/*                       its native parts (nativePath)
 * any:       ROOT/lib/deno-dir                      Deno's caches: DENO_DIR as the
 *                                                   launcher sets it (deno_dir.ts)
 * ```
 *
 * The loader's options, not the environment, name the libraries, so the
 * app never sees LD_LIBRARY_PATH or anything else of the wrapper's own
 * libraries; the interposer (glibc LD_PRELOAD) is only used for glibc apps.
 *
 * Three sources, in this order:
 * - running from a layout (the wrapper image, or an earlier install): the
 *   layout is copied;
 * - a `deno compile` binary anywhere else: the layout is written from the
 *   binary, its embedded native parts and the host's loader and libraries
 *   (the Containerfile's build stage does this);
 * - `deno run` from a checkout (development): a shell launcher that runs
 *   this checkout with this Deno, for local use and tests, not for images.
 *
 * Every file is written to a temporary name and renamed over the target
 * (atomic); an identical target is left alone (idempotent).
 */

import { nativePath, SUPERVISOR_FILE } from "../../ffi/mod.ts";
import { bytesSource, parseElf } from "../delivery/elf.ts";

/** Paths in a layout, relative to its root. */
export const LAYOUT = {
  launcher: "cloudtaser-wrapper",
  lib: "lib",
  loader: "lib/ld.so",
  compiled: "lib/cloudtaser-wrapper",
  deno: "lib/deno",
  bundle: "lib/app/main.js",
  /** Where the bundled program's `nativePath()` points (`../build/`). */
  natives: "lib/build",
} as const;

/** The file in `build/` that becomes ROOT/cloudtaser-wrapper. */
export const LAUNCHER_FILE = "cloudtaser-launcher";
const INTERPOSER = "libcloudtaser_interposer.so";
const SHIM = "libcloudtaser_shim.so";

/** True inside a `deno compile` binary. */
export function isCompiled(): boolean {
  return import.meta.url.includes("/deno-compile-");
}

/** What `install` did. */
export interface InstallResult {
  /** The launcher the app container runs. */
  path: string;
  /** False when every file was already there, identical. */
  changed: boolean;
  kind: "compiled" | "bundle" | "development";
}

/** What a layout runs: the compiled binary, or Deno and the bundle. */
export type LayoutProgram =
  | { kind: "compiled"; binary: string }
  | { kind: "bundle"; deno: string; bundle: string };

/** Installs into `dir`; throws with the path and the reason on failure. */
export async function install(dir: string): Promise<InstallResult> {
  const base = dir.replace(/\/+$/, "") || "/";
  await Deno.mkdir(base, { recursive: true });
  const root = runningLayout();
  if (root) return await copyLayout(root, base);
  if (isCompiled()) {
    return await writeLayout(base, {
      kind: "compiled",
      binary: Deno.execPath(),
    });
  }
  return await writeDevelopmentLauncher(base);
}

/**
 * The root of the layout this process runs from, or null. Under the
 * launcher, `Deno.execPath()` is ROOT/lib/ld.so (the loader was executed);
 * a compiled binary run directly is ROOT/lib/cloudtaser-wrapper.
 */
export function runningLayout(exe = Deno.execPath()): string | null {
  const lib = exe.replace(/\/[^/]*$/, "");
  if (!lib.endsWith(`/${LAYOUT.lib}`)) return null;
  const root = lib.slice(0, -LAYOUT.lib.length - 1);
  return isFile(`${root}/${LAYOUT.launcher}`) &&
      isFile(`${root}/${LAYOUT.loader}`)
    ? root
    : null;
}

/**
 * Writes a layout for `program` into `dir`, with the native parts read
 * through `natives` (build/, or the compiled binary's embedded copy) and the
 * loader and libraries the program needs taken from this host.
 */
export async function writeLayout(
  dir: string,
  program: LayoutProgram,
  natives: (name: string) => string = nativePath,
): Promise<InstallResult> {
  const exe = program.kind === "compiled" ? program.binary : program.deno;
  const files: Array<[string, string, number]> = [
    [LAYOUT.launcher, natives(LAUNCHER_FILE), 0o755],
  ];
  if (program.kind === "compiled") {
    files.push([LAYOUT.compiled, program.binary, 0o755]);
    files.push([`${LAYOUT.lib}/${INTERPOSER}`, natives(INTERPOSER), 0o755]);
  } else {
    files.push([LAYOUT.deno, program.deno, 0o755]);
    files.push([LAYOUT.bundle, program.bundle, 0o644]);
    const from = program.bundle.replace(/\/[^/]*$/, "");
    const to = LAYOUT.bundle.replace(/\/[^/]*$/, "");
    for (const chunk of bundleFiles(program.bundle).slice(1)) {
      files.push([`${to}/${chunk}`, `${from}/${chunk}`, 0o644]);
    }
    for (const name of [SHIM, SUPERVISOR_FILE, INTERPOSER]) {
      files.push([`${LAYOUT.natives}/${name}`, natives(name), 0o755]);
    }
  }
  const libs = await listLibraries(exe);
  files.push([LAYOUT.loader, libs.loader, 0o755]);
  for (const [soname, path] of libs.needed) {
    files.push([`${LAYOUT.lib}/${soname}`, path, 0o755]);
  }
  let changed = false;
  for (const [rel, from, mode] of files) {
    changed = await installFile(`${dir}/${rel}`, await readPart(from), mode) ||
      changed;
  }
  // The launcher prefers a compiled binary: none may be left from before.
  if (program.kind === "bundle") {
    await Deno.remove(`${dir}/${LAYOUT.compiled}`).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  return { path: `${dir}/${LAYOUT.launcher}`, changed, kind: program.kind };
}

/**
 * The files of a bundled program: `entry` first, then every chunk it
 * loads, transitively (`import ... from "./x.js"`, `import("./x.js")`;
 * names relative to its directory). Throws when a chunk is missing.
 */
export function bundleFiles(entry: string): string[] {
  const dir = entry.replace(/\/[^/]*$/, "");
  const seen = [entry.slice(dir.length + 1)];
  for (let i = 0; i < seen.length; i++) {
    const code = Deno.readTextFileSync(`${dir}/${seen[i]}`);
    const refs = code.matchAll(
      /(?:\bfrom\s*|\bimport\s*\(?\s*)["']\.\/([\w$-]+\.js)["']/g,
    );
    for (const m of refs) if (!seen.includes(m[1])) seen.push(m[1]);
  }
  return seen;
}

/** The loader and libraries `exe` needs, as its own loader resolves them. */
export async function listLibraries(
  exe: string,
): Promise<{ loader: string; needed: Array<[string, string]> }> {
  const interp = parseElf(bytesSource(await Deno.readFile(exe)))?.interp;
  if (!interp) {
    throw new Error(`${exe} names no dynamic loader (PT_INTERP)`);
  }
  // `ld.so --list` is what ldd runs: the loader's own resolution.
  const out = await new Deno.Command(interp, {
    args: ["--list", exe],
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${interp} --list ${exe} failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  const needed: Array<[string, string]> = [];
  for (const m of text.matchAll(/^\s*(\S+) => (\/\S+) \(0x[0-9a-f]+\)$/gm)) {
    needed.push([m[1], m[2]]);
  }
  if (!needed.some(([name]) => name.startsWith("libc.so"))) {
    throw new Error(`${interp} --list ${exe} named no libc: ${text.trim()}`);
  }
  return { loader: interp, needed };
}

/** Copies the layout at `root` into `dir` (the wrapper image's install). */
async function copyLayout(root: string, dir: string): Promise<InstallResult> {
  let changed = false;
  const copy = async (rel: string) => {
    const st = await Deno.stat(`${root}/${rel}`);
    if (st.isDirectory) {
      for await (const e of Deno.readDir(`${root}/${rel}`)) {
        await copy(`${rel}/${e.name}`);
      }
      return;
    }
    const bytes = await Deno.readFile(`${root}/${rel}`);
    const mode = (st.mode ?? 0o755) & 0o777;
    changed = await installFile(`${dir}/${rel}`, bytes, mode) || changed;
  };
  await copy(LAYOUT.lib);
  // The launcher last: the app container finds a complete layout or none.
  await copy(LAYOUT.launcher);
  return {
    path: `${dir}/${LAYOUT.launcher}`,
    changed,
    kind: isFile(`${root}/${LAYOUT.compiled}`) ? "compiled" : "bundle",
  };
}

/** `deno run` from a checkout: a shell launcher for local use and tests. */
async function writeDevelopmentLauncher(dir: string): Promise<InstallResult> {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const launcher = new TextEncoder().encode(
    `#!/bin/sh\n# cloudtaser-wrapper development launcher (written by install)\n` +
      `exec '${Deno.execPath()}' run -A --config '${config}' '${main}' "$@"\n`,
  );
  const path = `${dir}/${LAYOUT.launcher}`;
  const changed = await installFile(path, launcher, 0o755);
  return { path, changed, kind: "development" };
}

async function readPart(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${path} is missing (run \`deno task build\`)`);
    }
    throw e;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function sameBytes(path: string, bytes: Uint8Array): Promise<boolean> {
  let cur: Uint8Array;
  try {
    cur = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  if (cur.length !== bytes.length) return false;
  for (let i = 0; i < cur.length; i++) if (cur[i] !== bytes[i]) return false;
  return true;
}

/**
 * Writes `bytes` to `target` atomically with `mode`, unless identical;
 * returns whether it wrote. The temporary name is random, not the pid:
 * init containers sharing a volume are all pid 1.
 */
async function installFile(
  target: string,
  bytes: Uint8Array,
  mode: number,
): Promise<boolean> {
  await Deno.mkdir(target.replace(/\/[^/]*$/, ""), { recursive: true });
  if (await sameBytes(target, bytes)) {
    await Deno.chmod(target, mode);
    return false;
  }
  const rnd = [...crypto.getRandomValues(new Uint8Array(6))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const tmp = `${target}.tmp-${rnd}`;
  try {
    await Deno.writeFile(tmp, bytes, { mode });
    await Deno.chmod(tmp, mode); // the umask may have narrowed mode
    await Deno.rename(tmp, target);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return true;
}
