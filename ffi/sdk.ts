/**
 * Typed bindings to `c/shim/sdk.c`, for the SDK (`src/sdk/`). Throws
 * {@link SyscallError} naming the call when the shim returns `-errno`.
 */
import { nativeCall } from "./call.ts";
import { SyscallError } from "./syscall_error.ts";

/** `fstat(2)`: the size of the file behind `fd`, in bytes. */
export function fdSize(fd: number): number {
  const r = nativeCall("fd_size", fd);
  if (r < 0) throw new SyscallError("fstat", -r);
  return r;
}
