/**
 * The byte-level JSON reader against JSON.parse: a table of inputs, a few
 * thousand seeded pseudo-random documents, mutated documents (accept exactly
 * what JSON.parse accepts, minus lone surrogates), rejections with offsets and
 * messages free of body content, Vault-shaped bodies, and size and timing.
 */
import assert from "node:assert/strict";
import {
  decodeInto,
  decodeString,
  findPath,
  type JsonKind,
  type JsonSpan,
  JsonSyntaxError,
  MAX_DEPTH,
  maxDecodedLength,
  objectMembers,
} from "../../../src/vault/json_bytes/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function kindOf(v: Json): JsonKind {
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  return Array.isArray(v) ? "array" : "object";
}

/** Decodes the value at `span` into a buffer sized by maxDecodedLength. */
function decoded(body: Uint8Array, span: JsonSpan): Uint8Array {
  const max = maxDecodedLength(span);
  const dst = new Uint8Array(max);
  const n = decodeInto(body, span, dst);
  assert.ok(n <= max, `wrote ${n} > bound ${max}`);
  return dst.subarray(0, n);
}

/**
 * Checks the value at `span` against `ref` (from JSON.parse), and for objects
 * every member, both through objectMembers and through findPath.
 */
function verify(
  body: Uint8Array,
  span: JsonSpan,
  ref: Json,
  path: string[],
): void {
  const where = JSON.stringify(path);
  assert.equal(span.kind, kindOf(ref), `kind at ${where}`);
  const bytes = decoded(body, span);
  switch (span.kind) {
    case "string":
      assert.deepEqual(bytes, enc.encode(ref as string), `value at ${where}`);
      assert.equal(decodeString(body, span), ref, `string at ${where}`);
      break;
    case "number":
      assert.ok(Object.is(Number(dec.decode(bytes)), ref), `number ${where}`);
      assert.deepEqual(bytes, body.subarray(span.start, span.end));
      break;
    case "true":
    case "false":
    case "null":
      assert.equal(dec.decode(bytes), span.kind);
      break;
    case "array":
      assert.deepEqual(bytes, body.subarray(span.start, span.end));
      assert.deepEqual(JSON.parse(dec.decode(bytes)), ref, `array ${where}`);
      break;
    case "object": {
      assert.deepEqual(bytes, body.subarray(span.start, span.end));
      assert.deepEqual(JSON.parse(dec.decode(bytes)), ref, `object ${where}`);
      const obj = ref as { [k: string]: Json };
      const members = objectMembers(body, span);
      assert.deepEqual(
        members.map(([k]) => k).sort(),
        Object.keys(obj).sort(),
        `keys at ${where}`,
      );
      for (const [key, value] of members) {
        const sub = [...path, key];
        verify(body, value, obj[key], sub);
        assert.deepEqual({ ...findPath(body, sub) }, { ...value });
      }
      break;
    }
  }
}

/** The whole document against JSON.parse. */
function checkDocument(text: string): void {
  const body = enc.encode(text);
  const ref = JSON.parse(text) as Json;
  const root = findPath(body, []);
  assert.ok(root, `no root in ${text}`);
  verify(body, root, ref, []);
}

// ---------------------------------------------------------------------------

