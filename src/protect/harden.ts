/**
 * Process hardening applied before any secret is fetched: no core dumps
 * (`RLIMIT_CORE` 0) and not dumpable (`PR_SET_DUMPABLE(0)`), which also makes
 * `/proc/<pid>/{mem,environ,maps,...}` unreadable to same-uid processes and
 * refuses their ptrace.
 */
import * as native from "../../ffi/mod.ts";

/** Applies the hardening; throws a SyscallError naming the failed call. */
export function hardenProcess(): void {
  native.setCoreLimitZero();
  native.setDumpable(false);
}
