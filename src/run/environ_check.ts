/**
 * environ_scrubbed: the wrapper's own `/proc/self/environ` (the kernel's
 * frozen copy of its exec-time envp) must hold no secret key or value.
 */

/** Values shorter than this are not searched: "1" is in every environ. */
export const MIN_VALUE_LENGTH = 6;

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  if (needle.length === 0) return -1;
  const first = needle[0];
  for (let i = hay.indexOf(first); i >= 0; i = hay.indexOf(first, i + 1)) {
    if (i + needle.length > hay.length) return -1;
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/** What {@link checkEnviron} found: names only, never values. */
export interface EnvironReport {
  clean: boolean;
  /** Secret keys present as `KEY=` entries. */
  keys: string[];
  /** Secret keys whose value bytes appear somewhere in environ. */
  values: string[];
}

/**
 * Searches `environ` (NUL-separated `KEY=VALUE` bytes) for each secret's key
 * as an entry name and for its value bytes. Values are compared as bytes and
 * never become strings.
 */
export function checkEnviron(
  environ: Uint8Array,
  secrets: Iterable<[string, Uint8Array]>,
): EnvironReport {
  const enc = new TextEncoder();
  const starts = [0];
  for (let i = environ.indexOf(0); i >= 0; i = environ.indexOf(0, i + 1)) {
    starts.push(i + 1);
  }
  const keys: string[] = [];
  const values: string[] = [];
  for (const [key, value] of secrets) {
    const entry = enc.encode(key + "=");
    if (starts.some((at) => startsWith(environ, at, entry))) keys.push(key);
    if (
      value.length >= MIN_VALUE_LENGTH && indexOfBytes(environ, value) >= 0
    ) values.push(key);
  }
  return { clean: keys.length === 0 && values.length === 0, keys, values };
}

function startsWith(hay: Uint8Array, at: number, needle: Uint8Array): boolean {
  if (at + needle.length > hay.length) return false;
  for (let j = 0; j < needle.length; j++) {
    if (hay[at + j] !== needle[j]) return false;
  }
  return true;
}

/** Reads this process's exec-time environment as bytes. */
export function readOwnEnviron(): Uint8Array {
  return Deno.readFileSync("/proc/self/environ");
}