const TABLE: string[] = [
  // Strings and every escape.
  `""`,
  `"plain"`,
  String.raw`"\" \\ \/ \b \f \n \r \t"`,
  String.raw`"\\\\\"\\"`,
  String.raw`"\u0000\u0001\u001f\u001F"`,
  String.raw`"\u0020\u0041\u007e\u007F"`,
  String.raw`"\u0080\u00e9\u00FF\u07ff"`,
  String.raw`"\u0800\u20ac\uFFFD\uffff\ue000\ud7ff"`,
  String.raw`"\ud83d\ude00 \uD800\uDC00 \udbff\udfff"`,
  String.raw`"a\ud83d\ude00b\u00e9c\u20acd"`,
  `"é € 😀 𐍈 \u{10ffff} \u{ffff} \u{e000}"`,
  `"mixed é\\n😀\\u00e9\\ud83d\\ude00 end"`,
  `"\\/\\/\\/"`,
  `"${"\\\\".repeat(50)}"`,
  // Numbers, literals.
  `0`,
  `-0`,
  `1e-5`,
  `-1.5E+300`,
  `12345678901234567890123456789`,
  `-9007199254740993`,
  `0.000001`,
  `1E400`,
  `true`,
  `false`,
  `null`,
  // Containers and whitespace everywhere.
  `[]`,
  `{}`,
  ` \t\r\n{ \t\r\n"a" \t\r\n: \t\r\n1 \t\r\n, "b":[ 1 , [ ] , { } ] } \n`,
  `{"":""}`,
  `{"a":{"b":{"c":{"d":"deep"}}}}`,
  `{"a":[{"b":"in array"}],"c":[1,"two",null,true,false,{"d":[]}]}`,
  `{"k\\u00e9y":"v","k\\\\":"w","\\ud83d\\ude00":"emoji key"}`,
  `{"1":"a","0":"b","x":"c"}`,
  `{"__proto__":"p","constructor":"c"}`,
  `{"dup":"first","other":1,"dup":"second"}`,
  `{"a":{"x":1},"a":{"y":2}}`,
  `{"nul":"a\\u0000b"}`,
];

Deno.test("a table of documents reads the same as JSON.parse", () => {
  for (const text of TABLE) checkDocument(text);
});

Deno.test("escapes decode to the exact UTF-8 bytes", () => {
  const body = enc.encode(
    String
      .raw`{"v":"\u0000\u007f\u0080\u07ff\u0800\uffff\ud800\udc00\udbff\udfff\"\\\/\b\f\n\r\t"}`,
  );
  const got = decoded(body, findPath(body, ["v"])!);
  assert.deepEqual(
    [...got],
    [
      0x00,
      0x7f,
      0xc2,
      0x80,
      0xdf,
      0xbf,
      0xe0,
      0xa0,
      0x80,
      0xef,
      0xbf,
      0xbf,
      0xf0,
      0x90,
      0x80,
      0x80,
      0xf4,
      0x8f,
      0xbf,
      0xbf,
      0x22,
      0x5c,
      0x2f,
      0x08,
      0x0c,
      0x0a,
      0x0d,
      0x09,
    ],
  );
});

Deno.test("every \\uXXXX outside the surrogates decodes as JSON.parse does", () => {
  // All 63,488 BMP scalar values, as lower- and upper-case hex, plus a
  // sample of surrogate pairs across the whole supplementary range.
  const parts: string[] = [];
  for (let u = 0; u < 0x10000; u++) {
    if (u >= 0xd800 && u <= 0xdfff) continue;
    const hex = u.toString(16).padStart(4, "0");
    parts.push(`"\\u${u & 1 ? hex.toUpperCase() : hex}"`);
  }
  for (let hi = 0xd800; hi <= 0xdbff; hi += 7) {
    for (let lo = 0xdc00; lo <= 0xdfff; lo += 61) {
      parts.push(`"\\u${hi.toString(16)}\\u${lo.toString(16).toUpperCase()}"`);
    }
  }
  const text = `[${parts.join(",")}]`;
  const body = enc.encode(`{"a":${text}}`);
  const ref = JSON.parse(text) as string[];
  // Decode each element through a hand-built span (validated on use).
  let p = enc.encode(`{"a":[`).length;
  for (let i = 0; i < parts.length; i++) {
    const len = parts[i].length; // ASCII only
    const span: JsonSpan = { start: p, end: p + len, kind: "string" };
    assert.deepEqual(decoded(body, span), enc.encode(ref[i]), parts[i]);
    p += len + 1;
  }
  verify(body, findPath(body, ["a"])!, ref, ["a"]);
});

Deno.test("raw UTF-8 of every length passes through unchanged", () => {
  const samples = ["\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff"];
  for (let cp = 0x10000; cp <= 0x10ffff; cp += 0x1111) {
    samples.push(String.fromCodePoint(cp));
  }
  samples.push(String.fromCodePoint(0x10ffff));
  const text = JSON.stringify({ s: samples.join("|") });
  checkDocument(text);
});

// ---------------------------------------------------------------------------
// Seeded pseudo-random documents

