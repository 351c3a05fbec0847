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

/** A VMA and the VMAs that touch it, from {@link vmasAround}. */
export interface VmaNeighbours {
  vma: Vma;
  /** The VMA ending where `vma` starts, if any (a guard page). */
  before: Vma | null;
  /** The VMA starting where `vma` ends, if any. */
  after: Vma | null;
}

/**
 * The VMA starting at `start` and its neighbours, from `/proc/<pid>/smaps`
 * text, parsing only those three blocks (the score's region lookup; a whole
 * parse of a Deno process's 120 KB cost 2 ms of each start). Each block ends
 * with exactly one `VmFlags` line, so the block before is the one between
 * the two `VmFlags` lines before the header. Null when no VMA starts there.
 */
export function vmasAround(text: string, start: bigint): VmaNeighbours | null {
  const hex = start.toString(16);
  const at = text.startsWith(`${hex}-`) ? 0 : text.indexOf(`\n${hex}-`) + 1;
  if (at === 0 && !text.startsWith(`${hex}-`)) return null;
  const flags = (from: number) => text.indexOf("\nVmFlags:", from);
  const flagsBack = (from: number) =>
    from < 0 ? -1 : text.lastIndexOf("\nVmFlags:", from);
  // From the line after the VmFlags two blocks back to the end of the
  // next block's VmFlags line (or either end of the text).
  const twoBack = flagsBack(flagsBack(at - 1) - 1);
  const from = twoBack < 0 ? 0 : text.indexOf("\n", twoBack + 1) + 1;
  const own = flags(at);
  const next = own < 0 ? -1 : flags(own + 1);
  const to = next < 0 ? -1 : text.indexOf("\n", next + 1);
  const vmas = parseSmaps(text.slice(from, to < 0 ? text.length : to));
  const i = vmas.findIndex((v) => v.start === start);
  if (i < 0) return null;
  const vma = vmas[i];
  return {
    vma,
    before: vmas[i - 1]?.end === vma.start ? vmas[i - 1] : null,
    after: vmas[i + 1]?.start === vma.end ? vmas[i + 1] : null,
  };
}

/** The VMA containing `addr` in process `pid` (default: this process). */
export function vmaAt(addr: bigint, pid: number | "self" = "self"): Vma | null {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps`);
  return parseSmaps(text).find((v) => v.start <= addr && addr < v.end) ?? null;
}
