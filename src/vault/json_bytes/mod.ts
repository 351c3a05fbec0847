/**
 * A byte-level JSON reader for Vault/OpenBao response bodies.
 *
 * Secret values go from the response bytes (`res.bytes()`) straight into a
 * caller-given `Uint8Array` (normally a view inside the secret region from
 * `SecretRegion.beginRecord`); no value byte ever passes through
 * `JSON.parse`, `TextDecoder`, `String.fromCharCode` or any other JS string.
 * Object keys are decoded to JS strings: field names are not secret.
 *
 * {@link findPath} validates the whole document once (strict RFC 8259 with
 * strict UTF-8, no byte-order mark, nothing after the top-level value, at most
 * {@link MAX_DEPTH} nested containers, and no lone UTF-16 surrogate in a
 * `\uXXXX` escape) and indexes where every object and array ends. The spans it
 * and {@link objectMembers} return are tied to that body: later calls with
 * them trust the validation and do not scan the document again. A span the
 * caller built by hand is validated (only its own bytes) before use.
 *
 * The rule for values, the same in every function:
 * - a string yields its decoded UTF-8 bytes (`\u0000` yields a 0 byte; a
 *   consumer that cannot carry NUL, such as an environment variable, refuses
 *   it);
 * - a number, `true`, `false` or `null` yields its JSON text exactly as in the
 *   body (`-0`, `1e-5` and integers beyond 2^53 keep their spelling);
 * - an object or array yields its JSON text exactly as in the body, byte for
 *   byte, whitespace included.
 *
 * Duplicate keys: the last occurrence wins, as with `JSON.parse`.
 *
 * The body must not change while spans from it are in use, and a buffer must
 * not be refilled with another document and read again (the validation is
 * remembered per `Uint8Array`). Zero it when done: a span used on a zeroed
 * body throws instead of reading garbage.
 *
 * @module
 */

/** What a JSON value is. */
export type JsonKind =
  | "string"
  | "number"
  | "true"
  | "false"
  | "null"
  | "object"
  | "array";

/**
 * Where a value lies in a body: byte offsets, `end` exclusive. A string's
 * span includes its quotes.
 */
export interface JsonSpan {
  /** Offset of the value's first byte. */
  start: number;
  /** Offset just past the value's last byte. */
  end: number;
  /** What the value is. */
  kind: JsonKind;
}

/** The deepest nesting of objects and arrays accepted. */
export const MAX_DEPTH = 128;

/**
 * A body is not valid JSON (or a span does not fit its body). The message
 * says what was expected at which byte offset and never contains body bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findPath, JsonSyntaxError } from "./mod.ts";
 * try {
 *   findPath(new TextEncoder().encode('{"a":1,}'), ["a"]);
 * } catch (e) {
 *   if (!(e instanceof JsonSyntaxError)) throw e;
 *   assert.equal(e.offset, 7); // the stray '}'
 * }
 * ```
 */
export class JsonSyntaxError extends Error {
  /** Byte offset in the body where the problem was found. */
  readonly offset: number;

  /**
   * @param expected what the reader expected, e.g. "expected ':' after an
   *   object key"; must not contain body bytes
   * @param offset byte offset in the body
   */
  constructor(expected: string, offset: number) {
    super(`invalid JSON at byte offset ${offset}: ${expected}`);
    this.name = "JsonSyntaxError";
    this.offset = offset;
  }
}

// Byte values.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const LOWER_U = 0x75;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** The byte each simple escape (`\"`, `\n`, ...) stands for, by escape letter. */
const SIMPLE_ESCAPE = new Int16Array(128).fill(-1);
SIMPLE_ESCAPE[QUOTE] = QUOTE;
SIMPLE_ESCAPE[BACKSLASH] = BACKSLASH;
SIMPLE_ESCAPE[SLASH] = SLASH;
SIMPLE_ESCAPE[0x62] = 0x08; // b
SIMPLE_ESCAPE[0x66] = 0x0c; // f
SIMPLE_ESCAPE[0x6e] = 0x0a; // n
SIMPLE_ESCAPE[0x72] = 0x0d; // r
SIMPLE_ESCAPE[0x74] = 0x09; // t

/** Hex digit values, -1 for anything else. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[ZERO + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

const keyDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const keyEncoder = new TextEncoder();

/** Where each object and array of a validated body ends, by start offset. */
type ContainerEnds = Map<number, number>;