/** mulberry32: small, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  ws(): string {
    return this.r() < 0.7 ? "" : this.pick([" ", "\n", "\t", "\r\n  ", " \t"]);
  }
  hex(u: number): string {
    const h = u.toString(16).padStart(4, "0");
    return this.r() < 0.5 ? h : h.toUpperCase();
  }
  scalar(): number {
    switch (this.int(4)) {
      case 0:
        return 0x20 + this.int(0x5f);
      case 1:
        return 0x80 + this.int(0x780);
      case 2: {
        const u = 0x800 + this.int(0xf800);
        return u >= 0xd800 && u <= 0xdfff ? 0xe000 + (u & 0xfff) : u;
      }
      default:
        return 0x10000 + this.int(0x100000);
    }
  }
  /** The JSON text of a string (quotes included). */
  string(maxLen: number): string {
    const n = this.int(maxLen + 1);
    let s = '"';
    for (let i = 0; i < n; i++) {
      switch (this.int(8)) {
        case 0:
          s += "\\" + this.pick(['"', "\\", "/", "b", "f", "n", "r", "t"]);
          break;
        case 1: {
          const cp = this.r() < 0.3 ? this.int(0x20) : this.scalar();
          if (cp >= 0x10000) {
            const v = cp - 0x10000;
            s += `\\u${this.hex(0xd800 + (v >> 10))}\\u${
              this.hex(0xdc00 + (v & 0x3ff))
            }`;
          } else {
            s += `\\u${this.hex(cp)}`;
          }
          break;
        }
        case 2: {
          const c = String.fromCodePoint(this.scalar());
          s += c === '"' || c === "\\" ? "y" : c;
          break;
        }
        default: {
          const c = String.fromCharCode(0x20 + this.int(0x5f));
          s += c === '"' || c === "\\" ? "x" : c;
        }
      }
    }
    return s + '"';
  }
  number(): string {
    let s = this.r() < 0.3 ? "-" : "";
    if (this.r() < 0.2) {
      s += "0";
    } else {
      s += String(1 + this.int(9));
      for (let i = this.int(this.r() < 0.1 ? 30 : 6); i > 0; i--) {
        s += String(this.int(10));
      }
    }
    if (this.r() < 0.3) {
      s += ".";
      for (let i = 1 + this.int(5); i > 0; i--) s += String(this.int(10));
    }
    if (this.r() < 0.2) {
      s += this.pick(["e", "E"]) + this.pick(["", "+", "-"]);
      for (let i = 1 + this.int(3); i > 0; i--) s += String(this.int(10));
    }
    return s;
  }
  value(depth: number): string {
    const k = depth >= 5 ? 2 + this.int(4) : this.int(8);
    switch (k) {
      case 0:
      case 1:
        return this.object(depth + 1);
      case 2:
      case 3:
        return this.string(12);
      case 4:
        return this.number();
      case 5:
        return this.pick(["true", "false", "null"]);
      case 6:
        return this.array(depth + 1);
      default:
        return this.string(3);
    }
  }
  object(depth: number): string {
    const n = this.int(6);
    const keys = ['"a"', '"data"', '"k\\u00e9"'];
    const members: string[] = [];
    for (let i = 0; i < n; i++) {
      const key = this.r() < 0.2 ? this.pick(keys) : this.string(6);
      members.push(
        `${this.ws()}${key}${this.ws()}:${this.ws()}${
          this.value(depth)
        }${this.ws()}`,
      );
    }
    return n ? `{${members.join(",")}}` : `{${this.ws()}}`;
  }
  array(depth: number): string {
    const n = this.int(5);
    const items: string[] = [];
    for (let i = 0; i < n; i++) {
      items.push(`${this.ws()}${this.value(depth)}${this.ws()}`);
    }
    return n ? `[${items.join(",")}]` : `[${this.ws()}]`;
  }
  document(): string {
    return `${this.ws()}${
      this.r() < 0.8 ? this.object(0) : this.value(0)
    }${this.ws()}`;
  }
}

const DOCUMENTS = 3000;

Deno.test(`${DOCUMENTS} seeded random documents read the same as JSON.parse`, () => {
  const g = new Gen(0xc10d7a5e);
  for (let i = 0; i < DOCUMENTS; i++) {
    const text = g.document();
    try {
      checkDocument(text);
    } catch (e) {
      throw new Error(`document ${i}: ${text}`, { cause: e });
    }
  }
});

