/** Reading validated bytes: no checks beyond staying in bounds. */
import {
  BACKSLASH,
  COLON,
  COMMA,
  CR,
  DOT,
  FALSE,
  HEX,
  keyDecoder,
  LBRACE,
  LBRACKET,
  LF,
  LOWER_E,
  LOWER_U,
  MINUS,
  NINE,
  NULL,
  PLUS,
  QUOTE,
  RBRACE,
  SIMPLE_ESCAPE,
  SPACE,
  TAB,
  TRUE,
  UPPER_E,
  ZERO,
} from "./bytes.ts";
import { changed, type ContainerEnds, tooSmall } from "./spans.ts";

export function skipSpace(b: Uint8Array, p: number): number {
  for (;;) {
    const c = b[p];
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return p;
    p++;
  }
}

/**
 * The offset of the first `byte` in `b[from..to)`, or `to`. Short distances
 * are scanned inline (a builtin call costs more than a key's worth of bytes);
 * long ones with the native `indexOf` on a bounded view.
 */
function find(b: Uint8Array, byte: number, from: number, to: number): number {
  const inline = Math.min(to, from + 64);
  for (let i = from; i < inline; i++) if (b[i] === byte) return i;
  if (inline === to) return to;
  const i = b.subarray(inline, to).indexOf(byte);
  return i < 0 ? to : inline + i;
}

/** End of the validated string whose opening quote is at `p`. */
function skipString(b: Uint8Array, p: number): number {
  const n = b.length;
  let q = p + 1;
  for (;;) {
    q = find(b, QUOTE, q, n);
    if (q === n) throw changed(p);
    // A quote after an odd run of backslashes is escaped.
    let k = q - 1;
    while (b[k] === BACKSLASH) k--;
    if (((q - 1 - k) & 1) === 0) return q + 1;
    q++;
  }
}

/** End of the validated value at `p`. */
export function skipValue(
  b: Uint8Array,
  p: number,
  ends: ContainerEnds,
): number {
  switch (b[p]) {
    case LBRACE:
    case LBRACKET: {
      const end = ends.get(p);
      if (end === undefined) throw changed(p);
      return end;
    }
    case QUOTE:
      return skipString(b, p);
    case TRUE[0]:
    case NULL[0]:
      return p + 4;
    case FALSE[0]:
      return p + 5;
    default: {
      const start = p;
      for (;;) {
        const c = b[p];
        if (
          (c >= ZERO && c <= NINE) || c === MINUS || c === PLUS || c === DOT ||
          c === LOWER_E || c === UPPER_E
        ) {
          p++;
        } else {
          break;
        }
      }
      if (p === start) throw changed(p);
      return p;
    }
  }
}

/**
 * Calls `visit(keyStart, keyEnd, valueStart, valueEnd)` for each member of
 * the validated object that spans `start..end`, in document order.
 */
export function forEachMember(
  b: Uint8Array,
  start: number,
  end: number,
  ends: ContainerEnds,
  visit: (ks: number, ke: number, vs: number, ve: number) => void,
): void {
  let p = skipSpace(b, start + 1);
  if (b[p] === RBRACE) return;
  for (;;) {
    if (b[p] !== QUOTE) throw changed(p);
    const ke = skipString(b, p);
    const colon = skipSpace(b, ke);
    if (b[colon] !== COLON) throw changed(colon);
    const vs = skipSpace(b, colon + 1);
    const ve = skipValue(b, vs, ends);
    if (ve > end) throw changed(vs);
    visit(p, ke, vs, ve);
    p = skipSpace(b, ve);
    if (b[p] === COMMA) {
      p = skipSpace(b, p + 1);
    } else if (p === end - 1 && b[p] === RBRACE) {
      return;
    } else {
      throw changed(p);
    }
  }
}