/** Validated bodies and their container index. */
const validated = new WeakMap<Uint8Array, ContainerEnds>();
/**
 * A span this module returned: it remembers its body (a private field, so a
 * copy or a hand-built object is not mistaken for one) and is frozen.
 */
class IssuedSpan implements JsonSpan {
  readonly start: number;
  readonly end: number;
  readonly kind: JsonKind;
  readonly #body: Uint8Array;

  constructor(body: Uint8Array, start: number, end: number, kind: JsonKind) {
    this.start = start;
    this.end = end;
    this.kind = kind;
    this.#body = body;
    Object.freeze(this);
  }

  /** The body `span` was issued for, if this module issued it. */
  static bodyOf(span: JsonSpan): Uint8Array | undefined {
    return #body in span ? (span as IssuedSpan).#body : undefined;
  }
}

/**
 * Validates the whole document and returns the span of the value at `path`
 * (a list of object keys, outermost first), or `undefined` when a key is
 * missing or a value on the way is not an object. An empty path gives the
 * top-level value. Where an object repeats a key, the last occurrence wins.
 *
 * Validation happens once per body: later calls on the same body (and the
 * other functions, given spans from this one) use the index built here.
 *
 * @throws {JsonSyntaxError} the body is not valid JSON
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInto, findPath, maxDecodedLength } from "./mod.ts";
 * const body = new TextEncoder().encode(
 *   '{"data":{"data":{"password":"hunter2"}}}',
 * );
 * const span = findPath(body, ["data", "data", "password"]);
 * if (span?.kind === "string") {
 *   const dst = new Uint8Array(maxDecodedLength(span));
 *   const n = decodeInto(body, span, dst);
 *   assert.deepEqual(dst.subarray(0, n), new TextEncoder().encode("hunter2"));
 *   dst.fill(0, 0, n);
 * }
 * body.fill(0);
 * ```
 */
export function findPath(
  body: Uint8Array,
  path: readonly string[],
): JsonSpan | undefined {
  const ends = validateDocument(body);
  let p = skipSpace(body, 0);
  let end = skipValue(body, p, ends);
  for (const key of path) {
    if (body[p] !== LBRACE) return undefined;
    const want = keyEncoder.encode(key);
    let found = -1;
    let foundEnd = -1;
    forEachMember(body, p, end, ends, (ks, ke, vs, ve) => {
      if (keyEquals(body, ks, ke, want, key)) {
        found = vs;
        foundEnd = ve;
      }
    });
    if (found < 0) return undefined;
    p = found;
    end = foundEnd;
  }
  return issue(body, p, end);
}

/**
 * The members of the object at `span`, as `[key, valueSpan]` pairs. Keys are
 * decoded to JS strings (field names are not secret); values are not touched.
 *
 * Each key appears once. A repeated key keeps the position of its first
 * occurrence and takes the value of its last, which is what `JSON.parse`
 * and `Object.entries` give (except that `Object.entries` moves integer-like
 * keys to the front; this keeps document order).
 *
 * @throws {TypeError} the span is not an object
 * @throws {JsonSyntaxError} a hand-built span is not valid JSON, or the body
 *   changed since it was validated
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findPath, objectMembers } from "./mod.ts";
 * const body = new TextEncoder().encode('{"data":{"user":"app","pass":"s"}}');
 * const data = findPath(body, ["data"])!;
 * const keys = objectMembers(body, data).map(([key]) => key);
 * assert.deepEqual(keys, ["user", "pass"]);
 * ```
 */
export function objectMembers(
  body: Uint8Array,
  span: JsonSpan,
): Array<[string, JsonSpan]> {
  if (span.kind !== "object") {
    throw new TypeError(`objectMembers needs an object, got ${span.kind}`);
  }
  const ends = trustedEnds(body, span);
  const out: Array<[string, JsonSpan]> = [];
  const seen = new Map<string, number>();
  forEachMember(body, span.start, span.end, ends, (ks, ke, vs, ve) => {
    const key = decodeKey(body, ks, ke);
    const value = issue(body, vs, ve);
    const at = seen.get(key);
    if (at === undefined) {
      seen.set(key, out.length);
      out.push([key, value]);
    } else {
      out[at][1] = value;
    }
  });
  return out;
}

/**
 * An upper bound of the bytes {@link decodeInto} writes for `span`: for a
 * string `end - start - 2` (escapes only shrink), otherwise `end - start`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findPath, maxDecodedLength } from "./mod.ts";
 * const body = new TextEncoder().encode('{"k":"a\\nb"}');
 * assert.equal(maxDecodedLength(findPath(body, ["k"])!), 4); // decodes to 3
 * ```
 */
