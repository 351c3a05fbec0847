/**
 * Running the wrapper as an unprivileged user: uid/gid 65534 (nobody), no
 * supplementary groups, no capabilities in any set (bounding set included),
 * as a pod with `runAsNonRoot` and `drop: [ALL]` runs it.
 *
 * That user can read neither the repository (a clone may sit in a 0700
 * directory) nor root's Deno cache, so {@link unprivilegedTree} copies what
 * the wrapper needs to run (src/, ffi/, tests/support/fixtures/, the built native
 * files, deno.json, deno.lock) into a directory it can read, with a Deno cache of its own, and
 * {@link readableBy} copies credential files to files that user owns (0600).
 */
const ROOT = new URL("../../", import.meta.url).pathname;

/** The unprivileged uid and gid (nobody / nogroup). */
export const NOBODY = 65534;

/** RLIMIT_MEMLOCK and other limits for {@link asNobody}. */
export interface NobodyOptions {
  /** RLIMIT_MEMLOCK in bytes (via prlimit), soft and hard. */
  memlock?: number;
}

/**
 * The command line that runs `cmd` as uid/gid 65534 with no groups and no
 * capabilities (permitted, effective, inheritable, ambient and bounding sets
 * all empty).
 */
export function asNobody(cmd: string[], opts: NobodyOptions = {}): string[] {
  const limits = opts.memlock === undefined
    ? []
    : ["prlimit", `--memlock=${opts.memlock}:${opts.memlock}`, "--"];
  return [
    ...limits,
    "setpriv",
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    "--clear-groups",
    "--inh-caps=-all",
    "--ambient-caps=-all",
    "--bounding-set=-all",
    "--",
    ...cmd,
  ];
}

/** A copy of the wrapper that {@link NOBODY} can run. */
export interface UnprivilegedTree {
  /** The copy's root (world-readable). */
  root: string;
  /** Its `src/main.ts`. */
  main: string;
  /** Its `deno.json`. */
  config: string;
  /** Its `build/`. */
  build: string;
  /** A DENO_DIR owned by {@link NOBODY}, seeded with root's npm cache. */
  denoDir: string;
  /** `deno run` arguments for the copied wrapper, then `args`. */
  args(args: string[]): string[];
}

let tree: Promise<UnprivilegedTree> | undefined;

/** The copy, made once per test process; removed when the process exits. */
export function unprivilegedTree(): Promise<UnprivilegedTree> {
  return tree ??= makeTree();
}

async function copyDir(from: string, to: string, skip: (n: string) => boolean) {
  await Deno.mkdir(to, { recursive: true, mode: 0o755 });
  for await (const e of Deno.readDir(from)) {
    if (skip(e.name)) continue;
    if (e.isDirectory) {
      await copyDir(`${from}/${e.name}`, `${to}/${e.name}`, skip);
    } else if (e.isFile) {
      await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
    }
  }
}

async function rootDenoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

async function makeTree(): Promise<UnprivilegedTree> {
  const root = await Deno.makeTempDir({ prefix: "ct-nobody-" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(root, { recursive: true });
    } catch { /* already gone */ }
  });
  await Deno.chmod(root, 0o755);
  const none = () => false;
  await copyDir(`${ROOT}src`, `${root}/src`, none);
  await copyDir(`${ROOT}ffi`, `${root}/ffi`, none);
  await copyDir(
    `${ROOT}tests/support/fixtures`,
    `${root}/tests/support/fixtures`,
    none,
  );
  // The native files the wrapper, its supervisor and the test apps need;
  // not the enforcer's or the VM's.
  await copyDir(
    `${ROOT}build`,
    `${root}/build`,
    (n) => n === "vmlinux.h" || n === "enforcer" || n === "attacks",
  );
  for (const f of ["deno.json", "deno.lock"]) {
    await Deno.copyFile(`${ROOT}${f}`, `${root}/${f}`);
  }
  const denoDir = `${root}/deno-dir`;
  await Deno.mkdir(denoDir, { mode: 0o700 });
  try {
    await copyDir(`${await rootDenoDir()}/npm`, `${denoDir}/npm`, none);
  } catch { /* no cache yet: nobody's deno fetches from the registry */ }
  await chownTree(denoDir);
  await new Deno.Command("chmod", {
    args: ["-R", "a+rX", `${root}/src`, `${root}/ffi`, `${root}/build`],
  }).output();
  const config = `${root}/deno.json`;
  const main = `${root}/src/main.ts`;
  return {
    root,
    main,
    config,
    build: `${root}/build`,
    denoDir,
    args: (args) => ["run", "-A", "--config", config, main, ...args],
  };
}

async function chownTree(path: string) {
  const r = await new Deno.Command("chown", {
    args: ["-R", `${NOBODY}:${NOBODY}`, path],
  }).output();
  if (!r.success) throw new Error(`chown -R ${path} failed`);
}

/**
 * Copies each file into a fresh 0700 directory owned by {@link NOBODY}, as
 * 0600 files it owns (a mounted secret volume with `fsGroup` gives the same).
 * Returns the new paths under the same keys.
 */
export async function readableBy(
  files: Record<string, string>,
): Promise<Record<string, string>> {
  const t = await unprivilegedTree();
  const dir = await Deno.makeTempDir({ dir: t.root, prefix: "files-" });
  const out: Record<string, string> = {};
  let i = 0;
  for (const [key, path] of Object.entries(files)) {
    const to = `${dir}/${i++}-${path.slice(path.lastIndexOf("/") + 1)}`;
    await Deno.copyFile(path, to);
    await Deno.chmod(to, 0o600);
    out[key] = to;
  }
  await chownTree(dir);
  return out;
}
