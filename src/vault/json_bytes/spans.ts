/**
 * Spans and trust: a span the reader issued remembers its body; any other
 * span is validated before it is read.
 */
import {
  FALSE,
  LBRACE,
  LBRACKET,
  MINUS,
  NINE,
  NULL,
  QUOTE,
  TRUE,
  ZERO,
} from "./bytes.ts";
import { type JsonKind, type JsonSpan, JsonSyntaxError } from "./types.ts";
import { Validator } from "./validate.ts";

/** Where each object and array of a validated body ends, by start offset. */
export type ContainerEnds = Map<number, number>;

/** Validated bodies and their container index. */
export const validated = new WeakMap<Uint8Array, ContainerEnds>();
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

export function issue(body: Uint8Array, start: number, end: number): JsonSpan {
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
export function trustedEnds(body: Uint8Array, span: JsonSpan): ContainerEnds {
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

export function changed(offset: number): JsonSyntaxError {
  return new JsonSyntaxError(
    "expected the body to be unchanged since it was validated",
    offset,
  );
}

export function tooSmall(need: number, have: number): RangeError {
  return new RangeError(
    `destination too small: the value needs up to ${need} bytes, got ${have}`,
  );
}
