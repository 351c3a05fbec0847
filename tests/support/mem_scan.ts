/**
 * Memory seen from outside a process: every readable mapping of a holder
 * read through /proc/<pid>/mem and searched for needles (test secrets, a
 * key, a token), and the holder fixtures' common start: spawn, wait for its
 * first line on stdout, scan, let it go.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
}

/** Start addresses (hex) of mappings with resident pages, from smaps. */
function resident(pid: number): Set<string> {
  const out = new Set<string>();
  let start = "";
  for (const l of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const m = /^([0-9a-f]+)-[0-9a-f]+ /.exec(l);
    if (m) start = m[1];
    else if (l.startsWith("Rss:") && !/^Rss:\s+0 kB/.test(l)) out.add(start);
  }
  return out;
}

function mappings(pid: number): Mapping[] {
  return Deno.readTextFileSync(`/proc/${pid}/maps`).trim().split("\n").map(
    (l) => {
      const [range, perms, , , , ...rest] = l.split(/\s+/);
      const [s, e] = range.split("-");
      return {
        start: BigInt("0x" + s),
        end: BigInt("0x" + e),
        perms,
        name: rest.join(" ") || "[anon]",
      };
    },
  );
}

/** An OpenBao service token as it travels in X-Vault-Token. */
export const TOKEN_SHAPE =
  /(?<![A-Za-z0-9.])s\.[A-Za-z0-9]{24}(?![A-Za-z0-9])/g;

export interface Scan {
  /** needle label → mapping label → count */
  hits: Map<string, Map<string, number>>;
  /** Every string shaped like an OpenBao service token (`s.` + 24). */
  tokens: Set<string>;
  bytes: number;
  unreadable: string[];
}

/**
 * Reads every readable mapping of `pid` that has resident pages (and a
 * secretmem region, always tried) through /proc/<pid>/mem, and counts each
 * needle per mapping; collects every OpenBao-token-shaped string. The
 * caller is another process than `pid` (root, or its parent).
 */
export function scanMemory(
  pid: number,
  needles: Record<string, Uint8Array>,
): Scan {
  const mem = Deno.openSync(`/proc/${pid}/mem`, { read: true });
  const hits = new Map<string, Map<string, number>>();
  const tokens = new Set<string>();
  const unreadable: string[] = [];
  let bytes = 0;
  const longest = Math.max(...Object.values(needles).map((n) => n.length));
  const CHUNK = 8 << 20;
  // Group needles by their first 8 bytes (all test secrets share "CTV-mem-").
  const prefixes = new Map<string, [Buffer, [string, Buffer][]]>();
  for (const [what, needle] of Object.entries(needles)) {
    const p = Buffer.from(needle).subarray(0, 8);
    const k = p.toString("hex");
    if (!prefixes.has(k)) prefixes.set(k, [p, []]);
    prefixes.get(k)![1].push([what, Buffer.from(needle)]);
  }
  const buf = Buffer.alloc(CHUNK + longest);
  try {
    const rss = resident(pid);
    for (const m of mappings(pid)) {
      if (m.perms[0] !== "r" || m.name === "[vsyscall]") continue;
      // Never-touched pages read as zeros; the region (no RSS accounted
      // for secretmem in some kernels) is always tried.
      if (!rss.has(m.start.toString(16)) && !m.name.includes("secretmem")) {
        continue;
      }
      const label = `${m.start.toString(16)}-${
        m.end.toString(16)
      } ${m.perms} ${m.name}`;
      let carry = 0;
      for (let at = m.start; at < m.end;) {
        const len = Number(
          m.end - at < BigInt(CHUNK) ? m.end - at : BigInt(CHUNK),
        );
        let n: number | null;
        try {
          mem.seekSync(at, Deno.SeekMode.Start);
          n = mem.readSync(buf.subarray(carry, carry + len));
        } catch (e) {
          unreadable.push(`${label}: ${(e as { code?: string }).code ?? e}`);
          break;
        }
        if (!n) break;
        bytes += n;
        const view = buf.subarray(0, carry + n);
        // One pass per prefix (cheap), then match the full needles there.
        for (const [prefix, group] of prefixes.values()) {
          for (
            let i = view.indexOf(prefix);
            i >= 0;
            i = view.indexOf(prefix, i + 1)
          ) {
            for (const [what, needle] of group) {
              if (view.subarray(i, i + needle.length).equals(needle)) {
                const per = hits.get(what) ?? new Map<string, number>();
                per.set(label, (per.get(label) ?? 0) + 1);
                hits.set(what, per);
              }
            }
          }
        }
        for (const t of view.toString("latin1").matchAll(TOKEN_SHAPE)) {
          tokens.add(t[0]);
        }
        // Keep the tail so a needle across two chunks is found (once).
        carry = Math.min(longest - 1, view.length);
        buf.copy(buf, 0, view.length - carry, view.length);
        at += BigInt(n);
      }
    }
  } finally {
    mem.close();
  }
  return { hits, tokens, bytes, unreadable };
}

/** Copies of the needles named `what` in every mapping `s` read. */
export function copies(s: Scan, ...what: string[]): number {
  let n = 0;
  for (const w of what) {
    for (const c of s.hits.get(w)?.values() ?? []) n += c;
  }
  return n;
}

/** A holder fixture that has printed its first line and waits on stdin. */
export interface Holder {
  pid: number;
  /** Its first line on stdout. */
  first: string;
  /** Closes its stdin (it lets go and exits) and collects what it printed. */
  finish(): Promise<
    { stdout: string; stderr: string; status: Deno.CommandStatus }
  >;
}

/**
 * Runs `deno run -A FIXTURE ARGS...` (with `env` as its whole environment
 * when given) and resolves once it printed its first line.
 */
export async function startHolder(
  fixture: string,
  args: string[] = [],
  env?: Record<string, string>,
): Promise<Holder> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fixture, ...args],
    ...(env ? { env, clearEnv: true } : {}),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const r = await out.read();
    if (r.done) break;
    text += r.value;
  }
  const finish = async () => {
    await child.stdin.close().catch(() => {});
    for (;;) {
      const r = await out.read();
      if (r.done) break;
      text += r.value;
    }
    const stderr = new TextDecoder().decode(
      (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
    );
    const status = await child.status;
    return { stdout: text, stderr, status };
  };
  return { pid: child.pid, first: text.split("\n")[0], finish };
}

/** The P-256 private scalar of a PKCS#8 PEM key (its 32 bytes after 04 20). */
export function keyScalar(pem: string): Buffer {
  const der = Buffer.from(
    pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""),
    "base64",
  );
  // ECPrivateKey inside PKCS#8: INTEGER 1 (02 01 01), OCTET STRING 32 (04 20)
  const at = der.indexOf(Buffer.from([0x02, 0x01, 0x01, 0x04, 0x20]));
  assert.ok(at > 0, "not a PKCS#8 P-256 key");
  return der.subarray(at + 5, at + 5 + 32);
}
