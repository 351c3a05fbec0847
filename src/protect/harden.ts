/**
 * Process hardening applied before any secret is fetched: not dumpable
 * (`PR_SET_DUMPABLE(0)`: no core, and `/proc/<pid>/{mem,environ,maps,...}`
 * unreadable to same-uid processes, their ptrace refused) and, unless the
 * app may dump core, `RLIMIT_CORE` 1/1, which the supervisor and the app
 * inherit (see {@link APP_CORE_LIMIT}).
 */
import * as native from "../../ffi/mod.ts";

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
}

/**
 * Applies the hardening; throws a SyscallError naming the failed call. A hard
 * limit of 0 cannot be raised to 1 and is kept (it stops file cores only).
 */
export function hardenProcess(opts: HardenOptions = {}): void {
  if (!opts.appCoreDumps && native.coreLimit().hard >= APP_CORE_LIMIT) {
    native.setCoreLimit(APP_CORE_LIMIT, APP_CORE_LIMIT);
  }
  native.setDumpable(false);
}
