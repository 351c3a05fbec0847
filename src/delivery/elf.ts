/**
 * What the target program is: its libc, read from the `PT_INTERP` of its
 * ELF file (the command resolved through `PATH` the way `execvp` does, `#!`
 * scripts followed to their interpreter), and whether it is a Go program.
 * choose.ts turns that into a delivery.
 *
 * The parsers are pure and bounds-checked: a truncated or hostile file gives
 * `"unknown"`, never an exception or an out-of-range read.
 */

/** The C library a program runs with. */
export type Libc = "glibc" | "musl" | "static" | "unknown";

/** What an ELF file's headers say. */
export interface ElfInfo {
  /** 32 or 64. */
  bits: 32 | 64;
  /** `e_machine`, e.g. 62 for x86-64. */
  machine: number;
  /** `e_type`: 2 executable, 3 shared object or PIE. */
  type: number;
  /** `e_entry`: 0 in a shared library. */
  entry: number;
  /** The `PT_INTERP` path, when there is one. */
  interp?: string;
  /** True when a `PT_NOTE` carries a Go build ID (the Go runtime). */
  go: boolean;
}

/** What will run when the wrapper execs a command. */
export interface TargetInfo {
  /** The command as given. */
  command: string;
  /** The files exec meets, from the command to the ELF that runs (`#!` followed). */
  chain: string[];
  /** The libc of the last file of the chain. */
  libc: Libc;
  /** True when a script runs through `env` (a `#!/usr/bin/env NAME` line). */
  viaEnv: boolean;
  /** True when the ELF is a Go program: Go reads its environment from the initial stack, not through getenv. */
  go: boolean;
}

/** Random access to a file's bytes; `read` returns fewer bytes at the end. */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Uint8Array;
}

const PT_INTERP = 3;
const PT_NOTE = 4;
const NT_GO_BUILDID = 4;
const MAX_PHDRS_BYTES = 64 * 1024;
const MAX_INTERP = 4096;
const MAX_NOTE = 64 * 1024;
/** Linux's BINPRM_BUF_SIZE: the kernel reads this much of a `#!` line. */
const SHEBANG_MAX = 256;
/** Linux follows at most this many nested interpreters. */
const MAX_INTERPRETERS = 4;

/** A {@link ByteSource} over bytes in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (off, len) =>
      off >= bytes.length || off < 0
        ? new Uint8Array(0)
        : bytes.subarray(off, Math.min(bytes.length, off + len)),
  };
}

/**
 * Parses the ELF header, program headers, `PT_INTERP` and `PT_NOTE`s.
 * Returns `undefined` when `src` is not an ELF file or is malformed.
 *
 * @example
 * ```ts
 * const info = parseElf(bytesSource(Deno.readFileSync("/bin/true")));
 * info?.interp; // "/lib64/ld-linux-x86-64.so.2"
 * ```
 */
