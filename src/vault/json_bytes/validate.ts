/** Validation: one strict pass (RFC 8259, strict UTF-8), recording where containers end. */
import {
  BACKSLASH,
  COLON,
  COMMA,
  DOT,
  FALSE,
  HEX,
  LBRACE,
  LBRACKET,
  LOWER_E,
  LOWER_U,
  MINUS,
  NINE,
  NULL,
  PLUS,
  QUOTE,
  RBRACE,
  RBRACKET,
  SIMPLE_ESCAPE,
  SPACE,
  TRUE,
  UPPER_E,
  ZERO,
} from "./bytes.ts";
import { skipSpace } from "./read.ts";
import { type ContainerEnds, validated } from "./spans.ts";
import { JsonSyntaxError, MAX_DEPTH } from "./types.ts";

export function validateDocument(body: Uint8Array): ContainerEnds {
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

export class Validator {
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
