/**
 * Resolves and checks the app's command before anything secret exists: a
 * command that cannot run stops the start with the shell's codes (127 not
 * found, 126 found but not executable), as the supervisor's exec would, but
 * before a token is fetched or a secret read.
 */
import { ACCESS, accessErrno, errnoName } from "../../ffi/mod.ts";

/** The app's command was not found (the shell's 127). */
export class CommandNotFoundError extends Error {
  /**
   * Makes the error.
   *
   * @param message names the command and where it was looked for
   */
  constructor(message: string) {
    super(message);
    this.name = "CommandNotFoundError";
  }
}

/** The app's command exists but cannot be executed (the shell's 126). */
export class CommandNotExecutableError extends Error {
  /**
   * Makes the error.
   *
   * @param message names the file and why it cannot run
   */
  constructor(message: string) {
    super(message);
    this.name = "CommandNotExecutableError";
  }
}

/** The subcommands, for the hint after a bare word that is not found. */
export const SUBCOMMAND_HINT = "run, check, score, install, version, help";

type Verdict = { ok: true } | { ok: false; why: string };

/** What execve would say about `path`, judged without running it. */
function judge(path: string): Verdict | "missing" {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "missing";
    if (e instanceof Error && /ENOTDIR|not a directory/i.test(e.message)) {
      return "missing";
    }
    const code = (e as { code?: string }).code ?? (e as Error).name;
    return { ok: false, why: `cannot be examined (${code})` };
  }
  if (st.isDirectory) return { ok: false, why: "is a directory" };
  if (!st.isFile) return { ok: false, why: "is not a regular file" };
  const errno = accessErrno(path, ACCESS.X_OK);
  if (errno !== 0) {
    return {
      ok: false,
      why: `is not executable by this user (${errnoName(errno)})`,
    };
  }
  return { ok: true };
}

/**
 * The path `command` will run as, searched as `execvp(3)` does: a name with
 * a `/` is a path; otherwise each `PATH` entry in turn (empty means the
 * current directory, unset `PATH` means `/bin:/usr/bin`), where a match that
 * cannot be executed is remembered and the search goes on. Throws
 * {@link CommandNotFoundError} when nothing is found,
 * {@link CommandNotExecutableError} when only what
 * cannot be executed is. `bare` marks a first word given without `--`,
 * which may be a misspelled subcommand.
 *
 * @example
 * ```ts
 * resolveApp("sh", "/usr/bin:/bin"); // "/usr/bin/sh"
 * ```
 */
export function resolveApp(
  command: string,
  path: string | undefined,
  bare = false,
): string {
  if (command === "") {
    throw new CommandNotFoundError("the app's command is an empty word");
  }
  if (command.includes("/")) {
    const v = judge(command);
    if (v === "missing") {
      throw new CommandNotFoundError(`command ${command} not found`);
    }
    if (!v.ok) {
      throw new CommandNotExecutableError(`command ${command} ${v.why}`);
    }
    return command;
  }
  const dirs = (path ?? "/bin:/usr/bin").split(":");
  let refused: string | undefined;
  for (const dir of dirs) {
    const candidate = `${dir === "" ? "." : dir}/${command}`;
    const v = judge(candidate);
    if (v === "missing") continue;
    if (v.ok) return candidate;
    refused ??= `${candidate} ${v.why}`;
  }
  if (refused) {
    throw new CommandNotExecutableError(
      `command ${command} cannot be run: ${refused}`,
    );
  }
  const hint = bare
    ? `; is it a misspelled subcommand (${SUBCOMMAND_HINT})? An app's ` +
      "command may also follow -- (cloudtaser-wrapper -- CMD ARGS...)"
    : "";
  throw new CommandNotFoundError(
    `command ${command} not found in PATH=${path ?? "(unset: /bin:/usr/bin)"}` +
      hint,
  );
}
