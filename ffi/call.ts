/**
 * The shim's two FFI symbols and the one way to call its exports: `ct_call`
 * by number (c/include/ct/calls.h says why one symbol for all of them),
 * and `ct_http_exchange`, `ct_wait_signals` and `ct_enforcer_register`,
 * which run on Deno's blocking pool. shim.ts,
 * handover.ts, http.ts and sdk.ts are typed wrappers over it.
 */
import { type Call, CALLS } from "./constants.ts";
import { openNative } from "./load.ts";

const symbols = {
  ct_call: { parameters: ["u32", "buffer"], result: "i64" },
  ct_http_exchange: {
    parameters: [
      "u64",
      "buffer",
      "u64",
      "buffer",
      "u64",
      "buffer",
      "u64",
      "u32",
    ],
    result: "i32",
    nonblocking: true,
  },
  ct_wait_signals: { parameters: [], result: "i32", nonblocking: true },
  ct_enforcer_register: {
    parameters: ["buffer", "u32", "buffer", "u64"],
    result: "i32",
    nonblocking: true,
  },
} as const;

let lib: Deno.DynamicLibrary<typeof symbols> | undefined;

/** The shim's symbols, loaded on first use. */
export function shimSymbols(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  lib ??= openNative("libcloudtaser_shim.so", symbols);
  return lib.symbols;
}

/** An argument: a number, an address, or a buffer passed by address. */
export type Arg = number | bigint | Uint8Array | null;

// One argument array for every call: nothing is allocated between taking a
// buffer's address and the call (no collection can run in between).
const args = new BigInt64Array(24);
const argBytes = new Uint8Array(args.buffer);
const index = new Map<string, number>(CALLS.map((c, i) => [c, i]));

/** The address of `buf`'s first byte (0 for an empty buffer). */
function addressOf(buf: Uint8Array): bigint {
  // Reading .buffer moves a small typed array's bytes off V8's heap for
  // good: the address stays valid however long the caller holds `buf`.
  if (buf.buffer.byteLength === 0) return 0n;
  const p = Deno.UnsafePointer.of(buf);
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
}

/**
 * Calls the shim's export `call` (ct/calls.h) with `a`, and returns what
 * it returned (an int64: `-errno`, a size, an fd, ...). Buffers are passed
 * by address and must stay referenced by the caller for the call.
 *
 * @example
 * ```ts
 * const fd = nativeCall("memfd_secret", O_CLOEXEC);
 * ```
 */
export function nativeCall(call: Call, ...a: Arg[]): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    args[i] = v === null
      ? 0n
      : typeof v === "bigint"
      ? v
      : typeof v === "number"
      ? BigInt(v)
      : addressOf(v);
  }
  const r = shimSymbols().ct_call(index.get(call)!, argBytes);
  args.fill(0n, 0, a.length);
  return Number(r);
}