export function maxDecodedLength(span: JsonSpan): number {
  return span.kind === "string"
    ? span.end - span.start - 2
    : span.end - span.start;
}

/**
 * Writes the value at `span` into `dst` and returns the number of bytes
 * written. A string gives its decoded UTF-8 bytes (every escape, surrogate
 * pairs as 4-byte UTF-8, `\u0000` as a 0 byte); any other value gives its JSON
 * text exactly as in the body. The bytes are copied from `body` to `dst` with
 * no intermediate buffer and no JS string.
 *
 * Size `dst` with {@link maxDecodedLength}. When `dst` is too small, the bytes
 * already written are zeroed and a `RangeError` is thrown.
 *
 * @throws {RangeError} `dst` is too small
 * @throws {JsonSyntaxError} a hand-built span is not valid JSON, or the body
 *   changed since it was validated
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInto, findPath, maxDecodedLength } from "./mod.ts";
 * const body = new TextEncoder().encode('{"token":"s.\\u00e9x"}');
 * const span = findPath(body, ["token"])!;
 * // In the wrapper, dst is SecretRegion.beginRecord(key, max).view.
 * const dst = new Uint8Array(maxDecodedLength(span));
 * const n = decodeInto(body, span, dst);
 * assert.deepEqual([...dst.subarray(0, n)], [0x73, 0x2e, 0xc3, 0xa9, 0x78]);
 * dst.fill(0, 0, n);
 * ```
 */
export function decodeInto(
  body: Uint8Array,
  span: JsonSpan,
  dst: Uint8Array,
): number {
  trustedEnds(body, span);
  if (span.kind === "string") {
    return decodeStringBytes(body, span.start, span.end, dst);
  }
  const n = span.end - span.start;
  if (n > dst.length) throw tooSmall(n, dst.length);
  dst.set(body.subarray(span.start, span.end));
  return n;
}

/**
 * Decodes a string value that is not secret (a field name, an error message,
 * a lease id) to a JS string. Never use it on a secret value.
 *
 * @throws {TypeError} the span is not a string
 * @throws {JsonSyntaxError} a hand-built span is not valid JSON, or the body
 *   changed since it was validated
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeString, findPath } from "./mod.ts";
 * const body = new TextEncoder().encode('{"lease_id":"kv/creds/\\u0061b"}');
 * const span = findPath(body, ["lease_id"])!;
 * assert.equal(decodeString(body, span), "kv/creds/ab");
 * ```
 */
export function decodeString(body: Uint8Array, span: JsonSpan): string {
  if (span.kind !== "string") {
    throw new TypeError(`decodeString needs a string, got ${span.kind}`);
  }
  trustedEnds(body, span);
  return decodeKey(body, span.start, span.end);
}

// ---------------------------------------------------------------------------
// Spans and trust

function issue(body: Uint8Array, start: number, end: number): JsonSpan {
  return new IssuedSpan(body, start, end, kindAt(body, start));
}

function kindAt(body: Uint8Array, p: number): JsonKind {
  switch (body[p]) {
    case QUOTE:
      return "string";
    case LBRACE:
      return "object";
    case LBRACKET:
      return "array";
    case TRUE[0]:
      return "true";
    case FALSE[0]:
      return "false";
    case NULL[0]:
      return "null";
    default:
      return "number";
  }
}

/**
 * The container index to read `span` with. A span this module issued for this
 * body is trusted (after a cheap check that the body still looks the same);
 * any other span is validated first, its own bytes only.
 */
function trustedEnds(body: Uint8Array, span: JsonSpan): ContainerEnds {
  const { start, end } = span;
  if (
    !Number.isSafeInteger(start) || !Number.isSafeInteger(end) ||
    start < 0 || end > body.length || start >= end
  ) {
    throw new RangeError(
      `span ${start}..${end} lies outside the body (0..${body.length})`,
    );
  }
  const ends = validated.get(body);
  if (ends && IssuedSpan.bodyOf(span) === body) {
    if (!looksLike(body, span, ends)) throw changed(start);
    return ends;
  }
  const v = new Validator(body);
  const got = v.value(start, 0);
  if (got !== end || kindAt(body, start) !== span.kind) {
    throw new JsonSyntaxError(
      `expected the span to hold exactly one ${span.kind} value`,
      start,
    );
  }
  return v.ends;
}