/** What the reader must accept: valid UTF-8, JSON.parse, no lone surrogate. */
function referenceAccepts(bytes: Uint8Array): boolean {
  let text: string;
  try {
    text = dec.decode(bytes);
  } catch {
    return false;
  }
  let ok = true;
  try {
    JSON.parse(text, (k, v) => {
      if (!k.isWellFormed() || (typeof v === "string" && !v.isWellFormed())) {
        ok = false;
      }
      return v;
    });
  } catch {
    return false;
  }
  return ok;
}

/** String contents (between quotes, escapes raw) of at least `min` chars. */
function contents(text: string, min: number): string[] {
  return [...text.matchAll(/"((?:[^"\\]|\\.)*)"/gs)]
    .map((m) => m[1])
    .filter((s) => s.length >= min);
}

const MESSAGE =
  /^invalid JSON at byte offset (\d+): [a-zA-Z0-9 ,'":\\/()+.{}[\]-]+?(, found the end of the body)?$/;

/** Asserts a rejection: JsonSyntaxError, the offset, no body content. */
function assertRejected(
  bytes: Uint8Array,
  offset: number | undefined,
  forbidden: string[],
): JsonSyntaxError {
  let caught: unknown;
  try {
    findPath(bytes, ["a"]);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof JsonSyntaxError, `accepted or wrong error`);
  const err = caught;
  if (offset !== undefined) assert.equal(err.offset, offset, err.message);
  assert.ok(err.offset >= 0 && err.offset <= bytes.length);
  const m = MESSAGE.exec(err.message);
  assert.ok(m, `message shape: ${err.message}`);
  assert.equal(Number(m[1]), err.offset);
  for (const s of forbidden) {
    assert.ok(!err.message.includes(s), `message leaks ${s}: ${err.message}`);
  }
  return err;
}

Deno.test("mutated documents: accepted exactly when JSON.parse accepts them", () => {
  const g = new Gen(0x5eed);
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const text = g.document();
    const bytes = enc.encode(text);
    if (bytes.length === 0) continue;
    const at = g.int(bytes.length);
    let mutated: Uint8Array;
    switch (g.int(4)) {
      case 0: // delete a byte
        mutated = new Uint8Array([
          ...bytes.subarray(0, at),
          ...bytes.subarray(at + 1),
        ]);
        break;
      case 1: // insert a byte
        mutated = new Uint8Array([
          ...bytes.subarray(0, at),
          g.pick([0x22, 0x5c, 0x2c, 0x7d, 0x5d, 0x00, 0x0a, 0x80, 0xff, 0x75]),
          ...bytes.subarray(at),
        ]);
        break;
      case 2: // replace a byte
        mutated = bytes.slice();
        mutated[at] = g.int(256);
        break;
      default: // truncate
        mutated = bytes.subarray(0, at);
    }
    const accepts = referenceAccepts(mutated);
    if (accepts) {
      const root = findPath(mutated, []);
      assert.ok(root);
      verify(mutated, root, JSON.parse(dec.decode(mutated)), []);
    } else {
      rejected++;
      assertRejected(mutated, undefined, contents(text, 6));
    }
  }
  assert.ok(rejected > 1500, `only ${rejected} mutations were invalid`);
});

// ---------------------------------------------------------------------------
// Rejections

