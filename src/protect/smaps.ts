/**
 * Reads what the kernel says about a mapping: the truth the protection score
 * is measured from, never the configuration.
 */

/** One VMA from `/proc/<pid>/smaps`. */
export interface Vma {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  /** `VmFlags` two-letter codes, e.g. `lo` (locked), `dd` (do not dump). */
  flags: Set<string>;
}

/** Parses `/proc/<pid>/smaps` text into VMAs. Pure. */
export function parseSmaps(text: string): Vma[] {
  const vmas: Vma[] = [];
  let cur: Vma | null = null;
  // Only the VMA headers and VmFlags lines matter: about 1 line in 25. A
  // header starts with a lowercase hex digit, every other line with a
  // capital; the regex runs on headers only (the whole-file regex pass cost
  // 2.5-3.5 ms of each start's CPU).
  for (let at = 0; at < text.length;) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const c = text.charCodeAt(at);
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) {
      const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(
        text.slice(at, end),
      );
      if (head) {
        cur = {
          start: BigInt("0x" + head[1]),
          end: BigInt("0x" + head[2]),
          perms: head[3],
          path: head[4],
          flags: new Set(),
        };
        vmas.push(cur);
      }
    } else if (cur && text.startsWith("VmFlags:", at)) {
      for (const f of text.slice(at + 8, end).trim().split(/\s+/)) {
        cur.flags.add(f);
      }
    }
    at = end + 1;
  }
  return vmas;
}

/** The VMA containing `addr` in process `pid` (default: this process). */
export function vmaAt(addr: bigint, pid: number | "self" = "self"): Vma | null {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps`);
  return parseSmaps(text).find((v) => v.start <= addr && addr < v.end) ?? null;
}
