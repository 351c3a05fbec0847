/** Test secrets: unique, recognisable, and compared by hash in output. */

/** A unique marker: `<prefix>-<tag>-<hex>` from `bytes` random bytes. */
export function randomMarker(prefix: string, tag: string, bytes = 12): string {
  const rnd = crypto.getRandomValues(new Uint8Array(bytes));
  const hex = [...rnd].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${prefix}-${tag}-${hex}`;
}

/** SHA-256 of a string's UTF-8 bytes, as hex. */
export async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}
