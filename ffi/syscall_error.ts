import { ERRNO_NAMES } from "./constants.ts";

/**
 * The symbolic name of an errno value, e.g. `38` -> `"ENOSYS"`; one outside
 * {@link ERRNO_NAMES} is `"errno N"`, as the C programs write it.
 */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/**
 * A failed system call, named: `memfd_secret failed: ENOSYS`.
 *
 * Thrown by every wrapper in `ffi/` when the C shim returns `-errno`.
 *
 * @example
 * ```ts
 * try {
 *   memfdSecret();
 * } catch (e) {
 *   if (e instanceof SyscallError && e.code === "ENOSYS") {
 *     // fall back to mmap + mlock
 *   }
 * }
 * ```
 */
export class SyscallError extends Error {
  /** The system call that failed, e.g. `"memfd_secret"`. */
  readonly syscall: string;
  /** The errno value, e.g. `38`. */
  readonly errno: number;
  /** The errno name, e.g. `"ENOSYS"`. */
  readonly code: string;

  constructor(syscall: string, errno: number) {
    const code = errnoName(errno);
    super(`${syscall} failed: ${code}`);
    this.name = "SyscallError";
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}

/** Turns a shim return value (`>= 0` or `-errno`) into a value or a throw. */
export function check(syscall: string, ret: number): number {
  if (ret < 0) throw new SyscallError(syscall, -ret);
  return ret;
}
