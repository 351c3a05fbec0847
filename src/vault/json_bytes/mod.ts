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

import { keyEncoder, LBRACE } from "./bytes.ts";
import {
  decodeKey,
  decodeStringBytes,
  forEachMember,
  keyEquals,
  skipSpace,
  skipValue,
} from "./read.ts";
import { issue, tooSmall, trustedEnds } from "./spans.ts";
import type { JsonSpan } from "./types.ts";
import { validateDocument } from "./validate.ts";

export {
  type JsonKind,
  type JsonSpan,
  JsonSyntaxError,
  MAX_DEPTH,
} from "./types.ts";

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
