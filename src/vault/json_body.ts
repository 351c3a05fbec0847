/**
 * Builds a JSON object body as bytes, so credentials read from files (a JWT,
 * an AppRole secret_id) go to the socket without becoming JS strings.
 */
import { readFileBytes } from "../../ffi/shim.ts";

const enc = new TextEncoder();
const HEX = "0123456789abcdef";

function escapedLength(b: Uint8Array): number {
  let n = 0;
  for (const c of b) n += c === 0x22 || c === 0x5c ? 2 : c < 0x20 ? 6 : 1;
  return n;
}

function writeEscaped(b: Uint8Array, out: Uint8Array, at: number): number {
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) {
      out[at++] = 0x5c;
      out[at++] = c;
    } else if (c < 0x20) {
      out.set(enc.encode("\\u00"), at);
      out[at + 4] = HEX.charCodeAt(c >> 4);
      out[at + 5] = HEX.charCodeAt(c & 15);
      at += 6;
    } else out[at++] = c;
  }
  return at;
}

/**
 * `{"k":"v",...}` from names and UTF-8 values. The caller zeroes the result
 * (and its own value buffers) once the request is sent.
 *
 * @example
 * ```ts
 * const body = jsonBody({ role: enc.encode("app"), jwt: jwtBytes });
 * await send(body);
 * body.fill(0);
 * ```
 */
export function jsonBody(fields: Record<string, Uint8Array>): Uint8Array {
  const entries = Object.entries(fields).map(
    ([k, v]) => [enc.encode(JSON.stringify(k)), v] as const,
  );
  let size = 2 + Math.max(0, entries.length - 1);
  for (const [k, v] of entries) size += k.length + 1 + 2 + escapedLength(v);
  const out = new Uint8Array(size);
  let at = 0;
  out[at++] = 0x7b;
  entries.forEach(([k, v], i) => {
    if (i) out[at++] = 0x2c;
    out.set(k, at);
    at += k.length;
    out[at++] = 0x3a;
    out[at++] = 0x22;
    at = writeEscaped(v, out, at);
    out[at++] = 0x22;
  });
  out[at++] = 0x7d;
  return out;
}

/** Reads a credential file as bytes, without trailing whitespace. */
export function readCredentialFile(path: string): Uint8Array {
  const raw = readFileBytes(path);
  let end = raw.length;
  while (end > 0 && (raw[end - 1] <= 0x20)) end--;
  let start = 0;
  while (start < end && raw[start] <= 0x20) start++;
  const out = raw.slice(start, end);
  raw.fill(0);
  return out;
}