export function parseElf(src: ByteSource): ElfInfo | undefined {
  const h = src.read(0, 64);
  if (
    h.length < 52 || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c ||
    h[3] !== 0x46
  ) return undefined;
  const bits = h[4] === 2 ? 64 : h[4] === 1 ? 32 : 0;
  const little = h[5] === 1 ? true : h[5] === 2 ? false : undefined;
  if (bits === 0 || little === undefined || (bits === 64 && h.length < 64)) {
    return undefined;
  }
  const dv = new DataView(h.buffer, h.byteOffset, h.length);
  const type = dv.getUint16(16, little);
  const machine = dv.getUint16(18, little);
  const phoff = bits === 64
    ? safeNumber(dv.getBigUint64(32, little))
    : dv.getUint32(28, little);
  const entry = bits === 64
    ? safeNumber(dv.getBigUint64(24, little)) ?? 1
    : dv.getUint32(24, little);
  const phentsize = dv.getUint16(bits === 64 ? 54 : 42, little);
  const phnum = dv.getUint16(bits === 64 ? 56 : 44, little);
  const minEnt = bits === 64 ? 56 : 32;
  if (phoff === undefined || phentsize < minEnt) return undefined;
  const total = phentsize * phnum;
  if (total > MAX_PHDRS_BYTES || phoff > src.size - total) return undefined;
  const ph = src.read(phoff, total);
  if (ph.length !== total) return undefined;
  const pv = new DataView(ph.buffer, ph.byteOffset, ph.length);
  const info: ElfInfo = { bits, machine, type, entry, go: false };
  for (let i = 0; i < phnum; i++) {
    const b = i * phentsize;
    const ptype = pv.getUint32(b, little);
    if (ptype !== PT_INTERP && ptype !== PT_NOTE) continue;
    const off = bits === 64
      ? safeNumber(pv.getBigUint64(b + 8, little))
      : pv.getUint32(b + 4, little);
    const size = bits === 64
      ? safeNumber(pv.getBigUint64(b + 32, little))
      : pv.getUint32(b + 16, little);
    if (off === undefined || size === undefined || off > src.size) continue;
    if (ptype === PT_INTERP && info.interp === undefined) {
      if (size === 0 || size > MAX_INTERP) return undefined;
      const raw = src.read(off, size);
      const nul = raw.indexOf(0);
      info.interp = new TextDecoder().decode(
        raw.subarray(0, nul < 0 ? raw.length : nul),
      );
    } else if (ptype === PT_NOTE && size <= MAX_NOTE) {
      if (hasGoNote(src.read(off, size), little)) info.go = true;
    }
  }
  return info;
}

function safeNumber(v: bigint): number | undefined {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

// Notes: namesz, descsz, type (4 bytes each), name and desc padded to 4.
function hasGoNote(notes: Uint8Array, little: boolean): boolean {
  const dv = new DataView(notes.buffer, notes.byteOffset, notes.length);
  let p = 0;
  while (p + 12 <= notes.length) {
    const namesz = dv.getUint32(p, little);
    const descsz = dv.getUint32(p + 4, little);
    const type = dv.getUint32(p + 8, little);
    const name = p + 12;
    const desc = name + align4(namesz);
    if (desc > notes.length || descsz > notes.length - desc) return false;
    if (
      type === NT_GO_BUILDID && namesz === 4 && notes[name] === 0x47 &&
      notes[name + 1] === 0x6f && notes[name + 2] === 0
    ) return true;
    p = desc + align4(descsz);
  }
  return false;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** The `e_machine` of the host, to refuse foreign binaries. */
function hostMachine(): number | undefined {
  return ({ x86_64: 62, aarch64: 183 } as Record<string, number>)[
    Deno.build.arch
  ];
}

/**
 * The libc an ELF file runs with: `PT_INTERP` `ld-linux*.so*` or `ld64.so*`
 * is glibc, `ld-musl-*` is musl, no `PT_INTERP` in an executable (or a
 * static-pie) is static.
 * A file for another architecture is `"unknown"`.
 */
export function libcOfElf(info: ElfInfo | undefined): Libc {
  if (!info) return "unknown";
  const host = hostMachine();
  if (host !== undefined && info.machine !== host) return "unknown";
  if (info.interp === undefined) {
    // ET_EXEC, or ET_DYN with an entry point (static-pie); a library has none.
    return info.type === 2 || (info.type === 3 && info.entry !== 0)
      ? "static"
      : "unknown";
  }
  const base = info.interp.slice(info.interp.lastIndexOf("/") + 1);
  if (/^ld-musl-[\w.-]+\.so\.\d+$/.test(base)) return "musl";
  if (/^(ld-linux([\w.-]*)?|ld64)\.so\.\d+$/.test(base)) return "glibc";
  return "unknown";
}

/**
 * The interpreter of a `#!` line and its optional argument (Linux passes the
 * rest of the line as one argument), or `undefined` when there is none.
 */
export function parseShebang(
  head: Uint8Array,
): { interpreter: string; arg?: string } | undefined {
  if (head.length < 3 || head[0] !== 0x23 || head[1] !== 0x21) return;
  let line = new TextDecoder().decode(head.subarray(2, SHEBANG_MAX));
  const nl = line.indexOf("\n");
  if (nl >= 0) line = line.slice(0, nl);
  line = line.replace(/^[ \t]+/, "").replace(/[ \t\r]+$/, "");
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) return;
  return m[2] ? { interpreter: m[1], arg: m[2] } : { interpreter: m[1] };
}

/**
 * Resolves a command the way `execvp(3)` does: a name with a `/` is a path;
 * otherwise the first executable regular file named so in `PATH` (empty
 * entries mean the current directory; unset `PATH` means `/bin:/usr/bin`).
 */
export function resolveCommand(
  command: string,
  path: string | undefined = Deno.env.get("PATH"),
): string | undefined {
  if (command === "") return;
  if (command.includes("/")) return command;
  for (const dir of (path ?? "/bin:/usr/bin").split(":")) {
    const candidate = `${dir === "" ? "." : dir}/${command}`;
    try {
      const st = Deno.statSync(candidate);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) {
        return candidate;
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || isAccessError(e))) throw e;
    }
  }
}