const REJECT: Array<[string, number]> = [
  ["", 0],
  ["   ", 3],
  ['{"a":"s3cr3t-value"', 19],
  ['{"a":"s3cr3t-value",}', 20],
  ['{"a":"s3cr3t-value"} x', 21],
  ['{"a":"s3cr3t-value"}{}', 20],
  ['{"a" "s3cr3t-value"}', 5],
  ['{"a":"s3cr3t-value" "b":1}', 20],
  ['{a:"s3cr3t-value"}', 1],
  ["{'a':'s3cr3t'}", 1],
  ['{"a":"s3cr3t-value', 18],
  ['{"a":"s3cr3t\tvalue"}', 12],
  ['{"a":"s3cr3t\nvalue"}', 12],
  ['{"a":"s3cr3t\u0000value"}', 12],
  ['{"a":"s3cr3t\\xvalue"}', 13],
  ['{"a":"s3cr3t\\u12G4value"}', 16],
  ['{"a":"s3cr3t\\u12"}', 16],
  ['{"a":"s3cr3t\\ud800value"}', 18],
  ['{"a":"s3cr3t\\ud800\\u0041value"}', 18],
  ['{"a":"s3cr3t\\udc00value"}', 12],
  ['{"a":"s3cr3t\\ud83d"}', 18],
  ['{"a":01}', 6],
  ['{"a":-}', 6],
  ['{"a":1.}', 7],
  ['{"a":.5}', 5],
  ['{"a":1e}', 7],
  ['{"a":1e+}', 8],
  ['{"a":+1}', 5],
  ['{"a":0x1F}', 6],
  ['{"a":NaN}', 5],
  ['{"a":Infinity}', 5],
  ['{"a":tru}', 8],
  ['{"a":nul}', 8],
  ['{"a":True}', 5],
  ['{"a":[1,2,]}', 10],
  ['{"a":[1 2]}', 8],
  ['{"a":[1,,2]}', 8],
  ['{"a":"s3cr3t-value"]', 19],
  ["[1}", 2],
  ['{"a":1}\u00a0', 7],
  ['\ufeff{"a":1}', 0],
  ['{"a":1}\u000b', 7],
  ["/* c */ {}", 0],
];

Deno.test("malformed documents: JsonSyntaxError at the offset, no content in the message", () => {
  for (const [text, offset] of REJECT) {
    try {
      assertRejected(enc.encode(text), offset, [
        "s3cr3t",
        ...contents(text, 3),
      ]);
    } catch (e) {
      throw new Error(`input ${JSON.stringify(text)}`, { cause: e });
    }
    // The table is honest: JSON.parse rejects these too, except a lone
    // surrogate, which JSON.parse takes and this reader refuses.
    if (!/\\ud[89ab][0-9a-f]{2}(?!\\u)|\\udc00/i.test(text)) {
      assert.ok(!referenceAccepts(enc.encode(text)), text);
    }
  }
});

Deno.test("invalid UTF-8 is rejected at the offending byte", () => {
  const cases: Array<[number[], number]> = [
    [[0xc0, 0x80], 0], // overlong NUL
    [[0xc1, 0xbf], 0], // overlong
    [[0xe0, 0x80, 0x80], 1], // overlong 3-byte
    [[0xed, 0xa0, 0x80], 1], // encoded surrogate
    [[0xf0, 0x80, 0x80, 0x80], 1], // overlong 4-byte
    [[0xf4, 0x90, 0x80, 0x80], 1], // above U+10FFFF
    [[0xf5, 0x80, 0x80, 0x80], 0], // bad lead
    [[0x80], 0], // lone continuation
    [[0xc3], 1], // truncated (next byte is the quote)
    [[0xe2, 0x82], 2], // truncated
    [[0xff], 0],
  ];
  const pre = enc.encode('{"a":"s3cr3t');
  for (const [seq, rel] of cases) {
    const body = new Uint8Array([...pre, ...seq, ...enc.encode('"}')]);
    assert.ok(!referenceAccepts(body));
    assertRejected(body, pre.length + rel, ["s3cr3t"]);
  }
});

Deno.test("a lone surrogate escape is an error, not U+FFFD (JSON.parse would take it)", () => {
  for (const s of ["\\ud800", "\\udbff x", "\\udfff", "\\ud800\\ud800"]) {
    const text = `{"a":"${s}"}`;
    assert.equal(typeof JSON.parse(text).a, "string");
    assertRejected(enc.encode(text), undefined, []);
  }
});

Deno.test(`nesting: ${MAX_DEPTH} levels are read, ${MAX_DEPTH + 1} are refused`, () => {
  const nest = (n: number) => "[".repeat(n - 1) + '{"a":1}' + "]".repeat(n - 1);
  const ok = enc.encode(nest(MAX_DEPTH));
  assert.equal(findPath(ok, [])!.kind, "array");
  const err = assertRejected(enc.encode(nest(MAX_DEPTH + 1)), MAX_DEPTH, []);
  assert.match(err.message, /nested levels/);
  // Very deep input fails fast without exhausting the stack.
  assertRejected(enc.encode("[".repeat(1_000_000)), MAX_DEPTH, []);
});

// ---------------------------------------------------------------------------
// Vault bodies and semantics