/** A cheap check that a trusted span still matches the body. */
function looksLike(
  body: Uint8Array,
  span: JsonSpan,
  ends: ContainerEnds,
): boolean {
  const first = body[span.start];
  const last = body[span.end - 1];
  switch (span.kind) {
    case "string":
      return first === QUOTE && last === QUOTE;
    case "object":
    case "array":
      return ends.get(span.start) === span.end &&
        first === (span.kind === "object" ? LBRACE : LBRACKET);
    case "number":
      return first === MINUS || (first >= ZERO && first <= NINE);
    default:
      return kindAt(body, span.start) === span.kind;
  }
}

function changed(offset: number): JsonSyntaxError {
  return new JsonSyntaxError(
    "expected the body to be unchanged since it was validated",
    offset,
  );
}

function tooSmall(need: number, have: number): RangeError {
  return new RangeError(
    `destination too small: the value needs up to ${need} bytes, got ${have}`,
  );
}

// ---------------------------------------------------------------------------
// Validation: one strict pass, recording where containers end

function validateDocument(body: Uint8Array): ContainerEnds {
  const known = validated.get(body);
  if (known) return known;
  const v = new Validator(body);
  const start = skipSpace(body, 0);
  const end = v.value(start, 0);
  const rest = skipSpace(body, end);
  if (rest !== body.length) {
    throw new JsonSyntaxError(
      "expected the end of the document after the top-level value",
      rest,
    );
  }
  validated.set(body, v.ends);
  return v.ends;
}

class Validator {
  readonly ends: ContainerEnds = new Map();
  readonly #b: Uint8Array;
  readonly #n: number;

  constructor(body: Uint8Array) {
    this.#b = body;
    this.#n = body.length;
  }

  /** Validates the value at `p` and returns the offset just past it. */
  value(p: number, depth: number): number {
    switch (this.#b[p]) {
      case LBRACE:
        return this.#object(p, depth);
      case LBRACKET:
        return this.#array(p, depth);
      case QUOTE:
        return this.#string(p);
      case TRUE[0]:
        return this.#literal(p, TRUE, "true");
      case FALSE[0]:
        return this.#literal(p, FALSE, "false");
      case NULL[0]:
        return this.#literal(p, NULL, "null");
      default: {
        const c = this.#b[p];
        if (c === MINUS || (c >= ZERO && c <= NINE)) return this.#number(p);
        throw this.#error("expected a value", p);
      }
    }
  }

