/**
 * environ_scrubbed: the wrapper's own environment block (what any reader of
 * `/proc/<pid>/environ` gets) must hold no secret value and no `NAME=value`
 * record of a secret.
 *
 * `/proc/<pid>/environ` is not a copy: the kernel reads it out of the
 * process's own memory, between `env_start` and `env_end`
 * (`/proc/<pid>/stat` fields 50 and 51), at the moment of the read. The
 * wrapper reads that same range of its own memory ({@link readOwnEnviron}),
 * so the check proves what a reader would get now, for any uid: after
 * `PR_SET_DUMPABLE(0)` the kernel makes `/proc/self/*` root-owned and a
 * non-root process can no longer open its own environ file (EACCES), but it
 * can always read its own memory.
 */
import { readOwnMemory } from "../../ffi/mod.ts";

/** Values shorter than this are only matched as a whole `NAME=value` entry. */
export const MIN_VALUE_LENGTH = 6;

/** A `vault:` reference is configuration, not a secret (secret_plan.ts). */
const REFERENCE = new TextEncoder().encode("vault:");

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
  /**
   * Secret names present as `NAME=...` entries that are not `vault:`
   * references (a value set in the pod spec under a secret's name).
   */
  keys: string[];
  /** Secret names whose `NAME=value` record is an entry of environ. */
  records: string[];
  /** Secret names whose value bytes appear somewhere in environ. */
  values: string[];
}

/**
 * Searches `environ` (NUL-separated `NAME=VALUE` bytes) for each secret:
 * its whole `NAME=value` record as an entry (any length), its value bytes
 * anywhere (values of at least {@link MIN_VALUE_LENGTH} bytes: "1" is in
 * every environ), and an entry under its name that is not a `vault:`
 * reference. `NAME=vault:PATH#KEY` is how vault-env manifests name a secret
 * and passes. Values are compared as bytes and never become strings.
 *
 * @example
 * ```ts
 * const r = checkEnviron(readOwnEnviron(), [["DB_PASSWORD", valueBytes]]);
 * if (!r.clean) throw new Error(`secret in environ: ${r.values}`);
 * ```
 */
export function checkEnviron(
  environ: Uint8Array,
  secrets: Iterable<[string, Uint8Array]>,
): EnvironReport {
  const enc = new TextEncoder();
  const entries: [number, number][] = [];
  for (let at = 0; at < environ.length;) {
    let end = environ.indexOf(0, at);
    if (end < 0) end = environ.length;
    entries.push([at, end]);
    at = end + 1;
  }
  const keys: string[] = [];
  const records: string[] = [];
  const values: string[] = [];
  for (const [key, value] of secrets) {
    const name = enc.encode(key + "=");
    for (const [at, end] of entries) {
      if (!startsWith(environ, at, end, name)) continue;
      const rest = environ.subarray(at + name.length, end);
      if (equal(rest, value)) records.push(key);
      else if (!startsWith(rest, 0, rest.length, REFERENCE)) keys.push(key);
    }
    if (
      value.length >= MIN_VALUE_LENGTH && indexOfBytes(environ, value) >= 0
    ) values.push(key);
  }
  const clean = keys.length + records.length + values.length === 0;
  return { clean, keys, records, values };
}

function startsWith(
  hay: Uint8Array,
  at: number,
  end: number,
  needle: Uint8Array,
): boolean {
  if (at + needle.length > end) return false;
  for (let j = 0; j < needle.length; j++) {
    if (hay[at + j] !== needle[j]) return false;
  }
  return true;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && startsWith(a, 0, a.length, b);
}

/** What a failed check says: the secret names and how each was found. */
export function environProblem(r: EnvironReport): string {
  const parts: string[] = [];
  const uniq = (a: string[]) => [...new Set(a)].join(", ");
  if (r.records.length) parts.push(`the record of ${uniq(r.records)}`);
  if (r.values.length) parts.push(`the value of ${uniq(r.values)}`);
  if (r.keys.length) {
    parts.push(
      `a plain (not vault:) value under the secret name ${uniq(r.keys)}`,
    );
  }
  return parts.join("; ");
}

/** `env_start` and `env_end` of this process, from `/proc/self/stat`. */
export function ownEnvironRange(
  stat = Deno.readTextFileSync("/proc/self/stat"),
): [bigint, bigint] {
  // Field 2 (comm) may hold spaces and parentheses: count after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).trim().split(" ");
  const field = (n: number) => BigInt(fields[n - 3] ?? "0");
  const start = field(50);
  const end = field(51);
  if (start === 0n || end < start) {
    throw new Error(
      "/proc/self/stat gives no env_start/env_end (a kernel before 3.5?)",
    );
  }
  return [start, end];
}

/**
 * This process's environment block as bytes: the memory between `env_start`
 * and `env_end`, which is exactly what the kernel serves as
 * `/proc/self/environ`.
 */
export function readOwnEnviron(): Uint8Array {
  const [start, end] = ownEnvironRange();
  return readOwnMemory(start, Number(end - start));
}
