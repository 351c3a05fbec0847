/**
 * Process hardening applied before any secret is fetched: not dumpable
 * (`PR_SET_DUMPABLE(0)`: no core, and `/proc/<pid>/{mem,environ,maps,...}`
 * unreadable to same-uid processes, their ptrace refused) and, unless the
 * app may dump core, `RLIMIT_CORE` 1/1, which the supervisor and the app
 * inherit (see {@link APP_CORE_LIMIT}).
 */
import * as native from "../../ffi/mod.ts";
import { ProtectionMissingError } from "./errors.ts";

/**
 * The app's core limit when cores are off: 1 byte, soft and hard. No file
 * core fits in it, the kernel aborts a core for a pipe `core_pattern` at
 * exactly this value (it otherwise ignores the limit), and without
 * `CAP_SYS_RESOURCE` nobody raises the hard limit again.
 */
export const APP_CORE_LIMIT = 1n;

/** Options for {@link hardenProcess}. */
export interface HardenOptions {
  /**
   * `CLOUDTASER_APP_CORE_DUMPS`: keep the `RLIMIT_CORE` the wrapper
   * inherited, for the app to dump core with. @default false
   */
  appCoreDumps?: boolean;
  /**
   * `CLOUDTASER_ALLOW_TRACER`: a tracer attached to the wrapper is logged
   * as a warning instead of stopping the start. @default false
   */
  allowTracer?: boolean;
}

/**
 * Applies the hardening; throws a SyscallError naming the failed call. A hard
 * limit of 0 cannot be raised to 1 and is kept (it stops file cores only).
 * Then refuses to go on under a tracer ({@link assertUntraced}); with
 * `allowTracer` it returns what it found as a warning for the caller to log.
 */
export function hardenProcess(opts: HardenOptions = {}): string[] {
  if (!opts.appCoreDumps && native.coreLimit().hard >= APP_CORE_LIMIT) {
    native.setCoreLimit(APP_CORE_LIMIT, APP_CORE_LIMIT);
  }
  native.setDumpable(false);
  try {
    assertUntraced();
  } catch (e) {
    if (!opts.allowTracer || !(e instanceof ProtectionMissingError)) throw e;
    return [
      `${
        e.message.replace(/; nothing was fetched$/, "")
      } (CLOUDTASER_ALLOW_TRACER)`,
    ];
  }
  return [];
}

/**
 * Throws a {@link ProtectionMissingError} when any thread of this process
 * has a tracer. Until `PR_SET_DUMPABLE(0)` the process is dumpable (Deno's
 * boot takes tens of milliseconds): any process of the same uid may attach
 * to one of its threads then, needs no capability to do so, and keeps the
 * attachment through the flag, the fetch and the exec into the supervisor,
 * where its register access makes the process run what it likes (ptrace is
 * per thread: every thread is checked). After the flag no new tracer
 * without `CAP_SYS_PTRACE` can attach, so a clean check here holds.
 */
export function assertUntraced(): void {
  let found: { tracer: number; tid: number } | undefined;
  try {
    found = native.findTracer();
  } catch (e) {
    throw new ProtectionMissingError(
      `cannot check for a tracer: ${(e as Error).message}`,
    );
  }
  if (found) {
    throw new ProtectionMissingError(
      `a tracer (pid ${found.tracer}) is attached to thread ${found.tid} of ` +
        "the wrapper: it could make the wrapper hand it every secret; " +
        "nothing was fetched",
    );
  }
}
