/**
 * Typed bindings to `c/shim/shim.c`. Each function throws {@link SyscallError}
 * naming the call when the shim returns `-errno`.
 */
import {
  ACCESS,
  MADV,
  MAP,
  O_CLOEXEC,
  PROT,
  RLIM_INFINITY,
  SHIM_STEPS,
} from "./constants.ts";
import { nativeCall, poolCall } from "./call.ts";
import { check, errnoName } from "./syscall_error.ts";

export { ACCESS, MADV, MAP, O_CLOEXEC, PROT, RLIM_INFINITY };

/** `memfd_secret(2)`: a file whose pages leave the kernel's direct map. */
export function memfdSecret(flags = O_CLOEXEC): number {
  return check("memfd_secret", nativeCall("memfd_secret", flags));
}

/** `ftruncate(2)`. */
export function ftruncate(fd: number, len: number): void {
  check("ftruncate", nativeCall("ftruncate", fd, len));
}

/** `close(2)`. */
export function close(fd: number): void {
  check("close", nativeCall("close", fd));
}

/** `mmap(2)`; returns the address. */
export function mmap(
  addr: bigint,
  len: number,
  prot: number,
  flags: number,
  fd = -1,
  offset = 0,
): bigint {
  const out = new BigUint64Array(1);
  check(
    "mmap",
    nativeCall(
      "mmap",
      addr,
      len,
      prot,
      flags,
      fd,
      offset,
      new Uint8Array(out.buffer),
    ),
  );
  return out[0];
}

/** `munmap(2)`. */
export function munmap(addr: bigint, len: number): void {
  check("munmap", nativeCall("munmap", addr, len));
}

/** `mlock(2)`. */
export function mlock(addr: bigint, len: number): void {
  check("mlock", nativeCall("mlock", addr, len));
}

/** `madvise(2)`. */
export function madvise(addr: bigint, len: number, advice: number): void {
  check("madvise", nativeCall("madvise", addr, len, advice));
}

/** `prctl(PR_GET_DUMPABLE)`: true when the process is dumpable. */
export function getDumpable(): boolean {
  return check("prctl(PR_GET_DUMPABLE)", nativeCall("get_dumpable")) !== 0;
}

/** `prctl(PR_SET_DUMPABLE)`. */
export function setDumpable(on: boolean): void {
  check("prctl(PR_SET_DUMPABLE)", nativeCall("set_dumpable", on ? 1 : 0));
}

/**
 * The tracer of any thread of this process (`TracerPid` of each
 * `/proc/self/task/<tid>/status`, read in C: Deno's permissions guard
 * `/proc/self`), or undefined. Throws a SyscallError when the task list
 * cannot be read.
 */
export function findTracer(): { tracer: number; tid: number } | undefined {
  const tid = new Int32Array(1);
  const t = check(
    "opendir(/proc/self/task)",
    nativeCall("find_tracer", new Uint8Array(tid.buffer)),
  );
  return t > 0 ? { tracer: t, tid: tid[0] } : undefined;
}

/** `getrlimit(RLIMIT_CORE)`, in bytes ({@link RLIM_INFINITY}: unlimited). */
export function coreLimit(): { soft: bigint; hard: bigint } {
  const out = new BigUint64Array(2);
  check(
    "getrlimit(RLIMIT_CORE)",
    nativeCall("get_core_limit", new Uint8Array(out.buffer)),
  );
  return { soft: out[0], hard: out[1] };
}

/** `setrlimit(RLIMIT_CORE, {soft, hard})`. */
export function setCoreLimit(soft: bigint, hard: bigint): void {
  check("setrlimit(RLIMIT_CORE)", nativeCall("set_core_limit", soft, hard));
}

/** `explicit_bzero(3)` over native memory. */
export function explicitBzero(addr: bigint, len: number): void {
  nativeCall("explicit_bzero", addr, len);
}

/** Copies a JS buffer to native memory (bounds are the caller's duty). */
export function copyIn(dst: bigint, src: Uint8Array): void {
  nativeCall("copy_in", dst, src, src.length);
}

/** Constant-time comparison of native memory with a JS buffer. */
export function memEquals(addr: bigint, bytes: Uint8Array): boolean {
  return nativeCall("memeq", addr, bytes, bytes.length) === 1;
}