const KV2 = `{
  "request_id": "f3a1c4b2-0d9e-4a7b-9f0c-2b6e8d1a5c37",
  "lease_id": "",
  "renewable": false,
  "lease_duration": 0,
  "data": {
    "data": {
      "username": "app",
      "password": "p\\u00e4ss\\\\w\\"rd\\ud83d\\udd11",
      "port": 5432,
      "tls": true,
      "extra": {"nested": [1, "x"]},
      "empty": ""
    },
    "metadata": {
      "created_time": "2025-01-02T03:04:05.123456Z",
      "custom_metadata": null,
      "deletion_time": "",
      "destroyed": false,
      "version": 3
    }
  },
  "wrap_info": null,
  "warnings": null,
  "auth": null,
  "mount_type": "kv"
}`;

Deno.test("KV v2 body: data.data members and metadata", () => {
  const body = enc.encode(KV2);
  checkDocument(KV2);
  const data = findPath(body, ["data", "data"])!;
  assert.equal(data.kind, "object");
  const members = objectMembers(body, data);
  assert.deepEqual(members.map(([k, v]) => [k, v.kind]), [
    ["username", "string"],
    ["password", "string"],
    ["port", "number"],
    ["tls", "true"],
    ["extra", "object"],
    ["empty", "string"],
  ]);
  const value = (key: string) =>
    decoded(body, members.find(([k]) => k === key)![1]);
  assert.deepEqual(value("password"), enc.encode('päss\\w"rd🔑'));
  assert.deepEqual(value("port"), enc.encode("5432"));
  assert.deepEqual(value("tls"), enc.encode("true"));
  assert.deepEqual(value("extra"), enc.encode('{"nested": [1, "x"]}'));
  assert.equal(value("empty").length, 0);
  const version = findPath(body, ["data", "metadata", "version"])!;
  assert.deepEqual(decoded(body, version), enc.encode("3"));
  const created = findPath(body, ["data", "metadata", "created_time"])!;
  assert.equal(decodeString(body, created), "2025-01-02T03:04:05.123456Z");
  assert.equal(findPath(body, ["data", "data", "missing"]), undefined);
  assert.equal(findPath(body, ["data", "data", "port", "x"]), undefined);
  assert.equal(findPath(body, ["warnings", "x"]), undefined);
});

Deno.test("KV v1 body: data members", () => {
  const text =
    `{"request_id":"1","lease_id":"","renewable":false,"lease_duration":2764800,` +
    `"data":{"api_key":"sk_live_\\u0041BC","ttl":"1h"},"wrap_info":null,"warnings":null,"auth":null}`;
  const body = enc.encode(text);
  checkDocument(text);
  const data = findPath(body, ["data"])!;
  const members = objectMembers(body, data);
  assert.deepEqual(members.map(([k]) => k), ["api_key", "ttl"]);
  assert.deepEqual(decoded(body, members[0][1]), enc.encode("sk_live_ABC"));
  assert.equal(findPath(body, ["data", "data"]), undefined);
});

Deno.test("a NUL inside a value decodes to a 0 byte (the caller refuses it)", () => {
  const body = enc.encode('{"data":{"k":"before\\u0000after"}}');
  const got = decoded(body, findPath(body, ["data", "k"])!);
  assert.deepEqual(got, enc.encode("before\0after"));
  assert.equal(got.indexOf(0), 6);
});

Deno.test("a key that appears twice: the last wins, at the first one's place", () => {
  const text = '{"data":{"k":"first","m":"mid","k":"second"}}';
  const body = enc.encode(text);
  assert.deepEqual(
    decoded(body, findPath(body, ["data", "k"])!),
    enc.encode("second"),
  );
  const members = objectMembers(body, findPath(body, ["data"])!);
  assert.deepEqual(members.map(([k]) => k), ["k", "m"]);
  assert.deepEqual(decoded(body, members[0][1]), enc.encode("second"));
  assert.equal(JSON.parse(text).data.k, "second");
  // A key spelled with an escape is the same key.
  const esc = enc.encode('{"k":1,"\\u006b":2}');
  assert.deepEqual(decoded(esc, findPath(esc, ["k"])!), enc.encode("2"));
  assert.equal(objectMembers(esc, findPath(esc, [])!).length, 1);
});