  #error(expected: string, p: number): JsonSyntaxError {
    return new JsonSyntaxError(
      p >= this.#n ? `${expected}, found the end of the body` : expected,
      p,
    );
  }

  #object(start: number, depth: number): number {
    if (depth >= MAX_DEPTH) {
      throw this.#error(`expected at most ${MAX_DEPTH} nested levels`, start);
    }
    const b = this.#b;
    let p = skipSpace(b, start + 1);
    if (b[p] !== RBRACE) {
      for (;;) {
        if (b[p] !== QUOTE) {
          throw this.#error("expected '\"' to start an object key", p);
        }
        p = skipSpace(b, this.#string(p));
        if (b[p] !== COLON) {
          throw this.#error("expected ':' after an object key", p);
        }
        p = skipSpace(b, this.value(skipSpace(b, p + 1), depth + 1));
        if (b[p] === COMMA) {
          p = skipSpace(b, p + 1);
        } else if (b[p] === RBRACE) {
          break;
        } else {
          throw this.#error("expected ',' or '}' after an object member", p);
        }
      }
    }
    this.ends.set(start, p + 1);
    return p + 1;
  }

  #array(start: number, depth: number): number {
    if (depth >= MAX_DEPTH) {
      throw this.#error(`expected at most ${MAX_DEPTH} nested levels`, start);
    }
    const b = this.#b;
    let p = skipSpace(b, start + 1);
    if (b[p] !== RBRACKET) {
      for (;;) {
        p = skipSpace(b, this.value(p, depth + 1));
        if (b[p] === COMMA) {
          p = skipSpace(b, p + 1);
        } else if (b[p] === RBRACKET) {
          break;
        } else {
          throw this.#error("expected ',' or ']' after an array element", p);
        }
      }
    }
    this.ends.set(start, p + 1);
    return p + 1;
  }

  #literal(p: number, word: number[], name: string): number {
    for (let i = 1; i < word.length; i++) {
      if (this.#b[p + i] !== word[i]) {
        throw this.#error(`expected the literal ${name}`, p + i);
      }
    }
    return p + word.length;
  }

  #number(p: number): number {
    const b = this.#b;
    if (b[p] === MINUS) p++;
    if (b[p] === ZERO) {
      p++;
    } else if (b[p] > ZERO && b[p] <= NINE) {
      while (b[p] >= ZERO && b[p] <= NINE) p++;
    } else {
      throw this.#error("expected a digit in a number", p);
    }
    if (b[p] === DOT) {
      p++;
      if (!(b[p] >= ZERO && b[p] <= NINE)) {
        throw this.#error("expected a digit after the decimal point", p);
      }
      while (b[p] >= ZERO && b[p] <= NINE) p++;
    }
    if (b[p] === LOWER_E || b[p] === UPPER_E) {
      p++;
      if (b[p] === PLUS || b[p] === MINUS) p++;
      if (!(b[p] >= ZERO && b[p] <= NINE)) {
        throw this.#error("expected a digit in the exponent", p);
      }
      while (b[p] >= ZERO && b[p] <= NINE) p++;
    }
    return p;
  }

  /** Validates the string whose opening quote is at `start`. */
  #string(start: number): number {
    const b = this.#b;
    const n = this.#n;
    let p = start + 1;
    for (;;) {
      // Fast path: printable ASCII other than '"' and '\'.
      while (p < n) {
        const c = b[p];
        if (c < SPACE || c === QUOTE || c === BACKSLASH || c >= 0x80) break;
        p++;
      }
      if (p >= n) {
        throw this.#error(
          `expected '"' to close the string that starts at byte offset ${start}`,
          p,
        );
      }
      const c = b[p];
      if (c === QUOTE) return p + 1;
      if (c === BACKSLASH) {
        p = this.#escape(p);
      } else if (c < SPACE) {
        throw this.#error(
          "expected control characters (U+0000 to U+001F) in a string " +
            "to be escaped",
          p,
        );
      } else {
        p = this.#utf8(p);
      }
    }
  }

  /** Validates the escape whose backslash is at `p`. */
  #escape(p: number): number {
    const e = this.#b[p + 1];
    if (e < 128 && SIMPLE_ESCAPE[e] >= 0) return p + 2;
    if (e !== LOWER_U) {
      throw this.#error(
        'expected one of " \\ / b f n r t u after a backslash',
        p + 1,
      );
    }
    const unit = this.#hex4(p + 2);
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      throw this.#error(
        "expected a high surrogate escape (\\uD800 to \\uDBFF) before " +
          "a low surrogate escape",
        p,
      );
    }
    if (unit < 0xd800 || unit > 0xdbff) return p + 6;
    const b = this.#b;
    if (
      b[p + 6] !== BACKSLASH || b[p + 7] !== LOWER_U ||
      !((this.#hex4(p + 8) & 0xfc00) === 0xdc00)
    ) {
      throw this.#error(
        "expected a low surrogate escape (\\uDC00 to \\uDFFF) after " +
          "a high surrogate escape",
        p + 6,
      );
    }
    return p + 12;
  }

  #hex4(p: number): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.#b[p + i];
      const h = c === undefined ? -1 : HEX[c];
      if (h < 0) {
        throw this.#error("expected four hex digits after \\u", p + i);
      }
      v = (v << 4) | h;
    }
    return v;
  }

  /** Validates the multi-byte UTF-8 sequence that starts at `p` (RFC 3629). */
  #utf8(p: number): number {
    const b = this.#b;
    const c = b[p];
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0) lo = 0xa0; // no overlong forms
      if (c === 0xed) hi = 0x9f; // no UTF-16 surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0) lo = 0x90; // no overlong forms
      if (c === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else {
      throw this.#error("expected a UTF-8 lead byte", p);
    }
    const second = b[p + 1];
    if (!(second >= lo && second <= hi)) {
      throw this.#error("expected a UTF-8 continuation byte", p + 1);
    }
    for (let i = 2; i < len; i++) {
      const k = b[p + i];
      if (!(k >= 0x80 && k <= 0xbf)) {
        throw this.#error("expected a UTF-8 continuation byte", p + i);
      }
    }
    return p + len;
  }
}

// ---------------------------------------------------------------------------
// Reading validated bytes: no checks beyond staying in bounds

function skipSpace(b: Uint8Array, p: number): number {
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
function skipValue(b: Uint8Array, p: number, ends: ContainerEnds): number {
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
function forEachMember(
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
function keyEquals(
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
function decodeKey(b: Uint8Array, start: number, end: number): string {
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
function decodeStringBytes(
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
