/**
 * The TypeScript SDK for Deno apps started by cloudtaser-wrapper with
 * `CLOUDTASER_DELIVERY=fd`: secret values as `Uint8Array` views over the
 * secret region, never copied, never strings.
 */
import * as native from "../../ffi/mod.ts";
import { fdSize } from "../../ffi/sdk.ts";
import { parseRegion, RegionFormatError } from "../region/parse_region.ts";
import { FLAGS, OFF_FLAGS, OFF_GENERATION } from "../region/format.ts";
import { assertUntraced } from "../protect/harden.ts";
import { ProtectionMissingError } from "../protect/errors.ts";

/** The variable naming the region's fd. */
export const SECRET_FD_ENV = "CLOUDTASER_SECRET_FD";

/** Why {@link openSecrets} failed. */
export type SecretsErrorReason =
  | "unset"
  | "invalid"
  | "bad-fd"
  | "not-a-region"
  | "malformed"
  | "traced";

/** The secrets cannot be opened; `reason` says why. Never holds a value. */
export class SecretsError extends Error {
  /** Why the region could not be opened. */
  readonly reason: SecretsErrorReason;
  /**
   * Makes the error.
   *
   * @param reason why the region could not be opened
   * @param message the sentence shown, naming the variable or fd
   */
  constructor(reason: SecretsErrorReason, message: string) {
    super(message);
    this.name = "SecretsError";
    this.reason = reason;
  }
}

/** Options for {@link openSecrets}. */
export interface OpenSecretsOptions {
  /** The region's fd. @default the number in `CLOUDTASER_SECRET_FD` */
  fd?: number;
  /** Remove `CLOUDTASER_SECRET_FD` from the environment once the fd is closed. @default true */
  unsetEnv?: boolean;
}

/** An open secret region. */
export interface Secrets {
  /**
   * The value of `key` as a read-only view over the region (writing to it
   * faults), or `undefined`. Drop every view before {@link Secrets.close}:
   * afterwards they read zeros.
   */
  get(key: string): Uint8Array | undefined;
  /**
   * A copy of `key`'s value consistent with one generation: a change the
   * wrapper writes in place (`CLOUDTASER_ON_CHANGE=signal:NAME`) while this
   * reads makes it read again, so a value is never half old, half new. Use
   * it when the region can change: a view from {@link Secrets.get} keeps
   * pointing at bytes a change rewrites. Zero the copy when done. Throws
   * when a change does not finish within many tries.
   */
  read(key: string): Uint8Array | undefined;
  /** The region's generation: 0 until a change is written in place. */
  readonly generation: number;
  /** Record keys in region order (keys are not secret). */
  keys(): string[];
  /** Unmaps the region. Idempotent. */
  close(): void;
}

/**
 * Makes this process non-dumpable (no process of its uid can ptrace it from
 * then on; dumpable again when the region's flags say
 * `CLOUDTASER_APP_CORE_DUMPS`), maps the region named by
 * `CLOUDTASER_SECRET_FD` read-only, between two guard pages, validates it,
 * refuses (`SecretsError` "traced", nothing mapped) while a tracer is
 * attached unless the flags say `CLOUDTASER_ALLOW_TRACER`, closes the fd at
 * once (an open fd can be stolen with `pidfd_getfd`; a mapping cannot) and
 * unsets the variable.
 *
 * Needs `--allow-env --allow-ffi`.
 *
 * @example
 * ```ts
 * const secrets = openSecrets();
 * const password = secrets.get("DB_PASSWORD"); // Uint8Array, no copy
 * await db.connect({ password }); // a client that accepts bytes
 * secrets.close();
 * ```
 */