/** The largest file {@link readFileBytes} reads. */
export const MAX_READ_FILE = 1 << 20;

/**
 * Reads the file at `path` with `read(2)` straight into the buffer it
 * returns (`ct_read_file`): no other copy of the bytes is ever made, where
 * `Deno.readFileSync` leaves a freed one on the heap. For credential files;
 * the caller wipes the result. Throws a {@link SyscallError} (`open/read`;
 * `EFBIG` past {@link MAX_READ_FILE} bytes).
 */
export function readFileBytes(path: string): Uint8Array {
  const name = new TextEncoder().encode(path + "\0");
  for (let cap = 16 << 10;; cap *= 2) {
    const buf = new Uint8Array(cap);
    const n = nativeCall("read_file", name, buf, cap);
    if (n >= 0) return buf.subarray(0, n);
    if (errnoName(-n) !== "EFBIG" || cap >= MAX_READ_FILE) {
      check("open/read", n);
    }
  }
}

/** `sysconf(_SC_PAGESIZE)`. */
export function pageSize(): number {
  return check("sysconf(_SC_PAGESIZE)", nativeCall("page_size"));
}

/**
 * Copies `len` bytes at `addr` of this process's own memory
 * (`process_vm_readv` on itself: an unmapped range is an `EFAULT`
 * {@link SyscallError}, not a crash). Needs no privilege.
 */
export function readOwnMemory(addr: bigint, len: number): Uint8Array {
  const buf = new Uint8Array(len);
  const n = nativeCall("read_self", addr, buf, len);
  check("process_vm_readv", n);
  return buf.subarray(0, n);
}

/**
 * `faccessat(path, mode, AT_EACCESS)`: 0 when this process may, else the
 * errno (`EACCES`, `ENOENT`, ...), as `execve(2)` would judge it.
 */
export function accessErrno(path: string, mode: number): number {
  const r = nativeCall("access", new TextEncoder().encode(path + "\0"), mode);
  return r < 0 ? -r : 0;
}

/**
 * Connects to the enforcer's unix socket at `path` and reads its answer
 * line, within `timeoutMs` (c/shim/enforcer.c), on one of Deno's blocking
 * threads. Resolves to the answer's bytes, or to the errno name of the
 * failure (`ENOENT`, `ECONNREFUSED`, `ETIMEDOUT`, ...).
 */
export async function enforcerExchange(
  path: string,
  timeoutMs: number,
): Promise<Uint8Array | string> {
  const out = new Uint8Array(4096);
  const n = await poolCall(
    "enforcer_register",
    new TextEncoder().encode(path + "\0"),
    timeoutMs,
    out,
    out.length,
  );
  return n < 0 ? errnoName(-n) : out.subarray(0, n);
}

/** What {@link regionMap} made. */
export interface RegionMapping {
  /** Start of the PROT_NONE reservation (the leading guard page). */
  reserve: bigint;
  /** Start of the shared, writable data pages. */
  data: bigint;
  /** How long the backing file's fd was open, in nanoseconds. */
  fdOpenNs: number;
}

/**
 * A new secret file of `size` bytes (a page multiple) mapped between two
 * PROT_NONE guard pages, its fd closed before this returns: `memfd_secret`,
 * or `memfd_create` for `"memfd"`. One native call, so the fd lives for a
 * few syscalls only. Throws a {@link SyscallError} naming the failed call.
 */
export function regionMap(
  kind: "memfd_secret" | "memfd",
  size: number,
): RegionMapping {
  const out = new BigUint64Array(4);
  const r = nativeCall(
    "region_map",
    kind === "memfd_secret" ? 0 : 1,
    size,
    new Uint8Array(out.buffer),
  );
  if (r < 0) {
    const call = SHIM_STEPS[Number(out[3])] || "region_map";
    check(
      call === "memfd_secret" && kind === "memfd" ? "memfd_create" : call,
      r,
    );
  }
  return { reserve: out[0], data: out[1], fdOpenNs: Number(out[2]) };
}

/** A writable view over native memory. Drop it before the memory is unmapped. */
export function viewOf(addr: bigint, len: number): Uint8Array {
  const ptr = Deno.UnsafePointer.create(addr);
  if (ptr === null) throw new Error("viewOf: null address");
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, len));
}
