/**
 * SecretRegion: the memory that holds every secret value.
 *
 * `memfd_secret(2)` first (pages leave the kernel's direct map, and the VMA
 * is locked and excluded from dumps by the kernel); where the kernel lacks it,
 * a `memfd_create` file mapped and `mlock`ed. Both get `MADV_DONTDUMP`,
 * `PROT_NONE` guard pages on each side and a canary (see src/region/format.ts).
 * Values enter as bytes only; they never become JS strings here.
 */
import * as native from "../../ffi/mod.ts";
import { ProtectionMissingError } from "../protect/errors.ts";
import { RegionError } from "./errors.ts";
import {
  CANARY_SIZE,
  HEADER_SIZE,
  MAGIC,
  OFF_CANARY,
  OFF_DATA_SIZE,
  OFF_FLAGS,
  OFF_RECORD_COUNT,
  OFF_RECORDS_LENGTH,
  OFF_RECORDS_OFFSET,
} from "./format.ts";

/** What backs the region. */
export type RegionBacking = "memfd_secret" | "memfd_mlock";

/** Options for {@link SecretRegion.create}. */
export interface RegionOptions {
  /** Refuse to start without memfd_secret. @default false */
  requireMemfdSecret?: boolean;
  /** Refuse to start when the region cannot be locked. @default false */
  requireMlock?: boolean;
  /**
   * Bytes for records before the first growth. @default 56 KiB less the
   * header and canary: the 56 KiB region with the token's 4 KiB one during
   * the fetch, or with the page the hand-over copies through, fit a 64 KiB
   * RLIMIT_MEMLOCK (Docker's default), which memfd_secret's pages count
   * against
   */
  initialCapacity?: number;
}

/** Outcome of {@link SecretRegion.wipe}. */
export interface WipeReport {
  /** False when the canary was overwritten: something wrote out of bounds. */
  canaryIntact: boolean;
}

/** Largest data size: the header's 32-bit fields bound it. */
const MAX_DATA_SIZE = 0xffff_0000;
const EQUALS = 0x3d;

interface Mapping {
  reserve: bigint; // start of the leading guard page
  data: bigint; // start of the data pages (offset 0 of the file)
  size: number; // data size
  view: Uint8Array; // the data pages, writable
}

/**
 * The protected region of secret records.
 *
 * @example
 * ```ts
 * const region = SecretRegion.create({ requireMemfdSecret: true });
 * region.append("DB_PASSWORD", bytesFromSocket);
 * bytesFromSocket.fill(0);
 * // ... handOver({ region, ... }) copies it into the supervisor; if that
 * // fails, or the start stops:
 * region.wipe();
 * ```
 */
export class SecretRegion {
  /** The backing in use, measured at creation and at each growth. */
  get backing(): RegionBacking {
    return this.#backing;
  }
  /** True when the data pages are locked in RAM. */
  get locked(): boolean {
    return this.#locked;
  }
  /** What fell short of the strongest setting, one sentence each. */
  readonly warnings: string[] = [];
  /**
   * How long the last allocation's backing fd was open (nanoseconds): the
   * window in which `pidfd_getfd` could have taken it.
   */
  fdOpenNs = 0;

  #opts: Required<RegionOptions>;
  #backing: RegionBacking;
  #locked: boolean;
  #map: Mapping | null;
  #used = HEADER_SIZE; // end of the last record
  #count = 0;
  #keys = new Map<string, { offset: number; length: number }>();
  #canary = crypto.getRandomValues(new Uint8Array(CANARY_SIZE));
  #writing = false; // one reservation at a time: growth would move it
  #flags = 0;

  private constructor(opts: Required<RegionOptions>) {
    this.#opts = opts;
    const first = this.#allocate(opts.initialCapacity);
    this.#map = first.map;
    this.#backing = first.backing;
    this.#locked = first.locked;
    this.#writeHeader();
  }

  /** Allocates the region, honouring the strict modes. */
  static create(opts: RegionOptions = {}): SecretRegion {
    return new SecretRegion({
      requireMemfdSecret: opts.requireMemfdSecret ?? false,
      requireMlock: opts.requireMlock ?? false,
      initialCapacity: opts.initialCapacity ??
        56 * 1024 - HEADER_SIZE - CANARY_SIZE,
    });
  }

  /** Address of offset 0 of the data pages. */
  get address(): bigint {
    return this.#mapped().data;
  }
  /** Size of the data pages in bytes. */
  get size(): number {
    return this.#mapped().size;
  }
  /** Number of records. */
  get count(): number {
    return this.#count;
  }
  /** The header's flag bits ({@link FLAGS} in src/region/format.ts). */
  get flags(): number {
    return this.#flags;
  }

