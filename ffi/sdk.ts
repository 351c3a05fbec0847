/**
 * Typed bindings to `c/shim/sdk.c`, for the SDK (`src/sdk/`). Throws
 * {@link SyscallError} naming the call when the shim returns `-errno`.
 */
import { openNative } from "./load.ts";
import { SyscallError } from "./syscall_error.ts";

const symbols = {
  ct_fd_size: { parameters: ["i32"], result: "i64" },
} as const;

let lib: Deno.DynamicLibrary<typeof symbols> | undefined;
function sym() {
  lib ??= openNative("libcloudtaser_shim.so", symbols);
  return lib.symbols;
}

/** `fstat(2)`: the size of the file behind `fd`, in bytes. */
export function fdSize(fd: number): number {
  const r = Number(sym().ct_fd_size(fd));
  if (r < 0) throw new SyscallError("fstat", -r);
  return r;
}
