/**
 * Loads the native shim. This file and `shim.ts` are the only places in the
 * project that call `Deno.dlopen` (STYLE.md "Distilled" 2).
 *
 * Under `deno run` the library is a file in `build/`. Inside a `deno compile`
 * binary it is embedded (`--include build`) in a virtual file system that
 * `dlopen(3)` cannot see; there its bytes are copied into an anonymous
 * `memfd_create` file and loaded through `/proc/self/fd/N`, so nothing is
 * written to disk.
 */

/** Where the native build output lives, relative to this file. */
export const BUILD_DIR = new URL("../build/", import.meta.url);

/** A path that a native program (exec, dlopen) can use for a built file. */
export function nativePath(name: string): string {
  return new URL(name, BUILD_DIR).pathname;
}

const libc = {
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

/**
 * Runs `fn` with a memfd holding `bytes`, then closes the fd. Used for what
 * must be loaded or executed from memory (the shim itself, the supervisor).
 */
export function withMemfd<T>(
  name: string,
  bytes: Uint8Array,
  fn: (fd: number) => T,
): T {
  const lib = Deno.dlopen("libc.so.6", libc);
  try {
    const fd = lib.symbols.memfd_create(
      new TextEncoder().encode(name + "\0"),
      0,
    );
    if (fd < 0) throw new Error(`memfd_create failed for ${name}`);
    let off = 0;
    while (off < bytes.length) {
      const n = Number(
        lib.symbols.write(fd, bytes.subarray(off), BigInt(bytes.length - off)),
      );
      if (n <= 0) {
        lib.symbols.close(fd);
        throw new Error(`write to memfd failed for ${name}`);
      }
      off += n;
    }
    try {
      return fn(fd);
    } finally {
      lib.symbols.close(fd);
    }
  } finally {
    lib.close();
  }
}

/** dlopen a library from `build/`, falling back to a memfd copy. */
export function openNative<S extends Deno.ForeignLibraryInterface>(
  name: string,
  symbols: S,
): Deno.DynamicLibrary<S> {
  const path = nativePath(name);
  try {
    return Deno.dlopen(path, symbols);
  } catch (direct) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch {
      throw new Error(
        `cannot load ${path}: ${
          (direct as Error).message
        } (run \`deno task build\` first)`,
      );
    }
    return dlopenBytes(name, bytes, symbols);
  }
}

/**
 * dlopen a library from its bytes, through an anonymous memfd and
 * `/proc/self/fd/N` (nothing touches disk); the fd is closed once loaded.
 */
export function dlopenBytes<S extends Deno.ForeignLibraryInterface>(
  name: string,
  bytes: Uint8Array,
  symbols: S,
): Deno.DynamicLibrary<S> {
  return withMemfd(
    name,
    bytes,
    (fd) => Deno.dlopen(`/proc/self/fd/${fd}`, symbols),
  );
}