  /**
   * Sets the header's flag bits: the wrapper's policy for the supervisor and
   * the interposer (src/region/format.ts `FLAGS`); the hand-over copies them with
   * the rest of the region.
   */
  setFlags(flags: number): void {
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff_ffff) {
      throw new RangeError(`region flags ${flags} are not a 32-bit value`);
    }
    this.#flags = flags;
    this.#writeHeader();
  }

  /** Record keys in insertion order (keys are not secret). */
  keys(): string[] {
    return [...this.#keys.keys()];
  }
  /** True when a record with this key exists. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /**
   * Appends `KEY=VALUE\0`. The value is copied straight from `value` into the
   * region; the caller zeroes its buffer afterwards.
   */
  append(key: string, value: Uint8Array): void {
    const w = this.beginRecord(key, value.length);
    w.view.set(value);
    w.commit(value.length);
  }

  /**
   * Reserves room for a value of at most `maxLength` bytes and returns a view
   * to decode it into in place (the JSON reader writes straight here), and a
   * `commit(length)` that validates and seals the record.
   */
  beginRecord(
    key: string,
    maxLength: number,
  ): { view: Uint8Array; commit(length: number): void } {
    validateKey(key);
    if (this.#writing) throw new Error("a record is already being written");
    if (this.#keys.has(key)) {
      throw new RegionError(`duplicate secret key ${key}`);
    }
    const keyBytes = new TextEncoder().encode(key);
    const need = keyBytes.length + 1 + maxLength + 1;
    this.#ensure(need);
    const m = this.#mapped();
    const start = this.#used;
    m.view.set(keyBytes, start);
    m.view[start + keyBytes.length] = EQUALS;
    const valueAt = start + keyBytes.length + 1;
    const view = m.view.subarray(valueAt, valueAt + maxLength);
    this.#writing = true;
    return {
      view,
      commit: (length: number) => {
        if (!this.#writing) throw new Error("record already committed");
        this.#writing = false;
        if (length > maxLength || length < 0) {
          throw new RangeError(`record ${key}: ${length} > ${maxLength}`);
        }
        if (view.subarray(0, length).includes(0)) {
          view.fill(0, 0, length);
          m.view.fill(0, start, valueAt);
          throw new RegionError(
            `secret ${key} contains a NUL byte, which a KEY=VALUE record ` +
              `(and an environment variable) cannot carry`,
          );
        }
        view.fill(0, length); // clear unused reservation
        m.view[valueAt + length] = 0;
        this.#keys.set(key, { offset: valueAt, length });
        this.#used = valueAt + length + 1;
        this.#count++;
        this.#writeHeader();
      },
    };
  }

  /**
   * A view of a value inside the region. Valid until the region grows or is
   * wiped; do not keep it.
   */
  value(key: string): Uint8Array | undefined {
    const r = this.#keys.get(key);
    if (!r) return undefined;
    return this.#mapped().view.subarray(r.offset, r.offset + r.length);
  }

  /** True while the canary at the end of the data pages is unbroken. */
  canaryIntact(): boolean {
    const m = this.#mapped();
    return native.memEquals(
      m.data + BigInt(m.size - CANARY_SIZE),
      this.#canary,
    );
  }

  /**
   * Zeroes every byte with `explicit_bzero`, checks the canary, unmaps.
   * Idempotent.
   */
  wipe(): WipeReport {
    const m = this.#map;
    if (!m) return { canaryIntact: true };
    const canaryIntact = this.canaryIntact();
    this.#release(m);
    this.#map = null;
    this.#keys.clear();
    this.#canary.fill(0);
    return { canaryIntact };
  }

  #mapped(): Mapping {
    if (!this.#map) throw new Error("secret region already wiped");
    return this.#map;
  }

  #ensure(need: number): void {
    const m = this.#mapped();
    const limit = m.size - CANARY_SIZE;
    if (this.#used + need <= limit) return;
    let capacity = (m.size - HEADER_SIZE - CANARY_SIZE) * 2;
    while (capacity < this.#used + need) capacity *= 2;
    const grown = this.#allocate(capacity);
    const next = grown.map;
    next.view.set(m.view.subarray(0, this.#used));
    this.#release(m);
    this.#map = next;
    // A larger region may fall back (RLIMIT_MEMLOCK) where the first fit.
    this.#backing = grown.backing;
    this.#locked = grown.locked;
    this.#writeHeader();
  }

  #allocate(capacity: number): {
    map: Mapping;
    backing: RegionBacking;
    locked: boolean;
  } {
    const page = native.pageSize();
    const raw = HEADER_SIZE + capacity + CANARY_SIZE;
    if (!Number.isSafeInteger(raw) || raw > MAX_DATA_SIZE) {
      throw new RegionError(`secret region of ${capacity} bytes is too large`);
    }
    const size = Math.ceil(raw / page) * page;

    let backing: RegionBacking = "memfd_secret";
    let mapped: native.RegionMapping;
    try {
      mapped = native.regionMap("memfd_secret", size);
    } catch (e) {
      if (!(e instanceof native.SyscallError)) throw e;
      let why: string;
      if (e.syscall === "memfd_secret") {
        why = `${e.message}: the kernel needs CONFIG_SECRETMEM (Linux 5.14+, ` +
          `and secretmem.enable=1 before 6.5)`;
      } else if (e.syscall === "mmap") {
        // secretmem pages count as locked memory: with RLIMIT_MEMLOCK below
        // the region's size (and no CAP_IPC_LOCK) its mmap fails with EAGAIN,
        // as a non-root pod with a low limit gets. Treated as memfd_secret
        // being unavailable: the strict mode refuses, else the fallback.
        why = `memfd_secret's mapping of ${size} bytes failed: ${e.code} ` +
          `(its pages count against RLIMIT_MEMLOCK; raise the limit or ` +
          `grant CAP_IPC_LOCK)`;
      } else throw e;
      if (this.#opts.requireMemfdSecret) {
        throw new ProtectionMissingError(
          `CLOUDTASER_REQUIRE_MEMFD_SECRET=true but ${why}`,
        );
      }
      this.#warnOnce(
        `${why}; secrets stay in the kernel's direct map (memfd + mlock)`,
      );
      backing = "memfd_mlock";
      mapped = native.regionMap("memfd", size);
    }
    // The fd is closed already: only the mapping holds the pages.
    this.fdOpenNs = mapped.fdOpenNs;
    const { reserve, data } = mapped;
    try {
      native.madvise(data, size, native.MADV.DONTDUMP);
      const locked = backing === "memfd_secret" ? true : this.#lock(data, size);
      const view = native.viewOf(data, size);
      view.set(this.#canary, size - CANARY_SIZE);
      return { map: { reserve, data, size, view }, backing, locked };
    } catch (e) {
      native.munmap(reserve, size + 2 * page);
      throw e;
    }
  }

  // memfd_secret VMAs are locked by the kernel (mlock on them gives ENOMEM);
  // the fallback must lock them itself.
  #lock(data: bigint, size: number): boolean {
    try {
      native.mlock(data, size);
      return true;
    } catch (e) {
      if (!(e instanceof native.SyscallError)) throw e;
      const why = `${e.message}: the secret region can be swapped to disk ` +
        `(grant CAP_IPC_LOCK or raise RLIMIT_MEMLOCK)`;
      if (this.#opts.requireMlock) {
        throw new ProtectionMissingError(
          `CLOUDTASER_REQUIRE_MLOCK=true but ${why}`,
        );
      }
      this.#warnOnce(why);
      return false;
    }
  }

  #warnOnce(w: string) {
    if (!this.warnings.includes(w)) this.warnings.push(w);
  }

  #release(m: Mapping): void {
    const page = native.pageSize();
    native.explicitBzero(m.data, m.size);
    native.munmap(m.reserve, m.size + 2 * page);
  }

  #writeHeader(): void {
    const m = this.#mapped();
    m.view.set(MAGIC, 0);
    const dv = new DataView(m.view.buffer, m.view.byteOffset, HEADER_SIZE);
    dv.setUint32(OFF_RECORDS_OFFSET, HEADER_SIZE, true);
    dv.setUint32(OFF_RECORDS_LENGTH, this.#used - HEADER_SIZE, true);
    dv.setUint32(OFF_RECORD_COUNT, this.#count, true);
    dv.setUint32(OFF_DATA_SIZE, m.size, true);
    dv.setUint32(OFF_FLAGS, this.#flags, true);
    m.view.set(this.#canary, OFF_CANARY);
  }
}

/** A record key: non-empty, no `=` and no NUL (they delimit records). */
function validateKey(key: string): void {
  if (key.length === 0 || key.includes("=") || key.includes("\0")) {
    throw new RegionError(
      `invalid secret key ${JSON.stringify(key)}: it must be non-empty and ` +
        `hold neither '=' nor NUL`,
    );
  }
}