function isAccessError(e: unknown): boolean {
  return e instanceof Deno.errors.PermissionDenied ||
    (e instanceof Error && /ENOTDIR|not a directory/i.test(e.message));
}

// Reads what parseElf and parseShebang need, then closes the file.
function inspectFile(
  path: string,
): { elf?: ElfInfo; shebang?: { interpreter: string; arg?: string } } {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return {};
  }
  try {
    const size = file.statSync().size;
    const src: ByteSource = {
      size,
      read(off, len) {
        const buf = new Uint8Array(Math.max(0, Math.min(len, size - off)));
        file.seekSync(off, Deno.SeekMode.Start);
        let n = 0;
        while (n < buf.length) {
          const r = file.readSync(buf.subarray(n));
          if (r === null || r === 0) break;
          n += r;
        }
        return buf.subarray(0, n);
      },
    };
    const head = src.read(0, SHEBANG_MAX);
    const shebang = parseShebang(head);
    if (shebang) return { shebang };
    return { elf: parseElf(src) };
  } finally {
    file.close();
  }
}

/**
 * Follows a command to the ELF file that will run it.
 *
 * @example
 * ```ts
 * const t = inspectTarget("python3");
 * t.libc; // "glibc"
 * ```
 */
export function inspectTarget(
  command: string,
  path: string | undefined = Deno.env.get("PATH"),
): TargetInfo {
  const out: TargetInfo = {
    command,
    chain: [],
    libc: "unknown",
    viaEnv: false,
    go: false,
  };
  let file = resolveCommand(command, path);
  for (let depth = 0; file !== undefined; depth++) {
    out.chain.push(file);
    const { elf, shebang } = inspectFile(file);
    if (elf) {
      out.libc = libcOfElf(elf);
      out.go = elf.go;
      return out;
    }
    if (!shebang || depth >= MAX_INTERPRETERS) return out;
    const base = shebang.interpreter.slice(
      shebang.interpreter.lastIndexOf("/") + 1,
    );
    if (base === "env" && shebang.arg) {
      // `#!/usr/bin/env [-S] NAME ...`: the program env execs is the app.
      const words = shebang.arg.split(/[ \t]+/).filter((w) =>
        !w.startsWith("-") && !/^\w+=/.test(w)
      );
      if (words.length === 0) return out;
      out.chain.push(shebang.interpreter);
      out.viaEnv = true;
      file = resolveCommand(words[0], path);
    } else {
      file = shebang.interpreter;
    }
  }
  return out;
}

/**
 * The libc of the program a command runs (`#!` followed, `PATH` searched).
 *
 * @example
 * ```ts
 * detectLibc("/bin/true"); // "glibc" on Debian
 * ```
 */
export function detectLibc(
  command: string,
  path: string | undefined = Deno.env.get("PATH"),
): Libc {
  return inspectTarget(command, path).libc;
}