export function openSecrets(options: OpenSecretsOptions = {}): Secrets {
  const fd = options.fd ?? fdFromEnv();
  // Non-dumpable before the region is mapped, as the interposer and the C
  // SDK do: a dumpable process can be ptraced by any process of its uid,
  // which then makes it copy its region out (docs/security.md). A tracer
  // already attached is refused once the region's flags are known.
  native.setDumpable(false);
  let tracer: string | undefined;
  try {
    assertUntraced();
  } catch (e) {
    if (!(e instanceof ProtectionMissingError)) throw e;
    tracer = e.message;
  }
  let size: number;
  try {
    size = fdSize(fd);
  } catch (e) {
    if (e instanceof native.SyscallError) {
      throw new SecretsError("bad-fd", `secret fd ${fd}: ${e.message}`);
    }
    throw e;
  }
  if (size <= 0 || size > 0xffff_0000) {
    throw new SecretsError("not-a-region", `fd ${fd} is not a secret region`);
  }
  const page = native.pageSize();
  const span = Math.ceil(size / page) * page;
  const reserve = native.mmap(
    0n,
    span + 2 * page,
    native.PROT.NONE,
    native.MAP.PRIVATE | native.MAP.ANONYMOUS | native.MAP.NORESERVE,
  );
  const data = reserve + BigInt(page);
  let ours = false;
  try {
    try {
      native.mmap(
        data,
        size,
        native.PROT.READ,
        native.MAP.SHARED | native.MAP.FIXED,
        fd,
      );
    } catch (e) {
      if (e instanceof native.SyscallError) {
        throw new SecretsError("not-a-region", `secret fd ${fd}: ${e.message}`);
      }
      throw e;
    }
    const view = native.viewOf(data, size);
    let records;
    try {
      records = parseRegion(view);
    } catch (e) {
      if (!(e instanceof RegionFormatError)) throw e;
      ours = !e.notRegion;
      throw new SecretsError(
        e.notRegion ? "not-a-region" : "malformed",
        `secret fd ${fd}: ${e.message}`,
      );
    }
    const flags = new DataView(view.buffer, view.byteOffset, view.byteLength)
      .getUint32(OFF_FLAGS, true);
    if (tracer && !(flags & FLAGS.ALLOW_TRACER)) {
      throw new SecretsError(
        "traced",
        `secret fd ${fd} not mapped: ${
          tracer.replace(/ of the wrapper.*$/, " of this process")
        }`,
      );
    }
    if (flags & FLAGS.APP_CORE_DUMPS) native.setDumpable(true);
    ours = true;
    return new MappedSecrets(view, records, data, size);
  } catch (e) {
    native.munmap(reserve, span + 2 * page);
    throw e;
  } finally {
    if (ours) {
      native.close(fd);
      if (options.unsetEnv ?? true) Deno.env.delete(SECRET_FD_ENV);
    }
  }
}

function fdFromEnv(): number {
  const s = Deno.env.get(SECRET_FD_ENV);
  if (s === undefined) {
    throw new SecretsError("unset", `${SECRET_FD_ENV} is not set`);
  }
  if (!/^[0-9]{1,9}$/.test(s)) {
    throw new SecretsError("invalid", `${SECRET_FD_ENV} is not an fd number`);
  }
  return Number(s);
}

type Indexed = { key: string; valueOffset: number; valueLength: number }[];

/** Tries of {@link Secrets.read} before it gives up on a writer. */
const READ_TRIES = 1_000_000;

class MappedSecrets implements Secrets {
  #view: Uint8Array | null;
  #gen: DataView;
  #index = new Map<string, { offset: number; length: number }>();
  #indexed: number; // the generation the index was made at
  #data: bigint;
  #size: number;

  constructor(view: Uint8Array, records: Indexed, data: bigint, size: number) {
    this.#view = view;
    this.#gen = new DataView(view.buffer, view.byteOffset + OFF_GENERATION, 4);
    this.#data = data;
    this.#size = size;
    this.#indexed = this.generation;
    this.#setIndex(records);
  }

  get generation(): number {
    return this.#gen.getUint32(0, true);
  }

  #setIndex(records: Indexed) {
    this.#index.clear();
    for (const r of records) {
      if (!this.#index.has(r.key)) {
        this.#index.set(r.key, {
          offset: r.valueOffset,
          length: r.valueLength,
        });
      }
    }
  }

  /**
   * Indexes the records again when a change was written in place since;
   * false while a change is being written (or was, during the parse).
   */
  #fresh(): boolean {
    const g = this.generation;
    if (g & 1) return false;
    if (g === this.#indexed) return true;
    let records: Indexed;
    try {
      records = parseRegion(this.#view!);
    } catch (e) {
      if (e instanceof RegionFormatError && this.generation !== g) {
        return false; // a writer came by: try again
      }
      throw e;
    }
    if (this.generation !== g) return false;
    this.#setIndex(records);
    this.#indexed = g;
    return true;
  }

  get(key: string): Uint8Array | undefined {
    if (!this.#view) throw new Error("secrets already closed");
    for (let i = 0; i < READ_TRIES && !this.#fresh(); i++) { /* writer */ }
    const r = this.#index.get(key);
    return r && this.#view.subarray(r.offset, r.offset + r.length);
  }

  read(key: string): Uint8Array | undefined {
    if (!this.#view) throw new Error("secrets already closed");
    for (let i = 0; i < READ_TRIES; i++) {
      const g = this.generation;
      if (!this.#fresh() || this.generation !== g) continue;
      const r = this.#index.get(key);
      const copy = r && this.#view.slice(r.offset, r.offset + r.length);
      if (this.generation === g) return copy;
      copy?.fill(0);
    }
    throw new Error(
      "the secret region is being changed and did not settle (generation " +
        `${this.generation})`,
    );
  }

  keys(): string[] {
    if (this.#view) this.#fresh();
    return [...this.#index.keys()];
  }

  close(): void {
    if (!this.#view) return;
    // Zero pages replace the region in place: a view kept by mistake reads
    // zeros instead of faulting, and the secret pages leave this process.
    native.mmap(
      this.#data,
      this.#size,
      native.PROT.READ,
      native.MAP.PRIVATE | native.MAP.ANONYMOUS | native.MAP.FIXED,
    );
    this.#view = null;
    this.#index.clear();
  }
}
