/**
 * What `execve(2)` accepts, checked before the hand-over: in env delivery
 * every secret becomes a `NAME=value` string of the app's environment, and
 * the kernel refuses the exec (E2BIG) when one string or the whole is too
 * large. Found at exec time, that is exit 126 after "starting"; found here,
 * it is a message naming the secret, before the app exists.
 *
 * Linux (fs/exec.c): one string, with its NUL, at most MAX_ARG_STRLEN (32
 * pages); argv + envp strings, the file name and one pointer per string at
 * most a quarter of RLIMIT_STACK, capped at 6 MiB (3/4 of _STK_LIM) and never
 * below ARG_MAX (32 pages).
 */
import { ChildEnvError } from "./child_env.ts";

const PAGE = 4096;
/** Longest single argv/envp string, its NUL included (MAX_ARG_STRLEN). */
export const MAX_ARG_STRLEN = 32 * PAGE;
const ARG_MAX = 32 * PAGE;
const STK_LIM = 8 * 1024 * 1024;
const enc = new TextEncoder();

/** The kernel's limit for argv + envp for this RLIMIT_STACK (bytes, null = unlimited). */
export function execArgLimit(stackLimit: number | null): number {
  const quarter = stackLimit === null ? Infinity : Math.floor(stackLimit / 4);
  return Math.max(Math.min((STK_LIM / 4) * 3, quarter), ARG_MAX);
}

/** The soft RLIMIT_STACK of this process, from /proc/self/limits. */
export function stackLimit(
  limits = Deno.readTextFileSync("/proc/self/limits"),
): number | null {
  const m = /^Max stack size\s+(\S+)/m.exec(limits);
  if (!m || m[1] === "unlimited") return null;
  return Number(m[1]);
}

/** Inputs of {@link checkExecSize}. */
export interface ExecSize {
  /** The app's argv; `argv[0]` as resolved is the file name. */
  argv: string[];
  /** The app's non-secret environment entries (buildChildEnv). */
  entries: string[];
  /** Each secret record: its name and its value's length in bytes. */
  records: Array<[string, number]>;
  /** {@link execArgLimit} for the app's RLIMIT_STACK. */
  limit: number;
}

function strBytes(s: string): number {
  return enc.encode(s).length + 1;
}

const ADVICE = "use CLOUDTASER_DELIVERY=fd (the SDK reads the region) or " +
  "interposer (getenv reads it), which do not put secrets in the exec";

/**
 * Throws {@link ChildEnvError} (names and sizes, never a value) when the
 * app's exec in env delivery would fail with E2BIG.
 *
 * @example
 * ```ts
 * checkExecSize({
 *   argv: ["/app"], entries: ["PATH=/bin"],
 *   records: [["BIG", 1 << 20]], limit: execArgLimit(stackLimit()),
 * }); // throws: BIG is 1048576 bytes ...
 * ```
 */
export function checkExecSize(x: ExecSize): void {
  for (const [name, len] of x.records) {
    const bytes = strBytes(name) + 1 + len; // NAME=value\0
    if (bytes > MAX_ARG_STRLEN) {
      throw new ChildEnvError(
        `secret ${name} is ${len} bytes: as an environment variable ` +
          `(${name}=value) it exceeds the kernel's ${MAX_ARG_STRLEN}-byte ` +
          `limit for one string (MAX_ARG_STRLEN), so the app's exec would ` +
          `fail with E2BIG; ${ADVICE}`,
      );
    }
  }
  const strings =
    [...x.argv, ...x.entries].reduce((n, s) => n + strBytes(s), 0) +
    x.records.reduce((n, [name, len]) => n + strBytes(name) + 1 + len, 0) +
    strBytes(x.argv[0]); // the file name is copied too
  const pointers = 8 * (x.argv.length + x.entries.length + x.records.length);
  const total = strings + pointers;
  if (total <= x.limit) return;
  const largest = [...x.records].sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([n, l]) => `${n} (${l} bytes)`).join(", ");
  throw new ChildEnvError(
    `the app's arguments and environment would take ${total} bytes, over ` +
      `the kernel's exec limit of ${x.limit} bytes (a quarter of ` +
      `RLIMIT_STACK, at most 6 MiB), so its exec would fail with E2BIG; the ` +
      `largest secrets: ${largest || "none"}; ${ADVICE}`,
  );
}