Deno.test("dst too small: RangeError, and what was written is zeroed", () => {
  const body = enc.encode('{"k":"abcdef\\u00e9ghij"}');
  const span = findPath(body, ["k"])!;
  // "abcdef" and "é" fit in 9 bytes, "ghij" does not: the 8 are zeroed.
  const dst = new Uint8Array(9).fill(0xaa);
  assert.throws(() => decodeInto(body, span, dst), RangeError);
  assert.deepEqual([...dst], [0, 0, 0, 0, 0, 0, 0, 0, 0xaa]);
  // Exactly the decoded length is enough.
  const exact = new Uint8Array(12);
  assert.equal(decodeInto(body, span, exact), 12);
  const num = findPath(enc.encode('{"n":12345}'), ["n"])!;
  assert.throws(
    () => decodeInto(enc.encode('{"n":12345}'), num, new Uint8Array(4)),
    /destination too small/,
  );
});

Deno.test("hand-built spans are validated; spans are tied to their body", () => {
  const body = enc.encode('{"a":"x\\ny","b":[1,2]}');
  const a = decoded(body, { start: 5, end: 11, kind: "string" });
  assert.deepEqual(a, enc.encode("x\ny"));
  const members = objectMembers(body, {
    start: 0,
    end: body.length,
    kind: "object",
  });
  assert.deepEqual(members.map(([k]) => k), ["a", "b"]);
  // Wrong end, wrong kind, out of range, not a value.
  for (
    const span of [
      { start: 5, end: 10, kind: "string" },
      { start: 5, end: 11, kind: "number" },
      { start: 16, end: 21, kind: "object" },
      { start: 4, end: 11, kind: "string" },
    ] as JsonSpan[]
  ) {
    assert.throws(
      () => decodeInto(body, span, new Uint8Array(64)),
      JsonSyntaxError,
    );
  }
  assert.throws(
    () =>
      decodeInto(
        body,
        { start: 5, end: 99, kind: "string" },
        new Uint8Array(99),
      ),
    RangeError,
  );
  assert.throws(() => objectMembers(body, findPath(body, ["b"])!), TypeError);
  assert.throws(() => decodeString(body, findPath(body, ["b"])!), TypeError);
  // A span from one body used on another, invalid, body is validated there.
  const other = enc.encode('{"a":"x\\qy"}');
  assert.throws(
    () => decodeInto(other, findPath(body, ["a"])!, new Uint8Array(64)),
    JsonSyntaxError,
  );
  // Spans are frozen.
  assert.ok(Object.isFrozen(findPath(body, ["a"])));
});

Deno.test("a zeroed body is not read as if it still held the document", () => {
  const body = enc.encode('{"data":{"k":"secret"}}');
  const span = findPath(body, ["data", "k"])!;
  const obj = findPath(body, ["data"])!;
  body.fill(0);
  assert.throws(
    () => decodeInto(body, span, new Uint8Array(16)),
    JsonSyntaxError,
  );
  assert.throws(() => objectMembers(body, obj), JsonSyntaxError);
});

Deno.test("values never pass through JSON.parse, TextDecoder or String.fromCharCode", () => {
  const secret = "zq-s3cr3t-\u00e9-\u{1f511}";
  const text = JSON.stringify({
    data: { data: { [`key`]: secret, "k\u00e9": secret + "2" } },
  }).replaceAll("\u00e9", "\\u00e9");
  const body = enc.encode(text);
  const seen: string[] = [];
  const decode = TextDecoder.prototype.decode;
  const parse = JSON.parse;
  const fromCharCode = String.fromCharCode;
  const fromCodePoint = String.fromCodePoint;
  try {
    TextDecoder.prototype.decode = function (...args) {
      const s = decode.apply(this, args);
      seen.push(s);
      return s;
    };
    JSON.parse = (...args: Parameters<typeof JSON.parse>) => {
      seen.push("JSON.parse");
      return parse(...args);
    };
    String.fromCharCode = (...codes: number[]) => {
      const s = fromCharCode(...codes);
      seen.push(s);
      return s;
    };
    String.fromCodePoint = (...codes: number[]) => {
      seen.push("String.fromCodePoint");
      return fromCodePoint(...codes);
    };
    const data = findPath(body, ["data", "data"])!;
    const out: Uint8Array[] = [];
    for (const [, span] of objectMembers(body, data)) {
      const dst = new Uint8Array(maxDecodedLength(span));
      out.push(dst.subarray(0, decodeInto(body, span, dst)));
    }
    const k = findPath(body, ["data", "data", "key"])!;
    out.push(decoded(body, k));
    TextDecoder.prototype.decode = decode;
    assert.deepEqual(out[0], enc.encode(secret));
    assert.deepEqual(out[1], enc.encode(secret + "2"));
  } finally {
    TextDecoder.prototype.decode = decode;
    JSON.parse = parse;
    String.fromCharCode = fromCharCode;
    String.fromCodePoint = fromCodePoint;
  }
  // Only keys became strings: never a value, never JSON.parse.
  assert.ok(seen.length > 0);
  for (const s of seen) assert.ok(s === "key" || s === "ké", s);
});