/** Whether the validated key at `ks..ke` equals `want` (`key` encoded). */
export function keyEquals(
  b: Uint8Array,
  ks: number,
  ke: number,
  want: Uint8Array,
  key: string,
): boolean {
  const from = ks + 1;
  const to = ke - 1;
  if (find(b, BACKSLASH, from, to) < to) return decodeKey(b, ks, ke) === key;
  if (to - from !== want.length) return false;
  for (let i = 0; i < want.length; i++) {
    if (b[from + i] !== want[i]) return false;
  }
  return true;
}

/**
 * Decodes a validated string that is not secret (a key, a message) to a JS
 * string. The scratch buffer for escaped strings is zeroed afterwards anyway.
 */
export function decodeKey(b: Uint8Array, start: number, end: number): string {
  const from = start + 1;
  const to = end - 1;
  if (find(b, BACKSLASH, from, to) === to) {
    // Short ASCII keys: one call, no TextDecoder round trip (about 1 us).
    if (to - from <= 64) {
      let ascii = true;
      for (let i = from; i < to; i++) if (b[i] >= 0x80) ascii = false;
      if (ascii) {
        return String.fromCharCode.apply(
          null,
          b.subarray(from, to) as unknown as number[],
        );
      }
    }
    return keyDecoder.decode(b.subarray(from, to));
  }
  const scratch = new Uint8Array(to - from);
  try {
    const n = decodeStringBytes(b, start, end, scratch);
    return keyDecoder.decode(scratch.subarray(0, n));
  } finally {
    scratch.fill(0);
  }
}

/**
 * Decodes the validated string at `start..end` (quotes included) into `dst`.
 * Runs without escapes are copied with one `set` each; escapes are written
 * byte by byte. Nothing else holds the bytes.
 */
export function decodeStringBytes(
  b: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
): number {
  const stop = end - 1;
  const cap = dst.length;
  let w = 0;
  let p = start + 1;
  const overflow = (need: number): RangeError => {
    dst.fill(0, 0, w);
    return tooSmall(need, cap);
  };
  while (p < stop) {
    const q = find(b, BACKSLASH, p, stop);
    if (q > p) {
      if (w + (q - p) > cap) throw overflow(stop - start - 1);
      if (q - p <= 16) {
        while (p < q) dst[w++] = b[p++];
      } else {
        dst.set(b.subarray(p, q), w);
        w += q - p;
        p = q;
      }
      if (p === stop) break;
    }
    // An escape at p.
    const e = b[p + 1];
    const simple = e < 128 ? SIMPLE_ESCAPE[e] : -1;
    if (simple >= 0) {
      if (w + 1 > cap) throw overflow(stop - start - 1);
      dst[w++] = simple;
      p += 2;
      continue;
    }
    if (e !== LOWER_U) throw changed(p);
    let cp = hex4Trusted(b, p + 2);
    p += 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const low = hex4Trusted(b, p + 2);
      if (b[p] !== BACKSLASH || (low & 0xfc00) !== 0xdc00) throw changed(p);
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      p += 6;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      throw changed(p - 6);
    }
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (w + len > cap) throw overflow(stop - start - 1);
    if (len === 1) {
      dst[w++] = cp;
    } else if (len === 2) {
      dst[w++] = 0xc0 | (cp >> 6);
      dst[w++] = 0x80 | (cp & 0x3f);
    } else if (len === 3) {
      dst[w++] = 0xe0 | (cp >> 12);
      dst[w++] = 0x80 | ((cp >> 6) & 0x3f);
      dst[w++] = 0x80 | (cp & 0x3f);
    } else {
      dst[w++] = 0xf0 | (cp >> 18);
      dst[w++] = 0x80 | ((cp >> 12) & 0x3f);
      dst[w++] = 0x80 | ((cp >> 6) & 0x3f);
      dst[w++] = 0x80 | (cp & 0x3f);
    }
  }
  return w;
}

function hex4Trusted(b: Uint8Array, p: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = b[p + i];
    const h = c === undefined ? -1 : HEX[c];
    if (h < 0) throw changed(p + i);
    v = (v << 4) | h;
  }
  return v;
}
