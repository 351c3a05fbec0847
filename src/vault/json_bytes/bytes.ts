/** The bytes JSON is spelled with, and the tables the validator and reader share. */

// Byte values.
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
const SLASH = 0x2f;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const MINUS = 0x2d;
export const PLUS = 0x2b;
export const DOT = 0x2e;
export const ZERO = 0x30;
export const NINE = 0x39;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const LOWER_E = 0x65;
export const UPPER_E = 0x45;
export const LOWER_U = 0x75;
export const SPACE = 0x20;
export const TAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;

export const TRUE = [0x74, 0x72, 0x75, 0x65];
export const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
export const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** The byte each simple escape (`\"`, `\n`, ...) stands for, by escape letter. */
export const SIMPLE_ESCAPE = new Int16Array(128).fill(-1);
SIMPLE_ESCAPE[QUOTE] = QUOTE;
SIMPLE_ESCAPE[BACKSLASH] = BACKSLASH;
SIMPLE_ESCAPE[SLASH] = SLASH;
SIMPLE_ESCAPE[0x62] = 0x08; // b
SIMPLE_ESCAPE[0x66] = 0x0c; // f
SIMPLE_ESCAPE[0x6e] = 0x0a; // n
SIMPLE_ESCAPE[0x72] = 0x0d; // r
SIMPLE_ESCAPE[0x74] = 0x09; // t

/** Hex digit values, -1 for anything else. */
export const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[ZERO + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

export const keyDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});
export const keyEncoder = new TextEncoder();
