/** Linux errno numbers the wrapper meets, by value, for readable messages. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  40: "ELOOP",
  75: "EOVERFLOW",
  95: "EOPNOTSUPP",
  125: "ECANCELED",
};

/** The symbolic name of an errno value, e.g. `38` -> `"ENOSYS"`. */
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
