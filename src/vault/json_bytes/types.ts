/** The value types and the error of the byte-level JSON reader (mod.ts). */

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
