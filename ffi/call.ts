/**
 * The shim's one FFI symbol and the two ways to call its exports by number
 * (c/include/ct/calls.h says why one symbol for all of them): `nativeCall`
 * on the calling thread, `poolCall` on one of Deno's blocking threads for
 * the calls that wait (an HTTP exchange, a signal, the enforcer's answer).
 * shim.ts, handover.ts, http.ts and sdk.ts are typed wrappers over it.
 */
import { type Call, CALLS } from "./constants.ts";
import { openNative } from "./load.ts";

const symbols = {
  ct_call: { parameters: ["u32", "buffer"], result: "i64" },
  // The same C function, declared again to run on the blocking pool.
  ct_call_pool: {
    name: "ct_call",
    parameters: ["u32", "buffer"],
    result: "i64",
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

/** Puts `a` into `into`: numbers as they are, buffers as their address. */
function fill(into: BigInt64Array, a: Arg[]): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    into[i] = v === null
      ? 0n
      : typeof v === "bigint"
      ? v
      : typeof v === "number"
      ? BigInt(v)
      : addressOf(v);
  }
}

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
  fill(args, a);
  const r = shimSymbols().ct_call(index.get(call)!, argBytes);
  args.fill(0n, 0, a.length);
  return Number(r);
}

/**
 * Calls the shim's export `call` on one of Deno's blocking threads and
 * resolves to what it returned. The arguments get an array of their own,
 * and the buffers among them stay referenced until the call is done.
 *
 * @example
 * ```ts
 * const mask = await poolCall("wait_signals");
 * ```
 */
export async function poolCall(call: Call, ...a: Arg[]): Promise<number> {
  const own = new BigInt64Array(Math.max(1, a.length));
  fill(own, a);
  inFlight.add(a);
  try {
    return Number(
      await shimSymbols().ct_call_pool(
        index.get(call)!,
        new Uint8Array(own.buffer),
      ),
    );
  } finally {
    inFlight.delete(a);
  }
}

// The arguments of the pool calls running: their buffers are read by
// another thread, so nothing may collect them before the call is done.
const inFlight = new Set<Arg[]>();
