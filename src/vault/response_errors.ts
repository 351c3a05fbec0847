/**
 * The `errors` array of a Vault error response, as one line. Error messages
 * are the server's own words (never secret values); a body that is not the
 * JSON Vault sends gives a description of that instead.
 */
import { decodeInto, findPath, maxDecodedLength } from "./json_bytes/mod.ts";

const dec = new TextDecoder();

/** `"permission denied; ..."`, or `""` when the body names no error. */
export function responseErrors(body: Uint8Array): string {
  try {
    const span = findPath(body, ["errors"]);
    if (span?.kind !== "array") return "";
    const text = new Uint8Array(maxDecodedLength(span));
    const n = decodeInto(body, span, text);
    const list: unknown = JSON.parse(dec.decode(text.subarray(0, n)));
    return Array.isArray(list)
      ? list.map(String).join("; ").replace(/\s+/g, " ").slice(0, 300)
      : "";
  } catch {
    return body.length ? "(the response body is not Vault's JSON)" : "";
  }
}