// ---------------------------------------------------------------------------
// Size and time

Deno.test("a 1 MiB value: validated and decoded in one pass each, timed", () => {
  const MiB = 1 << 20;
  // Mostly raw ASCII, with escapes and raw multi-byte UTF-8 scattered in.
  const raw = new Uint8Array(MiB);
  const g = new Gen(42);
  for (let i = 0; i < MiB; i++) raw[i] = 0x61 + g.int(26);
  const chunks: string[] = [];
  let expected = "";
  for (let i = 0; i < MiB; i += 4096) {
    const plain = String.fromCharCode(...raw.subarray(i, i + 4096));
    chunks.push(plain + "\\n\\u00e9é");
    expected += plain + "\néé";
  }
  const text = `{"data":{"data":{"big":"${chunks.join("")}"}}}`;
  const body = enc.encode(text);
  const want = enc.encode(expected);
  assert.ok(want.length >= MiB);

  const t0 = performance.now();
  const span = findPath(body, ["data", "data", "big"])!;
  const t1 = performance.now();
  const dst = new Uint8Array(maxDecodedLength(span));
  const n = decodeInto(body, span, dst);
  const t2 = performance.now();
  const members = objectMembers(body, findPath(body, ["data", "data"])!);
  const t3 = performance.now();
  console.log(
    `1 MiB value (${body.length} body bytes): findPath ${
      (t1 - t0).toFixed(1)
    } ms, ` +
      `decodeInto ${(t2 - t1).toFixed(1)} ms, objectMembers ${
        (t3 - t2).toFixed(1)
      } ms`,
  );
  assert.equal(n, want.length);
  assert.ok(dst.subarray(0, n).every((b, i) => b === want[i]));
  assert.equal(members.length, 1);
  assert.ok(t1 - t0 < 500 && t2 - t1 < 200, "too slow");
});

Deno.test("10,000 members: one validation, members listed in linear time, timed", () => {
  const N = 10_000;
  const parts: string[] = [];
  for (let i = 0; i < N; i++) {
    parts.push(`"KEY_${i}":"value-${i}-\\u00e9"`);
  }
  const text = `{"data":{"data":{${parts.join(",")}}}}`;
  const body = enc.encode(text);
  const t0 = performance.now();
  const data = findPath(body, ["data", "data"])!;
  const t1 = performance.now();
  const members = objectMembers(body, data);
  const t2 = performance.now();
  let total = 0;
  const dst = new Uint8Array(64);
  for (const [, span] of members) total += decodeInto(body, span, dst);
  const t3 = performance.now();
  const last = findPath(body, ["data", "data", `KEY_${N - 1}`])!;
  const t4 = performance.now();
  console.log(
    `10,000 members (${body.length} bytes): findPath ${
      (t1 - t0).toFixed(1)
    } ms, ` +
      `objectMembers ${(t2 - t1).toFixed(1)} ms, decodeInto x${N} ${
        (t3 - t2).toFixed(1)
      } ms, ` +
      `findPath of the last key ${(t4 - t3).toFixed(1)} ms`,
  );
  assert.equal(members.length, N);
  assert.equal(members[N - 1][0], `KEY_${N - 1}`);
  assert.deepEqual(decoded(body, last), enc.encode(`value-${N - 1}-é`));
  assert.ok(total > N * 10);
  assert.ok(t2 - t1 < 200, "objectMembers too slow");
});
