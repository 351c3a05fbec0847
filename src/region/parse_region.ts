/**
 * The pure reader of the secret region format (docs/region-format.md): it
 * validates a region's bytes and lists where each record's key and value lie.
 * It never copies or decodes a value.
 */
import {
  CANARY_SIZE,
  HEADER_SIZE,
  MAGIC,
  OFF_CANARY,
  OFF_DATA_SIZE,
  OFF_RECORD_COUNT,
  OFF_RECORDS_LENGTH,
  OFF_RECORDS_OFFSET,
} from "./format.ts";

/** Where one record lies in the region, as byte offsets. */
export interface RegionRecord {
  /** The key (keys are not secret). */
  key: string;
  /** Offset of the first value byte. */
  valueOffset: number;
  /** Value length in bytes (the NUL that follows is not counted). */
  valueLength: number;
}

/**
 * The bytes are not a valid region. `notRegion` is true when they do not even
 * start with the magic (then the fd was not a region at all).
 */
export class RegionFormatError extends Error {
  /** True when the magic is missing: this is not a cloudtaser region. */
  readonly notRegion: boolean;
  /**
   * Makes the error.
   *
   * @param message what is wrong with the bytes
   * @param notRegion true when the magic is missing
   */
  constructor(message: string, notRegion = false) {
    super(message);
    this.name = "RegionFormatError";
    this.notRegion = notRegion;
  }
}

const EQUALS = 0x3d;

/**
 * Validates a region (header, bounds, canary copy, records, count) and
 * returns its records in order.
 *
 * @example
 * ```ts
 * const records = parseRegion(view);
 * const db = records.find((r) => r.key === "DB_PASSWORD");
 * if (db) use(view.subarray(db.valueOffset, db.valueOffset + db.valueLength));
 * ```
 */
export function parseRegion(bytes: Uint8Array): RegionRecord[] {
  const size = bytes.length;
  if (
    size < HEADER_SIZE + CANARY_SIZE ||
    !MAGIC.every((b, i) => bytes[i] === b)
  ) {
    throw new RegionFormatError("not a secret region: no magic", true);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const roff = dv.getUint32(OFF_RECORDS_OFFSET, true);
  const rlen = dv.getUint32(OFF_RECORDS_LENGTH, true);
  const count = dv.getUint32(OFF_RECORD_COUNT, true);
  const dataSize = dv.getUint32(OFF_DATA_SIZE, true);
  const limit = size - CANARY_SIZE;
  if (dataSize !== size) {
    throw new RegionFormatError(
      `region data size ${dataSize} differs from the mapped size ${size}`,
    );
  }
  if (roff < HEADER_SIZE || roff > limit || rlen > limit - roff) {
    throw new RegionFormatError("region records lie out of bounds");
  }
  for (let i = 0; i < CANARY_SIZE; i++) {
    if (bytes[OFF_CANARY + i] !== bytes[limit + i]) {
      throw new RegionFormatError("region canary copies differ");
    }
  }
  const dec = new TextDecoder("utf-8", { fatal: false });
  const out: RegionRecord[] = [];
  const end = roff + rlen;
  let p = roff;
  while (p < end) {
    const nul = bytes.subarray(p, end).indexOf(0);
    if (nul < 0) throw new RegionFormatError("region record unterminated");
    const eq = bytes.subarray(p, p + nul).indexOf(EQUALS);
    if (eq <= 0) throw new RegionFormatError("region record has no key");
    out.push({
      key: dec.decode(bytes.subarray(p, p + eq)),
      valueOffset: p + eq + 1,
      valueLength: nul - eq - 1,
    });
    p += nul + 1;
  }
  if (out.length !== count) {
    throw new RegionFormatError(
      `region holds ${out.length} records, its header says ${count}`,
    );
  }
  return out;
}
