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
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(
      line,
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
    } else if (cur && line.startsWith("VmFlags:")) {
      for (const f of line.slice(8).trim().split(/\s+/)) cur.flags.add(f);
    }
  }
  return vmas;
}

/** The VMA containing `addr` in process `pid` (default: this process). */
export function vmaAt(addr: bigint, pid: number | "self" = "self"): Vma | null {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps`);
  return parseSmaps(text).find((v) => v.start <= addr && addr < v.end) ?? null;
}
