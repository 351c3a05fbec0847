/** Reading another process from outside, as an attacker or a test would. */

/** Where each of a process's fds points (`readlink /proc/<pid>/fd/N`). */
export function fdTargets(pid: number | "self"): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(Number(e.name), Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
    } catch { /* closed meanwhile */ }
  }
  return out;
}
