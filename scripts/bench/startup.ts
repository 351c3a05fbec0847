/**
 * Start-up matrix: every contestant x every secret set, interleaved run by
 * run (so machine noise hits them alike), plus one audited start per cell
 * (requests sent to OpenBao) and held starts (the resident parent's RSS and
 * threads while the app runs).
 */
import { type AuditCounter, startAudit } from "./audit.ts";
import {
  type Contestant,
  type Fixture,
  PREFIX,
  type SecretSet,
} from "./contestants.ts";
import { launchOnce, type LaunchResult } from "./launch.ts";
import { median } from "./stats.ts";

/** Results for one contestant and one secret set. */
export interface StartupCell {
  contestant: string;
  count: number;
  paths: number;
  /** Successful runs' start-up times, ms. */
  startMs: number[];
  medianMs: number;
  /** Successful runs' CPU time (user + sys of every process started), ms. */
  cpuMs: number[];
  medianCpuMs: number;
  /** Why runs failed (first few). */
  failures: string[];
  /** Request entries in OpenBao's audit log for one start. */
  auditRequests?: number;
  /** The wrapper's own `requests` from its "secrets fetched" line. */
  loggedRequests?: number;
}

/** The resident parent while the app runs. */
export interface ResidentRow {
  contestant: string;
  count: number;
  paths: number;
  /** null: nothing stays resident (it exec'd into the app). */
  name: string | null;
  rssKb: number;
  threads: number;
  failures: string[];
}

/** Options of {@linkcode benchStartup}. */
export interface StartupOptions {
  fx: Fixture;
  contestants: Contestant[];
  sets: SecretSet[];
  /** Timed runs per cell. @default 15 */
  runs?: number;
  /** Sets (as "count/paths") for the resident measurement. */
  residentSets?: string[];
  /** Held runs per resident cell. @default 3 */
  residentRuns?: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** Everything the start-up part measured. */
export interface StartupResult {
  cells: StartupCell[];
  resident: ResidentRow[];
}

function loggedRequests(stderr: string): number | undefined {
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{") || !line.includes("secrets fetched")) continue;
    try {
      return JSON.parse(line).requests;
    } catch { /* not JSON */ }
  }
  return undefined;
}

/** Why a run does not count, or undefined when it does. */
function problem(
  r: LaunchResult,
  c: Contestant,
  set: SecretSet,
): string | undefined {
  if (r.timedOut) return "timed out";
  const tail = r.stderr.trim().split("\n").slice(-2).join(" | ").slice(0, 300);
  if (!r.stamp) return `the app never ran (exit ${r.code}): ${tail}`;
  const want = c.delivers ? set.count : 0;
  if (r.stamp.count !== want) {
    return `the app saw ${r.stamp.count} of ${want} secrets: ${tail}`;
  }
  if (r.code !== 0 && r.resident === undefined) {
    return `exit ${r.code}: ${tail}`;
  }
  return undefined;
}

async function once(
  fx: Fixture,
  c: Contestant,
  set: SecretSet,
  hold = false,
): Promise<LaunchResult> {
  const stampFile = `${fx.dir}/stamp-${c.id}`;
  const app = [fx.tools.app, stampFile, PREFIX, ...(hold ? ["10000"] : [])];
  return await launchOnce({
    tools: fx.tools,
    argv: c.command(app, set, fx),
    env: c.env(set, fx),
    stampFile,
    hold,
    timeoutMs: 60000,
  });
}

/** `xs` in a pseudo-random order fixed by `seed` (Fisher-Yates over a
 * small xorshift generator, so a run is repeatable). */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let x = (seed * 0x9e3779b9) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Runs the matrix.
 *
 * @example
 * ```ts
 * const r = await benchStartup({ fx, contestants: list, sets, runs: 5 });
 * for (const c of r.cells) console.log(c.contestant, c.count, c.medianMs);
 * ```
 */
export async function benchStartup(
  opts: StartupOptions,
): Promise<StartupResult> {
  const { fx, contestants: list, sets } = opts;
  const runs = opts.runs ?? 15;
  const say = opts.progress ?? (() => {});
  const cells = new Map<string, StartupCell>();
  const key = (c: Contestant, s: SecretSet) => `${c.id} ${s.count}/${s.paths}`;
  for (const s of sets) {
    for (const c of list) {
      cells.set(key(c, s), {
        contestant: c.id,
        count: s.count,
        paths: s.paths,
        startMs: [],
        medianMs: NaN,
        cpuMs: [],
        medianCpuMs: NaN,
        failures: [],
      });
    }
  }
  // Warm-up (Deno's module cache, the page cache): one discarded run each.
  for (const c of list) await once(fx, c, sets[0]);

  // One audited start per cell: requests as OpenBao counts them.
  say("counting requests (audit log)");
  let audit: AuditCounter | undefined;
  try {
    audit = await startAudit(fx.bao);
    for (const s of sets) {
      for (const c of list) {
        audit.take();
        const r = await once(fx, c, s);
        const cell = cells.get(key(c, s))!;
        cell.auditRequests = audit.take();
        cell.loggedRequests = loggedRequests(r.stderr);
        const p = problem(r, c, s);
        if (p) cell.failures.push(`audited run: ${p}`);
      }
    }
  } catch (e) {
    say(`request counting failed: ${(e as Error).message}`);
  } finally {
    await audit?.stop();
  }

  for (const s of sets) {
    say(`start-up: ${s.count} secrets in ${s.paths} path(s), ${runs} runs`);
    for (let i = 0; i < runs; i++) {
      // A fresh order every run: a rotation would keep each contestant
      // behind the same one (and whatever load that one leaves on OpenBao,
      // a login's token and lease, say).
      const order = shuffled(list, i + 1);
      for (const c of order) {
        const r = await once(fx, c, s);
        const cell = cells.get(key(c, s))!;
        const p = problem(r, c, s);
        if (p) {
          if (cell.failures.length < 3) cell.failures.push(p);
        } else {
          cell.startMs.push(r.startMs);
          if (!Number.isNaN(r.cpuMs)) cell.cpuMs.push(r.cpuMs);
          cell.loggedRequests ??= loggedRequests(r.stderr);
        }
      }
    }
  }
  for (const cell of cells.values()) {
    cell.medianMs = median(cell.startMs);
    cell.medianCpuMs = median(cell.cpuMs);
  }

  const resident: ResidentRow[] = [];
  const rsets = opts.residentSets ?? ["10/1", "100/10"];
  for (const s of sets.filter((s) => rsets.includes(`${s.count}/${s.paths}`))) {
    say(`resident parent: ${s.count} secrets in ${s.paths} path(s)`);
    for (const c of list) {
      const rss: number[] = [];
      const threads: number[] = [];
      const failures: string[] = [];
      let name: string | null = null;
      for (let i = 0; i < (opts.residentRuns ?? 3); i++) {
        const r = await once(fx, c, s, true);
        const p = problem(r, c, s);
        if (p || r.resident === undefined) {
          failures.push(p ?? "no reading");
          continue;
        }
        if (r.resident === null) continue;
        name = r.resident.name;
        rss.push(r.resident.rssKb);
        threads.push(r.resident.threads);
      }
      resident.push({
        contestant: c.id,
        count: s.count,
        paths: s.paths,
        name,
        rssKb: median(rss),
        threads: median(threads),
        failures,
      });
    }
  }
  return { cells: [...cells.values()], resident };
}
